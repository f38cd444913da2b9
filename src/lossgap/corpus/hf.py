"""Reading raw records from a Hugging Face `datasets` dataset: a hub name, a folder saved with
`save_to_disk`, or local data files (json/jsonl/parquet/csv/txt), optionally streamed."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from lossgap.corpus.config import CorpusConfig
from lossgap.corpus.fields import id_column
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
            raise CorpusError(f"{source}: cannot load a {path.suffix!r} file with datasets (use {', '.join(_BUILDERS)})")
        return datasets.load_dataset(builder, data_files=str(path), split=split, streaming=config.streaming)
    return datasets.load_dataset(source, config.hf_config, split=split, streaming=config.streaming)


def iter_hf(source: str, config: CorpusConfig) -> Iterator[RawDoc]:
    """Yield one RawDoc per example; the text field must be among the dataset's columns."""
    try:
        ds = _load(source, config)
        columns = list(ds.column_names or []) if ds.column_names is not None else None
    except CorpusError:
        raise
    except Exception as exc:  # datasets raises many types (FileNotFoundError, ValueError, its own errors)
        raise CorpusError(
            f"{source}: cannot load with datasets (config={config.hf_config!r}, split={config.hf_split!r}): "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if columns is not None and config.text_field not in columns:
        raise CorpusError(f"{source}: no text field {config.text_field!r} (fields: {', '.join(columns)}); pass --text-field")
    id_col = id_column(columns, config, source) if columns is not None else config.id_field
    name = Path(source).name or source
    try:
        for i, example in enumerate(ds):
            doc_id = example.get(id_col) if id_col else None
            domain = example.get(config.domain_field)
            if doc_id is not None and (isinstance(doc_id, bool) or not isinstance(doc_id, (str, int))):
                raise CorpusError(f"{source}: example {i}: id field {id_col!r} holds {type(doc_id).__name__}")
            if domain is not None and not isinstance(domain, str):
                raise CorpusError(f"{source}: example {i}: domain field holds {type(domain).__name__}")
            yield RawDoc(
                text=example.get(config.text_field),
                location=f"{name}/{config.hf_split}:{i}",
                doc_id=str(doc_id) if doc_id is not None else None,
                domain=domain,
            )
    except CorpusError:
        raise
    except Exception as exc:  # a streamed dataset fails while iterating (a bad shard, a lost connection)
        raise CorpusError(f"{source}: failed while reading examples: {type(exc).__name__}: {exc}") from None
