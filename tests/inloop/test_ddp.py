"""The in-loop evaluator under data parallelism: two processes under torchrun (gloo on the CPU) return, on every
rank, the filtered losses one process returns; with 7 documents on 2 ranks and a mask held by one document only
(so one rank has none of its tokens). The Hugging Face callback on each rank: every rank evaluates, the main
process alone logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from transformers import AutoModelForCausalLM

from lossgap.corpus import CorpusConfig, run_corpus
from lossgap.features import AnnotateConfig, run_annotate
from lossgap.inloop import Evaluator, MasksFile, export_masks
from lossgap.rundir import RunDir
from lossgap.scoring import ScoreConfig
from lossgap.scoring.run import run_tokenize
from tests.conftest import TEXTS

MASKS = ("all", "content_nonrepeat", "repeated", "domain = 'python'")


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory, llama_model) -> RunDir:
    """Seven documents (not divisible by two ranks), one of them python: tokenized by the tiny model, annotated."""
    folder = tmp_path_factory.mktemp("ddp")
    corpus = folder / "corpus.jsonl"
    texts = [*TEXTS, TEXTS[0] + " " + TEXTS[3]]
    domains = ["books", "python", "encyclopedia", "books", "science", "html", "books"]
    corpus.write_text("".join(json.dumps({"id": f"doc{i}", "domain": d, "text": t}) + "\n"
                              for i, (t, d) in enumerate(zip(texts, domains, strict=True))))  # fmt: skip
    run = RunDir(folder / "run")
    run_corpus(run, corpus, CorpusConfig())
    run_tokenize(run, ScoreConfig(model=str(llama_model)))
    run_annotate(run, AnnotateConfig())
    return run


def _torchrun(script: str, tmp_path, *args: str) -> list[dict]:
    """Run `script` on two gloo ranks; each writes `rank{r}.json` to the folder given as its first argument. The
    script's end is added here: a barrier, the group destroyed, then `os._exit(0)`, skipping the interpreter's
    teardown, where gloo's threads at times abort a process that has finished its work ("terminate called without
    an active exception", pytorch/pytorch#65237; seen here under load)."""
    path = tmp_path / "script.py"
    ending = "\nimport os as _os\ndist.barrier()\ndist.destroy_process_group()\n_os._exit(0)\n"
    path.write_text(textwrap.dedent(script) + ending)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(path),
        str(out),
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    written = sorted(p.name for p in out.glob("rank*.json"))
    assert proc.returncode == 0, f"exit {proc.returncode}, written {written}:\n{proc.stderr[-4000:]}"
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_two_ranks_return_what_one_process_returns(tmp_path, eval_run, llama_model) -> None:
    masks = export_masks(eval_run, MASKS)
    path = tmp_path / "masks.npz"
    masks.save(path)
    assert len(masks.doc_ids) % 2 == 1  # documents not divisible by the ranks
    alone = Evaluator(MasksFile.load(path))(AutoModelForCausalLM.from_pretrained(llama_model))
    script = """
        import json, sys
        import numpy as np
        import torch.distributed as dist
        from transformers import AutoModelForCausalLM
        from lossgap.inloop import Evaluator
        from lossgap.scoring.distributed import shard_documents
        dist.init_process_group("gloo")
        out, masks, model = sys.argv[1:4]
        evaluator = Evaluator.from_file(masks, batch_tokens=64)
        scored = []  # how many tokens this rank scored
        score_all = evaluator.token_losses
        def token_losses(model, docs=None):
            losses = score_all(model, docs)
            scored.append(int(np.isfinite(losses).sum()))
            return losses
        evaluator.token_losses = token_losses
        got = evaluator(AutoModelForCausalLM.from_pretrained(model))
        got["scored"] = scored[0]
        offsets = evaluator.masks.doc_offsets
        mine = shard_documents(np.diff(offsets), 2)[dist.get_rank()]  # the documents this rank scored
        python = evaluator.masks.token_aligned("domain = 'python'")
        got["has_python"] = bool(any(python[offsets[d]:offsets[d + 1]].any() for d in mine))
        with open(f"{out}/rank{dist.get_rank()}.json", "w") as f:
            json.dump(got, f)
    """
    ranks = _torchrun(script, tmp_path, str(path), str(llama_model))
    for got in ranks:
        for mask in MASKS:
            assert got[f"lossgap/{mask}"] == pytest.approx(alone[f"lossgap/{mask}"], rel=1e-6), mask
    assert sorted(got["has_python"] for got in ranks) == [False, True]  # one rank has none of the mask's tokens
    total = int(masks.token_aligned("all").sum())
    assert ranks[0]["scored"] + ranks[1]["scored"] == total and 0 < ranks[0]["scored"] < total  # each its share


def test_trainer_callback_under_a_process_group_evaluates_on_every_rank_and_logs_on_the_main_one(
    tmp_path, eval_run, llama_model
) -> None:
    """The Hugging Face callback as the Trainer calls it on each rank of a DDP job (the Trainer's own DDP on gloo
    fails in its own gather on this machine, before any callback: transformers 5.25): both ranks evaluate together
    (the evaluator's all-reduce needs both), get the same losses, and only the main process logs them."""
    masks = export_masks(eval_run, MASKS)
    path = tmp_path / "masks.npz"
    masks.save(path)
    script = """
        import json, sys
        import torch.distributed as dist
        from transformers import AutoModelForCausalLM, TrainerControl, TrainerState
        from lossgap.inloop import Evaluator, LossgapTrainerCallback
        dist.init_process_group("gloo")
        out, masks, model_dir = sys.argv[1:4]
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        callback = LossgapTrainerCallback(Evaluator.from_file(masks, batch_tokens=64), every_n_steps=2)
        state = TrainerState(is_world_process_zero=dist.get_rank() == 0)
        for step in (1, 2, 3, 4):
            state.global_step = step
            callback.on_step_end(None, state, TrainerControl(), model=model)
        callback.on_train_end(None, state, TrainerControl(), model=model)
        with open(f"{out}/rank{dist.get_rank()}.json", "w") as f:
            json.dump({"history": callback.history, "logged": state.log_history}, f)
    """
    ranks = _torchrun(script, tmp_path, str(path), str(llama_model))
    assert [step for step, _ in ranks[0]["history"]] == [step for step, _ in ranks[1]["history"]] == [2, 4]
    losses = [
        [{k: v for k, v in metrics.items() if not k.endswith("/seconds")} for _, metrics in r["history"]] for r in ranks
    ]
    assert losses[0] == losses[1]  # the same filtered losses on both ranks
    assert [e["step"] for e in ranks[0]["logged"]] == [2, 4] and ranks[1]["logged"] == []
