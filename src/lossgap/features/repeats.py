"""Repeated n-grams: for each token, the longest n-gram ending there that occurred earlier in the context the
model saw. Reads token ids and the scoring windows (`rundir.context`); writes `repeat_len` and `repeat_dist`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lossgap.features.records import Chunk, Resources
from lossgap.rundir.context import ContextPolicy, visible_segments

__all__ = ["segment_repeats", "find_repeats", "annotate_repeats"]


def segment_repeats(
    token_ids: np.ndarray, starts: np.ndarray, ends: np.ndarray, score_from: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """repeat_len and repeat_dist (-1 where repeat_len is 0) of every token of `token_ids`, judged within
    segments: segment s spans [starts[s], ends[s]) and judges its tokens [score_from[s], ends[s]). An n-gram
    is repeated if it ended earlier inside the segment (occurrences may overlap); the distance is to its most
    recent such occurrence. Uses the numba suffix automaton, or numpy level grouping without numba."""
    try:
        from lossgap.features.suffix_automaton import automaton_repeats
    except ImportError:  # pragma: no cover - numba missing
        from lossgap.features.ngram_levels import level_repeats_in_segments

        return level_repeats_in_segments(token_ids, starts, ends, score_from)
    return automaton_repeats(token_ids, starts, ends, score_from)


def find_repeats(
    token_ids: np.ndarray, doc_offsets: np.ndarray, context: ContextPolicy | None
) -> tuple[np.ndarray, np.ndarray]:
    """repeat_len and repeat_dist (-1 where repeat_len is 0) of documents concatenated in `token_ids`
    (document d is [doc_offsets[d], doc_offsets[d+1]), its BOS first), each token judged within the context
    the model saw (`context`: scoring windows; None: its whole document).

    repeat_len[i] is the largest k such that tokens [i-k+1, i] occur verbatim ending at some j < i inside
    that context; repeat_dist[i] = i - j for the largest such j."""
    spans = [
        (int(doc_offsets[d]) + start, int(doc_offsets[d]) + end, int(doc_offsets[d]) + score_from)
        for d in range(len(doc_offsets) - 1)
        for start, end, score_from in visible_segments(int(doc_offsets[d + 1] - doc_offsets[d]), context)
    ]
    starts, ends, score_from = np.array(spans, dtype=np.int64).reshape(-1, 3).T
    return segment_repeats(np.asarray(token_ids, dtype=np.int64), starts, ends, score_from)


def annotate_repeats(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    """`repeat_len` and `repeat_dist` (null where repeat_len is 0) for a chunk of documents."""
    lengths = np.array([d.n_tokens for d in chunk.docs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    token_ids = np.concatenate([d.token_ids for d in chunk.docs] + [np.zeros(0, np.int64)])
    repeat_len, repeat_dist = find_repeats(token_ids, offsets, resources.repeat_context)
    return {
        "repeat_len": pa.array(repeat_len, pa.int32()),
        "repeat_dist": pa.array(repeat_dist, pa.int32(), mask=repeat_len == 0),
    }
