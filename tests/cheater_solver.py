"""A model-free solver of the validator's exact tasks: the "targeted" attacker of ``bench/bench_tasks.py``.

A rule cascade of several hundred lines, written and then revised against every feature of the task families in
``validators/tasks`` (distractor sentences by template, spelled numbers, the decoy layouts rewritten to one
sentence per owner, one or more rules per variant). It answers about two thirds of exact tasks without any model.
It lives here, outside ``bench/``, because two cheaters use it: ``bench/bench_tasks.py`` measures its solve rate,
and the ``solver`` miner of ``tests/misbehaving_miner.py`` answers validators with it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from validators.answers import _SPELLED_RE, _spelled_value
from validators.tasks.exact import _SCALES, _UNITS, roman
from validators.tasks.text import _ORDINALS, ANIMALS, CITIES, COLOURS, FRUITS, MONTHS, NAMES, WEEKDAYS

# --- the rules (bench_tasks counts the lines from here to ``solve``) -----------------------------------------------


JUNK = re.compile(
    r"^My \w+ is .*years old|question \d+ of|afternoon\.|asked me this|minutes left|tries\.|raining in|"
    r"sitting in room|collects|on the shelf|Take your time|laundry|of these right|from page|favourite "
    r"number|Read carefully|not part of this|lives at number|^(Quick question|Here is a small|Help me|"
    r"Try this|A question for|Something I need|Homework|Please solve|Let's see|I have a question|Here's "
    r"one)|only|nothing else|[Nn]o working|[Nn]o explanation|separated by|one line|Give the answer|"
    r"Your reply|Respond with|Reply with|Answer with|Just the|one word",
    re.I,
)
ORD = {w: i for i, w in enumerate(_ORDINALS)} | {f"{i}{s}": i for i in range(1, 13) for s in ("st", "nd", "rd", "th")}
ROMAN = {roman(i): i for i in range(1, 90)}


def _fit(s: list[int]) -> Callable[[int], int] | None:
    """A rule a[i] = f(history) that reproduces the known terms: the next term from the previous ones."""
    rules = [
        lambda h: h[-1] + (s[1] - s[0]),
        lambda h: h[-1] * (s[1] // max(s[0], 1)),
        lambda h: h[-1] + h[-2],
        lambda h: h[-1] + (h[-1] - h[-2]) + (s[2] - s[1]) - (s[1] - s[0]),
        lambda h: h[-1] + (s[1] - s[0] if len(h) % 2 else s[2] - s[1]),
    ]
    return next((r for r in rules if all(r(s[:i]) == s[i] for i in range(3, len(s)))), None)


_PL = r"(are|last|run for|weigh|hold|cost|start|run)"
_SG = {
    "are": "is",
    "last": "lasts",
    "run for": "runs for",
    "weigh": "weighs",
    "hold": "holds",
    "cost": "costs",
    "start": "starts",
    "run": "runs",
}


def _undecoy(sentences: list[str], question: str) -> list[str]:
    """Rewrite the two-owner layouts into one sentence per owner, then drop the owners the question does not ask."""
    out = []
    for s in sentences:
        if m := re.match(
            r"Unlike (.+?), which (.+?) (\d.*?|in \d.*?|the .*?|on .*?|from .*?|['\"“].*?), (.+?) \2 (.+)\.$", s
        ):
            out += [f"{m[1]} {m[2]} {m[3]}.", f"{m[4]} {m[2]} {m[5]}."]
        elif m := re.match(r"Unlike (\w+), whose (\w+) are (.+?), (\w+) has (.+)\.$", s):
            out += [f"{m[1]}'s {m[2]} are {m[3]}.", f"{m[4]}'s {m[2]} are {m[5]}."]
        elif m := re.match(r"(\w+) wrote down (.+?), and (\w+) wrote down (.+)\.$", s):
            out += [f"{m[1]}'s numbers are {m[2]}.", f"{m[3]}'s numbers are {m[4]}."]
        elif m := re.match(r"(.+?), while (.+)\.$", s):
            out += [f"{m[1]}.", f"{m[2]}."]
        elif m := re.match(r"(.+?) for (.+?), (.+?) for (.+)\.$", s):
            out += [
                f"{m[2]} {'costs' if m[2][:2] in ('a ', 'an') else 'is'} {m[1]}.",
                f"{m[4]} {'costs' if m[4][:2] in ('a ', 'an') else 'is'} {m[3]}.",
            ]
        elif m := re.match(
            r"((\w+)'s ([\w ]+?)|An? \w+) (is|lasts|runs for|weighs|holds|costs|starts|runs) (.+?) and "
            r"(\w+'s|an? \w+) (.+)\.$",
            s,
        ):
            out += [f"{m[1]} {m[4]} {m[5]}.", f"{m[6]} {m[3] or ''} {m[4]} {m[7]}."]
        elif m := re.match(rf"(.+?) and (.+?) {_PL} (.+?)(?:, respectively)?\.$", s):
            parts = m[4].split(" and ")
            half = len(parts) // 2
            out += [
                f"{m[1]} {_SG[m[3]]} {' and '.join(parts[:half])}.",
                f"{m[2]} {_SG[m[3]]} {' and '.join(parts[half:])}.",
            ]
        elif m := re.match(
            r"(.+?) (is|lasts|runs for|weighs|holds|costs) (\d+) (.*?) ?(longer|shorter|more|less|fewer|"
            r"heavier|lighter|older|younger|later|earlier) than (.+?), which \2 (.+)\.$",
            s,
        ):
            base = int(re.search(r"\d+", m[7])[0])
            value = base + int(m[3]) if m[5] in ("longer", "more", "heavier", "older", "later") else base - int(m[3])
            asked_value = re.sub(r"\d+", str(value), m[7], count=1)
            out += [f"{m[6]} {m[2]} {m[7]}.", f"{m[1]} {m[2]} {asked_value}."]
        else:
            out.append(s)
    asked = set(re.findall(r"([A-Z]\w+)'s", question))
    if m := re.search(r"the (\w+) of the two", question):
        values = {o[1]: int(o[2]) for x in out if (o := re.match(r"([A-Z]\w+)'s \D*(\d+)", x))}
        if values:
            pick = max if m[1] in ("longer", "heavier", "larger", "older", "fuller", "later") else min
            asked = {pick(values, key=values.get)}
    goods = set(re.findall(r"\b(\w+?)(?:e?s)\b", question))
    keep = []
    for s in out:
        owner = re.match(r"([A-Z]\w+)'s ", s)
        good = re.match(r"An? (\w+) costs", s)
        if (asked and owner and owner[1] in NAMES and owner[1] not in asked) or (good and good[1] not in goods):
            continue
        keep.append(s)
    return keep


def targeted_attack(prompt: str) -> str:
    kept = [x for x in re.split(r"(?<=[.?!])\s+|\n", prompt) if x and not JUNK.search(x)]
    t = _SPELLED_RE.sub(lambda m: str(_spelled_value(m.group())), " ".join(kept))
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)
    t = re.sub(r"(\d+|a) weeks? and (\d+) days?", lambda m: f"{7 * int(m[1].replace('a', '1')) + int(m[2])} days", t)
    t = re.sub(
        r"a fortnight", "14 days", re.sub(r"(\d+|a) weeks?", lambda m: f"{7 * int(m[1].replace('a', '1'))} days", t)
    )
    sentences = re.split(r"(?<=[.?!])\s+", t)
    t = " ".join(_undecoy(sentences[:-1], sentences[-1]) + sentences[-1:])
    tl, n = t.lower(), [int(x) for x in re.findall(r"\d+", re.sub(r"\d+:\d+", "", t))]
    quoted = re.findall(r"[\"'“]([^\"'”]+)[\"'”]", t)
    words = [w for w in re.findall(r"[a-z]+", tl)]
    last_q = (re.findall(r"[^.?!]*\?", t) or [t])[-1]
    if m := re.search(r"binary number ([01]+)|([01]+) from base 2|([01]+) in binary", t):
        return str(int(m[1] or m[2] or m[3], 2))
    if re.search(r"binary|base 2", tl):
        return f"{n[0]:b}"
    if (m := re.search(r"\b([IVXL]+)\b", t)) and m[1] in ROMAN and "roman" in tl:
        return str(ROMAN[m[1]])
    if "roman" in tl:
        return roman(n[0])
    if m := re.search(r"(\d+)(?:'s [\w ]+?)? (?:to|rounded to) the nearest (ten|hundred|10|100)\b", t):
        k = 10 if m[2] in ("ten", "10") else 100
        return str((int(m[1]) + k // 2) // k * k)
    if m := re.search(r"(ones|tens|hundreds|thousands|1s|10s|100s|1000s) (?:digit|place) of (\d+)?", t):
        place = {"ones": 1, "tens": 10, "hundreds": 100, "thousands": 1000}.get(m[1], 1)
        return str(int(m[2] or n[0]) // place % 10)
    if m := re.search(r"digits of (\d+)?", t):
        return str(sum(map(int, m[1] or str(n[0]))))
    if "in digits" in tl or "written as a number" in tl:
        return str(n[0])
    if m := re.search(r"(\d+):(\d+).*?(\d+):(\d+)", prompt):
        pm = [bool(re.search(rf"{a}:{b} pm", prompt)) for a, b in ((m[1], m[2]), (m[3], m[4]))]
        h1, h2 = (
            int(m[1]) % 12 + 12 * pm[0] if pm[0] else int(m[1]),
            int(m[3]) % 12 + 12 * pm[1] if pm[1] else int(m[3]),
        )
        diff = h2 * 60 + int(m[4]) - h1 * 60 - int(m[2])
        return str(diff // 60 if "hours" in last_q else diff)
    if "bed at" in tl:
        return str(12 - n[0] + n[1])
    if m := re.search(r"from (\d+) pm to (\d+) am", t):
        return str(12 - int(m[1]) + int(m[2]))
    if "o'clock" in tl:
        return str(n[0] + n[1])
    for bigs, smalls, factor, *_ in _UNITS:
        for big in bigs:
            for small in smalls:
                if m := re.search(rf"(\d+) {big}(?: and)? (\d+) {small}", t):
                    return str(int(m[1]) * factor + int(m[2]))
                if (m := re.search(rf"(\d+) {big}\b", t)) and re.search(rf"(many|to|in|as) {small}", t):
                    return str(int(m[1]) * factor)
                if (m := re.search(rf"(\d+) {small}\b", t)) and re.search(rf"(many|into|in) {big}", t):
                    return str(int(m[1]) // factor)
    days = [d for d in WEEKDAYS if d in t]
    if days:
        d = WEEKDAYS.index(days[0])
        rel = {"yesterday": -1, "tomorrow": 1, "the day after tomorrow": 2, "today": 0, "the day before yesterday": -2}
        if m := re.search(r"If (.*?) (?:is|was) \w+day, what day (?:is|was) (.*?)\?", t):
            return WEEKDAYS[(d - rel.get(m[1].lower(), 0) + rel.get(m[2], 0)) % 7]
        k = n[0] if n else 0
        return WEEKDAYS[(d - k if re.search(r"ago|before|earlier", tl) else d + k) % 7]
    months = [mo for mo in MONTHS if mo in t]
    if months and n and re.search(r"months", tl):
        return MONTHS[(MONTHS.index(months[0]) + (-n[0] if re.search(r"before|earlier", tl) else n[0])) % 12]
    if months and len(n) >= 2:
        today = int(re.search(r"Today is \w+ (\d+)", t)[1])
        return str(next(x for x in n if x != today) - today)
    if seq := re.search(r"((?:-?\d+|\?|_+|\.\.\.)(?:[,;/]\s+(?:-?\d+|\?|_+|\.\.\.)){3,})", t):
        items = re.split(r"[,;/]\s+", seq[1])
        known = [int(x) for x in items if x.lstrip("-").isdigit()]
        if (
            (gap := next((i for i, x in enumerate(items) if not x.lstrip("-").isdigit()), None)) is not None
            and gap < len(items) - 1
            and "sequence" not in tl
        ):
            pre = [int(x) for x in items[:gap]]
            post = int(items[gap + 1])
            return str(pre[-1] + (post - pre[-1]) // 2 if len(pre) < 3 or not _fit(pre) else _fit(pre)(pre))
        if re.search(r"next|continue|comes next|question mark|term|number\?", tl) and (rule := _fit(known)):
            k = ORD.get((re.findall(r"(\w+) (?:number|term|one)\?", tl) or ["x"])[-1], len(known) + 1)
            while len(known) < k:
                known.append(rule(known))
            return str(known[k - 1])
    return _people_and_lists(t, tl, n, quoted, words, last_q)


def _people_and_lists(t: str, tl: str, n: list[int], quoted: list[str], words: list[str], last_q: str) -> str:
    names = [w for w in re.findall(r"[A-Z][a-z]+", t) if w in NAMES]
    asked = [w for w in re.findall(r"[A-Z][a-z]+", last_q) if w in NAMES]
    cities = [c for c in re.findall(r"[A-Z][a-z]+", t) if c in CITIES]
    if m := re.search(r"(\w+) is (\d+) years (older|younger) than (\w+)", t):
        base = int(re.search(rf"{m[4]}(?: is|'s age is| turned) (\d+)", t)[1])
        return str(base + int(m[2]) if m[3] == "older" else base - int(m[2]))
    if m := re.search(r"(?:closest|nearest) to (\d+)", t):
        values = [int(x) for x in re.findall(r"\d+", t.replace(m[0], ""))]
        return str(min(values, key=lambda x: abs(x - int(m[1]))))
    if re.search(r"start with|take \d+\.|think of|begin at", tl):
        return _arithmetic(t, tl, n)
    if m := re.search(r"(\w+) (?:gives|hands) (\d+) .*?to (\w+)|(\w+) receives (\d+) \w+ from (\w+)", t):
        k, taker = (int(m[2]), m[3]) if m[1] else (int(m[5]), m[4])
        have = dict(re.findall(r"(\w+) has (\d+)", t))
        if x := re.search(r"(\w+) has (\d+) \w+ and (\w+) has (\d+)|(\w+) has (\d+) \w+, while (\w+) has (\d+)", t):
            have |= {x[1] or x[5]: x[2] or x[6], x[3] or x[7]: x[4] or x[8]}
        who = asked[0] if asked else taker
        return str(int(have.get(who, 0)) + (k if who == taker else -k))
    for _, more, less, most, _least in _SCALES:
        if more in tl or less in tl:
            win = Counter()
            for a, rel, b in re.findall(rf"(\w+) is ({more}|{less}) than (\w+)", t):
                win[a if rel == more else b] += 1
            for _b, a in re.findall(r"(\w+) is not as \w+ as (\w+)", t):
                win[a] += 1
            for a, b, rel in re.findall(rf"Compared with (\w+), (\w+) is ({less}|{more})", t):
                win[b if rel == more else a] += 1
            ranked = sorted(set(names), key=lambda x: -win[x])
            return ranked[0] if most in tl else ranked[1] if "second" in tl else ranked[-1]
    if cities and asked:
        p = asked[0]
        order = [
            c
            for s in re.split(r"(?<=[.?!])\s+", t)
            for c in re.findall(r"[A-Z][a-z]+", s)
            if c in CITIES and not (set(re.findall(r"[A-Z][a-z]+", s)) & (set(NAMES) - {p}))
        ]
        order = list(dict.fromkeys(order[: len(order) - ("?" in t and any(c in last_q for c in cities))]))
        if "how many" in tl:
            return str(len(order))
        if m := re.search(r"after (\w+)\?", last_q):
            return order[(order.index(m[1]) + 1) % len(order)] if m[1] in order else order[-1]
        if m := re.search(r"before (\w+)\?", last_q):
            return order[order.index(m[1]) - 1] if m[1] in order else order[0]
        k = next((v for w, v in ORD.items() if w in last_q), 1)
        return order[-1] if "end" in last_q else order[min(k, len(order)) - 1]
    if re.search(r"score|scored|points|got \d", tl) and names:
        sc = {a: int(b) for a, b in re.findall(r"(\w+) (?:scored|got|finished with|has a score of) (\d+)", t)}
        if m := re.search(r"more points did (\w+) score than (\w+)", t):
            return str(sc[m[1]] - sc[m[2]])
        r = sorted(sc, key=sc.get, reverse=True)
        if re.search(r"list|names|order", last_q.lower()):
            return ", ".join(r[::-1] if re.search(r"lowest score to|lowest score first", tl) else r)
        return r[1] if "second" in last_q else r[-1] if re.search(r"least|last|lowest", last_q) else r[0]
    if (re.search(r"years old|is \d+\.|age is", tl) and "list" in tl) or "names" in tl:
        ages = {a: int(b) for a, b in re.findall(r"(\w+)(?: is|'s age is) (\d+)", t) if a in NAMES}
        r = sorted(ages, key=ages.get)
        return ", ".join(r if "youngest first" in tl or "youngest to" in tl else r[::-1])
    if asked and (
        m := re.search(
            rf"{asked[0]}\W+(?:has|owns|plays|is|works as|lives in|pet is|takes care of|home is in|"
            rf"favourite sport is|plays the|practises the)\W+(?:an? |the )?(\w+)",
            t,
        )
    ):
        return m[1]
    if m := re.search(r"(?:Who|Which (?:city|animal|instrument|sport)) .*?(?:the |an? )?(\w+)\?$", last_q):
        owner = re.search(rf"(\w+)(?:'s)? [^.]*?\b{m[1]}\b|\b{m[1]}\b[^.]*? (\w+)\.", t)
        if owner:
            return (
                next(w for w in (owner[1], owner[2]) if w in NAMES)
                if any(w in NAMES for w in (owner[1], owner[2]))
                else owner[1] or owner[2]
            )
    return _lists_and_words(t, tl, n, quoted, words, last_q)


def _lists_and_words(t: str, tl: str, n: list[int], quoted: list[str], words: list[str], last_q: str) -> str:
    lst = re.findall(
        r"(?::|in|of|are|has|up|Put|Sort|Arrange|Order|down|Consider)\s+((?:[\w]+(?:,\s+|;\s+| / |,  | and )){2,}\w+)",
        t,
    )
    items = re.split(r",\s+|;\s+| / | and ", lst[-1]) if lst else []
    nums = [int(x) for x in items if x.isdigit()]
    if re.search(r"sort|order|arrange|backwards|reverse|list them", tl) and items:
        if "reverse order" in tl or "backwards" in tl or "end to the start" in tl or "reverse the order" in tl:
            return ", ".join(items[::-1])
        down = re.search(
            r"descending|decreasing|largest to|highest to|largest first|biggest|z to a|reverse alpha|longest f"
            r"|longest to",
            tl,
        )
        key = len if "length" in tl or "letters" in tl else None
        return ", ".join(map(str, sorted(nums or items, key=key, reverse=bool(down))))
    if "how many times" in tl or "how often" in tl:
        if len(quoted) == 2 and len(quoted[0]) == 1:
            return str(quoted[1].lower().count(quoted[0].lower()))
        if m := re.search(r"(?:letter|character) ['\"“]?(\w)['\"”]? .*?(?:in|of) (?:the word )?['\"“]?(\w+)", t):
            return str(m[2].lower().count(m[1].lower()))
        if quoted:
            return str([i.lower() for i in items].count(quoted[0].lower()))
    for cat, members in (("animals", ANIMALS), ("fruits", FRUITS), ("colours", COLOURS)):
        if cat in tl:
            return str(sum(i in members for i in items))
    if "how many words" in tl and quoted:
        return str(len(quoted[0].split()))
    if re.search(r"how many (items|words|entries|things|numbers|values)", tl) and items:
        return str(len(items))
    target = (quoted or [w for w in words if len(w) > 2][-1:] or [""])[-1]
    if re.search(r"backwards|reverse|right to left", tl):
        return target[::-1]
    if re.search(r"capital letters|upper ?case|every letter capital", tl):
        return target.upper()
    if "first letter capitalised" in tl or "capitalise the first" in tl:
        return target.capitalize()
    if "lower case" in tl or "small letters" in tl:
        return target.lower()
    if "vowels" in tl:
        return str(sum(c in "aeiou" for c in target.lower()))
    if re.search(r"how many letters|how long is|count the letters", tl):
        return str(len(target))
    if "alphabet" in tl:
        letter = target.lower()
        return chr(ord(letter) + (1 if re.search(r"after|follows", tl) else -1))
    if re.search(r"last letter|end with", tl):
        return target[-1]
    if re.search(r"first letter|start with|begins", tl) and "each" not in tl:
        return target[0]
    if m := re.search(
        r"(?:initials of|first letter of each word in|first letters of) (.+?)(?:,? written| and put| into|\.)", t
    ):
        return "".join(w[0] for w in re.split(r",\s+|;\s+| / | and ", m[1]) if w)
    if m := re.search(r"(\w+) letter|position (\d+)", last_q):
        k = ORD.get(m[1], int(m[2]) if m[2] else 1)
        return target[k - 1] if k <= len(target) else ""
    if "word" in tl and quoted:
        sw = quoted[0].rstrip(".").split()
        if m := re.search(r"after ['\"“](\w+)|follows ['\"“](\w+)", t):
            w = m[1] or m[2]
            return sw[sw.index(w) + 1] if w in sw else ""
        k = next((v for w, v in ORD.items() if re.search(rf"\b{w}\b", last_q)), None) or (n[-1] if n else 1)
        return sw[k - 1] if k <= len(sw) else ""
    if ("longest" in tl or "shortest" in tl) and items:
        return (max if "longest" in tl else min)(items, key=len)
    if nums:
        v = sorted(nums)
        if re.search(r"second (largest|biggest)", tl):
            return str(v[-2])
        if "second smallest" in tl:
            return str(v[1])
        if re.search(r"largest|biggest|highest|maximum", tl) and "smallest" in tl:
            return str(v[-1] - v[0])
        if re.search(r"largest|biggest|highest|maximum", tl):
            return str(v[-1])
        if re.search(r"smallest|lowest|minimum|least", tl):
            return str(v[0])
        if re.search(r"sum|add up|total", tl):
            return str(sum(nums))
        if "even" in tl or "odd" in tl:
            return str(sum(x % 2 == ("odd" in tl) for x in nums))
        if m := re.search(r"(greater|less) than (\d+)", tl):
            return str(sum(x > int(m[2]) if m[1] == "greater" else x < int(m[2]) for x in nums))
        if m := re.search(r"(?:after|follows) (\d+)", tl):
            return str(nums[nums.index(int(m[1])) + 1]) if int(m[1]) in nums[:-1] else "0"
        if m := re.search(r"before (\d+)", tl):
            return str(nums[nums.index(int(m[1])) - 1]) if int(m[1]) in nums[1:] else "0"
        if m := re.search(r"position is (\d+)|where is (\d+)", tl):
            return str(nums.index(int(m[1] or m[2])) + 1) if int(m[1] or m[2]) in nums else "1"
        if m := re.search(r"(?:closest|nearest) to (\d+)", tl):
            return str(min(nums, key=lambda x: abs(x - int(m[1]))))
    return _arithmetic(t, tl, n)


def _arithmetic(t: str, tl: str, n: list[int]) -> str:
    e = t.replace("×", "*").replace("÷", "/").replace(" x ", " * ")
    if m := re.search(r"\(\d+ [-+*/] \d+\) [-+*/] \d+|\d+ [-+*/] \d+", e):
        return str(int(eval(m[0])))  # digits and operators only
    subs = [
        (r"the sum of (\d+) and (\d+)", r"(\1+\2)"),
        (r"the total of (\d+) and (\d+)", r"(\1+\2)"),
        (r"the difference between (\d+) and (\d+)", r"(\1-\2)"),
        (r"the product of (\d+) and (\d+)", r"(\1*\2)"),
        (r"(\d+) (?:more|fewer) than (\d+)", r"(\2+\1)"),
        (r"(\d+) less than (\d+)", r"(\2-\1)"),
        (r"[Ss]ubtract (\d+) from (\d+)", r"(\2-\1)"),
        (r"[Tt]ake (\d+) away from (\d+)", r"(\2-\1)"),
        (r"[Aa]dd (\d+) to (\d+)", r"(\2+\1)"),
        (r"multiply (\d+) (?:by|and) (\d+)", r"(\1*\2)"),
        (r"take (\d+) and multiply it by (\d+)", r"(\1*\2)"),
        (r"divide (\d+) by (\d+)", r"(\1/\2)"),
        (r"split (\d+) into (\d+)", r"(\1/\2)"),
        (r"share (\d+) equally among (\d+)", r"(\1/\2)"),
        (r"increase (\d+) by (\d+)", r"(\1+\2)"),
        (r"reduce (\d+) by (\d+)", r"(\1-\2)"),
        (r"start with (\d+) and add (\d+)", r"(\1+\2)"),
        (r"start with (\d+) and take away (\d+)", r"(\1-\2)"),
        (r"put (\d+) and (\d+) together", r"(\1+\2)"),
        (r"add (\d+) and (\d+)", r"(\1+\2)"),
        (r" plus | and (?=\d+ added)|increased by |with ", "+"),
        (r" minus |take away |decreased by |reduced by ", "-"),
        (r" times |multiplied by ", "*"),
        (r"divided by ", "/"),
    ]
    e = tl
    for a, b in subs:
        e = re.sub(a, b, e)
    if m := re.search(
        r"\(?\d+\)? ?[-+*/] ?\(?\d+\)?(?:,? ?[-+*/] ?\d+)?", e.replace(" added", "").replace("taken away", "")
    ):
        try:
            return str(int(eval(m[0].replace(",", ""))))
        except (SyntaxError, ZeroDivisionError):
            pass
    if (
        re.search(
            r"start with|take \d+\.|think of|begin at|^(add|subtract|multiply|divide|increase|reduce|split|share|put)",
            tl,
        )
        and n
    ):
        value = n[0]
        ops = re.findall(
            r"(add|increase|subtract|take away|take \d+ off|reduce|multipl\w+|double|triple|divide|halve|"
            r"split|share|put)\D*?(\d+)?\b",
            tl.split(str(n[0]), 1)[-1] if re.match(r"\D*\d", tl) else tl,
        )
        for word, num in ops:
            k = int(num) if num else (2 if word in ("double", "halve") else 3)
            if word.startswith("take ") and word != "take away":
                k = int(re.search(r"\d+", word)[0])
            value = (
                value + k
                if word in ("add", "increase", "put")
                else value - k
                if word in ("subtract", "take away", "reduce") or word.startswith("take ")
                else value * k
                if word.startswith(("multipl", "double", "triple"))
                else value // k
                if k
                else value
            )
        return str(value)
    return _story(t, tl, n)


def _story(t: str, tl: str, n: list[int]) -> str:
    if not n:
        return "0"
    if had := {a: int(b) - int(c) for a, b, c in re.findall(r"(\w+) had (\d+) \w+ and spent (\d+)", t)}:
        return str(next((v for a, v in had.items() if a in t.split(".")[-2]), next(iter(had.values()))))
    if re.search(r"how much does one|price of a single", tl):
        return str(n[1] // n[0])
    if m := re.search(r"saves (\d+) .*?(?:after (\d+) weeks|costs (\d+))", tl):
        return str(int(m[1]) * int(m[2]) if m[2] else int(m[3]) // int(m[1]))
    if re.search(r"costs? \d+", tl) and len(n) >= 2 and "change" not in tl:
        return str(n[0] * n[-1])
    if re.search(r"change", tl) and len(n) >= 3:
        return str(n[-1] - n[0] * n[1])
    if re.search(r"how much does one|price of a single", tl):
        return str(n[1] // n[0])
    if re.search(r"how many weeks", tl):
        return str(n[1] // n[0])
    if re.search(r"each|every|rows|boxes|bags,|with \d+ \w+ in", tl) and len(n) >= 2:
        if re.search(r"equally|into bags of", tl):
            return str(n[0] // n[1])
        return str(n[0] * n[1] + (n[2] if len(n) > 2 and ("loose" in tl or "more" in tl) else 0))
    if re.search(r"together|in total|altogether|total cost", tl):
        return str(n[0] + n[1] + (n[0] if "more than" in tl else 0) if "more than" in tl else sum(n[:2]))
    if re.search(r"how many more", tl):
        return str(abs(n[0] - n[1]))
    if re.search(r"left|spent", tl) and len(n) >= 2:
        return str(n[0] - n[1])
    value = n[0]
    for verb, k in re.findall(r"(buys|finds|gets|given|wins|picks|gives|loses|sells|drops|uses)\D*?(\d+)", tl):
        value += int(k) if verb in ("buys", "finds", "gets", "given", "wins", "picks") else -int(k)
    return str(value)


def solve(prompt: str) -> str:
    """``targeted_attack``, or "" when one of its rules does not fit the prompt and raises (it answers nothing)."""
    try:
        return targeted_attack(prompt)
    except Exception:
        return ""
