"""Token keys: matching against a brute-force set intersection, repeated keys, and row order not mattering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.analysis.hand_run import write_hand_run
from lossgap.analysis import CompareConfig, run_compare
from lossgap.analysis.keys import dense_documents, match_keys
from lossgap.errors import RunDirError


def test_match_keys_equals_brute_force_on_unsorted_keys() -> None:
    rng = np.random.default_rng(0)
    left = rng.permutation(np.unique(rng.integers(0, 5000, 3000)))
    right = rng.permutation(np.unique(rng.integers(0, 5000, 3000)))
    left[:5] = -1  # keys of unknown documents never match
    li, ri = match_keys(left, right, Path("l"), Path("r"))
    assert np.array_equal(left[li], right[ri])
    assert np.all(np.diff(left[li]) > 0)  # increasing key order
    assert set(left[li]) == set(left[left >= 0]) & set(right)


def test_match_keys_rejects_repeated_keys() -> None:
    with pytest.raises(RunDirError, match="repeated"):
        match_keys(np.array([3, 1, 3]), np.array([1, 3]), Path("scores/x.parquet"), Path("features.parquet"))


def test_dense_documents_renumbers_gaps() -> None:
    keys = np.array([(2 << 32) | 1, (2 << 32) | 2, (7 << 32) | 1, (9 << 32) | 4])
    doc_idx, numbers = dense_documents(keys)
    assert doc_idx.tolist() == [0, 0, 1, 2] and numbers.tolist() == [2, 7, 9]


def test_compare_does_not_depend_on_row_order(tmp_path: Path) -> None:
    ordered = write_hand_run(tmp_path / "ordered")
    shuffled = write_hand_run(tmp_path / "shuffled")
    for path in [shuffled.features_path, shuffled.scores_path("base"), shuffled.scores_path("cand")]:
        table = pq.read_table(path)
        pq.write_table(table.take(pa.array(np.random.default_rng(1).permutation(table.num_rows))), path)
    config = CompareConfig(baseline="base", candidate="cand", bootstrap=50, segment_tokens=2)
    a, b = run_compare(ordered, config), run_compare(shuffled, config)
    pd.testing.assert_frame_equal(a.categories, b.categories)
    pd.testing.assert_frame_equal(a.top_segments, b.top_segments)
    assert a.summary() == b.summary()


def test_compare_repeated_token_in_scores_is_an_error(tmp_path: Path) -> None:
    run = write_hand_run(tmp_path)
    table = pq.read_table(run.scores_path("cand"))
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), run.scores_path("cand"))
    with pytest.raises(RunDirError, match="cand.parquet: 1 repeated"):
        run_compare(run, CompareConfig(baseline="base", candidate="cand", bootstrap=20))
    assert not run.results_dir.exists()
