"""RFC 9162 Merkle tree: published known answers, a naive reference, and proofs that must fail."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from recorder import merkle

VECTORS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "merkle_vectors.json").read_text())
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaves"]]
LEAF_HASHES = [merkle.leaf_hash(x) for x in LEAVES]
ROOTS = [bytes.fromhex(x) for x in VECTORS["roots"]]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 300]
SIZES += random.Random(9162).sample(range(10, 300), 8)


# A reference written straight from the recursive definitions of RFC 9162 §2.1.


def naive_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = naive_split(len(d))
    return hashlib.sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:])).digest()


def naive_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = naive_split(len(d))
    if m < k:
        return [*naive_path(m, d[:k]), naive_mth(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_mth(d[:k])]


def naive_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [naive_mth(d)]
    k = naive_split(len(d))
    if m <= k:
        return [*naive_subproof(m, d[:k], b), naive_mth(d[k:])]
    return [*naive_subproof(m - k, d[k:], False), naive_mth(d[:k])]


def random_leaves(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)  # distinct entries: equal neighbours would make a wrong index verify
    return [merkle.leaf_hash(i.to_bytes(4, "big") + rng.randbytes(rng.randrange(0, 40))) for i in range(n)]


def flipped(proof: Sequence[bytes], element: int, position: int, mask: int = 0x01) -> list[bytes]:
    wrong = list(proof)
    changed = bytearray(wrong[element])
    changed[position] ^= mask
    wrong[element] = bytes(changed)
    return wrong


def every_flip(proof: Sequence[bytes]) -> Iterator[list[bytes]]:
    for element in range(len(proof)):
        for position in range(merkle.HASH_SIZE):
            yield flipped(proof, element, position)


# Known answers


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert merkle.root([]) == merkle.EMPTY_ROOT == bytes.fromhex(VECTORS["empty_root"])
    assert merkle.MerkleLog().root() == merkle.EMPTY_ROOT


def test_leaf_and_node_hashes_carry_their_prefixes() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest() == ROOTS[0]
    assert merkle.node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_published_vectors(size: int) -> None:
    assert merkle.root(LEAF_HASHES[:size]).hex() == VECTORS["roots"][size - 1]


def test_log_roots_match_the_published_vectors_as_it_grows() -> None:
    log = merkle.MerkleLog()
    for size, leaf in enumerate(LEAF_HASHES, start=1):
        log.append(leaf)
        assert log.root().hex() == VECTORS["roots"][size - 1]
    assert [log.root(size) for size in range(1, 9)] == ROOTS


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-of-{c['tree_size']}")
def test_inclusion_proofs_match_the_published_vectors(case: dict[str, Any]) -> None:
    index, size = case["index"], case["tree_size"]
    proof = [bytes.fromhex(x) for x in case["proof"]]

    assert merkle.inclusion_proof(index, LEAF_HASHES[:size]) == proof
    assert merkle.verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size - 1])


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['old_size']}-to-{c['new_size']}")
def test_consistency_proofs_match_the_published_vectors(case: dict[str, Any]) -> None:
    old, new = case["old_size"], case["new_size"]
    proof = [bytes.fromhex(x) for x in case["proof"]]

    assert merkle.consistency_proof(old, LEAF_HASHES[:new]) == proof
    assert merkle.verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


@pytest.mark.parametrize("case", VECTORS["inclusion"][1:], ids=lambda c: f"{c['index']}-of-{c['tree_size']}")
def test_published_inclusion_proofs_fail_once_anything_changes(case: dict[str, Any]) -> None:
    index, size = case["index"], case["tree_size"]
    proof = [bytes.fromhex(x) for x in case["proof"]]
    leaf, good_root = LEAF_HASHES[index], ROOTS[size - 1]
    probes = [
        (leaf, index - 1, size, proof, good_root),
        (leaf, index + 1, size, proof, good_root),
        (leaf, index ^ 2, size, proof, good_root),
        (leaf, index, size * 2, proof, good_root),
        (leaf, index, size // 2, proof, good_root),
        (SOME_HASH, index, size, proof, good_root),
        (leaf, index, size, proof, merkle.EMPTY_ROOT),
        (leaf, index, size, proof, SOME_HASH),
        (leaf, index, size, [*proof, b""], good_root),
        (leaf, index, size, [*proof, good_root], good_root),
        (leaf, index, size, [good_root, *proof], good_root),
        (leaf, index, size, proof[:-1], good_root),
        (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], good_root),
    ]
    probes += [(leaf, index, size, wrong, good_root) for wrong in every_flip(proof)]

    assert not [p for p in probes if merkle.verify_inclusion(*p)]


@pytest.mark.parametrize(
    "case", VECTORS["consistency"][1:], ids=lambda c: f"{c['old_size']}-to-{c['new_size']}"
)
def test_published_consistency_proofs_fail_once_anything_changes(case: dict[str, Any]) -> None:
    old, new = case["old_size"], case["new_size"]
    proof = [bytes.fromhex(x) for x in case["proof"]]
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    probes = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, SOME_HASH, r2, proof),
        (old, new, r1, SOME_HASH, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    probes += [(old, new, r1, r2, wrong) for wrong in every_flip(proof)]

    assert not [p for p in probes if merkle.verify_consistency(*p)]


def test_consistency_edge_cases() -> None:
    r = ROOTS[0]
    assert merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, ROOTS[4], [])  # everything extends nothing
    assert merkle.verify_consistency(3, 3, ROOTS[2], ROOTS[2], [])
    assert not merkle.verify_consistency(3, 3, ROOTS[2], ROOTS[3], [])  # same size, another tree
    assert not merkle.verify_consistency(3, 3, ROOTS[2], ROOTS[2], [r])  # same size, a proof
    assert not merkle.verify_consistency(0, 1, merkle.EMPTY_ROOT, r, [r])
    assert not merkle.verify_consistency(2, 1, ROOTS[1], r, [])  # shrinking
    assert merkle.consistency_proof(0, LEAF_HASHES) == merkle.consistency_proof(8, LEAF_HASHES) == []


def test_inclusion_edge_cases() -> None:
    assert not merkle.verify_inclusion(LEAF_HASHES[0], 0, 0, [], merkle.EMPTY_ROOT)
    assert not merkle.verify_inclusion(LEAF_HASHES[0], 1, 1, [], ROOTS[0])
    assert not merkle.verify_inclusion(LEAF_HASHES[0], -1, 1, [], ROOTS[0])
    assert not merkle.verify_inclusion(b"", 0, 1, [], b"")  # wrong hash sizes
    with pytest.raises(ValueError):
        merkle.inclusion_proof(8, LEAF_HASHES)
    with pytest.raises(ValueError):
        merkle.consistency_proof(9, LEAF_HASHES)


# Cross-check against the naive reference


@pytest.mark.parametrize("size", SIZES)
def test_roots_and_proofs_agree_with_the_naive_reference(size: int) -> None:
    leaves = random_leaves(size, seed=size)
    log = merkle.MerkleLog()
    for n, leaf in enumerate(leaves, start=1):
        log.append(leaf)
        assert log.root() == naive_mth(leaves[:n])
    good_root = naive_mth(leaves)
    assert merkle.root(leaves) == good_root

    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        assert proof == naive_path(index, leaves) == log.inclusion_proof(index)
        assert merkle.verify_inclusion(leaves[index], index, size, proof, good_root)

    for old in range(1, size + 1):
        proof = merkle.consistency_proof(old, leaves)
        assert proof == naive_subproof(old, leaves, True) == log.consistency_proof(old)
        assert merkle.verify_consistency(old, size, naive_mth(leaves[:old]), good_root, proof)


@pytest.mark.parametrize("size", SIZES)
def test_changed_proofs_and_wrong_indexes_fail(size: int) -> None:
    leaves = random_leaves(size, seed=size)
    good_root = merkle.root(leaves)
    rng = random.Random(size)

    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        if proof:
            wrong = flipped(proof, rng.randrange(len(proof)), rng.randrange(32), rng.randrange(1, 256))
            assert not merkle.verify_inclusion(leaves[index], index, size, wrong, good_root)
        for other in {index - 1, index + 1, rng.randrange(size)} - {index}:
            assert not merkle.verify_inclusion(leaves[index], other, size, proof, good_root)

    for old in range(1, size):
        old_root = merkle.root(leaves[:old])
        proof = merkle.consistency_proof(old, leaves)
        wrong = flipped(proof, rng.randrange(len(proof)), rng.randrange(32), rng.randrange(1, 256))
        assert not merkle.verify_consistency(old, size, old_root, good_root, wrong)
        for other in {old - 1, old + 1} - {0, size}:
            assert not merkle.verify_consistency(other, size, old_root, good_root, proof)
        assert not merkle.verify_consistency(old, size, old_root, good_root, proof[:-1])


def test_log_serves_roots_and_proofs_at_earlier_sizes() -> None:
    leaves = random_leaves(100, seed=1)
    log = merkle.MerkleLog(leaves)

    assert log.size == 100
    assert log.leaf_hashes == tuple(leaves)
    for size in (1, 37, 64, 99, 100):
        assert log.root(size) == naive_mth(leaves[:size])
        assert log.inclusion_proof(size - 1, size) == naive_path(size - 1, leaves[:size])
        assert log.consistency_proof(size // 2 or 1, size) == naive_subproof(
            size // 2 or 1, leaves[:size], True
        )
    with pytest.raises(ValueError):
        log.root(101)
    with pytest.raises(ValueError):
        log.append(b"short")
