"""Challenge generation (determinism, kinds, sampling parameters) and the tolerant answer parser.

The task families themselves (correct answers, variety, resistance to template scripts) are tested in
tests/test_validator_tasks.py.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.answers import ANSWER_TYPES, check_answer, parse_int, parse_int_list, parse_word, parse_word_list
from validators.challenges import EXACT_TASKS, ChallengeSettings, build_challenges, miner_seed

# --- generation -----------------------------------------------------------------------------------------------


def test_same_seed_same_challenges_and_different_seed_different() -> None:
    a = build_challenges(random.Random(123), 20, 5)
    b = build_challenges(random.Random(123), 20, 5)
    c = build_challenges(random.Random(124), 20, 5)
    assert a == b
    assert [x.messages for x in a] != [x.messages for x in c]
    assert {x.seed for x in a}.isdisjoint({x.seed for x in c})


def test_counts_kinds_ids_and_sampling_params() -> None:
    cfg = ChallengeSettings(exact_max_new_tokens=20, open_max_new_tokens=50, open_temperature=0.9)
    challenges = build_challenges(random.Random(5), 7, 3, cfg)
    assert [c.kind for c in challenges] == ["exact"] * 7 + ["open"] * 3
    assert len({c.id for c in challenges}) == 10
    for c in challenges:
        assert [m["role"] for m in c.messages] == ["system", "user"]
        assert c.chat() == [dict(m) for m in c.messages] and c.chat() is not c.chat()
        if c.kind == "exact":
            assert (c.max_new_tokens, c.temperature) == (20, 0.0)
            assert c.expected and c.answer_type in ANSWER_TYPES
        else:
            assert (c.max_new_tokens, c.temperature) == (50, 0.9)
            assert c.expected is None and c.answer_type is None
    assert build_challenges(random.Random(5), 0, 0) == []
    with pytest.raises(ValueError, match=">= 0"):
        build_challenges(random.Random(5), -1, 0)


def test_every_expected_answer_is_accepted_by_its_parser() -> None:
    # Correctness of each family's expected answer is checked in tests/test_validator_tasks.py.
    challenges = build_challenges(random.Random(2024), 600, 0)
    assert {c.task for c in challenges} == set(EXACT_TASKS)  # every family exercised
    for c in challenges:
        assert c.expected is not None and c.answer_type is not None
        assert check_answer(c.answer_type, c.expected, c.expected), c
        assert check_answer(c.answer_type, f"The answer is {c.expected}.", c.expected), c
        assert not check_answer(c.answer_type, "", c.expected)


def test_wrong_answers_to_generated_challenges_are_rejected() -> None:
    for c in build_challenges(random.Random(77), 300, 0):
        assert c.expected is not None and c.answer_type is not None
        if c.answer_type == "int":
            value = int(c.expected)
            wrong = [str(value + 1), str(value - 1), str(value * 10 + 7), f"{value}.5"]
        elif c.answer_type in ("word", "word_cased"):
            wrong = [c.expected + "x", "x" + c.expected]
            if c.answer_type == "word_cased":
                wrong.append(c.expected.swapcase())
        elif c.answer_type == "int_list":
            items = c.expected.split(", ")
            wrong = [", ".join(items[::-1]), ", ".join(items[:-1]), ", ".join([*items, "7"])]
        else:
            items = c.expected.split(", ")
            wrong = [", ".join(items[1:] + items[:1]), ", ".join(items[:-1]), ", ".join([*items, items[0]])]
        for answer in wrong:
            assert not check_answer(c.answer_type, answer, c.expected), (c.messages[-1]["content"], answer)


def test_open_prompts_vary() -> None:
    challenges = build_challenges(random.Random(9), 0, 60)
    assert len({c.messages[-1]["content"] for c in challenges}) == 60
    assert len({c.task for c in challenges}) >= 6


def test_miner_seed_is_stable_and_differs_per_miner() -> None:
    assert miner_seed(42, "5Fhot") == miner_seed(42, "5Fhot")
    seeds = {miner_seed(42, uid) for uid in range(256)}
    assert len(seeds) == 256
    assert miner_seed(42, 1) != miner_seed(43, 1)
    assert all(0 <= s < 2**63 for s in seeds)
    # Pinned: the seed must not change between processes or releases, or replayed steps would differ.
    assert miner_seed(12345, "5F") == 0x22261662C585282E


# --- parser ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "42", "42.", " 42\n", "The answer is 42.", "**42**", "*42*", "`42`", "forty-two", "Forty two", "42.0",
        "Answer: 42", "37 + 5 = 42", "\\boxed{42}", "The answer is: **42**", "I think it's 42!", "42 apples",
        "The result is $42$.", "Tom has 42 apples now.", "## Answer\n42", "The answer is 42 because 40 + 2 = 42.",
        "The final answer is 42. I added 40 and 2.", "So 37 plus 5 equals 42", "The answer is forty-two.",
    ],
)  # fmt: skip
def test_parse_int_accepts_phrasings(text: str) -> None:
    assert parse_int(text) == 42
    assert check_answer("int", text, "42")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", "4"), ("The answer is 42.", "4"), ("4.5", "4"), ("14", "4"), ("-4", "4"), ("4", "-4"),
        ("", "42"), ("no idea", "42"), ("42.5", "42"), ("The answer is 41.", "42"), ("41, 42, 43", "42"),
        ("The answer is 41 or 42.", "42"), ("x42", "42"), ("4,200", "4"), ("3.42", "42"),
    ],
)  # fmt: skip
def test_parse_int_rejects_wrong_answers(text: str, expected: str) -> None:
    assert not check_answer("int", text, expected)


def test_parse_int_details() -> None:
    assert parse_int("It is 1,200 in total") == 1200
    assert parse_int("one hundred and five") == 105
    assert parse_int("The answer is -3.") == -3
    assert parse_int("5 - 3 = 2") == 2
    assert parse_int("nothing here") is None
    assert parse_int("It is 7.25") is None
    assert parse_int("It is 100000000000000000001") == 10**20 + 1  # exact, no float rounding
    assert parse_int("9" * 500 + ".0") == int("9" * 500)


@pytest.mark.parametrize(
    "text",
    [
        "elppa", "Elppa.", "The reversed word is elppa.", "'elppa'", '"elppa"', "e-l-p-p-a", "e l p p a",
        "Answer: **elppa**", "The answer is elppa. It is apple backwards.", "“elppa”", "Reversed: elppa!",
    ],
)  # fmt: skip
def test_parse_word_accepts_phrasings(text: str) -> None:
    assert check_answer("word", text, "elppa")


@pytest.mark.parametrize("text", ["apple", "elpa", "elppas", "elppa apple", "the reverse of apple", "", "12345"])
def test_parse_word_rejects_wrong_answers(text: str) -> None:
    assert not check_answer("word", text, "elppa")


def test_cased_words_need_the_right_case() -> None:
    assert check_answer("word_cased", "RIVER", "RIVER")
    assert check_answer("word_cased", 'The word in capital letters is "RIVER".', "RIVER")
    assert not check_answer("word_cased", "river", "RIVER")
    assert not check_answer("word_cased", "River", "RIVER")
    assert parse_word("R I V E R") == "RIVER"


@pytest.mark.parametrize(
    "text",
    [
        "2, 5, 9", "2 5 9", "[2, 5, 9]", "2, 5 and 9", "1. 2\n2. 5\n3. 9", "- 2\n- 5\n- 9", "Sorted: 2, 5, 9.",
        "Sort these numbers: 5, 2, 9\n\n2, 5, 9", "The sorted list is **2, 5, 9**", "2,5,9",
    ],
)  # fmt: skip
def test_parse_int_list_accepts_phrasings(text: str) -> None:
    assert parse_int_list(text) == [2, 5, 9]
    assert check_answer("int_list", text, "2, 5, 9")


@pytest.mark.parametrize("text", ["9, 5, 2", "2, 5", "2, 5, 9, 10", "5, 2, 9", "2, 5, 9 or 9, 5, 2", "", "none"])
def test_parse_int_list_rejects_wrong_answers(text: str) -> None:
    assert not check_answer("int_list", text, "2, 5, 9")


@pytest.mark.parametrize(
    "text",
    [
        "apple, fig, pear", "Apple, Fig, Pear", "apple fig pear", "apple, fig and pear", "1. apple\n2. fig\n3. pear",
        "Here is the list: apple, fig, pear.", "The words in order are: **apple**, **fig**, **pear**",
    ],
)  # fmt: skip
def test_parse_word_list_accepts_phrasings(text: str) -> None:
    assert check_answer("word_list", text, "apple, fig, pear")


@pytest.mark.parametrize(
    "text", ["pear, fig, apple", "apple, pear, fig", "apple, fig", "apple, fig, pear, apple", "", "fruit"]
)
def test_parse_word_list_rejects_wrong_answers(text: str) -> None:
    assert not check_answer("word_list", text, "apple, fig, pear")


def test_parse_word_list_keeps_only_vocabulary() -> None:
    assert parse_word_list("Sure! apple then fig, finally pear.", ["pear", "fig", "apple"]) == ["apple", "fig", "pear"]
    assert parse_word_list("nothing", ["pear"]) is None


def test_unknown_answer_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown answer type"):
        check_answer("float", "1", "1")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), answer_type=st.sampled_from(ANSWER_TYPES))
def test_parsers_never_raise_and_check_is_boolean(text: str, answer_type: str) -> None:
    expected = {"int": "42", "word": "elppa", "word_cased": "RIVER", "int_list": "2, 5, 9", "word_list": "a, b"}
    result = check_answer(answer_type, text, expected[answer_type])  # type: ignore[arg-type]
    assert isinstance(result, bool)


@settings(max_examples=200, deadline=None)
@given(value=st.integers(min_value=-(10**6), max_value=10**6), prefix=st.sampled_from(["", "The answer is ", "= "]))
def test_any_integer_round_trips(value: int, prefix: str) -> None:
    assert parse_int(f"{prefix}{value}.") == value
    assert not check_answer("int", f"{prefix}{value}", str(value + 1))
