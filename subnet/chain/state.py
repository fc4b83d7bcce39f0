"""The chain's state and its canonical records.

The node keeps one ``ChainState`` in memory. ``records()`` turns it into a flat mapping key -> canonical JSON
bytes; the store persists the records that changed since the last block, and the state root is a hash over all of
them, so the same state always has the same root whatever the history that led to it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from consensus.ledger import Ledger
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

    def copy(self) -> ChainState:
        clone = copy.copy(self)
        clone.ledger = self.ledger.copy()
        clone.neurons = [dataclasses.replace(n) for n in self.neurons]
        clone.weights, clone.bonds, clone.commits = dict(self.weights), dict(self.bonds), dict(self.commits)
        return clone

    def uid_of(self, hotkey: str) -> int | None:
        for neuron in self.neurons:
            if neuron.hotkey == hotkey:
                return neuron.uid
        return None

    @property
    def owner_uid(self) -> int | None:
        return self.uid_of(self.owner_hotkey)

    def stake_by_hotkey(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (_, hotkey), amount in self.ledger.stakes.items():
            totals[hotkey] = totals.get(hotkey, 0) + amount
        return totals

    # --- canonical records ------------------------------------------------------------------------------

    def records(self) -> dict[str, bytes]:
        """Every piece of state as key -> canonical JSON. Keys sort into a stable order."""
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
        for coldkey, balance in self.ledger.balances.items():
            out[f"account/{coldkey}"] = _dump(balance)
        for (coldkey, hotkey), amount in self.ledger.stakes.items():
            out[f"stake/{coldkey}/{hotkey}"] = _dump(amount)
        for hotkey, coldkey in self.ledger.hotkey_owner.items():
            out[f"owner/{hotkey}"] = _dump(coldkey)
        for neuron in self.neurons:
            out[f"neuron/{neuron.uid:05d}"] = _dump(dataclasses.asdict(neuron))
        for uid, row in self.weights.items():
            out[f"weights/{uid:05d}"] = _dump(row)
        for uid, row in self.bonds.items():
            out[f"bonds/{uid:05d}"] = _dump(row)
        for hotkey, commits in self.commits.items():
            out[f"commits/{hotkey}"] = _dump([dataclasses.asdict(c) for c in commits])
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
                elif kind not in ("meta", "hyper", "ledger"):
                    raise ValueError(f"unknown record {key!r}")
            state.neurons = [neurons[uid] for uid in range(len(neurons))]
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed chain state records: {exc!r}") from None
        return state


def state_root(records: dict[str, bytes]) -> str:
    """SHA-256 over all records in key order, each length-prefixed (hex)."""
    h = hashlib.sha256()
    for key in sorted(records):
        k, v = key.encode(), records[key]
        h.update(len(k).to_bytes(4, "big") + k + len(v).to_bytes(8, "big") + v)
    return h.hexdigest()


def _dump(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
