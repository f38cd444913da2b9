"""`run_score`: score a run's corpus with one model, resumably, on one or several processes.

Reads corpus.parquet (or a corpus file, the first time), writes tokens.parquet (once per run),
scores/NAME.parquet and the model's entry in run.json. Finished documents go to part files in
scores/.NAME.parts/ as they complete; a re-run with the same settings skips them, and the parts are merged
into scores/NAME.parquet (atomically) only when every document is scored exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from lossgap.corpus import CorpusConfig, corpus_fingerprint, read_corpus, run_corpus
from lossgap.errors import ConfigError, RunDirError
from lossgap.rundir import RunDir, atomic_path
from lossgap.scoring.config import ScoreConfig
from lossgap.scoring.distributed import Ranks, init_ranks, shard_documents
from lossgap.scoring.loss import CausalLMHead, batch_losses
from lossgap.scoring.models import (
    load_model,
    load_tokenizer,
    model_context_limit,
    resolve_device,
    resolve_dtype,
    software_versions,
)
from lossgap.scoring.tokenize import check_same_tokens, prefix_policy, tokenize_documents, tokens_fingerprint
from lossgap.scoring.windows import plan_batches, plan_windows

__all__ = ["ScoreResult", "run_score", "Progress"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as progress(tokens_done, tokens_total) on the main process."""

_SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring did: where the scores are, how many tokens, their mean loss."""

    name: str
    path: Path
    n_docs: int
    n_tokens: int
    mean_loss: float
    resumed_docs: int
    already_complete: bool
    is_main_process: bool


def _requested_settings(config: ScoreConfig) -> dict[str, Any]:
    """The options that decide the scores (not batch size, which changes nothing but speed)."""
    return {k: getattr(config, k) for k in ("model", "revision", "dtype", "max_length", "stride")}


def _corpus_table(rd: RunDir, corpus: Path | None, ranks: Ranks) -> pa.Table:
    """The run's corpus; read from `corpus` and recorded the first time."""
    if rd.has_corpus():
        table = rd.read_corpus()
        if corpus is not None:
            given = read_corpus(corpus)
            if corpus_fingerprint(given.table) != corpus_fingerprint(table):
                raise RunDirError(
                    f"{rd.corpus_path} holds a different corpus than {corpus}; drop --corpus to score this run's "
                    f"corpus, or use a new --run directory"
                )
        return table
    if corpus is None:
        raise RunDirError(f"{rd.path} has no corpus yet: pass --corpus FILE (or run `lossgap corpus` first)")
    # The first scoring of a run records its corpus as `lossgap corpus` would; other ranks read the same file.
    given = run_corpus(rd, corpus, CorpusConfig()) if ranks.is_main else read_corpus(corpus)
    return given.table


def _split_by_document(tokens: pa.Table) -> list[np.ndarray]:
    """Token ids of each document, in corpus order (every document starts with its prefix token at pos 0)."""
    ids = tokens.column("token_id").to_numpy().astype(np.int64)
    starts = np.flatnonzero(tokens.column("pos").to_numpy() == 0)
    return np.split(ids, starts[1:])


def _prepare_parts(rd: RunDir, name: str, settings: dict[str, Any], overwrite: bool) -> Path:
    """Create (or check) the part-file folder of an unfinished scoring; settings must match to resume."""
    parts = rd.scores_parts_dir(name)
    settings_path = parts / _SETTINGS_FILE
    if parts.is_dir() and settings_path.is_file():
        previous = json.loads(settings_path.read_text())
        if previous != settings and not overwrite:
            raise ConfigError(
                f"{parts} holds an unfinished scoring of {name!r} with other settings ({previous}); rerun with "
                f"those settings to resume, pass --overwrite to start over, or choose another --name"
            )
        if previous == settings:
            return parts
    if parts.exists():
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    with atomic_path(settings_path) as tmp:
        tmp.write_text(json.dumps(settings, sort_keys=True))
    return parts


def _done_documents(parts: Path) -> set[str]:
    done: set[str] = set()
    for part in sorted(parts.glob("part-*.parquet")):
        done.update(pq.read_table(part, columns=["doc_id"]).column("doc_id").unique().to_pylist())
    return done


def _write_part(parts: Path, rank: int, docs: list[tuple[str, np.ndarray]]) -> None:
    doc_col = pa.array([d for d, losses in docs for _ in range(len(losses))], pa.string())
    pos = np.concatenate([np.arange(1, len(losses) + 1, dtype=np.int32) for _, losses in docs])
    loss = np.concatenate([losses for _, losses in docs]).astype(np.float32)
    table = pa.table({"doc_id": doc_col, "pos": pos, "loss": loss})
    with atomic_path(parts / f"part-r{rank:04d}-{uuid.uuid4().hex}.parquet") as tmp:
        pq.write_table(table, tmp)


def _score_shard(
    head: CausalLMHead,
    token_ids: list[np.ndarray],
    doc_ids: list[str],
    docs: np.ndarray,
    *,
    max_length: int,
    stride: int,
    config: ScoreConfig,
    device,  # type: ignore[no-untyped-def]
    parts: Path,
    rank: int,
    progress: Progress | None,
) -> None:
    windows = [w for d in docs for w in plan_windows(len(token_ids[d]), max_length, stride, doc=int(d))]
    pending = {int(d): 0 for d in docs}
    for w in windows:
        pending[w.doc] += 1
    losses = {int(d): np.empty(len(token_ids[d]) - 1, np.float32) for d in docs}
    total = sum(len(token_ids[d]) - 1 for d in docs)
    done_tokens, finished, finished_tokens = 0, [], 0
    for batch in plan_batches(windows, config.batch_tokens):
        out = batch_losses(head, token_ids, batch.windows, batch.width, config.loss_chunk_tokens, device)
        for w, window_losses in zip(batch.windows, out):
            losses[w.doc][w.score_from - 1 : w.end - 1] = window_losses
            pending[w.doc] -= 1
            done_tokens += len(window_losses)
            if pending[w.doc] == 0:
                finished.append((doc_ids[w.doc], losses.pop(w.doc)))
                finished_tokens += len(finished[-1][1])
        if finished_tokens >= config.flush_tokens:
            _write_part(parts, rank, finished)
            finished, finished_tokens = [], 0
        if progress is not None:
            progress(done_tokens, total)
    if finished:
        _write_part(parts, rank, finished)
    if progress is not None:
        progress(total, total)


def _merge_parts(rd: RunDir, name: str, parts: Path, doc_ids: list[str], token_ids: list[np.ndarray]) -> tuple[int, float]:
    """Write scores/NAME.parquet from the parts, in corpus order, after checking each token is there once."""
    expected = pa.table(
        {
            "doc_id": pa.array(doc_ids, pa.string()),
            "doc_index": np.arange(len(doc_ids), dtype=np.int64),
            "n_expected": np.array([max(len(t) - 1, 0) for t in token_ids], dtype=np.int64),
        }
    )
    files = [str(p) for p in sorted(parts.glob("part-*.parquet"))]
    con = duckdb.connect()
    con.register("expected", expected)
    if files:
        con.execute(f"CREATE VIEW parts AS SELECT * FROM read_parquet({files!r})")
    else:
        con.execute("CREATE VIEW parts AS SELECT NULL::VARCHAR doc_id, NULL::INTEGER pos, NULL::FLOAT loss WHERE false")
    bad = con.execute(
        """
        SELECT e.doc_id, e.n_expected, coalesce(p.n, 0), coalesce(p.n_pos, 0)
        FROM expected e FULL JOIN (
            SELECT doc_id, count(*) n, count(DISTINCT pos) n_pos FROM parts GROUP BY doc_id
        ) p USING (doc_id)
        WHERE e.doc_id IS NULL OR coalesce(p.n, 0) != e.n_expected OR coalesce(p.n_pos, 0) != e.n_expected
        LIMIT 1
        """
    ).fetchone()
    if bad is not None:
        raise RunDirError(
            f"{parts}: document {bad[0]!r} has {bad[2]} scored tokens ({bad[3]} distinct), expected {bad[1]}; "
            f"the partial scoring is inconsistent — rerun with --overwrite"
        )
    with atomic_path(rd.scores_path(name)) as tmp:
        con.execute(
            f"""
            COPY (SELECT p.doc_id, p.pos::INTEGER AS pos, p.loss::FLOAT AS loss
                  FROM parts p JOIN expected e USING (doc_id) ORDER BY e.doc_index, p.pos)
            TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)
            """
        )
    n_tokens, mean_loss = con.execute("SELECT count(*), avg(loss) FROM parts").fetchone()
    con.close()
    return int(n_tokens), float(mean_loss) if mean_loss is not None else float("nan")


def run_score(
    run_dir: Path | str,
    config: ScoreConfig,
    *,
    corpus: Path | None = None,
    progress: Progress | None = None,
) -> ScoreResult:
    """Score every token of the run's corpus with `config.model` (see the module docstring)."""
    rd = RunDir(Path(run_dir))
    name = config.resolved_name
    ranks = init_ranks(resolve_device(config.device).type)
    device = resolve_device(config.device, ranks.local_rank)
    requested = _requested_settings(config)

    manifest = rd.read_manifest()
    if rd.scores_path(name).is_file() and not config.overwrite:
        previous = manifest.get("models", {}).get(name, {})
        if previous.get("requested") != requested:
            raise ConfigError(
                f"{rd.scores_path(name)} already holds scores of {name!r} made with other settings "
                f"({previous.get('requested')}); pass --overwrite to replace them or choose another --name"
            )
        return ScoreResult(
            name, rd.scores_path(name), previous.get("n_docs", 0), previous.get("n_tokens", 0),
            previous.get("mean_loss", float("nan")), 0, True, ranks.is_main,
        )  # fmt: skip

    corpus_table = _corpus_table(rd, corpus, ranks)
    doc_ids = corpus_table.column("doc_id").to_pylist()
    tokenizer = load_tokenizer(config, device)
    policy = prefix_policy(tokenizer)
    tokens = tokenize_documents(tokenizer, doc_ids, corpus_table.column("text").to_pylist(), policy)
    if rd.has_tokens():
        check_same_tokens(rd.read_tokens(["doc_id", "pos", "token_id"]), tokens, config.model)
    elif ranks.is_main:
        rd.write_tokens(tokens)
        tokenizer_info = {
            "fingerprint": tokens_fingerprint(tokens),
            "prefix_token_id": policy.token_id,
            "policy": policy.description,
            "first_model": config.model,
            "n_tokens": tokens.num_rows,
        }
        rd.update_manifest(lambda m: m.__setitem__("tokenizer", tokenizer_info))
    ranks.barrier()
    token_ids = _split_by_document(tokens)
    del tokens

    dtype = resolve_dtype(config.dtype, device)
    model = load_model(config, device, dtype)
    head = CausalLMHead(model)
    probe = next((t for t in token_ids if len(t) >= 2), None)
    if probe is not None:
        head.check_against_full_forward(torch.from_numpy(probe[None, :16]).to(device))
    if config.compile:
        head.compile()
    max_length = config.max_length or model_context_limit(model, tokenizer)
    stride = config.stride or max(1, max_length // 2)
    if stride >= max_length:
        raise ConfigError(f"--stride {stride}: must be smaller than the context limit {max_length}")
    settings = {**requested, "resolved_max_length": max_length, "resolved_stride": stride,
                "tokens": rd.read_manifest().get("tokenizer", {}).get("fingerprint")}  # fmt: skip

    if ranks.is_main:
        _prepare_parts(rd, name, settings, config.overwrite)
    ranks.barrier()
    parts = rd.scores_parts_dir(name)
    done = _done_documents(parts)
    ranks.barrier()  # every rank has read the done set before anyone writes a new part
    todo = np.array([i for i, d in enumerate(doc_ids) if d not in done and len(token_ids[i]) >= 2], dtype=np.int64)
    if done:
        log.info("resuming %s: %d of %d documents already scored", name, len(done), len(doc_ids))
    shard = todo[shard_documents(np.array([len(token_ids[i]) for i in todo]), ranks.world_size)[ranks.rank]]
    _score_shard(
        head, token_ids, doc_ids, shard, max_length=max_length, stride=stride, config=config, device=device,
        parts=parts, rank=ranks.rank, progress=progress if ranks.is_main else None,
    )  # fmt: skip
    ranks.barrier()

    n_tokens, mean_loss = 0, float("nan")
    if ranks.is_main:
        n_tokens, mean_loss = _merge_parts(rd, name, parts, doc_ids, token_ids)
        record = {
            "model": config.model,
            "revision": config.revision,
            "dtype": str(dtype).removeprefix("torch."),
            "device": device.type,
            "architecture": type(model).__name__,
            "attention": model.config._attn_implementation,
            "compiled": config.compile,
            "context": {
                "max_length": max_length,
                "stride": stride,
                "policy": "full document" if max(map(len, token_ids)) <= max_length else
                f"windows of {max_length} tokens, stride {stride}",
                "prefix": policy.description,
            },  # fmt: skip
            "requested": requested,
            "batch_tokens": config.batch_tokens,
            "world_size": ranks.world_size,
            "n_docs": len(doc_ids),
            "n_tokens": n_tokens,
            "mean_loss": mean_loss,
            "versions": software_versions(),
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        rd.update_manifest(lambda m: m.setdefault("models", {}).__setitem__(name, record))
        shutil.rmtree(parts)
    ranks.barrier()
    return ScoreResult(name, rd.scores_path(name), len(doc_ids), n_tokens, mean_loss, len(done), False, ranks.is_main)
