"""Open prompts composed per request: topic x aspect x audience x format x constraints, with concrete details.

A prompt is put together from independent draws: a concept (about 150), an angle on it (12), an audience
(plain ones, or a named person of a given age, occupation and city), a length or shape (sentences, words,
bullet points, a note), zero to two constraints that name a person, a city, a number, an item or a word, and
one of several sentence frames. The space is far larger than any number of requests a validator sends, and the
concrete details (names, numbers, places) make an answer written for another prompt a poor fit.
"""

from __future__ import annotations

import random

from validators.tasks.text import CITIES, ITEMS, NAMES, WORDS, a_or_an, cap, spell

CONCEPTS = (
    "photosynthesis", "the water cycle", "compound interest", "honey bees", "volcanoes", "vaccines", "recycling",
    "the phases of the moon", "rainbows", "solar panels", "wind turbines", "public libraries", "bicycles",
    "trains", "lighthouses", "the internet", "email", "passwords", "sleep", "drinking water", "breakfast",
    "bread baking", "composting", "houseplants", "rainforests", "deserts", "coral reefs", "glaciers",
    "earthquakes", "thunderstorms", "tides", "the seasons", "gravity", "magnets", "electricity", "batteries",
    "refrigerators", "microwave ovens", "maps", "compasses", "clocks", "calendars", "money", "banks", "budgets",
    "saving for a holiday", "learning a new language", "learning to swim", "learning to play the guitar",
    "running a first 5 km", "public speaking", "writing a short story", "keeping a diary", "making new friends",
    "moving to a new city", "starting a new job", "job interviews", "team sports", "chess", "board games",
    "museums", "zoos", "national parks", "farming", "bees and flowers", "bird migration", "cats", "dogs",
    "horses", "owls", "dolphins", "ants", "spiders", "octopuses", "penguins", "elephants", "dinosaurs", "fossils",
    "the printing press", "the telephone", "radio", "television", "newspapers", "photography", "music lessons",
    "choirs", "painting", "pottery", "knitting", "gardening", "cooking rice", "making soup", "tea", "coffee",
    "chocolate", "spices", "salt", "sugar", "vitamins", "exercise", "stretching", "walking", "hand washing",
    "first aid", "fire safety", "road safety", "recycling paper", "saving energy at home", "insulation",
    "public transport", "electric cars", "airports", "ships", "bridges", "tunnels", "skyscrapers", "castles",
    "the Olympic Games", "volunteering", "voting", "libraries in schools", "homework", "exams", "note taking",
    "time management", "procrastination", "habits", "kindness", "patience", "curiosity", "teamwork",
    "the night sky", "comets", "the planet Mars", "the Sun", "satellites", "rockets", "telescopes", "microscopes",
    "bacteria", "the human heart", "bones", "teeth", "the sense of smell", "memory", "dreams", "yawning",
)  # fmt: skip
ASPECTS = (
    "why {c} matter", "how {c} work", "a common misconception about {c}", "how {c} affect daily life",
    "one surprising fact about {c}", "the main advantages and disadvantages of {c}", "how to get started with {c}",
    "what a beginner should know about {c}", "how {c} have changed over the years", "what can go wrong with {c}",
    "a brief history of {c}", "what {c} have in common with {c2}",
)  # fmt: skip
AUDIENCES = (
    "a ten-year-old", "a busy parent", "a retired farmer", "a first-year student", "a new colleague", "a tourist",
    "a curious grandparent", "a teenager", "a nurse on a night shift", "someone who has never heard of it",
    "a group of primary school children", "a small business owner",
)  # fmt: skip
ROLES = (
    "teacher", "baker", "bus driver", "student", "nurse", "carpenter", "painter", "engineer", "shop owner",
    "librarian", "gardener", "cyclist", "musician", "chef", "pilot", "farmer", "software developer", "postman",
)  # fmt: skip
_FRAMES = (
    "Explain {topic} to {aud}{fmt}.",
    "Write {fmt_noun} for {aud} about {topic}.",
    "Tell {aud} {topic}{fmt}.",
    "Describe {topic} for {aud}{fmt}.",
    "{Name} asked me about {c}. Explain to {aud} {topic}{fmt}.",
    "I need to explain {topic} to {aud}. What should I say{fmt}?",
    "Help {aud} understand {topic}{fmt}.",
    "What should {aud} know about {topic}? Answer{fmt}.",
)


def _plural_verbs(topic: str, concept: str) -> str:
    """Aspects are written for plural concepts ("why {c} matter"); a singular one gets singular verbs."""
    singular = not concept.endswith("s") or concept.endswith("ss") or concept in ("photosynthesis", "the planet Mars")
    if not singular:
        return topic
    return (
        topic.replace(" matter", " matters")
        .replace(" work", " works")
        .replace(" affect ", " affects ")
        .replace(" have changed", " has changed")
        .replace(" have in common", " has in common")
    )


def _audience(rng: random.Random) -> str:
    if rng.random() < 0.45:
        return rng.choice(AUDIENCES)
    age = rng.randint(8, 85)
    return (
        f"{rng.choice(NAMES)} ({a_or_an(spell(age) if rng.random() < 0.3 else str(age))}-year-old "
        f"{rng.choice(ROLES)} from {rng.choice(CITIES)})"
    )


def _format(rng: random.Random) -> tuple[str, str]:
    """An adverbial length or shape (" in 3 sentences") and a matching noun phrase ("a 3-sentence answer")."""
    n = rng.randint(2, 4)
    k = rng.randrange(40, 85, 5)
    form = rng.randrange(5)
    if form == 0:
        return f" in {spell(n) if rng.random() < 0.5 else n} sentences", f"a {n}-sentence explanation"
    if form == 1:
        return f" in under {k} words", f"a note of under {k} words"
    if form == 2:
        return f" in {n} short bullet points", f"{n} short bullet points"
    if form == 3:
        return " in one short paragraph", "one short paragraph"
    return " using simple words", "a short, simple message"


def _constraint(rng: random.Random, concept: str, form: int) -> str:
    name, city = rng.choice(NAMES), rng.choice(CITIES)
    items = rng.choice(ITEMS)[0]
    if form == 0:
        return f"Mention {name} by name."
    if form == 1:
        return f"Include the number {rng.randint(3, 999)} somewhere."
    if form == 2:
        return f"Use an example set in {city}."
    if form == 3:
        return f'Do not use the word "{rng.choice(("very", "really", "thing", "good", "important", "simple"))}".'
    if form == 4:
        return "End with a question for the reader."
    if form == 5:
        return f"Give one example involving {rng.randint(2, 40)} {items}."
    if form == 6:
        return f"Compare it briefly with {rng.choice([c for c in CONCEPTS if c != concept])}."
    if form == 7:
        return f'Use the word "{rng.choice(WORDS)}" at least once.'
    return f"Imagine it is {rng.choice(('Monday', 'a rainy Sunday', 'the first day of spring', 'midnight'))} in {city}."


def open_prompt(rng: random.Random) -> tuple[str, str]:
    """A freshly composed open question and the name of its frame (``open-<index>``)."""
    concept = rng.choice(CONCEPTS)
    other = rng.choice([c for c in CONCEPTS if c != concept])
    topic = _plural_verbs(rng.choice(ASPECTS).format(c=concept, c2=other), concept)
    aud = _audience(rng)
    fmt, fmt_noun = _format(rng)
    index = rng.randrange(len(_FRAMES))
    text = _FRAMES[index].format(topic=topic, aud=aud, fmt=fmt, fmt_noun=fmt_noun, Name=rng.choice(NAMES), c=concept)
    constraints = [_constraint(rng, concept, form) for form in rng.sample(range(9), rng.choice((1, 1, 2)))]
    return cap(" ".join([text, *constraints])), f"open-{index}"
