"""Who may call: a one-method interface and the default metagraph-based policy.

The server asks the policy only about callers whose signature it has already verified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable


@dataclass(frozen=True)
class Decision:
    """The answer of an access policy. ``stake_units`` also scales the caller's rate limit."""

    allowed: bool
    reason: str
    stake_units: int = 0
    uid: int | None = None


@runtime_checkable
class AccessPolicy(Protocol):
    """Decides whether a verified caller may call ``method`` (a full gRPC name, ``/pkg.Service/Method``)."""

    def check(self, caller_ss58: str, method: str) -> Decision: ...


class AllowAll:
    """Every verified caller may call; useful for the chain's signed transactions and for tests."""

    def __init__(self, stake_units: int = 0) -> None:
        self._stake_units = stake_units

    def check(self, caller_ss58: str, method: str) -> Decision:
        return Decision(True, "open to every signed caller", self._stake_units)


class NeuronAccess(NamedTuple):
    """What the policy needs to know about one registered hotkey."""

    uid: int
    stake_units: int
    validator_permit: bool


Snapshot = Mapping[str, NeuronAccess | tuple[int, int, bool]]


class MetagraphPolicy:
    """Allow registered hotkeys with a validator permit and at least ``min_stake_units``, plus an allowlist.

    ``snapshot`` maps hotkey SS58 -> ``(uid, stake_units, validator_permit)``; either a mapping, replaced
    wholesale by ``update()`` (one reference swap, safe to call every few seconds while serving), or a
    zero-argument callable returning one, called on every check (it must be cheap, e.g. return a cached dict).
    Allowlisted hotkeys (the demo gateway) pass without registration; their rate-limit stake is the larger of
    their registered stake and ``allowlist_stake_units``.
    """

    def __init__(
        self,
        snapshot: Snapshot | Callable[[], Snapshot] | None = None,
        *,
        min_stake_units: int = 0,
        require_validator_permit: bool = True,
        allowlist: Iterable[str] = (),
        allowlist_stake_units: int = 0,
    ) -> None:
        self._source: Callable[[], Snapshot] | None = snapshot if callable(snapshot) else None
        self._snapshot: Snapshot = {} if snapshot is None or callable(snapshot) else dict(snapshot)
        self.min_stake_units = min_stake_units
        self.require_validator_permit = require_validator_permit
        self.allowlist = frozenset(allowlist)
        self.allowlist_stake_units = allowlist_stake_units

    def update(self, snapshot: Snapshot) -> None:
        """Replace the snapshot (and stop using a callable source, if one was given)."""
        self._snapshot = dict(snapshot)
        self._source = None

    def check(self, caller_ss58: str, method: str) -> Decision:
        snapshot = self._source() if self._source is not None else self._snapshot
        entry = snapshot.get(caller_ss58)
        neuron = NeuronAccess(*entry) if entry is not None else None
        stake = neuron.stake_units if neuron else 0
        uid = neuron.uid if neuron else None
        if caller_ss58 in self.allowlist:
            return Decision(True, "allowlisted", max(stake, self.allowlist_stake_units), uid)
        if neuron is None:
            return Decision(False, f"caller {caller_ss58} is not registered on this subnet", 0, None)
        if self.require_validator_permit and not neuron.validator_permit:
            return Decision(False, f"caller {caller_ss58} (uid {uid}) has no validator permit", stake, uid)
        if stake < self.min_stake_units:
            return Decision(
                False,
                f"caller {caller_ss58} (uid {uid}) has {stake} stake units, below the minimum {self.min_stake_units}",
                stake,
                uid,
            )
        return Decision(True, "registered validator", stake, uid)
