"""The part files of an unfinished scoring (scores/.NAME.parts/): finished pieces (a context window's scored
tokens, or a whole document) written as they complete, the settings a resumption must match, and the merge into
scores/NAME.parquet once every token is there."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lossgap.errors import ConfigError, RunDirError
from lossgap.rundir.atomic import atomic_path, write_text_atomic
from lossgap.rundir.jsonable import to_json

__all__ = ["ScoreParts"]

_SETTINGS = "settings.json"


class ScoreParts:
    """The part-file folder of one scoring; created by `RunDir.score_parts(name)`."""

    def __init__(self, folder: Path, scores_path: Path, name: str) -> None:
        self.folder, self.scores_path, self.name = folder, scores_path, name

    def prepare(self, settings: dict[str, Any], overwrite: bool) -> None:
        """Create the folder, or keep it when it holds an unfinished scoring with the same settings."""
        settings = to_json(settings)
        settings_path = self.folder / _SETTINGS
        if self.folder.is_dir() and settings_path.is_file():
            previous = json.loads(settings_path.read_text())
            if previous == settings:
                return
            if not overwrite:
                raise ConfigError(
                    f"{self.folder} holds an unfinished scoring of {self.name!r} with other settings ({previous}); "
                    f"rerun with those settings to resume, pass --overwrite to start over, or choose another --name"
                )
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        write_text_atomic(settings_path, json.dumps(settings, sort_keys=True))

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.parquet"))

    def done_pieces(self) -> dict[str, list[tuple[int, int]]]:
        """The scored positions in the part files: for each document, its pieces as (first, last) positions.

        Parts written before pieces were recorded hold whole documents: one piece per document."""
        done: dict[str, list[tuple[int, int]]] = {}
        for part in self._files():
            table = pq.read_table(part)
            keys = ["doc_id", "piece"] if "piece" in table.column_names else ["doc_id"]
            spans = table.group_by(keys, use_threads=False).aggregate([("pos", "min"), ("pos", "max")])
            for doc, first, last in zip(spans.column("doc_id").to_pylist(), spans.column("pos_min").to_pylist(),
                                        spans.column("pos_max").to_pylist(), strict=True):  # fmt: skip
                done.setdefault(doc, []).append((first, last))
        return done

    def done_tokens(self) -> int:
        """How many scored positions the part files hold."""
        return sum(pq.read_metadata(part).num_rows for part in self._files())

    def write(self, rank: int, pieces: Sequence[tuple[str, int, dict[str, np.ndarray]]]) -> None:
        """One part file of pieces (doc_id, first position, {column: values of positions first .. first+len-1}):
        the scored tokens of context windows, or whole documents (first position 1). Every piece has "loss" and
        the same other columns (entropy, rank; topk_ids and topk_logprobs as [tokens, k] arrays)."""
        size = [len(values["loss"]) for _, _, values in pieces]
        # each piece's document name repeated over its tokens, by index (a Python list of every token's name took
        # ~0.3 s a flush of 262k tokens, while the GPU waited)
        doc_col = pa.array([d for d, _, _ in pieces], pa.string()).take(np.repeat(np.arange(len(pieces)), size))
        pos = np.concatenate(
            [np.arange(first, first + n, dtype=np.int32) for (_, first, _), n in zip(pieces, size, strict=True)]
        )
        piece = np.concatenate([np.full(n, first, np.int32) for (_, first, _), n in zip(pieces, size, strict=True)])
        columns: dict[str, Any] = {"doc_id": doc_col, "pos": pos}
        for key in pieces[0][2]:
            values = np.concatenate([v[key] for _, _, v in pieces])
            columns[key] = _column(key, values)
        table = pa.table({**columns, "piece": piece})
        with atomic_path(self.folder / f"part-r{rank:04d}-{uuid.uuid4().hex}.parquet") as tmp:
            pq.write_table(table, tmp)

    def merge(self, doc_ids: list[str], n_expected: np.ndarray, columns: Sequence[str] = ()) -> tuple[int, float]:
        """Write scores/NAME.parquet from the parts, in corpus order, after checking every token is there once.

        `n_expected[i]` is the number of scored positions of document `doc_ids[i]`; `columns` the parts' columns
        beyond the loss (TokenStats.columns), carried into the scores file. Returns the token count and mean loss.
        The merge runs in DuckDB, out of core.
        """
        expected = pa.table(
            {
                "doc_id": pa.array(doc_ids, pa.string()),
                "doc_index": np.arange(len(doc_ids), dtype=np.int64),
                "n_expected": np.asarray(n_expected, dtype=np.int64),
            }
        )
        files = [str(p) for p in self._files()]
        con = duckdb.connect()
        try:
            con.register("expected", expected)
            if files:
                con.execute(
                    f"CREATE VIEW parts AS SELECT doc_id, pos, loss{''.join(', ' + c for c in columns)} "
                    f"FROM read_parquet({files!r}, union_by_name = true)"
                )
            else:
                con.execute(
                    "CREATE VIEW parts AS SELECT NULL::VARCHAR doc_id, NULL::INTEGER pos, NULL::FLOAT loss WHERE false"
                )
            found = con.execute(
                """
                SELECT e.doc_id, e.n_expected, coalesce(p.n, 0), coalesce(p.n_pos, 0)
                FROM expected e FULL JOIN (
                    SELECT doc_id, count(*) n, count(DISTINCT pos) n_pos FROM parts GROUP BY doc_id
                ) p USING (doc_id)
                WHERE e.doc_id IS NULL OR coalesce(p.n, 0) != e.n_expected OR coalesce(p.n_pos, 0) != e.n_expected
                LIMIT 1
                """
            ).fetchall()
            if found:
                bad = found[0]
                raise RunDirError(
                    f"{self.folder}: document {bad[0]!r} has {bad[2]} scored tokens ({bad[3]} distinct), expected "
                    f"{bad[1]}; the partial scoring is inconsistent — rerun with --overwrite"
                )
            with atomic_path(self.scores_path) as tmp:
                con.execute(
                    f"""
                    COPY (SELECT p.doc_id, p.pos::INTEGER AS pos, p.loss::FLOAT AS loss{"".join(", p." + c for c in columns)}
                          FROM parts p JOIN expected e USING (doc_id) ORDER BY e.doc_index, p.pos)
                    TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)
                    """
                )
            n_tokens, mean_loss = con.execute("SELECT count(*), avg(loss) FROM parts").fetchall()[0]
        finally:
            con.close()
        return int(n_tokens), float(mean_loss) if mean_loss is not None else float("nan")

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _column(key: str, values: np.ndarray) -> pa.Array:
    """A part file's column: float32 losses and entropies, int32 ranks, and [tokens, k] arrays as fixed-size lists."""
    if values.ndim == 2:
        flat = values.astype(np.int32 if key == "topk_ids" else np.float32).reshape(-1)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat), values.shape[1])
    return pa.array(values.astype(np.int32 if key == "rank" else np.float32))
