"""Entropy, rank and top-k per token (`--distribution`, `--top-k`): recomputed in float64 from a tiny model's full
logits; written beside the loss, kept through a resumed scoring, absent from older scores without harm."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import torch

from lossgap.rundir import RunDir
from lossgap.scoring import ScoreConfig, run_score
from tests.conftest import score
from tests.scoring.reference import assert_float32_close, load_float64


@torch.no_grad()
def _reference(model, ids: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per position p >= 1, in float64 from the model's own logits: loss, entropy, rank (1 + logits strictly above the
    true token's), the k most likely ids and their log-probabilities."""
    x = torch.tensor(ids, dtype=torch.long)[None]
    logits = model(input_ids=x).logits[0, :-1].double()
    logp = torch.log_softmax(logits, dim=-1)
    true = x[0, 1:]
    top = torch.topk(logp, k, dim=-1)
    return {
        "loss": -logp.gather(1, true[:, None]).squeeze(1).numpy(),
        "entropy": -(logp.exp() * logp).sum(-1).numpy(),
        "rank": ((logits > logits.gather(1, true[:, None])).sum(-1) + 1).numpy(),
        "topk_ids": top.indices.numpy(),
        "topk_logprobs": top.values.numpy(),
    }


def test_entropy_rank_and_top_k_match_float64(tiny_model, corpus_file, tmp_path):
    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(tiny_model), name="m", top_k=5), corpus_file)
    table = rd.read_scores("m").to_pandas()
    tokens = rd.read("tokens").to_pandas()
    reference = load_float64(tiny_model)
    assert rd.manifest().models["m"].stats == ("entropy", "rank", "topk_ids", "topk_logprobs")
    checked = 0
    for doc, group in table.groupby("doc_id", sort=False):
        ids = tokens[tokens["doc_id"] == doc].sort_values("pos")["token_id"].to_numpy()
        got = group.sort_values("pos")
        want = _reference(reference, ids, 5)
        assert_float32_close(got["loss"].to_numpy(), want["loss"])
        assert_float32_close(got["entropy"].to_numpy(), want["entropy"])
        logp = np.stack(got["topk_logprobs"].to_numpy())
        assert_float32_close(logp, want["topk_logprobs"])
        # ranks and ids agree except where float32 rounding reorders two logits within 1e-5 of each other
        top_ids = np.stack(got["topk_ids"].to_numpy())
        near_tie = np.abs(np.diff(want["topk_logprobs"], axis=1)).min(axis=1) < 1e-5
        assert (top_ids[~near_tie] == want["topk_ids"][~near_tie]).all()
        rank = got["rank"].to_numpy()
        assert (np.abs(rank - want["rank"]) <= 1).all() and np.mean(rank == want["rank"]) > 0.99
        assert (rank >= 1).all() and ((rank == 1) == (top_ids[:, 0] == ids[1:])).mean() > 0.99
        checked += len(got)
    assert checked == len(table) > 50
    schema = pq.read_schema(rd.scores_path("m"))
    assert schema.field("entropy").type == "float" and schema.field("rank").type == "int32"


def test_without_distribution_the_scores_hold_the_loss_alone(llama_model, corpus_file, tmp_path):
    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(llama_model), name="m", distribution=False), corpus_file)
    assert pq.read_schema(rd.scores_path("m")).names == ["doc_id", "pos", "loss"]
    assert rd.manifest().models["m"].stats == ()


def test_asking_a_complete_scoring_for_top_k_says_it_needs_overwrite(llama_model, corpus_file, tmp_path, caplog):
    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(llama_model), name="m"), corpus_file)
    with caplog.at_level("WARNING", logger="lossgap.scoring.run"):
        again = run_score(rd, ScoreConfig(model=str(llama_model), name="m", top_k=4))
    assert again.already_complete and "without topk_ids, topk_logprobs; --overwrite" in caplog.text
    run_score(rd, ScoreConfig(model=str(llama_model), name="m", top_k=4, overwrite=True))
    assert rd.score_columns("m") == ("entropy", "rank", "topk_ids", "topk_logprobs")


@torch.no_grad()
def test_a_head_padded_to_aligned_rows_gives_the_same_scores(tiny_model):
    """On CUDA the head's weight moves into a zero-padded buffer (rows a multiple of 64, for Hopper's fast matrix
    kernels): every per-token statistic stays the same, the model's own forward pass too, and no copy is kept."""
    from transformers import AutoModelForCausalLM

    from lossgap.scoring.loss import CausalLMHead

    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.bfloat16).eval()  # 16-bit heads are padded
    vocab = model.get_output_embeddings().weight.shape[0]
    x = torch.from_numpy(np.random.default_rng(0).integers(3, vocab, 40))[None]
    own = model(input_ids=x).logits
    hidden = getattr(model, model.base_model_prefix)(input_ids=x).last_hidden_state[0, :-1]
    targets = x[0, 1:]
    want = CausalLMHead(model, align_vocab=1).token_stats(hidden, targets, True, 5)
    head = CausalLMHead(model, align_vocab=vocab + 7)  # any multiple that needs padding: 7 rows here
    assert head.head_padded is not None and head.head_padded.shape[0] == vocab + 7
    assert head.head.weight.data_ptr() == head.head_padded.data_ptr() and not head.head_padded[vocab:].any()
    got = head.token_stats(hidden, targets, True, 5)
    assert got.keys() == want.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(model(input_ids=x).logits, own, rtol=0, atol=0)  # the model's head reads the same rows
    head.check_against_full_forward(x)
    assert CausalLMHead(model).head_padded is None  # on the CPU no alignment by default
    assert CausalLMHead(model.float(), align_vocab=vocab + 7).head_padded is None  # nor for a float32 head
