"""The matched experiment's commands end to end at a tiny size on the CPU (the bundled example corpus, no
download): prepare, the evaluation run, training with anneals and the in-loop evaluator, `lossgap score` of every
checkpoint, and the analysis with its report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from lossgap.cli import app
from lossgap.rundir import RunDir

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "experiments/matched"


def _python(*argv: str) -> None:
    subprocess.run([sys.executable, *argv], check=True, cwd=ROOT)


def _lossgap(*argv: str) -> None:
    try:
        app(list(argv), standalone_mode=False)
    except SystemExit as exc:
        assert not exc.code


def test_matched_experiment_smoke(tmp_path: Path) -> None:
    data, run, ckpt, logs = tmp_path / "data", tmp_path / "run", tmp_path / "ckpt", tmp_path / "logs"
    _python(str(HERE / "prepare.py"), "--out", str(data), "--source", "example", "--vocab", "400", "--eval-chars", "3000")
    manifest = json.loads((data / "MANIFEST.json").read_text())
    held = {json.loads(line)["doc_id"] for line in (data / "eval/corpus.jsonl").read_text().splitlines()}
    assert held and manifest["train_tokens"] > 100_000

    _lossgap("tokenize", str(data / "tokenizer"), "--corpus", str(data / "eval/corpus.jsonl"), "--run", str(run))
    _lossgap("annotate", "--run", str(run))
    _lossgap("masks", "--run", str(run), "--out", str(run / "masks.npz"))
    _python(str(HERE / "train.py"), "--data", str(data), "--masks", str(run / "masks.npz"), "--out", str(ckpt),
            "--size", "tiny", "--tokens", "6000", "--batch", "2", "--eval-every", "10", "--anneal-at", "0.5", "1.0",
            "--device", "cpu")  # fmt: skip
    summary = json.loads((ckpt / "summary.json").read_text())
    assert [m["arch"] for m in summary["models"]] == ["transformer", "hybrid", "recurrent"]
    params = [m["parameters"] for m in summary["models"]]
    # Gated DeltaNet widths give an attention layer's parameters (+1.3% here from convolution and gates; 0.1% at "small")
    assert max(params) / min(params) < 1.02
    for m in summary["models"]:
        assert [c["branch_at"] for c in m["checkpoints"]] == [12, 23]
        assert m["tokens_trained"] == (23 + 2 * 2) * 2 * 128  # main run plus two 2-step decays
    _python(str(HERE / "score.py"), "--ckpt", str(ckpt), "--run", str(run), "--device", "cpu")
    names = sorted(RunDir(run).manifest().models)
    assert names == sorted(f"{a}@step{s}" for a in ("transformer", "hybrid", "recurrent") for s in (12, 23))

    logs.mkdir()
    for arch in ("transformer", "hybrid", "recurrent"):
        (logs / f"log-{arch}.jsonl").write_bytes((ckpt / arch / "log.jsonl").read_bytes())
    _python(str(HERE / "analyze.py"), "--run", str(run), "--logs", str(logs), "--figures", str(tmp_path / "figures"))
    assert (run / "report/index.html").is_file()
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "matched-brackets.png", "matched-curves-diff.png", "matched-curves.png", "matched-repeats.png",
        "matched-training.png"]  # fmt: skip
    # the in-loop evaluator at the end of each anneal equals lossgap score of the saved checkpoint (float32, CPU)
    training = pd.read_csv(run / "results/training.csv")
    curves = pd.read_csv(run / "results/curves.csv")
    ends = training[training["branch"].notna()].astype({"branch": int})
    both = ends.merge(curves, left_on=["series", "branch", "mask"], right_on=["series", "step", "mask"])
    assert len(both) == len(ends) == 3 * 2 * len(set(ends["mask"]))
    assert (both["mean_loss_x"] - both["mean_loss_y"]).abs().max() < 1e-4
