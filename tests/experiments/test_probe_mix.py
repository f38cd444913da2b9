"""experiments/matched/probe_mix.py: probe documents interleaved whole with natural ones at the asked share."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments/matched"))
from probe_mix import mix  # noqa: E402

EOS = 0


def _docs(stream: np.ndarray) -> list[tuple[int, ...]]:
    """The stream split after each end-of-text id; the last piece may be a document cut short."""
    return [tuple(d) for d in np.split(stream, np.flatnonzero(stream == EOS) + 1) if len(d)]


@pytest.mark.parametrize("fraction", [0.2, 0.5])
def test_mix_keeps_documents_whole_and_reaches_the_share(fraction: float) -> None:
    rng = np.random.default_rng(0)
    natural_docs = [np.append(rng.integers(1, 100, rng.integers(5, 60)), EOS) for _ in range(2000)]
    probes = [np.append(rng.integers(100, 200, rng.integers(5, 40)), EOS) for _ in range(500)]
    stream, n_docs, n_tokens = mix(
        np.concatenate(natural_docs), probes, EOS, fraction, 40_000, np.random.default_rng(1)
    )
    assert len(stream) == 40_000
    docs = _docs(stream)
    is_probe = [d[0] >= 100 for d in docs]
    whole = docs[:-1] if docs[-1][-1] != EOS else docs
    # natural documents keep their order and content; probe documents are whole copies of the given ones
    natural_kept = [d for d, p in zip(whole, is_probe, strict=False) if not p]
    assert natural_kept == [tuple(d) for d in natural_docs[: len(natural_kept)]]
    assert {d for d, p in zip(whole, is_probe, strict=False) if p} <= {tuple(p) for p in probes}
    # the share of probe tokens in the written stream, by counting
    probe_tokens = sum(len(d) for d, p in zip(docs, is_probe, strict=True) if p)
    assert probe_tokens == n_tokens and sum(is_probe) == n_docs
    assert abs(probe_tokens / 40_000 - fraction) < 0.01


def test_mix_refuses_a_stream_too_short() -> None:
    natural = np.array([5, 6, EOS] * 10)
    with pytest.raises(SystemExit, match="too few tokens"):
        mix(natural, [np.array([150, EOS])], EOS, 0.2, 1_000, np.random.default_rng(0))


def test_probe_ids_mix_in_only_the_probes_named(tokenizer_dir) -> None:
    from probe_mix import LEVELS, probe_ids
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    ids = probe_ids(tokenizer, 2, ("copy", "recall"))
    assert len(ids) == 2 * (len(LEVELS["copy"]) + len(LEVELS["recall"]))
    texts = [tokenizer.decode(x[:-1]) for x in ids]
    assert all(x[-1] == tokenizer.eos_token_id for x in ids)
    # the documents' first lines name their probe: copy's instruction, then recall's list of pairs
    assert sum(t.startswith("Copy the list exactly.") for t in texts) == 2 * len(LEVELS["copy"])
    assert sum(t.startswith("Pairs:") for t in texts) == 2 * len(LEVELS["recall"])
