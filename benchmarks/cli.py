"""`lossgap score` as a user runs it on a GPU, against the benchmark path's rate measured in the same call.

One full-size 7B (Olmo Hybrid 7B or Olmo 3 7B from its config, random bf16 weights) is saved with
`save_pretrained` beside a 16,000-entry byte-level BPE trained on the corpus, a corpus of real text (Python's
standard library and installed packages' sources cut to log-normal lengths, 200 to 60,000 characters) is written as JSONL, and then:

1. the benchmark path, in this process, on the same documents: the model loaded by `lossgap.scoring.load_model`
   (varlen attention, fla's fused Gated DeltaNet), packed batches, optionally compiled; a warm-up pass over the
   whole corpus, then a timed pass (what `benchmarks/scoring.py` reports);
2. `python -m lossgap corpus`, `python -m lossgap tokenize`, then `python -m lossgap score` once per variant, each a
   new process timed from its start, with the step times `lossgap score` records in run.json (`seconds`) and the
   number of Triton autotuning events it printed. A variant whose name ends in `-cold` gets empty Triton and
   Inductor caches (a user's first run on a machine); the others share the caches the benchmark filled.

Results (JSON) are written after every step, so a call cut short keeps what it measured, and each variant's whole
output goes beside it (OUT-NAME.log); a later call with the
same --work scores afresh (the run left in it is removed, since `lossgap score` would resume it and its rate would
count tokens it did not score). Usage (GPU machine):

    python benchmarks/cli.py --arch olmo-hybrid-7b --tokens 1000000 --work /tmp/cli --out cli-hybrid.json \
        --variants default-cold default compile-cold compile compile-b32k
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # name: extra options of `lossgap score` (the default compiles on a GPU from 1M tokens to score)
    "default": [],
    "eager": ["--no-compile"],
    "eager-b32k": ["--no-compile", "--batch-tokens", "32768"],
    "compile": ["--compile"],
    "b32k": ["--batch-tokens", "32768"],
    "compile-b32k": ["--compile", "--batch-tokens", "32768"],
}


def corpus_texts(total_chars: int, seed: int = 0) -> list[str]:
    """Passages of Python sources (the standard library, then installed packages): log-normal lengths (median
    ~2,400 characters)."""
    rng = np.random.default_rng(seed)
    paths = sysconfig.get_paths()
    files = sorted(Path(paths["stdlib"]).rglob("*.py")) + sorted(Path(paths["purelib"]).rglob("*.py"))
    texts, size = [], 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        n = int(np.clip(rng.lognormal(7.8, 1.2), 200, 60_000))
        if len(text) < 200:
            continue
        texts.append(text[:n])
        size += len(texts[-1])
        if size >= total_chars:
            break
    return texts


def build_model(arch: str, folder: Path, tokenizer_dir: Path) -> float:
    """Save a random full-size model with the tokenizer; returns the seconds save_pretrained took."""
    import torch
    from transformers import AutoTokenizer

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scoring import build  # the benchmark's own 7B configs

    model = build(arch)
    start = time.perf_counter()
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(folder)
    seconds = time.perf_counter() - start
    del model
    torch.cuda.empty_cache()
    return seconds


def benchmark_path(model_dir: Path, run: Path, compile_: bool, warmup_share: float = 1.0) -> dict:
    """The benchmark's measurement on the run's own tokens: a warm-up pass (over every document, or an evenly
    spread `warmup_share` of them: the kernels' autotuning and the compiled graphs depend on the batches'
    shapes, not on which documents fill them), then a timed pass over every document."""
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scoring import fast, matmul_rate

    from lossgap.rundir import RunDir
    from lossgap.scoring.config import ScoreConfig
    from lossgap.scoring.loss import CausalLMHead
    from lossgap.scoring.models import load_model, packing_possible, use_fast_kernels
    from lossgap.scoring.source import check_model_source

    tokens = RunDir(run).read_tokens("", ["pos", "token_id"])
    ids = tokens.column("token_id").to_numpy().astype(np.int64)
    docs = np.split(ids, np.flatnonzero(tokens.column("pos").to_numpy() == 0)[1:])
    config = ScoreConfig(model=str(model_dir))
    t0 = time.perf_counter()
    model = load_model(check_model_source(str(model_dir), None), config, torch.device("cuda"), torch.bfloat16,
                       fast_kernels=False)  # fmt: skip
    load_s = time.perf_counter() - t0
    use_fast_kernels(model)
    kernels_s = time.perf_counter() - t0 - load_s
    head = CausalLMHead(model)
    head.packed = packing_possible(model)
    if compile_:
        head.compile()
    budget = config.resolved_batch_tokens("cuda")
    rate = matmul_rate()
    t0 = time.perf_counter()
    fast(head, docs[:: max(1, round(1 / warmup_share))], budget)
    torch.cuda.synchronize()
    warmup = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast(head, docs, budget)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    n_scored = int(sum(len(d) - 1 for d in docs))
    n_params = sum(p.numel() for p in model.parameters())
    del model, head
    torch.cuda.empty_cache()
    return {"compile": compile_, "packed": True, "warmup_share": warmup_share, "load_s": load_s, "kernels_s": kernels_s, "batch_tokens": budget, "warmup_s": warmup, "seconds": seconds,
            "scored_tokens": n_scored, "tokens_per_s": n_scored / seconds,
            "mfu": n_scored / seconds * 2 * n_params / rate, "matmul_flops": rate, "n_params": n_params}  # fmt: skip


def lossgap(*args: str, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lossgap", *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(
            f"lossgap {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return seconds, proc.stdout + proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("olmo-hybrid-7b", "olmo3-7b"), required=True)
    parser.add_argument("--tokens", type=int, default=1_000_000, help="about how many tokens the corpus has")
    parser.add_argument("--work", type=Path, default=Path("/tmp/lossgap-cli-bench"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", nargs="*", default=["default-cold", "default", "compile-cold", "compile", "compile-b32k"],
                        help=f"score variants, in order: {', '.join(VARIANTS)}, each optionally with -cold (none: the benchmark path only)")  # fmt: skip
    parser.add_argument("--warmup-share", type=float, default=1.0,
                        help="the benchmark's warm-up pass over this share of the documents (every n-th); below 1 "
                             "Olmo Hybrid's timed pass ran slower than the CLI after it (docs/benchmarks.md, "
                             "2026-12-07): keep 1 for its reference rate")  # fmt: skip
    parser.add_argument("--reuse-model", action="store_true",
                        help="keep the model an earlier call saved in --work (same seed, so the same weights)")  # fmt: skip
    parser.add_argument("--torch-logs", default="", help="TORCH_LOGS for the variants (e.g. recompiles,graph_breaks)")
    parser.add_argument(
        "--bench",
        nargs="*",
        choices=("eager", "compile"),
        default=["compile", "eager"],
        help="benchmark-path measurements to make first (in this process)",
    )
    args = parser.parse_args()
    for v in args.variants:
        if v.removesuffix("-cold") not in VARIANTS:
            parser.error(f"unknown variant {v!r}")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    # the in-process benchmark keeps its own kernel caches, so the CLI's cold variants start empty
    os.environ["TRITON_CACHE_DIR"] = str(work / "cache-bench" / "triton")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(work / "cache-bench" / "inductor")
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import train_tokenizer

    result: dict = {"arch": args.arch, "steps": {}, "bench": [], "cli": []}

    def save() -> None:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2))
        tmp.replace(args.out)

    t0 = time.perf_counter()
    texts = corpus_texts(args.tokens * 4)  # ~4 characters a token for Python source under this BPE
    corpus = work / "corpus.jsonl"
    with corpus.open("w") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"id": f"doc{i:05d}", "text": text, "domain": "python"}) + "\n")
    tokenizer_dir = train_tokenizer(work / "tokenizer", texts[:400], vocab_size=16_000)
    result["steps"]["corpus_and_tokenizer_s"] = time.perf_counter() - t0
    result["corpus"] = {"documents": len(texts), "characters": sum(map(len, texts))}

    model_dir = work / args.arch
    if (model_dir / "config.json").is_file() and args.reuse_model:  # an earlier call's, on the same machine
        result["steps"]["save_pretrained_s"] = None
    else:
        result["steps"]["save_pretrained_s"] = build_model(args.arch, model_dir, tokenizer_dir)
    import torch

    result["gpu"] = torch.cuda.get_device_name()
    save()

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        "TRITON_PRINT_AUTOTUNING": "1",
        "PYTHONUNBUFFERED": "1",
        **({"TORCH_LOGS": args.torch_logs} if args.torch_logs else {}),
    }
    run = work / "run"
    if run.exists():  # an earlier call's run (a variant cut short) would be resumed, not measured: start afresh
        shutil.rmtree(run)
    result["steps"]["lossgap_corpus_s"], _ = lossgap("corpus", str(corpus), "--run", str(run), env=env)
    result["steps"]["lossgap_tokenize_s"], _ = lossgap("tokenize", str(model_dir), "--run", str(run), env=env)
    save()

    for kind in args.bench:
        row = benchmark_path(model_dir, run, kind == "compile", args.warmup_share)
        result["bench"].append(row)
        print(f"benchmark path {kind}: {row['tokens_per_s']:,.0f} tokens/s (MFU {row['mfu']:.1%}), "
              f"warm-up {row['warmup_s']:.0f} s", flush=True)  # fmt: skip
        save()

    # warm variants share the caches the in-process benchmark filled: what a user's second run finds
    warm = {
        "TRITON_CACHE_DIR": os.environ["TRITON_CACHE_DIR"],
        "TORCHINDUCTOR_CACHE_DIR": os.environ["TORCHINDUCTOR_CACHE_DIR"],
    }
    for i, variant in enumerate(args.variants):
        cold = variant.endswith("-cold")
        caches = {k: f"{v}-cold{i}" for k, v in warm.items()} if cold else warm
        name = f"{variant}-{i}"
        seconds, output = lossgap("score", str(model_dir), "--run", str(run), "--name", name,
                                  *VARIANTS[variant.removesuffix("-cold")], env={**env, **caches})  # fmt: skip
        from lossgap.rundir import RunDir

        args.out.with_name(f"{args.out.stem}-{name}.log").write_text(output)  # the whole log, beside the JSON
        record = RunDir(run).manifest().models[name]
        row = {"variant": variant, "options": VARIANTS[variant.removesuffix("-cold")], "cold_caches": cold,
               "process_s": seconds, "steps_s": dict(record.seconds), "n_tokens": record.n_tokens,
               "autotuning_events": len(re.findall(r"Triton autotuning for function", output)),
               "log": [line for line in output.splitlines() if "autotuning" not in line.lower()][-12:]}  # fmt: skip
        score_s = row["steps_s"].get("score")
        row["tokens_per_s_scoring"] = record.n_tokens / score_s if score_s else None
        row["tokens_per_s_process"] = record.n_tokens / seconds
        result["cli"].append(row)
        print(f"lossgap score {variant}: process {seconds:.1f} s, steps {row['steps_s']}, "
              f"{row['tokens_per_s_scoring'] or 0:,.0f} tokens/s scoring, autotuning events {row['autotuning_events']}",
              flush=True)  # fmt: skip
        save()


if __name__ == "__main__":
    main()
