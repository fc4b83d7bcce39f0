"""Pure consensus math, numpy only, no I/O and no imports from the rest of the project.

- ``yuma``: one Yuma epoch (classic and Yuma 3 bonds, liquid alpha), weight processing, validator permits.
- ``emission``: the 21M-capped block reward as a function of total issuance.
- ``ledger``: integer ledger rules (transfer, stake, mint, recycle, epoch payout) and their invariant.
"""
