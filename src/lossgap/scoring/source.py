"""Where a model comes from (a local folder, a local .gguf file or a Hugging Face hub id), checked in seconds
before anything is written or loaded: a missing path, a file that is not GGUF, a folder without a model, or a
hub id that can be had neither from the local cache nor over the network is a one-line ConfigError that says
what to do.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from lossgap.errors import ConfigError

__all__ = ["ModelSource", "check_model_source"]

# A hub id is `name` or `owner/name` (letters, digits, - _ .), not a path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_GGUF_MAGIC = b"GGUF"
# Seconds to wait for a TCP connection to the hub before calling it unreachable.
_CONNECT_TIMEOUT = 3.0


@dataclass(frozen=True)
class ModelSource:
    """A checked model location. `local_files_only`: load from the hub cache without asking the network."""

    kind: Literal["folder", "gguf", "hub"]
    model: str
    local_files_only: bool = False


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.endswith(".gguf") or not _HUB_ID.match(model)


def _check_folder(path: Path, model: str) -> ModelSource:
    if not (path / "config.json").is_file() and not (path / "tokenizer_config.json").is_file():
        raise ConfigError(
            f"{model}: this folder holds no config.json (nor tokenizer_config.json), so it is no transformers model "
            f"(or tokenizer) folder; point at the folder that `save_pretrained` wrote, or at a .gguf file"
        )
    return ModelSource("folder", str(path))


def _check_gguf(path: Path, model: str) -> ModelSource:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != _GGUF_MAGIC:
        raise ConfigError(f"{model}: not a GGUF file (it starts with {magic!r}, not b'GGUF'); check the path")
    return ModelSource("gguf", str(path))


def _hub_unreachable() -> str | None:
    """Why the hub cannot be reached (None when a TCP connection to it opens, or a proxy is configured)."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # the proxy decides; transformers will report what it says
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT):
            return None
    except OSError as exc:
        return f"cannot connect to {host}:{port} ({exc.strerror or exc})"


def _cached(model: str, revision: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model, "config.json", revision=revision)
    return isinstance(found, str)


def _check_hub(model: str, revision: str | None) -> ModelSource:
    from huggingface_hub import constants

    cached = _cached(model, revision)
    where = model + (f" (revision {revision})" if revision else "")
    if constants.HF_HUB_OFFLINE:
        if cached:
            return ModelSource("hub", model, local_files_only=True)
        raise ConfigError(
            f"{where} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: download it where there is "
            f"network (`huggingface-cli download {model}`), or pass a local folder"
        )
    why = _hub_unreachable()
    if why is None:
        return ModelSource("hub", model)
    if cached:
        return ModelSource("hub", model, local_files_only=True)
    raise ConfigError(
        f"{where}: no local folder of that name, not in the Hugging Face cache, and the hub cannot be reached ({why}); "
        f"download it where there is network, or pass a local folder or .gguf file"
    )


def check_model_source(model: str, revision: str | None = None) -> ModelSource:
    """Check that `model` can be loaded, without loading it (see the module docstring)."""
    path = Path(model).expanduser()
    if revision is not None and (path.is_dir() or path.is_file()):
        raise ConfigError(
            f"--revision {revision}: {model} is a local {'folder' if path.is_dir() else 'file'}, which has no "
            f"revisions; point at the checkpoint's own folder or file, named with --name (e.g. --name model@step1000)"
        )
    if path.is_dir():
        return _check_folder(path, model)
    if path.is_file():
        if path.suffix == ".gguf":
            return _check_gguf(path, model)
        raise ConfigError(f"{model}: a file that is not a .gguf model; give a model folder, a .gguf file or a hub id")
    if _looks_like_path(model):
        raise ConfigError(f"{model}: no such file or folder (and not a Hugging Face hub id such as 'owner/name')")
    return _check_hub(model, revision)
