"""Repeated n-grams by exact level-by-level grouping in numpy: the fallback kernel where numba is missing.

Reads a token array cut into independent segments; returns repeat lengths and distances like the automaton.
"""

from __future__ import annotations

import numpy as np

__all__ = ["level_repeats", "level_repeats_in_segments"]


def level_repeats(tokens: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """repeat_len and repeat_dist (-1 where repeat_len is 0); segments [offsets[s], offsets[s+1]) are
    independent.

    Level k groups the k-grams that occur at least twice in a segment by a stable sort on (group of the
    (k-1)-gram ending at i-1, token i); the most recent earlier occurrence is the previous member of the
    group. Only repeated n-grams survive to the next level, so the work is O(n log n · (1 + mean length of
    the repeated n-grams a token is part of)): fast on prose, slow on long verbatim copies."""
    n = len(tokens)
    repeat_len = np.zeros(n, dtype=np.int32)
    repeat_dist = np.full(n, -1, dtype=np.int32)
    if n == 0:
        return repeat_len, repeat_dist
    values = np.asarray(tokens, dtype=np.int64)
    values = values - values.min()
    base = int(values.max()) + 1
    offsets = np.asarray(offsets, dtype=np.int64)
    segment = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    continues = np.zeros(n, dtype=bool)  # token i+1 is in the same segment as token i
    continues[:-1] = segment[1:] == segment[:-1]

    order = np.argsort(segment * base + values, kind="stable")
    positions = order  # level 1: every token, sorted by (segment, token, position)
    sorted_keys = (segment * base + values)[order]
    k = 1
    while positions.size:
        same_as_prev = np.zeros(positions.size, dtype=bool)
        same_as_prev[1:] = sorted_keys[1:] == sorted_keys[:-1]
        hit = np.flatnonzero(same_as_prev)
        repeat_len[positions[hit]] = k
        repeat_dist[positions[hit]] = positions[hit] - positions[hit - 1]
        group = np.cumsum(~same_as_prev) - 1
        repeated = np.bincount(group)[group] >= 2
        keep = repeated & continues[positions]
        # Survivors stay in (group, position) order; a stable sort on the new key keeps positions ascending.
        grown = positions[keep] + 1
        keys = group[keep].astype(np.int64) * base + values[grown]
        order = np.argsort(keys, kind="stable")
        positions = grown[order]
        sorted_keys = keys[order]
        k += 1
    return repeat_len, repeat_dist


def level_repeats_in_segments(
    tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray, score_from: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The segment interface of `automaton_repeats`: overlapping segments are copied out and judged apart."""
    tokens = np.asarray(tokens, dtype=np.int64)
    repeat_len = np.zeros(tokens.size, dtype=np.int32)
    repeat_dist = np.full(tokens.size, -1, dtype=np.int32)
    spans = [np.arange(a, b) for a, b in zip(np.asarray(starts).tolist(), np.asarray(ends).tolist(), strict=True)]
    if not spans:
        return repeat_len, repeat_dist
    offsets = np.concatenate([[0], np.cumsum([s.size for s in spans])])
    gathered = np.concatenate(spans)
    seg_len, seg_dist = level_repeats(tokens[gathered], offsets)
    kept = np.concatenate(
        [
            np.arange(offsets[s] + f - a, offsets[s + 1])
            for s, (a, f) in enumerate(zip(np.asarray(starts).tolist(), np.asarray(score_from).tolist(), strict=True))
        ]
    )
    repeat_len[gathered[kept]] = seg_len[kept]
    repeat_dist[gathered[kept]] = seg_dist[kept]
    return repeat_len, repeat_dist
