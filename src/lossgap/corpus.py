"""Reading documents into the run's corpus table (doc_id, domain, text, source), with skipped documents counted."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from lossgap.errors import CorpusError
from lossgap.rundir import CORPUS_SCHEMA

__all__ = ["Corpus", "read_jsonl", "read_corpus", "corpus_fingerprint"]


@dataclass(frozen=True)
class Corpus:
    """Documents read from a source, and how many were skipped for which reason."""

    table: pa.Table
    source: str
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_docs(self) -> int:
        return self.table.num_rows


def corpus_fingerprint(table: pa.Table) -> str:
    """sha256 over (doc_id, domain, text) of every document, in order: two runs agree iff their corpora do."""
    h = hashlib.sha256()
    for doc_id, domain, text in zip(
        table.column("doc_id").to_pylist(), table.column("domain").to_pylist(), table.column("text").to_pylist()
    ):
        for part in (doc_id, domain or "", text):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
    return h.hexdigest()


def read_jsonl(path: Path, *, default_domain: str = "unknown") -> Corpus:
    """Read a JSONL file: one object per line with `text`, optional `id` and `domain`.

    Empty lines are ignored; a line that is not a JSON object is an error naming the file and line;
    documents with a missing, non-string or empty `text` are skipped and counted.
    """
    path = Path(path)
    rows: dict[str, list[str]] = {"doc_id": [], "domain": [], "text": [], "source": []}
    skipped: Counter[str] = Counter()
    seen: dict[str, int] = {}
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise CorpusError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            text = obj.get("text")
            if not isinstance(text, str):
                skipped["missing_text"] += 1
                continue
            if not text.strip():
                skipped["empty_text"] += 1
                continue
            doc_id = str(obj["id"]) if obj.get("id") is not None else f"{path.stem}-{lineno:07d}"
            if doc_id in seen:
                raise CorpusError(f"{path}:{lineno}: duplicate id {doc_id!r} (first on line {seen[doc_id]})")
            seen[doc_id] = lineno
            rows["doc_id"].append(doc_id)
            rows["domain"].append(str(obj.get("domain") or default_domain))
            rows["text"].append(text)
            rows["source"].append(f"{path.name}:{lineno}")
    return Corpus(table=pa.table(rows, schema=CORPUS_SCHEMA), source=str(path), skipped=dict(skipped))


def read_corpus(path: Path) -> Corpus:
    """Read a corpus file, choosing the reader by its suffix."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file")
    if path.suffix in {".jsonl", ".json"}:
        return read_jsonl(path)
    raise CorpusError(f"{path}: unsupported corpus format {path.suffix!r} (use .jsonl)")
