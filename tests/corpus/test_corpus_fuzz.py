"""Property tests: any bytes or malformed JSONL end in a corpus or a CorpusError, and the counts add up."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from lossgap.corpus import CorpusConfig, read_corpus, run_corpus
from lossgap.errors import CorpusError
from lossgap.rundir import RunDir, to_json

_SURROGATE = re.compile("[\ud800-\udfff]")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
objects = st.fixed_dictionaries(
    {},
    optional={
        "text": st.text(max_size=20) | st.text(max_size=20) | st.none() | st.integers() | st.just("  "),
        "id": st.none() | st.none() | st.none() | st.sampled_from(["a", "b", "c"]) | st.integers(0, 30),
        "domain": st.none() | st.sampled_from(["x", "y"]),
        "other": json_values,
    },
)
good = objects.map(lambda o: json.dumps(o).encode())
lines = st.one_of(  # one_of draws each branch equally often: mostly objects, sometimes garbage
    *[good] * 6,
    objects.map(lambda o: json.dumps(o, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    objects.map(lambda o: json.dumps({**o, "text": "@"}).encode().replace(b"@", b"bad \xff\xfe")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=30).filter(lambda b: b"\n" not in b and b"\r" not in b),
)


def reference_counts(data: bytes) -> tuple[int, int]:
    """Independently: documents read (non-blank lines) and lines whose text needed repair."""
    n_read = n_repaired = 0
    for raw in data.split(b"\n"):
        try:
            line, bad = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            line, bad = raw.decode("utf-8", "replace"), True
        if not line.strip():
            continue
        n_read += 1
        text = json.loads(line).get("text")
        n_repaired += bad or (isinstance(text, str) and bool(_SURROGATE.search(text)))
    return n_read, n_repaired


def check(data: bytes, dedupe: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.jsonl"
        path.write_bytes(data)
        try:
            corpus = read_corpus(path, dedupe=dedupe)
        except CorpusError as exc:
            assert "fuzz.jsonl" in str(exc)
            event("corpus error")
            return
        event(f"corpus of {'some' if corpus.n_docs else 'no'} documents, {'some' if corpus.skipped else 'no'} skips")
        n_read, n_repaired = reference_counts(data)
        assert corpus.n_read == n_read == corpus.n_docs + sum(corpus.skipped.values())
        assert corpus.repaired.get("invalid_utf8", 0) == n_repaired
        assert len(set(corpus.table.column("doc_id").to_pylist())) == corpus.n_docs
        for text in corpus.table.column("text").to_pylist():
            text.encode("utf-8")  # strictly valid
        if corpus.n_docs:
            entry = run_corpus(Path(tmp) / "run", path, CorpusConfig(dedupe=dedupe))
            manifest = to_json(RunDir(Path(tmp) / "run").manifest().corpus)
            assert manifest["n_read"] == manifest["n_docs"] + sum(manifest["skipped"].values()) == n_read
            assert manifest["n_docs"] == entry.n_docs


@settings(max_examples=150, deadline=None)
@given(st.lists(lines, max_size=6), st.booleans())
def test_fuzz_jsonl_lines(chunks: list[bytes], dedupe: bool) -> None:
    check(b"\n".join(chunks), dedupe)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    check(data, dedupe=False)
