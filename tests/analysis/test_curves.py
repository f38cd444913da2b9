"""curves and masks: series parsing, exact filtered losses on the hand-made run, common token set, bad masks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.analysis.hand_run import write_checkpoint_run
from lossgap.analysis import CurvesConfig, parse_series, run_curves
from lossgap.analysis.masks import resolve_mask
from lossgap.errors import ConfigError, RunDirError


def test_parse_series_reads_steps_and_sorts() -> None:
    points = parse_series("hybrid = hy@step2000, hy@step1000")
    assert [(p.series, p.name, p.step) for p in points] == [("hybrid", "hy@step1000", 1000), ("hybrid", "hy@step2000", 2000)]
    assert parse_series("t=model-7b@300")[0].step == 300


@pytest.mark.parametrize(
    ("spec", "match"),
    [("hy@step1", "LABEL=NAME@STEP"), ("h=", "LABEL=NAME@STEP"), ("h=hybrid-1b", "has no step"),
     ("h=a@step1,b@step1", "appears twice"), ("h=x/y@step1", "invalid model name")],
)  # fmt: skip
def test_parse_series_rejects_malformed(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_series(spec)


def test_curves_config_rejects_duplicate_labels() -> None:
    with pytest.raises(ConfigError, match="labels must differ"):
        CurvesConfig(series=("a=x@1", "a=y@1"))


def test_resolve_mask_presets_domain_and_sql() -> None:
    assert resolve_mask("repeated").condition == "repeat_len >= 2"
    assert resolve_mask("domain:o'brien").condition == "domain = 'o''brien'"
    assert resolve_mask("upos = 'NOUN'").name == "upos = 'NOUN'"
    with pytest.raises(ConfigError, match=";"):
        resolve_mask("TRUE; DROP TABLE x")


def test_curves_exact_filtered_losses(tmp_path: Path) -> None:
    run = write_checkpoint_run(tmp_path)
    config = CurvesConfig(
        series=("transformer=tf@step200,tf@step100", "hybrid=hy@100,hy@200"),
        masks=("all", "content_nonrepeat", "repeated", "domain:python", "upos = 'NOUN'"),
        bootstrap=50,
    )
    table = run_curves(run, config)
    on_disk = pd.read_csv(run.results_path("curves.csv"))
    assert on_disk.columns.tolist() == ["series", "step", "name", "mask", "n_tokens", "mean_loss", "ci_low", "ci_high"]
    got = table.set_index(["name", "mask"])
    # baseline losses 2, 1, 3, 0.5 | 4, 2 ; candidate 1.5, 1.25, 2, 0.5 | 3, 2.5
    assert got.loc[("tf@step100", "all"), "mean_loss"] == pytest.approx(12.5 / 6)
    assert got.loc[("tf@step200", "all"), "mean_loss"] == pytest.approx(12.5 / 6 - 0.5)
    assert got.loc[("tf@step100", "content_nonrepeat"), ["n_tokens", "mean_loss"]].tolist() == [2, 3.0]
    assert got.loc[("tf@step100", "repeated"), "mean_loss"] == pytest.approx(5.5 / 3)
    assert got.loc[("hy@200", "domain:python"), "mean_loss"] == pytest.approx((3.0 + 2.5) / 4)
    assert got.loc[("hy@100", "upos = 'NOUN'"), "mean_loss"] == 1.5
    # rows in series order, steps ascending
    assert table[["series", "step"]].drop_duplicates().values.tolist() == [
        ["transformer", 100], ["transformer", 200], ["hybrid", 100], ["hybrid", 200]
    ]
    # two documents: the interval lies between the one-document means (A: 6.5/4, B: 6/2)
    row = got.loc[("tf@step100", "all")]
    assert 6.5 / 4 <= row["ci_low"] <= row["mean_loss"] <= row["ci_high"] <= 3.0


def test_curves_use_tokens_common_to_all_checkpoints(tmp_path: Path) -> None:
    run = write_checkpoint_run(tmp_path, drop_from_late=True)
    table = run_curves(run, CurvesConfig(series=("t=tf@step100,tf@step200",), masks=("all",), bootstrap=20))
    assert table["n_tokens"].tolist() == [5, 5]
    assert table["mean_loss"].iloc[0] == pytest.approx(10.5 / 5)


@pytest.mark.parametrize(
    ("mask", "match"),
    [("colour = 'red'", "colour"), ("upos = 'INTJ'", "selects no token"), ("loss > 1", "not a valid condition"),
     ("repeat_len >>> 2", "not a valid condition")],
)  # fmt: skip
def test_curves_bad_mask_writes_nothing(tmp_path: Path, mask: str, match: str) -> None:
    run = write_checkpoint_run(tmp_path)
    with pytest.raises(ConfigError, match=match):
        run_curves(run, CurvesConfig(series=("t=tf@step100",), masks=("all", mask), bootstrap=20))
    assert not run.results_dir.exists()


def test_curves_unscored_checkpoint_writes_nothing(tmp_path: Path) -> None:
    run = write_checkpoint_run(tmp_path)
    with pytest.raises(RunDirError, match="tf@step300"):
        run_curves(run, CurvesConfig(series=("t=tf@step100,tf@step300",), bootstrap=20))
    assert not run.results_dir.exists()
