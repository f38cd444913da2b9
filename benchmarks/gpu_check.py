"""GPU end-to-end check of `lossgap score`: small random Olmo 3 and Olmo Hybrid models, left padding, fla, chunked loss.

Builds the two small models and a locally trained BPE tokenizer, scores the example corpus (documents of mixed
lengths, batched together with left padding) with the real CLI on the GPU in float32 and in bfloat16, then
compares each token's loss with a float32 reference computed one document at a time with `model(ids).logits`
(no padding, no batching): once with flash-linear-attention's kernels (the same model code the CLI ran) and once
with transformers' PyTorch Gated DeltaNet path (fla hidden), in separate processes. In bfloat16 the CLI's
attention is lossgap's varlen path; first, that path alone is checked against a float64 brute-force attention
(the tests' reference) on random inputs with padded rows, sliding windows and grouped heads. Usage (on the GPU
machine):

    python gpu_check.py --work /tmp/gpu_check          # --kernel-only: just the attention check
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ARCHS = ("olmo_hybrid", "olmo3")


def _hide_fla() -> None:
    for package in ("fla", "causal_conv1d"):
        sys.modules[package] = None  # type: ignore[assignment]


def build(work: Path, n_docs_per_domain: int) -> Path:
    """Corpus JSONL, tokenizer and the two models under `work`; returns the corpus path."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import torch
    from tiny_models import train_tokenizer  # the tests' own tokenizer recipe
    from transformers import AutoModelForCausalLM, AutoTokenizer, Olmo3Config, OlmoHybridConfig

    from lossgap.corpus import example_corpus

    table = example_corpus(max_docs_per_domain=n_docs_per_domain).table
    corpus = work / "corpus.jsonl"
    with corpus.open("w") as fh:
        for doc_id, text in zip(table.column("doc_id").to_pylist(), table.column("text").to_pylist(), strict=True):
            fh.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    tok_dir = train_tokenizer(work / "tokenizer", table.column("text").to_pylist(), vocab_size=2000)
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    common = dict(vocab_size=len(tokenizer), hidden_size=256, intermediate_size=768, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=16384, bos_token_id=1, eos_token_id=0,
                  pad_token_id=2)  # fmt: skip
    configs = {
        # A sliding window far shorter than the documents: left padding must not shift it.
        "olmo3": Olmo3Config(num_hidden_layers=4, sliding_window=128, **common),
        "olmo_hybrid": OlmoHybridConfig(
            num_hidden_layers=6,
            layer_types=["linear_attention", "linear_attention", "full_attention"] * 2,
            linear_num_key_heads=4,
            linear_num_value_heads=4,
            linear_key_head_dim=64,
            linear_value_head_dim=64,
            **{**common, "num_key_value_heads": 4},
        ),  # fmt: skip
    }
    for arch, config in configs.items():
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        with torch.no_grad():  # random init predicts near-uniformly; larger weights make losses vary by token
            for p in model.parameters():
                if p.dim() >= 2:
                    p.mul_(3.0)
        model.save_pretrained(work / arch)
        tokenizer.save_pretrained(work / arch)
    return corpus


def kernel_check() -> None:
    """lossgap's varlen attention with PyTorch's kernel (bf16) against the float64 brute force, per case."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import torch

    from lossgap.scoring.attention import varlen_attention_forward, varlen_kernel
    from tests.scoring.reference import varlen_attention

    kernel = varlen_kernel()
    print(f"varlen kernel: {kernel}", flush=True)
    gen = torch.Generator(device="cuda").manual_seed(0)
    lengths = torch.tensor([300, 1, 77, 300, 129], device="cuda")  # one full row: an empty pad segment
    width = int(lengths.max())
    mask = (torch.arange(width, device="cuda")[None] >= width - lengths[:, None]).long()
    for heads, kv_heads, window in ((8, 8, None), (8, 8, 1), (8, 8, 4), (8, 2, 64), (8, 2, None)):
        q = torch.randn(len(lengths), heads, width, 64, device="cuda", generator=gen, dtype=torch.bfloat16)
        k, v = (torch.randn(len(lengths), kv_heads, width, 64, device="cuda", generator=gen, dtype=torch.bfloat16)
                for _ in range(2))  # fmt: skip
        got, _ = varlen_attention_forward(None, q, k, v, mask, 0.125, sliding_window=window, kernel=kernel)
        want, _ = varlen_attention_forward(None, q, k, v, mask, 0.125, sliding_window=window, kernel=varlen_attention)
        real = mask.bool()  # pad rows' outputs are never read
        err = (got.float() - want.float())[real].abs().max().item()
        print(f"  heads {heads}/{kv_heads} window {window}: max |varlen - float64 reference| over real tokens "
              f"{err:.2e}", flush=True)  # fmt: skip
        assert err < 2e-2, err


def reference(model_dir: Path, run_dir: Path, out: Path, fla: bool, device: str) -> None:
    """float32 losses of every document, one at a time, unpadded; saved as one flat array in tokens order."""
    if not fla:
        _hide_fla()
    import torch
    from transformers import AutoModelForCausalLM

    from lossgap.rundir import RunDir

    tokens = RunDir(run_dir).read("tokens", ["pos", "token_id"])
    ids = tokens.column("token_id").to_numpy().astype(np.int64)
    starts = np.flatnonzero(tokens.column("pos").to_numpy() == 0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    kind = getattr(sys.modules[type(model).__module__], "torch_chunk_gated_delta_rule", None)
    losses = []
    with torch.inference_mode():
        for doc in np.split(ids, starts[1:]):
            x = torch.from_numpy(doc).to(device)[None]
            logits = model(input_ids=x).logits[0].float()
            logp = torch.log_softmax(logits[:-1], dim=-1)
            losses.append((-logp.gather(1, x[0, 1:, None]).squeeze(1)).cpu().numpy())
    np.save(out, np.concatenate(losses))
    print(f"reference {model_dir.name} fla={fla}: GDN kernel {getattr(kind, '__module__', None)}", flush=True)


def compare(run_dir: Path, name: str, ref: np.ndarray) -> dict[str, float]:
    import duckdb

    from lossgap.rundir import RunDir

    rd = RunDir(run_dir)
    con = duckdb.connect()
    con.register("tokens", rd.read("tokens", ["doc_id", "pos"]))
    con.register("scores", rd.read_scores(name))
    # tokens order (documents in corpus order, pos ascending), pos 0 dropped: the reference's order
    got = con.execute(
        "SELECT s.loss FROM (SELECT *, row_number() OVER () AS rn FROM tokens) t "
        "LEFT JOIN scores s USING (doc_id, pos) WHERE t.pos > 0 ORDER BY t.rn"
    ).fetchnumpy()["loss"]
    got = np.asarray(got, dtype=np.float64)
    diff = np.abs(got - ref)
    return {
        "n_tokens": int(len(ref)),
        "missing_or_nan": int(np.isnan(got).sum()),
        "max_abs": float(np.nanmax(diff)),
        "mean_abs": float(np.nanmean(diff)),
        "mean_rel": float(np.nanmean(diff / np.maximum(np.abs(ref), 1e-6))),
        "ref_mean": float(ref.mean()),
        "ref_std": float(ref.std()),
    }


def print_table(results: dict[str, dict[str, float]]) -> None:
    print(f"\n{'comparison':48s} {'tokens':>7s} {'missing':>7s} {'max_abs':>9s} {'mean_abs':>9s} {'mean_rel':>9s}"
          f"  ref loss mean±std")  # fmt: skip
    for key, r in results.items():
        print(f"{key:48s} {r['n_tokens']:7d} {r['missing_or_nan']:7d} {r['max_abs']:9.2e} {r['mean_abs']:9.2e} "
              f"{r['mean_rel']:9.2e}  {r['ref_mean']:.3f}±{r['ref_std']:.3f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu_check"))
    parser.add_argument("--docs-per-domain", type=int, default=8)
    parser.add_argument("--reference", nargs=3, metavar=("MODEL_DIR", "RUN_DIR", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--fla", choices=("on", "off"), default="on", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cuda", help="cuda (the check); cpu only to try the script itself")
    parser.add_argument("--kernel-only", action="store_true", help="only check the varlen attention path")
    args = parser.parse_args()
    if args.device == "cuda":
        kernel_check()
    if args.kernel_only:
        return
    if args.reference:
        model_dir, run_dir, out = map(Path, args.reference)
        reference(model_dir, run_dir, out, fla=args.fla == "on", device=args.device)
        return

    _hide_fla()  # this process only builds and compares; the GPU work runs in subprocesses
    from lossgap.rundir import RunDir

    args.work.mkdir(parents=True, exist_ok=True)
    corpus = build(args.work, args.docs_per_domain)
    env = dict(os.environ)
    results: dict[str, dict[str, float]] = {}
    for arch in ARCHS:
        model_dir = args.work / arch
        run_dir = args.work / f"run_{arch}"
        for dtype in ("float32", "bfloat16"):
            cmd = [sys.executable, "-m", "lossgap", "score", str(model_dir), "--corpus", str(corpus),
                   "--run", str(run_dir), "--device", args.device, "--dtype", dtype, "--name", dtype]  # fmt: skip
            print("$", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, env=env)
            record = RunDir(run_dir).manifest().models[dtype]
            print(f"  {arch} {dtype}: attention {record.attention}", flush=True)
        for fla in ("on", "off"):
            out = args.work / f"ref_{arch}_fla{fla}.npy"
            subprocess.run([sys.executable, __file__, "--reference", str(model_dir), str(run_dir), str(out),
                            "--fla", fla, "--device", args.device], check=True, env=env)  # fmt: skip
            ref = np.load(out).astype(np.float64)
            for dtype in ("float32", "bfloat16"):
                results[f"{arch:11s} {dtype:8s} vs fp32 ref (fla {fla:3s})"] = compare(run_dir, dtype, ref)
        ref_on, ref_off = (np.load(args.work / f"ref_{arch}_fla{f}.npy").astype(np.float64) for f in ("on", "off"))
        d = np.abs(ref_on - ref_off)
        results[f"{arch:11s} fp32 ref fla on vs off      "] = {
            "n_tokens": len(d), "missing_or_nan": 0, "max_abs": float(d.max()), "mean_abs": float(d.mean()),
            "mean_rel": float(np.mean(d / np.maximum(np.abs(ref_off), 1e-6))),
            "ref_mean": float(ref_off.mean()), "ref_std": float(ref_off.std())}  # fmt: skip
        print_table({k: v for k, v in results.items() if k.startswith(arch)})  # each architecture as it is done
        (args.work / "gpu_check.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
