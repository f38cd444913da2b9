"""The context policy: windows that score every token once with the promised context."""

from hypothesis import given
from hypothesis import strategies as st

from lossgap.rundir import ContextPolicy, Window, visible_segments, widest


def test_windows_hand_worked():
    # 10 tokens, windows of 4, stride 2: [0,4) scores 1..3, [2,6) scores 4..5, [4,8) 6..7, [6,10) 8..9.
    policy = ContextPolicy(max_length=4, stride=2)
    assert policy.windows(10) == [Window(0, 0, 4, 1), Window(0, 2, 6, 4), Window(0, 4, 8, 6), Window(0, 6, 10, 8)]
    assert ContextPolicy(max_length=8, stride=4).windows(3) == [Window(0, 0, 3, 1)]
    assert ContextPolicy(max_length=8, stride=4).windows(1) == []


@given(n=st.integers(0, 300), max_length=st.integers(2, 64), data=st.data())
def test_windows_score_every_token_once_with_enough_context(n, max_length, data):
    stride = data.draw(st.integers(1, max_length - 1))
    scored = []
    for i, w in enumerate(ContextPolicy(max_length=max_length, stride=stride).windows(n)):
        assert w.length <= max_length
        assert w.start <= w.score_from <= w.end
        if i > 0:
            assert w.score_from - w.start >= max_length - stride  # the promised context
        scored.extend(range(w.score_from, w.end))
    assert scored == list(range(1, n))


def test_context_start_matches_windows():
    assert ContextPolicy(max_length=4, stride=2).context_start(10) == [0, 0, 0, 0, 2, 2, 4, 4, 6, 6]


def test_visible_segments_follow_the_windows():
    starts = ContextPolicy(max_length=8, stride=3).context_start(30)
    seen = {}
    for start, end, score_from in visible_segments(30, ContextPolicy(max_length=8, stride=3)):
        for p in range(score_from, end):
            seen[p] = max(start, 1)
    assert seen == {p: max(starts[p], 1) for p in range(1, 30)}
    assert visible_segments(1, None) == [] and visible_segments(5, None) == [(1, 5, 1)]


def test_widest_prefers_whole_documents_then_longer_windows():
    short, long_, long_small_stride = (ContextPolicy(max_length=m, stride=s) for m, s in ((8, 4), (16, 8), (16, 2)))
    assert widest([short, long_, long_small_stride]) == long_small_stride
    assert widest([short, None]) is None and widest([]) is None
