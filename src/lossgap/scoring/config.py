"""The scoring stage's configuration: one frozen dataclass whose defaults are the only defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from lossgap.errors import ConfigError
from lossgap.rundir.names import validate_name

__all__ = ["ScoreConfig", "Dtype", "default_name", "COMPILE_MIN_TOKENS"]

COMPILE_MIN_TOKENS = 1_000_000
"""Tokens to score from which a GPU run compiles by default: the compiled path's gain (~15 s a million tokens for
a 7B on an H100) then outweighs a cold compile (~40 s) within a few million tokens, and a warm one at once."""

Dtype = Literal["auto", "bfloat16", "float16", "float32"]


def default_name(model: str, revision: str | None) -> str:
    """A run-local name for a model: the last part of its id or path (without .gguf), then @revision."""
    base = Path(model.rstrip("/")).name
    if base.endswith(".gguf"):
        base = base[: -len(".gguf")]
    slug = re.sub(r"[^A-Za-z0-9._+=-]+", "-", base).strip("-.") or "model"
    if revision:
        slug += "@" + re.sub(r"[^A-Za-z0-9._+=-]+", "-", revision)
    return slug


@dataclass(frozen=True, kw_only=True)
class ScoreConfig:
    """How to score a corpus with one model.

    `max_length=None` means the model's own context limit, so that every document that fits is scored with
    its full text as context. `stride=None` means max_length // 2: a long document's later windows keep at
    least half a window of context, scoring about twice the tokens of one pass.
    """

    model: str
    name: str | None = None
    revision: str | None = None
    dtype: Dtype = "auto"
    device: str = "auto"
    max_length: int | None = None
    stride: int | None = None
    # None: 16k tokens on a GPU (a batch of 4 × 4096 or 128 × 128; bounded activations for a 7B model on one GPU),
    # 2k on a CPU, where larger batches are no faster and the progress bar would move once a minute.
    batch_tokens: int | None = None
    # Rows of logits materialised at once in float32: 1024 × 100k vocabulary = 400 MB at most.
    loss_chunk_tokens: int = 1024
    # Finished documents are written to a part file every this many scored tokens or this many seconds, whichever
    # comes first (what an interruption can lose; a CPU scores ~130 tokens/s, a GPU tens of thousands).
    flush_tokens: int = 1 << 18
    flush_seconds: float = 60.0
    # torch.compile each decoder layer and the loss (dynamic shapes). None: on a GPU when the run has at least
    # COMPILE_MIN_TOKENS tokens to score (docs/benchmarks.md: on an H100 Olmo 3 7B scores 1.1M tokens at 25.0k
    # tokens/s eager and 38.4k compiled; compiling costs ~40 s on a machine's first run, 4–7 s with warm caches:
    # run.json's score_first_batch).
    compile: bool | None = None
    # The head's matrix product in float32 instead of the model's dtype. In bf16 the logits are rounded before the
    # float32 log-softmax: per-token losses move by ~0.01 nats (unbiased). Costs a float32 copy of the head.
    float32_head: bool = False
    # per token beside the loss, from the same logits: the entropy of the next-token distribution and the true
    # token's rank (`distribution`), and the `top_k` most likely tokens with their log-probabilities (0: none)
    distribution: bool = True
    top_k: int = 0
    overwrite: bool = False
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in get_args(Dtype):
            raise ConfigError(f"--dtype {self.dtype!r}: choose one of {', '.join(get_args(Dtype))}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", self.device):
            raise ConfigError(f"--device {self.device!r}: use auto, cpu, cuda or cuda:N")
        if self.max_length is not None and self.max_length < 2:
            raise ConfigError(f"--max-length {self.max_length}: must be at least 2")
        if self.stride is not None:
            if self.stride < 1:
                raise ConfigError(f"--stride {self.stride}: must be at least 1")
            if self.max_length is not None and self.stride >= self.max_length:
                raise ConfigError(f"--stride {self.stride}: must be smaller than --max-length {self.max_length}")
        for option in ("batch_tokens", "loss_chunk_tokens", "flush_tokens"):
            if getattr(self, option) is not None and getattr(self, option) < 1:
                raise ConfigError(f"--{option.replace('_', '-')} {getattr(self, option)}: must be positive")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or not 0 <= self.top_k <= 1000:
            raise ConfigError(f"--top-k {self.top_k}: give 0 (none) to 1000 tokens")
        if not self.flush_seconds > 0:
            raise ConfigError(f"--flush-seconds {self.flush_seconds}: must be positive")
        if self.name is not None:
            try:
                validate_name(self.name)
            except Exception as exc:
                raise ConfigError(f"--name: {exc}") from None

    @property
    def resolved_name(self) -> str:
        return self.name or default_name(self.model, self.revision)

    def resolved_compile(self, device_type: str, n_tokens: int) -> bool:
        """`compile`, or by default: on CUDA with at least COMPILE_MIN_TOKENS tokens to score."""
        if self.compile is not None:
            return self.compile
        return device_type == "cuda" and n_tokens >= COMPILE_MIN_TOKENS

    def resolved_batch_tokens(self, device_type: str) -> int:
        """`batch_tokens`, or the default for the device (see the field's comment)."""
        if self.batch_tokens is not None:
            return self.batch_tokens
        return 2048 if device_type == "cpu" else 16384
