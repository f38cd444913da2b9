"""`lossgap probes`: generated documents whose marked tokens test copying, recall, state tracking, pronouns and
bracket matching, written as the run's corpus."""

from __future__ import annotations

from typing import Annotated

import typer

from lossgap.cli.common import RunOption, console, examples, given, handles_errors, with_default
from lossgap.probes.config import PROBE_NAMES, ProbesConfig

EPILOG = examples(
    "lossgap probes --run runs/probes                                  # every probe at its default levels",
    "lossgap probes --run runs/probes --probe copy --copy-level 8 --copy-level 32 --copy-level 128 --docs 50",
    "lossgap score allenai/Olmo-3-1025-7B --run runs/probes --name transformer   # then score, annotate, compare",
    "lossgap compare --run runs/probes --baseline transformer --candidate hybrid",
    "lossgap curves --run runs/probes --series hybrid --mask \"probe = 'copy' AND probe_mark\"",
)


def _level_option(probe: str, what: str) -> typer.models.OptionInfo:
    default = " ".join(map(str, ProbesConfig().levels_of(probe)))
    return typer.Option(f"--{probe.replace('_', '-')}-level", metavar="N",
                        help=f"A level of the {probe} probe ({what}); repeatable (default: {default}).")  # fmt: skip


@handles_errors
def probes(
    run: RunOption,
    probe: Annotated[
        list[str] | None,
        typer.Option(
            "--probe",
            metavar="NAME",
            help=f"A probe to generate ({' | '.join(PROBE_NAMES)}); repeatable (default: all).",
        ),
    ] = None,
    copy_level: Annotated[list[int] | None, _level_option("copy", "words in the string")] = None,
    recall_level: Annotated[list[int] | None, _level_option("recall", "key-value pairs")] = None,
    tracking_level: Annotated[list[int] | None, _level_option("tracking", "moves")] = None,
    pronoun_level: Annotated[list[int] | None, _level_option("pronoun", "filler sentences")] = None,
    brackets_level: Annotated[list[int] | None, _level_option("brackets", "nesting depth")] = None,
    copy_distance_level: Annotated[
        list[int] | None, _level_option("copy_distance", "filler sentences between the copies")
    ] = None,
    tracking_swap_level: Annotated[list[int] | None, _level_option("tracking_swap", "moves and swaps")] = None,
    docs: Annotated[
        int | None, typer.Option(help=with_default("Documents per probe and level", ProbesConfig, "docs"))
    ] = None,
    seed: Annotated[int | None, typer.Option(help=with_default("Seed of the generators", ProbesConfig, "seed"))] = None,
) -> None:
    """Generate probe documents as the run's corpus, with their marks in probes.parquet; annotate adds the marks
    as feature columns (probe, probe_mark, probe_level, probe_distance, probe_source)."""
    from lossgap.errors import ConfigError
    from lossgap.probes import run_probes

    given_levels = dict(zip(PROBE_NAMES, (copy_level, recall_level, tracking_level, pronoun_level, brackets_level,
                                          copy_distance_level, tracking_swap_level), strict=True))  # fmt: skip
    levels = {name: tuple(values) for name, values in given_levels.items() if values}
    for name, values in levels.items():
        flag = f"--{name.replace('_', '-')}-level"
        if len(set(values)) != len(values):
            raise ConfigError(f"{flag} given twice with the same level: {' '.join(map(str, values))}")
        if probe and name not in probe:
            raise ConfigError(f"{flag}: the {name} probe is not among the --probe given ({', '.join(probe)})")
    config = ProbesConfig(**given(probes=tuple(probe) if probe else None, levels=levels or None, docs=docs, seed=seed))
    result = run_probes(run, config)
    per = ", ".join(f"{p} {n}" for p, n in result.per_probe.items())
    console.print(f"probes: {result.n_docs:,} documents ({per}), {result.n_marks:,} marks -> {run}", highlight=False)
