"""Probe documents: generated text whose marked characters test one ability, at a chosen difficulty.

Every generator is a function (rng, level) -> ProbeDoc, deterministic given the generator's state. A mark is a
character span of the text (the *target*: what the model must predict) and the span it depends on (the
*source*: what an exact lookup or a running account must use). `lossgap.features.probes` maps marks onto each
tokenization; a mark with `skip_first` leaves out its first token (the first token of a copy cannot be
predicted: only after it does the copy become recognisable).

- copy: a string of `level` random pseudo-words, a short filler, the same string again. Marked: the second copy
  after its first token. Source: the first copy. Attention copies; a fixed-size recurrent state holds only so
  many words (Jelassi et al. 2024, "Repeat After Me").
- copy_distance: the same with a string of COPY_DISTANCE_WORDS words and `level` filler sentences between the
  copies: the distance to copy from, at a string length fixed. A recurrent state must carry the string across
  the filler; attention looks it up at any distance.
- recall: `level` key–value pairs of pseudo-words, then eight keys queried. Marked: each queried value. Source:
  that pair. The multi-query associative recall of Zoology (Arora et al. 2023).
- tracking: three objects in four containers, `level` moves, then where each object is. Marked: the answered
  container. Source: the object's last move (or its first placement). State tracking, as in entity-tracking
  evaluations (Kim & Schuster 2023).
- pronoun: three people with invented, gender-neutral names and stated pronouns (she/her, he/him, they/them),
  `level` filler sentences, then each person does something with a possessive. Marked: the possessive, which
  only the stated pronouns decide. Source: the statement of that person's pronouns.
- brackets: nested brackets of depth `level`, in prose (round, square, curly), code (calls, indexing,
  dictionaries) or markup (HTML tags) flavour, with words inside. Marked: every closing bracket; of a closing tag
  the name alone (the tokens that overlap it and lie within the tag: `</`, `>` and a token reaching into the next
  tag are not marked); its level is the nesting depth of that bracket. Source: its opener. Dyck-language matching (Hahn 2020;
  Bhattamishra et al. 2020).

Pseudo-words are syllables drawn at random ("tavo", "kelmi"), so a model's knowledge of English does not help.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PROBES", "Mark", "ProbeDoc", "pseudo_word"]


@dataclass(frozen=True)
class Mark:
    """Target characters [start, end) of the text and the source characters [src_start, src_end) they depend
    on; `level`: the difficulty of this mark (a bracket's depth; elsewhere the document's level)."""

    start: int
    end: int
    src_start: int
    src_end: int
    level: int
    skip_first: bool = False
    # a container the marked tokens must lie within, -1 for none (rundir.PROBES_ADDED): a closing tag's mark is
    # its name (what tests the matching), within the whole tag
    within_start: int = -1
    within_end: int = -1


@dataclass
class ProbeDoc:
    """A probe document, built piece by piece: `add` appends text and returns its span."""

    level: int
    text: str = ""
    marks: list[Mark] = field(default_factory=list)

    def add(self, piece: str) -> tuple[int, int]:
        start = len(self.text)
        self.text += piece
        return start, len(self.text)


_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "kl", "tr", "st")
_VOWELS = ("a", "e", "i", "o", "u")
_CODAS = ("", "", "", "n", "l", "r", "s", "k")
NAMES = ("Ren", "Kai", "Ash", "Sol", "Noor", "Remy", "Jules", "Avery", "Quinn", "Rowan", "Sasha", "Tenzin", "Arin",
         "Emery", "Lior", "Oakley", "Sage", "Indigo", "Marlo", "Eden")  # fmt: skip
PRONOUNS = (("she/her", "her"), ("he/him", "his"), ("they/them", "their"))
OBJECTS = ("apple", "coin", "key", "ring", "stone", "pen", "shell", "card", "bell", "cup")
CONTAINERS = ("box", "bag", "jar", "basket", "drawer", "crate", "pot", "tin")
THINGS = ("cup", "book", "coat", "bag", "lamp", "bike", "map", "scarf")
ACTIONS = ("picked up", "put down", "cleaned", "found", "looked at", "moved")
FILLER = ("The morning was quiet.", "A train passed in the distance.", "The shop opened at nine.",
          "Rain was expected later.", "The street smelled of bread.", "Someone was whistling outside.",
          "The clock on the wall was slow.", "A dog barked twice.", "The window was half open.",
          "Clouds moved over the hills.")  # fmt: skip


def pseudo_word(rng: np.random.Generator) -> str:
    """Two or three random syllables."""
    n = int(rng.integers(2, 4))
    return "".join(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                   + (_CODAS[rng.integers(len(_CODAS))] if i == n - 1 else "") for i in range(n))  # fmt: skip


def _distinct_words(rng: np.random.Generator, n: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(pseudo_word(rng), None)
    return list(seen)


def _copy_doc(level: int, words: list[str], filler: list[str]) -> ProbeDoc:
    doc = ProbeDoc(level)
    doc.add("Copy the list exactly.\n")
    source = doc.add(" ".join(words))
    doc.add("\n" + " ".join(filler) + "\nAgain:\n")
    target = doc.add(" ".join(words))
    doc.add("\n")
    doc.marks.append(Mark(*target, *source, level, skip_first=True))
    return doc


def copy_probe(rng: np.random.Generator, level: int) -> ProbeDoc:
    words = [pseudo_word(rng) for _ in range(level)]
    return _copy_doc(level, words, [FILLER[i] for i in rng.permutation(len(FILLER))[:2]])


COPY_DISTANCE_WORDS = 32


def copy_distance_probe(rng: np.random.Generator, level: int) -> ProbeDoc:
    words = [pseudo_word(rng) for _ in range(COPY_DISTANCE_WORDS)]
    return _copy_doc(level, words, [FILLER[i] for i in rng.integers(len(FILLER), size=level)])


def recall_probe(rng: np.random.Generator, level: int, queries: int = 8) -> ProbeDoc:
    doc = ProbeDoc(level)
    words = _distinct_words(rng, 2 * level)
    keys, values = words[:level], words[level:]
    doc.add("Pairs:\n")
    pairs = []
    for key, value in zip(keys, values, strict=True):
        line = doc.add(f"{key}: ")
        value_span = doc.add(value)
        doc.add("\n")
        pairs.append((line[0], value_span[1]))
    doc.add("Queries:\n")
    for i in rng.choice(level, size=min(queries, level), replace=False):  # each key once: no answer to copy
        doc.add(f"{keys[i]}:")
        target = doc.add(f" {values[i]}")
        doc.add("\n")
        doc.marks.append(Mark(*target, *pairs[i], level))
    return doc


def _place(rng: np.random.Generator, doc: ProbeDoc) -> tuple[list[str], list[str], dict[str, str], dict]:
    """A tracking story's start: three objects, each placed in one of four containers. Returns the objects, the
    containers, where each object is and the span of the sentence that last put it there."""
    objects = [OBJECTS[i] for i in rng.permutation(len(OBJECTS))[:3]]
    containers = [CONTAINERS[i] for i in rng.permutation(len(CONTAINERS))[:4]]
    where, changed = {}, {}
    for obj in objects:
        where[obj] = containers[rng.integers(len(containers))]
        changed[obj] = doc.add(f"The {obj} is in the {where[obj]}.")
        doc.add(" ")
    return objects, containers, where, changed


def _move(rng: np.random.Generator, doc: ProbeDoc, objects: list[str], containers: list[str], where: dict[str, str],
          changed: dict) -> None:  # fmt: skip
    """One step: a random object to another container, named in the sentence."""
    obj = objects[rng.integers(len(objects))]
    to = [c for c in containers if c != where[obj]][rng.integers(len(containers) - 1)]
    where[obj] = to
    changed[obj] = doc.add(f"Move the {obj} to the {to}.")


def _ask(rng: np.random.Generator, doc: ProbeDoc, objects: list[str], where: dict[str, str], changed: dict) -> None:
    """The questions, objects in random order: each answered container is a mark whose source is the sentence
    that last changed where the object is."""
    doc.add("\nNow:")
    for i in rng.permutation(len(objects)):
        obj = objects[i]
        doc.add(f" The {obj} is in the")
        target = doc.add(f" {where[obj]}")
        doc.add(".")
        doc.marks.append(Mark(*target, *changed[obj], doc.level))
    doc.add("\n")


def tracking_probe(rng: np.random.Generator, level: int) -> ProbeDoc:
    doc = ProbeDoc(level)
    objects, containers, where, changed = _place(rng, doc)
    for _ in range(level):
        _move(rng, doc, objects, containers, where, changed)
        doc.add(" ")
    _ask(rng, doc, objects, where, changed)
    return doc


def tracking_swap_probe(rng: np.random.Generator, level: int) -> ProbeDoc:
    """Tracking that needs composition: besides moves, swaps of two containers' contents ("Swap the jar and the
    box."), which move objects without naming them, so that looking up the object's last mention is often wrong.
    The source of an answer is the sentence that last changed where its object is (a move, a swap or its
    placement). Each step is a swap with probability one half, and always a swap of two containers one of which
    holds an object, so that every swap moves something."""
    doc = ProbeDoc(level)
    objects, containers, where, changed = _place(rng, doc)
    for _ in range(level):
        if rng.random() < 0.5:
            held = sorted({where[o] for o in objects}, key=containers.index)
            a = held[rng.integers(len(held))]
            b = [c for c in containers if c != a][rng.integers(len(containers) - 1)]
            span = doc.add(f"Swap the {a} and the {b}.")
            for obj in objects:
                if where[obj] in (a, b):
                    where[obj] = b if where[obj] == a else a
                    changed[obj] = span
        else:
            _move(rng, doc, objects, containers, where, changed)
        doc.add(" ")
    _ask(rng, doc, objects, where, changed)
    return doc


def pronoun_probe(rng: np.random.Generator, level: int) -> ProbeDoc:
    doc = ProbeDoc(level)
    people = [NAMES[i] for i in rng.permutation(len(NAMES))[:3]]
    pronouns = [PRONOUNS[i] for i in rng.permutation(len(PRONOUNS))]
    stated = {}
    for person, (statement, _) in zip(people, pronouns, strict=True):
        stated[person] = doc.add(f"{person} uses {statement}.")
        doc.add(" ")
    for _ in range(level):
        doc.add(FILLER[rng.integers(len(FILLER))] + " ")
    for i in rng.permutation(3):
        person, (_, possessive) = people[i], pronouns[i]
        action, thing = ACTIONS[rng.integers(len(ACTIONS))], THINGS[rng.integers(len(THINGS))]
        doc.add(f"{person} {action}")
        target = doc.add(f" {possessive}")
        doc.add(f" {thing}. ")
        doc.marks.append(Mark(*target, *stated[person], level))
    doc.text = doc.text.rstrip(" ") + "\n"
    return doc


_FLAVOURS = {
    "prose": (("(", ")"), ("[", "]"), ("{", "}")),
    "code": (("f(", ")"), ("x[", "]"), ("{", "}")),
    "markup": (("<b>", "</b>"), ("<i>", "</i>"), ("<span>", "</span>")),
}


def brackets_probe(rng: np.random.Generator, level: int) -> ProbeDoc:
    """Nested groups: each level opens a bracket, writes a word or two, nests (until `level`), closes. Two such
    groups side by side, so closers at every depth appear more than once."""
    doc = ProbeDoc(level)
    flavour = ("prose", "code", "markup")[int(rng.integers(3))]
    pairs = _FLAVOURS[flavour]

    def group(depth: int) -> None:
        opener, closer = pairs[int(rng.integers(len(pairs)))]
        source = doc.add(opener)
        doc.add(pseudo_word(rng))
        if depth < level:
            doc.add(" ")
            group(depth + 1)
        doc.add(" " + pseudo_word(rng))
        start, end = doc.add(closer)
        if closer.startswith("</"):  # a closing tag: only its name tests which opener it matches
            doc.marks.append(Mark(start + 2, end - 1, *source, depth, within_start=start, within_end=end))
        else:
            doc.marks.append(Mark(start, end, *source, depth))

    doc.add({"prose": "Note ", "code": "y = ", "markup": "<p>"}[flavour])
    group(1)
    doc.add(" and " if flavour != "code" else " + ")
    group(1)
    doc.add({"prose": ".\n", "code": "\n", "markup": "</p>\n"}[flavour])
    return doc


PROBES: dict[str, Callable[[np.random.Generator, int], ProbeDoc]] = {
    "copy": copy_probe,
    "copy_distance": copy_distance_probe,
    "recall": recall_probe,
    "tracking": tracking_probe,
    "pronoun": pronoun_probe,
    "brackets": brackets_probe,
    "tracking_swap": tracking_swap_probe,
}
