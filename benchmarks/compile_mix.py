"""Eager vs torch.compile(dynamic=True) trunk, Olmo 3 7B, fixed 4096 and the length mix (lossgap path)."""
import sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np, torch
from scoring import VOCAB, build, fast, length_mix, matmul_rate, timed
from lossgap.scoring.loss import CausalLMHead

rate = matmul_rate()
print(f"{torch.cuda.get_device_name()} {rate/1e12:.0f} TFLOP/s", flush=True)
rng = np.random.default_rng(0)
model = build(sys.argv[1] if len(sys.argv) > 1 else "olmo3-7b")
head = CausalLMHead(model)
n = sum(p.numel() for p in model.parameters())
fixed = [rng.integers(0, VOCAB, 4096) for _ in range(32)]
mix = [rng.integers(0, VOCAB, k) for k in length_mix(rng, 160_000)]
res = {}
for label in ("eager", "compiled dynamic"):
    if label != "eager":
        t0 = time.perf_counter()
        head.trunk = torch.compile(head.trunk, dynamic=True)
        fast(head, fixed[:4], 16384)
        print(f"compile + first batch {time.perf_counter()-t0:.0f} s", flush=True)
    for wl, docs in (("fixed", fixed), ("mix", mix)):
        t0 = time.perf_counter()
        r, out = timed(lambda d: fast(head, d, 16384), docs, n, rate, model="olmo3", workload=wl, path=label)
        res[(label, wl)] = np.concatenate(out)
        extra = ""
        if label != "eager":
            dd = np.abs(res[(label, wl)] - res[("eager", wl)])
            extra = f" |diff vs eager| max {dd.max():.3f} mean {dd.mean():.2e}"
        print(f"{label:18s} {wl:6s} {r.tokens_per_s:9,.0f} tok/s MFU {r.mfu:5.1%} peak {r.peak_gib:.1f} GiB (warm-up+timed {time.perf_counter()-t0:.0f} s){extra}", flush=True)
