"""curves: exact filtered losses and paired differences on the hand-made run, common tokens, a planted paired
lead that marginal intervals hide, series and masks given wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lossgap.analysis import CurvesConfig, Series, run_curves
from lossgap.errors import ConfigError
from lossgap.rundir.categories import DEFAULT_MASKS, resolve_mask
from tests.analysis.analysis_runs import write_run
from tests.analysis.hand_run import write_checkpoint_run


def test_series_steps_and_bad_series() -> None:
    assert Series(label="hy", names=("hy@step2000", "hy@100")).names == ("hy@step2000", "hy@100")
    with pytest.raises(ConfigError, match="has no step"):
        Series(label="h", names=("hybrid-1b",))
    with pytest.raises(ConfigError, match="appears twice"):
        Series(label="h", names=("a@step1", "b@step1"))
    with pytest.raises(ConfigError, match="invalid model name"):
        Series(label="h", names=("x/y@step1",))
    with pytest.raises(ConfigError, match="labels must differ"):
        CurvesConfig(series=(Series(label="a"), Series(label="a")))
    with pytest.raises(ConfigError, match="--reference 'c'"):
        CurvesConfig(series=(Series(label="a"), Series(label="b")), reference="c")


def test_resolve_mask_presets_and_sql() -> None:
    assert resolve_mask("repeated").condition == "repeat_len >= 2"
    assert resolve_mask("upos = 'NOUN'").name == "upos = 'NOUN'"
    with pytest.raises(ConfigError, match="domain = 'python'"):  # the old shorthand says what to write instead
        resolve_mask("domain:python")
    with pytest.raises(ConfigError, match=";"):
        resolve_mask("TRUE; DROP TABLE x")


@pytest.fixture()
def hand_curves(tmp_path: Path):  # type: ignore[no-untyped-def]
    run = write_checkpoint_run(tmp_path)
    config = CurvesConfig(series=(Series(label="tf"), Series(label="hy")),
                          masks=("all", "content_nonrepeat", "repeated", "domain = 'python'", "upos = 'NOUN'"))  # fmt: skip
    return run, run_curves(run, config)


def test_curves_exact_filtered_losses(hand_curves) -> None:  # type: ignore[no-untyped-def]
    run, result = hand_curves
    on_disk = run.read_results("curves.csv")
    assert on_disk.columns.tolist()[:4] == ["series", "step", "name", "mask"]
    got = result.curves.set_index(["name", "mask"])
    # baseline losses 2, 1, 3, 0.5 | 4, 2 ; candidate 1.5, 1.25, 2, 0.5 | 3, 2.5
    assert got.loc[("tf@step100", "all"), "mean_loss"] == pytest.approx(12.5 / 6)
    assert got.loc[("tf@step200", "all"), "mean_loss"] == pytest.approx(12.5 / 6 - 0.5)
    assert got.loc[("tf@step100", "content_nonrepeat"), ["n_tokens", "mean_loss"]].tolist() == [2, 3.0]
    assert got.loc[("tf@step100", "repeated"), "mean_loss"] == pytest.approx(5.5 / 3)
    assert got.loc[("hy@200", "domain = 'python'"), "mean_loss"] == pytest.approx((3.0 + 2.5) / 4)
    assert got.loc[("hy@100", "upos = 'NOUN'"), "mean_loss"] == 1.5
    # every scored tf@STEP and hy@STEP of the run, series in the order given, steps ascending
    assert result.curves[["series", "step"]].drop_duplicates().values.tolist() == [
        ["tf", 100],
        ["tf", 200],
        ["hy", 100],
        ["hy", 200],
    ]
    assert got["ci_low"].isna().all()  # two documents: no interval, and each row says why
    assert (got["note"] != "").all()


def test_curves_paired_differences_and_difference_in_differences(hand_curves) -> None:  # type: ignore[no-untyped-def]
    _, result = hand_curves
    diff = result.differences.set_index(["step", "mask"])
    # reference tf (the first series): tf@100 - hy@100 over all tokens = (12.5 - 10.75) / 6
    assert diff.loc[(100, "all"), "estimate"] == pytest.approx(1.75 / 6)
    assert (diff["series"] == "hy").all() and (diff["reference"] == "tf").all()
    # step 200: tf - 0.5 and hy x 0.5 -> (12.5 - 3) - 10.75 / 2 over 6 tokens
    assert diff.loc[(200, "all"), "estimate"] == pytest.approx((12.5 - 3.0 - 10.75 / 2) / 6)
    # content_nonrepeat at 100: tokens A1 (2 vs 1.5) and B1 (4 vs 3): 0.75; the other four tokens differ by
    # 1.75 - 1.5 = 0.25 in all, 0.0625 each: the difference-in-differences is mask minus rest
    assert diff.loc[(100, "content_nonrepeat"), "estimate"] == pytest.approx(0.75)
    assert diff.loc[(100, "content_nonrepeat"), "did_estimate"] == pytest.approx(0.75 - 0.25 / 4)
    # relative to the reference's loss on the same tokens: 1.5 over tf@100's 2 + 4; the rest 0.25 over 1 + 3 + 0.5 + 2
    assert diff.loc[(100, "content_nonrepeat"), "rel_estimate"] == pytest.approx(1.5 / 6)
    assert diff.loc[(100, "content_nonrepeat"), "rel_did_estimate"] == pytest.approx(1.5 / 6 - 0.25 / 6.5)
    assert diff.loc[(100, "all"), "rel_estimate"] == pytest.approx(1.75 / 12.5)
    assert np.isnan(diff.loc[(100, "all"), "did_estimate"])
    # python tokens are all in document B, none in A: A's tokens count in the complement alone. B1, B2 differ by
    # (4 - 3) + (2 - 2.5) = 0.5 over 2 tokens; A's four by 1.75 - 0.5 = 1.25 over 4
    python = diff.loc[(100, "domain = 'python'")]
    assert python["estimate"] == pytest.approx(0.25) and python["did_estimate"] == pytest.approx(0.25 - 1.25 / 4)


def test_paired_difference_is_narrow_where_marginal_intervals_overlap(tmp_path: Path) -> None:
    """A series 0.015 nats better on every token, over documents of very different difficulty: the marginal
    intervals overlap completely, the paired difference is measured to a few thousandths and covers 0.015."""
    rng = np.random.default_rng(5)
    n_docs, per_doc = 120, 50
    doc = np.repeat(np.arange(n_docs), per_doc)
    difficulty = rng.normal(3.0, 0.6, n_docs)[doc]
    reference = difficulty + rng.normal(0, 1.0, doc.size)
    other = reference - 0.015 + rng.normal(0, 0.02, doc.size)
    keys = pd.DataFrame(
        {"doc_id": [f"d{d:03d}" for d in doc], "pos": np.tile(np.arange(1, per_doc + 1), n_docs).astype(np.int32)}
    )
    run = write_run(tmp_path, keys.assign(word_class="content"),
                    {"tf@step1": keys.assign(loss=reference), "hy@step1": keys.assign(loss=other)})  # fmt: skip
    result = run_curves(run, CurvesConfig(series=(Series(label="tf"), Series(label="hy")), masks=("all",)))
    curves = result.curves.set_index("series")
    assert (
        curves.loc["hy", "ci_low"] < curves.loc["tf", "ci_high"]
        and curves.loc["tf", "ci_low"] < curves.loc["hy", "ci_high"]
    )
    diff = result.differences.iloc[0]
    assert diff["ci_low"] <= 0.015 <= diff["ci_high"] and diff["ci_high"] - diff["ci_low"] < 0.01
    assert diff["ci_low"] > 0  # the lead is real, and the paired interval shows it


def test_curves_use_tokens_common_to_all_checkpoints(tmp_path: Path) -> None:
    run = write_checkpoint_run(tmp_path, drop_from_late=True)
    result = run_curves(run, CurvesConfig(series=(Series(label="tf"),), masks=("all",)))
    assert result.curves["n_tokens"].tolist() == [5, 5]
    assert result.curves["mean_loss"].iloc[0] == pytest.approx(10.5 / 5)


@pytest.mark.parametrize(
    ("mask", "match"),
    [("colour = 'red'", "colour"), ("upos = 'INTJ'", "selects no"), ("loss > 1", "not a valid condition"),
     ("repeat_len >>> 2", "not a valid condition")],
)  # fmt: skip
def test_curves_bad_mask_writes_nothing(tmp_path: Path, mask: str, match: str) -> None:
    run = write_checkpoint_run(tmp_path)
    with pytest.raises(ConfigError, match=match):
        run_curves(run, CurvesConfig(series=(Series(label="tf"),), masks=("all", mask)))
    assert not run.results_dir.exists()


def test_curves_unscored_checkpoint_or_series_writes_nothing(tmp_path: Path) -> None:
    run = write_checkpoint_run(tmp_path)
    with pytest.raises(ConfigError, match="tf@step300"):
        run_curves(run, CurvesConfig(series=(Series(label="tf", names=("tf@step100", "tf@step300")),)))
    with pytest.raises(ConfigError, match="no scored name gpt@STEP"):
        run_curves(run, CurvesConfig(series=(Series(label="gpt"),)))
    assert not run.results_dir.exists()


def test_difference_in_differences_with_a_code_share_is_mask_minus_complement(tmp_path: Path) -> None:
    """Planted: the second series leads by 0.03 nats more on repeated tokens than on the others; a fifth of the
    documents are code, with no content word at all. Every default mask gets its difference-in-differences (none
    is missing for want of a document with the mask's tokens), repeated and nonrepeated get equal and opposite
    ones, and the repeated one's interval covers the planted 0.03."""
    rng = np.random.default_rng(11)
    rows = []
    for d in range(80):
        code = d % 5 == 0
        for pos in range(1, 61):
            repeated = rng.random() < 0.3
            rows.append((f"d{d:02d}", pos, "python" if code else "books", None if code else ("content" if rng.random() < 0.5 else "function"),
                         2 if repeated else 0))  # fmt: skip
    tokens = pd.DataFrame(rows, columns=["doc_id", "pos", "domain", "word_class", "repeat_len"])
    tokens["pos"] = tokens["pos"].astype(np.int32)
    base = rng.normal(3.0, 0.5, 80)[tokens["doc_id"].str[1:].astype(int)] + rng.normal(0, 1.0, len(tokens))
    lead = 0.01 + 0.03 * (tokens["repeat_len"] >= 2) + rng.normal(0, 0.05, len(tokens))
    keys = tokens[["doc_id", "pos"]]
    run = write_run(tmp_path, tokens, {"tf@step1": keys.assign(loss=base), "hy@step1": keys.assign(loss=base - lead)})
    result = run_curves(run, CurvesConfig(series=(Series(label="tf"), Series(label="hy"))))
    diff = result.differences.set_index("mask")
    assert diff.drop(index="all")["did_estimate"].notna().all(), diff["note"]
    assert diff.loc["repeated", "did_estimate"] == pytest.approx(-diff.loc["nonrepeated", "did_estimate"])
    assert diff.loc["repeated", "did_ci_low"] <= 0.03 <= diff.loc["repeated", "did_ci_high"]
    assert diff.loc["repeated", "did_ci_low"] > 0
    # the corpus has no brackets: the default bracket masks are left out; asked for by name, one is an error
    assert set(result.curves["mask"]) == set(DEFAULT_MASKS) - {"open_bracket", "close_bracket"}
    with pytest.raises(ConfigError, match="--mask 'open_bracket' selects no scored token"):
        run_curves(run, CurvesConfig(series=(Series(label="tf"), Series(label="hy")), masks=("all", "open_bracket")))
