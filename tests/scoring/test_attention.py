import numpy as np
import pytest
import torch

from lossgap.rundir import Window
from lossgap.scoring.attention import NAME, row_segments, use_varlen_attention
from lossgap.scoring.loss import CausalLMHead, batch_losses
from tests.scoring.reference import full_context_losses, load_float64, varlen_attention
from tests.tiny_models import save_tiny_model


def test_row_segments_of_a_left_padded_batch():
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1], [0, 1, 1, 1]])
    assert row_segments(mask, 3, 4, mask.device).tolist() == [0, 2, 4, 4, 8, 9, 12]
    assert row_segments(None, 2, 5, mask.device).tolist() == [0, 0, 5, 5, 10]
    assert row_segments(mask, 3, 4, mask.device).dtype == torch.int32


def test_cpu_model_keeps_its_attention_without_a_kernel(llama_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(llama_model)
    assert not use_varlen_attention(model)
    assert model.config._attn_implementation != NAME


@pytest.mark.parametrize("lengths", [[5, 23, 40, 61, 2], [33, 33, 33]], ids=["padded", "unpadded"])
def test_varlen_batch_matches_float64_full_context(tiny_model, lengths):
    """Left-padded batch through the varlen path (brute-force kernel) = each document alone, float64 reference.

    The tiny Olmo 3 has a 16-token sliding window, so longer documents check the window's bounds too. The
    same batch through transformers' SDPA path must agree even closer: Olmo Hybrid's float32 Gated DeltaNet
    alone differs from float64 by up to ~2e-5.
    """
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    rng = np.random.default_rng(0)
    docs = [rng.integers(3, model.config.vocab_size, n) for n in lengths]
    windows = [Window(k, 0, len(d), 1) for k, d in enumerate(docs)]
    score = lambda: batch_losses(CausalLMHead(model), docs, windows, max(lengths), 7, torch.device("cpu"))  # noqa: E731
    sdpa = score()
    assert use_varlen_attention(model, kernel=varlen_attention)
    got = score()
    reference = load_float64(tiny_model)
    for doc, losses, own in zip(docs, got, sdpa, strict=True):
        np.testing.assert_allclose(losses, full_context_losses(reference, doc), rtol=0, atol=5e-5)
        np.testing.assert_allclose(losses, own, rtol=0, atol=2e-6)


def test_a_window_covering_every_segment_runs_as_causal_attention(tmp_path, tokenizer_dir):
    """Olmo 3's sliding layers ask for their window; where no segment of the batch is longer than it, the kernel
    gets plain causal attention (the same function), and the losses still equal the float64 reference."""
    from transformers import AutoModelForCausalLM

    tiny_model = save_tiny_model("olmo3", tmp_path, tokenizer_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    window = model.config.sliding_window
    asked: list[tuple[int, int]] = []

    def recording(*args, window_size, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(tuple(window_size))
        return varlen_attention(*args, window_size=window_size, **kwargs)

    assert use_varlen_attention(model, kernel=recording)
    reference = load_float64(tiny_model)
    rng = np.random.default_rng(1)
    for lengths, windowed in (([5, window, 9], False), ([5, window + 1], True)):
        docs = [rng.integers(3, model.config.vocab_size, n) for n in lengths]
        windows = [Window(k, 0, len(d), 1) for k, d in enumerate(docs)]
        asked.clear()
        got = batch_losses(CausalLMHead(model), docs, windows, max(lengths), 7, torch.device("cpu"))
        assert asked and ((window - 1, 0) in asked) == windowed and set(asked) <= {(-1, 0), (window - 1, 0)}
        for doc, losses in zip(docs, got, strict=True):
            np.testing.assert_allclose(losses, full_context_losses(reference, doc), rtol=0, atol=5e-5)


def test_the_kernel_check_gives_the_layers_no_cache(tiny_model):
    """Switching to varlen attention runs one small forward pass; a cache in it would reach the decoder layers, and
    layers already compiled (a second switch, as the benchmark's paths do) would recompile on it, one a layer."""
    from transformers import AutoModelForCausalLM, Cache

    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    model.config.use_cache = True  # as released models have it
    seen: list[str] = []
    hook = lambda module, args, kwargs: seen.extend(k for k, v in kwargs.items() if isinstance(v, Cache))  # noqa: E731
    for layer in model.model.layers:
        layer.register_forward_pre_hook(hook, with_kwargs=True)
    with torch.inference_mode():
        model(input_ids=torch.zeros((1, 2), dtype=torch.long))
    assert seen, "the hook sees a cache where the model makes one"
    seen.clear()
    assert use_varlen_attention(model, kernel=varlen_attention)
    assert seen == []


def test_kernel_without_grouped_heads_gets_them_repeated(monkeypatch):
    """PyTorch 2.11's varlen_attn has no enable_gqa: lossgap repeats key/value heads itself, as transformers does."""
    import torch.nn.attention.varlen as varlen

    from lossgap.scoring.attention import varlen_kernel

    def old_api(q, k, v, cu_q, cu_k, max_q, max_k, *, return_aux=None, scale=None, window_size=(-1, -1)):
        return varlen_attention(q, k, v, cu_q, cu_k, max_q, max_k, scale=scale, window_size=window_size,
                                enable_gqa=False)  # fmt: skip

    monkeypatch.setattr(varlen, "varlen_attn", old_api)
    kernel = varlen_kernel()
    q, k, v = torch.randn(9, 4, 8), torch.randn(9, 2, 8), torch.randn(9, 2, 8)
    cu = torch.tensor([0, 4, 9], dtype=torch.int32)
    got = kernel(q, k, v, cu, cu, 5, 5, scale=0.3, window_size=(2, 0), enable_gqa=True)
    want = varlen_attention(q, k, v, cu, cu, 5, 5, scale=0.3, window_size=(2, 0), enable_gqa=True)
    torch.testing.assert_close(got, want)


def test_model_with_logit_softcapping_keeps_its_attention():
    """Gemma 2 soft-caps attention logits, which varlen_attn cannot: the model keeps transformers' attention."""
    from transformers import AutoModelForCausalLM, Gemma2Config

    config = Gemma2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, head_dim=8, attn_logit_softcapping=50.0)  # fmt: skip
    model = AutoModelForCausalLM.from_config(config).eval()
    before = model.config._attn_implementation
    assert not use_varlen_attention(model, kernel=varlen_attention)
    assert model.config._attn_implementation == before


@pytest.mark.parametrize("arch", ["llama", "olmo3"])
def test_packed_windows_equal_the_padded_batch_and_the_float64_reference(tmp_path, tokenizer_dir, arch):
    """Windows packed into one row of segments (positions restarting, no padding) give the losses each document
    gets alone: attention stays inside its segment, and Olmo 3's sliding window inside it too."""
    from transformers import AutoModelForCausalLM

    from lossgap.scoring.batches import plan_packed_batches
    from tests.tiny_models import save_tiny_model

    folder = save_tiny_model(arch, tmp_path / arch, tokenizer_dir)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    rng = np.random.default_rng(1)
    docs = [rng.integers(3, model.config.vocab_size, n) for n in (5, 23, 40, 61, 2, 33)]
    windows = [Window(k, 0, len(d), 1) for k, d in enumerate(docs)]
    assert use_varlen_attention(model, kernel=varlen_attention)
    head = CausalLMHead(model)
    padded = batch_losses(head, docs, windows, max(len(d) for d in docs), 7, torch.device("cpu"))
    head.packed = True
    batches = plan_packed_batches(windows, 100)
    assert len(batches) > 1 and all(sum(w.length for w in b.windows) <= 100 or len(b.windows) == 1 for b in batches)
    packed = {}
    for batch in batches:
        for w, losses in zip(
            batch.windows, batch_losses(head, docs, batch.windows, 0, 7, torch.device("cpu")), strict=True
        ):
            packed[w.doc] = losses
    reference = load_float64(folder)
    for k, doc in enumerate(docs):
        np.testing.assert_allclose(packed[k], full_context_losses(reference, doc), rtol=0, atol=5e-5)
        np.testing.assert_allclose(packed[k], padded[k], rtol=0, atol=2e-6)
