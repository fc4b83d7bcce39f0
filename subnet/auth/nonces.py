"""A bounded, time-limited memory of nonces already used, for replay protection.

A request is only accepted while its timestamp is within ``window_s`` of the server clock, so its nonce must be
remembered until ``timestamp + window_s`` and can be forgotten after. Memory is bounded by ``max_entries``:
when full, the entry that expires first is dropped and the cache raises its *floor* to that entry's timestamp;
from then on any request stamped at or before the floor is refused. A replay of a dropped nonce carries a
timestamp at or below the floor, so it is refused too: the cache never fails open, it only narrows the window
under extreme load. Nonces are random, so concurrent calls from one caller never collide.

The server records a nonce only after the signature holds and the access policy has allowed the caller, so
strangers' refused calls never take room here (see ``AuthInterceptor._admit``).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Hashable

REPLAYED = "replayed"
BELOW_FLOOR = "below floor"


class NonceCache:
    """Remember ``(key, timestamp)`` pairs for ``window_s`` seconds, at most ``max_entries`` at once."""

    def __init__(self, *, window_s: float, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        if window_s <= 0 or max_entries <= 0:
            raise ValueError("window_s and max_entries must be positive")
        self._window_s = window_s
        self._max_entries = max_entries
        self._clock = clock
        self._seen: dict[Hashable, float] = {}
        self._expiry_heap: list[tuple[float, int, Hashable]] = []
        self._counter = 0  # breaks ties in the heap so keys never need to be comparable
        self._floor_s = float("-inf")

    def __len__(self) -> int:
        return len(self._seen)

    @property
    def floor_s(self) -> float:
        """Requests stamped at or before this time are refused (``-inf`` until the cache ever overflowed)."""
        return self._floor_s

    def _prune(self, now: float) -> None:
        heap = self._expiry_heap
        while heap and heap[0][0] <= now:
            _, _, key = heapq.heappop(heap)
            del self._seen[key]

    def check_and_add(self, key: Hashable, timestamp_s: float) -> str | None:
        """Record ``key`` used by a request stamped ``timestamp_s``.

        Returns None when the nonce is fresh (and now remembered); ``REPLAYED`` when it was seen before;
        ``BELOW_FLOOR`` when the timestamp is too old for what the cache still remembers (see the module
        docstring). The caller must already have refused timestamps outside the window.
        """
        self._prune(self._clock())
        if timestamp_s <= self._floor_s:
            return BELOW_FLOOR
        if key in self._seen:
            return REPLAYED
        while len(self._seen) >= self._max_entries:
            _, _, dropped = heapq.heappop(self._expiry_heap)
            self._floor_s = max(self._floor_s, self._seen.pop(dropped))
        if timestamp_s <= self._floor_s:
            return BELOW_FLOOR
        self._counter += 1
        self._seen[key] = timestamp_s
        heapq.heappush(self._expiry_heap, (timestamp_s + self._window_s, self._counter, key))
        return None
