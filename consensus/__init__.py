"""Pure consensus math, numpy only, no I/O and no imports from the rest of the project.

- ``yuma``: one Yuma epoch (classic and Yuma 3 bonds, liquid alpha, u16 storage of weights and bonds).
- ``weights``: weight processing as the chain's ``set_weights`` does it, and validator permits.
- ``emission``: the 21M-capped block reward as a function of total issuance.
- ``ledger``: integer ledger rules (transfer, stake, mint, recycle, epoch payout) and their invariant.
"""
