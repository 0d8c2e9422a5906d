"""RFC 6962 hashing and RFC 9162 proofs: built from tiles, checked against the definitions,
and forged proofs refused (including those right only at their ends: GHSA-672p-m5jq-mrh8)."""

import hashlib
import random

import pytest
from plimsoll_audit.log.merkle import (
    EMPTY_ROOT,
    MemoryHashes,
    ProofError,
    Tree,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    root_of,
    verify_consistency,
    verify_inclusion,
)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written out: the definition the tiles must agree with."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def log_of(n: int) -> tuple[list[bytes], Tree]:
    leaves = [f"entry {i}".encode() for i in range(n)]
    return leaves, Tree(MemoryHashes([leaf_hash(x) for x in leaves]), n)


def test_hashes_are_rfc_6962():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert (
        bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        == EMPTY_ROOT
    )


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 255, 256, 257, 511, 700, 65_537])
def test_root_from_tiles_is_the_definition(n):
    leaves, tree = log_of(n)
    assert tree.root() == mth(leaves) == root_of([leaf_hash(x) for x in leaves])


def test_every_inclusion_and_consistency_proof_up_to_70_leaves_verifies():
    leaves, full = log_of(70)
    for n in range(1, 71):
        tree = Tree(full.reader, n)
        root = mth(leaves[:n])
        for m in range(n):
            verify_inclusion(m, n, leaf_hash(leaves[m]), tree.inclusion(m), root)
        for m in range(0, n + 1):
            verify_consistency(m, n, mth(leaves[:m]), root, tree.consistency(m))


def test_proofs_across_tile_boundaries():
    leaves, full = log_of(70_000)
    rng = random.Random(6962)
    for n in (256, 257, 65_536, 65_537, 69_999, 70_000):
        tree = Tree(full.reader, n)
        root = tree.root()
        for m in [0, n - 1, *rng.sample(range(n), 20)]:
            verify_inclusion(m, n, leaf_hash(leaves[m]), tree.inclusion(m), root)
        for m in (1, 255, 256, 257, 65_535, n - 1):
            if m <= n:
                verify_consistency(m, n, Tree(full.reader, m).root(), root, tree.consistency(m))


@pytest.fixture
def eleven():
    leaves, tree = log_of(11)
    return leaves, tree, tree.root()


def test_inclusion_proof_of_another_leaf_or_place_is_refused(eleven):
    leaves, tree, root = eleven
    proof = tree.inclusion(4)
    with pytest.raises(ProofError):
        verify_inclusion(4, 11, leaf_hash(leaves[5]), proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(5, 11, leaf_hash(leaves[4]), proof, root)


@pytest.mark.parametrize(
    "forge",
    [
        lambda p: p[:-1],  # truncated
        lambda p: [*p, p[-1]],  # padded
        lambda p: p[::-1],  # reordered
        lambda p: [p[0], hashlib.sha256(b"x").digest(), *p[2:]],  # one hash replaced
    ],
)
def test_tampered_inclusion_proofs_are_refused(eleven, forge):
    leaves, tree, root = eleven
    with pytest.raises(ProofError):
        verify_inclusion(4, 11, leaf_hash(leaves[4]), forge(tree.inclusion(4)), root)


def test_a_leaf_index_past_the_tree_is_refused(eleven):
    leaves, _, _ = eleven
    with pytest.raises(ProofError):
        root_from_inclusion(11, 11, leaf_hash(leaves[0]), [])


def test_consistency_proofs_right_only_at_their_ends_are_refused():
    """A verifier that checks only that a proof starts at the old root and ends at the new
    one (the flaw of GHSA-672p-m5jq-mrh8) accepts these; RFC 9162's walk refuses each."""
    _, full = log_of(16)
    old, new = Tree(full.reader, 6), Tree(full.reader, 13)
    a, b = old.root(), new.root()
    honest = new.consistency(6)
    rewritten = [f"other {i}".encode() for i in range(13)]
    forged_proofs = [
        [a, b],  # just the two roots
        [a, *honest[1:-1], b],  # the honest path with its ends swapped for the roots
        [honest[0], *honest[1:], b],  # an extra hash that is the new root
        Tree(MemoryHashes([leaf_hash(x) for x in rewritten]), 13).consistency(6),  # another log
        honest[:-1],  # cut short
        [*honest, honest[-1]],  # padded
    ]
    for proof in forged_proofs:
        with pytest.raises(ProofError):
            verify_consistency(6, 13, a, b, proof)
    verify_consistency(6, 13, a, b, honest)


def test_consistency_with_a_rewritten_past_is_refused():
    leaves, full = log_of(20)
    rewritten = [*leaves[:3], b"changed", *leaves[4:]]
    other = Tree(MemoryHashes([leaf_hash(x) for x in rewritten]), 20)
    old_root = Tree(full.reader, 8).root()
    with pytest.raises(ProofError):
        verify_consistency(8, 20, old_root, other.root(), other.consistency(8))


def test_odd_consistency_requests():
    _, full = log_of(9)
    with pytest.raises(ProofError):
        verify_consistency(5, 4, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError):
        verify_consistency(4, 4, full.reader and Tree(full.reader, 4).root(), EMPTY_ROOT, [])
    with pytest.raises(ProofError):
        verify_consistency(3, 9, Tree(full.reader, 3).root(), Tree(full.reader, 9).root(), [])
    with pytest.raises(ValueError, match="not within"):
        Tree(full.reader, 9).consistency(10)
