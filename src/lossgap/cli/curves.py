"""`lossgap curves`: filtered losses of checkpoint series, and their paired differences."""

from __future__ import annotations

from typing import Annotated

import typer

from lossgap.analysis.config import CurvesConfig
from lossgap.cli.common import (
    BootstrapOption,
    ConfidenceOption,
    IntervalOption,
    MinEffDocsOption,
    ResultNameOption,
    RunOption,
    SeedOption,
    UnitOption,
    analysis_run,
    console,
    examples,
    given,
    handles_errors,
    with_default,
)

EPILOG = examples(
    "lossgap curves --run runs/ckpt --series transformer-1b --series hybrid-1b",
    "lossgap curves --run runs/ckpt --series tf --series hy --reference hy --mask content_nonrepeat --mask repeated",
    "lossgap curves --run runs/ckpt --series hy --mask \"upos = 'NOUN' AND repeat_len = 0\" --mask \"domain = 'python'\"",
    "",
    "A series is every scored NAME@STEP of the run (scores named e.g. hybrid-1b@step1000, as `lossgap score",
    "--revision step1000` names them). Mask presets: all, content, function, content_nonrepeat, function_nonrepeat,",
    "repeated (repeat_len >= 2), nonrepeated, open_bracket, close_bracket; anything else is a SQL condition over the",
    'feature columns. A series of several seeds: `lossgap run` with [[curves.series]] label = "hy-s0" seeds =',
    '["hy-s1", "hy-s2"] (docs/analysis.md).',
)


@handles_errors
def curves(
    run: RunOption,
    series: Annotated[
        list[str], typer.Option("--series", help="A model whose checkpoints are scored as NAME@STEP; repeatable.")
    ],
    reference: Annotated[
        str | None, typer.Option(help="The series the others are compared with, paired (default: the first).")
    ] = None,
    mask: Annotated[
        list[str] | None,
        typer.Option("--mask", help=with_default("A preset or SQL condition; repeatable", CurvesConfig, "masks")),
    ] = None,
    interval: IntervalOption = None,
    bootstrap: BootstrapOption = None,
    seed: SeedOption = None,
    confidence: ConfidenceOption = None,
    min_eff_docs: MinEffDocsOption = None,
    name: ResultNameOption = None,
    unit: UnitOption = "auto",
) -> None:
    """Filtered losses (mean loss over token masks) of checkpoint series: writes curves.csv and curves_diff.csv
    into results/NAME/ (default curves-SERIES-…; each curves set of a run keeps its own)."""
    from lossgap.analysis import run_curves
    from lossgap.analysis.config import Series
    from lossgap.analysis.curves import series_names
    from lossgap.rundir import RunDir

    config = CurvesConfig(
        series=tuple(Series(label=label) for label in series),
        **given(reference=reference, masks=tuple(mask) if mask else None, interval=interval, bootstrap=bootstrap,
                seed=seed, confidence=confidence, min_eff_docs=min_eff_docs, name=name),
    )  # fmt: skip
    names = [name for s in config.series for name in series_names(RunDir(run), s)]
    target = analysis_run(run, unit, names)
    with console.status("computing filtered-loss curves …"):
        result = run_curves(target, config)
    console.print(
        f"{len(result.curves):,} rows ({result.curves['name'].nunique()} checkpoints x {result.curves['mask'].nunique()} "
        f"masks), {len(result.differences):,} paired differences -> {target.result_dir(config.result_name)}",
        highlight=False,
    )
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
