"""Copy detection: miners that return the same text for sampled requests share one answer's worth of reward.

The validator sends open challenges with sampling (temperature > 0) and a seed that differs per miner. Two
independent miners then almost never produce the same non-trivial text, so identical answers (after a light
normalisation that undoes trivial edits: case, whitespace, punctuation) mean the texts came from one source:
a miner relaying another's answers, several hotkeys fronting one cached backend, or a miner ignoring the seed.

The rule (:func:`apply_copy_penalty`): every member of a copy group gets the group's lowest reward divided by the
group's size. Why this rule:

- No member earns more than any other, and the copier earns no more than the original.
- The group as a whole earns at most what one miner would, so relaying or running many hotkeys over one
  backend earns nothing extra (capping at the minimum alone would pay every sybil in full).
- It does not guess who the source is. Latency cannot tell: a relay that caches answers is as fast as its
  source. An honest miner cannot be dragged into a group against its will, because a copier never sees the
  text the honest miner sent to the validator (that answer depends on a seed only the honest miner received).

All functions are pure and deterministic (groups come out sorted).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
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

    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]  # path halving keeps the trees shallow
            x = parent[x]
        return x

    for (a, b), count in pair_matches.items():
        if count >= settings.min_matches:
            ra, rb = root(a), root(b)
            parent[max(ra, rb)] = min(ra, rb)
    components: dict[int, list[int]] = defaultdict(list)
    for uid in list(parent):
        components[root(uid)].append(uid)
    return sorted(tuple(sorted(members)) for members in components.values() if len(members) >= 2)


def apply_copy_penalty(rewards: Mapping[int, float], groups: Sequence[Sequence[int]]) -> dict[int, float]:
    """Rewards after sharing: each member of a group gets ``min(group rewards) / len(group)``.

    Uids outside every group keep their reward. A group member missing from ``rewards`` counts as 0 (it earned
    nothing this step, so neither do the others). Guarantees: within a group all rewards are equal; no reward
    increases; the group's total is at most its lowest member's original reward.
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
        share = min(rewards.get(uid, 0.0) for uid in members) / len(members)
        for uid in members:
            if uid in adjusted:
                adjusted[uid] = share
    return adjusted
