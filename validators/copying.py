"""Copy detection: a miner that answers with another miner's text earns no more than that miner.

The validator sends open challenges with sampling (temperature > 0) and a seed that differs per miner, so two
independent miners almost never produce the same non-trivial text. A relay forwards its request to another
miner, so its answer is that miner's output for the relay's seed, which the validator would never see. The
validator therefore also sends some miners' exact requests (same prompt, same seed) to another miner as unscored
probes: when a probe's answer equals the probed request's scored answer (after a light normalisation that undoes
case, whitespace and punctuation edits), the two miners are linked. Identical text also arises with several
hotkeys fronting one backend, or a miner ignoring the seed.

The rule (:func:`apply_copy_penalty`): every member of a copy group is capped at the group's lowest reward.

- No member earns more than any other, so the copier earns no more than the miner it copies.
- It does not need to know who the source is (a relay's answer and its source's answer to the same probe are
  the same text, so the evidence is symmetric).
- It never takes from an honest miner more than the copier's own reward: two honest miners that run the very same
  model and sampler would also match on a probe, and capping them at each other's reward changes almost nothing.

All functions are pure and deterministic (groups come out sorted).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class CopySettings:
    """When two answers count as copies.

    ``min_words``: shorter answers are ignored (short texts coincide by chance). ``min_matches``: how many
    requests two miners must answer identically before they are grouped (1 = a single identical answer).
    """

    min_words: int = 12
    min_matches: int = 1


def normalise_for_copy(text: str) -> str:
    """Case-folded words of ``text`` joined by single spaces: whitespace, punctuation and case edits vanish."""
    return " ".join(_TOKEN_RE.findall(unicodedata.normalize("NFKC", text).casefold()))


def find_copy_groups(
    answers_per_request: Sequence[Mapping[int, str]], settings: CopySettings | None = None
) -> list[tuple[int, ...]]:
    """Groups of uids (each of size >= 2) whose normalised, non-trivial answers were identical.

    ``answers_per_request`` holds, for each sampled request of the step (or of several steps), the answer text
    of each uid that answered. Two uids are linked when they answered identically on at least ``min_matches``
    requests; groups are the connected components of that relation (a copies b, c copies a: one group).
    Guarantees: disjoint groups, each sorted, the list sorted; empty when no two answers coincide.
    """
    settings = settings or CopySettings()
    pair_matches: dict[tuple[int, int], int] = defaultdict(int)
    for answers in answers_per_request:
        by_text: dict[str, list[int]] = defaultdict(list)
        for uid, text in answers.items():
            norm = normalise_for_copy(text)
            if len(norm.split()) >= settings.min_words:
                by_text[norm].append(uid)
        for uids in by_text.values():
            ordered = sorted(set(uids))
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    pair_matches[(a, b)] += 1

    return link_groups(pair for pair, count in pair_matches.items() if count >= settings.min_matches)


def link_groups(pairs: Iterable[tuple[int, int]]) -> list[tuple[int, ...]]:
    """Connected components (size >= 2) of the undirected links ``pairs``: disjoint, each sorted, list sorted."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]  # path halving keeps the trees shallow
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    components: dict[int, list[int]] = defaultdict(list)
    for uid in list(parent):
        components[root(uid)].append(uid)
    return sorted(tuple(sorted(members)) for members in components.values() if len(members) >= 2)


def apply_copy_penalty(rewards: Mapping[int, float], groups: Sequence[Sequence[int]]) -> dict[int, float]:
    """Rewards after capping: each member of a group gets ``min(group rewards)``.

    Uids outside every group keep their reward. A group member missing from ``rewards`` counts as 0 (it earned
    nothing this step, so neither do the others). Guarantees: within a group all rewards are equal; no reward
    increases; no member earns more than the lowest member's original reward.
    """
    adjusted = dict(rewards)
    seen: set[int] = set()
    for group in groups:
        members = sorted(set(group))
        if len(members) < 2:
            continue
        if seen.intersection(members):
            raise ValueError(f"copy groups must be disjoint; uids {sorted(seen.intersection(members))} repeat")
        seen.update(members)
        share = min(rewards.get(uid, 0.0) for uid in members)
        for uid in members:
            if uid in adjusted:
                adjusted[uid] = share
    return adjusted
