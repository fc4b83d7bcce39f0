"""Relays: which of two miners that returned the same sampled text is the copier.

Every sampled request is answered under a seed bound to the answering miner's hotkey (``subnet.seed_binding``),
so two honest miners given the same request sample apart, even when they serve the very same model, and an
identical greedy answer from the same admitted model is expected and proves nothing (the validator never probes
with greedy requests). A relay forwards its request to another miner; the text it returns was sampled under
that miner's key, so it fails verification under the relay's own key (``validators.reference``), whatever
else the relay does to it.

Probes add evidence for the answers a step does not sample for verification: the validator sends one miner's
sampled request (same prompt, same seed) to another miner, unscored. An honest target samples under its own
key and returns other text. When the probe's answer equals the probed miner's scored answer (after
:func:`normalise_for_copy`, which undoes case, whitespace and punctuation edits), one of the two relayed the
other, and the loop verifies both answers, each under its own miner's key: the relay fails and is treated as a
liar; the miner it relayed passes and loses nothing. So a griefer that relays an honest miner's answers can
never pull that miner down: the evidence is directional, and only the side whose text is not its own is hit.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN_RE = re.compile(r"\w+")
MIN_COPY_WORDS = 12  # shorter answers coincide by chance too often to count as one answer


def normalise_for_copy(text: str) -> str:
    """Case-folded words of ``text`` joined by single spaces: whitespace, punctuation and case edits vanish."""
    return " ".join(_TOKEN_RE.findall(unicodedata.normalize("NFKC", text).casefold()))


def same_answer(a: str, b: str) -> bool:
    """Whether two answers are the same non-trivial text (at least ``MIN_COPY_WORDS`` words) up to edits."""
    na = normalise_for_copy(a)
    return len(na.split()) >= MIN_COPY_WORDS and na == normalise_for_copy(b)
