"""Eager vs compiled trunk (`lossgap score --compile`, i.e. `CausalLMHead.compile`) on a full-size 7B config:
fixed 4096-token sequences and the length mix of benchmarks/scoring.py, lossgap's path, 16k-token batches.

    python3 benchmarks/compile_mix.py olmo3-7b      # on the GPU machine; olmo-hybrid-7b compiles much longer
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import VOCAB, build, fast, length_mix, matmul_rate, timed  # noqa: E402

from lossgap.scoring.loss import CausalLMHead  # noqa: E402


def main() -> None:
    arch = sys.argv[1] if len(sys.argv) > 1 else "olmo3-7b"
    rate = matmul_rate()
    print(f"{torch.cuda.get_device_name()} {rate / 1e12:.0f} TFLOP/s", flush=True)
    rng = np.random.default_rng(0)
    model = build(arch)
    head = CausalLMHead(model)
    n_params = sum(p.numel() for p in model.parameters())
    workloads = {
        "fixed": [rng.integers(0, VOCAB, 4096) for _ in range(32)],
        "mix": [rng.integers(0, VOCAB, k) for k in length_mix(rng, 160_000)],
    }
    eager: dict[str, np.ndarray] = {}
    for label in ("eager", "compiled"):
        if label == "compiled":
            t0 = time.perf_counter()
            head.compile()
            fast(head, workloads["fixed"][:4], 16384)
            print(f"compile + first batch {time.perf_counter() - t0:.0f} s", flush=True)
        for workload, docs in workloads.items():
            t0 = time.perf_counter()
            row, out = timed(lambda d: fast(head, d, 16384), docs, n_params, rate, model=arch, workload=workload, path=label)
            losses = np.concatenate(out)
            extra = ""
            if label == "eager":
                eager[workload] = losses
            else:
                diff = np.abs(losses - eager[workload])
                extra = f" |diff vs eager| max {diff.max():.3f} mean {diff.mean():.2e}"
            print(f"{label:9s} {workload:6s} {row.tokens_per_s:9,.0f} tok/s MFU {row.mfu:5.1%} peak {row.peak_gib:.1f} GiB"
                  f" (warm-up+timed {time.perf_counter() - t0:.0f} s){extra}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
