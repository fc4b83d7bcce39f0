"""The task families behind the validator's exact and open challenges (validators/tasks).

What is checked: the same random state gives the same tasks; prompts are practically never repeated (no lookup
table of precomputed answers helps) and every family and its decoy variants occur; system prompts say nothing
about the task; every expected answer fits its prompt, and where a plain variant can be worked out from the text
independently it agrees; each checker accepts several phrasings of a right answer and rejects wrong ones; and a
program without a model, the script that answered every task of the former 14 fixed templates, now almost never
does. Measured figures for stronger attackers: bench/bench_tasks.py and bench/RESULTS.md.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict

import pytest

from validators.answers import _SPELLED_RE, _spelled_value, check_answer, names_only
from validators.challenges import build_challenges
from validators.tasks import FAMILIES, SYSTEM_PROMPTS, ExactTask, exact_task, open_prompt
from validators.tasks.exact import roman
from validators.tasks.text import CITIES, MONTHS, NAMES, WEEKDAYS, spell


def draw(seed: int, n: int) -> list[ExactTask]:
    rng = random.Random(seed)
    return [exact_task(rng) for _ in range(n)]


SAMPLE = draw(13, 3000)


# --- determinism and variety ----------------------------------------------------------------------------------


def test_same_random_state_gives_the_same_tasks() -> None:
    assert draw(5, 300) == draw(5, 300)
    a, b = random.Random("x:1"), random.Random("x:1")
    assert [open_prompt(a) for _ in range(100)] == [open_prompt(b) for _ in range(100)]
    assert build_challenges(random.Random(8), 30, 10) == build_challenges(random.Random(8), 30, 10)
    assert [t.prompt for t in draw(5, 50)] != [t.prompt for t in draw(6, 50)]


def test_there_are_many_families_each_with_several_variants_and_decoys() -> None:
    variants: dict[str, set[str]] = defaultdict(set)
    for t in SAMPLE:
        variants[t.family].add(t.variant)
    assert len(FAMILIES) >= 12
    assert set(variants) == set(FAMILIES)
    assert all(len(v) >= 3 for v in variants.values()), {f: sorted(v) for f, v in variants.items()}
    with_decoys = {f for f, v in variants.items() if any(x.endswith("decoy") for x in v)}
    assert len(with_decoys) >= 10, sorted(with_decoys)
    shares = Counter(t.family for t in SAMPLE)
    assert min(shares.values()) > len(SAMPLE) / len(FAMILIES) / 2  # families are drawn uniformly


def test_prompts_are_practically_never_repeated() -> None:
    assert len({t.prompt for t in SAMPLE}) >= len(SAMPLE) - 3
    rng = random.Random(21)
    opens = [open_prompt(rng)[0] for _ in range(3000)]
    assert len(set(opens)) >= 2997
    # A lookup table built from one validator's draws answers (almost) nothing of another's.
    table = {t.prompt for t in draw(99, 2000)}
    assert sum(t.prompt in table for t in draw(100, 2000)) <= 2
    other = random.Random(22)
    assert sum(open_prompt(other)[0] in set(opens) for _ in range(2000)) <= 2


def test_open_prompts_carry_concrete_details_and_stay_short() -> None:
    rng = random.Random(4)
    prompts = [open_prompt(rng)[0] for _ in range(1000)]
    detail = re.compile(r"\d|" + "|".join([*NAMES, *CITIES]))
    assert sum(bool(detail.search(p)) for p in prompts) >= 700
    assert max(len(p) for p in prompts) < 450
    assert all(p[0].isupper() and p.rstrip()[-1] in ".?" for p in prompts)


def test_system_prompts_are_neutral_and_shared_by_both_kinds() -> None:
    challenges = build_challenges(random.Random(3), 400, 100)
    systems = {c.kind: Counter() for c in challenges}
    by_family: dict[str, set[str]] = defaultdict(set)
    for c in challenges:
        assert c.messages[0]["role"] == "system" and c.messages[0]["content"] in SYSTEM_PROMPTS
        systems[c.kind][c.messages[0]["content"]] += 1
        by_family[c.task].add(c.messages[0]["content"])
    assert len(systems["exact"]) >= 10 and len(systems["open"]) >= 8
    assert all(len(s) >= 5 for f, s in by_family.items() if not f.startswith("open")), by_family
    giveaways = re.compile(r"\b(number|digit|list|letter|word|sort|day|count|only|exact|final answer)", re.I)
    assert not any(giveaways.search(p) for p in SYSTEM_PROMPTS)


# --- expected answers -----------------------------------------------------------------------------------------


def test_expected_answers_fit_their_prompts() -> None:
    for t in SAMPLE:
        p, e = t.prompt, t.expected
        assert len(p) < 600 and len(e.split()) <= 12, t
        if t.answer_type == "int":
            assert int(e) >= 0, t
        if t.family in ("extraction", "compare") and t.answer_type == "word":
            assert re.search(rf"\b{re.escape(e)}\b", p), t  # a name, city, pet... given in the text
        if t.family == "calendar" and t.answer_type == "word":
            assert e in (*WEEKDAYS, *MONTHS) and not re.search(rf"\b{e}\b", p), t  # never the one the task names
        if t.answer_type.endswith("list"):
            items = e.split(", ")
            assert len(set(items)) == len(items) >= 3 and all(i in p for i in items), t
            if "decoy" not in t.variant:  # the input is never already in the answer's order
                positions = [re.search(rf"\b{re.escape(i)}\b", p).start() for i in items]
                assert positions != sorted(positions), t
        if t.family == "strings" and t.variant.startswith("reverse"):
            assert e[::-1].lower() in p.lower(), t
        if t.variant.startswith(("upper", "capital")):
            assert e.lower() in p, t
        if t.variant.startswith("lower"):
            assert e.upper() in p, t
        if t.family == "letters" and t.answer_type == "word":
            assert len(e) == 1 and e.isalpha(), t


def _plain(prompt: str) -> str:
    """The prompt with spelled-out numbers written in digits (the answer parser's reading of them)."""
    return _SPELLED_RE.sub(lambda m: str(_spelled_value(m.group())), prompt)


def test_plain_variants_agree_with_an_independent_reading() -> None:
    """Variants whose answer follows from the text by a short rule are worked out here without the generator."""
    checked: Counter[str] = Counter()
    for t in draw(31, 12000):
        p = _plain(t.prompt)
        if t.variant == "three-symbolic" and (
            expression := re.search(r"\(\d+ [-+×*x÷/] \d+\) [-+×*x÷/] \d+", t.prompt)
        ):
            value = eval(expression[0].replace("×", "*").replace("x", "*").replace("÷", "/").replace("/", "//"))
            assert str(value) == t.expected, t
        elif t.family == "numbers" and t.variant == "from_binary":
            assert str(int(re.search(r"binary number ([01]+)", p)[1], 2)) == t.expected, t
        elif t.family == "numbers" and t.variant == "from_roman":
            assert roman(int(t.expected)) == re.search(r"numeral ([IVXL]+)\b", p)[1], t
        elif t.family == "calendar" and t.variant == "forward" and "week" not in p and "fortnight" not in p:
            day = next(d for d in WEEKDAYS if d in p)
            k = int(next(x for x in re.search(r"(\d+) days? (?:from now|after)|in (\d+) days?\?", p).groups() if x))
            assert WEEKDAYS[(WEEKDAYS.index(day) + k) % 7] == t.expected, t
        elif (t.family == "sorting" and t.variant == "numbers") or (
            t.family == "list_ops" and t.variant in ("max", "min")
        ):
            runs = re.findall(r"\d+(?:(?:, |; | / |,  | and )\d+){2,}", p)
            assert runs, t
            values = [int(x) for x in re.findall(r"\d+", max(runs, key=len))]
            if t.family == "list_ops":
                assert str(max(values) if t.variant == "max" else min(values)) == t.expected, t
            else:
                down = re.search(r"largest to|descending|decreasing|highest to|largest first|the biggest", p)
                assert ", ".join(map(str, sorted(values, reverse=bool(down)))) == t.expected, t
        else:
            continue
        checked[t.variant] += 1
    assert min(checked.values()) >= 8 and len(checked) >= 7, checked


# --- checkers -------------------------------------------------------------------------------------------------


def right_phrasings(t: ExactTask) -> list[str]:
    e = t.expected
    if t.answer_type == "int":
        out = [e, f"The answer is {e}.", f"**{e}**", f"Answer: {e}", f"I think it is {e}."]
        if not t.variant.startswith("to_binary"):
            out += [f"{int(e):,}", f"It is {spell(int(e))}." if int(e) < 1000 else e]
        return out
    if t.answer_type == "word":
        out = [e, e.upper(), f"The answer is {e}.", f'"{e}"', f"Answer: **{e}**", f"It is {e}."]
        if e in (*NAMES, *CITIES, *WEEKDAYS, *MONTHS):
            out.append(f"{e}, as the text says.")
        return out
    if t.answer_type == "word_cased":
        return [e, f"The answer is {e}.", f'"{e}"', f"**{e}**"]
    items = e.split(", ")
    return [
        e,
        " ".join(items),
        f"[{e}]",
        ", ".join(items[:-1]) + " and " + items[-1],
        "\n".join(f"{i}. {x}" for i, x in enumerate(items, 1)),
        f"Here is the list: {e}.",
    ]


def wrong_phrasings(t: ExactTask) -> list[str]:
    e = t.expected
    if t.answer_type == "int":
        v = int(e)
        return [str(v + 1), f"The answer is {v + 2}.", f"{e}.5", f"{v + 1}, {v + 2}", ""]
    if t.answer_type in ("word", "word_cased"):
        out = [e + "x", "x" + e, "I do not know."]
        for members in (NAMES, CITIES, WEEKDAYS, MONTHS):
            if e in members:
                other = next(m for m in members if m != e)
                out += [other, f"{e} or {other}", f"It is {other}."]
        if t.answer_type == "word_cased":
            out.append(e.swapcase())
        return out
    items = e.split(", ")
    return [", ".join(items[::-1]), ", ".join(items[:-1]), ", ".join([*items, items[0]]), items[0]]


def test_checkers_accept_right_phrasings_and_reject_wrong_ones() -> None:
    seen: Counter[str] = Counter()
    for t in SAMPLE[:1500]:
        seen[t.answer_type] += 1
        for text in right_phrasings(t):
            assert check_answer(t.answer_type, text, t.expected), (t, text)
        for text in wrong_phrasings(t):
            assert not check_answer(t.answer_type, text, t.expected), (t, text)
    assert set(seen) == {"int", "word", "word_cased", "int_list", "word_list"}, seen


@pytest.mark.parametrize(
    ("text", "expected", "ok"),
    [
        ("Anna is the tallest.", "Anna", True), ("Anna visited Rome second.", "Rome", True),
        ("Her party is on a Thursday this time.", "Thursday", True), ("anna", "Anna", True),
        ("Anna or Ben", "Anna", False), ("Rome, then Oslo.", "Rome", False), ("Ben is the tallest.", "Anna", False),
        ("Anna is taller than Ben.", "Anna", False), ("Paris", "Rome", False), ("The tallest one.", "Anna", False),
    ],
)  # fmt: skip
def test_a_word_answer_may_name_its_one_member_of_a_closed_class(text: str, expected: str, ok: bool) -> None:
    assert check_answer("word", text, expected) is ok


def test_the_class_rule_applies_only_to_closed_classes() -> None:
    assert not names_only("elppa is it", "elppa")  # not a class member: the last-word rule alone decides
    assert not check_answer("word", "elppa is it", "elppa")
    assert names_only("I would say Monday.", "Monday")
    assert not names_only("Monday or maybe Friday", "Monday")


# --- programs without a model ---------------------------------------------------------------------------------


def old_template_attack(prompt: str) -> str:
    """The script that answered 10,000 of 10,000 tasks of the former 14 fixed templates (compact)."""
    n = [int(x) for x in re.findall(r"\d+", prompt)]
    q = re.findall(r'"(\w+)"', prompt)
    listed = (re.findall(r": ([^?]+?)[?.] Answer", prompt) or [""])[0].split(", ")
    if m := re.search(r"What is (\d+) ([+-]|times) (\d+)\?", prompt):
        a, op, b = int(m[1]), m[2], int(m[3])
        return str(a + b if op == "+" else a - b if op == "-" else a * b)
    rules = [
        ("gets", lambda: n[0] + n[1]), ("gave", lambda: n[0] - n[1]), ("bags with", lambda: n[0] * n[1]),
        ("How many words are in this list", lambda: len(listed)), ("How many letters are in", lambda: len(q[0])),
        ("How many times does the letter", lambda: q[1].count(q[0])),
        ("largest number", lambda: max(map(int, listed))), ("smallest number", lambda: min(map(int, listed))),
        ("Sort these numbers", lambda: ", ".join(map(str, sorted(map(int, listed), reverse="largest to" in prompt)))),
        ("Sort these words", lambda: ", ".join(sorted(listed))), ("reverse order", lambda: ", ".join(listed[::-1])),
        ("backwards", lambda: q[0][::-1]), ("capital letters", lambda: q[0].upper()), ("first letter", lambda: q[0][0]),
    ]  # fmt: skip
    for key, answer in rules:
        if key in prompt:
            try:
                return str(answer())
            except (IndexError, ValueError):
                return "0"
    return "0"


def solved(attack, tasks: list[ExactTask]) -> float:
    return sum(check_answer(t.answer_type, attack(t.prompt), t.expected) for t in tasks) / len(tasks)


def test_the_old_template_script_still_works_on_old_style_prompts() -> None:
    """The attacker is not broken: it answers the former templates' prompts."""
    old = {
        "What is 23 + 48? Answer with the number only.": "71",
        'How many times does the letter "p" appear in the word "apple"? Answer with the number only.': "2",
        "Sort these numbers from smallest to largest: 9, 2, 5. Answer with the sorted list only.": "2, 5, 9",
        'Write the word "river" in capital letters. Answer with that word only.': "RIVER",
        "Anna has 3 bags with 4 coins in each bag. How many coins does Anna have in total? "
        "Answer with the number only.": "12",
    }  # fmt: skip
    for prompt, expected in old.items():
        assert old_template_attack(prompt) == expected


def test_programs_without_a_model_rarely_answer_correctly() -> None:
    """Thresholds, from bench/bench_tasks.py (N = 10,000): the old script solves 0.6%, echoing the prompt 2.7%.

    The bounds (5% and 8%) leave room for sampling noise on 2,000 tasks (a standard error of about 0.2 and 0.35
    points) and small changes to the families, but fail if a template becomes recognisable again or answers start
    to be echoed from the prompt. The old script solved 100% of the former tasks.
    """
    tasks = draw(2026, 2000)
    assert solved(old_template_attack, tasks) < 0.05
    assert solved(lambda p: p, tasks) < 0.08
    # Guessing a constant or the most common answer of a family earns next to nothing either.
    by_family: dict[str, Counter[str]] = defaultdict(Counter)
    for t in SAMPLE:
        by_family[t.family][t.expected] += 1
    best_guess = {f: c.most_common(1)[0][0] for f, c in by_family.items()}
    assert sum(best_guess[t.family] == t.expected for t in tasks) / len(tasks) < 0.1
