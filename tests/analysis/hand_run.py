"""A tiny hand-made run whose every number is worked out by hand in the tests (losses exact in float32)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis_runs import write_run
from lossgap.rundir import RunDir

# doc A (books): The cat ( )   doc B (python): def in
TOKENS = pd.DataFrame(
    [
        # doc_id, pos, domain, token_text, upos, word_class, bracket_kind, bracket_side, repeat_len, repeat_dist, log_freq, base, cand
        ("A", 1, "books", "The", "NOUN", "content", None, "none", 0, None, 1.0, 2.0, 1.5),  # gap 0.5
        ("A", 2, "books", " cat", "DET", "function", None, "none", 1, 1, 3.0, 1.0, 1.25),  # gap -0.25
        ("A", 3, "books", "(", None, "other", "round", "open", 2, 2, 2.0, 3.0, 2.0),  # gap 1.0
        ("A", 4, "books", ")", None, "other", "round", "close", 5, 3, 2.0, 0.5, 0.5),  # gap 0
        ("B", 1, "python", "def", "VERB", "content", None, "none", 0, None, 4.0, 4.0, 3.0),  # gap 1.0
        ("B", 2, "python", " in", "ADP", "function", None, "none", 40, 100, 5.0, 2.0, 2.5),  # gap -0.5
    ],
    columns=["doc_id", "pos", "domain", "token_text", "upos", "word_class", "bracket_kind", "bracket_side",
             "repeat_len", "repeat_dist", "log_freq", "base", "cand"],
)  # fmt: skip
MEAN_GAP = 1.75 / 6


def write_hand_run(path: Path) -> RunDir:
    """The six tokens above, plus one token only the baseline scored (B 3), one only the candidate scored
    (B 4) — both annotated — and one both scored without a features row (A 5)."""
    features = pd.concat(
        [TOKENS, pd.DataFrame([("B", 3, "python", " x"), ("B", 4, "python", " y")], columns=["doc_id", "pos", "domain", "token_text"])],
        ignore_index=True,
    )
    features["tag"] = features["upos"]
    base = pd.concat([TOKENS[["doc_id", "pos", "base"]], pd.DataFrame([("B", 3, 9.0), ("A", 5, 9.0)], columns=["doc_id", "pos", "base"])])
    cand = pd.concat([TOKENS[["doc_id", "pos", "cand"]], pd.DataFrame([("B", 4, 9.0), ("A", 5, 9.0)], columns=["doc_id", "pos", "cand"])])
    return write_run(
        path,
        features.drop(columns=["base", "cand"]),
        {"base": base.rename(columns={"base": "loss"}), "cand": cand.rename(columns={"cand": "loss"})},
    )
