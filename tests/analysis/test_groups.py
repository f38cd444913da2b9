"""Group sums and summaries against a pandas groupby on random tokens."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from lossgap.analysis.groups import BootstrapSpec, Grouping, document_sums, summarize_groups
from lossgap.errors import ConfigError


def test_summarize_groups_matches_pandas_groupby() -> None:
    rng = np.random.default_rng(4)
    n = 5000
    tokens = pd.DataFrame(
        {
            "doc_idx": rng.integers(0, 40, n).astype(np.int32),
            "loss_baseline": rng.gamma(2.0, 1.5, n),
            "loss_candidate": rng.gamma(2.0, 1.5, n),
            "upos": rng.choice(["NOUN", "VERB", "DET", None], n),
            "repeat_len": rng.integers(0, 5, n),
        }
    )
    tokens["gap"] = tokens["loss_baseline"] - tokens["loss_candidate"]
    con = duckdb.connect()
    con.register("joined", tokens)
    groupings = [
        Grouping(feature="upos", expr="upos"),
        Grouping(feature="rep", expr="CASE WHEN repeat_len >= 2 THEN 'yes' END"),
    ]
    table = summarize_groups(
        document_sums(con, groupings), groupings, n_docs=40, bootstrap=BootstrapSpec(resamples=50, seed=0, confidence=0.95)
    ).set_index(["feature", "value"])
    for feature, column in (("upos", tokens["upos"]), ("rep", np.where(tokens["repeat_len"] >= 2, "yes", None))):
        frame = tokens.assign(value=column).dropna(subset=["value"])
        for value, rows in frame.groupby("value"):
            row = table.loc[(feature, value)]
            assert row["n_tokens"] == len(rows)
            assert row["n_docs"] == rows["doc_idx"].nunique()
            assert row["mean_gap"] == pytest.approx(rows["gap"].mean(), rel=1e-12)
            assert row["mean_loss_candidate"] == pytest.approx(rows["loss_candidate"].mean(), rel=1e-12)
            assert row["macro_mean_gap"] == pytest.approx(rows.groupby("doc_idx")["gap"].mean().mean(), rel=1e-12)
            assert row["ci_low"] < row["mean_gap"] < row["ci_high"]
    assert len(table) == 4  # NOUN, VERB, DET and yes: null values are in no group


def test_bootstrap_spec_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="--bootstrap"):
        BootstrapSpec(resamples=5, seed=0, confidence=0.95)
    with pytest.raises(ConfigError, match="--confidence"):
        BootstrapSpec(resamples=100, seed=0, confidence=0.2)
