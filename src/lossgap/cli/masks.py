"""`lossgap masks`: a run's documents and token masks as one file for an in-loop evaluator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lossgap.cli.common import RunOption, console, examples, handles_errors

EPILOG = examples(
    "lossgap masks --run runs/eval --out eval-masks.npz",
    "lossgap masks --run runs/eval --out eval-masks.npz --mask repeated --mask \"upos = 'NOUN' AND repeat_len = 0\"",
    "lossgap masks --run runs/eval --out olmo-core-masks.npz --align input      # masks of input positions",
    "",
    "In a training loop: lossgap.inloop.Evaluator.from_file('eval-masks.npz')(model) -> {name: mean loss}.",
)


@handles_errors
def masks(
    run: RunOption,
    out: Annotated[Path, typer.Option(help="The masks file to write (.npz).")],
    mask: Annotated[
        list[str] | None,
        typer.Option(
            "--mask",
            help="A preset or SQL condition; repeatable (default: all, content_nonrepeat, "
            "function_nonrepeat, repeated, nonrepeated, open_bracket, close_bracket).",
        ),
    ] = None,
    align: Annotated[
        str,
        typer.Option(
            help="token: mask[i] is about token i (as scores); input: about the loss at input position i, "
            "which predicts token i + 1."
        ),
    ] = "token",
) -> None:
    """Write the run's documents (token ids) and a mask per filter to one compact file for `lossgap.inloop`."""
    from lossgap.inloop.masks import DEFAULT_MASKS, export_masks

    result = export_masks(run, tuple(mask) if mask else DEFAULT_MASKS, align)  # type: ignore[arg-type]
    path = result.save(out)
    counts = ", ".join(f"{name} {int(m.sum()):,}" for name, m in result.masks.items())
    console.print(f"masks: {result.n_docs:,} documents, {result.token_ids.size:,} tokens ({counts}) -> {path}",
                  highlight=False)  # fmt: skip
