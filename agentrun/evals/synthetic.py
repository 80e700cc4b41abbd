"""A seeded generator of long-document QA with known answers.

Each question gets its own document of about the requested length (counted with the eval
model's tokenizer): generated filler prose about invented towns, trades and seasons, with the
question's fact(s) set inside filler paragraphs at a controlled depth (0.0 = start, 1.0 = end).
Kinds of question, in turn:

- `single`: one planted fact answers it ("Orla Vennick's boat is called the Saltwren.");
- `multi_hop`: two facts far apart must be joined ("X works in Dorrowick." + "The harbour of
  Dorrowick is named Kellport." -> "What is the name of the harbour in the city where X works?");
- `absent`: the asked-about entity never occurs; the right reply is to abstain.

Every document also holds distractor facts of the same shapes about other invented people and
places, so the answer cannot be found by searching for a keyword or by position. All names are
made up from syllables and every choice comes from `random.Random` seeded with (seed, length,
index), so the same seed always gives the same items.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agentrun.evals.datasets import Evidence, QAItem

TokenCounter = Callable[[str], int]
KINDS = ("single", "multi_hop", "absent")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SYLLABLES = _words(
    "ka ren mor lin dra vel tor is an bel cor dun el fen gar hal ith jor kel lor mar nor ost "
    "pel quin ras sel tam ul vor wen yr zan bri cas del fro gil hen ive lum nes ori pry sav "
    "tev ush vim wyn"
)
_TOWN_ENDINGS = _words("mere haven ford holm by stead wick ton moor dale port bury")
_SURNAME_ENDINGS = ("", "", "wick", "ford", "ley", "son", "by", "more")

_VOCAB = {
    "trade": _words("weaver cooper miller potter tanner chandler mason smith baker brewer"),
    "good": _words("barley wool salt timber flax honey cider rope slate candles"),
    "adj": _words("quiet busy damp bright narrow windy crowded modest steady uneven"),
    "season": _words("spring summer autumn winter"),
    "month": _words(
        "January February March April May June July August September October November December"
    ),
    "weekday": _words("Monday Tuesday Wednesday Thursday Friday Saturday"),
    "weather": _words("fog rain frost wind drought hail"),
    "crop": _words("barley oats rye turnips beans apples"),
    "structure": ("footbridge", "granary", "sea wall", "mill race", "town well", "clock tower"),
    "direction": _words("northern southern eastern western coastal upland"),
    "food": ("barley soup", "smoked eel", "oat cakes", "pear tart", "mutton stew", "rye bread"),
    "count": _words("two three four five six seven eight nine ten twelve twenty"),
    "animal": _words("goat heron ferret tortoise parrot hound cat donkey"),
    "instrument": _words("fiddle oboe cornet drum flute harp trombone accordion"),
}

_FILLER = (
    "In {month}, the {trade}s of {town} sold {count} carts of {good} at the {adj} market.",
    "{person} said the {weather} had delayed the {crop} harvest near {town} by a week.",
    "Travellers on the {direction} road to {town} often stop at an inn known for its {food}.",
    "The council of {town} met on a {weekday} to discuss the repair of the {structure}.",
    "Most {trade}s in {town} open their workshops before dawn during the {season}.",
    "A {adj} {season} meant that {good} prices in {town} rose only a little.",
    "{person} remembered a {season} when the {structure} in {town} froze over completely.",
    "Children in {town} learn to tell {crop} from weeds long before they learn to read.",
    "The road between {town} and {town2} is {adj} after heavy {weather}.",
    "Every {weekday}, {person} walks to {town2} with a basket of {good} for the market.",
    "Old maps show {town} as a {adj} village with a single {structure}.",
    "The {trade}s' guild of {town2} keeps its records in a chest of oak.",
    "When the {weather} lifted, boats from {town} carried {good} along the coast to {town2}.",
    "{person} argued that {town} needed a second {structure} before the next {season}.",
    "Few visitors know that {town} once traded {good} for {crop} with {town2}.",
    "In the {season}, the square of {town} fills with stalls selling {food}.",
    "Letters from {town2} describe the {adj} streets of {town} in some detail.",
    "The {trade} {person} trained {count} apprentices over the years.",
)

_SINGLE = (
    ("{p}'s boat is called the {word}.", "What is {p}'s boat called?", "the {word}"),
    (
        "The access code to the {place} archive is {number}.",
        "What is the access code to the {place} archive?",
        "{number}",
    ),
    ("{p} was born in the town of {town}.", "In which town was {p} born?", "{town}"),
    (
        "{p} keeps a pet {animal} named {word}.",
        "What is the name of {p}'s pet {animal}?",
        "{word}",
    ),
    (
        "The bell of the {place} chapel was cast in {year}.",
        "In what year was the bell of the {place} chapel cast?",
        "{year}",
    ),
    (
        "{p} plays the {instrument} in the {town} band.",
        "Which instrument does {p} play in the {town} band?",
        "{instrument}",
    ),
)

_MULTI = (
    (
        ("{p} works in {town}.", "The harbour of {town} is named {word}."),
        "What is the name of the harbour in the city where {p} works?",
        "{word}",
    ),
    (
        ("{p} lives in {town}.", "The mayor of {town} is {p2}."),
        "Who is the mayor of the town where {p} lives?",
        "{p2}",
    ),
    (
        ("{p} studied at the {place} academy.", "The {place} academy stands beside the {word}."),
        "Beside which river stands the academy where {p} studied?",
        "{word}",
    ),
)


class _Names:
    """Unique invented names for one document (none repeats, none is a real word by design)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _fresh(self, make: Callable[[], str]) -> str:
        for _ in range(1000):
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("name space exhausted")

    def _word(self, parts: int) -> str:
        return "".join(self.rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()

    def person(self) -> str:
        return self._fresh(
            lambda: f"{self._word(2)} {self._word(2)}{self.rng.choice(_SURNAME_ENDINGS)}"
        )

    def town(self) -> str:
        return self._fresh(lambda: self._word(2) + self.rng.choice(_TOWN_ENDINGS))

    def word(self) -> str:
        return self._fresh(lambda: self._word(self.rng.choice((2, 3))))


def _slots(names: _Names, rng: random.Random) -> dict[str, str]:
    """Values for every placeholder a fact template may use."""
    return {
        "p": names.person(),
        "p2": names.person(),
        "town": names.town(),
        "place": names.town(),
        "word": names.word(),
        "number": str(rng.randint(1000, 9999)),
        "year": str(rng.randint(1450, 1899)),
        "animal": rng.choice(_VOCAB["animal"]),
        "instrument": rng.choice(_VOCAB["instrument"]),
    }


@dataclass
class _Plan:
    facts: list[str]
    depths: list[float]
    question: str
    answers: list[str]
    distractors: list[str]


def _plan(kind: str, depth: float, names: _Names, rng: random.Random, extra: int) -> _Plan:
    """The question, its fact(s) and the distractor facts of one document."""
    if kind == "multi_hop":
        (first, second), question, answer = rng.choice(_MULTI)
        slots = _slots(names, rng)
        facts = [first.format(**slots), second.format(**slots)]
        other = (depth + 0.5) % 1.0
        if rng.random() < 0.5:
            facts.reverse()
        distractors = []
        for _ in range(extra):
            fake = _slots(names, rng)
            distractors += [first.format(**fake), second.format(**fake)]
        return _Plan(
            facts, [depth, other], question.format(**slots), [answer.format(**slots)], distractors
        )
    statement, question, answer = rng.choice(_SINGLE)
    slots = _slots(names, rng)
    distractors = [statement.format(**_slots(names, rng)) for _ in range(2 * extra)]
    if kind == "absent":
        # The asked-about entity exists nowhere in the document; distractors share its shape.
        return _Plan([], [], question.format(**slots), [], distractors)
    return _Plan(
        [statement.format(**slots)],
        [depth],
        question.format(**slots),
        [answer.format(**slots)],
        distractors,
    )


def _filler_paragraph(
    rng: random.Random, names: _Names, towns: list[str], people: list[str]
) -> str:
    sentences = []
    for _ in range(rng.randint(3, 7)):
        template = rng.choice(_FILLER)
        values = {key: rng.choice(options) for key, options in _VOCAB.items()}
        values.update(
            town=rng.choice(towns),
            town2=rng.choice(towns),
            person=rng.choice(people),
        )
        sentences.append(template.format(**values))
    return " ".join(sentences)


def _insert(paragraph: str, sentence: str, rng: random.Random) -> str:
    """Put a sentence between two sentences of a filler paragraph (never first or last)."""
    parts = paragraph.split(". ")
    at = rng.randint(1, max(1, len(parts) - 1))
    return ". ".join([*parts[:at], sentence.rstrip("."), *parts[at:]])


def make_document(
    target_tokens: int, kind: str, depth: float, *, seed: int, index: int, count: TokenCounter
) -> tuple[str, _Plan, int]:
    """One document of at most `target_tokens` tokens (as close to it as whole paragraphs
    allow) holding the planted facts of its question; returns it with its plan and its size."""
    rng = random.Random(f"agentrun-long-doc-qa:{seed}:{target_tokens}:{index}")
    names = _Names(rng)
    extra = max(1, min(12, target_tokens // 8192 + 1))
    plan = _plan(kind, depth, names, rng, extra)
    towns = [names.town() for _ in range(12)]
    people = [names.person() for _ in range(12)]
    facts_tokens = sum(count(f) + 1 for f in [*plan.facts, *plan.distractors])
    paragraphs: list[str] = []
    costs: list[int] = []
    while sum(costs) + facts_tokens < target_tokens:
        paragraphs.append(_filler_paragraph(rng, names, towns, people))
        costs.append(count(paragraphs[-1]) + 1)  # + the blank line between paragraphs
    # Counts of pieces do not add up exactly: measure the filler once and trim to fit.
    excess = count("\n\n".join(paragraphs)) + facts_tokens - target_tokens
    while excess > 0 and len(paragraphs) > 1:
        excess -= costs.pop()
        paragraphs.pop()
    placements = [(f, d, True) for f, d in zip(plan.facts, plan.depths, strict=True)]
    placements += [(d, rng.random(), False) for d in plan.distractors]
    planted: set[int] = set()
    for sentence, where, is_fact in placements:
        slot = min(len(paragraphs) - 1, int(where * len(paragraphs)))
        paragraphs[slot] = _insert(paragraphs[slot], sentence, rng)
        if is_fact:
            planted.add(slot)
    text = "\n\n".join(paragraphs)
    tokens = count(text)
    while tokens > target_tokens:  # rare: drop the last paragraph that holds no planted fact
        spare = max((i for i in range(len(paragraphs)) if i not in planted), default=None)
        if spare is None:
            break
        del paragraphs[spare]
        planted = {i - 1 if i > spare else i for i in planted}
        text = "\n\n".join(paragraphs)
        tokens = count(text)
    return text, plan, tokens


def generate(
    lengths: Sequence[int],
    per_length: int,
    *,
    seed: int,
    count: TokenCounter,
    kinds: Sequence[str] = KINDS,
) -> list[QAItem]:
    """`per_length` questions at each length; kinds cycle and depths spread evenly over (0, 1)."""
    items: list[QAItem] = []
    for length in lengths:
        for index in range(per_length):
            kind = kinds[index % len(kinds)]
            depth = round((index + 0.5) / per_length, 4)
            text, plan, tokens = make_document(
                length, kind, depth, seed=seed, index=index, count=count
            )
            evidence = []
            for fact in plan.facts:
                start = text.index(fact.rstrip("."))
                end = start + len(fact)
                evidence.append(Evidence(text=text[start:end], start=start, end=end))
            items.append(
                QAItem(
                    id=f"gen-s{seed}-{length}-{index:03d}-{kind}",
                    question=plan.question,
                    answers=plan.answers,
                    context=text,
                    kind=kind,
                    source=f"synthetic(seed={seed})",
                    target_tokens=length,
                    tokens=tokens,
                    depths=plan.depths,
                    evidence=evidence,
                )
            )
    return items
