"""The in-loop evaluator: the masks file round-trips and is aligned as documented (a hand-made example), and the
losses it logs inside a training loop (a plain loop and the Hugging Face Trainer) equal `lossgap score` +
`lossgap curves` on the saved weights."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import torch

from lossgap.analysis import CurvesConfig, Series, run_curves
from lossgap.corpus import CorpusConfig, run_corpus
from lossgap.errors import ConfigError
from lossgap.features import AnnotateConfig, run_annotate
from lossgap.inloop import Evaluator, LossgapTrainerCallback, MasksFile, export_masks
from lossgap.rundir import FEATURES_SCHEMA, RunDir
from lossgap.scoring import ScoreConfig, run_score
from tests.conftest import TEXTS

MASKS = ("all", "content_nonrepeat", "repeated", "close_bracket")


def _hand_run(tmp_path) -> RunDir:
    """Two documents of 4 and 3 tokens (prefix token at pos 0); only token 2 of 'a' and token 1 of 'b' are NOUNs."""
    run = RunDir(tmp_path / "run")
    run.write("tokens", pa.table({"doc_id": ["a"] * 4 + ["b"] * 3, "pos": pa.array([0, 1, 2, 3, 0, 1, 2], pa.int32()),
                                  "token_id": pa.array([9, 5, 6, 7, 9, 8, 5], pa.int32()),
                                  "char_start": pa.array([-1, 0, 1, 2, -1, 0, 1], pa.int32()),
                                  "char_end": pa.array([-1, 1, 2, 3, -1, 1, 2], pa.int32())}))  # fmt: skip
    rows = {f.name: [None] * 7 for f in FEATURES_SCHEMA}
    rows.update(doc_id=["a"] * 4 + ["b"] * 3, pos=[0, 1, 2, 3, 0, 1, 2], domain=["books"] * 7, repeat_len=[0] * 7,
                upos=[None, "DET", "NOUN", "VERB", None, "NOUN", "ADP"])  # fmt: skip
    with run.features_writer() as writer:
        writer.write(pa.table(rows, schema=FEATURES_SCHEMA))
    return run


@pytest.mark.parametrize("align", ["token", "input"])
def test_masks_file_round_trips_and_a_one_token_mask_selects_exactly_its_tokens(tmp_path, align) -> None:
    run = _hand_run(tmp_path)
    exported = export_masks(run, ("upos = 'NOUN'", "all"), align=align)
    path = exported.save(tmp_path / "m.npz")
    loaded = MasksFile.load(path)
    assert loaded.doc_ids == ("a", "b") and loaded.doc_offsets.tolist() == [0, 4, 7]
    assert loaded.token_ids.tolist() == [9, 5, 6, 7, 9, 8, 5] and loaded.align == align
    noun = loaded.masks["upos = 'NOUN'"]
    if align == "token":  # the loss of token i is what mask[i] selects: tokens a:2 and b:1
        assert noun.tolist() == [False, False, True, False, False, True, False]
    else:  # the loss computed at input position i predicts token i + 1
        assert noun.tolist() == [False, True, False, False, True, False, False]
    assert loaded.token_aligned("upos = 'NOUN'").tolist() == [False, False, True, False, False, True, False]
    assert loaded.token_aligned("all").tolist() == [False, True, True, True, False, True, True]  # no prefix token
    assert loaded.meta["conditions"]["upos = 'NOUN'"] == "upos = 'NOUN'"


def test_masks_file_errors_are_clear(tmp_path) -> None:
    run = _hand_run(tmp_path)
    with pytest.raises(ConfigError, match="selects no"):
        export_masks(run, ("upos = 'INTJ'",))
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ConfigError, match="not a lossgap masks file"):
        MasksFile.load(tmp_path / "bad.npz")


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory, llama_model):
    """An evaluation run: the test corpus, tokenized by the tiny model's tokenizer, annotated."""
    import json

    folder = tmp_path_factory.mktemp("eval")
    corpus = folder / "corpus.jsonl"
    domains = ["books", "python", "encyclopedia", "books", "science", "html"]
    corpus.write_text("".join(json.dumps({"id": f"doc{i}", "domain": d, "text": t}) + "\n"
                              for i, (t, d) in enumerate(zip(TEXTS, domains, strict=True))))  # fmt: skip
    run = RunDir(folder / "run")
    run_corpus(run, corpus, CorpusConfig())
    run_score(run, ScoreConfig(model=str(llama_model), name="init@step0"))
    run_annotate(run, AnnotateConfig())
    return run


def _offline(run: RunDir, folder, name: str, tokenizer_from) -> dict[str, float]:
    """`lossgap score` + `lossgap curves` on saved weights: each mask's mean loss."""
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(folder)
    run_score(run, ScoreConfig(model=str(folder), name=name))
    curves = run_curves(run, CurvesConfig(series=(Series(label=name.split("@")[0], names=(name,)),), masks=MASKS,
                                          min_eff_docs=2)).curves  # fmt: skip
    return dict(zip(curves["mask"], curves["mean_loss"], strict=True))


def test_plain_loop_filtered_losses_equal_lossgap_offline(tmp_path, eval_run, llama_model) -> None:
    from transformers import AutoModelForCausalLM

    evaluator = Evaluator(export_masks(eval_run, MASKS))
    model = AutoModelForCausalLM.from_pretrained(llama_model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = torch.from_numpy(evaluator.masks.documents()[0].astype(np.int64))[None]
    logged = []
    for _ in range(3):  # a plain loop: train, and evaluate every step
        model.train()
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        logged.append(evaluator(model))
    assert model.training  # the evaluator put the model back as it found it
    model.save_pretrained(tmp_path / "plain")
    offline = _offline(eval_run, tmp_path / "plain", "plain@step3", llama_model)
    for mask in MASKS:
        assert logged[-1][f"lossgap/{mask}"] == pytest.approx(offline[mask], rel=1e-6), mask
    assert logged[0]["lossgap/all"] != logged[-1]["lossgap/all"]  # training moved the losses


def test_trainer_callback_logs_filtered_losses_equal_to_lossgap_offline(tmp_path, eval_run, llama_model) -> None:
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    evaluator = Evaluator(export_masks(eval_run, MASKS))
    docs = [d.astype(np.int64) for d in evaluator.masks.documents()]
    train = [{"input_ids": torch.from_numpy(d[:12]), "labels": torch.from_numpy(d[:12])} for d in docs if len(d) >= 12]
    model = AutoModelForCausalLM.from_pretrained(llama_model)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=4, per_device_train_batch_size=2, learning_rate=1e-3,
                             logging_steps=1, save_strategy="no", report_to=[], use_cpu=True)  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=train)
    callback = LossgapTrainerCallback(evaluator, every_n_steps=2, trainer=trainer)
    trainer.add_callback(callback)
    trainer.train()
    assert [step for step, _ in callback.history] == [2, 4]
    logged = [entry for entry in trainer.state.log_history if "lossgap/all" in entry]
    assert [entry["step"] for entry in logged] == [2, 4]  # through trainer.log, beside the training loss
    trainer.save_model(str(tmp_path / "trained"))
    offline = _offline(eval_run, tmp_path / "trained", "trained@step4", llama_model)
    for mask in MASKS:
        assert callback.history[-1][1][f"lossgap/{mask}"] == pytest.approx(offline[mask], rel=1e-6), mask


def test_tokenize_alone_writes_the_tokens_scoring_later_finds(tmp_path, eval_run, llama_model) -> None:
    """`lossgap tokenize` before any model (what masks need before training): the same tokens and fingerprint
    as scoring writes, and scoring afterwards accepts them."""
    from lossgap.scoring import run_tokenize

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    for name in ("corpus.parquet", "run.json"):
        (run.path / name).write_bytes((eval_run.path / name).read_bytes())
    manifest = json.loads((run.path / "run.json").read_text())
    manifest.pop("tokenizer", None)
    manifest["models"] = {}
    (run.path / "run.json").write_text(json.dumps(manifest))
    n = run_tokenize(run, ScoreConfig(model=str(llama_model)))
    want = eval_run.read("tokens", ["doc_id", "pos", "token_id"])
    assert n == want.num_rows and run.read("tokens", ["doc_id", "pos", "token_id"]).equals(want)
    assert run.manifest().tokenizer.fingerprint == eval_run.manifest().tokenizer.fingerprint
    run_score(run, ScoreConfig(model=str(llama_model), name="init@step0"))  # checks the tokens, then scores
    assert run.read_scores("init@step0").num_rows == want.num_rows - len(set(want.column("doc_id").to_pylist()))


def test_training_curves_table_from_evaluator_logs(tmp_path, eval_run) -> None:
    """Hand-made logs: training-loss lines skipped, PREFIX/seconds not a mask, branches kept apart, series in
    the order given, and the table read back through the run's results registry."""
    from lossgap.inloop import training_frame, write_training_curves

    log = tmp_path / "hybrid.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in [
        {"step": 1, "loss": 9.0, "lr": 0.1},
        {"step": 10, "lossgap/all": 4.0, "lossgap/repeated": 3.0, "lossgap/seconds": 0.5},
        {"step": 13, "lossgap/all": 3.5, "lossgap/repeated": 2.5, "branch": 10},
    ]) + "\n")  # fmt: skip
    logs = {"transformer": [{"step": 10, "lossgap/all": 5.0}], "hybrid": log}
    frame = training_frame(logs)
    assert frame.to_dict("records") == [
        {"series": "transformer", "step": 10, "branch": None, "mask": "all", "mean_loss": 5.0},
        {"series": "hybrid", "step": 10, "branch": None, "mask": "all", "mean_loss": 4.0},
        {"series": "hybrid", "step": 13, "branch": 10, "mask": "all", "mean_loss": 3.5},
        {"series": "hybrid", "step": 10, "branch": None, "mask": "repeated", "mean_loss": 3.0},
        {"series": "hybrid", "step": 13, "branch": 10, "mask": "repeated", "mean_loss": 2.5},
    ]
    run = RunDir(tmp_path / "run")
    write_training_curves(run, logs)
    back = run.read_results("training.csv")
    assert back["mean_loss"].tolist() == frame["mean_loss"].tolist() and back["branch"].isna().sum() == 3
    with pytest.raises(ConfigError, match="no record holds"):
        training_frame({"x": [{"step": 1, "loss": 2.0}]})
