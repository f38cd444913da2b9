"""`run_score`: score a run's corpus with one model, resumably, on one or several processes.

Reads corpus.parquet, writes the tokens of each tokenizer (once per run: tokens.parquet for the first,
tokenizers/KEY/tokens.parquet for others), scores/NAME.parquet and the model's record in
run.json. Finished context windows go to part files (`RunDir.score_parts`) as they complete; a re-run with the
same settings skips them, and the parts are merged into scores/NAME.parquet only when every token is scored
exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from lossgap.errors import ConfigError, ScoringInterrupted
from lossgap.rundir import (
    ContextPolicy,
    ModelContext,
    ModelRecord,
    RunDir,
    ScoreParts,
    TokenizerRecord,
    Window,
    as_rundir,
    to_json,
)
from lossgap.scoring.batches import plan_batches, plan_packed_batches
from lossgap.scoring.config import ScoreConfig
from lossgap.scoring.distributed import init_ranks, shard_documents
from lossgap.scoring.loss import CausalLMHead, TokenStats, batch_scores
from lossgap.scoring.models import (
    load_model,
    load_tokenizer,
    model_context_limit,
    packing_possible,
    resolve_device,
    resolve_dtype,
    software_versions,
    use_fast_kernels,
)
from lossgap.scoring.source import check_model_source
from lossgap.scoring.tokenize import (
    PrefixPolicy,
    check_same_tokens,
    prefix_policy,
    tokenize_documents,
    tokens_fingerprint,
    vocab_fingerprint,
)

__all__ = ["ScoreResult", "run_score", "run_tokenize", "Progress", "Status"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as progress(tokens_done, tokens_total) on the main process."""

Status = Callable[[str], None]
"""Called with what scoring is doing before each slow step (loading the tokenizer, the model, …)."""


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring did: where the scores are, how many tokens, their mean loss."""

    name: str
    path: Path
    n_docs: int
    n_tokens: int
    mean_loss: float
    resumed_tokens: int
    already_complete: bool
    is_main_process: bool


class _Clock:
    """Wall-clock seconds of consecutive steps, written into `into` by step name."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into, self.last = into, time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.into[step] = round(now - self.last, 3)
        self.last = now


def _requested_settings(config: ScoreConfig) -> dict[str, Any]:
    """The options that decide the scores (not batch size, which changes nothing but speed)."""
    return {k: getattr(config, k) for k in ("model", "revision", "dtype", "max_length", "stride", "float32_head")}


def _stats(config: ScoreConfig) -> TokenStats:
    return TokenStats(distribution=config.distribution, top_k=config.top_k)


def _split_by_document(tokens: pa.Table) -> list[np.ndarray]:
    """Token ids of each document, in corpus order (every document starts with its prefix token at pos 0)."""
    ids = tokens.column("token_id").to_numpy().astype(np.int64)
    starts = np.flatnonzero(tokens.column("pos").to_numpy() == 0)
    return np.split(ids, starts[1:])


def _windows_to_score(
    token_ids: list[np.ndarray],
    doc_ids: list[str],
    docs: np.ndarray,
    context: ContextPolicy,
    done: dict[str, list[tuple[int, int]]],
) -> list[Window]:
    """The windows of `docs` whose scored tokens are not already in a part file."""

    def scored(w: Window) -> bool:
        return any(first <= w.score_from and w.end - 1 <= last for first, last in done.get(doc_ids[w.doc], ()))

    return [w for d in docs for w in context.windows(len(token_ids[d]), doc=int(d)) if not scored(w)]


def _score_windows(
    head: CausalLMHead,
    token_ids: list[np.ndarray],
    doc_ids: list[str],
    windows: list[Window],
    *,
    config: ScoreConfig,
    device,  # type: ignore[no-untyped-def]
    parts: ScoreParts,
    rank: int,
    progress: Progress | None,
) -> float:
    """Score `windows`, writing the finished ones to a part file every `flush_tokens` or `flush_seconds`;
    returns the seconds until the first batch was scored (with `--compile`, mostly compiling).

    On KeyboardInterrupt the windows finished so far are written before it propagates: an interruption loses at
    most the batch in flight.
    """
    total = sum(w.end - w.score_from for w in windows)
    done_tokens, finished, finished_tokens = 0, [], 0
    start = last_flush = time.monotonic()
    first_batch_s = 0.0
    try:
        plan = plan_packed_batches if head.packed else plan_batches
        for batch in plan(windows, config.resolved_batch_tokens(device.type)):
            out = batch_scores(head, token_ids, batch.windows, batch.width, config.loss_chunk_tokens, device,
                               progress=None if progress is None else lambda rows, before=done_tokens: progress(before + rows, total),
                               stats=_stats(config))  # fmt: skip
            first_batch_s = first_batch_s or time.monotonic() - start  # the scores are on the host: the batch is done
            for w, window_scores in zip(batch.windows, out, strict=True):
                finished.append((doc_ids[w.doc], w.score_from, window_scores))
                finished_tokens += len(window_scores["loss"])
                done_tokens += len(window_scores["loss"])
            due = finished_tokens >= config.flush_tokens or time.monotonic() - last_flush >= config.flush_seconds
            if finished and due:
                # handed over before writing, so that an interruption during the write never writes them twice
                batch_pieces, finished, finished_tokens = finished, [], 0
                parts.write(rank, batch_pieces)
                last_flush = time.monotonic()
            if progress is not None:
                progress(done_tokens, total)
    except KeyboardInterrupt:
        if finished:
            parts.write(rank, finished)
        raise
    if finished:
        parts.write(rank, finished)
    if progress is not None:
        progress(total, total)
    return first_batch_s


def _tokenizer_key(tokenizer, vocab: str, taken: set[str]) -> str:  # type: ignore[no-untyped-def]
    """The key of a tokenizer new to the run: its name's last part and the start of its vocabulary's hash."""
    base = re.sub(
        r"[^A-Za-z0-9._+=-]+", "-", str(getattr(tokenizer, "name_or_path", "") or "").rstrip("/").split("/")[-1]
    )
    key = f"{base.strip('-.') or 'tokenizer'}-{vocab[:8]}"
    return key if key not in taken else f"{key}-{len(taken)}"


def _run_tokens(rd: RunDir, tokenizer, policy: PrefixPolicy, model: str, *, write: bool) -> tuple[str, pa.Table]:  # type: ignore[no-untyped-def]
    """The run's tokens under `tokenizer`, and the key of its tokenization ("": tokens.parquet).

    The same tokens as a tokenization already in the run: that one's key. A tokenizer with the vocabulary of one
    in the run but other tokens: TokenizerMismatchError naming the first difference (it claims to be that
    tokenizer). Otherwise a new tokenization, written with its record (when `write`): the run's first goes
    to tokens.parquet, every later one to tokenizers/KEY/tokens.parquet."""
    corpus = rd.read("corpus", ["doc_id", "text"])
    tokens = tokenize_documents(tokenizer, corpus.column("doc_id").to_pylist(), corpus.column("text").to_pylist(),
                                policy)  # fmt: skip
    del corpus
    fingerprint, vocab = tokens_fingerprint(tokens), vocab_fingerprint(tokenizer)
    manifest = rd.manifest()
    known = {"": manifest.tokenizer} if manifest.tokenizer is not None else {}
    known.update(manifest.tokenizers)
    for key, record in known.items():
        if record.fingerprint == fingerprint:
            return key, tokens
    for key, record in known.items():
        if record.vocab == vocab:
            where = rd.tokens_path(key)
            check_same_tokens(rd.read_tokens(key, ["doc_id", "pos", "token_id"]), tokens, model, claim=(
                f"the tokenizer of {model} has the vocabulary of the run's tokens in {where} (first made by "
                f"{record.first_model}) but tokenizes the corpus differently (another normalizer, pre-tokenizer or "
                f"special tokens?); a tokenizer with another vocabulary may join the run, compared per word or byte"
            ))  # fmt: skip
    if not known and rd.has("tokens"):  # tokens without a record: written by hand or by an older lossgap
        check_same_tokens(rd.read("tokens", ["doc_id", "pos", "token_id"]), tokens, model)
        return "", tokens
    key = "" if not known else _tokenizer_key(tokenizer, vocab, set(known))
    if write:
        rd.write_tokens(key, tokens)
        rd.record_tokenizer(TokenizerRecord(
            fingerprint=fingerprint, prefix_token_id=policy.token_id, policy=policy.description, first_model=model,
            n_tokens=tokens.num_rows, vocab=vocab,
        ), key)  # fmt: skip
        if key:
            log.info("%s has a tokenizer new to the run: its tokens are in %s; compare it per word or byte",
                     model, rd.tokens_path(key))  # fmt: skip
    return key, tokens


def run_tokenize(run_dir: Path | str | RunDir, config: ScoreConfig) -> int:
    """Write the run's tokens with `config.model`'s tokenizer alone (a tokenizer folder or a model's), before
    any model is scored: what `lossgap masks` needs to give an in-loop evaluator its masks before training.
    Returns the token count. Scoring later with the same tokenizer finds the tokens and checks them."""
    rd = as_rundir(run_dir)
    source = check_model_source(config.model, config.revision)
    tokenizer = load_tokenizer(source, config, resolve_device("cpu"))
    return _run_tokens(rd, tokenizer, prefix_policy(tokenizer), config.model, write=True)[1].num_rows


def run_score(
    run_dir: Path | str | RunDir,
    config: ScoreConfig,
    *,
    progress: Progress | None = None,
    status: Status | None = None,
) -> ScoreResult:
    """Score every token of the run's corpus with `config.model` (see the module docstring).

    The model's location is checked and its tokenizer loaded before anything is written. Ctrl-C keeps the
    windows scored so far and raises `ScoringInterrupted`; the same call again resumes.
    """
    rd = as_rundir(run_dir)
    name = config.resolved_name
    say = status or (lambda what: None)
    ranks = init_ranks(resolve_device(config.device).type)
    device = resolve_device(config.device, ranks.local_rank)
    requested = to_json(_requested_settings(config))
    ranks.barrier()  # under torchrun, rank 0 may just have written the corpus

    previous = rd.manifest().models.get(name)
    merge_unrecorded = previous is None and rd.score_parts(name).folder.is_dir()  # interrupted after the merge wrote
    if rd.has_scores(name) and not config.overwrite and not merge_unrecorded:
        if previous is None or previous.requested != requested:
            raise ConfigError(
                f"{rd.scores_path(name)} already holds scores of {name!r} made with other settings "
                f"({None if previous is None else previous.requested}); pass --overwrite to replace them or choose "
                f"another --name"
            )
        lacking = [c for c in _stats(config).columns if c not in rd.score_columns(name)]
        if lacking and ranks.is_main:
            log.warning("%s is already complete without %s; --overwrite scores it again to record them", name,
                        ", ".join(lacking))  # fmt: skip
        return ScoreResult(name, rd.scores_path(name), previous.n_docs, previous.n_tokens, previous.mean_loss, 0, True,
                           ranks.is_main)  # fmt: skip

    source = check_model_source(config.model, config.revision)
    rd.check_writable()  # before minutes of loading
    seconds: dict[str, float] = {}
    clock = _Clock(seconds)
    say(f"loading the tokenizer of {config.model}")
    tokenizer = load_tokenizer(source, config, device)
    say("tokenizing the corpus")
    policy = prefix_policy(tokenizer)
    tokenizer_key, tokens = _run_tokens(rd, tokenizer, policy, config.model, write=ranks.is_main)
    ranks.barrier()
    token_ids = _split_by_document(tokens)
    doc_ids = tokens.column("doc_id").filter(pa.compute.equal(tokens.column("pos"), 0)).to_pylist()
    del tokens
    clock.lap("tokenize")

    dtype = resolve_dtype(config.dtype, device)
    say(f"loading {config.model} ({str(dtype).removeprefix('torch.')} on {device})")
    model = load_model(source, config, device, dtype, fast_kernels=False)
    clock.lap("load")
    if device.type == "cuda":
        say("switching to lossgap's GPU kernels (a GPU's first run autotunes them once: a minute or two)")
    use_fast_kernels(model)
    clock.lap("kernels")
    head = CausalLMHead(model, float32_head=config.float32_head)
    head.packed = packing_possible(model)
    probe = next((t for t in token_ids if len(t) >= 2), None)
    if probe is not None:
        head.check_against_full_forward(torch.from_numpy(probe[None, :16]).to(device))
    clock.lap("check")
    max_length = config.max_length or model_context_limit(model, tokenizer)
    stride = config.stride or max(1, max_length // 2)
    if stride >= max_length:
        raise ConfigError(f"--stride {stride}: must be smaller than the context limit {max_length}")
    context = ContextPolicy(max_length=max_length, stride=stride)
    manifest = rd.manifest()
    tokenizer_record = manifest.tokenizers.get(tokenizer_key) if tokenizer_key else manifest.tokenizer
    settings = {**requested, "resolved_max_length": max_length, "resolved_stride": stride,
                "tokens": None if tokenizer_record is None else tokenizer_record.fingerprint,
                "stats": list(_stats(config).columns), "top_k": config.top_k}  # fmt: skip

    parts = rd.score_parts(name)
    if ranks.is_main:
        parts.prepare(settings, config.overwrite)
    ranks.barrier()
    done = parts.done_pieces()
    resumed_tokens = parts.done_tokens() if done else 0
    ranks.barrier()  # every rank has read the done set before anyone writes a new part
    n_scored = sum(max(len(t) - 1, 0) for t in token_ids)
    todo = np.array([i for i, t in enumerate(token_ids) if len(t) >= 2], dtype=np.int64)
    shard = todo[shard_documents(np.array([len(token_ids[i]) for i in todo]), ranks.world_size)[ranks.rank]]
    windows = _windows_to_score(token_ids, doc_ids, shard, context, done)
    if done:
        log.info("resuming %s: %s of %s tokens already scored", name, f"{resumed_tokens:,}", f"{n_scored:,}")
    compiled = config.resolved_compile(device.type, n_scored - resumed_tokens)
    if compiled:
        head.compile()  # lazy: the layers compile in the first batches
        clock.lap("compile")
        say(
            f"scoring {name}, compiled (the first batches compile the layers: ~40 s for a 7B on a machine's first "
            f"run, 4-7 s once cached; --no-compile to skip)"
        )
    else:
        say(f"scoring {name}")
    try:
        first_batch_s = _score_windows(
            head, token_ids, doc_ids, windows, config=config, device=device, parts=parts, rank=ranks.rank,
            progress=progress if ranks.is_main else None,
        )  # fmt: skip
    except KeyboardInterrupt:
        raise ScoringInterrupted(name, parts.folder, parts.done_tokens(), n_scored) from None
    clock.lap("score")
    seconds["score_first_batch"] = round(first_batch_s, 3)  # part of "score"
    if compiled and windows:
        log.info("the first batch took %.1f s (compiling the layers; on a machine's first run also autotuning)",
                 first_batch_s)  # fmt: skip
    n_new = sum(w.end - w.score_from for w in windows)
    if n_new and seconds["score"] > 0:
        log.info("scored %s tokens in %.1f s (%s tokens/s on this process)", f"{n_new:,}", seconds["score"],
                 f"{n_new / seconds['score']:,.0f}")  # fmt: skip
    ranks.barrier()

    n_tokens, mean_loss = 0, float("nan")
    if ranks.is_main:
        n_expected = np.array([max(len(t) - 1, 0) for t in token_ids], dtype=np.int64)
        say(f"merging the scores of {name}")
        try:  # the parts stay until the model is recorded, so an interrupted merge is redone by the same call
            n_tokens, mean_loss = parts.merge(doc_ids, n_expected, _stats(config).columns)
        except KeyboardInterrupt:
            raise ScoringInterrupted(name, parts.folder, n_scored, n_scored) from None
        clock.lap("merge")
        rd.record_model(name, ModelRecord(
            model=config.model,
            revision=config.revision,
            dtype=str(dtype).removeprefix("torch."),
            device=device.type,
            architecture=type(model).__name__,
            attention=model.config._attn_implementation,
            layout="packed" if head.packed else "padded",
            compiled=compiled,
            context=ModelContext(max_length=max_length, stride=stride, prefix=policy.description,
                                 policy=context.describe(max(map(len, token_ids), default=0))),
            requested=requested,
            batch_tokens=config.resolved_batch_tokens(device.type),
            world_size=ranks.world_size,
            n_docs=len(doc_ids),
            n_tokens=n_tokens,
            mean_loss=mean_loss,
            versions=software_versions(),
            time=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            tokenizer=tokenizer_key,
            seconds=seconds,
            stats=_stats(config).columns,
            top_k=config.top_k,
        ))  # fmt: skip
        parts.remove()
    ranks.barrier()
    return ScoreResult(name, rd.scores_path(name), len(doc_ids), n_tokens, mean_loss, resumed_tokens, False,
                       ranks.is_main)  # fmt: skip
