"""The `lossgap` command line: one subcommand per pipeline stage, each a thin layer over the library.

Heavy imports (torch, transformers, duckdb) happen inside the handlers so that `lossgap --help` is instant.
Flags default to None; the real defaults live in each stage's config dataclass.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def _progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar over tokens; yields the `progress(done, total)` callback the library calls."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tokens"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


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
        "  torchrun --nproc-per-node 8 -m lossgap score MODEL --corpus docs.jsonl --run-dir runs/x"
    )
)
@_handles_errors
def score(
    model: Annotated[str, typer.Argument(help="Hugging Face hub id, local model folder, or local .gguf file.")],
    run: Annotated[
        Path,
        typer.Option(
            "--run",
            "--run-dir",
            help="Run directory (created if missing). Under torchrun write --run-dir: torchrun reads --run as its own --run-path.",
        ),
    ],
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
    with _progress_bar(f"scoring {config.resolved_name}") as progress:
        result = run_score(run, config, corpus=corpus, progress=progress)
    if result.is_main_process:
        console.print(
            f"scored [bold]{result.name}[/]: {result.n_tokens:,} tokens in {result.n_docs:,} documents, "
            f"mean loss {result.mean_loss:.4f} nats -> {result.path}",
            highlight=False,
        )


def main() -> None:
    """Entry point of the `lossgap` command."""
    app()
