"""Version shims of pitfalls._compat, checked against the library function they stand in for."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pitfalls._compat import _bitwise_count_by_bytes, bitwise_count

_UNSIGNED = st.sampled_from([np.uint8, np.uint16, np.uint32, np.uint64])


@given(hnp.arrays(_UNSIGNED, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5)))
def test_byte_table_popcount_matches_python_bit_count(values):
    counts = _bitwise_count_by_bytes(values)
    expected = np.vectorize(lambda v: int(v).bit_count(), otypes=[np.uint8])(values)
    assert np.shape(counts) == values.shape
    assert np.asarray(counts).dtype == np.uint8
    np.testing.assert_array_equal(counts, expected)


@pytest.mark.skipif(not hasattr(np, "bitwise_count"), reason="numpy < 2.0 has no bitwise_count")
@given(hnp.arrays(st.sampled_from([np.int8, np.int64, np.uint64]), st.integers(0, 20)))
def test_byte_table_popcount_matches_numpy_on_signed_and_unsigned(values):
    np.testing.assert_array_equal(_bitwise_count_by_bytes(values), np.bitwise_count(values))


def test_shim_on_views_scalars_and_errors():
    hashes = np.array([[1, 3], [7, 2**64 - 1]], dtype=np.uint64)
    assert _bitwise_count_by_bytes(hashes.T).tolist() == [[1, 3], [2, 64]]  # not contiguous
    assert _bitwise_count_by_bytes(np.uint64(6)) == 2
    assert _bitwise_count_by_bytes(np.array([-3], dtype=np.int16)).tolist() == [2]  # |-3|
    with pytest.raises(TypeError, match="bitwise_count needs integers; got dtype float64"):
        _bitwise_count_by_bytes(np.array([1.5]))


def test_public_shim_uses_numpy_where_it_exists():
    values = np.array([0, 5, 2**63], dtype=np.uint64)
    assert bitwise_count(values).tolist() == [0, 2, 1]
    if hasattr(np, "bitwise_count"):
        from pitfalls import _compat

        assert _compat._BITWISE_COUNT is np.bitwise_count


class _ErrorWithoutAddNote:
    """Stands in for an exception on Python 3.10, which has no add_note."""


def test_add_note_without_pep_678_fills_notes_in_order():
    from pitfalls._compat import add_note

    error = _ErrorWithoutAddNote()
    add_note(error, "fold 1 of 3")
    add_note(error, "while scoring")
    assert error.__notes__ == ["fold 1 of 3", "while scoring"]


def test_add_note_uses_the_exception_s_own_where_it_exists():
    from pitfalls._compat import add_note

    error = ValueError("boom")
    add_note(error, "fold 2 of 3")
    assert error.__notes__ == ["fold 2 of 3"]
    assert str(error) == "boom"  # the message itself is unchanged
