"""Where a compiled 7B scoring batch spends its GPU time, and what its attention and matrix products cost alone.

For issue 26 (Olmo 3 7B at 65.7% MFU on fixed 4,096-token documents): one call that

1. scores fixed-length documents on lossgap's packed, compiled path (as `benchmarks/scoring.py`'s
   "lossgap packed --compile"), times a pass, then records one pass with torch.profiler and sums the kernels'
   device time by class (matrix products, attention, fused Triton kernels, copies, the rest);
2. times the attention kernels on one batch's shapes alone: PyTorch's `varlen_attn` (what lossgap uses) and SDPA's
   flash, cuDNN and memory-efficient backends on the same documents as dense rows, causal;
3. times the layer's matrix products alone at the batch's row count, against the 8192³ rate MFU divides by.

Usage (GPU machine): python benchmarks/profile_scoring.py --arch olmo3-7b --out profile.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np
import torch
from scoring import VOCAB, attention_flops, build, fast, matmul_rate  # benchmarks/ is on sys.path

from lossgap.scoring.loss import CausalLMHead
from lossgap.scoring.models import packing_possible, use_fast_kernels

CLASSES = (  # kernel-name fragments, first match wins (Inductor's kernels first: their names list the ops they fuse)
    ("fused elementwise / norm (triton)", ("triton_",)),
    ("attention", ("flash", "fmha", "attention", "attn", "cudnn_generated")),
    ("gated deltanet (fla)", ("chunk_", "fused_recurrent", "l2norm", "solve_tril", "wy_", "kkt", "causal_conv")),
    ("matrix product", ("gemm", "nvjet", "sm90_xmma", "cutlass", "matmul", "wgmma", "tensorop")),
    ("copies", ("memcpy", "memset", "copy_", "elementwise_kernel", "vectorized")),
)


def kernel_class(name: str) -> str:
    low = name.lower()
    for label, fragments in CLASSES:
        if any(f in low for f in fragments):
            return label
    return "other"


def bench(fn, n: int = 30) -> float:
    """Median seconds of fn() over n runs, timed with CUDA events after 5 warm-up runs."""
    for _ in range(5):
        fn()
    times = []
    for _ in range(n):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return float(np.median(times))


def profile_path(head: CausalLMHead, docs: list[np.ndarray], batch_tokens: int) -> dict:
    fast(head, docs, batch_tokens)  # warm-up: compiles
    fast(head, docs, batch_tokens)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fast(head, docs, batch_tokens)
    torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        fast(head, docs, batch_tokens)
        torch.cuda.synchronize()
    kernels = []
    for evt in prof.key_averages():
        us = getattr(evt, "self_device_time_total", None) or getattr(evt, "self_cuda_time_total", 0)
        if us > 0:
            kernels.append({"name": evt.key[:160], "calls": evt.count, "ms": us / 1e3})
    kernels.sort(key=lambda k: -k["ms"])
    classes: dict[str, float] = defaultdict(float)
    for k in kernels:
        k["class"] = kernel_class(k["name"])
        classes[k["class"]] += k["ms"]
    return {"wall_s": wall, "kernel_ms": sum(classes.values()), "classes_ms": dict(classes), "top": kernels[:40]}


def attention_alone(config, batch_tokens: int, length: int) -> list[dict]:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.varlen import varlen_attn

    heads, kv = config.num_attention_heads, config.num_key_value_heads
    dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    rows = batch_tokens // length
    flops = 4.0 * heads * dim * rows * length * (length + 1) / 2
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(rows * length, heads, dim, device="cuda", dtype=torch.bfloat16, generator=g)
    k = torch.randn(rows * length, kv, dim, device="cuda", dtype=torch.bfloat16, generator=g)
    v = torch.randn(rows * length, kv, dim, device="cuda", dtype=torch.bfloat16, generator=g)
    cu = torch.arange(0, rows * length + 1, length, device="cuda", dtype=torch.int32)
    out = []
    ref = varlen_attn(q, k, v, cu, cu, length, length, window_size=(-1, 0))
    s = bench(lambda: varlen_attn(q, k, v, cu, cu, length, length, window_size=(-1, 0)))
    out.append({"kernel": "varlen_attn (lossgap)", "ms": s * 1e3, "tflops": flops / s / 1e12, "max_diff": 0.0})
    window = getattr(config, "sliding_window", None)
    if window:  # Olmo 3's sliding layers pass their window even where it covers every document
        s = bench(lambda: varlen_attn(q, k, v, cu, cu, length, length, window_size=(window - 1, 0)))
        got = varlen_attn(q, k, v, cu, cu, length, length, window_size=(window - 1, 0))
        out.append({"kernel": f"varlen_attn window {window}", "ms": s * 1e3, "tflops": flops / s / 1e12,
                    "max_diff": (got.float() - ref.float()).abs().max().item()})  # fmt: skip
    try:  # cuDNN's kernel on the same ragged layout (what varlen_attn calls where PyTorch enables its cuDNN backend)
        fn = lambda: torch.ops.aten._cudnn_attention_forward(  # noqa: E731
            q, k, v, None, cu, cu, length, length, False, 0.0, True, False, scale=None
        )[0]
        got = fn()
        s = bench(fn)
        out.append({"kernel": "cudnn ragged", "ms": s * 1e3, "tflops": flops / s / 1e12,
                    "max_diff": (got.float() - ref.float()).abs().max().item()})  # fmt: skip
    except Exception as exc:
        out.append({"kernel": "cudnn ragged", "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    dense = [t.view(rows, length, t.shape[1], dim).transpose(1, 2) for t in (q, k, v)]
    for label, backend in (("sdpa flash", SDPBackend.FLASH_ATTENTION), ("sdpa cudnn", SDPBackend.CUDNN_ATTENTION),
                           ("sdpa efficient", SDPBackend.EFFICIENT_ATTENTION)):  # fmt: skip
        try:
            with sdpa_kernel(backend):
                fn = lambda: torch.nn.functional.scaled_dot_product_attention(*dense, is_causal=True)  # noqa: E731
                got = fn().transpose(1, 2).reshape(rows * length, heads, dim)
                s = bench(fn)
            diff = (got.float() - ref.float()).abs().max().item()
            out.append({"kernel": label, "ms": s * 1e3, "tflops": flops / s / 1e12, "max_diff": diff})
        except Exception as exc:  # a backend this build or shape does not have
            out.append({"kernel": label, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    return out


def matmuls_alone(config, rows: int) -> list[dict]:
    h, inter = config.hidden_size, config.intermediate_size
    heads = config.num_attention_heads
    dim = getattr(config, "head_dim", None) or h // heads
    kv = config.num_key_value_heads * dim
    shapes = [("q/o projection", rows, h, heads * dim), ("k or v projection", rows, h, kv),
              ("gate or up projection", rows, h, inter), ("down projection", rows, inter, h),
              ("fused q,k,v", rows, h, heads * dim + 2 * kv), ("fused gate+up", rows, h, 2 * inter),
              ("head, 1,024 rows", 1024, h, config.vocab_size),
              ("head, rows to 64", 1024, h, -(-config.vocab_size // 64) * 64)]  # fmt: skip
    out = []
    for label, m, kdim, n in shapes:
        a = torch.randn(m, kdim, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(n, kdim, device="cuda", dtype=torch.bfloat16)
        s = bench(lambda a=a, w=w: torch.nn.functional.linear(a, w))
        out.append(
            {"product": label, "m": m, "k": kdim, "n": n, "ms": s * 1e3, "tflops": 2.0 * m * kdim * n / s / 1e12}
        )
        del a, w
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("olmo3-7b", "olmo-hybrid-7b"), default="olmo3-7b")
    parser.add_argument("--batch-tokens", type=int, default=16384)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rate = matmul_rate()
    result: dict = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "matmul_flops": rate}
    model = build(args.arch)
    config = model.config
    n_params = sum(p.numel() for p in model.parameters())
    use_fast_kernels(model)
    head = CausalLMHead(model)
    head.packed = packing_possible(model)
    head.compile()
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, VOCAB, 4096) for _ in range(args.batches * (args.batch_tokens // 4096))]
    tokens = sum(map(len, docs))
    prof = profile_path(head, docs, args.batch_tokens)
    attention = attention_flops(config, [len(d) for d in docs])
    prof.update(tokens=tokens, tokens_per_s=tokens / prof["wall_s"], mfu=tokens / prof["wall_s"] * 2 * n_params / rate,
                ideal_matmul_s=tokens * 2 * n_params / rate, attention_flops=attention)  # fmt: skip
    result["path"] = prof
    del head, model
    torch.cuda.empty_cache()
    result["attention"] = attention_alone(config, args.batch_tokens, 4096)
    result["matmuls"] = matmuls_alone(config, args.batch_tokens)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"{result['gpu']}: matmul {rate / 1e12:.0f} TFLOP/s; {args.arch} packed --compile fixed 4096: "
          f"{prof['tokens_per_s']:,.0f} tok/s, MFU {prof['mfu']:.1%}, wall {prof['wall_s'] * 1e3:.0f} ms, kernels "
          f"{prof['kernel_ms']:.0f} ms, ideal matmul {prof['ideal_matmul_s'] * 1e3:.0f} ms")  # fmt: skip
    for label, ms in sorted(prof["classes_ms"].items(), key=lambda kv: -kv[1]):
        print(f"  {label:36s} {ms:8.1f} ms")
    for k in prof["top"][:14]:
        print(f"  {k['ms']:8.1f} ms {k['calls']:5d}x  [{k['class'][:10]}] {k['name'][:90]}")
    for a in result["attention"]:
        print("  attention", a)
    for m in result["matmuls"]:
        print(f"  matmul {m['product']:22s} {m['m']}x{m['k']}x{m['n']}: {m['ms']:.3f} ms, {m['tflops']:.0f} TFLOP/s")


if __name__ == "__main__":
    main()
