"""The chain node: a single-authority ledger for one subnet with subtensor's state machine.

- ``params``: hyperparameters (integers, with the chain's defaults).
- ``calls``: the transaction calls as plain dataclasses, independent of the wire encoding.
- ``state``: neurons, weights, bonds, commits and the ledger, and their canonical records (for storage and the
  state root).
- ``runtime``: the state transition function: apply one signed call, produce one block.
- ``epoch``: map the state onto ``consensus.yuma.epoch`` at each tempo and pay out with ``consensus.ledger``.
- ``store``: SQLite persistence, one transaction per block (WAL, synchronous=FULL).
- ``genesis``: the TOML genesis file.
"""
