"""The Merkle tree of RFC 9162 (Certificate Transparency v2), over SHA-256.

- leaf hash: ``SHA-256(0x00 || entry)``; interior node: ``SHA-256(0x01 || left || right)``.
- The root of ``n`` leaves (MTH) splits them at ``k``, the largest power of two below
  ``n``, and hashes the roots of ``[0, k)`` and ``[k, n)``; the root of no leaves is
  ``SHA-256("")`` (RFC 9162 §2.1.1).
- An inclusion proof shows leaf ``i`` is in a tree of size ``n`` (§2.1.3); a consistency
  proof shows a tree of size ``n`` extends one of size ``m`` with nothing rewritten
  (§2.1.4). Proofs list sibling hashes from the leaves up, as the RFC orders them.

Functions taking ``leaf_hashes`` work on the whole sequence (the tree size is its
length). :class:`MerkleLog` is the append-only form an evidence ledger keeps. Nothing
here holds locks; hashing is CPU work of about a microsecond per node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """The hash of one log entry: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _fold(stack: Sequence[bytes]) -> bytes:
    """The root from the roots of a tree's complete subtrees, largest (leftmost) first."""
    result = stack[-1]
    for left in reversed(stack[:-1]):
        result = node_hash(left, result)
    return result


def _range_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH of ``leaves[lo:hi]``, in one pass with a stack of complete subtrees."""
    if lo == hi:
        return EMPTY_ROOT
    hashes: list[bytes] = []
    sizes: list[int] = []
    for i in range(lo, hi):
        hashes.append(leaves[i])
        sizes.append(1)
        while len(sizes) > 1 and sizes[-1] == sizes[-2]:
            right = hashes.pop()
            sizes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            sizes[-1] *= 2
    return _fold(hashes)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (MTH) of ``leaf_hashes``; SHA-256("") when there are none."""
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def _inclusion(index: int, leaves: Sequence[bytes], size: int) -> list[bytes]:
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"no leaf {index} in a tree of size {size}")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            proof.append(_range_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range_root(leaves, lo, lo + k))
            lo += k
    proof.reverse()
    return proof


def _consistency(old_size: int, leaves: Sequence[bytes], size: int) -> list[bytes]:
    if not 0 <= old_size <= size <= len(leaves):
        raise ValueError(f"no consistency proof from size {old_size} to size {size}")
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    lo, hi, m = 0, size, old_size
    whole = True  # the old tree is a whole subtree of the new one so far (b in the RFC)
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_range_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range_root(leaves, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(_range_root(leaves, lo, hi))
    proof.reverse()
    return proof


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1 for the tree of all ``leaf_hashes``."""
    return _inclusion(index, leaf_hashes, len(leaf_hashes))


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1; empty when old_size is 0 or n."""
    return _consistency(old_size, leaf_hashes, len(leaf_hashes))


def _right_shift_until_odd(fn: int, sn: int) -> tuple[int, int]:
    while fn & 1 == 0 and fn != 0:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def _hashes_ok(*hashes: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf_hash`` at ``index`` in the tree of ``tree_size`` with ``root``.

    The algorithm of RFC 9162 §2.1.3.2.
    """
    if not 0 <= index < tree_size or not _hashes_ok(leaf_hash, root, *proof):
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _right_shift_until_odd(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``).

    The algorithm of RFC 9162 §2.1.4.2, with its edge cases: equal sizes need equal roots
    and an empty proof; every tree extends the empty one (with an empty proof).
    """
    if not 0 <= old_size <= new_size or not _hashes_ok(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            fn, sn = _right_shift_until_odd(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


class MerkleLog:
    """An append-only list of leaf hashes and its Merkle tree.

    Appending costs O(log n) hashes at worst (amortised O(1)) and the current root is
    cached, thanks to a stack of the roots of the complete subtrees the tree splits into.
    Roots and proofs at earlier sizes are recomputed from the leaves (O(n)). Not
    thread-safe: one owner appends.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._leaves: list[bytes] = []
        self._stack: list[bytes] = []  # roots of the complete subtrees, largest first
        self._root: bytes | None = EMPTY_ROOT
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        return len(self._leaves)

    @property
    def leaf_hashes(self) -> Sequence[bytes]:
        """The leaf hashes so far (a copy)."""
        return tuple(self._leaves)

    def append(self, leaf_hash: bytes) -> int:
        """Add a leaf hash; return its index."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, got {len(leaf_hash)}")
        index = len(self._leaves)
        self._leaves.append(leaf_hash)
        self._stack.append(leaf_hash)
        # The complete subtrees mirror the binary digits of the size: each trailing 1 bit
        # of the old size is a subtree the new leaf completes into a larger one.
        n = index
        while n & 1:
            right = self._stack.pop()
            self._stack[-1] = node_hash(self._stack[-1], right)
            n >>= 1
        self._root = None
        return index

    def root(self, size: int | None = None) -> bytes:
        """The root at ``size`` leaves (default: all of them)."""
        if size is None or size == len(self._leaves):
            if self._root is None:
                self._root = _fold(self._stack)
            return self._root
        if not 0 <= size <= len(self._leaves):
            raise ValueError(f"the log has {len(self._leaves)} leaves, not {size}")
        return _range_root(self._leaves, 0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The proof that leaf ``index`` is in the tree of ``size`` leaves (default: all)."""
        return _inclusion(index, self._leaves, self.size if size is None else size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The proof that the tree at ``new_size`` (default: all) extends the one at ``old_size``."""
        return _consistency(old_size, self._leaves, self.size if new_size is None else new_size)
