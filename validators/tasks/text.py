"""Vocabularies and the shared ways of writing a task: numbers, lists, quotes, distractors, instructions, layout.

Everything a task family says goes through these helpers, so every family gets the same surface variety: a
number is written in digits or in words, a list with one of several separators, the answer-format instruction
is one of many and stands before or after the question, and unrelated sentences (with their own names and
numbers) are mixed in. All functions take the ``random.Random`` to draw from and are pure otherwise.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

NAMES = (
    "Anna", "Ben", "Carla", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jack", "Lena", "Omar", "Sara",
    "Tom", "Maya", "Leo", "Nina", "Paul", "Rosa", "Sam", "Tara", "Victor", "Wendy", "Yusuf", "Zoe", "Amir",
    "Bianca", "Chen", "Dora", "Elias", "Fatima", "Gustav", "Hana", "Ivan", "Julia", "Kofi", "Laura", "Mateo",
    "Noor", "Oscar", "Priya", "Quinn", "Rafael", "Sofia", "Theo", "Uma", "Vera", "Wang", "Ximena", "Yara",
    "Aiko", "Bruno", "Clara", "Diego", "Elena", "Farid", "Greta", "Hassan", "Ingrid", "Jonas", "Kira", "Lucas",
    "Mila", "Nils", "Olga", "Pedro", "Rita", "Simon", "Tess", "Ugo", "Vikram", "Willa", "Xavier", "Yosef",
)  # fmt: skip
CITIES = (
    "Paris", "Rome", "Oslo", "Lima", "Cairo", "Madrid", "Vienna", "Lisbon", "Dublin", "Prague", "Warsaw",
    "Athens", "Berlin", "Tokyo", "Seoul", "Nairobi", "Toronto", "Chicago", "Boston", "Denver", "Sydney",
    "Perth", "Quito", "Bogota", "Havana", "Helsinki", "Stockholm", "Munich", "Zurich", "Geneva", "Milan",
    "Naples", "Venice", "Porto", "Seville", "Krakow", "Budapest", "Istanbul", "Delhi", "Mumbai", "Bangkok",
    "Hanoi", "Manila", "Jakarta", "Dakar", "Accra", "Tunis", "Casablanca", "Santiago", "Montreal",
)  # fmt: skip
# Plain lower-case words (no 'y', so "vowel" is never ambiguous), 3 to 10 letters.
WORDS = (
    "apple", "banana", "cherry", "grape", "lemon", "mango", "melon", "peach", "pear", "plum", "orange", "olive",
    "tomato", "potato", "carrot", "onion", "garlic", "pepper", "bread", "butter", "cheese", "cookie", "pasta",
    "cat", "dog", "horse", "mouse", "tiger", "zebra", "rabbit", "camel", "eagle", "shark", "whale", "snake",
    "lion", "goat", "sheep", "parrot", "turtle", "spider", "beetle", "dolphin", "penguin", "giraffe", "otter",
    "red", "blue", "green", "purple", "black", "white", "brown", "silver", "golden", "violet", "scarlet",
    "table", "chair", "window", "garden", "river", "planet", "pencil", "candle", "bottle", "basket", "ladder",
    "cloud", "storm", "forest", "island", "bridge", "castle", "rocket", "violin", "winter", "summer", "autumn",
    "mountain", "desert", "ocean", "meadow", "valley", "harbour", "tunnel", "station", "market", "kitchen",
    "blanket", "pillow", "mirror", "hammer", "bucket", "ribbon", "button", "pocket", "jacket", "helmet",
    "lantern", "compass", "anchor", "feather", "pebble", "marble", "crystal", "diamond", "copper", "iron",
    "thunder", "shadow", "sunset", "rainbow", "comet", "meteor", "orbit", "engine", "wheel", "wagon",
    "tractor", "bicycle", "train", "canoe", "sailboat", "airport", "ticket", "letter", "stamp", "parcel",
    "doctor", "farmer", "teacher", "baker", "painter", "pilot", "sailor", "singer", "dancer", "writer",
    "guitar", "piano", "trumpet", "drum", "flute", "cello", "banjo", "harp", "bell", "whistle", "puzzle",
    "dragon", "wizard", "giant", "knight", "queen", "prince", "pirate", "robot", "monster", "unicorn",
    "coffee", "tea", "sugar", "salt", "juice", "water", "milk", "soup", "rice", "noodle", "pizza",
    "school", "library", "museum", "theatre", "hospital", "stadium", "temple", "palace", "cottage",
    "elephant", "kangaroo", "octopus", "squirrel", "hedgehog", "flamingo", "tortoise", "crocodile", "seahorse",
    "spoon", "fork", "knife", "plate", "bowl", "cup", "kettle", "teapot", "oven", "fridge", "sink", "towel",
)  # fmt: skip
FRUITS = ("apple", "banana", "cherry", "grape", "lemon", "mango", "melon", "peach", "pear", "plum", "orange", "kiwi")
ANIMALS = (
    "cat",
    "dog",
    "horse",
    "mouse",
    "tiger",
    "zebra",
    "rabbit",
    "camel",
    "eagle",
    "shark",
    "whale",
    "lion",
    "goat",
    "sheep",
    "parrot",
    "turtle",
    "spider",
    "dolphin",
    "penguin",
    "giraffe",
    "otter",
    "fox",
    "wolf",
)
COLOURS = ("red", "blue", "green", "purple", "black", "white", "brown", "silver", "pink", "grey", "orange")
INSTRUMENTS = ("guitar", "piano", "trumpet", "drum", "flute", "cello", "violin", "banjo", "harp", "clarinet")
SPORTS = ("tennis", "football", "chess", "hockey", "rugby", "golf", "cricket", "basketball", "volleyball", "badminton")
JOBS = ("doctor", "farmer", "teacher", "baker", "painter", "pilot", "sailor", "singer", "dancer", "writer", "nurse")
PETS = ("cat", "dog", "parrot", "rabbit", "turtle", "hamster", "goldfish", "snake", "lizard", "pony", "ferret")
# (plural, singular) of countable things a person can have.
ITEMS = (
    ("apples", "apple"), ("books", "book"), ("pencils", "pencil"), ("marbles", "marble"), ("stickers", "sticker"),
    ("cookies", "cookie"), ("coins", "coin"), ("shells", "shell"), ("cards", "card"), ("balloons", "balloon"),
    ("stamps", "stamp"), ("eggs", "egg"), ("buttons", "button"), ("candles", "candle"), ("crayons", "crayon"),
    ("oranges", "orange"), ("plums", "plum"), ("toy cars", "toy car"), ("postcards", "postcard"),
    ("pebbles", "pebble"), ("beads", "bead"), ("cupcakes", "cupcake"), ("tickets", "ticket"), ("feathers", "feather"),
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Closed classes of one-word answers. A response that names exactly one member of the expected answer's class
# ("Anna is the tallest.") commits to that member; see ``validators.answers.check_answer``.
ANSWER_CLASSES = ("WEEKDAYS", "MONTHS", "NAMES", "CITIES", "PETS", "INSTRUMENTS", "SPORTS", "JOBS")
RELATIVES = ("sister", "brother", "cousin", "aunt", "uncle", "neighbour", "friend", "teacher", "grandmother", "coach")

_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINALS = (
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
)


def spell(n: int) -> str:
    """``n`` (0 <= n < 1,000,000) in English words: 42 -> "forty-two", 105 -> "one hundred and five"."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"cannot spell {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    if n < 1000:
        head = f"{_ONES[n // 100]} hundred"
        return head if n % 100 == 0 else f"{head} and {spell(n % 100)}"
    head = f"{spell(n // 1000)} thousand"
    if n % 1000 == 0:
        return head
    return f"{head} and {spell(n % 1000)}" if n % 1000 < 100 else f"{head} {spell(n % 1000)}"


def say(rng: random.Random, n: int, words: float = 0.35) -> str:
    """``n`` written in digits, or in words with probability ``words`` (only below 1000)."""
    if 0 <= n < 1000 and rng.random() < words:
        return spell(n)
    return f"{n:,}" if n >= 10_000 else str(n)


def ordinal(n: int) -> str:
    """1 -> "first", ..., 20 -> "twentieth"."""
    return _ORDINALS[n]


def say_ordinal(rng: random.Random, n: int) -> str:
    """ "third" or "3rd"."""
    if rng.random() < 0.7:
        return ordinal(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def listing(rng: random.Random, items: Sequence[str], *, final_and: float = 0.3) -> str:
    """Items joined with one of several separators ("a, b, c", "a, b and c", "a; b; c", "a / b / c")."""
    items = list(items)
    if len(items) > 1 and rng.random() < final_and:
        return ", ".join(items[:-1]) + " and " + items[-1]
    sep = rng.choices([", ", "; ", " / ", ",  "], weights=[6, 2, 1, 1])[0]
    return sep.join(items)


def quote(rng: random.Random, text: str) -> str:
    """``text`` in double, single or typographic quotes, or bare."""
    return rng.choice(('"{}"', "'{}'", "“{}”", "{}", '"{}"')).format(text)


def quoted(rng: random.Random, text: str) -> str:
    """``text`` always in quotes (for whole sentences, whose end would be lost without them)."""
    return rng.choice(('"{}"', "'{}'", "“{}”")).format(text)


def a_or_an(word: str) -> str:
    """ "an apple", "a pear", "an 8", "an 18", "a 20"."""
    an = word[0] in "aeiouAEIOU" or word.startswith("8") or word in ("11", "18")
    return ("an " if an else "a ") + word


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- sentences that say nothing about the task ----------------------------------------------------------------


def distractor(rng: random.Random, weekdays: bool = True) -> str:
    """A sentence unrelated to the task, with its own names, numbers and task-like words.

    ``weekdays=False`` leaves out the one that names a weekday (it would contradict a calendar task's "today").
    """
    name, other = rng.sample(NAMES, 2)
    n, m = rng.randint(2, 60), rng.randint(2, 12)
    forms = (
        f"My {rng.choice(RELATIVES)} is {say(rng, n + 18)} years old.",
        f"This is question {say(rng, m)} of {say(rng, m + rng.randint(1, 20))}.",
        f"I am doing this with {name} on a {rng.choice(WEEKDAYS)} afternoon." if weekdays else "Be careful.",
        f"{name} asked me this {say(rng, m)} days ago.",
        f"We have {say(rng, n)} minutes left before the bus to {rng.choice(CITIES)}.",
        f"{name} says the last puzzle took {say(rng, m)} tries.",
        f"It is raining in {rng.choice(CITIES)} today.",
        f"{name} and {other} are sitting in room {rng.randint(3, 420)}.",
        f"My {rng.choice(RELATIVES)} collects {rng.choice(ITEMS)[0]} and has about {say(rng, n * 3)} of them.",
        f"The {rng.choice(('vase', 'clock', 'teapot', 'radio', 'lamp', 'mirror', 'box'))} on the shelf is "
        f"{say(rng, m)} years old.",
        "Take your time.",
        f"{name} sorted the laundry before doing this.",
        f"Last week {name} got {say(rng, m)} of these right.",
        f"This one is from page {say(rng, n + 5)} of a puzzle book.",
        f"{name}'s favourite number is {say(rng, n)}.",
        "Read carefully.",
        f"Note that {name} is not part of this question.",
        f"{name} lives at number {rng.randint(2, 99)} on {cap(rng.choice(WORDS))} Street.",
    )
    return rng.choice(forms)


LEAD_INS = (
    "", "", "", "", "Quick question.", "Here is a small puzzle.", "Help me with this one.", "Try this.",
    "A question for you.", "Something I need to check.", "Homework time.", "Please solve this.", "Let's see.",
    "I have a question.", "Here's one for you.",
)  # fmt: skip

_INSTRUCTIONS = {
    "int": (
        "Answer with the number only.", "Reply with just the number.", "Give only the final number.",
        "Respond with a single number.", "Write only the number, no explanation.", "Just the number, please.",
        "Answer with one number and nothing else.", "No working needed, only the result.",
        "Your reply should be just the number.", "Give the answer as a number.", "Only the answer, please.",
        "Please answer with a number only.", "Keep the reply to the number alone.",
    ),
    "word": (
        "Answer with one word.", "Reply with a single word.", "Give only the {noun}.", "Just the {noun}, please.",
        "Answer with the {noun} only.", "Respond with only that {noun}.", "Only the answer, please.",
        "No explanation, just the {noun}.", "Your reply should be one word.", "Write only the {noun}.",
    ),
    "list": (
        "Answer with the list only.", "Give the {noun}, separated by commas.", "Reply with just the {noun}.",
        "Write only the list, nothing else.", "List the {noun} on one line.", "No explanation, just the {noun}.",
        "Respond with the {noun} in that order and nothing else.", "Only the list, please.",
    ),
}  # fmt: skip


def instruction(rng: random.Random, answer_type: str, noun: str) -> str:
    """An answer-format instruction for ``answer_type`` ("int", "word"..., a list type), naming ``noun``."""
    key = "int" if answer_type == "int" else "list" if answer_type.endswith("list") else "word"
    return rng.choice(_INSTRUCTIONS[key]).format(noun=noun)


def compose(
    rng: random.Random,
    context: Sequence[str],
    question: str,
    answer_type: str,
    noun: str = "answer",
    *,
    distractors: int | None = None,
    weekdays: bool = True,
) -> str:
    """The user message: lead-in, context sentences, question and format instruction, with distractors mixed in.

    The instruction stands at the end, at the start, or just before the question; ``distractors`` unrelated
    sentences (by default 0 to 2) go anywhere before the question; the parts are joined by spaces or new lines.
    ``weekdays=False``: no distractor names a weekday.
    """
    parts = list(context)
    count = rng.choice((0, 1, 1, 2)) if distractors is None else distractors
    for _ in range(count):
        parts.insert(rng.randint(0, len(parts)), distractor(rng, weekdays))
    note = instruction(rng, answer_type, noun)
    where = rng.random()
    if where < 0.2:
        parts = [note, *parts, question]
    elif where < 0.35:
        parts = [*parts, note, question]
    else:
        parts = [*parts, question, note]
    lead = rng.choice(LEAD_INS)
    if lead:
        parts.insert(0, lead)
    sep = rng.choices([" ", "\n", " "], weights=[5, 2, 1])[0]
    return sep.join(p for p in parts if p)


# Neutral system prompts, shared by exact and open challenges: none names a task family or an answer format.
SYSTEM_PROMPTS = (
    "You are a helpful assistant.",
    "You are a friendly, knowledgeable assistant.",
    "You are an assistant. Be accurate and clear.",
    "Respond to the user as well as you can.",
    "You are a concise assistant.",
    "Answer the user's message directly.",
    "You help people with everyday questions.",
    "You are a patient assistant who keeps replies short.",
    "Be helpful and to the point.",
    "You are a careful assistant.",
    "You are an AI assistant. Follow the user's instructions.",
    "Reply in plain English.",
)
