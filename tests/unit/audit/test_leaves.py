"""Leaves: the CloudEvent as received, in RFC 8785 canonical JSON (the fast path is held
byte-equal to the rfc8785 package on arbitrary JSON)."""

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from plimsoll_audit.log.leaves import Unloggable, canonical, to_leaf
from plimsoll_audit.log.merkle import leaf_hash

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_canonical_is_rfc_8785(value):
    try:
        expected = rfc8785.dumps(value)
    except Exception:
        with pytest.raises(Unloggable):
            canonical(value)
        return
    assert canonical(value) == expected


@settings(max_examples=500, deadline=None)
@given(json_values, st.booleans())
def test_a_leaf_is_rfc_8785_of_what_the_standard_library_parses(data, ascii_only):
    """orjson's parse stands in for the standard library's only where they agree exactly:
    the leaf is always the package's canonical form of `json.loads` (or refused)."""
    raw = json.dumps({**EVENT, "data": data}, ensure_ascii=ascii_only).encode()
    try:
        expected = rfc8785.dumps(json.loads(raw))
    except Exception:
        with pytest.raises(Unloggable):
            to_leaf(raw)
        return
    assert to_leaf(raw).leaf == expected


def test_floats_and_astral_keys_take_the_package_path():
    assert canonical({"h": 37.0, "b": 1e21}) == b'{"b":1e+21,"h":37}'
    assert canonical({"\ue000": 1, "\U0001f600": 2}) == rfc8785.dumps(
        {"\ue000": 1, "\U0001f600": 2}
    )


EVENT = {
    "specversion": "1.0",
    "id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd",
    "source": "/plimsoll/allocation",
    "type": "org.example.plimsoll.case-allocated.v1",
    "subject": "P-0001",
    "time": "2025-03-04T10:00:00.123+00:00",
    "data": {"points": 50, "practitioner_id": "P-0001"},
    "actor": "mo.manager",
}


def test_a_leaf_is_the_whole_event_canonicalised_from_the_bytes_received():
    spaced = json.dumps(EVENT, indent=2).encode()
    leaf = to_leaf(spaced)
    assert leaf.leaf == rfc8785.dumps(EVENT)
    assert leaf.hash == leaf_hash(rfc8785.dumps(EVENT))
    assert (leaf.source, leaf.event_id, leaf.type, leaf.subject) == (
        "/plimsoll/allocation",
        EVENT["id"],
        "case-allocated",
        "P-0001",
    )
    assert to_leaf(json.dumps(EVENT, sort_keys=True).encode()).leaf == leaf.leaf


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff", "UTF-8"),
        (b"[1]", "object"),
        (json.dumps({**EVENT, "id": ""}).encode(), "'id'"),
        (json.dumps({**EVENT, "specversion": "0.3"}).encode(), "specversion"),
        (json.dumps({**EVENT, "time": "yesterday"}).encode(), "RFC 3339"),
        (json.dumps({**EVENT, "time": "2025-03-04T10:00:00"}).encode(), "offset"),
        (json.dumps({**EVENT, "data": {"n": 2**60}}).encode(), "canonical"),
        (json.dumps({**EVENT, "data": {"n": 2**70}}).encode(), "canonical"),
        (json.dumps({**EVENT, "data": {"n": float("nan")}}).encode(), "canonical"),
    ],
)
def test_what_cannot_be_a_leaf_says_why(raw, reason):
    with pytest.raises(Unloggable, match=reason):
        to_leaf(raw)
