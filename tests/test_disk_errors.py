"""A read-only run directory and a full disk, on real file systems (small tmpfs mounts): every command says so in
one line before heavy work where it can, and never leaves a half-written set of results or a report without its
page. Skipped where this process may not mount (mounting needs root)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lossgap.cli import app
from lossgap.features import AnnotateConfig, run_annotate
from lossgap.rundir import RunDir
from lossgap.scoring import ScoreConfig
from tests.conftest import score

runner = CliRunner()


@pytest.fixture()
def mount(tmp_path) -> Iterator:
    """mount(size) -> a fresh tmpfs of `size` bytes; unmounted at the end."""
    mounted: list[Path] = []

    def make(size: int) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture()
def compared_run(llama_model, corpus_file, tmp_path) -> Path:
    """A run with two scorings, features and a comparison, ready for the report."""
    run = RunDir(tmp_path / "run")
    score(run, ScoreConfig(model=str(llama_model), name="full"), corpus_file)
    score(run, ScoreConfig(model=str(llama_model), name="short", max_length=8), corpus_file)
    run_annotate(run, AnnotateConfig())
    assert (
        runner.invoke(app, ["compare", "--run", str(run.path), "--baseline", "short", "--candidate", "full"]).exit_code
        == 0
    )
    return run.path


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system of `folder` until about `leave` bytes are free."""
    free = shutil.disk_usage(folder).free
    with open(folder / "filler", "wb") as fh:
        fh.write(b"\0" * max(free - leave, 0))


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_read_only_run_directory_is_one_line_before_any_work(compared_run, llama_model, mount):
    fs = mount(64 << 20)
    run = fs / "run"
    shutil.copytree(compared_run, run)
    subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
    before = _files(run)
    for args in (["score", str(llama_model), "--name", "another"], ["annotate"],
                 ["compare", "--baseline", "short", "--candidate", "full"], ["report"]):  # fmt: skip
        result = runner.invoke(app, [*args, "--run", str(run)])
        assert result.exit_code == 2, (args, result.output)
        line = _one_error_line(result.output)
        assert f"cannot write in {run}" in line and "Read-only file system" in line, line
    assert _files(run) == before


def test_a_full_disk_leaves_no_half_set_of_results_and_no_half_report(compared_run, mount):
    fs = mount(32 << 20)
    run = fs / "run"
    shutil.copytree(compared_run, run)
    shutil.rmtree(run / "results")  # as in a run never compared: a file-by-file write would leave the first files
    _fill(fs, leave=24 << 10)  # room for the write check and a file or two, not for a whole set of results
    failed = runner.invoke(app, ["compare", "--run", str(run), "--baseline", "short", "--candidate", "full"])
    assert failed.exit_code == 2, failed.output
    assert "No space left on device" in _one_error_line(failed.output)
    assert _files(run / "results") == {} if (run / "results").exists() else True  # nothing, not even a temporary file

    (fs / "filler").unlink()
    assert (
        runner.invoke(app, ["compare", "--run", str(run), "--baseline", "short", "--candidate", "full"]).exit_code == 0
    )
    results = _files(run / "results")
    _fill(fs, leave=24 << 10)
    again = runner.invoke(app, ["compare", "--run", str(run), "--baseline", "short", "--candidate", "full",
                                "--confidence", "0.9"])  # fmt: skip
    assert again.exit_code == 2 and _files(run / "results") == results  # the earlier set, whole
    report = runner.invoke(app, ["report", "--run", str(run)])
    assert report.exit_code == 2, report.output
    assert "No space left on device" in _one_error_line(report.output)
    assert _files(run / "report") == {} if (run / "report").exists() else True  # no figures without their page
