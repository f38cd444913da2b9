"""The unit run units/UNIT/ of a run: the corpus cut into words or bytes (`segmentation`), each model's token losses
shared among them (`attribution`), and the units annotated like tokens, so that `compare`, `curves` and
`report` work on it unchanged, whatever tokenizers the models have.

    units/UNIT/tokens.parquet        one row per unit: doc_id, pos (1 + the unit's index in its document;
                                     pos 0 is a prefix row without characters, as in every token table),
                                     token_id (the unit's id: a word's index in the run's word list, a byte's
                                     value), char_start, char_end (the unit's characters, white space before it
                                     included)
    units/UNIT/scores/NAME.parquet   one row per unit the model scored completely: its loss, in nats
    units/UNIT/features.parquet      the annotators' columns, computed on the units (repeats in units, rarity
                                     of the unit's text in the run, parts of speech of the words)
    units/UNIT/run.json              the unit's record and, for each model, its source record with the unit
                                     scores' provenance in `requested`: the source's stamp, units left out,
                                     the token and unit loss sums, bytes kept and bits per byte

A model's unit scores are rebuilt when its source scores change; the units and their features when the corpus
changes. A unit left out for a model (some byte not in a scored token) is counted in the log.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lossgap.errors import ConfigError, RunDirError
from lossgap.rundir import (
    SCORES_SCHEMA,
    TOKENS_SCHEMA,
    ModelRecord,
    RunDir,
    TokenizerRecord,
    UnitRecord,
    UnitScoring,
    UnitSource,
    document_runs,
)
from lossgap.units.attribution import ATTRIBUTION, unit_losses
from lossgap.units.segmentation import SEGMENTATION, UNITS, char_to_byte, segment

__all__ = ["UnitScores", "build_units", "unit_tokens"]

log = logging.getLogger(__name__)
PREFIX_ID = -1  # the token_id of the prefix row at pos 0 of every document of a unit run


@dataclass(frozen=True)
class UnitScores:
    """What `build_units` did for one model: units scored, units left out (not completely covered), and the
    total loss of the model's tokens and of its units (equal up to rounding: the attribution conserves it)."""

    name: str
    n_units: int
    n_incomplete: int
    token_loss_sum: float
    unit_loss_sum: float
    rebuilt: bool


def unit_tokens(doc_ids: Sequence[str], texts: Sequence[str | None], unit: str) -> tuple[pa.Table, list[np.ndarray]]:
    """The unit table (TOKENS_SCHEMA) of the documents, and each document's unit byte ends."""
    vocabulary: dict[str, int] = {}
    doc_col, pos, ids, starts, ends, byte_ends = [], [], [], [], [], []
    for doc_id, text in zip(doc_ids, texts, strict=True):
        units = segment(text or "", unit)
        n = len(units)
        if unit == "word":
            unit_ids = np.fromiter((vocabulary.setdefault(k, len(vocabulary)) for k in units.keys), np.int64, n)
        else:
            unit_ids = np.asarray(units.keys, np.int64)
        # pos 0 is a prefix, as in every token table of a run (no characters, never scored): unit i is at pos i + 1
        doc_col.append(pa.array([doc_id] * (n + 1), pa.string()))
        pos.append(np.arange(n + 1, dtype=np.int32))
        ids.append(np.concatenate([[PREFIX_ID], unit_ids]).astype(np.int32))
        starts.append(np.concatenate([[-1], units.char_start]).astype(np.int32))
        ends.append(np.concatenate([[-1], units.char_end]).astype(np.int32))
        byte_ends.append(units.byte_end)
    if not doc_col:
        return TOKENS_SCHEMA.empty_table(), []
    table = pa.table({"doc_id": pa.concat_arrays(doc_col), "pos": np.concatenate(pos), "token_id": np.concatenate(ids),
                      "char_start": np.concatenate(starts), "char_end": np.concatenate(ends)}, schema=TOKENS_SCHEMA)  # fmt: skip
    return table, byte_ends


def _doc_bounds(doc_col: pa.ChunkedArray) -> dict[str, tuple[int, int]]:
    """Row range of each document in a table whose rows are grouped by document."""
    ids, starts = document_runs(doc_col)
    return {d: (int(a), int(b)) for d, a, b in zip(ids, starts[:-1], starts[1:], strict=True)}


def _model_units(run: RunDir, name: str, record: ModelRecord, doc_ids: list[str], texts: list[str | None],
                 byte_ends: list[np.ndarray]) -> tuple[pa.Table, int, float, int]:  # fmt: skip
    """One model's unit scores (complete units only), the count of incomplete units, its token loss sum, and the
    bytes of the units kept."""
    tokens = run.read_tokens(record.tokenizer, ["doc_id", "pos", "char_start", "char_end"])
    scores = run.read_scores(name)
    token_rows = _doc_bounds(tokens.column("doc_id"))
    score_rows = _doc_bounds(scores.column("doc_id"))
    pos, char_start, char_end = (
        tokens.column(c).to_numpy().astype(np.int64) for c in ("pos", "char_start", "char_end")
    )
    score_pos = scores.column("pos").to_numpy().astype(np.int64)
    score_loss = scores.column("loss").to_numpy().astype(np.float64)
    out_doc, out_pos, out_loss = [], [], []
    n_incomplete, token_sum, n_bytes = 0, 0.0, 0
    for doc_id, text, ends in zip(doc_ids, texts, byte_ends, strict=True):
        if doc_id not in score_rows or not len(ends):
            n_incomplete += len(ends)
            continue
        t0, t1 = token_rows[doc_id]
        s0, s1 = score_rows[doc_id]
        at = score_pos[s0:s1]  # the scored positions; a token's row in its document is its pos
        if at.max(initial=-1) >= t1 - t0 or not np.array_equal(pos[t0:t1][at], at):
            raise RunDirError(f"scores/{name}: document {doc_id!r} has positions its tokens do not have; re-score it")
        offsets = char_to_byte(text or "")
        cs, ce = char_start[t0:t1][at], char_end[t0:t1][at]
        special = cs < 0
        a = np.where(special, 0, offsets[np.clip(cs, 0, None)])
        b = np.where(special, 0, offsets[np.clip(ce, 0, None)])
        losses = score_loss[s0:s1]
        unit_loss, complete = unit_losses(ends, a, b, losses)
        token_sum += float(losses.sum())
        n_incomplete += int((~complete).sum())
        keep = np.flatnonzero(complete)
        n_bytes += int(np.diff(np.concatenate([[0], ends]))[keep].sum())
        out_doc.append(pa.array([doc_id] * len(keep), pa.string()))
        out_pos.append((keep + 1).astype(np.int32))
        out_loss.append(unit_loss[keep])
    if not out_doc:
        return SCORES_SCHEMA.empty_table(), n_incomplete, token_sum, n_bytes
    table = pa.table({"doc_id": pa.concat_arrays(out_doc), "pos": np.concatenate(out_pos),
                      "loss": np.concatenate(out_loss).astype(np.float32)}, schema=SCORES_SCHEMA)  # fmt: skip
    return table, n_incomplete, token_sum, n_bytes


def build_units(
    run: RunDir, unit: str, names: Sequence[str], *, annotate: object | None = None
) -> tuple[RunDir, list[UnitScores]]:
    """Bring units/UNIT/ of `run` up to date for the models `names`: the units (once per corpus), each model's
    unit scores (again when its scores changed) and the features (once per units; `annotate` an
    AnnotateConfig, default the parent's options without a counts file, which counts token ids). Returns the
    unit run and what was done for each model."""
    from lossgap.features import AnnotateConfig, run_annotate

    if unit not in UNITS:
        raise ConfigError(f"--unit {unit}: choose token, {', '.join(UNITS)}")
    manifest = run.manifest()
    if manifest.corpus is None:
        raise RunDirError(f"{run.path}: no corpus recorded; run `lossgap corpus` and score models first")
    missing = [n for n in names if n not in manifest.models]
    if missing:
        raise RunDirError(f"{run.path}: no scored model {', '.join(map(repr, missing))} (scored: "
                          f"{', '.join(sorted(manifest.models)) or 'none'})")  # fmt: skip
    unit_run = run.unit(unit)
    current = unit_run.manifest().unit
    if current is not None and current.corpus != manifest.corpus.fingerprint and unit_run.path.is_dir():
        log.info("the corpus changed since %s was built: building it again", unit_run.path)
        shutil.rmtree(unit_run.path)
        current = None
    corpus = run.read("corpus", ["doc_id", "text"])
    doc_ids, texts = corpus.column("doc_id").to_pylist(), corpus.column("text").to_pylist()
    del corpus
    units, byte_ends = unit_tokens(doc_ids, texts, unit)
    if current is None or not unit_run.has("tokens"):
        unit_run.write("tokens", units)
        unit_run.record_unit(UnitRecord(unit=unit, segmentation=SEGMENTATION[unit], attribution=ATTRIBUTION,
                                        corpus=manifest.corpus.fingerprint, n_units=units.num_rows))  # fmt: skip
        unit_run.record_tokenizer(TokenizerRecord(
            fingerprint=f"{unit}:{manifest.corpus.fingerprint}", prefix_token_id=-1,
            policy=f"the {unit}s of the text from pos 1 (pos 0: a prefix row, never scored)", first_model="", n_tokens=units.num_rows,
        ))  # fmt: skip
    del units

    done = []
    recorded = unit_run.manifest().models
    for name in names:
        source = manifest.models[name]
        stamp = UnitSource(
            time=source.time, n_tokens=source.n_tokens, mean_loss=source.mean_loss, tokenizer=source.tokenizer
        )
        previous = recorded.get(name)
        made = None if previous is None else previous.unit_scoring()
        if made is not None and unit_run.has_scores(name) and made.unit == unit and made.source == stamp:
            done.append(
                UnitScores(name, previous.n_tokens, made.incomplete, made.token_loss_sum, made.unit_loss_sum, False)
            )
            continue
        table, n_incomplete, token_sum, n_bytes = _model_units(run, name, source, doc_ids, texts, byte_ends)
        unit_sum = float(np.asarray(table.column("loss"), np.float64).sum()) if table.num_rows else 0.0
        unit_run.write_scores(name, table)
        loss = table.column("loss").to_numpy().astype(np.float64) if table.num_rows else np.zeros(0)
        unit_run.record_model(name, dataclasses.replace(
            source, n_tokens=table.num_rows, mean_loss=float(loss.mean()) if loss.size else float("nan"), tokenizer="",
            requested={"unit": unit},
            units=UnitScoring(unit=unit, source=stamp, incomplete=n_incomplete, token_loss_sum=token_sum,
                              unit_loss_sum=unit_sum, n_bytes=n_bytes,
                              bits_per_byte=unit_sum / math.log(2) / n_bytes if n_bytes else float("nan")),
        ))  # fmt: skip
        if n_incomplete:
            log.warning(
                "%s: %d %ss are not covered by %s's scored tokens and are left out", unit, n_incomplete, unit, name
            )
        done.append(UnitScores(name, table.num_rows, n_incomplete, token_sum, unit_sum, True))

    stale = unit_run.manifest().features is None or not unit_run.has("features")
    if stale:
        if annotate is None:
            parent = manifest.features
            options = (
                {}
                if parent is None
                else {k: v for k, v in parent.config.items() if k in ("spacy_model", "prose_domains", "workers")}
            )
            if "prose_domains" in options:
                options["prose_domains"] = frozenset(options["prose_domains"])
            annotate = AnnotateConfig(**options)
        elif getattr(annotate, "counts", None) is not None:
            annotate = dataclasses.replace(annotate, counts=None)  # counts of token ids mean nothing for units
        run_annotate(unit_run, annotate)
    return unit_run, done
