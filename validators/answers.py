"""Tolerant parsing of a miner's answer to an exact challenge.

Small instruct models rarely answer with the bare value: they write "The answer is 42.", "**42**", "forty-two",
"42.0", "2, 5 and 9" or echo the question first. The parsers here find the ONE value a response commits to and
compare it with the expected value exactly, so formatting never costs a correct miner its reward while a wrong
value is never accepted ("42" does not match an expected "4"; a list of guesses is not a correct answer).

How a response is narrowed to its answer (every parser does the same first steps):

1. Unicode is normalised, markdown emphasis and LaTeX wrappers are dropped, curly quotes become straight ones.
2. The text after the LAST answer marker ("answer is", "result:", "=", a colon...) is the answer span; with no
   marker the whole response is.
3. A number answer is the first number of the span after a marker, otherwise the last number of the response.
   Digits win over spelled-out numbers ("forty-two" counts only when the span holds no digits).
4. A word answer is the last word of the span's first sentence after a marker, otherwise the last word. When
   the expected word belongs to a closed class of answers (weekdays, months, the task generators' names, cities,
   pets, instruments, sports, jobs), a response that names exactly one member of that class, and it is the
   expected one, is also right ("Anna is the tallest."); naming two or more ("Anna or Ben") never is.
5. A list answer is read from the last paragraph of the span that holds any item; every item found counts, so
   an echoed unsorted list in the same paragraph makes the answer wrong.

Everything here is pure and deterministic.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection
from decimal import Decimal
from typing import Literal

AnswerType = Literal["int", "word", "word_cased", "int_list", "word_list"]
ANSWER_TYPES: tuple[AnswerType, ...] = ("int", "word", "word_cased", "int_list", "word_list")

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_SCALES], key=len, reverse=True))
_SPELLED_RE = re.compile(rf"\b(?:{_NUMBER_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_NUMBER_WORD}))*\b", re.IGNORECASE)
# A number not glued to a word or to a decimal point on its left ("x2", the "5" of "3.5"); thousands
# separators only in groups of exactly three digits.
_NUMBER_RE = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+(?![\d,])|\d+)(?:\.\d+)?")
_PLAIN_INT_RE = re.compile(r"(?<![\w.])-?\d+(?![\d.]\d)")
_WORD_RE = re.compile(r"[^\W\d_]+")
_MARKER_RE = re.compile(
    r"\b(?:final answer|answer|result|solution|output)\b\s*(?:is|would be|will be)?\s*[:=]?|[:=]|\bequals\b",
    re.IGNORECASE,
)
# A run of three or more single letters ("e l p p a", "e-l-p-p-a") is one spelled-out word; otherwise a word.
_WORD_TOKEN_RE = re.compile(r"(?<![^\W\d_])(?:[^\W\d_][ ,-]+){2,}[^\W\d_](?![^\W\d_])|[^\W\d_]+")
_SENTENCE_END_RE = re.compile(r"[.!?\n](?:\s|$)")
_BULLET_RE = re.compile(r"^\s*(?:\d+[.)]|[-*•+])\s+", re.MULTILINE)
_QUOTE_MAP = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "`": '"', "«": '"', "»": '"'})
_FILLER_RE = re.compile(r"\*\*|__|\\\(|\\\)|\\\[|\\\]|\$|\\text\{|\\boxed\{|\}|\{|#+ ")


def normalise(text: str) -> str:
    """NFKC-normalised text without markdown emphasis, LaTeX wrappers or typographic quotes; case is kept."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTE_MAP)
    text = _FILLER_RE.sub(" ", text)
    # Single '*' or '_' emphasis around a token ("*42*", "_apple_"); bullets at line starts are left alone.
    text = re.sub(r"(?<!\S)[*_]+(\S[^*_\n]*?)[*_]+(?!\S)", r"\1", text)
    return text.strip()


def answer_span(text: str) -> tuple[str, bool]:
    """The normalised text after the last answer marker, and whether a marker was found.

    A marker with nothing after it (a trailing colon) is ignored so the answer before it still counts.
    """
    text = normalise(text)
    for match in reversed(list(_MARKER_RE.finditer(text))):
        tail = text[match.end() :].strip()
        if tail.strip(" .!"):
            return tail, True
    return text, False


def _spelled_value(phrase: str) -> int:
    total, current = 0, 0
    for word in re.split(r"[\s-]+", phrase.lower()):
        if word == "and":
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:  # thousand
            total += max(current, 1) * 1000
            current = 0
    return total + current


def _numbers(text: str) -> list[Decimal]:
    """Every number in ``text`` in order (exact decimals): digit numbers if there are any, else spelled-out ones."""
    digits = [Decimal(m.group().replace(",", "")) for m in _NUMBER_RE.finditer(text)]
    if digits:
        return digits
    return [Decimal(_spelled_value(m.group())) for m in _SPELLED_RE.finditer(text)]


def parse_int(text: str) -> int | None:
    """The integer a response commits to, or None when it commits to no number or to a non-integer.

    "The answer is 42.", "**42**", "42.0", "forty-two", "37 + 5 = 42" all give 42; "42.5" gives None.
    """
    span, marked = answer_span(text)
    numbers = _numbers(span)
    if numbers:
        value = numbers[0] if marked else numbers[-1]
    else:
        fallback = _numbers(normalise(text))
        if not fallback:
            return None
        value = fallback[-1]
    return int(value) if value == value.to_integral_value() else None


def parse_word(text: str) -> str | None:
    """The single word a response commits to (case kept), or None when there is no word.

    After a marker it is the last word of the first sentence after it ("The answer is elppa. It is apple
    backwards." gives "elppa"); without one, the last word of the response. "e-l-p-p-a" reads as "elppa".
    """
    span, marked = answer_span(text)
    if marked:
        end = _SENTENCE_END_RE.search(span)
        span = span[: end.start()] if end else span
    words = [re.sub(r"[ ,-]", "", w) for w in _WORD_TOKEN_RE.findall(span)]
    return words[-1] if words else None


def _last_paragraph_with(span: str, pattern: re.Pattern[str]) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", span) if pattern.search(p)]
    return paragraphs[-1] if paragraphs else ""


def parse_int_list(text: str) -> list[int] | None:
    """The list of integers a response commits to (order kept), or None when it holds none.

    "2, 5, 9", "2 5 9", "[2, 5, 9]", "2, 5 and 9" and a numbered or bulleted column all give [2, 5, 9].
    """
    span, _ = answer_span(text)
    block = _BULLET_RE.sub(" ", _last_paragraph_with(span, _PLAIN_INT_RE))
    values = [int(m.group()) for m in _PLAIN_INT_RE.finditer(block)]
    return values or None


def parse_word_list(text: str, vocabulary: Collection[str]) -> list[str] | None:
    """The items of ``vocabulary`` a response lists, in order and lower-cased, or None when it lists none.

    Only vocabulary words count, so connecting words ("and", "then") and chatter around the list are ignored,
    while every repeated or extra item stays in the result.
    """
    vocab = {v.casefold() for v in vocabulary}

    def items(part: str) -> list[str]:
        return [w.casefold() for w in _WORD_RE.findall(part) if w.casefold() in vocab]

    span, _ = answer_span(text)
    paragraphs = [p for p in re.split(r"\n\s*\n", span) if items(p)]
    return items(paragraphs[-1]) if paragraphs else None


@functools.cache
def _classes() -> tuple[frozenset[str], ...]:
    # Imported late: validators.tasks imports this module.
    from validators.tasks import text

    return tuple(frozenset(w.casefold() for w in getattr(text, name)) for name in text.ANSWER_CLASSES)


def names_only(text: str, expected: str) -> bool:
    """Whether ``text`` names exactly one member of the closed answer class of ``expected``, and it is ``expected``.

    False when ``expected`` is in no class or in more than one (then the rule does not apply).
    """
    wanted = expected.casefold()
    classes = [c for c in _classes() if wanted in c]
    if len(classes) != 1:
        return False
    named = {w.casefold() for w in _WORD_RE.findall(normalise(text))} & classes[0]
    return named == {wanted}


def format_list(items: list[int] | list[str]) -> str:
    """The canonical written form of an expected list: items joined by ", "."""
    return ", ".join(str(i) for i in items)


def check_answer(answer_type: AnswerType, text: str, expected: str) -> bool:
    """Whether ``text`` answers an exact challenge whose canonical expected answer is ``expected``.

    ``expected`` is written as the challenge generator writes it (an integer, a word, or items joined by ", ").
    Words compare case-insensitively except for ``word_cased``; lists must match item for item, in order.
    """
    if answer_type == "int":
        return parse_int(text) == int(expected)
    if answer_type == "word":
        word = parse_word(text)
        return (word is not None and word.casefold() == expected.casefold()) or names_only(text, expected)
    if answer_type == "word_cased":
        return parse_word(text) == expected
    if answer_type == "int_list":
        return parse_int_list(text) == [int(x) for x in expected.split(",")]
    if answer_type == "word_list":
        wanted = [x.strip().casefold() for x in expected.split(",")]
        return parse_word_list(text, wanted) == wanted
    raise ValueError(f"unknown answer type {answer_type!r}; expected one of {ANSWER_TYPES}")
