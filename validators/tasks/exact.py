"""Exact task families: each draws its values per request and writes the task in one of many ways.

A family is a function ``random.Random -> ExactTask``. Inside a family the *content* (numbers, words, names,
which operation, which question) and the *wording* (phrasing of every sentence, numbers in digits or words,
list separators, quoting, order of the sentences, unrelated sentences mixed in, the answer-format instruction
and where it stands) are drawn independently, so the same content comes out in many surface forms and the
same form carries many contents.

Most families can also give the data of a second owner of the same kind (a *decoy*: "Anna's walk is 3 km and
Ben's 7 km", written in one of several layouts) and ask about one of them, sometimes by comparison ("the longer
of the two walks"): the number next to a unit or the weekday in the text is then not the answer by itself, and
which value is asked about has to be read. Each family keeps plainly worded, one-step variants, so that a small
instruct model answers a share of tasks.

The expected answer is computed from the drawn values, never parsed back from the text, and is written
canonically for ``validators.answers.check_answer`` (an integer, one word, or items joined by ", ").
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from validators.answers import AnswerType, format_list
from validators.tasks.text import (
    ANIMALS,
    CITIES,
    COLOURS,
    FRUITS,
    INSTRUMENTS,
    ITEMS,
    JOBS,
    MONTHS,
    NAMES,
    PETS,
    RELATIVES,
    SPORTS,
    WEEKDAYS,
    WORDS,
    a_or_an,
    cap,
    compose,
    listing,
    ordinal,
    quote,
    quoted,
    say,
    say_ordinal,
    spell,
)


@dataclass(frozen=True)
class ExactTask:
    """One exact task: the user message, its canonical answer and how to check it; ``variant`` is for tests."""

    family: str
    variant: str
    prompt: str
    expected: str
    answer_type: AnswerType


def _task(
    rng: random.Random,
    family: str,
    variant: str,
    context: list[str],
    question: str,
    expected: object,
    answer_type: AnswerType,
    noun: str = "answer",
    distractors: int | None = None,
) -> ExactTask:
    prompt = compose(rng, context, question, answer_type, noun, distractors=distractors, weekdays=family != "calendar")
    return ExactTask(family, variant, prompt, str(expected), answer_type)


def _pick(rng: random.Random, options: tuple[str, ...], **values: object) -> str:
    return rng.choice(options).format(**values)


# Share of tasks, in the families that have the option, whose data comes with a second owner's data of the
# same kind (a decoy): the question names one owner, so the task is to find which value is asked about. Families
# whose values a keyword parser finds by their unit or notation (units, calendar, time, money, number notation)
# use the higher share: without a decoy, "the number before 'km'" or "the weekday and the number" is the answer.
DECOY = 0.5
DECOY_KEYED = 0.8


def _two(
    rng: random.Random,
    subjects: tuple[str, str],
    shown: tuple[str, str],
    verb: tuple[str, str],
    relative: str | None = None,
) -> list[str]:
    """Sentences saying that each of two subjects ``verb`` its value; ``subjects``/``shown`` are (asked, decoy).

    Written as two sentences (either order), one sentence with or without "respectively", a contrast ("Unlike
    A, which ..., B ..."), two clauses ("..., while ..."), an ellipsis ("A's walk is 3 km and B's 7 km"), values
    first ("3 km for A's walk, 7 km for B's walk"), or the ready-made ``relative`` sentence (the asked value
    given relative to the decoy's). In most forms both owners share one sentence, and which number belongs to
    whom depends on the form.
    """
    pairs = [(subjects[0], shown[0]), (subjects[1], shown[1])]
    rng.shuffle(pairs)
    (s1, v1), (s2, v2) = pairs
    short = s2.split("'s ")[0] + "'s" if "'s " in s2 else s2
    forms = [
        [f"{cap(s1)} {verb[0]} {v1}.", f"{cap(s2)} {verb[0]} {v2}."],
        [f"{cap(s1)} and {s2} {verb[1]} {v1} and {v2}, respectively."],
        [f"{cap(s1)} and {s2} {verb[1]} {v1} and {v2}."],
        [f"Unlike {s1}, which {verb[0]} {v1}, {s2} {verb[0]} {v2}."],
        [f"{cap(s1)} {verb[0]} {v1}, while {s2} {verb[0]} {v2}."],
        [f"{cap(s1)} {verb[0]} {v1} and {short} {v2}."],
        [f"{cap(v1)} for {s1}, {v2} for {s2}."],
    ]
    if relative:
        forms += [[relative], [relative]]
    return rng.choice(forms)


def _relative(
    rng: random.Random,
    subjects: tuple[str, str],
    verb: str,
    values: tuple[int, int],
    unit: str,
    words: tuple[str, str],
    decoy_shown: str,
) -> str:
    """ "Ben's walk is 4 km longer than Anna's walk, which is 3 km." (asked value relative to the decoy's)."""
    diff = values[0] - values[1]
    unit = f" {unit}" if unit else ""
    return (
        f"{cap(subjects[0])} {verb} {say(rng, abs(diff))}{unit} {words[0] if diff > 0 else words[1]} than "
        f"{subjects[1]}, which {verb} {decoy_shown}."
    )


def _plural(noun: str) -> str:
    """ "walk" -> "walks", "party" -> "parties", "sack of rice" -> "sacks of rice"."""
    head, sep, tail = noun.partition(" of ")
    head = head[:-1] + "ies" if head.endswith("y") and head[-2] not in "aeiou" else head + "s"
    return head + sep + tail


def _owners(rng: random.Random, thing: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two owners and "<owner>'s <thing>" for each: ((asked name, decoy name), (asked subject, decoy subject))."""
    a, b = rng.sample(NAMES, 2)
    return (a, b), (f"{a}'s {thing}", f"{b}'s {thing}")


# --- arithmetic -------------------------------------------------------------------------------------------------

_SYMBOLS = {"+": ("+",), "-": ("-",), "*": ("×", "*", "x"), "/": ("÷", "/")}
_NOMINAL = {
    "+": ("{a} + {b}", "{a} plus {b}", "the sum of {a} and {b}", "{b} more than {a}", "{a} and {b} added together",
          "the total of {a} and {b}", "{a} increased by {b}"),
    "-": ("{a} - {b}", "{a} minus {b}", "{b} less than {a}", "the difference between {a} and {b}",
          "{a} take away {b}", "{a} decreased by {b}", "{a} reduced by {b}"),
    "*": ("{a} × {b}", "{a} * {b}", "{a} times {b}", "{a} multiplied by {b}", "the product of {a} and {b}"),
    "/": ("{a} ÷ {b}", "{a} / {b}", "{a} divided by {b}"),
}  # fmt: skip
_IMPERATIVE = {
    "+": ("Add {a} and {b}.", "Add {b} to {a}.", "Start with {a} and add {b}.", "Increase {a} by {b}.",
          "Put {a} and {b} together."),
    "-": ("Subtract {b} from {a}.", "Take {b} away from {a}.", "Start with {a} and take away {b}.",
          "Reduce {a} by {b}."),
    "*": ("Multiply {a} by {b}.", "Multiply {a} and {b}.", "Take {a} and multiply it by {b}."),
    "/": ("Divide {a} by {b}.", "Split {a} into {b} equal parts and keep one part.", "Share {a} equally among {b}."),
}  # fmt: skip
_STEP = {
    "+": ("add {c}", "add {c} to it", "increase it by {c}", "add another {c}"),
    "-": ("subtract {c}", "take away {c}", "reduce it by {c}", "take {c} off"),
    "*": ("multiply by {c}", "multiply it by {c}", "multiply the result by {c}"),
    "/": ("divide by {c}", "divide it by {c}", "split it into {c} equal parts and keep one"),
}
_SUFFIX = {
    "+": ("plus {c}", "with {c} added"),
    "-": ("minus {c}", "with {c} taken away"),
    "*": ("multiplied by {c}", "times {c}"),
    "/": ("divided by {c}",),
}
_ASK_VALUE = (
    "What is {e}?",
    "Work out {e}.",
    "Calculate {e}.",
    "How much is {e}?",
    "What number is {e}?",
    "Find {e}.",
    "Can you compute {e}?",
    "What do you get for {e}?",
    "Tell me {e}.",
)
_ASK_RESULT = (
    "What is the result?",
    "What do you get?",
    "What number do you end up with?",
    "What is the answer?",
    "Which number comes out?",
)


def _operands(rng: random.Random, op: str) -> tuple[int, int, int]:
    if op == "+":
        hi = rng.choice((30, 99, 99, 500))
        a, b = rng.randint(2, hi), rng.randint(2, hi)
        return a, b, a + b
    if op == "-":
        a = rng.randint(10, rng.choice((50, 120, 400)))
        b = rng.randint(1, a - 1)
        return a, b, a - b
    if op == "*":
        a, b = rng.randint(2, 12), rng.randint(2, rng.choice((10, 15, 25)))
        return a, b, a * b
    b, q = rng.randint(2, 10), rng.randint(2, 12)
    return b * q, b, q


def _step_phrase(rng: random.Random, op: str, c: int) -> str:
    if op == "*" and c in (2, 3) and rng.random() < 0.5:
        return "double it" if c == 2 else "triple it"
    if op == "/" and c == 2 and rng.random() < 0.5:
        return "halve it"
    return _pick(rng, _STEP[op], c=say(rng, c, 0.3))


def arithmetic(rng: random.Random) -> ExactTask:
    op = rng.choice("+-*/")
    a, b, x = _operands(rng, op)
    A, B = say(rng, a, 0.3), say(rng, b, 0.3)
    if rng.random() < 0.45:  # one operation
        if rng.random() < 0.6:
            e = _pick(rng, _NOMINAL[op], a=A, b=B)
            return _task(rng, "arithmetic", "two-nominal", [], cap(_pick(rng, _ASK_VALUE, e=e)), x, "int")
        return _task(
            rng,
            "arithmetic",
            "two-imperative",
            [_pick(rng, _IMPERATIVE[op], a=A, b=B)],
            rng.choice(_ASK_RESULT),
            x,
            "int",
        )
    op2 = rng.choice("+-*/")
    divisors = [d for d in range(2, 10) if x % d == 0 and x // d > 1]
    if op2 == "/" and not divisors:
        op2 = "+"
    if op2 == "-" and x < 3:
        op2 = "+"
    c = {
        "+": rng.randint(2, 40),
        "-": rng.randint(1, max(1, x - 1)),
        "*": rng.randint(2, 5),
        "/": rng.choice(divisors) if divisors else 2,
    }[op2]
    value = {"+": x + c, "-": x - c, "*": x * c, "/": x // c}[op2]
    C = say(rng, c, 0.3)
    form = rng.randrange(3)
    if form == 0:
        e = f"({A} {rng.choice(_SYMBOLS[op])} {B}) {rng.choice(_SYMBOLS[op2])} {C}"
        return _task(rng, "arithmetic", "three-symbolic", [], _pick(rng, _ASK_VALUE, e=e), value, "int")
    if form == 1:
        first = _step_phrase(rng, op, b)
        steps = _pick(
            rng,
            (
                "Start with {a}, {s1}, then {s2}.",
                "Take {a}. {S1}. Then {s2}.",
                "Think of the number {a}. {S1}, and after that {s2}.",
                "Begin at {a}; {s1}; finally {s2}.",
            ),
            a=A,
            s1=first,
            S1=cap(first),
            s2=_step_phrase(rng, op2, c),
        )
        return _task(rng, "arithmetic", "three-steps", [steps], rng.choice(_ASK_RESULT), value, "int")
    e = _pick(rng, _NOMINAL[op], a=A, b=B) + ", " + _pick(rng, _SUFFIX[op2], c=C)
    return _task(rng, "arithmetic", "three-nominal", [], cap(_pick(rng, _ASK_VALUE, e=e)), value, "int")


# --- word problems ----------------------------------------------------------------------------------------------

_HAS = (
    "{p} has {n} {items}.",
    "{p} starts the day with {n} {items}.",
    "{p} owns {n} {items}.",
    "There are {n} {items} in {p}'s bag.",
    "{p} keeps {n} {items} in a box.",
)
_GAIN = (
    "buys {k} more",
    "finds {k} more",
    "gets {k} more from a {rel}",
    "is given another {k}",
    "wins {k} more at a fair",
    "picks up {k} more",
)
_LOSS = ("gives {k} away", "loses {k}", "sells {k}", "gives {k} to a {rel}", "drops {k} of them", "uses up {k}")
_THEN = ("Then {p} {v}.", "Later, {p} {v}.", "After that, {p} {v}.", "The next day {p} {v}.", "In the evening {p} {v}.")
_HOW_MANY = (
    "How many {items} does {p} have now?",
    "How many {items} does {p} end up with?",
    "How many {items} does {p} have at the end?",
    "What is the number of {items} {p} has now?",
)


def word_problem(rng: random.Random) -> ExactTask:
    p, q = rng.sample(NAMES, 2)
    (items, _), (other_items, _) = rng.sample(ITEMS, 2)
    form = rng.choices(("events", "transfer", "groups", "share", "together"), weights=(4, 2, 2, 1, 2))[0]
    ctx: list[str] = []
    if form == "events":
        n = rng.randint(3, 40)
        ctx.append(_pick(rng, _HAS, p=p, n=say(rng, n), items=items))
        for _ in range(rng.choice((1, 1, 2))):
            if rng.random() < 0.5 or n < 3:
                k = rng.randint(1, 20)
                verb, n = _pick(rng, _GAIN, k=say(rng, k), rel=rng.choice(RELATIVES)), n + k
            else:
                k = rng.randint(1, n - 1)
                verb, n = _pick(rng, _LOSS, k=say(rng, k), rel=rng.choice(RELATIVES)), n - k
            ctx.append(_pick(rng, _THEN, p=p, v=verb))
        if rng.random() < 0.5:
            ctx.insert(
                rng.randint(0, len(ctx)), f"{q} has {say(rng, rng.randint(2, 30))} {rng.choice((items, other_items))}."
            )
        return _task(rng, "word_problem", "events", ctx, _pick(rng, _HOW_MANY, items=items, p=p), n, "int")
    if form == "transfer":
        a, b = rng.randint(5, 40), rng.randint(2, 40)
        k = rng.randint(1, a - 1)
        ctx = [
            _pick(
                rng,
                (
                    "{p} has {a} {items} and {q} has {b}.",
                    "{p} has {a} {items}. {q} has {b} {items}.",
                    "{q} has {b} {items}, while {p} has {a}.",
                ),
                p=p,
                q=q,
                a=say(rng, a),
                b=say(rng, b),
                items=items,
            ),
            _pick(
                rng,
                (
                    "{p} gives {k} of them to {q}.",
                    "Then {p} hands {k} {items} over to {q}.",
                    "{q} receives {k} {items} from {p}.",
                ),
                p=p,
                q=q,
                k=say(rng, k),
                items=items,
            ),
        ]
        who, value = (q, b + k) if rng.random() < 0.5 else (p, a - k)
        return _task(rng, "word_problem", "transfer", ctx, _pick(rng, _HOW_MANY, items=items, p=who), value, "int")
    if form == "groups":
        g, k = rng.randint(2, 9), rng.randint(2, 12)
        loose = rng.choice((0, 0, rng.randint(1, 9)))
        ctx = [
            _pick(
                rng,
                (
                    "{p} has {g} boxes with {k} {items} in each.",
                    "{p} fills {g} bags, each holding {k} {items}.",
                    "There are {g} rows of {items} on {p}'s table, with {k} in every row.",
                ),
                p=p,
                g=say(rng, g),
                k=say(rng, k),
                items=items,
            )
        ]
        if loose:
            ctx.append(
                _pick(
                    rng,
                    ("{p} also has {e} loose {items}.", "There are {e} more {items} on the floor."),
                    p=p,
                    e=say(rng, loose),
                    items=items,
                )
            )
        q_text = _pick(
            rng,
            (
                "How many {items} are there in total?",
                "How many {items} does {p} have altogether?",
                "What is the total number of {items}?",
            ),
            items=items,
            p=p,
        )
        return _task(rng, "word_problem", "groups", ctx, q_text, g * k + loose, "int")
    if form == "share":
        k, each = rng.randint(2, 8), rng.randint(2, 12)
        n = k * each
        if rng.random() < 0.5:
            ctx = [f"{p} shares {say(rng, n)} {items} equally among {say(rng, k)} friends."]
            q_text = "How many does each friend get?"
        else:
            ctx = [f"{p} puts {say(rng, n)} {items} into bags of {say(rng, each)}."]
            q_text, each = "How many bags does " + p + " fill?", k
        return _task(rng, "word_problem", "share", ctx, q_text, each, "int")
    a, d = rng.randint(2, 40), rng.randint(1, 20)
    if rng.random() < 0.5:
        b = rng.randint(2, 40)
        ctx = [f"{p} has {say(rng, a)} {items} and {q} has {say(rng, b)}."]
    else:
        b = a + d
        ctx = [
            f"{p} has {say(rng, a)} {items}.",
            _pick(
                rng,
                ("{q} has {d} more than {p}.", "{q} has {d} {items} more than {p} does."),
                q=q,
                p=p,
                d=say(rng, d),
                items=items,
            ),
        ]
    if rng.random() < 0.6:
        q_text = _pick(
            rng,
            (
                "How many {items} do they have together?",
                "How many {items} do {p} and {q} have in total?",
                "Together, how many {items} do the two of them have?",
            ),
            items=items,
            p=p,
            q=q,
        )
        value = a + b
    else:
        hi, lo = (q, p) if b >= a else (p, q)
        q_text = f"How many more {items} does {hi} have than {lo}?"
        value = abs(b - a)
    return _task(rng, "word_problem", "together", ctx, q_text, value, "int")


# --- letters ----------------------------------------------------------------------------------------------------


def _word_form(rng: random.Random, word: str, keep_case: bool = False) -> str:
    form = rng.random()
    if form < 0.15 and not keep_case:
        return quote(rng, word.upper())
    return ("the word " if form < 0.5 else "") + quote(rng, word)


def _letter_form(rng: random.Random, letter: str) -> str:
    return rng.choice(("the letter {}", "{}", "the letter {}", "the character {}")).format(
        quote(rng, rng.choice((letter, letter.upper())))
    )


_WORD_OWNED = ("word", "password", "favourite word", "spelling word", "secret word")


def _owned_word(rng: random.Random, word: str, source: str | None = None) -> tuple[list[str], str]:
    """The word as the task names it, and context: either none, or an asked and a decoy owner's words."""
    if rng.random() >= DECOY:
        return [], _word_form(rng, source or word, keep_case=source is not None)
    other = rng.choice([w for w in WORDS if w != word])
    if source and source.isupper():
        other = other.upper()
    _, subjects = _owners(rng, rng.choice(_WORD_OWNED))
    return _two(rng, subjects, (quote(rng, source or word), quote(rng, other)), ("is", "are")), subjects[0]


def letters(rng: random.Random) -> ExactTask:
    word = rng.choice(WORDS)
    form = rng.choices(("count", "length", "vowels", "nth", "ends", "alphabet"), weights=(3, 2, 1, 2, 1, 1))[0]
    ctx, W = _owned_word(rng, word)
    if form == "count":
        if rng.random() < 0.1:
            letter = rng.choice([c for c in "bdfhkmpqvwxz" if c not in word])
        else:
            letter = rng.choice(sorted(set(word)))
        L = _letter_form(rng, letter)
        question = _pick(
            rng,
            (
                "How many times does {L} appear in {W}?",
                "Count {L} in {W}.",
                "How often does {L} occur in {W}?",
                "In {W}, how many times do you see {L}?",
                "What is the number of times {L} shows up in {W}?",
            ),
            L=L,
            W=W,
        )
        return _task(rng, "letters", "count" + ("-decoy" if ctx else ""), ctx, cap(question), word.count(letter), "int")
    if form == "length":
        question = _pick(
            rng,
            (
                "How many letters are in {W}?",
                "How long is {W}, counted in letters?",
                "Count the letters of {W}.",
                "What is the number of letters in {W}?",
                "{W} has how many letters?",
            ),
            W=W,
        )
        return _task(rng, "letters", "length" + ("-decoy" if ctx else ""), ctx, cap(question), len(word), "int")
    if form == "vowels":
        question = _pick(
            rng,
            (
                "How many vowels are in {W}?",
                "Count the vowels (a, e, i, o, u) in {W}.",
                "How many of the letters in {W} are vowels?",
            ),
            W=W,
        )
        return _task(
            rng,
            "letters",
            "vowels" + ("-decoy" if ctx else ""),
            ctx,
            cap(question),
            sum(c in "aeiou" for c in word),
            "int",
        )
    if form == "nth":
        k = rng.randint(1, len(word))
        question = _pick(
            rng,
            (
                "What is the {o} letter of {W}?",
                "Which letter comes {o} in {W}?",
                "In {W}, which letter is in position {k}?",
                "Tell me the {o} letter in {W}.",
            ),
            o=say_ordinal(rng, k),
            k=say(rng, k, 0.2),
            W=W,
        )
        return _task(
            rng, "letters", "nth" + ("-decoy" if ctx else ""), ctx, cap(question), word[k - 1], "word", "letter"
        )
    if form == "ends":
        last = rng.random() < 0.6
        question = _pick(
            rng,
            ("What letter does {W} end with?", "What is the last letter of {W}?", "Which letter is at the end of {W}?")
            if last
            else ("What letter does {W} start with?", "What is the first letter of {W}?", "Which letter begins {W}?"),
            W=W,
        )
        return _task(
            rng,
            "letters",
            "ends" + ("-decoy" if ctx else ""),
            ctx,
            cap(question),
            word[-1] if last else word[0],
            "word",
            "letter",
        )
    i = rng.randint(1, 24)
    after = rng.random() < 0.6
    letter = "abcdefghijklmnopqrstuvwxyz"[i]
    question = _pick(
        rng,
        ("Which letter comes right after {L} in the alphabet?", "In the alphabet, what letter follows {L}?")
        if after
        else (
            "Which letter comes just before {L} in the alphabet?",
            "In the alphabet, what letter is right before {L}?",
        ),
        L=quote(rng, letter.upper()),
    )
    answer = "abcdefghijklmnopqrstuvwxyz"[i + 1 if after else i - 1]
    return _task(rng, "letters", "alphabet", [], question, answer, "word", "letter")


# --- counting ---------------------------------------------------------------------------------------------------

_ADJ = ("small", "old", "happy", "quiet", "tall", "clever", "sleepy", "brave", "little", "busy", "young", "shy")
_VERB = (
    "walked to",
    "looked at",
    "jumped over",
    "sat near",
    "ran past",
    "painted",
    "found",
    "visited",
    "waited by",
    "talked about",
)
_TAIL = (
    "after lunch",
    "in the morning",
    "with a friend",
    "on a cold day",
    "before dinner",
    "every weekend",
    "for an hour",
    "again",
)


def _sentence(rng: random.Random) -> list[str]:
    """A simple sentence as a list of words, 4 to 13 words long, without punctuation inside."""
    subject = [rng.choice(NAMES)] if rng.random() < 0.4 else ["the", rng.choice(_ADJ), rng.choice(ANIMALS)]
    obj = ["the", rng.choice(WORDS)] if rng.random() < 0.6 else ["the", rng.choice(_ADJ), rng.choice(WORDS)]
    words = [*subject, *rng.choice(_VERB).split(), *obj]
    if rng.random() < 0.5:
        words += rng.choice(_TAIL).split()
    if rng.random() < 0.3:
        words += ["in", rng.choice(CITIES)]
    words[0] = cap(words[0])
    return words


def _pure(words: tuple[str, ...]) -> list[str]:
    shared = {"orange", "kiwi"}
    return [w for w in words if w not in shared]


def counting(rng: random.Random) -> ExactTask:
    form = rng.choices(("sentence", "items", "category", "repeats"), weights=(3, 2, 3, 2))[0]
    if form == "sentence":
        words = _sentence(rng)
        s = " ".join(words) + "."
        question = _pick(
            rng,
            (
                "How many words are in this sentence: {s}",
                "Count the words in {qs}",
                "{qs} How many words does that sentence have?",
                "How many words does the following sentence contain? {s}",
            ),
            s=s,
            qs=quoted(rng, s),
        )
        return _task(rng, "counting", "sentence", [], question, len(words), "int")
    if form == "items":
        items = rng.sample(WORDS, rng.randint(3, 9))
        question = _pick(
            rng,
            (
                "How many items are on this list: {l}?",
                "I wrote down {l}. How many words is that?",
                "Count the things in this list: {l}.",
                "{L}: how many entries is that?",
            ),
            l=listing(rng, items),
            L=listing(rng, items),
        )
        return _task(rng, "counting", "items", [], question, len(items), "int")
    if form == "category":
        kinds = {"animals": _pure(ANIMALS), "fruits": _pure(FRUITS), "colours": _pure(COLOURS)}
        name = rng.choice(sorted(kinds))
        k = rng.randint(1, 5)
        others = [w for other in sorted(kinds) if other != name for w in kinds[other]]
        items = rng.sample(kinds[name], k) + rng.sample(others, rng.randint(1, 5))
        rng.shuffle(items)
        if rng.random() < DECOY:
            decoy = rng.sample(kinds[name], rng.choice([x for x in range(1, 6) if x != k])) + rng.sample(others, 2)
            rng.shuffle(decoy)
            ctx, who = _two_lists(rng, (listing(rng, items), listing(rng, decoy)), "words")
            question = _pick(
                rng, ("How many {c} are among {w}?", "Count the {c} in {w}.", "How many of {w} are {c}?"), c=name, w=who
            )
            return _task(rng, "counting", "category-decoy", ctx, question, k, "int")
        question = _pick(
            rng,
            (
                "How many {c} are in this list: {l}?",
                "Count the {c} among these words: {l}.",
                "{L}. How many of those are {c}?",
                "Here are some words: {l}. How many {c} do you see?",
            ),
            c=name,
            l=listing(rng, items),
            L=listing(rng, items),
        )
        return _task(rng, "counting", "category", [], question, k, "int")
    target = rng.choice(WORDS)
    k = rng.randint(1, 5)
    items = [target] * k + [rng.choice([w for w in WORDS if w != target]) for _ in range(rng.randint(2, 6))]
    rng.shuffle(items)
    if rng.random() < DECOY:
        decoy = [target] * rng.choice([x for x in range(0, 6) if x != k]) + rng.sample(WORDS, 3)
        rng.shuffle(decoy)
        ctx, who = _two_lists(rng, (listing(rng, items, final_and=0.0), listing(rng, decoy, final_and=0.0)), "words")
        question = _pick(
            rng,
            ("How many times does {w} appear in {o}?", "Count how often {w} occurs in {o}."),
            w=quote(rng, target),
            o=who,
        )
        return _task(rng, "counting", "repeats-decoy", ctx, question, k, "int")
    question = _pick(
        rng,
        (
            "How many times does {w} appear in this list: {l}?",
            "Count how often {w} occurs in {l}.",
            "In the list {l}, how many times is {w} written?",
        ),
        w=quote(rng, target),
        l=listing(rng, items, final_and=0.0),
    )
    return _task(rng, "counting", "repeats", [], question, k, "int")


# --- sorting ----------------------------------------------------------------------------------------------------

_UP = (
    "from smallest to largest",
    "in ascending order",
    "in increasing order",
    "from lowest to highest",
    "smallest first",
    "starting with the smallest",
)
_DOWN = (
    "from largest to smallest",
    "in descending order",
    "in decreasing order",
    "from highest to lowest",
    "largest first",
    "starting with the biggest",
)
_SORT = (
    "Sort these numbers {o}: {l}.",
    "Put {l} in order, {o}.",
    "Here are some numbers: {l}. Write them {o}.",
    "Order the following {o}: {l}.",
    "{L}. Arrange these {o}.",
    "Arrange the numbers {l} {o}.",
)


def _unordered(rng: random.Random, items: list, key: Callable | None = None) -> list:
    """``items`` in an order that is neither ascending nor descending (so echoing the input is never right)."""
    while len(items) > 2 and items in (sorted(items, key=key), sorted(items, key=key, reverse=True)):
        rng.shuffle(items)
    return items


def sorting(rng: random.Random) -> ExactTask:
    form = rng.choices(("numbers", "alpha", "length", "people", "reverse"), weights=(3, 2, 1, 2, 2))[0]
    if form == "numbers":
        values = _unordered(rng, rng.sample(range(1, rng.choice((30, 100, 1000))), rng.randint(3, 6)))
        up = rng.random() < 0.6
        if rng.random() < DECOY:
            decoy = _unordered(rng, rng.sample(range(1, 100), rng.randint(3, 6)))
            ctx, who = _two_lists(rng, (listing(rng, map(str, values)), listing(rng, map(str, decoy))), "numbers")
            text = _pick(
                rng,
                ("Sort {w} {o}.", "Put {w} in order, {o}.", "Write {w} {o}."),
                w=who,
                o=rng.choice(_UP if up else _DOWN),
            )
            return _task(
                rng,
                "sorting",
                "numbers-decoy",
                ctx,
                text,
                format_list(sorted(values, reverse=not up)),
                "int_list",
                "numbers",
            )
        text = _pick(
            rng,
            _SORT,
            o=rng.choice(_UP if up else _DOWN),
            l=listing(rng, map(str, values)),
            L=listing(rng, map(str, values)),
        )
        return _task(
            rng, "sorting", "numbers", [], text, format_list(sorted(values, reverse=not up)), "int_list", "numbers"
        )
    if form == "alpha":
        words = _unordered(rng, rng.sample(WORDS, rng.randint(3, 5)))
        up = rng.random() < 0.75
        order = rng.choice(
            ("in alphabetical order", "alphabetically", "from A to Z")
            if up
            else ("in reverse alphabetical order", "from Z to A")
        )
        text = _pick(
            rng,
            (
                "Put these words {o}: {l}.",
                "Sort {l} {o}.",
                "{L}. Write these words {o}.",
                "Arrange the following words {o}: {l}.",
            ),
            o=order,
            l=listing(rng, words),
            L=listing(rng, words),
        )
        return _task(
            rng, "sorting", "alpha", [], text, format_list(sorted(words, reverse=not up)), "word_list", "words"
        )
    if form == "length":
        by_len: dict[int, list[str]] = {}
        for w in WORDS:
            by_len.setdefault(len(w), []).append(w)
        lengths = rng.sample(sorted(by_len), rng.randint(3, 4))
        words = _unordered(rng, [rng.choice(by_len[n]) for n in lengths], key=len)
        short = rng.random() < 0.6
        order = rng.choice(
            ("shortest first", "from shortest to longest") if short else ("longest first", "from longest to shortest")
        )
        text = _pick(
            rng,
            (
                "Sort these words by length, {o}: {l}.",
                "Order {l} by their length, {o}.",
                "{L}. List them by number of letters, {o}.",
            ),
            o=order,
            l=listing(rng, words),
            L=listing(rng, words),
        )
        return _task(
            rng,
            "sorting",
            "length",
            [],
            text,
            format_list(sorted(words, key=len, reverse=not short)),
            "word_list",
            "words",
        )
    if form == "people":
        people = rng.sample(NAMES, rng.randint(3, 4))
        values = _unordered(rng, rng.sample(range(5, 90), len(people)))
        ages = rng.random() < 0.5
        facts = [
            _pick(
                rng,
                ("{p} is {n} years old.", "{p} is {n}.", "{p}'s age is {n}.")
                if ages
                else ("{p} scored {n} points.", "{p} got {n}.", "{p} has a score of {n}."),
                p=p,
                n=say(rng, n, 0.2),
            )
            for p, n in zip(people, values, strict=True)
        ]
        up = rng.random() < 0.5
        order = rng.choice(
            (("from youngest to oldest", "youngest first") if up else ("from oldest to youngest", "oldest first"))
            if ages
            else (
                ("from the lowest score to the highest", "lowest score first")
                if up
                else ("from the highest score to the lowest", "best score first")
            )
        )
        question = _pick(
            rng, ("List the people {o}.", "Write their names {o}.", "Put the names in order, {o}."), o=order
        )
        ranked = [p for _, p in sorted(zip(values, people, strict=True), reverse=not up)]
        return _task(rng, "sorting", "people", facts, question, format_list(ranked), "word_list", "names")
    words = rng.sample(WORDS, rng.randint(3, 5))
    text = _pick(
        rng,
        (
            "Write these words in reverse order: {l}.",
            "Reverse the order of this list: {l}.",
            "{L}. Now list them backwards, last item first.",
            "Read the list {l} from the end to the start.",
        ),
        l=listing(rng, words),
        L=listing(rng, words),
    )
    return _task(rng, "sorting", "reverse", [], text, format_list(words[::-1]), "word_list", "words")


# --- operations on a list of numbers ----------------------------------------------------------------------------


def _two_lists(rng: random.Random, lists: tuple[str, str], noun: str) -> tuple[list[str], str]:
    """Context giving an asked owner's and a decoy owner's list, and how to refer to the asked one."""
    (a, b), _ = _owners(rng, noun)
    order = [(a, lists[0]), (b, lists[1])]
    rng.shuffle(order)
    (x, lx), (y, ly) = order
    form = rng.randrange(3)
    if form == 0:
        ctx = [f"{x}'s {noun} are {lx}.", f"{y}'s {noun} are {ly}."]
    elif form == 1:
        ctx = [f"{x} wrote down {lx}, and {y} wrote down {ly}."]
    else:
        ctx = [f"Unlike {x}, whose {noun} are {lx}, {y} has {ly}."]
    return ctx, f"{a}'s {noun}"


def list_ops(rng: random.Random) -> ExactTask:
    values = rng.sample(range(1, rng.choice((50, 100, 100))), rng.randint(4, 7))
    L = listing(rng, [say(rng, v, 0.1) for v in values])
    ctx: list[str] = []
    if rng.random() < DECOY:
        decoy = listing(rng, [str(v) for v in rng.sample(range(1, 100), rng.randint(4, 7))])
        ctx, L = _two_lists(rng, (L, decoy), "numbers")
    elif rng.random() < 0.4:
        ctx = [
            _pick(
                rng,
                (
                    "{p} wrote down these numbers: {l}.",
                    "Here is a list of numbers: {l}.",
                    "The numbers on the board are {l}.",
                    "Consider {l}.",
                ),
                p=rng.choice(NAMES),
                l=L,
            )
        ]
        L = rng.choice(("the list", "these numbers", "the list of numbers"))
    ranked = sorted(values)
    op = rng.choice(("max", "min", "sum", "second", "range", "parity", "above", "neighbour", "position", "count"))
    if op == "max":
        q, v = (
            _pick(
                rng,
                (
                    "What is the largest number in {l}?",
                    "Which is the biggest of {l}?",
                    "Find the maximum of {l}.",
                    "Which number is highest in {l}?",
                ),
                l=L,
            ),
            ranked[-1],
        )
    elif op == "min":
        q, v = (
            _pick(
                rng,
                (
                    "What is the smallest number in {l}?",
                    "Which is the lowest of {l}?",
                    "Find the minimum of {l}.",
                    "Which number is least in {l}?",
                ),
                l=L,
            ),
            ranked[0],
        )
    elif op == "sum":
        few = values[: rng.randint(2, 4)]
        q, v = (
            _pick(
                rng,
                (
                    "What is the sum of {l}?",
                    "Add up {l}.",
                    "What is the total of {l}?",
                    "What do all the numbers in {l} add up to?",
                ),
                l=listing(rng, [str(x) for x in few]),
            ),
            sum(few),
        )
        ctx = [] if not ctx or "'s" not in L else ctx
        if ctx:  # the decoy layout: ask about the asked owner's list, whose first numbers are ``few``
            q, v = (
                _pick(
                    rng,
                    ("What is the sum of the first {k} of {l}?", "Add up the first {k} of {l}."),
                    k=say(rng, len(few)),
                    l=L,
                ),
                sum(few),
            )
    elif op == "second":
        big = rng.random() < 0.5
        q = _pick(
            rng,
            ("What is the second {w} number in {l}?", "Which number in {l} is the second {w}?"),
            w="largest" if big else "smallest",
            l=L,
        )
        v = ranked[-2] if big else ranked[1]
    elif op == "range":
        q, v = (
            _pick(
                rng,
                (
                    "What is the difference between the largest and the smallest number in {l}?",
                    "How far apart are the biggest and the smallest of {l}?",
                ),
                l=L,
            ),
            ranked[-1] - ranked[0],
        )
    elif op == "parity":
        even = rng.random() < 0.5
        q = _pick(
            rng, ("How many {k} numbers are in {l}?", "How many of {l} are {k}?"), k="even" if even else "odd", l=L
        )
        v = sum((x % 2 == 0) == even for x in values)
    elif op == "above":
        t = rng.randint(ranked[0], ranked[-1])
        more = rng.random() < 0.5
        q = _pick(
            rng,
            ("How many numbers in {l} are {c} {t}?", "How many of {l} are {c} {t}?"),
            c="greater than" if more else "less than",
            t=say(rng, t, 0.2),
            l=L,
        )
        v = sum(x > t for x in values) if more else sum(x < t for x in values)
    elif op == "neighbour":
        i = rng.randint(0, len(values) - 2)
        if rng.random() < 0.5:
            q, v = (
                _pick(
                    rng,
                    ("In {l}, which number comes right after {x}?", "Which number follows {x} in {l}?"),
                    l=L,
                    x=values[i],
                ),
                values[i + 1],
            )
        else:
            q, v = (
                _pick(
                    rng,
                    ("In {l}, which number comes right before {x}?", "Which number is just before {x} in {l}?"),
                    l=L,
                    x=values[i + 1],
                ),
                values[i],
            )
    elif op == "position":
        i = rng.randrange(len(values))
        q, v = (
            _pick(
                rng,
                ("At which position is {x} in {l}?", "Counting from the start, where is {x} in {l}?"),
                l=L,
                x=values[i],
            ),
            i + 1,
        )
    else:
        q, v = _pick(rng, ("How many numbers are in {l}?", "How many values does {l} contain?"), l=L), len(values)
    return _task(rng, "list_ops", op + ("-decoy" if "'s numbers" in L else ""), ctx, cap(q), v, "int")


# --- units ------------------------------------------------------------------------------------------------------

# (big unit forms, small unit forms, factor, largest count of big units, things measured, verb (singular,
# plural), comparatives after a quantity, suffix after the quantity, adjectives for "the longer of the two")
_UNITS = (
    (("kilometres", "kilometers", "km"), ("metres", "meters"), 1000, 9, ("walk", "run", "bike ride"),
     ("is", "are"), ("longer", "shorter"), "", ("longer", "shorter")),
    (("metres", "meters"), ("centimetres", "centimeters", "cm"), 100, 9, ("rope", "ribbon", "plank"),
     ("is", "are"), ("longer", "shorter"), "", ("longer", "shorter")),
    (("centimetres", "centimeters", "cm"), ("millimetres", "millimeters", "mm"), 10, 40, ("pencil", "nail", "leaf"),
     ("is", "are"), ("longer", "shorter"), "", ("longer", "shorter")),
    (("hours", "hrs"), ("minutes",), 60, 12, ("train ride", "film", "shift"), ("lasts", "last"),
     ("longer", "shorter"), "", ("longer", "shorter")),
    (("minutes",), ("seconds",), 60, 15, ("song", "speech", "break"), ("lasts", "last"),
     ("longer", "shorter"), "", ("longer", "shorter")),
    (("days",), ("hours",), 24, 10, ("trip", "holiday", "festival"), ("lasts", "last"),
     ("longer", "shorter"), "", ("longer", "shorter")),
    (("weeks",), ("days",), 7, 20, ("holiday", "course", "project"), ("lasts", "last"),
     ("longer", "shorter"), "", ("longer", "shorter")),
    (("years",), ("months",), 12, 15, ("contract", "lease", "apprenticeship"), ("runs for", "run for"),
     ("longer", "shorter"), "", ("longer", "shorter")),
    (("kilograms", "kg"), ("grams",), 1000, 9, ("parcel", "suitcase", "sack of rice"), ("weighs", "weigh"),
     ("more", "less"), "", ("heavier", "lighter")),
    (("litres", "liters"), ("millilitres", "ml"), 1000, 9, ("jug", "bottle", "bucket"), ("holds", "hold"),
     ("more", "less"), "", ("larger", "smaller")),
    (("decades",), ("years",), 10, 20, ("house", "tree", "bridge"), ("is", "are"),
     ("older", "younger"), " old", ("older", "newer")),
    (("centuries",), ("years",), 100, 9, ("castle", "church", "tower"), ("is", "are"),
     ("older", "younger"), " old", ("older", "newer")),
    (("dozen eggs",), ("eggs",), 12, 12, ("basket", "box", "tray"), ("holds", "hold"),
     ("more", "fewer"), "", ("fuller", "emptier")),
    (("hours",), ("seconds",), 3600, 3, ("nap", "meeting"), ("lasts", "last"),
     ("longer", "shorter"), "", ("longer", "shorter")),
)  # fmt: skip


def units(rng: random.Random) -> ExactTask:
    bigs, smalls, factor, top, things, verb, comparatives, suffix, adjectives = rng.choice(_UNITS)
    big, small = rng.choice(bigs), rng.choice(smalls)
    n = rng.randint(2, top)
    form = rng.choices(("down", "mixed", "up"), weights=(4, 2, 3))[0]
    if form == "mixed" and factor > 1000:
        form = "down"
    m = rng.randint(1, factor - 1) if form == "mixed" else 0
    from_unit, to_unit = (small, big) if form == "up" else (big, small)
    count = n * factor if form == "up" else n
    value = n if form == "up" else n * factor + m
    if rng.random() < DECOY_KEYED:
        thing = rng.choice(things)
        _, subjects = _owners(rng, thing)
        other = rng.choice([x for x in range(1, top + 3) if abs(x - n) >= 2])
        other_count = other * factor if form == "up" else other
        shown = tuple(
            f"{say(rng, c, 0.2)} {from_unit}" + (f" and {say(rng, r, 0.2)} {small}" if m else "") + suffix
            for c, r in ((count, m), (other_count, rng.randint(1, factor - 1)))
        )
        relative = (
            None if m else _relative(rng, subjects, verb[0], (count, other_count), from_unit, comparatives, shown[1])
        )
        ctx = _two(rng, subjects, shown, verb, relative)  # type: ignore[arg-type]
        asked = subjects[0]
        if rng.random() < 0.3:  # named by comparison instead of by owner
            asked = f"the {adjectives[0] if n > other else adjectives[1]} of the two {_plural(thing)}"
        q = _pick(
            rng,
            ("What is {o} in {u}?", "How many {u} is {o}?", "Convert {o} to {u}.", "Give {o} in {u}."),
            o=asked,
            u=to_unit,
        )
        return _task(rng, "units", form + "-decoy", ctx, cap(q), value, "int")
    if form == "down":
        q = _pick(
            rng,
            (
                "How many {s} are in {n} {b}?",
                "Convert {n} {b} to {s}.",
                "{N} {b} is how many {s}?",
                "What is {n} {b} in {s}?",
                "It is {n} {b}. How many {s} is that?",
            ),
            n=say(rng, n),
            N=cap(say(rng, n)),
            b=big,
            s=small,
        )
        return _task(rng, "units", "down", [], q, value, "int")
    if form == "mixed":
        q = _pick(
            rng,
            (
                "How many {s} are in {n} {b} and {m} {s}?",
                "Convert {n} {b} {m} {s} to {s}.",
                "Write {n} {b} and {m} {s} as {s} only.",
            ),
            n=say(rng, n),
            b=big,
            m=say(rng, m, 0.2),
            s=small,
        )
        return _task(rng, "units", "mixed", [], q, value, "int")
    q = _pick(
        rng,
        (
            "How many {b} are in {t} {s}?",
            "Convert {t} {s} into {b}.",
            "{T} {s} is how many {b}?",
            "What is {t} {s} in {b}?",
        ),
        t=say(rng, count, 0.15),
        T=cap(say(rng, count, 0.15)),
        s=small,
        b=big,
    )
    return _task(rng, "units", "up", [], q, value, "int")


# --- calendar ---------------------------------------------------------------------------------------------------


_EVENTS = ("party", "exam", "concert", "match", "dentist appointment", "flight", "interview", "recital")


def _in_days(rng: random.Random, k: int) -> str:
    """A number of days: "10 days", "ten days", "a week and 3 days", "two weeks", "a fortnight"."""
    weeks, days = divmod(k, 7)
    if weeks and rng.random() < 0.35:
        w = "a week" if weeks == 1 else f"{say(rng, weeks, 0.6)} weeks"
        if not days:
            return "a fortnight" if weeks == 2 and rng.random() < 0.4 else w
        return f"{w} and {say(rng, days)} day{'s' if days > 1 else ''}"
    return f"{say(rng, k)} day{'s' if k > 1 else ''}"


# Offsets in days that never land on the same weekday, and in months that never land on the same month: the
# weekday or month named in the task is then never the answer, so "repeat the one mentioned" never wins.
_DAY_OFFSETS = tuple(k for k in range(1, 31) if k % 7)
_MONTH_OFFSETS = tuple(k for k in range(1, 15) if k % 12)


def calendar(rng: random.Random) -> ExactTask:
    form = rng.choices(("forward", "back", "relative", "month", "until"), weights=(3, 2, 2, 2, 2))[0]
    d = rng.randrange(7)
    D = WEEKDAYS[d]
    decoy = rng.random() < DECOY_KEYED
    if form == "forward" and decoy:
        k, other = rng.sample(_DAY_OFFSETS, 2)
        event = rng.choice(_EVENTS)
        _, subjects = _owners(rng, event)
        shown = (f"in {_in_days(rng, k)}", f"in {_in_days(rng, other)}")
        relative = _relative(rng, subjects, "is", (k, other), "days", ("later", "earlier"), shown[1])
        ctx = [f"Today is {D}.", *_two(rng, subjects, shown, ("is", "are"), relative)]
        if rng.random() < 0.5:
            ctx.append(ctx.pop(0))
        asked = subjects[0]
        if rng.random() < 0.3:
            asked = f"the {'later' if k > other else 'earlier'} of the two {_plural(event)}"
        q = _pick(
            rng, ("On which day of the week is {o}?", "What weekday is {o} on?", "Which day will {o} be on?"), o=asked
        )
        return _task(rng, "calendar", "forward-decoy", ctx, q, WEEKDAYS[(d + k) % 7], "word", "day")
    if form == "forward":
        k = rng.choice(_DAY_OFFSETS)
        q = _pick(
            rng,
            (
                "Today is {D}. What day of the week will it be in {k}?",
                "If it is {D} today, which day is it {k} from now?",
                "What day of the week is {k} after a {D}?",
                "{k_cap} after {D}, what day is it?",
            ),
            D=D,
            k=_in_days(rng, k),
            k_cap=cap(_in_days(rng, k)),
        )
        return _task(rng, "calendar", "forward", [], q, WEEKDAYS[(d + k) % 7], "word", "day")
    if form == "back" and decoy:
        k, other = rng.sample(_DAY_OFFSETS[:17], 2)
        thing = rng.choice(("last visit", "last haircut", "last exam", "party", "arrival"))
        _, subjects = _owners(rng, thing)
        shown = (f"{_in_days(rng, k)} ago", f"{_in_days(rng, other)} ago")
        ctx = [f"Today is {D}.", *_two(rng, subjects, shown, ("was", "were"))]
        q = _pick(rng, ("On which day of the week was {o}?", "What weekday was {o} on?"), o=subjects[0])
        return _task(rng, "calendar", "back-decoy", ctx, q, WEEKDAYS[(d - k) % 7], "word", "day")
    if form == "back":
        k = rng.choice(_DAY_OFFSETS[:17])
        q = _pick(
            rng,
            (
                "Today is {D}. What day was it {k} ago?",
                "Which day of the week was it {k} before {D}?",
                "If today is {D}, what weekday was it {k} earlier?",
            ),
            D=D,
            k=_in_days(rng, k),
        )
        return _task(rng, "calendar", "back", [], q, WEEKDAYS[(d - k) % 7], "word", "day")
    if form == "relative":
        known, asked = (
            rng.choice((("yesterday", -1), ("tomorrow", 1), ("the day after tomorrow", 2), ("today", 0))),
            rng.choice((("tomorrow", 1), ("yesterday", -1), ("today", 0), ("the day before yesterday", -2))),
        )
        if known[0] == asked[0]:
            asked = ("today", 0) if known[0] != "today" else ("tomorrow", 1)
        verb_known = "is" if known[1] >= 0 else "was"
        verb_asked = "is" if asked[1] >= 0 else "was"
        q = f"If {known[0]} {verb_known} {D}, what day {verb_asked} {asked[0]}?"
        return _task(rng, "calendar", "relative", [], q, WEEKDAYS[(d - known[1] + asked[1]) % 7], "word", "day")
    if form == "month":
        m, k = rng.randrange(12), rng.choice(_MONTH_OFFSETS)
        if decoy:
            other = rng.choice([x for x in _MONTH_OFFSETS if x != k])
            _, subjects = _owners(rng, rng.choice(("course", "new job", "move", "holiday", "training")))
            shown = tuple(f"in {say(rng, x)} month{'s' if x > 1 else ''}" for x in (k, other))
            ctx = [f"It is {MONTHS[m]} now.", *_two(rng, subjects, shown, ("starts", "start"))]
            q = _pick(rng, ("In which month does {o} start?", "Which month will {o} begin in?"), o=subjects[0])
            return _task(rng, "calendar", "month-decoy", ctx, q, MONTHS[(m + k) % 12], "word", "month")
        after = rng.random() < 0.6
        q = _pick(
            rng,
            ("Which month comes {k} months after {M}?", "If it is {M} now, what month will it be in {k} months?")
            if after
            else ("Which month was it {k} months before {M}?", "What month is {k} months earlier than {M}?"),
            k=say(rng, k),
            M=MONTHS[m],
        )
        return _task(rng, "calendar", "month", [], q, MONTHS[(m + k if after else m - k) % 12], "word", "month")
    month = rng.choice(MONTHS)
    d1 = rng.randint(1, 20)
    d2, d3 = rng.sample(range(d1 + 1, 29), 2)
    if decoy:
        thing = rng.choice(("birthday", "exam", "party", "concert"))
        _, subjects = _owners(rng, thing)
        shown = tuple(f"on {month} {x}" if rng.random() < 0.5 else f"on {x} {month}" for x in (d2, d3))
        ctx = [*_two(rng, subjects, shown, ("is", "are")), f"Today is {month} {d1}."]
        q = _pick(
            rng,
            ("In how many days is {o}?", "How many days are left until {o}?", "How many days from today is {o}?"),
            o=subjects[0],
        )
        return _task(rng, "calendar", "until-decoy", ctx, q, d2 - d1, "int")
    ctx = [
        _pick(
            rng,
            ("{p}'s birthday is on {M} {d2}.", "The school trip is on {d2} {M}."),
            p=rng.choice(NAMES),
            M=month,
            d2=d2,
        ),
        f"Today is {month} {d1}.",
    ]
    rng.shuffle(ctx)
    q = rng.choice(
        ("In how many days is it?", "How many days from today is that?", "How many days are left until then?")
    )
    return _task(rng, "calendar", "until", ctx, q, d2 - d1, "int")


# --- strings ----------------------------------------------------------------------------------------------------


def strings(rng: random.Random) -> ExactTask:
    form = rng.choices(
        ("reverse", "upper", "capital", "lower", "nth_word", "after_word", "initials", "longest"),
        weights=(2, 2, 1, 1, 2, 1, 1, 2),
    )[0]
    word = rng.choice([w for w in WORDS if len(w) <= 7])
    if form == "reverse":
        ctx, w = _owned_word(rng, word)
        q = _pick(
            rng,
            (
                "Spell {w} backwards.",
                "Write {w} in reverse.",
                "Reverse the letters of {w}.",
                "What is {w} written backwards?",
                "Read {w} from right to left. What do you get?",
            ),
            w=w,
        )
        return _task(rng, "strings", "reverse" + ("-decoy" if ctx else ""), ctx, cap(q), word[::-1], "word", "word")
    if form in ("upper", "capital", "lower"):
        source = word.upper() if form == "lower" else word
        ctx, w = _owned_word(rng, word, source)
        q = _pick(
            rng,
            {
                "upper": (
                    "Write {w} in capital letters.",
                    "Write {w} in upper case.",
                    "Convert {w} to uppercase.",
                    "Write {w} with every letter capitalised.",
                ),
                "capital": (
                    "Write {w} with only its first letter capitalised.",
                    "Capitalise the first letter of {w} and leave the rest lower case.",
                ),
                "lower": ("Write {w} in lower case.", "Convert {w} to small letters."),
            }[form],
            w=w,
        )
        answer = {"upper": word.upper(), "capital": cap(word), "lower": word}[form]
        return _task(rng, "strings", form + ("-decoy" if ctx else ""), ctx, cap(q), answer, "word_cased", "word")
    if form in ("nth_word", "after_word"):
        words = _sentence(rng)
        s = " ".join(words) + "."
        folded = [w.casefold() for w in words]
        plain = [w for w in words if folded.count(w.casefold()) == 1]
        if form == "nth_word":
            k = rng.randint(1, len(words))
            q = _pick(
                rng,
                (
                    "What is the {o} word of the sentence {s}?",
                    "In {s} which word comes {o}?",
                    "{s} Which word is in position {k}?",
                ),
                o=say_ordinal(rng, k),
                k=say(rng, k, 0.2),
                s=quoted(rng, s),
            )
            return _task(rng, "strings", "nth_word", [], q, words[k - 1], "word", "word")
        i = rng.choice([j for j in range(len(words) - 1) if words[j] in plain])
        q = _pick(
            rng,
            ("In the sentence {s} which word comes right after {w}?", "{s} What word follows {w}?"),
            s=quoted(rng, s),
            w=quote(rng, words[i]),
        )
        return _task(rng, "strings", "after_word", [], q, words[i + 1], "word", "word")
    if form == "initials":
        words = rng.sample(WORDS, rng.randint(3, 4))
        q = _pick(
            rng,
            (
                "Take the first letter of each word in {l} and put them together. What do you get?",
                "Join the first letters of {l} into one word.",
                "What are the initials of {l}, written as one word?",
            ),
            l=listing(rng, words),
        )
        return _task(rng, "strings", "initials", [], q, "".join(w[0] for w in words), "word", "letters")
    by_len: dict[int, list[str]] = {}
    for w in WORDS:
        by_len.setdefault(len(w), []).append(w)
    lengths = rng.sample(sorted(by_len), rng.randint(3, 5))
    words = [rng.choice(by_len[n]) for n in lengths]
    long = rng.random() < 0.6
    q = _pick(
        rng,
        ("Which is the {x} word: {l}?", "Of {l}, which word is {x}?", "Find the {x} word in {l}."),
        x="longest" if long else "shortest",
        l=listing(rng, words),
    )
    return _task(rng, "strings", "longest", [], q, max(words, key=len) if long else min(words, key=len), "word", "word")


# --- comparisons ------------------------------------------------------------------------------------------------

# (base adjective, comparative, opposite comparative, superlative, opposite superlative)
_SCALES = (
    ("tall", "taller", "shorter", "tallest", "shortest"),
    ("old", "older", "younger", "oldest", "youngest"),
    ("fast", "faster", "slower", "fastest", "slowest"),
    ("heavy", "heavier", "lighter", "heaviest", "lightest"),
    ("strong", "stronger", "weaker", "strongest", "weakest"),
)


def compare(rng: random.Random) -> ExactTask:
    form = rng.choices(("chain", "scores", "closest"), weights=(4, 3, 2))[0]
    if form == "chain":
        base, more, less, most, least = rng.choice(_SCALES)
        people = rng.sample(NAMES, rng.randint(3, 4))  # people[0] is the most
        facts = []
        for x, y in pairwise(people):
            facts.append(
                _pick(
                    rng,
                    (
                        "{x} is {more} than {y}.",
                        "{y} is {less} than {x}.",
                        "{y} is not as {base} as {x}.",
                        "Compared with {x}, {y} is {less}.",
                    ),
                    x=x,
                    y=y,
                    more=more,
                    less=less,
                    base=base,
                )
            )
        rng.shuffle(facts)
        ask = rng.choice(("most", "least", "second") if len(people) == 4 else ("most", "least"))
        if ask == "second":
            q, v = f"Who is the second {most}?", people[1]
        else:
            q = _pick(
                rng,
                ("Who is the {s}?", "Which of them is the {s}?", "Name the {s} person."),
                s=most if ask == "most" else least,
            )
            v = people[0] if ask == "most" else people[-1]
        return _task(rng, "compare", "chain", facts, q, v, "word", "name")
    if form == "scores":
        people = rng.sample(NAMES, rng.randint(3, 4))
        scores = rng.sample(range(3, 99), len(people))
        facts = [
            _pick(
                rng,
                ("{p} scored {n} points.", "{p} got {n}.", "{p} finished with {n} points."),
                p=p,
                n=say(rng, n, 0.25),
            )
            for p, n in zip(people, scores, strict=True)
        ]
        rng.shuffle(facts)
        if rng.random() < 0.35:
            (hi, a), (lo, b) = sorted(rng.sample(list(zip(people, scores, strict=True)), 2), key=lambda t: -t[1])
            return _task(
                rng, "compare", "margin", facts, f"How many more points did {hi} score than {lo}?", a - b, "int"
            )
        ask = rng.choice(("most", "least", "second"))
        ranked = [p for _, p in sorted(zip(scores, people, strict=True), reverse=True)]
        q = {
            "most": ("Who scored the most?", "Who won?", "Who has the highest score?"),
            "least": ("Who scored the least?", "Who came last?", "Who has the lowest score?"),
            "second": ("Who came second?", "Who has the second highest score?"),
        }[ask]
        v = {"most": ranked[0], "least": ranked[-1], "second": ranked[1]}[ask]
        return _task(rng, "compare", "scores", facts, rng.choice(q), v, "word", "name")
    target = rng.randint(10, 90)
    while True:
        values = rng.sample(range(1, 100), rng.randint(3, 5))
        dist = sorted(abs(v - target) for v in values)
        if dist[0] != dist[1] and target not in values:
            break
    q = _pick(
        rng,
        ("Which of these numbers is closest to {t}: {l}?", "Of {l}, which number is nearest to {t}?"),
        t=say(rng, target, 0.2),
        l=listing(rng, map(str, values)),
    )
    return _task(rng, "compare", "closest", [], q, min(values, key=lambda v: abs(v - target)), "int")


# --- number notation --------------------------------------------------------------------------------------------

_ROMAN = ((50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


def roman(n: int) -> str:
    """1..89 in Roman numerals."""
    out = []
    for value, letters in _ROMAN:
        while n >= value:
            out.append(letters)
            n -= value
    return "".join(out)


def _notation(
    rng: random.Random, form: str
) -> tuple[int, Callable[[int], str], tuple[str, ...], Callable[[int], object]]:
    """For a notation task: the number, how a number is written in the text, question forms about ``{x}``, and
    the answer of a number."""
    if form == "from_binary":
        return (
            rng.randint(2, 63),
            lambda v: f"{v:b} in binary",
            ("What is {x} in decimal?", "Convert {x} from base 2 to base 10.", "{X} is which ordinary number?"),
            lambda v: v,
        )
    if form == "to_binary":
        return (
            rng.randint(2, 31),
            lambda v: say(rng, v, 0.2),
            ("Write {x} in binary.", "What is {x} in base 2?", "Convert {x} to binary."),
            lambda v: f"{v:b}",
        )
    if form == "from_roman":
        return (
            rng.randint(1, 60),
            lambda v: f"the Roman numeral {roman(v)}",
            ("What number is {x}?", "Convert {x} to an ordinary number.", "Which number does {x} stand for?"),
            lambda v: v,
        )
    if form == "to_roman":
        return (
            rng.randint(1, 39),
            lambda v: say(rng, v, 0.3),
            ("Write {x} in Roman numerals.", "What is {x} as a Roman numeral?"),
            roman,
        )
    if form == "round":
        n, to = rng.randint(101, 9999), rng.choice((10, 100))
        t = "ten" if to == 10 else "hundred"
        return (
            n + (n % to == to // 2),
            str,
            (f"Round {{x}} to the nearest {t}.", f"What is {{x}} rounded to the nearest {t}?"),
            lambda v: (v + to // 2) // to * to,
        )
    if form == "digit":
        place = rng.choice(("ones", "tens", "hundreds", "thousands"))
        size = {"ones": 1, "tens": 10, "hundreds": 100, "thousands": 1000}[place]
        return (
            rng.randint(1000, 99999),
            lambda v: f"{v:,}" if rng.random() < 0.5 else str(v),
            (f"What is the {place} digit of {{x}}?", f"Which digit is in the {place} place of {{x}}?"),
            lambda v: v // size % 10,
        )
    if form == "digit_sum":
        return (
            rng.randint(100, 9999),
            str,
            ("What is the sum of the digits of {x}?", "Add up the digits of {x}."),
            lambda v: sum(map(int, str(v))),
        )
    return (
        rng.randint(21, 999),
        lambda v: quote(rng, spell(v)),
        ("Write {x} in digits.", "How is {x} written as a number?"),
        lambda v: v,
    )


def numbers(rng: random.Random) -> ExactTask:
    form = rng.choice(("from_binary", "to_binary", "from_roman", "to_roman", "round", "digit", "digit_sum", "words"))
    n, write, questions, answer = _notation(rng, form)
    answer_type, noun = ("word", "numeral") if form == "to_roman" else ("int", "number")
    if rng.random() < DECOY_KEYED:
        other, *_ = _notation(rng, form)
        while other == n:
            other += 1
        _, subjects = _owners(rng, rng.choice(("number", "code", "lucky number", "locker number")))
        ctx = _two(rng, subjects, (write(n), write(other)), ("is", "are"))
        q = _pick(rng, questions, x=subjects[0], X=cap(subjects[0]))
        return _task(rng, "numbers", form + "-decoy", ctx, q, answer(n), answer_type, noun)
    shown = write(n)
    if form == "from_binary":
        shown = f"the binary number {n:b}"
    q = _pick(rng, questions, x=shown, X=cap(shown))
    return _task(rng, "numbers", form, [], q, answer(n), answer_type, noun)


# --- sequences --------------------------------------------------------------------------------------------------


def _sequence(rng: random.Random) -> tuple[str, list[int]]:
    kind = rng.choice(("step", "step", "down", "double", "squares", "growing", "alternate", "fibonacci"))
    if kind == "step":
        a, d = rng.randint(1, 30), rng.randint(2, 12)
        return kind, [a + d * i for i in range(9)]
    if kind == "down":
        d = rng.randint(2, 9)
        a = d * 9 + rng.randint(1, 30)
        return kind, [a - d * i for i in range(9)]
    if kind == "double":
        a, r = rng.randint(1, 5), rng.choice((2, 2, 3))
        return kind, [a * r**i for i in range(7)]
    if kind == "squares":
        a = rng.randint(1, 6)
        return kind, [(a + i) ** 2 for i in range(8)]
    if kind == "growing":
        a, d = rng.randint(1, 20), rng.randint(1, 3)
        out = [a]
        for i in range(8):
            out.append(out[-1] + d + i)
        return kind, out
    if kind == "alternate":
        a, up, down = rng.randint(10, 30), rng.randint(3, 9), rng.randint(1, 2)
        out = [a]
        for i in range(8):
            out.append(out[-1] + (up if i % 2 == 0 else -down))
        return kind, out
    a, b = rng.randint(1, 4), rng.randint(1, 5)
    out = [a, b]
    while len(out) < 9:
        out.append(out[-1] + out[-2])
    return kind, out


def sequences(rng: random.Random) -> ExactTask:
    kind, terms = _sequence(rng)
    shown = rng.randint(4, 6)
    form = rng.choices(("next", "missing", "later"), weights=(4, 3, 2))[0]
    words = 0.15
    if rng.random() < DECOY:
        _, decoy = _sequence(rng)
        while decoy[:shown] == terms[:shown]:
            _, decoy = _sequence(rng)
        ctx, who = _two_lists(
            rng, tuple(listing(rng, [str(t) for t in x[:shown]], final_and=0.0) for x in (terms, decoy)), "numbers"
        )
        ask = rng.choice(("next", "later"))
        k = shown + 1 if ask == "next" else min(len(terms), shown + rng.randint(2, 3))
        q = _pick(
            rng,
            ("{W} follow a pattern. What comes next in {w}?", "Continue {w}: which number comes next?")
            if ask == "next"
            else ("If {w} keep following their pattern, what is the {o} one?",),
            w=who,
            W=cap(who),
            o=say_ordinal(rng, k),
        )
        return _task(rng, "sequences", kind + "-decoy", ctx, q, terms[k - 1], "int")
    if form == "next":
        seq = listing(rng, [say(rng, t, words) for t in terms[:shown]], final_and=0.0)
        q = _pick(
            rng,
            (
                "What comes next: {s}, ...?",
                "What is the next number in the pattern {s}?",
                "Continue the sequence {s}. What is the next number?",
                "{s}, ? Which number goes in place of the question mark?",
            ),
            s=seq,
        )
        return _task(rng, "sequences", kind + "-next", [], q, terms[shown], "int")
    if form == "missing":
        shown = max(shown, 5)  # four known terms, so the rule is not ambiguous
        gap = rng.randint(1, shown - 2)
        blank = rng.choice(("?", "__", "___", "..."))
        items = [blank if i == gap else say(rng, t, words) for i, t in enumerate(terms[:shown])]
        q = _pick(
            rng,
            ("Which number is missing: {s}?", "Fill in the blank: {s}.", "{s}. What number belongs in the gap?"),
            s=listing(rng, items, final_and=0.0),
        )
        return _task(rng, "sequences", kind + "-missing", [], q, terms[gap], "int")
    k = shown + rng.randint(2, 3) if len(terms) > shown + 2 else shown + 1
    k = min(k, len(terms))
    q = _pick(
        rng,
        (
            "The pattern {s} continues in the same way. What is the {o} number?",
            "If the sequence {s} goes on, what is its {o} term?",
        ),
        s=listing(rng, [str(t) for t in terms[:shown]], final_and=0.0),
        o=say_ordinal(rng, k),
    )
    return _task(rng, "sequences", kind + "-later", [], q, terms[k - 1], "int")


# --- reading a short generated text -----------------------------------------------------------------------------

_ATTRIBUTES = {
    # name: (values, forward facts, contrastive clause, question about a person, question about a value, noun)
    "pet": (PETS, ("{p} has {a}.", "{p}'s pet is {a}.", "The {x} belongs to {p}.", "{p} takes care of {a}."),
            "who has {a}", ("What pet does {p} have?", "Which animal belongs to {p}?"), ("Who owns the {x}?",),
            "animal"),
    "instrument": (INSTRUMENTS,
                   ("{p} plays the {x}.", "The {x} is {p}'s instrument.", "{p} practises the {x} every day."),
                   "who plays the {x}", ("Which instrument does {p} play?", "What does {p} play?"),
                   ("Who plays the {x}?",), "instrument"),
    "sport": (SPORTS, ("{p} plays {x}.", "{p}'s favourite sport is {x}.", "On weekends {p} plays {x}."),
              "who plays {x}", ("Which sport does {p} play?", "What is {p}'s favourite sport?"),
              ("Who plays {x}?",), "sport"),
    "job": (JOBS, ("{p} works as {a}.", "{p} is {a}.", "The {x} is {p}."), "who works as {a}",
            ("What is {p}'s job?", "What does {p} work as?"), ("Who is the {x}?", "Who works as {a}?"), "job"),
    "home": (CITIES, ("{p} lives in {x}.", "{p}'s home is in {x}.", "{x} is where {p} lives."), "who lives in {x}",
             ("Where does {p} live?", "In which city does {p} live?"), ("Who lives in {x}?",), "city"),
}  # fmt: skip
_TRIP_NEXT = (
    "Next, {p} went to {c}.",
    "From there {p} took a train to {c}.",
    "Then came {c}.",
    "After that, {p} flew to {c}.",
    "The next stop was {c}.",
)
_TRIP_PAIR = (
    "{p} went from {a} to {b}.",
    "After {a}, {p} visited {b}.",
    "Before {b}, {p} was in {a}.",
    "{p} arrived in {b} straight from {a}.",
)


def extraction(rng: random.Random) -> ExactTask:
    form = rng.choices(("trip", "attributes", "ages"), weights=(4, 4, 2))[0]
    if form == "trip":
        p, q = rng.sample(NAMES, 2)
        route = rng.sample(CITIES, rng.randint(3, 5))
        if rng.random() < 0.5:
            ctx = [
                _pick(
                    rng,
                    ("{p} started the trip in {c}.", "{p}'s journey began in {c}.", "First, {p} visited {c}."),
                    p=p,
                    c=route[0],
                )
            ]
            ctx += [_pick(rng, _TRIP_NEXT, p=p, c=c) for c in route[1:-1]]
            ctx.append(
                _pick(
                    rng,
                    ("Finally, {p} reached {c}.", "The trip ended in {c}.", "Last of all came {c}."),
                    p=p,
                    c=route[-1],
                )
            )
            variant = "trip-linear"
        else:
            ctx = [_pick(rng, _TRIP_PAIR, p=p, a=a, b=b) for a, b in pairwise(route)]
            rng.shuffle(ctx)
            variant = "trip-pairs"
        if rng.random() < 0.5:
            other = rng.choice([c for c in CITIES if c not in route])
            ctx.insert(
                rng.randint(0, len(ctx)),
                _pick(
                    rng,
                    ("{q} stayed at home in {c}.", "{q} has never been to {c}.", "{q} would rather have gone to {c}."),
                    q=q,
                    c=other,
                ),
            )
        ask = rng.choice(("nth", "after", "before", "end", "count"))
        if ask == "count":
            return _task(
                rng, "extraction", variant, ctx, f"How many different cities did {p} visit?", len(route), "int"
            )
        if ask == "nth":
            k = rng.randint(1, len(route))
            question, v = (
                _pick(
                    rng, ("Which city did {p} visit {o}?", "What was the {o} city on {p}'s trip?"), p=p, o=ordinal(k)
                ),
                route[k - 1],
            )
        elif ask == "after":
            i = rng.randrange(len(route) - 1)
            question, v = f"Where did {p} go right after {route[i]}?", route[i + 1]
        elif ask == "before":
            i = rng.randint(1, len(route) - 1)
            question, v = f"Which city did {p} visit just before {route[i]}?", route[i - 1]
        else:
            start = rng.random() < 0.5
            question = f"Where did {p}'s trip {'start' if start else 'end'}?"
            v = route[0] if start else route[-1]
        return _task(rng, "extraction", variant, ctx, question, v, "word", "city")
    if form == "attributes":
        kind = rng.choice(sorted(_ATTRIBUTES))
        values, facts, clause, ask_value, ask_person, noun = _ATTRIBUTES[kind]
        people = rng.sample(NAMES, rng.randint(3, 4))
        owned = rng.sample(values, len(people))
        ctx = []
        i = 0
        while i < len(people):
            p, x = people[i], owned[i]
            if i + 1 < len(people) and rng.random() < 0.3:
                q, y = people[i + 1], owned[i + 1]
                fact_p = _pick(rng, tuple(f for f in facts if f.startswith("{p}")), p=p, x=x, a=a_or_an(x))
                ctx.append(f"Unlike {q}, {clause.format(x=y, a=a_or_an(y))}, {fact_p}")
                i += 2
                continue
            ctx.append(_pick(rng, facts, p=p, x=x, a=a_or_an(x)))
            i += 1
        rng.shuffle(ctx)
        j = rng.randrange(len(people))
        if rng.random() < 0.55:
            return _task(rng, "extraction", kind, ctx, _pick(rng, ask_value, p=people[j]), owned[j], "word", noun)
        return _task(
            rng,
            "extraction",
            kind + "-owner",
            ctx,
            _pick(rng, ask_person, x=owned[j], a=a_or_an(owned[j])),
            people[j],
            "word",
            "name",
        )
    a, b, c = rng.sample(NAMES, 3)
    age = rng.randint(4, 40)
    k = rng.randint(2, 15)
    older = rng.random() < 0.6 or k >= age
    ctx = [
        _pick(rng, ("{a} is {n} years old.", "{a} turned {n} this year.", "{a}'s age is {n}."), a=a, n=say(rng, age)),
        f"{b} is {say(rng, k)} years {'older' if older else 'younger'} than {a}.",
        f"{c} is {say(rng, rng.randint(4, 70))}.",
    ]
    rng.shuffle(ctx)
    value = age + k if older else age - k
    return _task(rng, "extraction", "ages", ctx, f"How old is {b}?", value, "int")


# --- money ------------------------------------------------------------------------------------------------------

_GOODS = (
    ("pens", "pen"),
    ("notebooks", "notebook"),
    ("apples", "apple"),
    ("tickets", "ticket"),
    ("sandwiches", "sandwich"),
    ("candles", "candle"),
    ("mugs", "mug"),
    ("stamps", "stamp"),
    ("plants", "plant"),
)
_CURRENCY = ("dollars", "euros", "pounds", "francs")


def money(rng: random.Random) -> ExactTask:
    p = rng.choice(NAMES)
    goods, good = rng.choice(_GOODS)
    cur = rng.choice(_CURRENCY)
    form = rng.choice(("total", "change", "unit", "spent", "savings", "left"))
    price, qty = rng.randint(2, 15), rng.randint(2, 9)
    if form in ("total", "change") and rng.random() < DECOY_KEYED:
        _, other_good = rng.choice([g for g in _GOODS if g[1] != good])
        other = rng.choice([x for x in range(2, 16) if abs(x - price) >= 2])
        subjects = (a_or_an(good), a_or_an(other_good))
        shown = (f"{say(rng, price)} {cur}", f"{say(rng, other)} {cur}")
        ctx = _two(
            rng,
            subjects,
            shown,
            ("costs", "cost"),
            _relative(rng, subjects, "costs", (price, other), cur, ("more", "less"), shown[1]),
        )
        total = price * qty
        if form == "total":
            q = _pick(
                rng,
                (
                    "How much does {p} pay for {n} {gs}?",
                    "{p} buys {n} {gs}. How much does that cost?",
                    "What do {n} {gs} cost?",
                ),
                p=p,
                n=say(rng, qty),
                gs=goods,
            )
            return _task(rng, "money", "total-decoy", ctx, q, total, "int")
        note = next(n for n in (10, 20, 50, 100, 200) if n > total)
        ctx.append(f"{p} buys {say(rng, qty)} {goods} and pays with a {note}-{cur[:-1]} note.")
        return _task(
            rng,
            "money",
            "change-decoy",
            ctx,
            _pick(rng, ("How much change does {p} get?", "How much money comes back?"), p=p),
            note - total,
            "int",
        )
    if form == "total":
        ctx = [
            _pick(
                rng,
                ("One {g} costs {c} {cur}.", "{G} cost {c} {cur} each.", "A {g} is sold for {c} {cur}."),
                g=good,
                G=cap(goods),
                c=say(rng, price),
                cur=cur,
            )
        ]
        q = _pick(
            rng,
            (
                "How much does {p} pay for {n} {gs}?",
                "{p} buys {n} {gs}. How much does that cost?",
                "What do {n} {gs} cost?",
            ),
            p=p,
            n=say(rng, qty),
            gs=goods,
        )
        return _task(rng, "money", form, ctx, q, price * qty, "int")
    if form == "change":
        total = price * qty
        note = next(n for n in (10, 20, 50, 100, 200) if n > total)
        ctx = [
            f"{p} buys {say(rng, qty)} {goods} at {say(rng, price)} {cur} each.",
            f"{p} pays with a {note}-{cur[:-1]} note.",
        ]
        return _task(
            rng,
            "money",
            form,
            ctx,
            _pick(rng, ("How much change does {p} get?", "How much money comes back?"), p=p),
            note - total,
            "int",
        )
    if form == "unit":
        ctx = [f"{cap(say(rng, qty))} {goods} cost {say(rng, price * qty)} {cur} in total."]
        return _task(
            rng,
            "money",
            form,
            ctx,
            _pick(rng, ("How much does one {g} cost?", "What is the price of a single {g}?"), g=good),
            price,
            "int",
        )
    if form == "spent":
        a, b = rng.randint(3, 60), rng.randint(3, 60)
        (_, x), (_, y) = rng.sample(_GOODS, 2)
        ctx = [f"{p} spends {say(rng, a)} {cur} on {a_or_an(x)} and {say(rng, b)} {cur} on {a_or_an(y)}."]
        return _task(
            rng,
            "money",
            form,
            ctx,
            rng.choice(("How much is spent altogether?", "What is the total cost?")),
            a + b,
            "int",
        )
    if form == "savings":
        s, w = rng.randint(2, 20), rng.randint(2, 12)
        if rng.random() < DECOY_KEYED:
            q_name, decoy_name = rng.sample(NAMES, 2)
            other = rng.choice([x for x in range(2, 21) if x != s])
            ctx = _two(
                rng,
                (q_name, decoy_name),
                (f"{say(rng, s)} {cur} a week", f"{say(rng, other)} {cur} a week"),
                ("saves", "save"),
            )
            return _task(
                rng,
                "money",
                "savings-decoy",
                ctx,
                f"How much has {q_name} saved after {say(rng, w)} weeks?",
                s * w,
                "int",
            )
        if rng.random() < 0.5:
            ctx = [f"{p} saves {say(rng, s)} {cur} every week."]
            return _task(rng, "money", form, ctx, f"How much has {p} saved after {say(rng, w)} weeks?", s * w, "int")
        ctx = [f"{p} saves {say(rng, s)} {cur} each week and wants {a_or_an(good)} that costs {say(rng, s * w)} {cur}."]
        return _task(rng, "money", form, ctx, "How many weeks does it take to save enough?", w, "int")
    a = rng.randint(10, 200)
    b = rng.randint(1, a - 1)
    if rng.random() < DECOY_KEYED:
        q_name = rng.choice([x for x in NAMES if x != p])
        c = rng.randint(10, 200)
        d = rng.randint(1, c - 1)
        facts = [
            f"{p} had {say(rng, c)} {cur} and spent {say(rng, d)}",
            f"{q_name} had {say(rng, a)} {cur} and spent {say(rng, b)}",
        ]
        rng.shuffle(facts)
        ctx = [f"{facts[0]}, while {facts[1]}."] if rng.random() < 0.5 else [f"{facts[0]}.", f"{facts[1]}."]
        return _task(rng, "money", "left-decoy", ctx, f"How much money does {q_name} have left?", a - b, "int")
    ctx = [f"{p} had {say(rng, a)} {cur}.", f"{p} spent {say(rng, b)} {cur} on {goods}."]
    return _task(
        rng, "money", form, ctx, rng.choice((f"How much money does {p} have left?", "How much is left?")), a - b, "int"
    )


# --- time -------------------------------------------------------------------------------------------------------


def _clock(style: int, minutes: int) -> str:
    h, m = divmod(minutes, 60)
    if style == 0:
        return f"{h:02d}:{m:02d}"
    if style == 1:
        return f"{h}:{m:02d}"
    return f"{(h - 1) % 12 + 1}:{m:02d} {'am' if h < 12 else 'pm'}"


def time_of_day(rng: random.Random) -> ExactTask:
    p = rng.choice(NAMES)
    form = rng.choice(("minutes", "hours", "sleep", "length", "ends"))
    style = rng.randrange(3)
    if form in ("minutes", "hours") and rng.random() < DECOY_KEYED:
        unit = 60 if form == "hours" else 5
        starts = [rng.randint(7 * 60 // unit, 13 * 60 // unit) * unit for _ in range(2)]
        lengths = rng.sample(range(2, 9) if form == "hours" else range(2, 37), 2)
        lengths = [x * (60 if form == "hours" else 5) for x in lengths]
        thing = rng.choice(("lesson", "meeting", "shift", "match", "rehearsal"))
        _, subjects = _owners(rng, thing)
        shown = tuple(
            f"from {_clock(style, a)} to {_clock(style, a + b)}" for a, b in zip(starts, lengths, strict=True)
        )
        ctx = _two(rng, subjects, shown, ("runs", "run"))  # type: ignore[arg-type]
        asked = subjects[0]
        if rng.random() < 0.3:
            asked = f"the {'longer' if lengths[0] > lengths[1] else 'shorter'} of the two {_plural(thing)}"
        q = _pick(
            rng,
            ("How many {u} does {o} last?", "How long is {o}, in {u}?"),
            o=asked,
            u="hours" if form == "hours" else "minutes",
        )
        return _task(rng, "time", form + "-decoy", ctx, q, lengths[0] // (60 if form == "hours" else 1), "int")
    if form == "minutes":
        start = rng.randint(7 * 12, 20 * 12) * 5
        length = rng.randint(2, 36) * 5
        event = rng.choice(("A lesson", "A meeting", "The film", "A football match", "The concert", "A bus ride"))
        ctx = [f"{event} starts at {_clock(style, start)} and ends at {_clock(style, start + length)}."]
        return _task(
            rng,
            "time",
            form,
            ctx,
            rng.choice(("How many minutes does it last?", "How long is it, in minutes?")),
            length,
            "int",
        )
    if form == "hours":
        h1 = rng.randint(6, 12)
        h2 = rng.randint(h1 + 1, 21)
        ctx = [f"{p} starts work at {_clock(style, h1 * 60)} and finishes at {_clock(style, h2 * 60)}."]
        return _task(
            rng,
            "time",
            form,
            ctx,
            rng.choice(("How many hours is that?", f"How many hours does {p} work?")),
            h2 - h1,
            "int",
        )
    if form in ("sleep", "length") and rng.random() < DECOY_KEYED:
        if form == "sleep":
            (h1, h2), (h3, h4) = [(rng.randint(8, 11), rng.randint(5, 9)) for _ in range(2)]
            while 12 - h1 + h2 == 12 - h3 + h4:
                h4 = h4 % 9 + 1
            _, subjects = _owners(rng, rng.choice(("night", "sleep")))
            ctx = _two(rng, subjects, (f"from {h1} pm to {h2} am", f"from {h3} pm to {h4} am"), ("lasts", "last"))
            q = _pick(rng, ("How many hours does {o} last?", "How long is {o}, in hours?"), o=subjects[0])
            return _task(rng, "time", "sleep-decoy", ctx, q, 12 - h1 + h2, "int")
        (h, m), (h2, m2) = [(rng.randint(1, 3), rng.randint(1, 59)) for _ in range(2)]
        thing = rng.choice(("film", "walk", "bus journey", "concert"))
        _, subjects = _owners(rng, thing)
        shown = tuple(f"{x} hour{'s' if x > 1 else ''} and {say(rng, y, 0.2)} minutes" for x, y in ((h, m), (h2, m2)))
        ctx = _two(rng, subjects, shown, ("lasts", "last"))  # type: ignore[arg-type]
        q = _pick(rng, ("How many minutes does {o} last?", "How long is {o} in minutes?"), o=subjects[0])
        return _task(rng, "time", "length-decoy", ctx, q, h * 60 + m, "int")
    if form == "sleep":
        h1, h2 = rng.randint(8, 11), rng.randint(5, 9)
        ctx = [f"{p} goes to bed at {h1} pm and wakes up at {h2} am."]
        return _task(rng, "time", form, ctx, f"How many hours does {p} sleep?", 12 - h1 + h2, "int")
    if form == "length":
        h, m = rng.randint(1, 3), rng.randint(1, 59)
        q = _pick(
            rng,
            (
                "A film lasts {h} hours and {m} minutes. How many minutes long is it?",
                "A walk takes {h} hours {m} minutes. How long is that in minutes?",
            ),
            h=say(rng, h) if h > 1 else "1",
            m=say(rng, m, 0.2),
        )
        q = q.replace("1 hours", "1 hour")
        return _task(rng, "time", form, [], q, h * 60 + m, "int")
    h, d = rng.randint(1, 6), rng.randint(1, 5)
    ctx = [f"A trip starts at {spell(h)} o'clock in the morning and takes {say(rng, d)} hours."]
    return _task(rng, "time", form, ctx, "At what hour does it end (just the hour)?", h + d, "int")


FAMILIES: dict[str, Callable[[random.Random], ExactTask]] = {
    "arithmetic": arithmetic,
    "word_problem": word_problem,
    "letters": letters,
    "counting": counting,
    "sorting": sorting,
    "list_ops": list_ops,
    "units": units,
    "calendar": calendar,
    "strings": strings,
    "compare": compare,
    "numbers": numbers,
    "sequences": sequences,
    "extraction": extraction,
    "money": money,
    "time": time_of_day,
}


def exact_task(rng: random.Random) -> ExactTask:
    """One exact task of a family drawn uniformly."""
    return FAMILIES[rng.choice(sorted(FAMILIES))](rng)
