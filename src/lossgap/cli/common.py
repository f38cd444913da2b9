"""What every command shares: the terminal, error handling, the `--run` option, help texts whose defaults come
from the configs, runnable examples rendered verbatim, progress displays and the headline table."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from lossgap.analysis.config import IntervalSpec
from lossgap.errors import LossgapError, ScoringInterrupted

__all__ = [
    "console",
    "RunOption",
    "IntervalOption",
    "BootstrapOption",
    "SeedOption",
    "ConfidenceOption",
    "MinEffDocsOption",
    "UnitOption",
    "ResultNameOption",
    "analysis_run",
    "handles_errors",
    "with_default",
    "examples",
    "given",
    "scoring_display",
    "print_headline",
]


def _console(*, stderr: bool) -> Console:
    """A console for stderr or stdout. On a terminal, rich fits its width; elsewhere (a pipe, a log file) lines are
    not wrapped (rich would wrap them at 80 columns) and tables get room for their columns."""
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty() or "COLUMNS" in os.environ
    return Console(stderr=stderr, width=None if terminal else 200, soft_wrap=not terminal)


console = _console(stderr=True)

RunOption = Annotated[
    Path,
    typer.Option(
        "--run",
        "--run-dir",
        help="Run directory. Under torchrun write --run-dir: torchrun reads --run as its own --run-path.",
    ),
]

F = TypeVar("F", bound=Callable[..., None])

# a full disk, a read-only file system, a missing permission: the user's to fix, told in one line
_WRITE_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}
_WRITE_MESSAGES = ("No space left on device", "Read-only file system", "Disk quota exceeded")


def _is_write_error(exc: Exception) -> bool:
    """An OSError of the kinds above, or pyarrow's or DuckDB's I/O error for one (their messages carry the
    system's words but no errno)."""
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRORS:
        return True
    io_error = isinstance(exc, OSError) or type(exc).__name__ == "IOException"
    return io_error and any(m in str(exc) for m in _WRITE_MESSAGES)


def handles_errors(fn: F) -> F:
    """A LossgapError becomes one line on stderr and exit code 2; Ctrl-C says what was kept, exit code 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            return fn(*args, **kwargs)
        except LossgapError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except Exception as exc:
            if not _is_write_error(exc):
                raise
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
            said = f"cannot write{where}: {reason}; files already complete were kept, none was left half-written"
            console.print(f"[bold red]error:[/] {escape(said)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt as exc:
            if isinstance(exc, ScoringInterrupted):
                said = f"{exc}; run the same command again to resume from there"
            else:
                said = "interrupted; this stage writes its files whole at its end, so none was left half-written"
            console.print(f"[bold yellow]{escape(said)}[/]", highlight=False, soft_wrap=True)
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


def with_default(text: str, config: type, field: str) -> str:
    """`text` followed by the default of `config.field`, read from the dataclass itself."""
    found = {f.name: f for f in dataclasses.fields(config)}[field]
    value = found.default if found.default is not dataclasses.MISSING else found.default_factory()  # type: ignore[misc]
    if isinstance(value, (tuple, frozenset)):
        value = ", ".join(sorted(map(str, value)) if isinstance(value, frozenset) else map(str, value))
    return f"{text} (default: {value})"


# The interval options compare and curves share; their defaults are IntervalSpec's, which both configs inherit.
IntervalOption = Annotated[str | None, typer.Option(help=with_default(
    "cr2 (cluster-robust t intervals) | bootstrap (percentile, over documents)", IntervalSpec, "interval"))]  # fmt: skip
BootstrapOption = Annotated[int | None, typer.Option(help=with_default("Document resamples of --interval bootstrap", IntervalSpec, "bootstrap"))]  # fmt: skip
SeedOption = Annotated[int | None, typer.Option(help=with_default("Seed of the resampling", IntervalSpec, "seed"))]
ConfidenceOption = Annotated[
    float | None, typer.Option(help=with_default("Interval coverage", IntervalSpec, "confidence"))
]
MinEffDocsOption = Annotated[float | None, typer.Option(help=with_default(
    "No interval below this effective number of documents", IntervalSpec, "min_eff_docs"))]  # fmt: skip


ResultNameOption = Annotated[str | None, typer.Option("--name", help=(
    "The result's name: it is written to results/NAME/ of the run (default: from the models or series). The same "
    "question asked again replaces its result; a name that holds another result is refused."))]  # fmt: skip


UnitOption = Annotated[str, typer.Option(metavar="token|word|byte|auto", help=(
    "The unit of comparison: token (the run's tokens), word or byte (a word's or byte's loss is the sum of its "
    "tokens' shares, for models with different tokenizers; results go to units/UNIT/ of the run), or auto: token "
    "when the models have the run's tokens, word otherwise."))]  # fmt: skip


def analysis_run(run: Path, unit: str, names: list[str]) -> Any:
    """The run directory an analysis of `names` reads at `unit` (`lossgap.units.resolve_unit`), with a spinner
    while a word or byte unit run is brought up to date."""
    from lossgap.rundir import RunDir
    from lossgap.units import resolve_unit

    with console.status("checking the models' tokenizers (word or byte units are built and annotated when needed) …"):
        return resolve_unit(RunDir(run), unit, names)


def examples(*lines: str) -> str:
    """An epilog of example commands, printed verbatim (click's \\b keeps its lines as they are)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


def given(**options: object) -> dict[str, object]:
    """The options the user gave (not None), for a config whose defaults fill in the rest."""
    return {k: v for k, v in options.items() if v is not None}


@contextlib.contextmanager
def scoring_display(name: str) -> Iterator[tuple[Callable[[str], None], Callable[[int, int], None]]]:
    """A spinner that names each slow step (loading, tokenizing, compiling), then a progress bar over tokens.

    Yields the (status, progress) callbacks that `run_score` takes.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with console.status(f"{name}: checking the model …") as spinner:
        bar: Progress | None = None
        task = None

        def status(what: str) -> None:
            if bar is None:
                spinner.update(f"{what} …")

        def progress(done: int, total: int) -> None:
            nonlocal bar, task
            if bar is None:
                spinner.stop()
                bar = Progress(TextColumn(f"scoring {name}"), BarColumn(), MofNCompleteColumn(), TextColumn("tokens"),
                               TimeElapsedColumn(), TimeRemainingColumn(), SpinnerColumn(), console=console)  # fmt: skip
                bar.start()
                task = bar.add_task(name, total=total)
            bar.update(task, completed=done, total=total)  # type: ignore[arg-type]

        try:
            yield status, progress
        finally:
            if bar is not None:
                bar.stop()


def print_headline(summary: Any) -> None:
    """The headline of a comparison (a `rundir.Summary`): mean gap with its interval over the preset masks."""
    import math

    from rich.table import Table

    table = Table(
        title=f"gap = loss({summary.baseline}) - loss({summary.candidate}), nats; {summary.confidence:.0%} intervals",
    )
    table.add_column("tokens", justify="left")
    for column in ("n", "mean gap", "interval", "minus the rest"):
        table.add_column(column, justify="right")
    for row in summary.headline:
        interval = (row.note or "-") if math.isnan(row.ci_low) else f"[{row.ci_low:+.4f}, {row.ci_high:+.4f}]"
        gap = "-" if math.isnan(row.mean_gap) else f"{row.mean_gap:+.4f}"
        did = "" if row.label == "all" or math.isnan(row.did_estimate) else f"{row.did_estimate:+.4f}"
        table.add_row(row.label, f"{row.n_tokens:,}", gap, interval, did)
    _console(stderr=False).print(table)
    for note in summary.notes:
        console.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
