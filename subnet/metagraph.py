"""``Metagraph``: the subnet's per-uid state as numpy arrays, synced from the chain.

Names follow Bittensor's metagraph: ``S`` stake (tokens), ``C`` consensus, ``I`` incentive, ``D`` dividends,
``Tv`` validator trust (all in [0, 1]), ``E`` emission (units paid at the last epoch), ``W`` and ``B`` the weight
and bond matrices as stored (u16 / 65535, rows = setting uid).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from consensus.units import U16_MAX, UNITS_PER_TOKEN
from subnet.chain.calls import AdmittedModel
from subnet.proto import subnet_pb2 as pb


@dataclass(frozen=True)
class Axon:
    uid: int
    hotkey: str
    endpoint: str
    model_name: str
    model_hash: str


@dataclass
class Metagraph:
    block: int
    tempo: int
    issuance: int
    pending: int
    owner_hotkey: str
    uids: np.ndarray  # (n,) int
    hotkeys: list[str]
    coldkeys: list[str]
    stake_units: np.ndarray  # (n,) int64
    C: np.ndarray  # (n,) consensus
    I: np.ndarray  # noqa: E741  (n,) incentive, named as in Bittensor
    D: np.ndarray  # (n,) dividends
    Tv: np.ndarray  # (n,) validator trust
    E: np.ndarray  # (n,) int64 emission units
    validator_permit: np.ndarray  # (n,) bool
    active: np.ndarray  # (n,) bool
    last_update: np.ndarray  # (n,) int
    registered_at: np.ndarray  # (n,) int
    axons: list[Axon]
    W: np.ndarray | None = None  # (n, n)
    B: np.ndarray | None = None  # (n, n)
    admitted_models: tuple[AdmittedModel, ...] = ()  # the owner's list: only miners committed to one can earn

    def admitted(self, model_hash: str) -> AdmittedModel | None:
        """The admitted model with this weights hash, or None."""
        return next((m for m in self.admitted_models if m.model_hash == model_hash), None)

    @property
    def n(self) -> int:
        return len(self.hotkeys)

    @property
    def S(self) -> np.ndarray:
        """Stake in tokens (floats, for display and ordering only)."""
        return self.stake_units / UNITS_PER_TOKEN

    def uid_of(self, hotkey: str) -> int | None:
        try:
            return self.hotkeys.index(hotkey)
        except ValueError:
            return None

    def serving(self) -> list[Axon]:
        """Axons that announced an endpoint."""
        return [a for a in self.axons if a.endpoint]

    @classmethod
    def from_proto(cls, resp: pb.MetagraphResponse) -> Metagraph:
        ns = list(resp.neurons)
        n = len(ns)

        def arr(field: str, dtype=np.float64, scale: float | None = None) -> np.ndarray:
            values = np.array([getattr(x, field) for x in ns], dtype=dtype)
            return values if scale is None else values / scale

        graph = cls(
            block=resp.block, tempo=resp.tempo, issuance=resp.issuance, pending=resp.pending,
            owner_hotkey=resp.owner_hotkey, uids=arr("uid", np.int64), hotkeys=[x.hotkey for x in ns],
            coldkeys=[x.coldkey for x in ns], stake_units=arr("stake", np.int64),
            C=arr("consensus_u16", scale=U16_MAX), I=arr("incentive_u16", scale=U16_MAX),
            D=arr("dividends_u16", scale=U16_MAX), Tv=arr("trust_u16", scale=U16_MAX), E=arr("emission", np.int64),
            validator_permit=arr("validator_permit", bool), active=arr("active", bool),
            last_update=arr("last_update", np.int64), registered_at=arr("registered_at", np.int64),
            axons=[Axon(x.uid, x.hotkey, x.endpoint, x.model_name, x.model_hash) for x in ns],
            admitted_models=tuple(AdmittedModel(m.model_hash, m.name, m.dtype) for m in resp.admitted_models),
        )
        if resp.weights or resp.bonds:
            graph.W, graph.B = _dense(resp.weights, n), _dense(resp.bonds, n)
        return graph

    @classmethod
    async def sync(cls, client, include_matrices: bool = False) -> Metagraph:
        """Fetch the current metagraph through a ``ChainClient``."""
        return cls.from_proto(await client.metagraph(include_matrices=include_matrices))

    def to_json(self) -> dict:
        """The shape printed by ``subnet metagraph --json`` (amounts in units)."""
        return {
            "block": self.block, "tempo": self.tempo, "issuance": self.issuance, "pending": self.pending,
            "neurons": [
                {
                    "uid": int(self.uids[i]), "hotkey": self.hotkeys[i], "coldkey": self.coldkeys[i],
                    "stake": int(self.stake_units[i]), "consensus": float(self.C[i]),
                    "incentive": float(self.I[i]), "dividends": float(self.D[i]),
                    "validator_trust": float(self.Tv[i]), "emission": int(self.E[i]),
                    "validator_permit": bool(self.validator_permit[i]), "active": bool(self.active[i]),
                    "last_update": int(self.last_update[i]), "registered_at": int(self.registered_at[i]),
                    "endpoint": self.axons[i].endpoint, "model": self.axons[i].model_name,
                    "model_hash": self.axons[i].model_hash,
                    "admitted": self.admitted(self.axons[i].model_hash) is not None,
                }
                for i in range(self.n)
            ],
            "admitted_models": [{"model_hash": m.model_hash, "name": m.name, "dtype": m.dtype}
                                for m in self.admitted_models],
        }


def _dense(rows, n: int) -> np.ndarray:
    out = np.zeros((n, n))
    for row in rows:
        for j, v in zip(row.uids, row.values, strict=True):
            if row.uid < n and j < n:
                out[row.uid, j] = v / U16_MAX
    return out
