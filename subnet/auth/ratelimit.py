"""Per-caller token buckets whose capacity grows with stake.

A caller's bucket holds ``capacity_for(stake)`` tokens and refills completely in ``refill_window_s``, so both
the burst size and the sustained rate scale with stake. One call costs one token. Memory is bounded by
``max_callers`` (least recently seen callers are forgotten, which only ever gives them a full bucket back).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from consensus.units import UNITS_PER_TOKEN


@dataclass(frozen=True)
class RateLimitSettings:
    """Token-bucket parameters; capacity = min(max, base + per_token * stake_tokens)."""

    enabled: bool = True
    base_burst_requests: float = 32.0
    burst_per_token_staked: float = 0.05
    max_burst_requests: float = 2048.0
    refill_window_s: float = 4.0
    max_callers: int = 10_000


class RateLimiter:
    """Token buckets keyed by caller address. Not thread-safe: use it from one event loop."""

    def __init__(
        self, settings: RateLimitSettings = RateLimitSettings(), *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        # caller -> [tokens, last refill time]
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def capacity_for(self, stake_units: int) -> float:
        s = self.settings
        tokens = max(stake_units, 0) / UNITS_PER_TOKEN
        return min(s.max_burst_requests, s.base_burst_requests + s.burst_per_token_staked * tokens)

    def try_acquire(self, caller: str, stake_units: int, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; return 0.0 when granted, else the seconds until they will be available."""
        if not self.settings.enabled:
            return 0.0
        capacity = self.capacity_for(stake_units)
        rate_per_s = capacity / self.settings.refill_window_s
        now = self._clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = [capacity, now]
            self._buckets[caller] = bucket
            if len(self._buckets) > self.settings.max_callers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(caller)
            # Stake can change between calls: never hold more than the current capacity.
            bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * rate_per_s)
            bucket[1] = now
        if bucket[0] >= cost:
            bucket[0] -= cost
            return 0.0
        return (cost - bucket[0]) / rate_per_s
