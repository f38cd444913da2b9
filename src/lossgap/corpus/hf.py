"""Reading raw records from a Hugging Face `datasets` dataset: a hub name, a folder saved with
`save_to_disk`, or local data files (json/jsonl/parquet/csv/txt), optionally streamed."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from lossgap.corpus.config import CorpusConfig
from lossgap.corpus.fields import id_column, record_domain, record_id
from lossgap.corpus.table import RawDoc
from lossgap.errors import CorpusError

__all__ = ["iter_hf"]

log = logging.getLogger(__name__)

_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv", ".txt": "text"}


def _load(source: str, config: CorpusConfig) -> Iterable[dict[str, object]]:
    import datasets  # heavy; only when this reader is used

    path = Path(source)
    split = config.hf_split
    if path.is_dir() and ((path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()):
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise CorpusError(f"{source}: no split {split!r} (splits: {', '.join(ds)}); pass --hf-split")
            ds = ds[split]
        return ds.to_iterable_dataset() if config.streaming else ds
    if path.is_file():
        builder = _BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise CorpusError(
                f"{source}: cannot load a {path.suffix!r} file with datasets (use {', '.join(_BUILDERS)})"
            )
        return datasets.load_dataset(builder, data_files=str(path), split=split, streaming=config.streaming)
    return datasets.load_dataset(source, config.hf_config, split=split, streaming=config.streaming)


def iter_hf(source: str, config: CorpusConfig) -> Iterator[RawDoc]:
    """Yield one RawDoc per example; the text field must be among the dataset's columns."""
    try:
        ds = _load(source, config)
        columns: list[str] | None = ds.column_names  # None for some streamed datasets
    except CorpusError:
        raise
    except Exception as exc:  # datasets raises many types (FileNotFoundError, ValueError, its own errors)
        raise CorpusError(
            f"{source}: cannot load with datasets (config={config.hf_config!r}, split={config.hf_split!r}): "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if columns is not None and config.text_field not in columns:
        raise CorpusError(
            f"{source}: no text field {config.text_field!r} (fields: {', '.join(columns)}); pass --text-field"
        )
    if columns is not None:
        id_column(columns, config, source)  # a requested id field that the dataset lacks is an error
    name = Path(source).name or source
    try:
        for i, example in enumerate(ds):
            where = f"{source}: example {i}"
            yield RawDoc(
                text=example.get(config.text_field),
                location=f"{name}/{config.hf_split}:{i}",
                doc_id=record_id(example, config, where),
                domain=record_domain(example, config, where),
            )
    except CorpusError:
        raise
    except Exception as exc:  # a streamed dataset fails while iterating (a bad shard, a lost connection)
        raise CorpusError(f"{source}: failed while reading examples: {type(exc).__name__}: {exc}") from None
