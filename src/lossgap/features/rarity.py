"""Rarity: log10 of each token id's count, in the run's own tokens or in a counts file of the user's.

Counted in the run's own tokens, a token's own document is left out: a name used 40 times in one book would
otherwise look frequent, and rarity would partly measure repetition, which the analysis holds fixed
separately. A counts file (e.g. counts over a training corpus) is used as it is.

Reads token ids (and optionally a counts file with columns token_id, count); writes `log_freq`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lossgap.errors import ConfigError
from lossgap.features.records import Chunk, Resources

__all__ = ["ZERO_COUNT", "count_tokens", "read_counts", "log_freq", "annotate_rarity"]

# A token id with no count (absent from the counts file, or counted 0) is given half a count: it ranks
# below every id seen once, and log_freq stays finite (log10(0.5) ≈ -0.301).
ZERO_COUNT = 0.5


def count_tokens(token_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ids (int64) and their counts (float64)."""
    ids, counts = np.unique(np.asarray(token_ids, dtype=np.int64), return_counts=True)
    return ids, counts.astype(np.float64)


def read_counts(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a counts file (.parquet, or .csv with a header) with integer column `token_id` and numeric
    column `count` (≥ 0); an id listed twice has its counts summed. Returns sorted ids and counts."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--counts {path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        elif path.suffix.lower() == ".csv":
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path)
        else:
            raise ConfigError(f"--counts {path}: use a .parquet or .csv file with columns token_id,count")
    except pa.ArrowInvalid as exc:
        raise ConfigError(f"--counts {path}: cannot be read ({exc})") from exc
    missing = [c for c in ("token_id", "count") if c not in table.column_names]
    if missing:
        raise ConfigError(f"--counts {path}: missing column(s) {', '.join(missing)} (need token_id,count)")
    try:
        ids = table.column("token_id").cast(pa.int64())
        counts = table.column("count").cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConfigError(f"--counts {path}: token_id must be integers and count numbers ({exc})") from exc
    if ids.null_count or counts.null_count:
        raise ConfigError(f"--counts {path}: token_id and count must not be empty")
    if len(counts) and pc.min(counts).as_py() < 0:
        raise ConfigError(f"--counts {path}: counts must be >= 0")
    ids_np, counts_np = ids.to_numpy(), counts.to_numpy()
    uniq, inverse = np.unique(ids_np, return_inverse=True)
    return uniq, np.bincount(inverse, weights=counts_np, minlength=uniq.size).astype(np.float64)


def log_freq(token_ids: np.ndarray, count_ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """float64: log10 of each token id's count, ZERO_COUNT for ids without one."""
    token_ids = np.asarray(token_ids, dtype=np.int64)
    where = np.searchsorted(count_ids, token_ids)
    wherec = np.minimum(where, max(count_ids.size - 1, 0))
    found = (
        (where < count_ids.size) & (count_ids[wherec] == token_ids)
        if count_ids.size
        else np.zeros(token_ids.shape, dtype=bool)
    )
    value = np.where(found, counts[wherec] if counts.size else 0.0, 0.0)
    return np.log10(np.maximum(value, ZERO_COUNT))


def _own_counts(token_ids: np.ndarray, special: np.ndarray) -> np.ndarray:
    """For each token, how often its id occurs among the non-special tokens of its own document."""
    uniq, inverse, counts = np.unique(np.where(special, -1, token_ids), return_inverse=True, return_counts=True)
    own = counts[inverse].astype(np.float64)
    own[special] = 0.0
    return own


def annotate_rarity(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    """`log_freq` for a chunk (null for the prefix token and other special tokens); with the run's own counts
    (`resources.leave_document_out`), each document's own occurrences are subtracted from its tokens' counts."""
    values = []
    for doc in chunk.docs:
        ids = np.asarray(doc.token_ids, dtype=np.int64)
        if not resources.leave_document_out:
            values.append(log_freq(ids, resources.count_ids, resources.counts))
            continue
        where = np.clip(np.searchsorted(resources.count_ids, ids), 0, max(resources.count_ids.size - 1, 0))
        found = resources.count_ids.size > 0 and resources.count_ids[where] == ids
        total = np.where(found, resources.counts[where] if resources.counts.size else 0.0, 0.0)
        others = total - _own_counts(ids, doc.is_special)
        values.append(np.log10(np.maximum(others, ZERO_COUNT)))
    special = np.concatenate([d.is_special for d in chunk.docs] + [np.zeros(0, bool)])
    return {"log_freq": pa.array(np.concatenate([*values, np.zeros(0)]), pa.float64(), mask=special)}
