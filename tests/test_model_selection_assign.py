"""The shared group-to-bin algorithm behind every splitter (private, tested directly)."""

from __future__ import annotations

import heapq

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pitfalls.model_selection._assign import (
    _distinct_rows,
    _water_fill,
    assign_groups_to_bins,
    group_stratum_counts,
)


@settings(max_examples=60, deadline=None)
@given(
    score=st.lists(st.floats(0, 10), min_size=2, max_size=8),
    step_scale=st.floats(0.01, 3),
    n_items=st.integers(1, 60),
    equal_steps=st.booleans(),
    data=st.data(),
)
def test_water_fill_takes_the_cheapest_slots_like_the_one_at_a_time_greedy(
    score, step_scale, n_items, equal_steps, data
):
    score = np.array(score)
    factors = data.draw(st.lists(st.floats(0.5, 4), min_size=score.size, max_size=score.size))
    step = step_scale * (np.ones(score.size) if equal_steps else np.array(factors))
    counts = _water_fill(score, step, n_items, np.zeros(score.size))
    assert counts.sum() == n_items and (counts >= 0).all()
    # one at a time: always the cheapest next slot
    heap = [(s, i) for i, s in enumerate(score)]
    heapq.heapify(heap)
    greedy_cost = 0.0
    for _ in range(n_items):
        cost, i = heapq.heappop(heap)
        greedy_cost += cost
        heapq.heappush(heap, (cost + step[i], i))
    bulk_cost = float(np.sum(counts * score + step * counts * (counts - 1) / 2))
    np.testing.assert_allclose(bulk_cost, greedy_cost, rtol=1e-9, atol=1e-9)


def test_distinct_rows_matches_numpy_unique_rows():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, size=(500, 3))
    vectors, inverse, multiplicity = _distinct_rows(counts)
    np.testing.assert_array_equal(vectors[inverse], counts)
    reference = np.unique(counts, axis=0)
    assert vectors.shape == reference.shape
    assert multiplicity.sum() == 500
    huge = np.array([[2**40, 0, 2**40], [2**40, 0, 2**40], [1, 2**40, 0]])
    vectors, inverse, multiplicity = _distinct_rows(huge)  # radix overflow: row fallback
    np.testing.assert_array_equal(vectors[inverse], huge)
    assert sorted(multiplicity.tolist()) == [1, 2]


def test_group_stratum_counts_matches_a_crosstab():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 7, 100)
    s = rng.integers(0, 3, 100)
    expected = np.zeros((7, 3), dtype=int)
    np.add.at(expected, (g, s), 1)
    np.testing.assert_array_equal(group_stratum_counts(g, s), expected)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=3, max_size=30),
    weights=st.sampled_from([(0.5, 0.5), (0.7, 0.15, 0.15), (0.25,) * 4, (0.9, 0.1)]),
)
def test_every_bin_gets_a_group_and_sizes_follow_weights(sizes, weights):
    counts = np.array(sizes)[:, None]
    w = np.array(weights)
    if counts.shape[0] < w.size:
        return
    bins = assign_groups_to_bins(counts, w)
    per_bin = np.bincount(bins, weights=counts[:, 0], minlength=w.size)
    assert (np.bincount(bins, minlength=w.size) > 0).all()
    if (w * counts.sum() >= max(sizes)).all():  # else a bin gets a group it has no room for
        assert np.abs(per_bin - w * counts.sum()).max() <= max(sizes)


def test_each_class_held_by_its_own_groups_still_fills_every_bin():
    # every group holds a class of its own: the class cost cannot tell bins apart
    counts = np.eye(3, dtype=int) * 5
    bins = assign_groups_to_bins(counts, np.array([0.7, 0.15, 0.15]))
    assert sorted(bins.tolist()) == [0, 1, 2]
