"""Subnet hyperparameters: integers in the chain's own units, with the chain's defaults where they make sense
for one local subnet (see docs/CONSENSUS.md §7)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from consensus.units import U16_MAX, UNITS_PER_TOKEN
from consensus.yuma import YumaParams


@dataclass(frozen=True)
class Hyperparameters:
    tempo: int = 360  # blocks between epochs
    kappa_u16: int = 32_767  # majority quantile, /65535
    bonds_penalty_u16: int = U16_MAX  # beta, /65535
    bonds_moving_average_ppm: int = 900_000  # EMA alpha = 1 - this / 1e6
    yuma3: bool = True
    liquid_alpha: bool = False
    alpha_low_u16: int = 45_875
    alpha_high_u16: int = 58_982
    alpha_sigmoid_steepness: int = 1000  # /100
    max_uids: int = 256
    max_validators: int = 64
    immunity_period: int = 4096  # blocks a new registration cannot be replaced
    activity_cutoff: int = 5000  # blocks without a weight update before a validator counts as inactive
    weights_rate_limit: int = 100  # blocks between two weight updates (or commits)
    min_allowed_weights: int = 1
    max_weight_limit_u16: int = U16_MAX
    weights_version_key: int = 0  # set_weights must carry a version key >= this
    commit_reveal: bool = False
    reveal_period_epochs: int = 1
    stake_threshold: int = 0  # units of stake needed to set weights
    burn_initial: int = UNITS_PER_TOKEN // 10  # registration price, units
    burn_min: int = UNITS_PER_TOKEN // 2000
    burn_max: int = 100 * UNITS_PER_TOKEN
    burn_half_life: int = 360  # blocks for the price to halve toward burn_min
    burn_increase_ppm: int = 1_260_000  # price multiplier after each registration, /1e6
    owner_cut_u16: int = 11_796  # 18%
    delegate_take_u16: int = 11_796  # 18%
    # Spam costs the spammer: every included transaction pays base + per-byte fee, recycled, even when refused.
    tx_fee_base: int = 100_000  # units per transaction (0.0001 token)
    tx_fee_per_byte: int = 100  # units per byte of the signed body (1 KiB costs about 0.0001 token more)
    existential_deposit: int = 1_000_000  # units (0.001 token): the smallest balance or stake entry that may exist
    max_queued_txs_per_signer: int = 32  # transactions one signer may have waiting for a block
    # ...and after a block that refused one of its transactions: paid refusals are stored, so a funded spammer
    # could otherwise store 32 of them per block. Honest senders are rarely refused and get 32 again one block later.
    max_queued_txs_after_refusal: int = 2

    def __post_init__(self) -> None:
        problems = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "bool":
                if not isinstance(value, bool):
                    problems.append(f"{f.name} must be true or false")
            elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append(f"{f.name} must be a non-negative integer")
        if problems:
            raise ValueError("invalid hyperparameters: " + "; ".join(problems))
        u16_fields = ("kappa_u16", "bonds_penalty_u16", "alpha_low_u16", "alpha_high_u16", "max_weight_limit_u16",
                      "owner_cut_u16", "delegate_take_u16")
        for name in u16_fields:
            if getattr(self, name) > U16_MAX:
                problems.append(f"{name} must be at most 65535")
        if self.tempo < 1:
            problems.append("tempo must be at least 1 block")
        if self.max_uids < 1 or self.max_validators < 1:
            problems.append("max_uids and max_validators must be at least 1")
        if self.alpha_low_u16 > self.alpha_high_u16:
            problems.append("alpha_low_u16 must not exceed alpha_high_u16")
        if self.bonds_moving_average_ppm > 1_000_000:
            problems.append("bonds_moving_average_ppm must be at most 1000000")
        if not self.burn_min <= self.burn_initial <= self.burn_max:
            problems.append("burn_min <= burn_initial <= burn_max must hold")
        if self.max_queued_txs_per_signer < 1 or self.max_queued_txs_after_refusal < 1:
            problems.append("max_queued_txs_per_signer and max_queued_txs_after_refusal must be at least 1")
        if self.burn_half_life < 1 or self.reveal_period_epochs < 1:
            problems.append("burn_half_life and reveal_period_epochs must be at least 1")
        if problems:
            raise ValueError("invalid hyperparameters: " + "; ".join(problems))

    def yuma_params(self) -> YumaParams:
        return YumaParams(
            kappa=self.kappa_u16 / U16_MAX,
            bond_penalty=self.bonds_penalty_u16 / U16_MAX,
            bonds_moving_average=self.bonds_moving_average_ppm / 1e6,
            yuma3=self.yuma3,
            liquid_alpha=self.liquid_alpha,
            alpha_low=self.alpha_low_u16 / U16_MAX,
            alpha_high=self.alpha_high_u16 / U16_MAX,
            alpha_sigmoid_steepness=self.alpha_sigmoid_steepness / 100,
        )

    def tx_fee(self, body_bytes: int) -> int:
        """The fee, in units, of a transaction whose signed body is ``body_bytes`` long."""
        return self.tx_fee_base + self.tx_fee_per_byte * body_bytes

    def burn_decay(self) -> tuple[int, int]:
        """The per-block price decay as an exact integer ratio (numerator, denominator) close to 2^(-1/half_life)."""
        denominator = 1_000_000_000
        return round(denominator * math.pow(2.0, -1.0 / self.burn_half_life)), denominator

    def replace(self, **changes: object) -> Hyperparameters:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, int | bool]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> Hyperparameters:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown hyperparameters: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**values)  # type: ignore[arg-type]
