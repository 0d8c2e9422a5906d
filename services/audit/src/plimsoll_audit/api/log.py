"""The log over HTTP: C2SP tlog-tiles (`/checkpoint`, `/tile/...`), verifier keys, JSON proofs.

Tiles, checkpoints, verifier keys and proofs are hashes only; entry bundles are
the events themselves, personal data included, so only auditors, admins and
services read them. (Every route is behind the kit's gate, so for now each needs
a valid token; the hash routes are meant to be public: see ARCHITECTURE.md.)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, Response
from plimsoll_platform.api import problem_responses
from plimsoll_platform.problems import InvalidParam, Problem

from plimsoll_audit.api.deps import Auditor, CheckpointerDep, KeysDep, ReaderDep
from plimsoll_audit.log.tiles import (
    ENTRIES_PATH_PATTERN,
    TILE_PATH_PATTERN,
    MalformedTilePath,
    TileRef,
    parse_tile_path,
)

router = APIRouter(tags=["log"])

TEXT = "text/plain; charset=utf-8"
OCTETS = "application/octet-stream"
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
MUTABLE = {"Cache-Control": "no-cache, max-age=5"}
# The pattern is documented and checked by the route (400, as a tile server answers a path it
# cannot parse), not by request validation (422).
_TILES = problem_responses({400: "Not a C2SP tile path", 404: "The log holds no such tile"})


_SIGNED_NOTE: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {TEXT: {}}, "description": "A signed note"}
}


@router.get(
    "/checkpoint", response_class=Response, responses={**_SIGNED_NOTE, **problem_responses()}
)
def checkpoint(checkpointer: CheckpointerDep) -> Response:
    """The latest signed checkpoint (C2SP tlog-checkpoint, a signed note)."""
    signed = checkpointer.sign(only_if_grown=True)
    return Response(signed.note, media_type=TEXT, headers=MUTABLE)


@router.post(
    "/checkpoint", response_class=Response, responses={**_SIGNED_NOTE, **problem_responses()}
)
def sign_checkpoint(checkpointer: CheckpointerDep, _: Auditor) -> Response:
    """Sign a checkpoint of the whole log now (the last one if the log has not grown)."""
    return Response(checkpointer.sign().note, media_type=TEXT, headers=MUTABLE)


@router.get(
    "/checkpoint/verifier-key",
    response_class=Response,
    responses={
        200: {"content": {TEXT: {}}, "description": "A verifier key"},
        **problem_responses(),
    },
)
def verifier_key(keys: KeysDep) -> Response:
    """The current signing key in the note verifier-key format (`<name>+<id>+<key>`)."""
    return Response(str(keys.signer.verifier) + "\n", media_type=TEXT)


@router.get("/checkpoint/verifier-keys", responses=problem_responses())
def verifier_keys(keys: KeysDep) -> dict[str, Any]:
    """The current verifier key and those retired, still valid for older checkpoints."""
    return {
        "current": str(keys.signer.verifier),
        "retired": [str(v) for v in keys.retired],
        "development_key": keys.development,
    }


def _ref(path: str) -> TileRef:
    try:
        return parse_tile_path(path)
    except MalformedTilePath as error:
        raise Problem(
            400,
            "Not a C2SP tile path",
            str(error),
            kind="bad-tile-path",
            invalid_params=[InvalidParam(name="path", reason=str(error))],
        ) from None


@router.get("/tile/entries/{path:path}", response_class=Response, responses=_TILES)
def entry_bundle(
    path: Annotated[str, Path(json_schema_extra={"pattern": ENTRIES_PATH_PATTERN})],
    reader: ReaderDep,
    _: Auditor,
) -> Response:
    """An entry bundle (`<N>[.p/<W>]`): the canonical events, each behind a uint16 length."""
    return Response(reader.tile(_ref("entries/" + path)), media_type=OCTETS, headers=IMMUTABLE)


@router.get("/tile/{path:path}", response_class=Response, responses=_TILES)
def tile(
    path: Annotated[str, Path(json_schema_extra={"pattern": TILE_PATH_PATTERN})],
    reader: ReaderDep,
) -> Response:
    """A tile of hashes (`<L>/<N>[.p/<W>]`)."""
    return Response(reader.tile(_ref(path)), media_type=OCTETS, headers=IMMUTABLE)


@router.get(
    "/proofs/inclusion", responses=problem_responses({400: "Past the tree", 404: "No such event"})
)
def inclusion(
    reader: ReaderDep,
    event_id: Annotated[str | None, Query(max_length=200)] = None,
    source: Annotated[str | None, Query(max_length=200)] = None,
    index: Annotated[int | None, Query(ge=0)] = None,
    size: Annotated[int | None, Query(ge=0, description="default: the latest checkpoint")] = None,
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of an event (by id, or by index) in the tree of `size`."""
    return asdict(reader.inclusion(event_id=event_id, index=index, size=size, source=source))


@router.get("/proofs/consistency", responses=problem_responses({400: "Sizes out of order"}))
def consistency(
    reader: ReaderDep,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int | None, Query(ge=0, description="default: the latest checkpoint")] = None,
) -> dict[str, Any]:
    """RFC 9162 consistency proof that the tree of `first` is a prefix of that of `second`."""
    return asdict(reader.consistency(first, second))
