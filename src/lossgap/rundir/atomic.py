"""Atomic writes: a reader of a run file never sees it half-written (temporary file, then rename)."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_text_atomic", "write_texts_atomic", "check_writable"]


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, on failure remove it.

    The rename is atomic on POSIX file systems.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                shutil.rmtree(tmp)
            else:
                tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    """Write a UTF-8 text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_texts_atomic(folder: Path, texts: dict[str, str]) -> None:
    """Write a set of UTF-8 files under `folder` (relative paths) so that it is never left half-written.

    Every file is first written to a temporary name beside its target; only when all of them are written are they
    renamed into place (renames need no space). A failure on the way (a full disk) removes the temporary files and
    leaves every earlier file as it was."""
    staged: list[tuple[Path, Path]] = []
    try:
        for relative, text in texts.items():
            path = Path(folder) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            staged.append((tmp, path))
            tmp.write_text(text, encoding="utf-8")
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def check_writable(folder: Path) -> None:
    """Raise the OSError a write in `folder` (or, while it does not exist, its nearest existing parent) would
    raise: a read-only file system, a full disk or a missing permission, found before any heavy work."""
    folder = Path(folder)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    probe = folder / f".lossgap-write-check-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        probe.unlink(missing_ok=True)
