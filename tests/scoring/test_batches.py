"""Length-aware batches of windows: within the token budget, similar lengths together."""

from hypothesis import given
from hypothesis import strategies as st

from lossgap.rundir import Window
from lossgap.scoring.batches import plan_batches


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
