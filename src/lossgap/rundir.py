"""The run directory: its file names, one schema per table, atomic writes, validating reads, the manifest.

No other module builds paths inside a run directory; every stage goes through `RunDir`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lossgap.errors import RunDirError, SchemaError

__all__ = [
    "CORPUS_SCHEMA",
    "TOKENS_SCHEMA",
    "SCORES_SCHEMA",
    "FEATURES_SCHEMA",
    "RunDir",
    "atomic_path",
    "validate_name",
]

CORPUS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("domain", pa.string()),
        ("text", pa.string()),
        ("source", pa.string()),
    ]
)
TOKENS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("pos", pa.int32()),
        ("token_id", pa.int32()),
        ("char_start", pa.int32()),  # -1 for special tokens (BOS)
        ("char_end", pa.int32()),
    ]
)
SCORES_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("pos", pa.int32()),
        ("loss", pa.float32()),  # nats, -log p(token at pos | tokens before it)
    ]
)
# The contract's feature columns. Annotators may add more columns; these must be present with these types.
FEATURES_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("pos", pa.int32()),
        ("domain", pa.string()),
        ("token_text", pa.string()),
        ("upos", pa.string()),
        ("tag", pa.string()),
        ("word_class", pa.string()),
        ("word_piece", pa.string()),
        ("bracket_kind", pa.string()),
        ("bracket_side", pa.string()),
        ("repeat_len", pa.int32()),
        ("repeat_dist", pa.int32()),
        ("log_freq", pa.float64()),
        ("code_class", pa.string()),
    ]
)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]*$")


def validate_name(name: str) -> str:
    """Return `name` if it can name a scored model in a run (a file name without path separators)."""
    if not _NAME_RE.match(name) or len(name) > 200:
        raise RunDirError(
            f"invalid model name {name!r}: use letters, digits and . _ @ + = - (no slashes), e.g. 'hybrid-1b@step10000'"
        )
    return name


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, on failure remove it.

    A reader never sees a half-written file: the rename is atomic on POSIX file systems.
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


def _check_schema(table: pa.Table, schema: pa.Schema, where: Path) -> pa.Table:
    """Return `table` with the contract's columns cast to their types; raise SchemaError if one is missing."""
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise SchemaError(f"{where}: missing column(s) {', '.join(missing)}")
    for field in schema:
        col = table.column(field.name)
        if col.type != field.type:
            try:
                col = col.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SchemaError(
                    f"{where}: column {field.name!r} has type {col.type}, expected {field.type}"
                ) from exc
            table = table.set_column(table.schema.get_field_index(field.name), field.name, col)
    return table


@dataclass(frozen=True)
class RunDir:
    """One run directory. Construct with `RunDir(path)`; nothing is created until something is written."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # -- paths ---------------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "run.json"

    @property
    def corpus_path(self) -> Path:
        return self.path / "corpus.parquet"

    @property
    def tokens_path(self) -> Path:
        return self.path / "tokens.parquet"

    @property
    def features_path(self) -> Path:
        return self.path / "features.parquet"

    @property
    def scores_dir(self) -> Path:
        return self.path / "scores"

    def scores_path(self, name: str) -> Path:
        return self.scores_dir / f"{validate_name(name)}.parquet"

    def scores_parts_dir(self, name: str) -> Path:
        """Where an unfinished scoring of `name` keeps its finished documents, one part file per flush."""
        return self.scores_dir / f".{validate_name(name)}.parts"

    @property
    def results_dir(self) -> Path:
        return self.path / "results"

    def results_path(self, filename: str) -> Path:
        return self.results_dir / filename

    @property
    def report_dir(self) -> Path:
        return self.path / "report"

    def report_path(self, relative: str) -> Path:
        """A file of the HTML report, e.g. `index.html`, `assets/viewer.js`, `figures/KEY.svg`."""
        return self.report_dir / relative

    # -- tables --------------------------------------------------------------------------------------
    def scored_names(self) -> list[str]:
        """Names of the models whose scores are complete in this run, sorted."""
        if not self.scores_dir.is_dir():
            return []
        return sorted(p.stem for p in self.scores_dir.glob("*.parquet") if not p.name.startswith("."))

    def has_corpus(self) -> bool:
        return self.corpus_path.is_file()

    def has_tokens(self) -> bool:
        return self.tokens_path.is_file()

    def has_features(self) -> bool:
        return self.features_path.is_file()

    def write_corpus(self, table: pa.Table) -> None:
        self._write(table, CORPUS_SCHEMA, self.corpus_path, strict=True)

    def read_corpus(self) -> pa.Table:
        return self._read(self.corpus_path, CORPUS_SCHEMA, "run `lossgap score … --corpus FILE` first")

    def write_tokens(self, table: pa.Table) -> None:
        self._write(table, TOKENS_SCHEMA, self.tokens_path, strict=True)

    def read_tokens(self, columns: list[str] | None = None) -> pa.Table:
        return self._read(self.tokens_path, TOKENS_SCHEMA, "score a model first", columns)

    def write_scores(self, name: str, table: pa.Table) -> None:
        self._write(table, SCORES_SCHEMA, self.scores_path(name), strict=True)

    def read_scores(self, name: str) -> pa.Table:
        if not self.scores_path(name).is_file():
            known = ", ".join(self.scored_names()) or "none"
            raise RunDirError(f"{self.scores_path(name)}: model {name!r} was never scored in this run (scored: {known})")
        return self._read(self.scores_path(name), SCORES_SCHEMA, "")

    def write_features(self, table: pa.Table) -> None:
        self._write(table, FEATURES_SCHEMA, self.features_path, strict=False)

    def read_features(self, columns: list[str] | None = None) -> pa.Table:
        return self._read(self.features_path, FEATURES_SCHEMA, "run `lossgap annotate DIR` first", columns)

    def _write(self, table: pa.Table, schema: pa.Schema, path: Path, *, strict: bool) -> None:
        table = _check_schema(table, schema, path)
        if strict:
            table = table.select(schema.names)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")

    def _read(self, path: Path, schema: pa.Schema, hint: str, columns: list[str] | None = None) -> pa.Table:
        if not path.is_file():
            raise RunDirError(f"{path} does not exist" + (f": {hint}" if hint else ""))
        file_schema = pq.read_schema(path)
        wanted = [f for f in schema if columns is None or f.name in columns]
        for field in wanted:
            if field.name not in file_schema.names:
                raise SchemaError(f"{path}: missing column {field.name!r}")
        table = pq.read_table(path, columns=columns)
        return _check_schema(table, pa.schema(wanted), path)

    # -- manifest ------------------------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any]:
        """The manifest as a dict (empty if the run has none yet)."""
        if not self.manifest_path.is_file():
            return {}
        try:
            return json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{self.manifest_path} is not valid JSON: {exc}") from exc

    def update_manifest(self, update: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply `update` to the manifest in place under a file lock and write it back atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".run.json.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            manifest = self.read_manifest()
            update(manifest)
            with atomic_path(self.manifest_path) as tmp:
                tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        return manifest

    def write_text(self, path: Path, text: str) -> None:
        """Atomically write a text file (a results CSV, JSON or formula) inside this run."""
        with atomic_path(path) as tmp:
            tmp.write_text(text)
