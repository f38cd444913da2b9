import numpy as np

from lossgap.scoring.distributed import shard_documents


def test_shard_documents_hand_worked():
    # Longest first to the least-loaded rank: 9->r0, 7->r1, 5->r1 (7<9), 3->r0 (9<12), 1->r0 (12=12, lower rank).
    shards = shard_documents(np.array([5, 9, 1, 7, 3]), 2)
    assert [s.tolist() for s in shards] == [[1, 2, 4], [0, 3]]


def test_shard_documents_partitions_and_balances():
    rng = np.random.default_rng(0)
    lengths = rng.lognormal(5, 1.5, size=1000).astype(int) + 2
    shards = shard_documents(lengths, 4)
    assert sorted(np.concatenate(shards).tolist()) == list(range(1000))
    loads = [lengths[s].sum() for s in shards]
    assert max(loads) - min(loads) <= lengths.max()  # LPT: imbalance at most one document
    assert all((a == b).all() for a, b in zip(shards, shard_documents(lengths, 4), strict=True))
