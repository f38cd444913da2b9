"""`lossgap compare`: where the candidate beats the baseline, per category and contrast, with intervals."""

from __future__ import annotations

from typing import Annotated

import typer

from lossgap.analysis.config import CONTROLS, CompareConfig
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
    print_headline,
    with_default,
)

EPILOG = examples(
    "lossgap compare --run runs/olmo --baseline transformer --candidate hybrid",
    "lossgap compare --run runs/olmo --baseline transformer --candidate hybrid --by code_class --cross domain upos",
    "lossgap compare --run runs/olmo --baseline transformer --candidate hybrid --by upos --reference upos NOUN",
    "lossgap compare --run runs/olmo --baseline transformer --candidate hybrid --interval bootstrap --bootstrap 2000",
    "lossgap compare --run runs/seeds --baseline T-s0 --baseline T-s1 --baseline T-s2 --candidate H-s0 --candidate H-s1 --candidate H-s2",
    "lossgap compare --run runs/mixed --baseline olmo3 --candidate smollm2 --unit word   # different tokenizers",
)


@handles_errors
def compare(
    run: RunOption,
    baseline: Annotated[
        list[str],
        typer.Option(
            help="Scored NAME of the baseline (gap = baseline - candidate loss); "
            "repeat for seed replicates (models trained alike, other seeds): intervals then cover seeds too."
        ),
    ],
    candidate: Annotated[
        list[str],
        typer.Option(help="Scored NAME of the candidate (positive gap: candidate better); repeat for seed replicates."),
    ],
    by: Annotated[
        list[str] | None, typer.Option("--by", help="An extra grouping by a feature column; repeatable.")
    ] = None,
    cross: Annotated[
        tuple[str, str] | None,
        typer.Option(
            metavar="COLUMN COLUMN", help="An extra grouping by two feature columns crossed (more: the TOML file)."
        ),
    ] = None,
    reference: Annotated[
        tuple[str, str] | None,
        typer.Option(
            metavar="GROUPING LEVEL",
            help="The reference level of a grouping's contrasts (default: its most "
            "frequent level); a crossed grouping is named COL1+COL2 (more: the TOML file).",
        ),
    ] = None,
    no_default_groupings: Annotated[
        bool, typer.Option("--no-default-groupings", help="Only the --by groupings in categories.csv.")
    ] = False,
    control: Annotated[
        list[str] | None,
        typer.Option(
            help=with_default(
                f"What the regression holds fixed: {' | '.join(CONTROLS)}; repeatable", CompareConfig, "controls"
            )
        ),
    ] = None,
    interval: IntervalOption = None,
    bootstrap: BootstrapOption = None,
    seed: SeedOption = None,
    confidence: ConfidenceOption = None,
    min_eff_docs: MinEffDocsOption = None,
    primary: Annotated[
        list[str] | None,
        typer.Option(
            "--primary",
            help=(
                "A family of contrasts declared before looking (word_class, existential_there, brackets, repetition, "
                "repeat_len_bin, upos, by COLUMN); repeatable. contrasts.csv's p_primary adjusts the declared ones together "
                "(Holm)."
            ),
        ),
    ] = None,  # fmt: skip
    top_k: Annotated[
        int | None, typer.Option(help=with_default("Rows per direction in the top_* tables", CompareConfig, "top_k"))
    ] = None,
    name: ResultNameOption = None,
    unit: UnitOption = "auto",
) -> None:
    """Gap between two scorings per category, contrasts raw and regression-adjusted, repeat curve, top tokens:
    writes results/NAME/ (default BASELINE-vs-CANDIDATE; each comparison of a run keeps its own)."""
    from lossgap.analysis import run_compare

    groupings = [(column,) for column in by or []] + ([tuple(cross)] if cross else [])
    config = CompareConfig(
        baseline=baseline[0],
        candidate=candidate[0],
        baseline_replicates=tuple(baseline[1:]),
        candidate_replicates=tuple(candidate[1:]),
        **given(by=tuple(groupings) or None, references=(tuple(reference),) if reference else None,
                controls=tuple(control) if control else None, interval=interval, bootstrap=bootstrap, seed=seed,
                confidence=confidence, min_eff_docs=min_eff_docs, top_k=top_k,
                primary=tuple(primary) if primary else None, name=name),
        default_groupings=not no_default_groupings,
    )  # fmt: skip
    target = analysis_run(run, unit, [*config.baselines, *config.candidates])
    with console.status("comparing: category means, contrasts, regression …"):
        result = run_compare(target, config)
    print_headline(result.summary)
    unit_record = target.manifest().unit
    what = "tokens" if unit_record is None else f"{unit_record.unit}s"
    missing = result.missing
    if missing.baseline_only or missing.candidate_only or missing.no_features:
        console.print(
            f"left out: {missing.baseline_only:,} {what} only in {baseline[0]}, {missing.candidate_only:,} only in "
            f"{candidate[0]}, {missing.no_features:,} without features",
            highlight=False,
        )
    console.print(
        f"{result.n_tokens:,} {what} in {result.n_docs:,} documents -> {target.result_dir(config.result_name)}",
        highlight=False,
    )
