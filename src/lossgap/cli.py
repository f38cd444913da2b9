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
        "  lossgap report runs/olmo                       # writes runs/olmo/report/index.html\n\n"
        "  lossgap report runs/olmo --viewer-docs 30 --viewer-tokens 4000\n\n"
        "  lossgap report runs/olmo --doc wiki-0042 --doc py-0007   # also show these documents"
    )
)
@_handles_errors
def report(
    run: Annotated[Path, typer.Argument(help="Run directory with results/ from `lossgap compare` (and `curves`).")],
    top_rows: Annotated[
        Optional[int], typer.Option(help="Rows per direction in the top tokens/segments/documents tables \\[default: 10].")
    ] = None,
    viewer_docs: Annotated[
        Optional[int], typer.Option(help="Documents in the token viewer, 0 for none \\[default: 12].")
    ] = None,
    viewer_tokens: Annotated[
        Optional[int], typer.Option(help="Tokens shown per viewer document, around the place the tables point at \\[default: 1500].")
    ] = None,
    doc: Annotated[
        Optional[list[str]], typer.Option("--doc", help="A doc_id to show in the viewer first; repeat for more.")
    ] = None,
    title: Annotated[Optional[str], typer.Option(help="Report title \\[default: 'lossgap: CANDIDATE vs BASELINE'].")] = None,
) -> None:
    """Render results/ as an offline HTML report: report/index.html with figures, tables and a token viewer."""
    from lossgap.report import ReportConfig, run_report

    config = ReportConfig(
        **_kwargs(top_rows=top_rows, viewer_docs=viewer_docs, viewer_tokens=viewer_tokens, title=title),
        **({"extra_docs": tuple(doc)} if doc else {}),
    )
    result = run_report(run, config)
    console.print(
        f"report: {len(result.figures)} figures, {result.viewer_docs} documents in the viewer -> {result.path}",
        highlight=False,
    )
    for why in result.omitted:
        console.print(f"  left out: {why}", highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point of the `lossgap` command."""
    app()
