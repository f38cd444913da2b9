"""Loading a causal LM and its tokenizer from the hub, a local folder or a local .gguf file.

Olmo Hybrid's Gated DeltaNet layers use flash-linear-attention (fla) kernels when fla is importable. transformers
decides that once, when it imports the model's module, whatever the device: with fla (and triton) installed on
a machine scoring on the CPU it would pick GPU-only kernels and crash. `load_tokenizer`/`load_model` therefore
hide fla from transformers when the device is the CPU, and warn when a GPU run lacks it.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

from lossgap.errors import ConfigError
from lossgap.scoring.attention import use_varlen_attention
from lossgap.scoring.config import ScoreConfig
from lossgap.scoring.hybrid import use_fast_gated_deltanet
from lossgap.scoring.source import ModelSource

__all__ = [
    "resolve_device",
    "resolve_dtype",
    "load_tokenizer",
    "load_model",
    "packing_possible",
    "model_context_limit",
    "software_versions",
    "use_fast_kernels",
]

log = logging.getLogger(__name__)

_HYBRID_MODULE = "transformers.models.olmo_hybrid.modeling_olmo_hybrid"
_GPU_ONLY_PACKAGES = ("fla", "causal_conv1d")


def resolve_device(device: str, local_rank: int | None = None):  # type: ignore[no-untyped-def]
    """The torch.device for `device` ('auto' picks CUDA when available; a torchrun rank gets its own GPU)."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
        if device == "cuda":
            device = f"cuda:{local_rank or 0}"
    return torch.device(device)


def resolve_dtype(dtype: str, device):  # type: ignore[no-untyped-def]
    """'auto' is bfloat16 on a GPU that supports it and float32 elsewhere (CPU bf16 matmuls are slow)."""
    import torch

    if dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, dtype)


def _hide_gpu_only_kernels() -> None:
    """Make transformers fall back to its PyTorch Gated DeltaNet path (CPU scoring)."""
    if _HYBRID_MODULE in sys.modules:
        module = sys.modules[_HYBRID_MODULE]
        fn = getattr(module, "chunk_gated_delta_rule", None)
        if fn is not None and getattr(fn, "__module__", "").startswith("fla"):
            raise ConfigError(
                "Olmo Hybrid was already imported with flash-linear-attention kernels, which need a GPU; "
                "score on a GPU, or start a new process for CPU scoring"
            )
        return
    for package in _GPU_ONLY_PACKAGES:
        if package not in sys.modules and importlib.util.find_spec(package) is not None:
            log.info("hiding %s from transformers: its kernels need a GPU and this run scores on the CPU", package)
            sys.modules[package] = None  # type: ignore[assignment]  # makes `import fla` raise ImportError


def _prepare_kernels(device) -> None:  # type: ignore[no-untyped-def]
    if device.type == "cpu":
        _hide_gpu_only_kernels()


def _from_pretrained_args(source: ModelSource, config: ScoreConfig) -> tuple[str, dict[str, Any]]:
    """The first argument and keywords of transformers' `from_pretrained` for a checked source."""
    kwargs: dict[str, Any] = {"revision": config.revision, "trust_remote_code": config.trust_remote_code}
    if source.local_files_only:
        kwargs["local_files_only"] = True
    if source.kind == "gguf":
        path = Path(source.model)
        return str(path.parent), {**kwargs, "gguf_file": path.name}
    return source.model, kwargs


def load_tokenizer(source: ModelSource, config: ScoreConfig, device):  # type: ignore[no-untyped-def]
    """The model's fast tokenizer."""
    _prepare_kernels(device)
    from transformers import AutoTokenizer

    where, kwargs = _from_pretrained_args(source, config)
    try:
        return AutoTokenizer.from_pretrained(where, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the tokenizer of {config.model!r}: {exc}") from exc


def load_model(source: ModelSource, config: ScoreConfig, device, dtype, *, fast_kernels: bool = True):  # type: ignore[no-untyped-def]
    """The model in eval mode on `device`, weights in `dtype`; with `fast_kernels`, switched to lossgap's
    GPU kernels (`use_fast_kernels`). On CUDA the weights are read straight onto the device (no copy in host
    memory first: a 7B model loads in seconds instead of minutes)."""
    _prepare_kernels(device)
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # lossgap's own progress bar is the one on the terminal

    import lossgap.scoring.architectures  # noqa: F401  (registers olmo_recurrent with the Auto classes)

    where, kwargs = _from_pretrained_args(source, config)
    if device.type == "cuda":
        kwargs["device_map"] = str(device)
    try:
        model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the model {config.model!r}: {exc}") from exc
    if device.type == "cuda" and model.config.model_type == "olmo_hybrid" and importlib.util.find_spec("fla") is None:
        log.warning(
            "flash-linear-attention is not installed: Olmo Hybrid's Gated DeltaNet layers run on transformers' "
            "slow PyTorch path; `pip install flash-linear-attention` for the GPU kernels"
        )
    model = model.to(device).eval()
    if fast_kernels:
        use_fast_kernels(model)
    return model


def use_fast_kernels(model) -> None:  # type: ignore[no-untyped-def]
    """Varlen attention where the model allows it, then fla's fused Gated DeltaNet (checked on the weights).

    On a GPU's first run, Triton autotunes fla's kernels for each new shape (a minute or two for Olmo Hybrid on
    an H200); the results are cached on disk (Triton's cache, ~/.triton), so later runs start at once."""
    if use_varlen_attention(model):
        log.info("attention through PyTorch's variable-length flash kernel (padding and sliding windows skipped)")
        use_fast_gated_deltanet(model)


def packing_possible(model) -> bool:  # type: ignore[no-untyped-def]
    """Whether windows can be packed into one row of segments: lossgap's varlen attention, and any Gated
    DeltaNet layer on fla's fused forward (transformers' own would run its convolution across segments)."""
    from lossgap.scoring.attention import NAME

    if model.config._attn_implementation != NAME:
        return False
    return not any(type(m).__name__ == "OlmoHybridGatedDeltaNet" and not hasattr(m, "lossgap_qkv_weight")
                   for m in model.modules())  # fmt: skip


def model_context_limit(model, tokenizer) -> int:  # type: ignore[no-untyped-def]
    """The longest sequence the model was built for (its position embeddings, else the tokenizer's limit)."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if not limit:
        limit = getattr(tokenizer, "model_max_length", None)
        if not limit or limit > 1_000_000:  # transformers' "no limit" sentinel is ~1e30
            raise ConfigError(f"cannot tell the context limit of {model.config.model_type}; pass --max-length")
    return int(limit)


def software_versions() -> dict[str, Any]:
    """Versions of the packages that decide a score, for the manifest."""
    import torch
    import transformers

    import lossgap

    versions: dict[str, Any] = {
        "lossgap": lossgap.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": sys.version.split()[0],
    }
    if torch.cuda.is_available():
        versions["cuda"] = torch.version.cuda
        versions["gpu"] = torch.cuda.get_device_name()
    fla = sys.modules.get("fla")
    if fla is not None:
        versions["flash_linear_attention"] = getattr(fla, "__version__", "unknown")
    return versions
