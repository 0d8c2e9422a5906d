"""RFC 6962 / RFC 9162 Merkle trees: hashes, proofs and their verification. Pure.

Hashing: leaf = SHA-256(0x00 || leaf bytes), node = SHA-256(0x01 || left || right),
and the root of the empty tree is SHA-256 of nothing.

Proofs are built from a `HashReader`, which gives the *stored* hashes of one
tile level (tree height 8 * level), as the C2SP tlog-tiles layout keeps them:
any complete subtree's hash is then one read of at most 256 stored hashes
below it, hashed up, so a proof at ten million leaves is a handful of reads.

Verification follows RFC 9162 (sections 2.1.3.2 and 2.1.4.2) to the letter:
every proof hash is consumed in a position fixed by the indices, both roots of
a consistency proof are rebuilt from the same path, and the walk must end at
the root (`sn == 0`). Checking only that a proof starts and ends with the
right hashes (immudb's GHSA-672p-m5jq-mrh8) is exactly what this refuses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final, Protocol

HASH_SIZE: Final = 32
TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root of a complete subtree given its 2^k bottom hashes, in order."""
    level = list(hashes)
    if not level or len(level) & (len(level) - 1):
        raise ValueError(f"a complete subtree has a power of two of hashes, not {len(level)}")
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def root_of(hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes (for small trees held in memory)."""
    if not hashes:
        return EMPTY_ROOT
    return _range_root(hashes, 0, len(hashes))


def _range_root(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return hashes[lo]
    k = split(hi - lo)
    return node_hash(_range_root(hashes, lo, lo + k), _range_root(hashes, lo + k, hi))


def split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class HashReader(Protocol):
    def read(self, level: int, start: int, end: int) -> Sequence[bytes]:
        """Stored hashes at tile level `level` (tree height 8 * level), indices [start, end):
        leaf hashes at level 0, complete height-8L subtree hashes above. Raises if any is
        not stored (a subtree that is not complete yet)."""
        ...


class MemoryHashes:
    """A `HashReader` over leaf hashes held in memory (tests, bundles, the verifier)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) >= TILE_WIDTH:
            below = self.levels[-1]
            self.levels.append(
                [fold(below[i : i + TILE_WIDTH]) for i in range(0, len(below) - 255, TILE_WIDTH)]
            )

    def read(self, level: int, start: int, end: int) -> Sequence[bytes]:
        stored = self.levels[level] if level < len(self.levels) else []
        if end > len(stored):
            raise LookupError(f"hashes {start}..{end} of level {level} are not stored")
        return stored[start:end]


class Tree:
    """Proofs and roots of the tree of the first `size` leaves of a log, read through a
    `HashReader`; reads are remembered for the life of the object (one request)."""

    def __init__(self, reader: HashReader, size: int) -> None:
        if size < 0:
            raise ValueError("a tree size is never negative")
        self.reader = reader
        self.size = size
        self._subtrees: dict[tuple[int, int], bytes] = {}

    def subtree(self, height: int, index: int) -> bytes:
        """The hash of the complete subtree of 2^height leaves starting at index * 2^height."""
        key = (height, index)
        found = self._subtrees.get(key)
        if found is None:
            level, rest = divmod(height, TILE_HEIGHT)
            found = fold(self.reader.read(level, index << rest, (index + 1) << rest))
            self._subtrees[key] = found
        return found

    def range_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a range the RFC's recursion produces (lo aligned to its split)."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.subtree(n.bit_length() - 1, lo // n)
        k = split(n)
        return node_hash(self.range_hash(lo, lo + k), self.range_hash(lo + k, hi))

    def root(self) -> bytes:
        return EMPTY_ROOT if self.size == 0 else self.range_hash(0, self.size)

    def inclusion(self, index: int) -> list[bytes]:
        """RFC 9162 PATH(index, D[size])."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf {index} is not in a tree of {self.size} leaves")
        return self._path(index, 0, self.size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = split(hi - lo)
        if m < lo + k:
            return [*self._path(m, lo, lo + k), self.range_hash(lo + k, hi)]
        return [*self._path(m, lo + k, hi), self.range_hash(lo, lo + k)]

    def consistency(self, first: int) -> list[bytes]:
        """RFC 9162 PROOF(first, D[size]); empty when first is 0 or the size itself."""
        if not 0 <= first <= self.size:
            raise ValueError(f"size {first} is not within a tree of {self.size} leaves")
        if first in (0, self.size):
            return []
        return self._subproof(first, 0, self.size, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [self.range_hash(lo, hi)]
        k = split(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self.range_hash(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self.range_hash(lo, lo + k)]


# --- verification (RFC 9162) --------------------------------------------------------------------


class ProofError(ValueError):
    """A proof does not prove what it claims; the message says which check failed."""


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a tree of `size` must have for `proof` to show leaf hash `leaf` at `index`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    _check_hashes(proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of {size} leaves with this root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise unless `proof` shows the tree of `first` leaves is a prefix of the one of `second`."""
    _check_hashes(proof)
    if not 0 <= first <= second:
        raise ProofError(f"size {first} cannot be consistent with a smaller size {second}")
    if first == second:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof")
        if first_root != second_root:
            raise ProofError(f"two different roots for the same size {first}")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        if first_root != EMPTY_ROOT:
            raise ProofError("the empty tree's root is not SHA-256 of nothing")
        return
    if not proof:
        raise ProofError("a consistency proof between different sizes cannot be empty")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the path to the root")
    if fr != first_root:
        raise ProofError(f"the proof does not rebuild the root of size {first}")
    if sr != second_root:
        raise ProofError(f"the proof does not rebuild the root of size {second}")


def _check_hashes(proof: Sequence[bytes]) -> None:
    for item in proof:
        if not isinstance(item, bytes) or len(item) != HASH_SIZE:
            raise ProofError("a proof hash is not 32 bytes")
