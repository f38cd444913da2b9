from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lossgap.features.ngram_levels import level_repeats_in_segments
from lossgap.features.repeats import annotate_repeats, find_repeats
from lossgap.features.suffix_automaton import automaton_repeats
from lossgap.rundir import ContextPolicy
from tests.features.make import chunk_of, make_doc, resources


def brute_force(tokens: list[int], lo: list[int]) -> tuple[list[int], list[int]]:
    """Quadratic reference: compare the n-gram ending at i with the one ending at every j < i."""
    lengths, dists = [], []
    for i in range(len(tokens)):
        best, dist = 0, -1
        for j in range(max(lo[i], 0), i):
            k = 0
            while j - k >= lo[i] and tokens[i - k] == tokens[j - k]:
                k += 1
            if k > 0 and k >= best:
                best, dist = k, i - j
        lengths.append(best)
        dists.append(dist)
    return lengths, dists


def test_repeats_hand_worked_whole_document() -> None:
    # positions 1..9 hold a b c a b c d a b (pos 0 is the BOS).
    doc = make_doc(["a", "b", "c", "a", "b", "c", "d", "a", "b"])
    cols = annotate_repeats(chunk_of(doc), resources())
    assert cols["repeat_len"].to_pylist() == [0, 0, 0, 0, 1, 2, 3, 0, 1, 2]
    # pos 8 "a": last "a" at 4; pos 9 "a b": last at 4-5, so 4 back.
    assert cols["repeat_dist"].to_pylist() == [None, None, None, None, 3, 3, 3, None, 4, 4]


def test_repeats_hand_worked_windows() -> None:
    # Same tokens, scored with max_length 6, stride 3: pos 1-5 see from 0, pos 6-8 from 3, pos 9 from 6.
    doc = make_doc(["a", "b", "c", "a", "b", "c", "d", "a", "b"])
    cols = annotate_repeats(chunk_of(doc), resources(repeat_context=ContextPolicy(max_length=6, stride=3)))
    # pos 6 "c": "b c" at 2-3 starts before 3, so only "c" (at 3) counts; pos 8 "a": "a" at 4;
    # pos 9 "b": sees c d a only, no earlier "b".
    assert cols["repeat_len"].to_pylist() == [0, 0, 0, 0, 1, 2, 1, 0, 1, 0]
    assert cols["repeat_dist"].to_pylist() == [None, None, None, None, 3, 3, 3, None, 4, None]


def test_repeats_bos_is_never_part_of_an_ngram() -> None:
    # The BOS id reappearing in the text does not make pos 1 a repeat of pos 0.
    doc = make_doc(["x", "x"], ids=[0, 0])
    assert annotate_repeats(chunk_of(doc), resources())["repeat_len"].to_pylist() == [0, 0, 1]


def test_repeats_overlapping_run() -> None:
    # "a a a a": the n-gram ending at i may overlap its earlier occurrence.
    doc = make_doc(["a"] * 4)
    cols = annotate_repeats(chunk_of(doc), resources())
    assert cols["repeat_len"].to_pylist() == [0, 0, 1, 2, 3]
    assert cols["repeat_dist"].to_pylist() == [None, None, 1, 1, 1]


def test_repeats_documents_do_not_see_each_other() -> None:
    first = make_doc(["a", "b"], doc_id="1")
    second = make_doc(["a", "b"], doc_id="2")
    assert annotate_repeats(chunk_of(first, second), resources())["repeat_len"].to_pylist() == [0, 0, 0, 0, 0, 0]


def reference(docs: list[list[int]], context: ContextPolicy | None) -> tuple[list[int], list[int]]:
    lengths: list[int] = []
    dists: list[int] = []
    for seq in docs:
        lo = [max(s, 1) for s in (context.context_start(len(seq)) if context else [0] * len(seq))]
        got_len, got_dist = brute_force(seq, lo)
        lengths += [0] + got_len[1:]
        dists += [-1] + got_dist[1:]
    return lengths, dists


@settings(max_examples=300, deadline=None)
@given(
    docs=st.lists(st.lists(st.integers(0, 3), min_size=0, max_size=30), min_size=1, max_size=4),
    window=st.one_of(st.none(), st.tuples(st.integers(2, 12), st.integers(1, 11))),
)
def test_repeats_agree_with_brute_force(docs: list[list[int]], window: tuple[int, int] | None) -> None:
    context = None
    if window is not None and window[1] < window[0]:
        context = ContextPolicy(max_length=window[0], stride=window[1])
    seqs = [[99] + body for body in docs]  # a BOS with an id of its own
    offsets = np.cumsum([0] + [len(s) for s in seqs])
    got_len, got_dist = find_repeats(np.array(sum(seqs, [])), offsets, context)
    expected_len, expected_dist = reference(seqs, context)
    assert got_len.tolist() == expected_len
    assert got_dist.tolist() == expected_dist


@settings(max_examples=200, deadline=None)
@given(
    segments=st.lists(
        st.lists(st.integers(0, 2**20), min_size=0, max_size=40).map(lambda xs: [x % 5 if x % 3 else x for x in xs]),
        min_size=1,
        max_size=4,
    )
)
def test_repeats_kernels_agree_with_brute_force(segments: list[list[int]]) -> None:
    # Both kernels, on independent segments, with small and large token ids mixed.
    offsets = np.cumsum([0] + [len(s) for s in segments])
    flat = np.array(sum(segments, []), dtype=np.int64)
    expected_len: list[int] = []
    expected_dist: list[int] = []
    for seq in segments:
        lengths, dists = brute_force(seq, [0] * len(seq))
        expected_len += lengths
        expected_dist += dists
    for kernel in (automaton_repeats, level_repeats_in_segments):
        got_len, got_dist = kernel(flat, offsets[:-1], offsets[1:], offsets[:-1])
        assert got_len.tolist() == expected_len, kernel.__name__
        assert got_dist.tolist() == expected_dist, kernel.__name__
