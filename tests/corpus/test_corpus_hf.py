"""The Hugging Face reader on datasets saved to disk and local data files; no hub access."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

datasets = pytest.importorskip("datasets")

from lossgap.corpus import CorpusConfig, read_corpus  # noqa: E402
from lossgap.errors import CorpusError  # noqa: E402

ROWS = {"id": ["r1", "r2", "r3"], "text": ["First doc.", "", "Third doc."], "domain": ["news", "news", "wiki"]}
EXPECTED = [("r1", "news", "First doc."), ("r3", "wiki", "Third doc.")]


def rows(corpus) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(r["doc_id"], r["domain"], r["text"]) for r in corpus.table.to_pylist()]


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


@pytest.mark.parametrize("streaming", [False, True])
def test_hf_saved_dataset(tmp_path: Path, streaming: bool) -> None:
    datasets.Dataset.from_dict(ROWS).save_to_disk(str(tmp_path / "ds"))
    corpus = read_corpus(tmp_path / "ds", CorpusConfig(format="hf", streaming=streaming))
    assert rows(corpus) == EXPECTED
    assert corpus.skipped == {"empty_text": 1}
    assert corpus.table.column("source").to_pylist() == ["ds/train:0", "ds/train:2"]


def test_hf_saved_dataset_dict_picks_the_split(tmp_path: Path) -> None:
    dd = datasets.DatasetDict({"validation": datasets.Dataset.from_dict(ROWS)})
    dd.save_to_disk(str(tmp_path / "dd"))
    assert rows(read_corpus(tmp_path / "dd", CorpusConfig(format="hf", hf_split="validation"))) == EXPECTED
    with pytest.raises(CorpusError, match=r"no split 'train' \(splits: validation\)"):
        read_corpus(tmp_path / "dd", CorpusConfig(format="hf"))


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_hf_local_file_streaming(tmp_path: Path, suffix: str) -> None:
    ds = datasets.Dataset.from_dict(ROWS)
    path = tmp_path / f"data{suffix}"
    ds.to_json(str(path)) if suffix == ".jsonl" else ds.to_parquet(str(path))
    corpus = read_corpus(path, CorpusConfig(format="hf", streaming=True, max_docs=1))
    assert rows(corpus) == EXPECTED[:1]


def test_hf_text_field_must_exist(tmp_path: Path) -> None:
    datasets.Dataset.from_dict({"content": ["x"]}).save_to_disk(str(tmp_path / "ds"))
    with pytest.raises(CorpusError, match=r"no text field 'text' \(fields: content\)"):
        read_corpus(tmp_path / "ds", CorpusConfig(format="hf"))
    assert read_corpus(tmp_path / "ds", CorpusConfig(format="hf", text_field="content")).n_docs == 1


def test_hf_unloadable_source_is_a_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="cannot load with datasets"):
        read_corpus(str(tmp_path / "no-such-dataset"), CorpusConfig(format="hf"))
