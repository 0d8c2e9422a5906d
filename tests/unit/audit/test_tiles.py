"""C2SP tlog-tiles paths, tile sets and entry bundles."""

import pytest
from plimsoll_audit.log.tiles import (
    MalformedTilePath,
    TileRef,
    bundle,
    encode_index,
    parse_tile_path,
    tiles_for_size,
    unbundle,
)


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, "000"), (67, "067"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_index_paths(index, path):
    assert encode_index(index) == path
    assert parse_tile_path(f"0/{path}") == TileRef(0, index)


def test_partial_and_entry_paths_round_trip():
    for ref in (TileRef(2, 5, 17), TileRef(None, 1234067, 255), TileRef(None, 0)):
        assert parse_tile_path(ref.path.removeprefix("tile/")) == ref


@pytest.mark.parametrize(
    "path",
    [
        "00/000",
        "64/000",
        "0/1",
        "0/0001",
        "0/001/000",
        "0/x001",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/07",
        "-1/000",
        "0/000.p/",
        "x/000",
        "0/x1000/000",
        "0/000/",
        "entries/abc",
    ],
)
def test_malformed_paths_are_refused(path):
    with pytest.raises(MalformedTilePath):
        parse_tile_path(path)


def test_the_spec_example_of_70000_entries():
    tiles = list(tiles_for_size(70_000))
    assert sum(1 for t in tiles if t.level == 0 and not t.partial) == 273
    assert TileRef(0, 273, 112) in tiles
    assert TileRef(1, 0) in tiles
    assert TileRef(1, 1, 17) in tiles
    assert TileRef(2, 0, 1) in tiles
    assert list(tiles_for_size(256)) == [TileRef(0, 0), TileRef(1, 0, 1)]


def test_entry_bundles_round_trip_and_refuse_truncation():
    entries = [b"", b"a", b"x" * 300]
    data = bundle(entries)
    assert data[:2] == b"\x00\x00"
    assert data[2:4] == b"\x00\x01"
    assert unbundle(data) == entries
    for cut in (1, 3, len(data) - 1):
        with pytest.raises(ValueError, match="ends inside"):
            unbundle(data[:cut])
    with pytest.raises(ValueError, match="does not fit"):
        bundle([b"x" * 65_536])
