"""Reading raw records from a Parquet file, one row per document, in batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lossgap.corpus.config import CorpusConfig
from lossgap.corpus.fields import id_column, record_domain, record_id
from lossgap.corpus.table import RawDoc
from lossgap.errors import CorpusError

__all__ = ["iter_parquet"]


def _decode(value: object) -> tuple[object, bool]:
    """Binary cells are decoded as UTF-8 (invalid bytes replaced and flagged); others pass through."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8"), False
        except UnicodeDecodeError:
            return value.decode("utf-8", errors="replace"), True
    return value, False


def iter_parquet(path: Path, config: CorpusConfig) -> Iterator[RawDoc]:
    """Yield one RawDoc per row; the text column must exist (error naming the columns there are)."""
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise CorpusError(f"{path}: not a readable Parquet file ({exc})") from None
    columns = pf.schema_arrow.names
    if config.text_field not in columns:
        raise CorpusError(
            f"{path}: no text column {config.text_field!r} (columns: {', '.join(columns)}); pass --text-field"
        )
    id_col = id_column(columns, config, str(path))
    domain_col = config.domain_field if config.domain_field in columns else None
    wanted = [c for c in (config.text_field, id_col, domain_col) if c is not None]
    row = 0
    try:
        for batch in pf.iter_batches(columns=wanted, batch_size=4096):
            data = batch.to_pydict()
            for i in range(batch.num_rows):
                row += 1
                row_dict = {name: data[name][i] for name in wanted}
                text, invalid = _decode(row_dict.pop(config.text_field))
                where = f"{path}: row {row}"
                yield RawDoc(
                    text=text,
                    location=f"{path.name}:row{row}",
                    doc_id=record_id(row_dict, config, where),
                    domain=record_domain(row_dict, config, where),
                    invalid_utf8=invalid,
                )
    except pa.ArrowException as exc:
        raise CorpusError(f"{path}: cannot read row {row + 1} ({exc})") from None
