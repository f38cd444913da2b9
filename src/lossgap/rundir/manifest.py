"""The manifest, run.json: typed records of what each stage did (corpus, tokenizer, each scored model with its
context policy, features, the analysis stages, the pipeline's stage stamps).

Stages never edit a dict: they hand a record to `RunDir.record_*`, which updates run.json under a lock.
Reading validates every record and names the key that does not fit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lossgap.rundir.context import ContextPolicy
from lossgap.rundir.jsonable import JSON, from_json, to_json

__all__ = [
    "CorpusRecord",
    "TokenizerRecord",
    "UnitRecord",
    "ProbesRecord",
    "COPY_PROBES",
    "PROBE_LEVELS",
    "ModelContext",
    "UnitSource",
    "UnitScoring",
    "ModelRecord",
    "FeaturesRecord",
    "StageRecord",
    "PipelineRecord",
    "Manifest",
]


@dataclass(frozen=True, kw_only=True)
class CorpusRecord:
    """The corpus stage: where the documents came from, what was kept; n_read == n_docs + sum(skipped)."""

    fingerprint: str
    source: str
    n_docs: int
    n_read: int
    skipped: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    domains: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TokenizerRecord:
    """One tokenization of the corpus: its fingerprint, how position 0 is filled, the model that first made it,
    and the fingerprint of the tokenizer's vocabulary (what a tokenizer *claims* to be; empty in older runs)."""

    fingerprint: str
    prefix_token_id: int
    policy: str
    first_model: str
    n_tokens: int
    vocab: str = ""


@dataclass(frozen=True, kw_only=True)
class ModelContext:
    """The context a model scored with, as run.json holds it: the policy and its description in words."""

    max_length: int
    stride: int
    policy: str  # "full document" or "windows of N tokens, stride S"
    prefix: str  # how position 0 was filled

    @property
    def window(self) -> ContextPolicy:
        return ContextPolicy(max_length=self.max_length, stride=self.stride)


@dataclass(frozen=True, kw_only=True)
class UnitSource:
    """The token scoring a unit run's scores were attributed from (its record in the parent run, when attributed):
    a different one makes the unit scores stale."""

    time: str
    n_tokens: int
    mean_loss: float
    tokenizer: str  # the source's tokenization key in the parent run ("" is the run's tokens.parquet)


@dataclass(frozen=True, kw_only=True)
class UnitScoring:
    """How a unit run's scores of one model were made from its token scores (units.build)."""

    unit: str  # "word" or "byte"
    source: UnitSource
    incomplete: int  # units not covered by the model's scored tokens, left out
    token_loss_sum: float  # the attributed tokens' loss, nats
    unit_loss_sum: float  # the units' loss, nats (equal to token_loss_sum but for rounding: loss is conserved)
    n_bytes: int  # UTF-8 bytes of the scored units
    bits_per_byte: float


@dataclass(frozen=True, kw_only=True)
class ModelRecord:
    """One scoring: the model, how it ran, the context it saw, and the scores' size and mean."""

    model: str
    revision: str | None
    dtype: str
    device: str
    architecture: str
    context: ModelContext
    requested: dict[str, Any]  # the options that decide the scores (a re-run with others is refused)
    n_docs: int
    n_tokens: int
    mean_loss: float
    attention: str = ""
    layout: str = "padded"  # how windows were batched: padded rows, or packed segments of one row
    compiled: bool = False
    batch_tokens: int = 0
    world_size: int = 1
    versions: dict[str, Any] = field(default_factory=dict)
    time: str = ""
    tokenizer: str = ""  # the key of its tokenization: "" is tokens.parquet, others tokenizers/KEY/tokens.parquet
    # wall-clock seconds of each step of the call that finished the scores: tokenize, load, kernels, check, compile,
    # score, merge (a resumed call's score covers only what it scored itself); score_first_batch is the part of
    # score until the first batch was scored (with --compile, mostly compiling the layers)
    seconds: dict[str, float] = field(default_factory=dict)
    units: UnitScoring | None = None  # a unit run's scores: how they were made from the model's token scores
    # the scores file's columns beyond the loss (entropy, rank; topk_ids, topk_logprobs of `top_k` tokens)
    stats: tuple[str, ...] = ()
    top_k: int = 0

    def unit_scoring(self) -> UnitScoring | None:
        """`units`, or for a unit run written before it was typed, the same read from `requested`."""
        if self.units is not None or "source" not in self.requested:
            return self.units
        old = self.requested
        return UnitScoring(unit=old.get("unit", ""), source=from_json(UnitSource, old["source"], "requested.source"),
                           incomplete=int(old.get("incomplete", 0)), token_loss_sum=float(old.get("token_loss_sum", 0.0)),
                           unit_loss_sum=float(old.get("unit_loss_sum", 0.0)), n_bytes=int(old.get("n_bytes", 0)),
                           bits_per_byte=float(old.get("bits_per_byte", float("nan"))))  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class UnitRecord:
    """A unit run (units/UNIT/ of a run): words or bytes in place of tokens, and the rule that gave them loss."""

    unit: str  # "word" or "byte"
    segmentation: str  # how the text is cut into units, in words
    attribution: str  # how a token's loss is shared among the units it covers, in words
    corpus: str  # the fingerprint of the corpus the units were cut from
    n_units: int


@dataclass(frozen=True, kw_only=True)
class FeaturesRecord:
    """The annotate stage: its options, the context repeats were judged in (None: whole documents), columns."""

    config: dict[str, Any]
    spacy_model: str | None
    repeat_context: ContextPolicy | None
    columns: tuple[str, ...]
    n_tokens: int
    n_docs: int
    log_freq_source: str = "run"  # what log_freq counts: see features.rarity
    versions: dict[str, Any] = field(default_factory=dict)
    time: str = ""


@dataclass(frozen=True, kw_only=True)
class StageRecord:
    """An analysis or report stage: the configuration it ran with, and when."""

    config: dict[str, Any]
    time: str


@dataclass(frozen=True, kw_only=True)
class PipelineRecord:
    """`lossgap run`'s stamp of a stage: its configuration and the size and mtime of each input file."""

    config: Any
    inputs: dict[str, tuple[int, ...]]


# Probes whose marks are a second copy of their source (probe_source marks the first copy), and what each probe's
# level counts. A probe run records both (ProbesRecord); runs made before it have these.
COPY_PROBES = ("copy", "copy_distance")
PROBE_LEVELS = {"copy": "words in the string", "recall": "key-value pairs", "tracking": "moves",
                "pronoun": "filler sentences", "brackets": "nesting depth",
                "copy_distance": "filler sentences between the copies", "tracking_swap": "moves and swaps"}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ProbesRecord:
    """A probe run (`lossgap probes`): which probes at which levels, and what the report needs to draw them."""

    probes: tuple[str, ...]
    levels: dict[str, tuple[int, ...]]
    docs: int  # documents per probe and level
    seed: int
    copy_probes: tuple[str, ...] = COPY_PROBES  # their first copy is drawn beside the second
    level_meaning: dict[str, str] = field(default_factory=lambda: dict(PROBE_LEVELS))  # the axis label of each


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """Everything run.json records. An empty run has an empty manifest."""

    corpus: CorpusRecord | None = None
    tokenizer: TokenizerRecord | None = None  # the run's first tokenization (tokens.parquet)
    tokenizers: dict[str, TokenizerRecord] = field(default_factory=dict)  # every other one, by key
    models: dict[str, ModelRecord] = field(default_factory=dict)
    unit: UnitRecord | None = None  # set in a unit run (units/UNIT/): its tokens are words or bytes
    features: FeaturesRecord | None = None
    probes: ProbesRecord | None = None  # set in a probe run
    stages: dict[str, StageRecord] = field(default_factory=dict)
    pipeline: dict[str, PipelineRecord] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Manifest:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> JSON:
        return to_json(self)

    @classmethod
    def from_json(cls, data: JSON, where: str) -> Manifest:
        return from_json(cls, data, where)

    def contexts(self, names: list[str] | None = None) -> dict[str, ContextPolicy]:
        """Each scored model's (or each of `names`') context policy."""
        chosen = self.models if names is None else {n: self.models[n] for n in names if n in self.models}
        return {name: record.context.window for name, record in chosen.items()}
