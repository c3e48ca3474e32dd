"""All pairs of 64-bit hashes within a Hamming distance, vectorised.

Three strategies, all exact (no pair within the threshold is ever missed):

- **chunk probing** (thresholds 9 to 11, the default 10 included): split the 64 bits
  into four 16-bit chunks. Two hashes within ``threshold`` bits are within
  ``threshold // 4`` bits on at least one chunk (pigeonhole), so each hash of
  ``b`` probes, per chunk, every 16-bit value that close to its own (137 values
  for a radius of 2) in a direct-address index of ``a``'s chunk values; the few
  candidates are confirmed with XOR + popcount;
- **multi-index hashing** (thresholds up to 8, and 12 to 15): split the 64 bits into
  ``threshold + 1`` disjoint chunks. Two hashes within ``threshold`` bits agree
  exactly on at least one chunk, so only pairs sharing a chunk value are
  compared, bucket by bucket;
- **blocked brute force** (larger thresholds): XOR + ``np.bitwise_count`` over
  blocks of rows, memory bounded by ``block_elements``.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["hamming_pairs"]

_BLOCK_ELEMENTS = 1 << 22  # 4M uint64 per block: 32 MiB


def hamming_pairs(
    a: np.ndarray, b: np.ndarray, threshold: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` with ``popcount(a[i] ^ b[j]) <= threshold``.

    Parameters
    ----------
    a, b : array-like of uint64
        Hashes of two sets (e.g. training and test images).
    threshold : int
        Largest Hamming distance reported, between 0 and 64.

    Returns
    -------
    i, j : ndarray of int64
        Positions in ``a`` and ``b``, sorted by ``i`` then ``j``.
    distance : ndarray of uint8
        Hamming distance of each pair.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.audit import hamming_pairs
    >>> a = np.array([0b1111, 0, 2**63], dtype=np.uint64)
    >>> b = np.array([0b0111, 2**64 - 1], dtype=np.uint64)
    >>> [x.tolist() for x in hamming_pairs(a, b, 3)]
    [[0, 1], [0, 0], [1, 3]]
    """
    a = np.ascontiguousarray(a, dtype=np.uint64)
    b = np.ascontiguousarray(b, dtype=np.uint64)
    if not 0 <= threshold <= 64:
        raise ValueError(f"threshold={threshold} must be between 0 and 64.")
    empty = np.empty(0, np.int64)
    if a.size == 0 or b.size == 0:
        return empty, empty.copy(), np.empty(0, np.uint8)
    # Measured on 100k x 20k hashes: multi-index is faster up to 8 bits, probing
    # from 9 to 11; past 15 neither beats the dense scan.
    if 9 <= threshold <= 11:
        i, j = _chunk_probe(a, b, threshold)
    elif threshold < 16:
        i, j = _multi_index(a, b, threshold)
    else:
        i, j = _brute_force(a, b, threshold)
    order = np.lexsort((j, i))
    i, j = i[order], j[order]
    return i, j, np.bitwise_count(a[i] ^ b[j]).astype(np.uint8)


_CHUNK_BITS = 16
_PROBE_BLOCK = 1 << 21  # probes per vectorised step


def _chunk_probe(a: np.ndarray, b: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    n_chunks = 64 // _CHUNK_BITS
    radius = threshold // n_chunks
    values = np.arange(1 << _CHUNK_BITS, dtype=np.uint64)
    masks = values[np.bitwise_count(values) <= radius]
    chunk_mask = np.uint64((1 << _CHUNK_BITS) - 1)
    rows_per_block = max(1, _PROBE_BLOCK // masks.size)
    found_i, found_j = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for c in range(n_chunks):
        shift = np.uint64(c * _CHUNK_BITS)
        key_a = ((a >> shift) & chunk_mask).astype(np.int64)
        order_a = np.argsort(key_a, kind="stable")
        sorted_a = a[order_a]
        # bucket_start[v] .. bucket_start[v + 1]: positions in order_a with chunk value v
        bucket_start = np.searchsorted(key_a[order_a], np.arange((1 << _CHUNK_BITS) + 1))
        key_b = (b >> shift) & chunk_mask
        for start in range(0, b.size, rows_per_block):
            stop = min(start + rows_per_block, b.size)
            probes = (key_b[start:stop, None] ^ masks[None, :]).ravel().astype(np.int64)
            lo = bucket_start[probes]
            counts = bucket_start[probes + 1] - lo
            hit = np.flatnonzero(counts)
            if hit.size == 0:
                continue
            lo, counts = lo[hit], counts[hit]
            owner = start + hit // masks.size
            total = int(counts.sum())
            # Candidate k of a probe sits at lo + k in the sorted order.
            positions = np.arange(total) + np.repeat(lo - (np.cumsum(counts) - counts), counts)
            jj = np.repeat(owner, counts)
            keep = np.flatnonzero(np.bitwise_count(sorted_a[positions] ^ b[jj]) <= threshold)
            found_i.append(order_a[positions[keep]])
            found_j.append(jj[keep])
    i = np.concatenate(found_i)
    j = np.concatenate(found_j)
    # A pair close on several chunks is found once per chunk: keep it once.
    keys = np.unique(i * np.int64(b.size) + j)
    return keys // b.size, keys % b.size


def _brute_force(a: np.ndarray, b: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    rows = max(1, _BLOCK_ELEMENTS // b.size)
    found_i, found_j = [], []
    for start in range(0, a.size, rows):
        block = a[start : start + rows, None] ^ b[None, :]
        ii, jj = np.nonzero(np.bitwise_count(block) <= threshold)
        found_i.append(ii + start)
        found_j.append(jj)
    return np.concatenate(found_i), np.concatenate(found_j)


def _multi_index(a: np.ndarray, b: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    n_chunks = threshold + 1
    edges = np.linspace(0, 64, n_chunks + 1).astype(np.uint64)
    found_i, found_j = [], []
    for lo, hi in itertools.pairwise(edges):
        mask = np.uint64((1 << int(hi - lo)) - 1)
        key_a = (a >> lo) & mask
        key_b = (b >> lo) & mask
        ii, jj = _pairs_sharing_key(a, b, key_a, key_b, threshold)
        found_i.append(ii)
        found_j.append(jj)
    i = np.concatenate(found_i)
    j = np.concatenate(found_j)
    # A pair agreeing on several chunks is found once per chunk: keep it once.
    keys = np.unique(i * np.int64(b.size) + j)
    return keys // b.size, keys % b.size


def _pairs_sharing_key(
    a: np.ndarray, b: np.ndarray, key_a: np.ndarray, key_b: np.ndarray, threshold: int
) -> tuple[np.ndarray, np.ndarray]:
    order_a = np.argsort(key_a, kind="stable")
    order_b = np.argsort(key_b, kind="stable")
    sorted_a, sorted_b = key_a[order_a], key_b[order_b]
    keys, start_a, count_a = np.unique(sorted_a, return_index=True, return_counts=True)
    start_b = np.searchsorted(sorted_b, keys, side="left")
    count_b = np.searchsorted(sorted_b, keys, side="right") - start_b
    found_i, found_j = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    # Small buckets are gathered together (one vectorised pass over all their
    # candidate pairs); a large bucket is compared as its own dense block.
    small = (count_a * count_b <= 4096) & (count_b > 0)
    if small.any():
        ii, jj = _expand_buckets(start_a[small], count_a[small], start_b[small], count_b[small])
        ia, jb = order_a[ii], order_b[jj]
        keep = np.bitwise_count(a[ia] ^ b[jb]) <= threshold
        found_i.append(ia[keep])
        found_j.append(jb[keep])
    for k in np.flatnonzero(~small & (count_b > 0)):
        ia = order_a[start_a[k] : start_a[k] + count_a[k]]
        jb = order_b[start_b[k] : start_b[k] + count_b[k]]
        bi, bj = _brute_force(a[ia], b[jb], threshold)
        found_i.append(ia[bi])
        found_j.append(jb[bj])
    return np.concatenate(found_i), np.concatenate(found_j)


def _expand_buckets(
    start_a: np.ndarray, count_a: np.ndarray, start_b: np.ndarray, count_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    # Every (x, y) with x in bucket's a-range and y in its b-range, without a loop.
    sizes = count_a * count_b
    total = int(sizes.sum())
    bucket = np.repeat(np.arange(sizes.size), sizes)
    offset = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    ii = start_a[bucket] + offset // count_b[bucket]
    jj = start_b[bucket] + offset % count_b[bucket]
    return ii, jj
