"""C2SP tlog-checkpoint: the note text `<origin>\\n<size>\\n<base64 root>\\n`, signed.

No extension lines are written (the spec advises against them); a checkpoint
read with extension lines keeps them, since they are signed text.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from plimsoll_audit.log.merkle import HASH_SIZE
from plimsoll_audit.log.note import NoteError, Signer, Verifier, b64decode, open_note, sign

_SIZE = re.compile(r"^(?:0|[1-9]\d{0,18})$")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    def signed(self, signers: list[Signer]) -> str:
        return sign(self.text(), signers)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint is at least three lines, each ending in a newline")
        origin, size, root, *extensions = lines[:-1]
        if not origin or any(not line for line in extensions):
            raise NoteError("a checkpoint's origin and extension lines are never empty")
        if not _SIZE.match(size):
            raise NoteError(
                f"checkpoint size {size[:30]!r} is not a decimal without leading zeroes"
            )
        try:
            digest = b64decode(root)
        except (ValueError, binascii.Error):
            raise NoteError("the checkpoint's root hash is not base64") from None
        if len(digest) != HASH_SIZE:
            raise NoteError("the checkpoint's root hash is not 32 bytes")
        return cls(origin, int(size), digest, tuple(extensions))


def open_checkpoint(note: str, known: Iterable[Verifier], origin: str | None = None) -> Checkpoint:
    """The checkpoint a signed note carries, if a known key signed it (and the origin matches)."""
    checkpoint = Checkpoint.parse(open_note(note, known).text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is of log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
