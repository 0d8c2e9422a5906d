"""C2SP tlog-tiles paths and shapes: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`.

`<N>` is written in zero-padded groups of three digits, every group but the last
prefixed with `x` (1234067 is `x001/x234/067`); `<W>` (1 to 255) marks a partial
tile. A path that is not exactly this (leading zeroes in `<L>` or `<W>`, an
`x` missing, a width of 0 or 256) is malformed, not another name for a tile.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from plimsoll_audit.log.merkle import HASH_SIZE, TILE_WIDTH

MAX_LEVEL: Final = 63
_TAIL: Final = (
    r"(?:x[0-9]{3}/)*[0-9]{3}(?:\.p/(?:[1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$"
)
TILE_PATH_PATTERN: Final = rf"^(?:[0-9]|[1-5][0-9]|6[0-3])/{_TAIL}"
"""What follows `tile/` for a tile of hashes: `<L>/<N>[.p/<W>]` (C2SP tlog-tiles)."""
ENTRIES_PATH_PATTERN: Final = rf"^{_TAIL}"
"""What follows `tile/entries/`: `<N>[.p/<W>]`."""
MAX_ENTRY_BYTES: Final = 0xFFFF  # an entry bundle prefixes each entry with a uint16 length

_INDEX = re.compile(r"^(?:x[0-9]{3}/)*[0-9]{3}$")
_DECIMAL = re.compile(r"^(?:0|[1-9][0-9]*)$")


class MalformedTilePath(ValueError):
    """The path is not a tile or entry bundle path of the C2SP layout."""


@dataclass(frozen=True)
class TileRef:
    """A tile (level >= 0) or an entry bundle (level None): index and width (256 when full)."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        kind = "entries" if self.level is None else str(self.level)
        suffix = f".p/{self.width}" if self.partial else ""
        return f"tile/{kind}/{encode_index(self.index)}{suffix}"

    def needed_size(self) -> int:
        """The smallest tree size whose tiles include this one (at its width)."""
        level = 0 if self.level is None else self.level
        return int((self.index * TILE_WIDTH + self.width) * TILE_WIDTH**level)


def encode_index(index: int) -> str:
    if index < 0:
        raise ValueError("a tile index is never negative")
    digits = f"{index:d}"
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def parse_tile_path(path: str) -> TileRef:
    """`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]` (what follows `tile/`)."""
    kind, _, rest = path.partition("/")
    if kind == "entries":
        level = None
    elif _DECIMAL.match(kind) and int(kind) <= MAX_LEVEL:
        level = int(kind)
    else:
        raise MalformedTilePath(f"tile level {kind!r} is not an integer from 0 to 63")
    index_part, dot, width_part = rest.partition(".p/")
    if not _INDEX.match(index_part):
        raise MalformedTilePath(f"tile index {index_part!r} is not x-prefixed 3-digit groups")
    width = TILE_WIDTH
    if dot:
        if not _DECIMAL.match(width_part) or not 1 <= int(width_part) < TILE_WIDTH:
            raise MalformedTilePath(f"partial width {width_part!r} is not an integer 1 to 255")
        width = int(width_part)
    index = int(index_part.replace("x", "").replace("/", ""))
    return TileRef(level, index, width)


def tiles_for_size(size: int) -> Iterator[TileRef]:
    """Every tile a tree of `size` leaves is served as, level by level (full then partial)."""
    level = 0
    while True:
        count = size // TILE_WIDTH**level
        if count == 0:
            return
        full, partial = divmod(count, TILE_WIDTH)
        for n in range(full):
            yield TileRef(level, n)
        if partial:
            yield TileRef(level, full, partial)
        if count < TILE_WIDTH:
            return
        level += 1


def bundle(entries: list[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes."""
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValueError(f"an entry of {len(entry)} bytes does not fit an entry bundle")
        out += struct.pack(">H", len(entry))
        out += entry
    return bytes(out)


def unbundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; raises ValueError if it is cut short."""
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError("an entry bundle ends inside a length prefix")
        (length,) = struct.unpack_from(">H", data, at)
        at += 2
        if at + length > len(data):
            raise ValueError("an entry bundle ends inside an entry")
        entries.append(data[at : at + length])
        at += length
    return entries


def tile_bytes(hashes: list[bytes]) -> bytes:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ValueError("a tile holds 32-byte hashes")
    return b"".join(hashes)
