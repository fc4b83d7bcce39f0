"""Can a program without a model earn on the validator's exact challenges? Issue 13, item 3.

Measures, on N draws of each kind of challenge:

(a) how many distinct prompts there are (goal: nearly all distinct), and how many prompts of a second, independent
    draw a lookup table built from the first draw already holds (the "precomputed answers" cheat);
(b) the share of exact challenges that model-free attackers answer correctly, as judged by the validator's own
    checker (``validators.answers.check_answer``):
    - ``old-templates``: the ~30-line regex script that answered every task of the former 14 fixed templates;
    - ``echo``: send the prompt back (the tolerant parsers then pick a number or word out of it);
    - ``cheap``: about 60 lines written against ``validators/tasks`` by an attacker who has read it, spent where
      a keyword parser gets most (unit, weekday, notation and clock keywords, "the number after the asked
      owner's name", a guessed operation);
    - ``targeted``: a rule cascade of several hundred lines, written and then revised against every feature of
      the families (distractor sentences by template, spelled numbers, the decoy layouts rewritten to one
      sentence per owner, one or more rules per variant). It is what a determined attacker reaches; it is not
      saturated, and more rules would solve more.

Run: .venv/bin/python bench/bench_tasks.py [--n 10000] [--seed 0] [--append]
     .venv/bin/python bench/bench_tasks.py --challenges-module /tmp/old_challenges.py   (the former generator,
     e.g. from ``git show <commit>:validators/challenges.py``)
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from validators.answers import _SPELLED_RE, _spelled_value, check_answer  # noqa: E402

# --- attacker 1: the old 14-template regex script ----------------------------------------------------------------


def old_template_attack(prompt: str) -> str:
    """The script that solved 10,000 of 10,000 tasks of the former fixed templates."""
    n = [int(x) for x in re.findall(r"\d+", prompt)]
    q = re.findall(r'"(\w+)"', prompt)
    listed = (re.findall(r": ([^?]+?)[?.] Answer", prompt) or [""])[0].split(", ")
    if m := re.search(r"What is (\d+) ([+-]|times) (\d+)\?", prompt):
        a, op, b = int(m[1]), m[2], int(m[3])
        return str(a + b if op == "+" else a - b if op == "-" else a * b)
    if "gets" in prompt and "more" in prompt:
        return str(n[0] + n[1])
    if "gave" in prompt:
        return str(n[0] - n[1])
    if "bags with" in prompt:
        return str(n[0] * n[1])
    if prompt.startswith("How many words are in this list"):
        return str(len(listed))
    if prompt.startswith("How many letters are in the word"):
        return str(len(q[0]))
    if prompt.startswith("How many times does the letter"):
        return str(q[1].count(q[0]))
    if "largest number" in prompt or "smallest number" in prompt:
        values = [int(x) for x in listed]
        return str(max(values) if "largest" in prompt else min(values))
    if prompt.startswith("Sort these numbers"):
        return ", ".join(map(str, sorted(map(int, listed), reverse="largest to smallest" in prompt)))
    if prompt.startswith("Sort these words"):
        return ", ".join(sorted(listed))
    if prompt.startswith("Write these words in reverse order"):
        return ", ".join(listed[::-1])
    if "backwards" in prompt:
        return q[0][::-1]
    if "capital letters" in prompt:
        return q[0].upper()
    if "first letter" in prompt:
        return q[0][0]
    return "0"


# --- attacker 2: echo ---------------------------------------------------------------------------------------------


def echo_attack(prompt: str) -> str:
    return prompt


# --- attacker 3: cheap, about 60 lines, spent on the families a keyword parser gets most from -------------------

from validators.tasks.exact import _UNITS, roman  # noqa: E402
from validators.tasks.text import MONTHS, WEEKDAYS  # noqa: E402

_CHEAP_JUNK = re.compile(
    r"^My \w+ is|question \d+ of|afternoon|asked me|minutes left|tries|raining|room \d+|collects|"
    r"shelf|page \d+|favourite number|not part of|lives at|of these right",
    re.I,
)


def cheap_attack(prompt: str) -> str:
    t = " ".join(x for x in re.split(r"(?<=[.?!])\s+", prompt) if not _CHEAP_JUNK.search(x))
    t = _SPELLED_RE.sub(lambda m: str(_spelled_value(m.group())), t).replace(",", " ").replace(";", " ")
    t = re.sub(r"(\d+|a) weeks? and (\d+) days?", lambda m: f"{7 * int(m[1].replace('a', '1')) + int(m[2])} days", t)
    tl, n = t.lower(), [int(x) for x in re.findall(r"\b\d+\b", re.sub(r"\d+:\d+", "", t))]
    asked = (re.findall(r"([A-Z]\w+)'s \w+\?", t) or [""])[-1]
    if asked:  # keep the asked owner's sentence: the number right after their name
        n = [int(x) for x in re.findall(rf"{asked}'s \D*?(\d+)", t)] + n
    if m := re.search(r"\b([01]{2,})\b.*(?:binary|base 2)|(?:binary|base 2).*?\b([01]{2,})\b", t):
        return str(int(m[1] or m[2], 2))
    if "binary" in tl or "base 2" in tl:
        return f"{n[0]:b}"
    if (m := re.search(r"\b([IVXL]+)\b", t)) and "roman" in tl:
        return str(next(i for i in range(1, 90) if roman(i) == m[1]))
    if "roman" in tl:
        return roman(n[0])
    if m := re.search(r"nearest (ten|hundred)", tl):
        k = 10 if m[1] == "ten" else 100
        return str((n[0] + k // 2) // k * k)
    if m := re.search(r"(ones|tens|hundreds|thousands) (?:digit|place)", tl):
        return str(n[0] // {"ones": 1, "tens": 10, "hundreds": 100, "thousands": 1000}[m[1]] % 10)
    if "digits of" in tl:
        return str(sum(map(int, str(n[0]))))
    if "in digits" in tl or "as a number" in tl:
        return str(n[0])
    if m := re.findall(r"(\d+):(\d+)(?: (am|pm))?", t):
        mins = [(int(h) % 12 + 12 * (p == "pm") if p else int(h)) * 60 + int(mm) for h, mm, p in m[:2]]
        return str((mins[1] - mins[0]) // (60 if "hours" in tl.split("?")[-2] else 1))
    for bigs, smalls, factor, *_ in _UNITS:
        if any(f" {b}" in t for b in bigs) and any(f" {s}" in t for s in smalls):
            big_first = min(t.find(f" {b}") for b in bigs if f" {b}" in t) < min(
                t.find(f" {s}") for s in smalls if f" {s}" in t
            )
            if "and" in tl and len(n) >= 2 and big_first:
                return str(n[0] * factor + n[1])
            return str(n[0] * factor if big_first else n[0] // factor)
    days = [d for d in WEEKDAYS if d in t]
    if days:
        k = n[0] if n else 1 if "tomorrow" in tl else -1 if "yesterday" in tl else 0
        back = re.search(r"ago|before|earlier|was", tl)
        return WEEKDAYS[(WEEKDAYS.index(days[0]) + (-k if back else k)) % 7]
    if (mo := [x for x in MONTHS if x in t]) and "month" in tl:
        return MONTHS[(MONTHS.index(mo[0]) + (-n[0] if re.search(r"before|earlier", tl) else n[0])) % 12]
    if re.search(r"sort|order|arrange", tl) and len(n) >= 3:
        return ", ".join(
            map(str, sorted(n, reverse=bool(re.search(r"descending|decreasing|largest|highest|biggest", tl))))
        )
    if len(n) >= 4 and re.search(r"next|comes|pattern|sequence", tl):
        return str(n[-1] + n[-1] - n[-2])
    if re.search(r"largest|biggest|highest|maximum", tl) and n:
        return str(max(n))
    if re.search(r"smallest|lowest|minimum", tl) and n:
        return str(min(n))
    if re.search(r"sum|add|total|together|plus|more", tl) and len(n) >= 2:
        return str(n[0] + n[1])
    if re.search(r"times|multipl|product|each", tl) and len(n) >= 2:
        return str(n[0] * n[1])
    if re.search(r"minus|subtract|left|less|difference|away", tl) and len(n) >= 2:
        return str(n[0] - n[1])
    return str(n[0]) if n else "0"


# --- attacker 4: targeted at validators/tasks (read the code, wrote one rule or a few per family) ----------------
# It lives in tests/cheater_solver.py: the `solver` misbehaving miner (tests/misbehaving_miner.py) answers the
# validators' exact tasks with it in the cheaters' reliability scenario.

from tests.cheater_solver import targeted_attack  # noqa: E402

SOLVER_PATH = ROOT / "tests" / "cheater_solver.py"


ATTACKS: dict[str, Callable[[str], str]] = {
    "old-templates": old_template_attack,
    "echo": echo_attack,
    "cheap": cheap_attack,
    "targeted": targeted_attack,
}


def safe(attack: Callable[[str], str], prompt: str) -> str:
    try:
        return attack(prompt)
    except Exception:  # an attacker's rule that does not fit this prompt: it answers nothing
        return ""


# --- measurement --------------------------------------------------------------------------------------------------


def load_challenges(path: str | None) -> ModuleType:
    if path is None:
        import validators.challenges as module

        return module
    spec = importlib.util.spec_from_file_location("challenges_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def measure(module: ModuleType, n: int, seed: int) -> dict[str, object]:
    build = module.build_challenges
    out: dict[str, object] = {}
    for kind, (n_exact, n_open) in {"exact": (n, 0), "open": (0, n)}.items():
        first = build(random.Random(f"{seed}:a"), n_exact, n_open)
        second = build(random.Random(f"{seed}:b"), n_exact, n_open)
        prompts = [c.messages[-1]["content"] for c in first]
        table = set(prompts)
        out[f"distinct {kind} prompts"] = len(table)
        out[f"{kind} prompts of a second draw already in a table of the first"] = sum(
            c.messages[-1]["content"] in table for c in second
        )
        out[f"distinct system prompts ({kind})"] = len({c.messages[0]["content"] for c in first})
        if kind == "exact":
            out["task families (generators)"] = len({c.task for c in first})
            out["exact"] = first
    return out


def solve_rates(challenges: list, attacks: dict[str, Callable[[str], str]]) -> dict[str, tuple[float, dict]]:
    rates = {}
    for name, attack in attacks.items():
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for c in challenges:
            ok = check_answer(c.answer_type, safe(attack, c.messages[-1]["content"]), c.expected)
            per[c.task][0] += ok
            per[c.task][1] += 1
        total = sum(v[0] for v in per.values()) / len(challenges)
        rates[name] = (total, {k: v[0] / v[1] for k, v in sorted(per.items())})
    return rates


def attacker_lines(section: str, end: str, path: Path = Path(__file__)) -> int:
    """Non-blank, non-comment source lines of one attacker (its functions and tables), between two markers of
    ``path``."""
    text = path.read_text()
    start = text.index(section)
    src = text[start : text.index(end, start)]
    return sum(1 for line in src.splitlines() if line.strip() and not line.strip().startswith(("#", '"""')))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="draws of each kind")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--challenges-module", default=None, help="a challenges.py to measure instead of the live one")
    p.add_argument("--append", action="store_true", help="append the figures to bench/RESULTS.md")
    a = p.parse_args()
    started = time.perf_counter()
    module = load_challenges(a.challenges_module)
    m = measure(module, a.n, a.seed)
    rates = solve_rates(m.pop("exact"), ATTACKS)
    lines = [f"| figure | value (N = {a.n:,} per kind) |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in m.items()]
    size = {
        "old-templates": ("# --- attacker 1", "# --- attacker 2"),
        "cheap": ("# --- attacker 3", "# --- attacker 4"),
        "targeted": ("# --- the rules", "def solve(", SOLVER_PATH),
    }
    lines += [
        f"| solved by `{name}` attacker"
        + (f" ({attacker_lines(*size[name])} lines)" if name in size else "")
        + f" | {100 * total:.1f}% |"
        for name, (total, _) in rates.items()
    ]
    families = sorted(rates["targeted"][1])
    lines += ["", "| family | " + " | ".join(rates) + " |", "|---|" + "---|" * len(rates)]
    lines += [f"| {f} | " + " | ".join(f"{100 * r[1].get(f, 0):.0f}%" for r in rates.values()) + " |" for f in families]
    report = "\n".join(lines)
    print(report)
    print(f"\nbench took {time.perf_counter() - started:.1f} s")
    if a.append:
        command = " ".join([".venv/bin/python bench/bench_tasks.py", *sys.argv[1:]])
        what = f"the generator in `{a.challenges_module}`" if a.challenges_module else "validators/challenges.py"
        with (ROOT / "bench" / "RESULTS.md").open("a") as f:
            f.write(
                f"\n## Unprecomputable tasks (issue 13): {what}\n\n- Command: `{command}`\n"
                f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                f"{time.perf_counter() - started:.0f} s\n\n{report}\n"
            )


if __name__ == "__main__":
    main()
