"""Repeated n-grams with an online suffix automaton, compiled with numba (the default kernel).

Reads a token array cut into independent segments; returns per token the length of the longest n-gram ending
there that occurred earlier in its segment, and the distance back to its most recent earlier occurrence.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["automaton_repeats"]


@njit(cache=True, nogil=True)
def _slot(keys: np.ndarray, stamp: np.ndarray, generation: int, mask: np.int64, key: np.int64) -> int:
    """Open-addressing slot of `key` in slots [0, mask]: where it is, or the empty slot where it would go."""
    i = ((key * np.int64(0x5851F42D4C957F2D)) >> np.int64(24)) & mask  # multiplicative hash, wraps in int64
    while stamp[i] == generation and keys[i] != key:
        i = (i + 1) & mask
    return i


@njit(cache=True, nogil=True)
def _segment(
    tokens: np.ndarray,
    score_from: int,
    base: np.int64,
    generation: int,
    keys: np.ndarray,
    stamp: np.ndarray,
    slot_edge: np.ndarray,
    length: np.ndarray,
    link: np.ndarray,
    last_end: np.ndarray,
    first_edge: np.ndarray,
    edge_next: np.ndarray,
    edge_token: np.ndarray,
    edge_target: np.ndarray,
    out_len: np.ndarray,
    out_dist: np.ndarray,
) -> None:
    # States 0..n_states-1; state 0 is the root (the empty string). Edges are listed per state for cloning
    # and found by the hash table keyed by state*base + token, sized to this segment (cache-friendly).
    # Outputs are written for tokens [score_from, len(tokens)) only.
    capacity = 1
    while capacity < 2 * (3 * tokens.size + 1):  # at most 3 edges per token: load factor <= 1/2
        capacity *= 2
    mask = np.int64(capacity - 1)
    n_states = 1
    n_edges = 0
    length[0] = 0
    link[0] = -1
    last_end[0] = -1
    first_edge[0] = -1
    last = 0
    for i in range(tokens.size):
        c = tokens[i]
        cur = n_states
        n_states += 1
        length[cur] = length[last] + 1
        first_edge[cur] = -1
        last_end[cur] = -1
        p = last
        q = -1
        while p != -1:
            s = _slot(keys, stamp, generation, mask, p * base + c)
            if stamp[s] == generation:
                q = edge_target[slot_edge[s]]
                break
            stamp[s] = generation
            keys[s] = p * base + c
            slot_edge[s] = n_edges
            edge_token[n_edges] = c
            edge_target[n_edges] = cur
            edge_next[n_edges] = first_edge[p]
            first_edge[p] = n_edges
            n_edges += 1
            p = link[p]
        if p == -1:
            link[cur] = 0
        elif length[p] + 1 == length[q]:
            link[cur] = q
        else:
            clone = n_states
            n_states += 1
            length[clone] = length[p] + 1
            link[clone] = link[q]
            last_end[clone] = last_end[q]  # same occurrences as q, before position i
            first_edge[clone] = -1
            e = first_edge[q]
            while e != -1:
                s = _slot(keys, stamp, generation, mask, clone * base + edge_token[e])
                stamp[s] = generation
                keys[s] = clone * base + edge_token[e]
                slot_edge[s] = n_edges
                edge_token[n_edges] = edge_token[e]
                edge_target[n_edges] = edge_target[e]
                edge_next[n_edges] = first_edge[clone]
                first_edge[clone] = n_edges
                n_edges += 1
                e = edge_next[e]
            while p != -1:
                s = _slot(keys, stamp, generation, mask, p * base + c)
                if stamp[s] != generation or edge_target[slot_edge[s]] != q:
                    break
                edge_target[slot_edge[s]] = clone
                p = link[p]
            link[q] = clone
            link[cur] = clone
        last = cur
        # link[cur] holds the longest suffix ending at i that also ended earlier: that is the repeat.
        u = link[cur]
        if i < score_from:
            pass
        elif u > 0:
            out_len[i] = length[u]
            out_dist[i] = i - last_end[u]
        else:
            out_len[i] = 0
            out_dist[i] = -1
        # Position i is now an end of every state on the suffix path from cur: O(repeat length) steps.
        v = cur
        while v > 0:
            last_end[v] = i
            v = link[v]


@njit(cache=True, nogil=True)
def _all_segments(
    tokens: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    score_from: np.ndarray,
    out_len: np.ndarray,
    out_dist: np.ndarray,
) -> None:
    longest = 1
    for s in range(starts.size):
        longest = max(longest, ends[s] - starts[s])
    capacity = 1
    while capacity < 2 * (3 * longest + 1):
        capacity *= 2
    keys = np.zeros(capacity, dtype=np.int64)
    stamp = np.full(capacity, -1, dtype=np.int64)  # slot in use iff stamp == the segment's number
    slot_edge = np.zeros(capacity, dtype=np.int32)
    n_max_states = 2 * longest + 2
    length = np.zeros(n_max_states, dtype=np.int64)
    link = np.zeros(n_max_states, dtype=np.int64)
    last_end = np.zeros(n_max_states, dtype=np.int64)
    first_edge = np.zeros(n_max_states, dtype=np.int64)
    n_max_edges = 3 * longest + 3
    edge_next = np.zeros(n_max_edges, dtype=np.int64)
    edge_token = np.zeros(n_max_edges, dtype=np.int64)
    edge_target = np.zeros(n_max_edges, dtype=np.int64)
    base = np.int64(1)
    for i in range(tokens.size):
        base = max(base, tokens[i] + 1)
    for s in range(starts.size):
        a, b = starts[s], ends[s]
        if b > a:
            _segment(
                tokens[a:b], score_from[s] - a, base, s, keys, stamp, slot_edge, length, link, last_end, first_edge,
                edge_next, edge_token, edge_target, out_len[a:b], out_dist[a:b],
            )  # fmt: skip


def automaton_repeats(
    tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray, score_from: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """repeat_len and repeat_dist (-1 where repeat_len is 0) of every token: segment s spans tokens
    [starts[s], ends[s]) and judges its tokens [score_from[s], ends[s]) within itself; segments may overlap
    (scoring windows) but their judged ranges must not. Tokens no segment judges get 0 and -1.

    Linear in the segments' tokens plus the sum of repeat lengths (the walk that records each token as the
    latest occurrence of its repeated suffixes)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    tokens = tokens - tokens.min() if tokens.size else tokens
    out_len = np.zeros(tokens.size, dtype=np.int64)
    out_dist = np.full(tokens.size, -1, dtype=np.int64)
    as_int = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    _all_segments(tokens, as_int(starts), as_int(ends), as_int(score_from), out_len, out_dist)
    return out_len.astype(np.int32), out_dist.astype(np.int32)
