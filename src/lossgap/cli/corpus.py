"""`lossgap corpus`: read documents into the run's corpus table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lossgap.cli.common import RunOption, console, examples, given, handles_errors, with_default
from lossgap.corpus.config import CorpusConfig

EPILOG = examples(
    "lossgap corpus docs.jsonl --run runs/x",
    "lossgap corpus example --run runs/demo --only-domain books --only-domain python --max-tokens-per-domain 5000",
    "lossgap corpus papers/ --run runs/x --domain science --min-chars 200",
    "lossgap corpus allenai/paloma --format hf --hf-config c4_en --hf-split val --streaming --max-docs 500 --run runs/x",
    "lossgap corpus data.parquet --run runs/x --text-field content --domain-from wiki --domain-to encyclopedia --dedupe",
)


def _pairs(sources: list[str] | None, targets: list[str] | None) -> tuple[tuple[str, str], ...] | None:
    """--domain-from and --domain-to, paired in the order given."""
    from lossgap.errors import ConfigError

    if not sources and not targets:
        return None
    if len(sources or []) != len(targets or []):
        raise ConfigError(
            f"give one --domain-to for each --domain-from (got {len(sources or [])} and {len(targets or [])})"
        )
    return tuple(zip(sources or [], targets or [], strict=True))


@handles_errors
def corpus(
    source: Annotated[
        str,
        typer.Argument(
            help="JSONL (.jsonl/.json, may be .gz) or Parquet file, folder of text files (domain = sub-folder), "
            "Hugging Face dataset (with --format hf), or 'example' for the bundled corpus."
        ),
    ],
    run: RunOption,
    format: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "jsonl | parquet | text | hf | example; auto: by suffix or folder", CorpusConfig, "format"
            )
        ),
    ] = None,
    max_docs: Annotated[int | None, typer.Option(help="Stop after this many kept documents.")] = None,
    sample: Annotated[int | None, typer.Option(help="Keep a random sample of N documents (after the filters).")] = None,
    seed: Annotated[int | None, typer.Option(help=with_default("Seed of --sample", CorpusConfig, "seed"))] = None,
    min_chars: Annotated[int | None, typer.Option(help="Skip documents shorter than this (characters).")] = None,
    max_chars: Annotated[int | None, typer.Option(help="Skip documents longer than this (characters).")] = None,
    truncate_chars: Annotated[
        int | None,
        typer.Option(
            help=(
                "Keep only each document's first passage of at most this many characters (cut at a line break or space); "
                "many short documents give tighter intervals than a few long ones."
            )
        ),
    ] = None,  # fmt: skip
    domain: Annotated[str | None, typer.Option(help="Set every document's domain to NAME.")] = None,
    domain_from: Annotated[
        list[str] | None,
        typer.Option(help="Rename this (source) domain to the --domain-to in the same place; repeatable."),
    ] = None,
    domain_to: Annotated[
        list[str] | None, typer.Option(help="The new name of the --domain-from in the same place.")
    ] = None,
    only_domain: Annotated[
        list[str] | None, typer.Option(help="Keep only documents of this (source) domain; repeat for several.")
    ] = None,
    max_tokens_per_domain: Annotated[
        int | None, typer.Option(help="Per domain, keep the first documents within ~N tokens (characters / 4).")
    ] = None,
    max_docs_per_domain: Annotated[int | None, typer.Option(help="Per domain, keep the first N documents.")] = None,
    text_field: Annotated[
        str | None, typer.Option(help=with_default("Field holding the text", CorpusConfig, "text_field"))
    ] = None,
    domain_field: Annotated[
        str | None, typer.Option(help=with_default("Field holding the domain", CorpusConfig, "domain_field"))
    ] = None,
    id_field: Annotated[
        str | None, typer.Option(help="Field holding the id (default: id, else doc_id, else the location).")
    ] = None,
    hf_config: Annotated[str | None, typer.Option(help="Hugging Face dataset configuration (subset).")] = None,
    hf_split: Annotated[
        str | None, typer.Option(help=with_default("Hugging Face dataset split", CorpusConfig, "hf_split"))
    ] = None,
    streaming: Annotated[bool, typer.Option("--streaming", help="Stream the Hugging Face dataset.")] = False,
    dedupe: Annotated[
        bool,
        typer.Option(
            "--dedupe", help="Drop documents with an id seen before (without it, a duplicate id is an error)."
        ),
    ] = False,
) -> None:
    """Read documents into the run's corpus table; the manifest records source, fingerprint and skips."""
    from lossgap.corpus import run_corpus
    from lossgap.rundir import RunDir

    config = CorpusConfig(
        **given(
            format=format, max_docs=max_docs, sample=sample, seed=seed, min_chars=min_chars, max_chars=max_chars,
            truncate_chars=truncate_chars,
            domain=domain, domain_map=_pairs(domain_from, domain_to),
            only_domains=tuple(only_domain) if only_domain else None, max_tokens_per_domain=max_tokens_per_domain,
            max_docs_per_domain=max_docs_per_domain, text_field=text_field, domain_field=domain_field,
            id_field=id_field, hf_config=hf_config, hf_split=hf_split,
        ),
        streaming=streaming,
        dedupe=dedupe,
    )  # fmt: skip
    with console.status("reading the corpus …"):
        result = run_corpus(run, source, config)
    report_corpus(result, RunDir(run).describe("corpus"))


def report_corpus(result, path: Path) -> None:  # type: ignore[no-untyped-def]
    """What was read, kept, skipped and repaired."""
    domains = ", ".join(f"{name} {n:,}" for name, n in result.domains().items())
    console.print(
        f"corpus: {result.n_docs:,} documents of {result.n_read:,} read from {result.source} ({domains}) -> {path}",
        highlight=False,
    )
    skipped = ", ".join(f"{reason} {n:,}" for reason, n in sorted(result.skipped.items())) or "none"
    console.print(f"skipped: {skipped}", highlight=False)
    for reason, n in sorted(result.repaired.items()):
        console.print(f"repaired: {reason} in {n:,} documents (replaced by U+FFFD)", highlight=False)
