"""The chain's state and its canonical records.

The node keeps one ``ChainState`` in memory. ``records()`` turns it into a flat mapping key -> canonical JSON
bytes; the store persists the records that changed since the last block, and the state root is a multiset hash
over all of them (``StateHash``), so the same state always has the same root whatever the history that led to it,
and a block updates the root in time proportional to what it changed, not to the number of accounts.

The state has small parts, bounded by ``max_uids`` (neurons, weights, bonds, commits, scalars), which a block
copies and re-serialises whole, and large maps that grow with users (accounts, stake entries, hotkey owners),
which a block reads through ``Overlay`` layers and serialises only where it wrote (``fork``, ``changed_records``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from consensus.ledger import Ledger
from subnet.chain.calls import AdmittedModel
from subnet.chain.overlay import Overlay
from subnet.chain.params import Hyperparameters

WeightRow = tuple[tuple[int, int], ...]  # ((uid, u16 value), ...) in submission order


@dataclass
class Neuron:
    uid: int
    hotkey: str
    coldkey: str
    registered_at: int  # block of (re)registration
    last_update: int  # block of the last weight update or commit (registration counts)
    endpoint: str = ""
    model_name: str = ""
    model_hash: str = ""
    tls_certificate: str = ""  # PEM text, optional
    validator_permit: bool = False
    consensus_u16: int = 0
    incentive_u16: int = 0
    dividends_u16: int = 0
    trust_u16: int = 0  # validator trust
    emission: int = 0  # units paid to this hotkey at the last epoch


@dataclass(frozen=True)
class WeightCommit:
    commit_hash: str  # hex
    block: int
    epoch: int  # epoch index at commit time


@dataclass
class ChainState:
    genesis_hash: str
    hyper: Hyperparameters
    ledger: Ledger
    owner_coldkey: str
    owner_hotkey: str
    block: int = 0  # height of the last applied block (0 = genesis)
    burn: int = 0  # current registration price, units
    last_epoch_block: int = 0
    epoch_index: int = 0  # number of epochs run
    neurons: list[Neuron] = field(default_factory=list)  # index == uid
    weights: dict[int, WeightRow] = field(default_factory=dict)
    bonds: dict[int, WeightRow] = field(default_factory=dict)
    commits: dict[str, tuple[WeightCommit, ...]] = field(default_factory=dict)  # hotkey -> pending commits
    admitted_models: tuple[AdmittedModel, ...] = ()  # the owner's list (SetAdmittedModels); immutable, so shared

    def fork(self, *, copy_neurons: bool = True) -> ChainState:
        """A working copy for a block (or, with ``copy_neurons=False``, for one transaction): small parts copied,
        the ledger's maps layered over this state's (O(1) whatever their size). Change a neuron of a
        transaction's copy only through ``edit_neuron``, which copies it first."""
        clone = copy.copy(self)
        ledger = self.ledger
        clone.ledger = Ledger(balances=Overlay(ledger.balances), stakes=Overlay(ledger.stakes),
                              hotkey_owner=Overlay(ledger.hotkey_owner), pending=ledger.pending,
                              issuance=ledger.issuance, recycled=ledger.recycled, minted=ledger.minted,
                              stake_totals=Overlay(ledger.stake_totals))
        clone.neurons = [copy.copy(n) for n in self.neurons] if copy_neurons else list(self.neurons)
        clone.weights, clone.bonds, clone.commits = dict(self.weights), dict(self.bonds), dict(self.commits)
        return clone

    def absorb(self, child: ChainState) -> None:
        """Take over everything ``child`` (a ``fork`` of this state) changed; its layers are written into ours."""
        child.fold_layers()
        self.__dict__.update(child.__dict__)

    def snapshot(self) -> ChainState:
        """An independent copy that later blocks never change (O(size): for tests and tools, not the node)."""
        return ChainState.from_records(self.records())

    def edit_neuron(self, uid: int) -> Neuron:
        """The neuron at ``uid``, copied first so that a dropped transaction leaves the original untouched."""
        neuron = self.neurons[uid] = copy.copy(self.neurons[uid])
        return neuron

    def uid_of(self, hotkey: str) -> int | None:
        for neuron in self.neurons:
            if neuron.hotkey == hotkey:
                return neuron.uid
        return None

    @property
    def owner_uid(self) -> int | None:
        return self.uid_of(self.owner_hotkey)

    def stake_by_hotkey(self) -> dict[str, int]:
        """Total stake of every registered hotkey (O(neurons))."""
        return {n.hotkey: self.ledger.hotkey_stake(n.hotkey) for n in self.neurons}

    # --- canonical records ------------------------------------------------------------------------------

    def records(self) -> dict[str, bytes]:
        """Every piece of state as key -> canonical JSON. Keys sort into a stable order."""
        out = self.small_records()
        for coldkey, balance in self.ledger.balances.items():
            out[f"account/{coldkey}"] = _dump(balance)
        for (coldkey, hotkey), amount in self.ledger.stakes.items():
            out[f"stake/{coldkey}/{hotkey}"] = _dump(amount)
        for hotkey, coldkey in self.ledger.hotkey_owner.items():
            out[f"owner/{hotkey}"] = _dump(coldkey)
        return out

    def changed_records(self) -> list[tuple[str, bytes | None, bytes | None]]:
        """(key, record before, record after) for every large-map entry written since this state was ``fork``ed
        (None where absent), read from its layers: O(entries written)."""
        out = []
        for prefix, layer in (("account", self.ledger.balances), ("stake", self.ledger.stakes),
                              ("owner", self.ledger.hotkey_owner)):
            for key, value, present in layer.changed():
                old = layer.parent.get(key)
                name = f"{prefix}/{'/'.join(key)}" if prefix == "stake" else f"{prefix}/{key}"
                out.append((name, None if old is None else _dump(old), _dump(value) if present else None))
        return out

    def fold_layers(self) -> None:
        """Write this ``fork``'s layers into the maps it was forked from, and use those maps from now on."""
        for name in ("balances", "stakes", "hotkey_owner", "stake_totals"):
            layer = getattr(self.ledger, name)
            layer.fold()
            setattr(self.ledger, name, layer.parent)

    def small_records(self) -> dict[str, bytes]:
        """The records of the parts bounded by ``max_uids``, rebuilt whole at every block."""
        out: dict[str, bytes] = {
            "meta": _dump({
                "genesis_hash": self.genesis_hash, "block": self.block, "burn": self.burn,
                "last_epoch_block": self.last_epoch_block, "epoch_index": self.epoch_index,
                "owner_coldkey": self.owner_coldkey, "owner_hotkey": self.owner_hotkey,
            }),
            "hyper": _dump(self.hyper.to_dict()),
            "ledger": _dump({
                "pending": self.ledger.pending, "issuance": self.ledger.issuance,
                "recycled": self.ledger.recycled, "minted": self.ledger.minted,
            }),
        }
        for neuron in self.neurons:
            out[f"neuron/{neuron.uid:05d}"] = _dump(dataclasses.asdict(neuron))
        for uid, row in self.weights.items():
            out[f"weights/{uid:05d}"] = _dump(row)
        for uid, row in self.bonds.items():
            out[f"bonds/{uid:05d}"] = _dump(row)
        for hotkey, commits in self.commits.items():
            out[f"commits/{hotkey}"] = _dump([dataclasses.asdict(c) for c in commits])
        if self.admitted_models:  # absent when empty, so chains from before the list keep their state roots
            out["admitted"] = _dump([dataclasses.asdict(m) for m in self.admitted_models])
        return out

    @classmethod
    def from_records(cls, records: dict[str, bytes]) -> ChainState:
        """Rebuild a state from ``records()`` output. Raises ValueError on anything malformed."""
        try:
            meta = json.loads(records["meta"])
            scalars = json.loads(records["ledger"])
            ledger = Ledger(**scalars)
            state = cls(
                genesis_hash=meta["genesis_hash"], hyper=Hyperparameters.from_dict(json.loads(records["hyper"])),
                ledger=ledger, owner_coldkey=meta["owner_coldkey"], owner_hotkey=meta["owner_hotkey"],
                block=meta["block"], burn=meta["burn"], last_epoch_block=meta["last_epoch_block"],
                epoch_index=meta["epoch_index"],
            )
            neurons: dict[int, Neuron] = {}
            for key, raw in records.items():
                kind, _, rest = key.partition("/")
                value = json.loads(raw)
                if kind == "account":
                    ledger.balances[rest] = value
                elif kind == "stake":
                    coldkey, hotkey = rest.split("/")
                    ledger.stakes[(coldkey, hotkey)] = value
                elif kind == "owner":
                    ledger.hotkey_owner[rest] = value
                elif kind == "neuron":
                    neurons[int(rest)] = Neuron(**value)
                elif kind in ("weights", "bonds"):
                    row = tuple((int(j), int(v)) for j, v in value)
                    (state.weights if kind == "weights" else state.bonds)[int(rest)] = row
                elif kind == "commits":
                    state.commits[rest] = tuple(WeightCommit(**c) for c in value)
                elif kind == "admitted":
                    state.admitted_models = tuple(AdmittedModel(**m) for m in value)
                elif kind not in ("meta", "hyper", "ledger"):
                    raise ValueError(f"unknown record {key!r}")
            state.neurons = [neurons[uid] for uid in range(len(neurons))]
            ledger.rebuild_stake_totals()
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed chain state records: {exc!r}") from None
        return state


LARGE_RECORD_KINDS = ("account", "stake", "owner")


def is_large_record(key: str) -> bool:
    return key.partition("/")[0] in LARGE_RECORD_KINDS


class StateHash:
    """A multiset hash of the records (a lattice hash: each record expands to 1024 16-bit lanes, summed modulo
    2^16 lane by lane), so adding, removing or replacing one record costs the same whatever the number of records,
    and the root does not depend on the order of updates. Finding two record sets with the same sum is the hard
    lattice problem behind Bellare-Micciancio's LtHash; the root is SHA-256 of the lanes."""

    LANES = 1024

    def __init__(self, lanes: np.ndarray | None = None) -> None:
        self.lanes = np.zeros(self.LANES, dtype=np.uint16) if lanes is None else lanes

    @classmethod
    def of(cls, records: dict[str, bytes]) -> StateHash:
        acc = cls()
        for key, value in records.items():
            acc.add(key, value)
        return acc

    def copy(self) -> StateHash:
        return StateHash(self.lanes.copy())

    @classmethod
    def _element(cls, key: str, value: bytes) -> np.ndarray:
        k = key.encode()
        digest = hashlib.shake_256(len(k).to_bytes(4, "big") + k + value).digest(2 * cls.LANES)
        return np.frombuffer(digest, dtype="<u2")

    def add(self, key: str, value: bytes) -> None:
        self.lanes += self._element(key, value)

    def remove(self, key: str, value: bytes) -> None:
        self.lanes -= self._element(key, value)

    def hexdigest(self) -> str:
        return hashlib.sha256(b"subnet-state/v2" + self.lanes.astype("<u2").tobytes()).hexdigest()


def state_root(records: dict[str, bytes]) -> str:
    """The state root of a whole set of records (hex); blocks update it incrementally with ``StateHash``."""
    return StateHash.of(records).hexdigest()


def _dump(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
