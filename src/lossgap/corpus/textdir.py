"""Reading raw records from a folder of text files (one document per file) or from one text file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lossgap.corpus.config import CorpusConfig
from lossgap.corpus.table import RawDoc
from lossgap.errors import CorpusError

__all__ = ["iter_text"]


def _files(root: Path) -> list[Path]:
    """Regular files under `root`, sorted, without hidden files or folders."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def iter_text(path: Path, config: CorpusConfig) -> Iterator[RawDoc]:
    """Yield one RawDoc per file. The id is the path relative to the folder; the domain is the first
    sub-folder's name (files directly in the folder get none). Files with NUL bytes count as binary."""
    files = [path] if path.is_file() else _files(path)
    root = path.parent if path.is_file() else path
    for file in files:
        rel = file.relative_to(root)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CorpusError(f"{file}: cannot read ({exc})") from None
        domain = rel.parts[0] if len(rel.parts) > 1 else None
        if b"\x00" in data:
            yield RawDoc(text=None, location=rel.as_posix(), doc_id=rel.as_posix(), domain=domain, skip="binary_file")
            continue
        try:
            text, invalid = data.decode("utf-8"), False
        except UnicodeDecodeError:
            text, invalid = data.decode("utf-8", errors="replace"), True
        yield RawDoc(text=text, location=rel.as_posix(), doc_id=rel.as_posix(), domain=domain, invalid_utf8=invalid)
