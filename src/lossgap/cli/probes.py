"""`lossgap probes`: generated documents whose marked tokens test copying, recall, state tracking, pronouns and
bracket matching, written as the run's corpus."""

from __future__ import annotations

from typing import Annotated

import typer

from lossgap.cli.common import RunOption, console, examples, given, handles_errors, with_default
from lossgap.probes.config import PROBE_NAMES, ProbesConfig

EPILOG = examples(
    "lossgap probes --run runs/probes                                  # every probe at its default levels",
    "lossgap probes --run runs/probes --probe copy --level copy=8,32,128,512 --docs 50",
    "lossgap score allenai/Olmo-3-1025-7B --run runs/probes --name transformer   # then score, annotate, compare",
    "lossgap compare --run runs/probes --baseline transformer --candidate hybrid",
    'lossgap curves --run runs/probes --series hybrid --mask "probe = \'copy\' AND probe_mark"',
)


def _levels(values: list[str] | None) -> dict[str, tuple[int, ...]] | None:
    from lossgap.errors import ConfigError

    if not values:
        return None
    levels: dict[str, tuple[int, ...]] = {}
    for value in values:
        probe, _, numbers = value.partition("=")
        try:
            levels[probe.strip()] = tuple(int(v) for v in numbers.split(",") if v.strip())
        except ValueError:
            raise ConfigError(f"--level {value}: write PROBE=N,N,… e.g. copy=8,32,128") from None
    return levels


@handles_errors
def probes(
    run: RunOption,
    probe: Annotated[
        list[str] | None, typer.Option("--probe", metavar="NAME", help=f"A probe to generate ({' | '.join(PROBE_NAMES)}); repeatable (default: all).")
    ] = None,
    level: Annotated[
        list[str] | None, typer.Option("--level", metavar="PROBE=N,N", help="The difficulties of a probe; repeatable (defaults: docs/probes.md).")
    ] = None,
    docs: Annotated[int | None, typer.Option(help=with_default("Documents per probe and level", ProbesConfig, "docs"))] = None,
    seed: Annotated[int | None, typer.Option(help=with_default("Seed of the generators", ProbesConfig, "seed"))] = None,
) -> None:
    """Generate probe documents as the run's corpus, with their marks in probes.parquet; annotate adds the marks
    as feature columns (probe, probe_mark, probe_level, probe_distance, probe_source)."""
    from lossgap.probes import run_probes

    config = ProbesConfig(**given(probes=tuple(probe) if probe else None, levels=_levels(level), docs=docs, seed=seed))
    result = run_probes(run, config)
    per = ", ".join(f"{p} {n}" for p, n in result.per_probe.items())
    console.print(f"probes: {result.n_docs:,} documents ({per}), {result.n_marks:,} marks -> {run}", highlight=False)
