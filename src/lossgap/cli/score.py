"""`lossgap score`: every token's loss under one model (with --corpus, the corpus stage first)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from lossgap.cli.common import RunOption, console, examples, given, handles_errors, scoring_display, with_default
from lossgap.scoring.config import COMPILE_MIN_TOKENS, ScoreConfig

EPILOG = examples(
    "lossgap score allenai/Olmo-3-1025-7B --corpus docs.jsonl --run runs/olmo --name transformer",
    "lossgap score allenai/Olmo-Hybrid-7B --run runs/olmo --name hybrid",
    "lossgap score my-org/model --revision step10000 --run runs/ckpt      # name: model@step10000",
    "lossgap score ./checkpoints/step500 --name hybrid@step500 --run runs/ckpt",
    "torchrun --nproc-per-node 8 -m lossgap score MODEL --corpus docs.jsonl --run-dir runs/x",
)


def _corpus_first(run, corpus: str, config: ScoreConfig) -> None:  # type: ignore[no-untyped-def]
    """`--corpus`: the corpus stage with its defaults, after the model is found (a bad model writes nothing)."""
    from lossgap.scoring import check_model_source

    check_model_source(config.model, config.revision)
    if os.environ.get("RANK", "0") == "0":  # under torchrun rank 0 writes; run_score waits for it
        from lossgap.cli.corpus import report_corpus
        from lossgap.corpus import CorpusConfig, run_corpus
        from lossgap.rundir import RunDir

        with console.status("reading the corpus …"):
            result = run_corpus(run, corpus, CorpusConfig())
        report_corpus(result, RunDir(run).describe("corpus"))


@handles_errors
def score(
    model: Annotated[str, typer.Argument(help="Hugging Face hub id, local model folder, or local .gguf file.")],
    run: RunOption,
    corpus: Annotated[
        str | None,
        typer.Option(
            help="Read this corpus first (a JSONL or Parquet file, a folder of text files, or 'example'), as "
            "`lossgap corpus SOURCE` with its defaults would; needed the first time a run is scored."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Name of this scoring in the run (default: slug of model id and revision).")
    ] = None,
    revision: Annotated[str | None, typer.Option(help="Branch, tag or commit (e.g. a training checkpoint).")] = None,
    dtype: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "auto | bfloat16 | float16 | float32; auto is bfloat16 on a GPU, float32 on a CPU", ScoreConfig, "dtype"
            )
        ),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help=with_default("auto | cpu | cuda | cuda:N", ScoreConfig, "device"))
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(help="Context limit in tokens (default: the model's own limit).")
    ] = None,
    stride: Annotated[
        int | None,
        typer.Option(
            help="Window stride for long documents; each later window keeps max_length - stride tokens of context (default: max_length // 2)."
        ),
    ] = None,
    batch_tokens: Annotated[
        int | None,
        typer.Option(help="Token budget of one batch, padding included (default: 16384 on a GPU, 2048 on a CPU)."),
    ] = None,
    flush_seconds: Annotated[
        float | None,
        typer.Option(
            help=with_default(
                "Write finished windows to disk at least this often, in seconds (what a killed process can lose; Ctrl-C loses only the batch in flight)",
                ScoreConfig,
                "flush_seconds",
            )
        ),
    ] = None,
    compile: Annotated[
        bool | None,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile the model's layers: faster on long GPU runs after "
            f"tens of seconds of compiling (default: on a GPU with at least {COMPILE_MIN_TOKENS:,} tokens to score).",
        ),
    ] = None,
    float32_head: Annotated[
        bool,
        typer.Option(
            "--float32-head",
            help="Compute the output head's logits in float32 (bf16/fp16 models round them otherwise; see docs/scoring.md).",
        ),
    ] = False,
    distribution: Annotated[
        bool,
        typer.Option(
            "--distribution/--no-distribution",
            help="Record each token's entropy (nats, of the next-token distribution) and the true token's rank "
            "beside its loss (default: on).",
        ),
    ] = True,
    top_k: Annotated[
        int | None,
        typer.Option(
            help=with_default(
                "Record the K most likely next tokens with their log-probabilities (0: none), so that two models "
                "sharing a tokenizer can be compared by divergence later",
                ScoreConfig,
                "top_k",
            )
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Rescore NAME even if it is complete with other settings.")
    ] = False,
) -> None:
    """Score every token of the corpus with MODEL: writes the run's tokens (once) and scores/NAME."""
    from lossgap.scoring import run_score

    config = ScoreConfig(
        model=model,
        **given(name=name, revision=revision, dtype=dtype, device=device, max_length=max_length, stride=stride,
                batch_tokens=batch_tokens, flush_seconds=flush_seconds, top_k=top_k),
        compile=compile,
        distribution=distribution,
        float32_head=float32_head,
        overwrite=overwrite,
    )  # fmt: skip
    if corpus is not None:
        _corpus_first(run, corpus, config)
    with scoring_display(config.resolved_name) as (status, progress):
        result = run_score(run, config, status=status, progress=progress)
    if result.is_main_process:
        verb = "already complete" if result.already_complete else "scored"
        console.print(
            f"{verb} [bold]{result.name}[/]: {result.n_tokens:,} tokens in {result.n_docs:,} documents, "
            f"mean loss {result.mean_loss:.4f} nats -> {result.path}",
            highlight=False,
        )


TOKENIZE_EPILOG = examples(
    "lossgap tokenize ./my-tokenizer --corpus heldout.jsonl --run runs/inloop",
    "lossgap tokenize allenai/Olmo-3-1025-7B --run runs/olmo",
)


@handles_errors
def tokenize(
    tokenizer: Annotated[
        str, typer.Argument(help="A tokenizer folder, or a model (hub id, folder, .gguf) whose tokenizer to use.")
    ],
    run: RunOption,
    corpus: Annotated[
        str | None, typer.Option(help="Read this corpus first, as `lossgap corpus SOURCE` with its defaults would.")
    ] = None,
    revision: Annotated[str | None, typer.Option(help="Branch, tag or commit.")] = None,
) -> None:
    """Write the run's tokens with a tokenizer alone, before any model is scored (then `lossgap annotate` and
    `lossgap masks` can run before training, for the in-loop evaluator); scoring checks them later."""
    from lossgap.scoring.run import run_tokenize

    config = ScoreConfig(model=tokenizer, **given(revision=revision))
    if corpus is not None:
        _corpus_first(run, corpus, config)
    with console.status("tokenizing …"):
        n = run_tokenize(run, config)
    console.print(f"tokens: {n:,} -> {run}")
