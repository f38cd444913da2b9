from hypothesis import given
from hypothesis import strategies as st

from lossgap.scoring.windows import Window, context_start, plan_batches, plan_windows


def test_plan_windows_hand_worked():
    # 10 tokens, windows of 4, stride 2: [0,4) scores 1..3, [2,6) scores 4..5, [4,8) 6..7, [6,10) 8..9.
    assert plan_windows(10, 4, 2) == [Window(0, 0, 4, 1), Window(0, 2, 6, 4), Window(0, 4, 8, 6), Window(0, 6, 10, 8)]
    assert plan_windows(3, 8, 4) == [Window(0, 0, 3, 1)]
    assert plan_windows(1, 8, 4) == []


@given(n=st.integers(0, 300), max_length=st.integers(2, 64), data=st.data())
def test_plan_windows_scores_every_token_once_with_enough_context(n, max_length, data):
    stride = data.draw(st.integers(1, max_length - 1))
    scored = []
    for i, w in enumerate(plan_windows(n, max_length, stride)):
        assert w.length <= max_length
        assert w.start <= w.score_from <= w.end
        if i > 0:
            assert w.score_from - w.start >= max_length - stride  # the promised context
        scored.extend(range(w.score_from, w.end))
    assert scored == list(range(1, n))


def test_context_start_matches_windows():
    assert context_start(10, 4, 2) == [0, 0, 0, 0, 2, 2, 4, 4, 6, 6]


@given(lengths=st.lists(st.integers(2, 50), min_size=1, max_size=40), budget=st.integers(1, 400))
def test_plan_batches_keeps_every_window_within_budget(lengths, budget):
    windows = [Window(d, 0, n, 1) for d, n in enumerate(lengths)]
    batches = plan_batches(windows, budget)
    assert sorted(w for b in batches for w in b.windows) == sorted(windows)
    for b in batches:
        assert b.width == max(w.length for w in b.windows)
        assert b.padded_tokens <= budget or len(b.windows) == 1


def test_plan_batches_groups_similar_lengths():
    windows = [Window(d, 0, n, 1) for d, n in enumerate([100, 10, 98, 11, 99, 12])]
    batches = plan_batches(windows, 300)
    assert [sorted(w.length for w in b.windows) for b in batches] == [[98, 99, 100], [10, 11, 12]]
    assert sum(b.padded_tokens - b.real_tokens for b in batches) == 2 + 1 + 1 + 2
