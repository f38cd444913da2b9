"""`lossgap run` (every stage from one TOML file) and `lossgap demo` (the offline demo)."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Annotated

import typer

from lossgap.cli.common import console, examples, given, handles_errors, print_headline, scoring_display

RUN_EPILOG = examples(
    "lossgap run pipeline.toml",
    "",
    "A pipeline file (every stage; paths relative to the file; docs/pipeline.md lists every key):",
    "",
    'run = "runs/olmo"',
    "[corpus]",
    'source = "docs.jsonl"',
    "[[models]]",
    'model = "allenai/Olmo-3-1025-7B"',
    'name = "transformer"',
    "[[models]]",
    'model = "allenai/Olmo-Hybrid-7B"',
    'name = "hybrid"',
    "[compare]",
    'baseline = "transformer"',
    'candidate = "hybrid"',
)
DEMO_EPILOG = examples(
    "lossgap demo                          # writes ./lossgap-demo, prints where the report is",
    "lossgap demo --run /tmp/demo --docs-per-domain 20 --passage-chars 3000 --short-context 128",
)


def _run_on_terminal(pipeline) -> None:  # type: ignore[no-untyped-def]
    """Run a pipeline with a display per scoring and a spinner per other stage; list what ran; the headline."""
    from lossgap.pipeline import run_pipeline
    from lossgap.rundir import RunDir

    with contextlib.ExitStack() as stack:
        outcomes = run_pipeline(
            pipeline,
            scoring=lambda name: stack.enter_context(scoring_display(name)),
            status=lambda stage: console.status(f"{stage} …"),
        )
    for outcome in outcomes:
        state = "ran" if outcome.ran else "current, skipped"
        console.print(f"  {outcome.stage:<28} {state:<17} {outcome.detail}", highlight=False)
    run = RunDir(pipeline.run)
    if pipeline.compare is not None and run.find_result("compare", pipeline.compare.result_name) is not None:
        print_headline(run.read_summary(pipeline.compare.result_name))


@handles_errors
def run(
    config: Annotated[Path, typer.Argument(help="Pipeline file (TOML): run directory, corpus, models, stage options.")],
) -> None:
    """Run corpus, score, annotate, compare, curves and report from one TOML file, skipping stages that are current."""
    from lossgap.pipeline import load_pipeline_config
    from lossgap.rundir import RunDir

    pipeline = load_pipeline_config(config)
    _run_on_terminal(pipeline)
    if pipeline.report is not None:
        console.print(f"report: {RunDir(pipeline.run).report_index}", highlight=False)


@handles_errors
def demo(
    run: Annotated[Path, typer.Option("--run", help="Run directory of the demo.")] = Path("lossgap-demo"),
    docs_per_domain: Annotated[
        int | None, typer.Option(help="Documents of each domain of the bundled corpus (default: 12).")
    ] = None,
    passage_chars: Annotated[
        int | None,
        typer.Option(help="Each document cut to its first passage of at most this many characters (default: 1000)."),
    ] = None,
    short_context: Annotated[
        int | None, typer.Option(help="Context window of the baseline, in tokens (default: 64).")
    ] = None,
) -> None:
    """Offline demo: SmolLM2-135M with full context vs a short window on the bundled corpus, end to end."""
    from lossgap.pipeline import demo_config
    from lossgap.rundir import RunDir

    pipeline = demo_config(run, **given(docs_per_domain=docs_per_domain, passage_chars=passage_chars,
                                        short_context=short_context))  # fmt: skip
    console.print(
        f"lossgap demo: candidate {pipeline.compare.candidate} (full context) vs baseline {pipeline.compare.baseline} "
        f"(windows of {pipeline.models[0].max_length} tokens) on the bundled corpus -> {pipeline.run}",
        highlight=False,
    )
    _run_on_terminal(pipeline)
    curve = RunDir(pipeline.run).read_results("repeat_curve.csv", pipeline.compare.result_name)
    if curve is not None:
        console.print("gap on repeated tokens by distance back to the earlier copy (tokens):", highlight=False)
        for row in curve[curve["kind"] == "repeat_dist"].sort_values("bin_order").itertuples():
            interval = f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}]" if not math.isnan(row.ci_low) else f"({row.note})"
            console.print(
                f"  {row.bin:>12}  n={row.n_tokens:>6,}  gap {row.mean_gap:+.3f}  {interval}", highlight=False
            )
    console.print(f"report: {RunDir(pipeline.run).report_index.resolve()}", highlight=False)
