"""Repeated n-grams: for each token, the longest n-gram ending there that occurred earlier in its visible context.

Reads token ids (flat, documents concatenated) and each token's first visible position; writes `repeat_len`
and `repeat_dist`. Exact (no hashing): n-grams are grouped level by level with numpy sorts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from lossgap.features.batch import Chunk, RepeatContext, Resources

__all__ = ["find_repeats", "visible_from", "annotate_repeats"]


def find_repeats(
    token_ids: np.ndarray, doc_index: np.ndarray, visible_from: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`repeat_len` and `repeat_dist` of every token of a flat sequence of documents.

    token_ids[i], doc_index[i]: the token and its document (documents contiguous, in order); visible_from[i]:
    the flat index of the first token the n-grams may use when judging token i (its context start, never a
    BOS). repeat_len[i] = the largest k such that tokens [i-k+1, i] occur verbatim ending at some j < i with
    j-k+1 >= visible_from[i] (occurrences may overlap); repeat_dist[i] = i - j for the largest such j, and -1
    where repeat_len is 0. Tokens with i < visible_from[i] (the BOS) get 0.

    Level k groups the k-grams that occur at least twice in a document, by sorting (group of the (k-1)-gram
    ending at i-1, token i): only n-grams that repeat survive to the next level, so the work is
    O(n log n · (1 + mean length of the repeated n-grams ending at a token)), linear-like on natural text.
    """
    n = len(token_ids)
    repeat_len = np.zeros(n, dtype=np.int32)
    repeat_dist = np.full(n, -1, dtype=np.int32)
    if n == 0:
        return repeat_len, repeat_dist
    tokens = np.asarray(token_ids, dtype=np.int64)
    docs = np.asarray(doc_index, dtype=np.int64)
    lo = np.asarray(visible_from, dtype=np.int64)
    tokens = tokens - tokens.min()
    base = int(tokens.max()) + 1
    same_doc_next = np.zeros(n, dtype=bool)
    same_doc_next[:-1] = docs[1:] == docs[:-1]

    # Level 1: unigrams keyed by (document, token), for tokens that may be part of an n-gram at all.
    live = np.flatnonzero(np.arange(n) >= lo)
    keys = docs[live] * base + tokens[live]
    k = 1
    while live.size:
        order = np.argsort(keys, kind="stable")  # by key, then position (live is increasing)
        sorted_keys = keys[order]
        positions = live[order]
        same_as_prev = np.zeros(positions.size, dtype=bool)
        same_as_prev[1:] = sorted_keys[1:] == sorted_keys[:-1]
        # The most recent earlier occurrence is the previous entry of the group; it counts if the n-gram
        # there starts inside the context visible from this token.
        hit = np.flatnonzero(same_as_prev)
        here = positions[hit]
        prev = positions[hit - 1]
        ok = prev - (k - 1) >= lo[here]
        repeat_len[here[ok]] = k
        repeat_dist[here[ok]] = (here[ok] - prev[ok]).astype(np.int32)
        # Group ids (dense ranks) and group sizes; only n-grams seen at least twice can extend.
        new_group = np.ones(positions.size, dtype=bool)
        new_group[1:] = ~same_as_prev[1:]
        group = np.cumsum(new_group) - 1
        sizes = np.bincount(group)
        repeated = sizes[group] >= 2
        keep = repeated & same_doc_next[positions]
        grown = positions[keep] + 1
        grown_group = group[keep]
        # The (k+1)-gram ending at i+1 is the k-gram ending at i plus token i+1; restore position order.
        back = np.argsort(grown, kind="stable")
        live = grown[back]
        keys = grown_group[back].astype(np.int64) * base + tokens[live]
        k += 1
    return repeat_len, repeat_dist


def visible_from(n_tokens: int, context: RepeatContext | None) -> np.ndarray:
    """For each position of one document, the first position an n-gram may start at: the model's context
    start (from the scoring windows, or 0 for the whole document), and never the BOS at position 0."""
    if context is None or n_tokens <= context.max_length:
        starts = np.zeros(n_tokens, dtype=np.int64)
    else:
        from lossgap.scoring.windows import plan_windows

        starts = np.zeros(n_tokens, dtype=np.int64)
        for w in plan_windows(n_tokens, context.max_length, context.stride):
            starts[w.score_from : w.end] = w.start
    return np.maximum(starts, 1)


def annotate_repeats(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    """`repeat_len` and `repeat_dist` (null where repeat_len is 0) for a chunk of documents."""
    docs = chunk.docs
    lengths = np.array([d.n_tokens for d in docs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    token_ids = np.concatenate([d.token_ids for d in docs] + [np.zeros(0, np.int64)])
    doc_index = np.repeat(np.arange(len(docs)), lengths)
    lo = np.concatenate(
        [visible_from(d.n_tokens, resources.repeat_context) + offsets[i] for i, d in enumerate(docs)]
        + [np.zeros(0, np.int64)]
    )
    repeat_len, repeat_dist = find_repeats(token_ids, doc_index, lo)
    return {
        "repeat_len": pa.array(repeat_len, pa.int32()),
        "repeat_dist": pa.array(repeat_dist, pa.int32(), mask=repeat_len == 0),
    }
