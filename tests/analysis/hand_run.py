"""A tiny hand-made run whose every number is worked out by hand in the tests (losses exact in float32)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lossgap.rundir import RunDir
from tests.analysis.analysis_runs import write_run

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
        [
            TOKENS,
            pd.DataFrame(
                [("B", 3, "python", " x"), ("B", 4, "python", " y")], columns=["doc_id", "pos", "domain", "token_text"]
            ),
        ],
        ignore_index=True,
    )
    features["tag"] = features["upos"]
    base = pd.concat(
        [
            TOKENS[["doc_id", "pos", "base"]],
            pd.DataFrame([("B", 3, 9.0), ("A", 5, 9.0)], columns=["doc_id", "pos", "base"]),
        ]
    )
    cand = pd.concat(
        [
            TOKENS[["doc_id", "pos", "cand"]],
            pd.DataFrame([("B", 4, 9.0), ("A", 5, 9.0)], columns=["doc_id", "pos", "cand"]),
        ]
    )
    return write_run(
        path,
        features.drop(columns=["base", "cand"]),
        {"base": base.rename(columns={"base": "loss"}), "cand": cand.rename(columns={"cand": "loss"})},
    )


def write_checkpoint_run(path: Path, *, drop_from_late: bool = False) -> RunDir:
    """tf@step100 = the hand run's baseline losses, tf@step200 = those minus 0.5; hy@100 / hy@200 likewise from
    the candidate losses (x1 and x0.5)."""
    keys = TOKENS[["doc_id", "pos"]]
    late = keys.assign(loss=TOKENS["base"] - 0.5)
    if drop_from_late:
        late = late[~((late["doc_id"] == "B") & (late["pos"] == 2))]
    scores = {
        "tf@step100": keys.assign(loss=TOKENS["base"]),
        "tf@step200": late,
        "hy@100": keys.assign(loss=TOKENS["cand"]),
        "hy@200": keys.assign(loss=TOKENS["cand"] * 0.5),
    }
    return write_run(path, TOKENS.drop(columns=["base", "cand"]), scores)
