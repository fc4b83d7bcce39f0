"""The validator's persistent score state: a per-uid moving average of step rewards, and penalties.

Rules (each function returns a new ``ScoreState``; none reads a clock or a random source, so replaying the same
steps with the same rewards gives the same state, bit for bit):

- ``score <- (1 - alpha) * score + alpha * reward`` for the uids queried in a step, and for no other uid:
  a miner the validator did not ask this step keeps its score (it did nothing wrong by not being asked).
- A uid whose hotkey differs from the one remembered is a new miner: it starts from 0 with no penalty,
  never from the previous occupant's score.
- ``penalise`` (a miner caught lying) zeroes the score at once, and every step before ``penalty_until_step``
  counts as reward 0 and gives weight 0, whatever the miner answered.
- Persistence is JSON with a format name, a version and a SHA-256 of the body, written atomically (temp file in
  the same directory, fsync, ``os.replace``, fsync of the directory). Floats round-trip exactly. A torn,
  corrupt or foreign file is refused with ``ScoreStateError``, never silently replaced by an empty state.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np

FORMAT = "subnet-validator-scores"
VERSION = 1


class ScoreStateError(RuntimeError):
    """The score state file cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class ScoreSettings:
    """``ema_alpha``: weight of the newest step reward in the moving average, in (0, 1]."""

    ema_alpha: float = 0.2

    def __post_init__(self) -> None:
        if not (0.0 < self.ema_alpha <= 1.0):
            raise ValueError(f"ema_alpha must be in (0, 1], got {self.ema_alpha}")


@dataclass(frozen=True)
class MinerScore:
    """What the validator remembers about the miner at one uid."""

    hotkey: str
    score: float = 0.0
    penalty_until_step: int = 0  # steps strictly before this one score 0


@dataclass(frozen=True)
class ScoreState:
    """Scores after step ``step`` (-1 before the first step). ``miners`` is read-only, keyed by uid."""

    step: int = -1
    miners: Mapping[int, MinerScore] = field(default_factory=lambda: MappingProxyType({}))

    def penalised(self, uid: int, step: int) -> bool:
        """Whether ``uid`` is under a penalty at ``step``."""
        record = self.miners.get(uid)
        return record is not None and step < record.penalty_until_step


def _frozen(miners: dict[int, MinerScore]) -> Mapping[int, MinerScore]:
    return MappingProxyType(dict(sorted(miners.items())))


def sync_hotkeys(state: ScoreState, hotkeys: Mapping[int, str]) -> ScoreState:
    """Forget uids that left the metagraph and reset uids whose hotkey changed (a new miner starts at 0)."""
    miners = {uid: rec for uid, rec in state.miners.items() if hotkeys.get(uid) == rec.hotkey}
    return replace(state, miners=_frozen(miners))


def update(
    state: ScoreState,
    step: int,
    rewards: Mapping[int, float],
    hotkeys: Mapping[int, str],
    settings: ScoreSettings,
) -> ScoreState:
    """Apply one step: sync hotkeys, then move each queried uid's score toward its reward.

    ``rewards`` holds one value in [0, 1] for every uid queried this step (failed calls included, as 0);
    ``hotkeys`` is the current metagraph's uid -> hotkey. Raises ``ValueError`` if ``step`` is not after the
    state's step, a reward is outside [0, 1] or not finite, or a rewarded uid is not in ``hotkeys``.
    """
    if step <= state.step:
        raise ValueError(f"step {step} is not after the last applied step {state.step}; steps must increase")
    for uid, reward in rewards.items():
        if uid not in hotkeys:
            raise ValueError(f"reward for uid {uid}, which is not in the metagraph")
        if not (isinstance(reward, numbers.Real) and math.isfinite(reward) and 0.0 <= reward <= 1.0):
            raise ValueError(f"reward of uid {uid} must be a finite number in [0, 1], got {reward!r}")
    synced = sync_hotkeys(state, hotkeys)
    miners = dict(synced.miners)
    alpha = settings.ema_alpha
    for uid, reward in rewards.items():
        record = miners.get(uid) or MinerScore(hotkey=hotkeys[uid])
        effective = 0.0 if step < record.penalty_until_step else float(reward)
        miners[uid] = replace(record, score=(1.0 - alpha) * record.score + alpha * effective)
    return ScoreState(step=step, miners=_frozen(miners))


def penalise(state: ScoreState, uid: int, hotkey: str, *, from_step: int, duration_steps: int) -> ScoreState:
    """Zero ``uid``'s score and make steps ``from_step`` .. ``from_step + duration_steps - 1`` score 0.

    A longer penalty already in force is kept. A uid remembered under another hotkey is reset first.
    """
    if duration_steps < 0:
        raise ValueError(f"duration_steps must be >= 0, got {duration_steps}")
    record = state.miners.get(uid)
    if record is None or record.hotkey != hotkey:
        record = MinerScore(hotkey=hotkey)
    until = max(record.penalty_until_step, from_step + duration_steps)
    miners = dict(state.miners)
    miners[uid] = replace(record, score=0.0, penalty_until_step=until)
    return replace(state, miners=_frozen(miners))


def scores_vector(state: ScoreState, n_uids: int, *, step: int) -> np.ndarray:
    """Scores as a float64 array of length ``n_uids`` (index = uid): 0 for unknown or penalised uids at ``step``."""
    out = np.zeros(n_uids, dtype=np.float64)  # [n_uids]
    for uid, record in state.miners.items():
        if 0 <= uid < n_uids and not state.penalised(uid, step):
            out[uid] = record.score
    return out


def weights_from_scores(scores: np.ndarray) -> np.ndarray:
    """Scores normalised to sum to 1 (float64, same shape); all zeros when every score is 0.

    Raises ``ValueError`` on negative or non-finite scores rather than producing meaningless weights.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(scores)) or np.any(scores < 0):
        raise ValueError("scores must be finite and >= 0")
    total = scores.sum()
    return scores / total if total > 0 else np.zeros_like(scores)


# --- persistence ---------------------------------------------------------------------------------------------


def to_json(state: ScoreState) -> str:
    """The state as a JSON document with format name, version and a checksum of its body."""
    body = {
        "step": state.step,
        "miners": [
            {"uid": uid, "hotkey": r.hotkey, "score": r.score, "penalty_until_step": r.penalty_until_step}
            for uid, r in sorted(state.miners.items())
        ],
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    checksum = hashlib.sha256(canonical.encode()).hexdigest()
    return json.dumps({"format": FORMAT, "version": VERSION, "sha256": checksum, "body": body}, indent=1) + "\n"


def from_json(text: str, *, source: str = "score state") -> ScoreState:
    """Parse :func:`to_json`'s output. Raises ``ScoreStateError`` for anything else, naming ``source``."""
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise ScoreStateError(f"{source} is not valid JSON (torn or corrupt write?): {err}") from err
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ScoreStateError(f"{source} is not a validator score file (format {FORMAT!r} expected)")
    if doc.get("version") != VERSION:
        raise ScoreStateError(f"{source} has version {doc.get('version')!r}; this validator reads version {VERSION}")
    body = doc.get("body")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    if hashlib.sha256(canonical.encode()).hexdigest() != doc.get("sha256"):
        raise ScoreStateError(f"{source} fails its checksum (corrupt); move it aside to start from empty scores")
    try:
        miners = {}
        for item in body["miners"]:
            uid, score, until = item["uid"], item["score"], item["penalty_until_step"]
            if not (type(uid) is int and type(until) is int and isinstance(score, float | int)):
                raise TypeError(f"bad field types in {item!r}")
            if not (math.isfinite(score) and score >= 0) or uid in miners:
                raise ValueError(f"bad entry {item!r}")
            miners[uid] = MinerScore(hotkey=str(item["hotkey"]), score=float(score), penalty_until_step=until)
        step = body["step"]
        if type(step) is not int:
            raise TypeError(f"step must be an integer, got {step!r}")
    except (KeyError, TypeError, ValueError) as err:
        raise ScoreStateError(f"{source} has a malformed body: {err}") from err
    return ScoreState(step=step, miners=_frozen(miners))


def save_state(state: ScoreState, path: Path) -> None:
    """Write ``state`` to ``path`` atomically: a reader sees the old file or the new one, never a mix."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(to_json(state))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    # The rename itself is durable only once the directory entry is flushed.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_state(path: Path, *, missing_ok: bool = True) -> ScoreState:
    """The state saved at ``path``; an empty state if the file does not exist and ``missing_ok``.

    Raises ``ScoreStateError`` when the file exists but is not a complete, valid score file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return ScoreState()
        raise
    except (OSError, UnicodeDecodeError) as err:
        raise ScoreStateError(f"cannot read score state {path}: {err}") from err
    return from_json(text, source=f"score state {path}")
