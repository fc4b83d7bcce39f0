"""The protocol's two fixed-point scales, defined once for every package."""

U16_MAX = 65_535  # weights, trust, consensus and incentive travel as fractions of this (u16 on the wire)
UNITS_PER_TOKEN = 10**9  # balances and stake are integers of base units: 1 token = 10^9 units
