"""Put the validator's scores on chain: ``set_weights``, or commit then reveal when the subnet uses commit-reveal.

Weights are set at most every ``max(weights_rate_limit, tempo // 2)`` blocks (twice per tempo, so every epoch
sees fresh weights whatever its phase). A refused or failed transaction is logged and retried at the next check;
the scores are never touched. Pending commits (with their salts) are persisted so a restart can still reveal them.

Weights carry this validator's own version key. When the chain requires a newer one (the ``weights_version_key``
hyperparameter), the validator is out of date: it sets no weights (nor reveals any) until it is upgraded, says so
once as an ERROR, and keeps scoring meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from consensus.units import U16_MAX
from consensus.weights import normalize_max_weight, weights_to_u16
from subnet.chain.client import ChainClient, ChainUnavailable, TransactionRefused
from subnet.chain.commit import commit_hash
from subnet.keys import Keypair
from subnet.metagraph import Metagraph

log = logging.getLogger(__name__)
OUTDATED = "outdated version key"  # how ``maybe_set`` results start while the chain requires a newer version key


@dataclass(frozen=True)
class PendingCommit:
    uids: list[int]
    values: list[int]
    salt_hex: str
    version_key: int
    epoch: int


def row_to_u16(row: np.ndarray, max_weight_limit_u16: int = U16_MAX) -> list[int]:
    """A weight row (n,) as the u16 values to submit, capped so the chain's max weight limit accepts it.

    The chain refuses a row whose largest value exceeds ``max_weight_limit_u16 / 65535`` of its sum (compared
    in integers), so with a limit below 65535 the row is first capped with ``normalize_max_weight`` (the excess
    of a dominant miner spread over the others, as the rule intends). The cap is set a little under the limit:
    rounding each of the n values to u16 can move the sum down by up to (n - 1) / 2 units while the largest
    value stays at exactly 65535, and the capped row must pass even then.
    """
    n = len(row)
    if max_weight_limit_u16 >= U16_MAX or n == 0 or not np.any(row > 0):
        return weights_to_u16(row)
    # top / sum <= L / 65535 must hold after rounding: with top = 65535 and sum >= 65535 / cap - (n - 1) / 2,
    # cap = 65535 / (65535**2 / L + (n - 1) / 2 + 1) is enough (the +1 absorbs float error).
    cap = U16_MAX / (U16_MAX**2 / max(max_weight_limit_u16, 1) + (n - 1) / 2 + 1)
    return weights_to_u16(normalize_max_weight(row, cap))


class WeightSetter:
    def __init__(self, chain: ChainClient, hotkey: Keypair, state_dir: Path, version_key: int) -> None:
        self.chain = chain
        self.hotkey = hotkey
        self.path = state_dir / "commits.json"
        self.version_key = version_key
        self.pending = self._load()
        self.last_result = ""
        self._outdated_for: int | None = None  # the required key last reported as newer than ours

    def _load(self) -> list[PendingCommit]:
        if not self.path.exists():
            return []
        return [PendingCommit(**c) for c in json.loads(self.path.read_text())]

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(c) for c in self.pending]))
        os.replace(tmp, self.path)

    async def maybe_set(self, graph: Metagraph, weights: np.ndarray) -> str:
        """Set (or commit/reveal) ``weights`` (n,) when due. Returns what happened, for logs and tests."""
        try:
            result = await self._maybe_set(graph, weights)
        except TransactionRefused as exc:
            result = f"refused ({exc.reason}): {exc.message}; retrying at the next check"
            log.warning("weights %s", result)
        except ChainUnavailable as exc:
            result = f"chain unavailable: {exc}; retrying at the next check"
            log.warning("weights %s", result)
        self.last_result = result
        return result

    async def _maybe_set(self, graph: Metagraph, weights: np.ndarray) -> str:
        me = graph.uid_of(self.hotkey.ss58_address)
        if me is None:
            return "not registered"
        if not graph.validator_permit[me]:
            return "no validator permit yet (it comes with stake, at an epoch)"
        hyper = await self.chain.hyperparameters()
        outdated = self._outdated(int(hyper.get("weights_version_key", 0)))
        if outdated:
            return outdated
        status = await self.chain.status()
        if self.pending and hyper["commit_reveal"]:
            revealed = await self._reveal_due(status.epoch_index, hyper["reveal_period_epochs"])
            if revealed:
                return revealed
        interval = max(hyper["weights_rate_limit"], hyper["tempo"] // 2, 1)
        if status.block - int(graph.last_update[me]) < interval:
            return "not due"
        row = weights.copy()
        row[me] = 0.0  # the chain ignores self-weights anyway
        if row.sum() <= 0:
            return "no scores yet"
        uids = [u for u in range(graph.n) if u != me]
        values = row_to_u16(row[uids], hyper.get("max_weight_limit_u16", U16_MAX))
        version = self.version_key
        if hyper["commit_reveal"]:
            salt = secrets.token_bytes(16)
            await self.chain.commit_weights(self.hotkey, commit_hash(self.hotkey.ss58_address, uids, values, salt,
                                                                     version))
            self.pending.append(PendingCommit(uids, values, salt.hex(), version, status.epoch_index))
            self._save()
            return f"committed {len(uids)} weights at epoch {status.epoch_index}"
        result = await self.chain.set_weights(self.hotkey, uids, values, version)
        return f"set {len(uids)} weights in block {result.block}"

    def _outdated(self, required: int) -> str:
        """Why weights cannot be set with our version key under the chain's ``required`` one ("" when they can)."""
        if self.version_key >= required:
            self._outdated_for = None
            return ""
        result = (f"{OUTDATED}: this validator's version key {self.version_key} is older than the "
                  f"{required} the chain requires; upgrade the validator. It keeps scoring but sets no weights "
                  "until then")
        if self._outdated_for != required:  # once, not at every check
            log.error("weights not set: %s", result.removeprefix(f"{OUTDATED}: "))
            self._outdated_for = required
        return result

    async def _reveal_due(self, epoch: int, reveal_period: int) -> str:
        for commit in list(self.pending):
            if epoch > commit.epoch + reveal_period + 1:
                self.pending.remove(commit)  # expired: the chain would refuse it
                self._save()
                continue
            if epoch >= commit.epoch + reveal_period:
                await self.chain.reveal_weights(self.hotkey, commit.uids, commit.values, bytes.fromhex(commit.salt_hex),
                                                commit.version_key)
                self.pending.remove(commit)
                self._save()
                return f"revealed the weights committed at epoch {commit.epoch}"
        return ""
