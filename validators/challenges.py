"""Challenges a validator sends to miners, generated from a seeded random source.

Two kinds:

- ``exact``: a small arithmetic, counting, sorting or string task with one correct answer, generated from fresh
  random numbers and words so it cannot be looked up. Asked greedily (temperature 0) so the answer is the
  model's best and the returned tokens can be spot-checked by teacher forcing.
- ``open``: a short open question built from templates x topics, scored by semantic similarity to the
  validator's own reference answer. Asked with sampling (temperature > 0) and a seed that differs per miner
  (:func:`miner_seed`), so two independent miners almost never return the same text; identical texts then
  reveal relaying (see ``validators.copying``).

Tasks are deliberately easy: a 135M-parameter instruct model gets some of them right, which is what lets the
scores rank miners. Generation is pure: the same ``random.Random`` state gives the same challenges.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from validators.answers import AnswerType, format_list

ChallengeKind = Literal["exact", "open"]

EXACT_SYSTEM_PROMPT = "You are a careful assistant. Reply with the final answer only, without explanation."
OPEN_SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly in a few sentences."

WORDS = (
    "apple", "banana", "cherry", "grape", "lemon", "mango", "melon", "peach", "pear", "plum",
    "cat", "dog", "horse", "mouse", "tiger", "zebra", "rabbit", "camel", "eagle", "shark",
    "red", "blue", "green", "yellow", "purple", "orange", "black", "white", "brown", "silver",
    "table", "chair", "window", "garden", "river", "planet", "pencil", "candle", "bottle", "basket",
    "cloud", "storm", "forest", "island", "bridge", "castle", "rocket", "violin", "winter", "summer",
)  # fmt: skip
NAMES = ("Anna", "Ben", "Carla", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jack", "Lena", "Omar", "Sara")
ITEMS = ("apples", "books", "pencils", "marbles", "stickers", "cookies", "coins", "shells", "cards", "balloons")


@dataclass(frozen=True)
class ChallengeSettings:
    """Sampling parameters of the two kinds of challenge."""

    exact_max_new_tokens: int = 32
    exact_temperature: float = 0.0
    open_max_new_tokens: int = 96
    open_temperature: float = 0.7


@dataclass(frozen=True)
class Challenge:
    """One request to send to every miner, with what is needed to score the answers.

    ``messages`` are chat turns ``{"role", "content"}``; ``expected`` and ``answer_type`` are set for ``exact``
    challenges only (see ``validators.answers.check_answer``); ``task`` names the generator, for logs.
    ``seed`` is the base sampling seed: send ``miner_seed(challenge.seed, hotkey)`` to each miner.
    """

    id: str
    kind: ChallengeKind
    task: str
    messages: tuple[Mapping[str, str], ...]
    expected: str | None
    answer_type: AnswerType | None
    max_new_tokens: int
    temperature: float
    seed: int

    def chat(self) -> list[dict[str, str]]:
        """The chat turns as fresh dicts (safe to hand to a client that mutates them)."""
        return [dict(m) for m in self.messages]


def miner_seed(base_seed: int, miner: str | int) -> int:
    """The sampling seed for one miner: a stable 63-bit hash of (base seed, miner), different per miner.

    Stable across processes and Python versions (no ``hash()``), so a replayed step sends the same seeds.
    """
    digest = hashlib.blake2b(f"{base_seed}:{miner}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


# --- exact tasks: each returns (prompt, expected, answer type) -----------------------------------------------

Task = tuple[str, str, AnswerType]


def _add(rng: random.Random) -> Task:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    return f"What is {a} + {b}? Answer with the number only.", str(a + b), "int"


def _subtract(rng: random.Random) -> Task:
    a = rng.randint(10, 99)
    b = rng.randint(1, a)
    return f"What is {a} - {b}? Answer with the number only.", str(a - b), "int"


def _multiply(rng: random.Random) -> Task:
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    return f"What is {a} times {b}? Answer with the number only.", str(a * b), "int"


def _word_problem(rng: random.Random) -> Task:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    form = rng.randrange(3)
    if form == 0:
        a, b = rng.randint(2, 20), rng.randint(2, 20)
        text = f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?"
        answer = a + b
    elif form == 1:
        a = rng.randint(5, 30)
        b = rng.randint(1, a - 1)
        text = f"{name} had {a} {item} and gave {b} of them away. How many {item} does {name} have left?"
        answer = a - b
    else:
        a, b = rng.randint(2, 6), rng.randint(2, 10)
        text = f"{name} has {a} bags with {b} {item} in each bag. How many {item} does {name} have in total?"
        answer = a * b
    return f"{text} Answer with the number only.", str(answer), "int"


def _count_items(rng: random.Random) -> Task:
    words = rng.sample(WORDS, rng.randint(3, 7))
    return f"How many words are in this list: {', '.join(words)}? Answer with the number only.", str(len(words)), "int"


def _word_length(rng: random.Random) -> Task:
    word = rng.choice(WORDS)
    return f'How many letters are in the word "{word}"? Answer with the number only.', str(len(word)), "int"


def _count_letter(rng: random.Random) -> Task:
    word = rng.choice(WORDS)
    letter = rng.choice(sorted(set(word)))
    prompt = f'How many times does the letter "{letter}" appear in the word "{word}"? Answer with the number only.'
    return prompt, str(word.count(letter)), "int"


def _extreme(rng: random.Random) -> Task:
    numbers = rng.sample(range(1, 100), rng.randint(3, 6))
    largest = rng.random() < 0.5
    which = "largest" if largest else "smallest"
    prompt = f"What is the {which} number in this list: {', '.join(map(str, numbers))}? Answer with the number only."
    return prompt, str(max(numbers) if largest else min(numbers)), "int"


def _sort_numbers(rng: random.Random) -> Task:
    numbers = rng.sample(range(1, 100), rng.randint(3, 5))
    ascending = rng.random() < 0.7
    order = "from smallest to largest" if ascending else "from largest to smallest"
    prompt = f"Sort these numbers {order}: {', '.join(map(str, numbers))}. Answer with the sorted list only."
    return prompt, format_list(sorted(numbers, reverse=not ascending)), "int_list"


def _sort_words(rng: random.Random) -> Task:
    words = rng.sample(WORDS, rng.randint(3, 4))
    prompt = f"Sort these words in alphabetical order: {', '.join(words)}. Answer with the sorted list only."
    return prompt, format_list(sorted(words)), "word_list"


def _reverse_list(rng: random.Random) -> Task:
    words = rng.sample(WORDS, rng.randint(3, 4))
    prompt = f"Write these words in reverse order: {', '.join(words)}. Answer with the list only."
    return prompt, format_list(words[::-1]), "word_list"


def _reverse_word(rng: random.Random) -> Task:
    word = rng.choice([w for w in WORDS if len(w) <= 6])
    return f'Spell the word "{word}" backwards. Answer with the reversed word only.', word[::-1], "word"


def _uppercase(rng: random.Random) -> Task:
    word = rng.choice(WORDS)
    return f'Write the word "{word}" in capital letters. Answer with that word only.', word.upper(), "word_cased"


def _first_letter(rng: random.Random) -> Task:
    word = rng.choice(WORDS)
    return f'What is the first letter of the word "{word}"? Answer with the letter only.', word[0], "word"


EXACT_TASKS: dict[str, Callable[[random.Random], Task]] = {
    "add": _add,
    "subtract": _subtract,
    "multiply": _multiply,
    "word_problem": _word_problem,
    "count_items": _count_items,
    "word_length": _word_length,
    "count_letter": _count_letter,
    "extreme": _extreme,
    "sort_numbers": _sort_numbers,
    "sort_words": _sort_words,
    "reverse_list": _reverse_list,
    "reverse_word": _reverse_word,
    "uppercase": _uppercase,
    "first_letter": _first_letter,
}

# --- open prompts: templates x topics -------------------------------------------------------------------------

THINGS = (
    "bicycles", "libraries", "rainforests", "the moon", "bees", "volcanoes", "public parks", "trains", "the ocean",
    "coffee", "music lessons", "recycling", "solar panels", "museums", "rivers", "deserts", "clocks", "maps",
    "bridges", "honey", "snow", "tea", "newspapers", "board games", "lighthouses", "the internet", "farms",
)  # fmt: skip
ACTIVITIES = (
    "learning a new language", "saving money", "sleeping well", "studying for an exam", "cooking rice",
    "running a first 5 km", "keeping a houseplant alive", "writing a short story", "starting to swim",
    "making new friends in a new city", "staying focused while working", "packing for a trip",
    "learning to play the guitar", "taking care of a dog", "planning a birthday party", "drinking more water",
    "reading more books", "speaking in public", "keeping a tidy desk", "riding a bike in the rain",
)  # fmt: skip
FACTS = (
    "the sky is blue", "we need sleep", "leaves change colour in autumn", "ice floats on water",
    "the sea is salty", "people exercise", "bread rises", "we have seasons", "plants need sunlight",
    "metal feels cold", "birds migrate", "cats purr", "we wash our hands", "the moon changes shape",
    "fruit goes bad", "rainbows appear after rain", "bicycles stay upright", "people keep diaries",
)  # fmt: skip
OPEN_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Explain in two sentences why {}.", FACTS),
    ("Why do you think {}? Answer briefly.", FACTS),
    ("Give two tips for {}.", ACTIVITIES),
    ("What is the most common mistake people make when {}?", ACTIVITIES),
    ("Describe {} to a ten-year-old in two sentences.", THINGS),
    ("What are two good things about {}?", THINGS),
    ("Write one short paragraph about {}.", THINGS),
    ("Name one advantage and one disadvantage of {}.", THINGS),
    ("How would you explain to a friend why {}?", FACTS),
    ("What should a beginner know before {}?", ACTIVITIES),
    ("How does daily life depend on {}?", THINGS),
)
OPEN_STYLES = ("", " Keep it short.", " Use simple words.", " Be specific.")


def open_prompt(rng: random.Random) -> tuple[str, str]:
    """A random open question (template x topic x style) and the name of its template (``open-<index>``)."""
    index = rng.randrange(len(OPEN_TEMPLATES))
    template, topics = OPEN_TEMPLATES[index]
    return template.format(rng.choice(topics)) + rng.choice(OPEN_STYLES), f"open-{index}"


def build_challenges(
    rng: random.Random, n_exact: int, n_open: int, settings: ChallengeSettings | None = None
) -> list[Challenge]:
    """``n_exact`` exact challenges (tasks drawn uniformly) followed by ``n_open`` open ones.

    Guarantees: deterministic in the state of ``rng`` (same seed, same list, ids included); every exact
    challenge's ``expected`` is the correct answer of its prompt; ids are unique within the list.
    """
    if n_exact < 0 or n_open < 0:
        raise ValueError(f"challenge counts must be >= 0, got n_exact={n_exact}, n_open={n_open}")
    settings = settings or ChallengeSettings()
    names = sorted(EXACT_TASKS)
    challenges: list[Challenge] = []
    for i in range(n_exact):
        task = rng.choice(names)
        prompt, expected, answer_type = EXACT_TASKS[task](rng)
        challenges.append(
            Challenge(
                id=f"{i:03d}-{task}-{rng.getrandbits(32):08x}",
                kind="exact",
                task=task,
                messages=({"role": "system", "content": EXACT_SYSTEM_PROMPT}, {"role": "user", "content": prompt}),
                expected=expected,
                answer_type=answer_type,
                max_new_tokens=settings.exact_max_new_tokens,
                temperature=settings.exact_temperature,
                seed=rng.getrandbits(63),
            )
        )
    for i in range(n_exact, n_exact + n_open):
        prompt, task = open_prompt(rng)
        challenges.append(
            Challenge(
                id=f"{i:03d}-{task}-{rng.getrandbits(32):08x}",
                kind="open",
                task=task,
                messages=({"role": "system", "content": OPEN_SYSTEM_PROMPT}, {"role": "user", "content": prompt}),
                expected=None,
                answer_type=None,
                max_new_tokens=settings.open_max_new_tokens,
                temperature=settings.open_temperature,
                seed=rng.getrandbits(63),
            )
        )
    return challenges
