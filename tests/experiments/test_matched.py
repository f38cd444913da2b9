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
    _python(
        str(HERE / "prepare.py"), "--out", str(data), "--source", "example", "--vocab", "400", "--eval-chars", "3000"
    )
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
    pages = sorted(p.name for p in (run / "report").glob("*.html"))  # every comparison and set of curves shown
    assert pages == ["compare-final-recurrent-vs-hybrid.html", "compare-final-recurrent-vs-transformer.html",
                     "curves-curves-ref-hybrid.html", "discover-discover-final-hybrid-vs-transformer.html",
                     "index.html"]  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "matched-brackets.png", "matched-curves-diff.png", "matched-curves.png", "matched-repeats.png",
        "matched-training.png"]  # fmt: skip
    # the in-loop evaluator at the end of each anneal equals lossgap score of the saved checkpoint (float32, CPU)
    training = pd.read_csv(run / "results/training/training.csv")
    curves = pd.read_csv(run / "results/curves/curves.csv")  # the curves against the transformer
    ends = training[training["branch"].notna()].astype({"branch": int})
    both = ends.merge(curves, left_on=["series", "branch", "mask"], right_on=["series", "step", "mask"])
    assert len(both) == len(ends) == 3 * 2 * len(set(ends["mask"]))
    assert (both["mean_loss_x"] - both["mean_loss_y"]).abs().max() < 1e-4

    # seed replicates are found by name: the same checkpoints scored again as ARCH-s1 are a second seed identical to
    # the first, so every comparison pairs 2 x 2 seeds with the one-seed estimate and no spread between seeds
    one_seed = RunDir(run).read_summary("final-hybrid-vs-transformer")
    _python(str(HERE / "score.py"), "--ckpt", str(ckpt), "--run", str(run), "--device", "cpu", "--suffix=-s1")
    _python(str(HERE / "analyze.py"), "--run", str(run), "--logs", str(logs), "--figures", str(tmp_path / "figures"))
    two_seeds = RunDir(run).read_summary("final-hybrid-vs-transformer")
    assert two_seeds.n_replicates == 4 and two_seeds.seed_sd < 1e-9
    assert list(two_seeds.candidates) == ["hybrid@step23", "hybrid-s1@step23"]
    assert abs(two_seeds.headline[0].mean_gap - one_seed.headline[0].mean_gap) < 1e-9
    curves = pd.read_csv(run / "results/curves/curves.csv")
    assert set(curves["n_replicates"]) == {2} and set(curves["step"]) == {12, 23}

    # precision.py: a float32 CPU scoring against itself (scored again under another name) has no error at all
    _python(str(HERE / "score.py"), "--ckpt", str(ckpt), "--run", str(run), "--device", "cpu", "--suffix=-ref",
            "--steps", "23", "--dtype", "float32")  # fmt: skip
    _python(str(HERE / "precision.py"), "--run", str(run), "--fast-suffix=-s1", "--reference-suffix=-ref", "--step", "23",
            "--out", str(tmp_path / "precision"))  # fmt: skip
    errors = pd.read_csv(tmp_path / "precision/precision.csv")
    assert list(errors["arch"]) == ["transformer", "hybrid", "recurrent"] and (errors["abs_max"] == 0).all()
    assert (pd.read_csv(tmp_path / "precision/precision-categories.csv").filter(like="bias").abs().max() == 0).all()

    # the copying-regime run is found by name too (ARCH-long@stepS, score.py --suffix=-long): compared at its last step
    # and followed over its steps; the same checkpoints scored again give seed 0's comparison exactly
    _python(str(HERE / "score.py"), "--ckpt", str(ckpt), "--run", str(run), "--device", "cpu", "--suffix=-long")
    _python(str(HERE / "analyze.py"), "--run", str(run), "--logs", str(logs), "--figures", str(tmp_path / "figures"))
    long = RunDir(run).read_summary("long-final-hybrid-vs-transformer")
    assert (long.baseline, long.candidate, long.n_replicates) == ("transformer-long@step23", "hybrid-long@step23", 1)
    assert abs(long.headline[0].mean_gap - one_seed.headline[0].mean_gap) < 1e-9
    recurrent = RunDir(run).read_summary("long-final-recurrent-vs-hybrid")  # all three architectures pair up there
    assert (recurrent.baseline, recurrent.candidate) == ("hybrid-long@step23", "recurrent-long@step23")
    curves_long = pd.read_csv(run / "results/curves-long/curves.csv")
    assert set(curves_long["series"]) == {"transformer-long", "hybrid-long", "recurrent-long"}
    assert set(curves_long["step"]) == {12, 23}
    assert RunDir(run).read_summary("final-hybrid-vs-transformer").n_replicates == 4  # seeds unchanged by -long

    # the transformer at its own best learning rate (transformer-lr5e4, score.py --suffix=-lr5e4): the same checkpoints
    # scored again, so against the hybrid's two seeds it gives seed 0's gap, with 1 x 2 replicates
    _python(str(HERE / "score.py"), "--ckpt", str(ckpt), "--run", str(run), "--device", "cpu", "--suffix=-lr5e4",
            "--steps", "12", "23")  # fmt: skip
    _python(str(HERE / "analyze.py"), "--run", str(run), "--logs", str(logs), "--figures", str(tmp_path / "figures"))
    best = RunDir(run).read_summary("final-hybrid-vs-transformer-lr5e4")
    assert (best.baseline, best.n_replicates) == ("transformer-lr5e4@step23", 2)
    assert abs(best.headline[0].mean_gap - one_seed.headline[0].mean_gap) < 1e-9
    curves_best = pd.read_csv(run / "results/curves-best-rate/curves.csv")
    assert set(curves_best["series"]) == {"transformer-lr5e4", "hybrid", "recurrent"}
    assert RunDir(run).read_summary("final-hybrid-vs-transformer").n_replicates == 4  # unchanged by -lr5e4

    # the probes (docs/experiments/matched.md, "Probes"): a probe run scored by the same checkpoints, then analysed
    probes = tmp_path / "probes"
    _lossgap("probes", "--run", str(probes), "--docs", "2", "--copy-level", "4", "--copy-level", "16")
    _lossgap("tokenize", str(data / "tokenizer"), "--run", str(probes))
    _lossgap("annotate", "--run", str(probes))
    _python(str(HERE / "score.py"), "--ckpt", str(ckpt), "--run", str(probes), "--device", "cpu")
    _python(
        str(HERE / "analyze_probes.py"),
        "--runs",
        str(probes),
        "--out",
        str(logs),
        "--figures",
        str(tmp_path / "figures"),
    )
    assert (tmp_path / "figures/matched-probes.png").is_file() and (probes / "report/index.html").is_file()
    pairs = pd.read_csv(logs / "probes-probes.csv")
    assert set(pairs["value"]) >= {"copy|4", "copy|16", "recall|4", "tracking|1", "pronoun|0", "brackets|1"}
    assert len(pairs) == 3 * pairs["value"].nunique()  # every pair of the three series
    check = pd.read_csv(logs / "probes-copy-probes.csv").set_index(["model", "probe", "level"])
    levels = [("copy", 4), ("copy", 16), *(("copy_distance", lv) for lv in (0, 4, 16, 64))]  # the default levels
    assert sorted(check.index) == sorted(
        (f"{a}@step23", *k) for a in ("transformer", "hybrid", "recurrent") for k in levels
    )
    # brute force: a token's first visible character places it in the first copy (its first token left out) or not;
    # a token of white space alone has none
    rd = RunDir(probes)
    texts = dict(zip(*rd.read("corpus", ["doc_id", "text"]).to_pydict().values(), strict=True))
    marks = rd.read("probes").to_pandas().query("probe in ('copy', 'copy_distance')").set_index("doc_id")
    tokens = rd.read_tokens().to_pandas().merge(rd.read("features", ["doc_id", "pos", "probe_mark"]).to_pandas())
    by_distance = pd.read_csv(logs / "probes-distance-probes.csv").groupby(["model", "probe", "level"])
    for name in check.index.get_level_values(0).unique():
        scored = tokens.merge(rd.read_scores(name).to_pandas(), on=["doc_id", "pos"])
        first: dict[tuple[str, int], list[float]] = {}
        second: dict[tuple[str, int], list[float]] = {}
        for doc_id, rows in scored[scored["doc_id"].isin(marks.index)].groupby("doc_id"):
            mark = marks.loc[doc_id]
            in_source = []
            for row in rows.sort_values("pos").itertuples():
                piece = texts[doc_id][row.char_start : row.char_end]
                visible = row.char_start + len(piece) - len(piece.lstrip())
                if piece.strip() and mark.src_start <= visible < mark.src_end:
                    in_source.append(row.loss)
                if row.probe_mark:
                    second.setdefault((mark.probe, mark.level), []).append(row.loss)
            first.setdefault((mark.probe, mark.level), []).extend(in_source[1:])
        assert sorted(first) == sorted(second) == sorted(levels)
        for key in levels:
            got = check.loc[(name, *key)]
            assert got["n_first"] == len(first[key]) and got["n_second"] == len(second[key])
            assert abs(got["loss_first"] - sum(first[key]) / len(first[key])) < 1e-5
            assert abs(got["loss_second"] - sum(second[key]) / len(second[key])) < 1e-5
            # the distance bins split the same marked tokens
            bins = by_distance.get_group((name, *key))
            assert bins["n"].sum() == len(second[key])
            assert abs((bins["n"] * bins["loss"]).sum() / bins["n"].sum() - sum(second[key]) / len(second[key])) < 1e-5


def test_repeat_stream_passes_are_document_permutations() -> None:
    import numpy as np

    sys.path.insert(0, str(HERE))
    from train import repeat_stream

    eos = 0
    stream = np.array([5, 6, 0, 7, 0, 8, 9, 10, 0, 11, 12], dtype=np.uint16)  # the last document lacks its eos
    docs = [(5, 6, 0), (7, 0), (8, 9, 10, 0), (11, 12)]
    assert repeat_stream(stream, 1, eos, seed=3) is stream
    out = repeat_stream(stream, 4, eos, seed=3)
    assert len(out) == 4 * len(stream) and (out[: len(stream)] == stream).all()
    orders = set()
    for k in range(1, 4):
        rest = out[k * len(stream) : (k + 1) * len(stream)].tolist()
        found = []  # split back into the documents by brute force: each must be one of `docs`, each once
        while rest:
            doc = next(d for d in docs if tuple(rest[: len(d)]) == d and d not in found)
            found.append(doc)
            rest = rest[len(doc) :]
        assert sorted(found) == sorted(docs)
        orders.add(tuple(found))
    assert len(orders) > 1  # later passes are reordered, not copies of one order
    assert (repeat_stream(stream, 4, eos, seed=3) == out).all()  # seeded


def test_score_refuses_a_checkpoint_with_another_tokenizer(tmp_path: Path) -> None:
    """score.py stops before scoring when the checkpoints' tokenizer tokenizes the run's corpus otherwise than the
    run records (prepare.py rebuilt from other package versions): its scores would not be comparable per token."""
    from tests.tiny_models import train_tokenizer

    sys.path.insert(0, str(HERE))
    from score import check_tokenizer

    texts = [f"def f{i}(x):\n    return x * {i} + {i % 7}  # line {i}\n" * (1 + i % 3) for i in range(60)]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"doc_id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts[:8])))
    same = train_tokenizer(tmp_path / "a", texts, vocab_size=300)
    other = train_tokenizer(tmp_path / "b", texts[::-1][:30], vocab_size=280)
    run = tmp_path / "run"
    _lossgap("tokenize", str(same), "--corpus", str(corpus), "--run", str(run))
    check_tokenizer(same, run)  # the run's own tokenizer passes
    try:
        check_tokenizer(other, run)
    except SystemExit as exc:
        assert "tokenizes" in str(exc) and "unlike the run's tokens" in str(exc)
    else:
        raise AssertionError("another tokenizer was not refused")
