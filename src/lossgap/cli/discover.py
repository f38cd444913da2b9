"""`lossgap discover`: the slices where the gap departs most from the rest, searched on half of the documents and
estimated on the other half."""

from __future__ import annotations

from typing import Annotated

import typer

from lossgap.analysis.config import DiscoverConfig
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
    "lossgap discover --run runs/olmo --baseline transformer --candidate hybrid",
    "lossgap discover --run runs/olmo --baseline transformer --candidate hybrid --max-conditions 3 --top-k 20",
    "lossgap discover --run runs/olmo --baseline transformer --candidate hybrid --feature domain --feature upos "
    "--feature repeat_len",
    "lossgap discover --run runs/seeds --baseline T-s0 --baseline T-s1 --candidate H-s0 --candidate H-s1",
)


def _gap(x: float) -> str:
    return "—" if x != x else f"{x:+.4f}"


@handles_errors
def discover(
    run: RunOption,
    baseline: Annotated[
        list[str], typer.Option(help="Scored NAME of the baseline (gap = baseline - candidate loss); repeat for seeds.")
    ],
    candidate: Annotated[
        list[str], typer.Option(help="Scored NAME of the candidate (positive gap: candidate better); repeat for seeds.")
    ],
    feature: Annotated[
        list[str] | None,
        typer.Option(
            "--feature",
            help="A column to search (repeatable; default: the usual feature columns the run "
            "has, numeric ones in quantile bins).",
        ),
    ] = None,  # fmt: skip
    max_conditions: Annotated[
        int | None,
        typer.Option(help=with_default("Conditions a slice may join (1 to 3)", DiscoverConfig, "max_conditions")),
    ] = None,
    top_k: Annotated[
        int | None, typer.Option(help=with_default("Slices selected and estimated", DiscoverConfig, "top_k"))
    ] = None,
    criterion: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "How slices are ranked on the search half: t (difference from the rest over "
                "its clustered standard error) | excess (difference x share of tokens)",
                DiscoverConfig,
                "criterion",
            )
        ),
    ] = None,  # fmt: skip
    bins: Annotated[
        int | None, typer.Option(help=with_default("Quantile bins of a numeric column", DiscoverConfig, "bins"))
    ] = None,
    min_tokens: Annotated[
        int | None,
        typer.Option(help=with_default("Tokens a slice needs in the search half", DiscoverConfig, "min_tokens")),
    ] = None,
    min_cut: Annotated[
        float | None,
        typer.Option(
            help=with_default("Share of a parent's tokens a conjunction must leave out", DiscoverConfig, "min_cut")
        ),
    ] = None,  # fmt: skip
    split_seed: Annotated[
        int | None,
        typer.Option(
            help=with_default("Seed of the random split of documents into halves", DiscoverConfig, "split_seed")
        ),
    ] = None,  # fmt: skip
    interval: IntervalOption = None,
    bootstrap: BootstrapOption = None,
    seed: SeedOption = None,
    confidence: ConfidenceOption = None,
    min_eff_docs: MinEffDocsOption = None,
    name: ResultNameOption = None,
    unit: UnitOption = "auto",
) -> None:
    """Search conjunctions of feature values for the slices whose gap departs most from the rest, on a random half
    of the documents; estimate each selected slice on the other half (sample splitting, so the search does not
    inflate the intervals): writes results/NAME/ (default discover-BASELINE-vs-CANDIDATE)."""
    from lossgap.analysis.discover import run_discover

    config = DiscoverConfig(
        baseline=baseline[0],
        candidate=candidate[0],
        baseline_replicates=tuple(baseline[1:]),
        candidate_replicates=tuple(candidate[1:]),
        **given(features=tuple(feature) if feature else None, max_conditions=max_conditions, top_k=top_k,
                criterion=criterion, bins=bins, min_tokens=min_tokens, min_cut=min_cut, split_seed=split_seed,
                interval=interval, bootstrap=bootstrap, seed=seed, confidence=confidence, min_eff_docs=min_eff_docs,
                name=name),
    )  # fmt: skip
    target = analysis_run(run, unit, [*config.baselines, *config.candidates])
    with console.status("searching slices on half of the documents …"):
        result = run_discover(target, config)
    s = result.summary
    console.print(
        f"searched {s.n_scored:,} slices of at most {s.max_conditions} conditions on {s.n_docs_search:,} documents; "
        f"{s.n_selected} selected, estimated on the other {s.n_docs_held:,} documents (sample splitting: the search "
        "does not inflate these intervals)",
        highlight=False,
    )
    for r in result.slices.itertuples(index=False):
        console.print(
            f"{int(r.rank):>3}  {r.conditions}: gap {_gap(r.mean_gap)}, slice - rest {_gap(r.diff)} "
            f"[{_gap(r.diff_ci_low)}, {_gap(r.diff_ci_high)}], {int(r.n_tokens) if r.n_tokens == r.n_tokens else 0:,} tokens",
            highlight=False,
        )
    console.print(f"-> {target.result_dir(config.result_name)}", highlight=False)
