"""`RunDir`: the one owner of a run directory's files. Every stage reads and writes through it.

    run.json                 the manifest (typed records, `lossgap.rundir.manifest`)
    corpus.parquet           one row per document            CORPUS_SCHEMA
    tokens.parquet           one row per token               TOKENS_SCHEMA (the run's first tokenizer)
    tokenizers/KEY/tokens.parquet                            the same, for every other tokenizer in the run
    scores/NAME.parquet      one row per scored token        SCORES_SCHEMA
    scores/.NAME.parts/      an unfinished scoring           `ScoreParts`
    features.parquet         one row per token               FEATURES_SCHEMA (+ any annotator's columns)
    probes.parquet           one row per probe mark          PROBES_SCHEMA (runs made by `lossgap probes`)
    results/NAME/            one named result of compare,    `RESULTS`, summary.json, regression.txt and its
                             curves or the in-loop logs      record result.json (`ResultRecord`)
    report/                  the HTML report                 index.html, assets/, figures/
    units/UNIT/              a unit run: words or bytes as its tokens (`lossgap.units`), the same layout
                             with the parent's corpus

Tables are read validated (a missing or mistyped column is a SchemaError naming the file and column) and
written atomically; large tables can be read column by column or queried in place through DuckDB views.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lossgap.errors import ConfigError, RunDirError, SchemaError
from lossgap.rundir.atomic import atomic_path, check_writable, write_text_atomic, write_texts_atomic
from lossgap.rundir.jsonable import from_json, to_json
from lossgap.rundir.manifest import (
    CorpusRecord,
    FeaturesRecord,
    Manifest,
    ModelRecord,
    PipelineRecord,
    ProbesRecord,
    StageRecord,
    TokenizerRecord,
    UnitRecord,
)
from lossgap.rundir.names import validate_name
from lossgap.rundir.parts import ScoreParts
from lossgap.rundir.results import (
    DISCOVER_SUMMARY,
    RECORD,
    REGRESSION,
    RESULTS,
    SUMMARY,
    DiscoverSummary,
    ResultKind,
    ResultRecord,
    Summary,
    file_kind,
    json_text,
    table_from_csv,
    table_to_csv,
)
from lossgap.rundir.schemas import (
    CORPUS_SCHEMA,
    FEATURES_SCHEMA,
    PROBES_ADDED,
    PROBES_SCHEMA,
    SCORES_SCHEMA,
    TOKENS_SCHEMA,
    check_schema,
)

if TYPE_CHECKING:
    import duckdb

__all__ = ["RunDir", "FeaturesWriter", "Table", "as_rundir"]

Table = Literal["corpus", "tokens", "features", "probes"]
T = TypeVar("T")
FEATURE_COLUMNS_ALL = ("*",)  # RunDir.token_view(features=...): every feature column the run has
_SCHEMAS = {"corpus": CORPUS_SCHEMA, "tokens": TOKENS_SCHEMA, "features": FEATURES_SCHEMA, "probes": PROBES_SCHEMA}
_HINTS = {
    "corpus": "run `lossgap corpus SOURCE --run DIR` first, or give `lossgap score` a --corpus",
    "tokens": "score a model first (`lossgap score MODEL --run DIR`)",
    "features": "run `lossgap annotate --run DIR` first",
    "probes": "generate probe documents first (`lossgap probes --run DIR`)",
}
_RESULT_HINTS = {
    "compare": "run `lossgap compare --run {run} --baseline NAME --candidate NAME` first",
    "curves": "run `lossgap curves --run {run} --series NAME` first",
    "discover": "run `lossgap discover --run {run} --baseline NAME --candidate NAME` first",
    "training": "write the in-loop evaluator's logs first (lossgap.inloop.write_training_curves)",
}


class FeaturesWriter:
    """Writes features.parquet one chunk at a time; the file appears (atomically) when the writer closes."""

    def __init__(self, tmp: Path, where: Path) -> None:
        self._tmp, self._where = tmp, where
        self._writer: pq.ParquetWriter | None = None
        self.n_rows = 0
        self.columns: tuple[str, ...] = ()

    def write(self, table: pa.Table) -> None:
        # An annotator may add columns but never change the contract's types (a large_string is a string).
        check_schema(table.schema, FEATURES_SCHEMA, self._where, cast=False)
        table = check_schema(table, FEATURES_SCHEMA, self._where)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, table.schema, compression="zstd")
            self.columns = tuple(table.column_names)
        self._writer.write_table(table)
        self.n_rows += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


@dataclass(frozen=True)
class RunDir:
    """One run directory. `RunDir(path)` creates nothing until something is written."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def parent(self) -> RunDir | None:
        """The run this is units/UNIT/ of (a unit run reads its parent's corpus and probes), else None."""
        above = self.path.parent.parent
        return RunDir(above) if self.path.parent.name == "units" and (above / "corpus.parquet").is_file() else None

    def check_writable(self) -> None:
        """Fail now, with one clear line, when this run's files cannot be written (read-only file system, full
        disk, no permission): what a stage calls before its heavy work."""
        try:
            check_writable(self.path)
        except OSError as exc:
            raise RunDirError(f"cannot write in {self.path}: {exc.strerror or exc}; make it writable, free some "
                              f"space, or give another --run") from None  # fmt: skip

    # -- where things are (for messages; stages read and write through the methods below) -------------------
    def _table_path(self, table: Table) -> Path:
        if table in ("corpus", "probes") and (parent := self.parent) is not None:  # the text belongs to the parent
            return parent._table_path(table)
        return self.path / f"{table}.parquet"

    def tokens_path(self, tokenizer: str = "") -> Path:
        """tokens.parquet for the run's first tokenizer (key ""), tokenizers/KEY/tokens.parquet for another."""
        return (
            self._table_path("tokens")
            if not tokenizer
            else self.path / "tokenizers" / validate_name(tokenizer) / "tokens.parquet"
        )

    def unit(self, unit: str) -> RunDir:
        """The unit run units/UNIT/ (words or bytes as its tokens), reading this run's corpus."""
        return RunDir(self.path / "units" / validate_name(unit))

    @property
    def scores_dir(self) -> Path:
        return self.path / "scores"

    def scores_path(self, name: str) -> Path:
        return self.scores_dir / f"{validate_name(name)}.parquet"

    @property
    def results_dir(self) -> Path:
        return self.path / "results"

    @property
    def report_dir(self) -> Path:
        return self.path / "report"

    @property
    def report_index(self) -> Path:
        return self.report_dir / "index.html"

    def describe(self, key: str) -> Path:
        """The path behind a file key: corpus, tokens, features, scores/NAME, results/FILE, report, run.json."""
        if key in _SCHEMAS:
            return self._table_path(key)  # type: ignore[arg-type]
        if key.startswith("scores/"):
            return self.scores_path(key.removeprefix("scores/"))
        if key.startswith("results/"):
            return self.results_dir / key.removeprefix("results/")
        if key == "report":
            return self.report_index
        if key == "run.json":
            return self.path / "run.json"
        raise KeyError(key)

    def stamps(self, keys: Iterable[str]) -> dict[str, tuple[int, int]]:
        """(size, mtime in ns) of each existing file of `keys` ("results" stands for every results file)."""
        paths: list[Path] = []
        for key in keys:
            if key == "results":
                paths += sorted(self.results_dir.rglob("*")) if self.results_dir.is_dir() else []
            else:
                paths.append(self.describe(key))
        return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in paths if p.is_file()}

    # -- tables ---------------------------------------------------------------------------------------------
    def has(self, table: Table) -> bool:
        return self._table_path(table).is_file()

    def columns(self, table: Table) -> list[str]:
        """Column names of a table (features: the contract's and every annotator's)."""
        return pq.read_schema(self._require(table)).names

    def _require(self, table: Table) -> Path:
        path = self._table_path(table)
        if not path.is_file():
            raise RunDirError(f"{path} does not exist: {_HINTS[table]}")
        return path

    def read(self, table: Table, columns: list[str] | None = None, *, dictionary: Iterable[str] = ()) -> pa.Table:
        """A table (or some of its columns), its contract columns checked and cast; `dictionary`: string columns
        to read dictionary-encoded (much less memory for repeated values such as doc_id)."""
        return self._read_parquet(self._require(table), _SCHEMAS[table], columns, dictionary)

    def n_rows(self, table: Table) -> int:
        """Rows of a table, from its file's metadata."""
        return pq.ParquetFile(self._require(table)).metadata.num_rows

    def iter_tables(self, table: Table, columns: list[str], rows: int = 1 << 20) -> Iterator[pa.Table]:
        """Some columns of a table in pieces of about `rows` rows, in file order, each checked and cast like
        `read`: memory holds one piece, whatever the table's size."""
        path = self._require(table)
        wanted = pa.schema([f for f in _SCHEMAS[table] if f.name in columns])
        check_schema(pq.read_schema(path), wanted, path, cast=False)
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=columns):
            yield check_schema(pa.Table.from_batches([batch]), wanted, path)

    def write(self, table: Table, data: pa.Table) -> None:
        """Write corpus or tokens (exactly the schema's columns); features go through `features_writer`."""
        if table == "features":
            raise RunDirError("features.parquet is written chunk by chunk: use RunDir.features_writer()")
        schema = _SCHEMAS[table]
        if table == "probes":  # with the columns added later
            schema = pa.schema([*schema, *PROBES_ADDED])
        self._write_parquet(self._table_path(table), schema, data)

    @staticmethod
    def _write_parquet(path: Path, schema: pa.Schema, data: pa.Table) -> None:
        data = check_schema(data, schema, path).select(schema.names)
        with atomic_path(path) as tmp:
            pq.write_table(data, tmp, compression="zstd")

    def has_tokens(self, tokenizer: str = "") -> bool:
        return self.tokens_path(tokenizer).is_file()

    def read_tokens(self, tokenizer: str = "", columns: list[str] | None = None, *,
                    docs: Sequence[str] | None = None) -> pa.Table:  # fmt: skip
        """The tokens of one tokenizer of the run (key "": tokens.parquet, the same as `read("tokens")`); with
        `docs`, only those documents' rows (read with a Parquet filter, not the whole file)."""
        if not tokenizer and docs is None:
            return self.read("tokens", columns)
        path = self.tokens_path(tokenizer)
        if not path.is_file():
            if not tokenizer:
                return self.read("tokens", columns)  # the missing-table error with its hint
            raise RunDirError(f"{path} does not exist: no model with tokenizer {tokenizer!r} was scored in this run")
        filters = None if docs is None else pc.field("doc_id").isin(pa.array(list(docs), pa.string()))
        return self._read_parquet(path, TOKENS_SCHEMA, columns, (), filters)

    def write_tokens(self, tokenizer: str, data: pa.Table) -> None:
        """Write the tokens of one tokenizer (key "": tokens.parquet)."""
        self._write_parquet(self.tokens_path(tokenizer), TOKENS_SCHEMA, data)

    @property
    def feature_shards_dir(self) -> Path:
        return self.path / "features.shards"

    def feature_shard_path(self, shard: int, of: int) -> Path:
        return self.feature_shards_dir / f"shard-{shard:04d}-of-{of:04d}.parquet"

    def merge_feature_shards(self, of: int) -> tuple[int, tuple[str, ...]] | None:
        """When all `of` shards of an annotation are written: concatenate them in shard order into features.parquet
        (streamed, atomically; under a lock, so that two shards finishing at once merge once), remove them and
        return (rows, columns); otherwise None."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".features.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            shards = [self.feature_shard_path(i, of) for i in range(of)]
            if not all(p.is_file() for p in shards):
                return None
            n_rows = 0
            with self.features_writer() as writer:
                for shard in shards:
                    for batch in pq.ParquetFile(shard).iter_batches(batch_size=1 << 20):
                        writer.write(pa.Table.from_batches([batch]))
                n_rows, columns = writer.n_rows, writer.columns
            for shard in shards:
                shard.unlink()
            with contextlib.suppress(OSError):
                self.feature_shards_dir.rmdir()
            return n_rows, columns

    @contextlib.contextmanager
    def features_writer(self, shard: tuple[int, int] | None = None) -> Iterator[FeaturesWriter]:
        """Stream features.parquet (or one shard of it, `shard` = (index, count)) chunk by chunk; nothing is
        visible until the block completes."""
        path = self._table_path("features") if shard is None else self.feature_shard_path(*shard)
        with atomic_path(path) as tmp:
            writer = FeaturesWriter(tmp, path)
            try:
                yield writer
            finally:
                writer.close()
            if writer.n_rows == 0 and not tmp.exists():
                raise RunDirError(f"{path}: the annotators wrote nothing, not even an empty table")

    @staticmethod
    def _read_parquet(path: Path, schema: pa.Schema, columns: list[str] | None, dictionary: Iterable[str],
                      filters: pc.Expression | None = None) -> pa.Table:  # fmt: skip
        file_schema = pq.read_schema(path)
        wanted = pa.schema([f for f in schema if columns is None or f.name in columns])
        check_schema(file_schema, wanted, path, cast=False)
        if columns is not None:
            unknown = [c for c in columns if c not in file_schema.names]
            if unknown:
                raise SchemaError(f"{path}: no column(s) {', '.join(unknown)}; it has {', '.join(file_schema.names)}")
        table = pq.read_table(path, columns=columns, read_dictionary=list(dictionary) or None, filters=filters)
        plain = pa.schema([f for f in wanted if not pa.types.is_dictionary(table.schema.field(f.name).type)])
        return check_schema(table, plain, path)

    # -- scores ---------------------------------------------------------------------------------------------
    def scored_names(self) -> list[str]:
        """Names of the models whose scores are complete in this run, sorted."""
        if not self.scores_dir.is_dir():
            return []
        return sorted(p.stem for p in self.scores_dir.glob("*.parquet") if not p.name.startswith("."))

    def has_scores(self, name: str) -> bool:
        return self.scores_path(name).is_file()

    def score_columns(self, name: str) -> tuple[str, ...]:
        """The columns of scores/NAME.parquet beyond doc_id, pos and loss (entropy, rank, topk_ids, topk_logprobs
        where scoring recorded them; none in older runs)."""
        return tuple(c for c in pq.read_schema(self._require_scores(name)).names if c not in ("doc_id", "pos", "loss"))

    def _require_scores(self, name: str) -> Path:
        path = self.scores_path(name)
        if not path.is_file():
            known = ", ".join(self.scored_names()) or "none"
            raise RunDirError(
                f"{path}: model {name!r} was never scored in this run (scored: {known}); "
                f"run `lossgap score MODEL --run {self.path} --name {name}` first"
            )
        return path

    def read_scores(self, name: str, columns: list[str] | None = None, *, dictionary: Iterable[str] = ()) -> pa.Table:
        return self._read_parquet(self._require_scores(name), SCORES_SCHEMA, columns, dictionary)

    def write_scores(self, name: str, data: pa.Table) -> None:
        """Write scores/NAME.parquet whole (derived scores, such as a unit run's; scoring writes through
        `score_parts`, resumably)."""
        self._write_parquet(self.scores_path(name), SCORES_SCHEMA, data)

    def require_run_tokens(self, names: Iterable[str]) -> None:
        """Token-level analysis joins scores and features on (doc_id, pos) of tokens.parquet: raise ConfigError
        naming any of `names` scored with another tokenizer (compare those per word or byte)."""
        models = self.manifest().models
        other = {n: models[n].tokenizer for n in names if n in models and models[n].tokenizer}
        if other:
            which = ", ".join(f"{n} (tokens in {self.tokens_path(k)})" for n, k in other.items())
            raise ConfigError(
                f"{which}: scored with another tokenizer than the run's tokens.parquet, so its tokens are not the "
                f"run's; compare per word or byte: --unit word (or --unit byte)"
            )

    def score_parts(self, name: str) -> ScoreParts:
        """The part files of an unfinished scoring of `name` (scores/.NAME.parts/)."""
        return ScoreParts(self.scores_dir / f".{validate_name(name)}.parts", self.scores_path(name), name)

    # -- DuckDB -------------------------------------------------------------------------------------------
    def view(self, con: duckdb.DuckDBPyConnection, table: Table, view: str) -> None:
        """Create the DuckDB view `view` of a table (corpus, tokens, features, probes), queried in place from its
        Parquet file (checked against its schema first)."""
        if table not in _SCHEMAS:
            raise KeyError(table)
        self._create_view(con, self._require(table), _SCHEMAS[table], view)

    def view_scores(self, con: duckdb.DuckDBPyConnection, name: str, view: str) -> None:
        """Create the DuckDB view `view` of the scores of `name`, queried in place (schema checked first)."""
        self._create_view(con, self._require_scores(name), SCORES_SCHEMA, view)

    def token_view(self, con: duckdb.DuckDBPyConnection, view: str, *, tokens: Sequence[str] | None = None,
                   scores: Mapping[str, str | tuple[str, str]] | None = None, features: Sequence[str] = (),
                   docs: str | None = None) -> None:  # fmt: skip
        """The one query of a run's tokens: create the DuckDB view `view`, one row per position (doc_id, pos) with
        the columns asked for, every table read in place with its schema checked.

        - `scores`: {column: scored NAME}, each scoring's loss (float32) as `column`, or {column: (NAME, COLUMN)}
          another column of its scores file (entropy, rank, topk_ids, topk_logprobs: `score_columns`);
        - `features`: feature columns to carry (`FEATURE_COLUMNS_ALL` for every one);
        - `tokens`: columns of tokens.parquet to carry. With `tokens` given the view holds every token of the run
          and scores and features are left-joined (NULL where a position has none; `has_features` says which
          positions have a features row); without, it holds the positions that every scoring asked for and (if
          any are asked for) the features have;
        - `docs`: a SQL query giving the doc_ids to keep: each table is filtered as it streams, before any join, so
          that a view of a few documents never builds a hash table of the whole run.

        The positions and their order are not sorted; ORDER BY doc_id, pos where it matters."""
        scores = dict(scores or {})
        if tokens is None and not scores:
            raise ValueError("token_view needs tokens or at least one scoring")
        every = self.columns("features") if features == FEATURE_COLUMNS_ALL else list(features)
        every = [c for c in every if c not in ("doc_id", "pos")]

        def source(name: str, path: Path, schema: pa.Schema) -> str:
            check_schema(pq.read_schema(path), schema, path, cast=False)
            con.read_parquet(str(path)).create_view(f"{view}__{name}", replace=True)
            where = f" WHERE doc_id IN ({docs})" if docs else ""
            return f'(SELECT * FROM "{view}__{name}"{where})'

        parts = []  # (alias, relation)
        if tokens is not None:
            parts.append(("t", source("tokens", self._require("tokens"), TOKENS_SCHEMA)))
        asked = {column: (value, "loss") if isinstance(value, str) else value for column, value in scores.items()}
        names = list(dict.fromkeys(name for name, _ in asked.values()))
        for k, name in enumerate(names):
            parts.append((f"s{k}", source(f"s{k}", self._require_scores(name), SCORES_SCHEMA)))
        if every:
            parts.append(("f", source("features", self._require("features"), FEATURES_SCHEMA)))
        first = parts[0][0]
        kind = "LEFT JOIN" if tokens is not None else "JOIN"
        joins = " ".join(f"{kind} {rel} {alias} ON {alias}.doc_id = {first}.doc_id AND {alias}.pos = {first}.pos"
                         for alias, rel in parts[1:])  # fmt: skip
        selects = [f"{first}.doc_id", f"{first}.pos"]
        selects += [f't."{c}"' for c in (tokens or ()) if c not in ("doc_id", "pos")]
        selects += [f's{names.index(name)}."{part}" AS "{column}"' for column, (name, part) in asked.items()]
        selects += [f'f."{c}"' for c in every]
        if tokens is not None and every:  # left-joined: which positions have a features row at all
            selects.append("f.pos IS NOT NULL AS has_features")
        columns = ", ".join(selects)
        con.execute(f'CREATE OR REPLACE VIEW "{view}" AS SELECT {columns} FROM {parts[0][1]} {first} {joins}')

    @staticmethod
    def _create_view(con: duckdb.DuckDBPyConnection, path: Path, schema: pa.Schema, view: str) -> None:
        check_schema(pq.read_schema(path), schema, path, cast=False)
        con.read_parquet(str(path)).create_view(view, replace=True)

    # -- manifest -------------------------------------------------------------------------------------------
    @property
    def _manifest_path(self) -> Path:
        return self.path / "run.json"

    def manifest(self) -> Manifest:
        """The manifest (empty if the run has none yet), every record validated."""
        if not self._manifest_path.is_file():
            return Manifest()
        try:
            data = json.loads(self._manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{self._manifest_path} is not valid JSON: {exc}") from exc
        return Manifest.from_json(data, str(self._manifest_path))

    def _update(self, change: Callable[[Manifest], Manifest]) -> Manifest:
        """Apply `change` to the manifest under a file lock and write it back atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".run.json.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            manifest = change(self.manifest())
            write_text_atomic(self._manifest_path, json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n")
        return manifest

    def record_corpus(self, record: CorpusRecord) -> None:
        self._update(lambda m: m.replace(corpus=record))

    def record_tokenizer(self, record: TokenizerRecord, key: str = "") -> None:
        """Record a tokenization: key "" is the run's first (tokens.parquet), any other key one more."""
        if not key:
            self._update(lambda m: m.replace(tokenizer=record))
        else:
            self._update(lambda m: m.replace(tokenizers={**m.tokenizers, validate_name(key): record}))

    def record_unit(self, record: UnitRecord) -> None:
        self._update(lambda m: m.replace(unit=record))

    def record_model(self, name: str, record: ModelRecord) -> None:
        self._update(lambda m: m.replace(models={**m.models, validate_name(name): record}))

    def record_features(self, record: FeaturesRecord) -> None:
        self._update(lambda m: m.replace(features=record))

    def record_probes(self, record: ProbesRecord) -> None:
        self._update(lambda m: m.replace(probes=record))

    def record_stage(self, stage: str, config: object, time: str) -> None:
        """What an analysis or report stage ran with (`config` a dataclass)."""
        record = StageRecord(config=to_json(config), time=time)
        self._update(lambda m: m.replace(stages={**m.stages, stage: record}))

    def record_pipeline(self, stage: str, record: PipelineRecord) -> None:
        self._update(lambda m: m.replace(pipeline={**m.pipeline, stage: record}))

    # -- results --------------------------------------------------------------------------------------------
    def result_dir(self, name: str) -> Path:
        """results/NAME/ of a named result (results/ itself for the unnamed result of an older run)."""
        return self.results_dir / validate_name(name) if name else self.results_dir

    def results(self) -> list[ResultRecord]:
        """Every result of the run, by kind (compare, curves, training) then name; an older run's unnamed
        results (files in results/ itself) come as records named ""."""
        if not self.results_dir.is_dir():
            return []
        found = []
        for folder in sorted(p for p in self.results_dir.iterdir() if p.is_dir()):
            path = folder / RECORD
            if path.is_file():
                try:
                    found.append(from_json(ResultRecord, json.loads(path.read_text()), str(path)))
                except json.JSONDecodeError as exc:
                    raise SchemaError(f"{path} is not valid JSON: {exc}") from exc
        found += self._unnamed_results()
        order = {"compare": 0, "discover": 1, "curves": 2, "training": 3}
        return sorted(found, key=lambda r: (order[r.kind], r.name))

    def _unnamed_results(self) -> list[ResultRecord]:
        """The results an older lossgap wrote into results/ itself."""
        out = []
        if (self.results_dir / SUMMARY).is_file():
            summary = self.read_summary("")
            out.append(ResultRecord(name="", kind="compare", baseline=summary.baseline, candidate=summary.candidate))
        for kind, filename in (("curves", "curves.csv"), ("training", "training.csv")):
            if (self.results_dir / filename).is_file():
                out.append(ResultRecord(name="", kind=kind))  # type: ignore[arg-type]
        return out

    def find_result(self, kind: ResultKind, name: str | None = None) -> ResultRecord | None:
        """The result called `name` (which must be of `kind`), or the run's one result of `kind`; None when the
        run has none. Several of that kind and no name: RunDirError listing them."""
        results = self.results()
        if name is not None:
            named = [r for r in results if r.name == name]  # an older run's unnamed results: one of each kind
            of_kind = [r for r in named if r.kind == kind]
            if named and not of_kind:
                raise RunDirError(f"{self.result_dir(name)} holds {named[0].kind} results, not {kind}")
            return of_kind[0] if of_kind else None
        of_kind = [r for r in results if r.kind == kind]
        if len(of_kind) > 1:
            names = ", ".join(r.name or '"" (results/ itself)' for r in of_kind)
            raise RunDirError(f"{self.results_dir} holds {len(of_kind)} {kind} results ({names}): name the one meant")
        return of_kind[0] if of_kind else None

    def result(self, kind: ResultKind, name: str | None = None) -> ResultRecord:
        """`find_result`, but a run without it is a RunDirError with the command that makes it."""
        found = self.find_result(kind, name)
        if found is None:
            what = f"no {kind} result" + ("" if name is None else f" named {name!r}")
            raise RunDirError(f"{self.results_dir}: {what}; {_RESULT_HINTS[kind].format(run=self.path)}")
        return found

    def result_file(self, filename: str, result: str | None = None) -> Path:
        """The path of a results file (categories.csv, summary.json, …) of the named result, or of the run's one
        result of the file's kind."""
        return self.result_dir(self.result(file_kind(filename), result).name) / filename

    def write_results(self, record: ResultRecord, tables: dict[str, pd.DataFrame], *,
                      summary: Summary | DiscoverSummary | None = None, regression: str | None = None) -> Path:  # fmt: skip
        """Write one named result: each CSV through its `RESULTS` entry, summary.json (a search's discover.json),
        the regression's text and its record, as one set into results/NAME/. The same question asked again (same kind and models)
        replaces that result; a name that holds another result is a ConfigError."""
        folder = self.result_dir(record.name) if record.name else None
        if folder is None:
            raise ConfigError("a result needs a name")
        existing = folder / RECORD
        if existing.is_file():
            old = from_json(ResultRecord, json.loads(existing.read_text()), str(existing))
            if not old.same_question(record):
                raise ConfigError(f"{folder} already holds {old.label}; give this {record.kind} another --name, or "
                                  f"remove that folder to replace it")  # fmt: skip
        texts = {RESULTS[name].filename: table_to_csv(RESULTS[name], frame) for name, frame in tables.items()}
        if summary is not None:
            texts[DISCOVER_SUMMARY if isinstance(summary, DiscoverSummary) else SUMMARY] = json_text(to_json(summary))
        if regression is not None:
            texts[REGRESSION] = regression
        texts[RECORD] = json_text(to_json(record))
        # all computed first, then written as one set: an error on the way leaves the old results
        write_texts_atomic(folder, texts)
        for stale in folder.iterdir():  # files an earlier write of the same question had and this one has not
            if (
                stale.is_file()
                and stale.name not in texts
                and (stale.name in RESULTS or stale.name in (SUMMARY, REGRESSION, DISCOVER_SUMMARY))
            ):
                stale.unlink()
        return folder

    def remove_result(self, name: str) -> bool:
        """Remove the named result (results/NAME/), e.g. before a script that owns it writes it again with other
        models; False if there was none. The folder is renamed away first, so a crash leaves it whole or gone."""
        if not name:
            raise ConfigError("remove_result needs a result's name")
        folder = self.result_dir(name)
        if not (folder / RECORD).is_file():
            return False
        doomed = folder.with_name(f".{folder.name}.removing")
        shutil.rmtree(doomed, ignore_errors=True)
        folder.rename(doomed)
        shutil.rmtree(doomed)
        return True

    def read_results(self, filename: str, result: str | None = None) -> pd.DataFrame | None:
        """A results table typed by its `RESULTS` entry, or None if the result or the file does not exist."""
        record = self.find_result(file_kind(filename), result)
        path = None if record is None else self.result_dir(record.name) / filename
        if path is None or not path.is_file():
            return None
        return table_from_csv(RESULTS[filename], path.read_text(encoding="utf-8"), str(path))

    def read_summary(self, result: str | None = None) -> Summary:
        """summary.json of the named comparison, or of the run's one comparison."""
        path = self.results_dir / SUMMARY if result == "" else self.result_file(SUMMARY, result)
        return self._read_record(path, Summary, "compare")

    def read_discover_summary(self, result: str | None = None) -> DiscoverSummary:
        """discover.json of the named slice search, or of the run's one search."""
        return self._read_record(self.result_file(DISCOVER_SUMMARY, result), DiscoverSummary, "discover")

    def _read_record(self, path: Path, cls: type[T], kind: ResultKind) -> T:
        if not path.is_file():
            raise RunDirError(f"{path} does not exist: {_RESULT_HINTS[kind].format(run=self.path)}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SchemaError(f"{path} is not valid JSON: {exc}") from exc
        return from_json(cls, data, str(path))

    def has_summary(self) -> bool:
        """Whether the run holds at least one comparison."""
        return any(r.kind == "compare" for r in self.results())

    def read_regression(self, result: str | None = None) -> str | None:
        """regression.txt: the models behind the adjusted contrasts (None if never written)."""
        record = self.find_result("compare", result)
        path = None if record is None else self.result_dir(record.name) / REGRESSION
        return path.read_text(encoding="utf-8").strip() if path is not None and path.is_file() else None

    # -- report ---------------------------------------------------------------------------------------------
    def write_report(self, files: dict[str, str]) -> Path:
        """Write the report's files (relative paths under report/) as one set; stale figures and pages (of
        results no longer in the run) removed."""
        write_texts_atomic(self.report_dir, files)
        for stale in [*(self.report_dir / "figures").glob("*.svg"), *self.report_dir.glob("*.html")]:
            if stale.relative_to(self.report_dir).as_posix() not in files:
                stale.unlink()
        return self.report_index


def as_rundir(run: RunDir | Path | str) -> RunDir:
    """`run` itself if it is a RunDir, else the run directory at that path."""
    return run if isinstance(run, RunDir) else RunDir(Path(run))
