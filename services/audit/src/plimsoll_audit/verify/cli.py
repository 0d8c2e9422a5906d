"""`plimsoll-verify`: check an evidence bundle offline, and replay it as of any instant.

    plimsoll-verify BUNDLE --key VERIFIER_KEY [--key ...] [--as-of 2025-06-30T17:00Z]

Trust comes from the verifier keys given on the command line (fetched once from
the log's `/checkpoint/verifier-key`, or handed over by whoever runs it): keys
carried inside a bundle prove nothing, so they are used only with
`--trust-bundle-keys`, and then the output says so.

Exit 0: every check held. Exit 1: a check failed (each failure is printed).
Exit 2: the file or the arguments cannot be used (malformed, truncated,
oversized, unreadable): one line saying why, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from plimsoll_audit.log.note import NoteError, Verifier
from plimsoll_audit.verify.bundle import MAX_BUNDLE_BYTES, BundleUnreadable, parse
from plimsoll_audit.verify.check import verify
from plimsoll_audit.verify.replay import describe, fold

OK, FAILED, UNUSABLE = 0, 1, 2


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stdout = sys.stdout if out is None else out
    parser = argparse.ArgumentParser(
        prog="plimsoll-verify", description="Verify a Plimsoll evidence bundle offline."
    )
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--key", action="append", default=[], help="a trusted verifier key")
    parser.add_argument(
        "--trust-bundle-keys",
        action="store_true",
        help="trust the verifier keys the bundle carries (proves only self-consistency)",
    )
    parser.add_argument("--as-of", type=_instant, help="show the state at this instant (ISO 8601)")
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, file=stdout)

    try:
        trusted = [Verifier.parse(key) for key in args.key]
    except NoteError as error:
        say(f"error: --key: {error}")
        return UNUSABLE
    try:
        size = args.bundle.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise BundleUnreadable(
                f"the file is {size:,} bytes, over the {MAX_BUNDLE_BYTES:,}-byte limit"
            )
        bundle = parse(args.bundle.read_bytes())
    except OSError as error:
        say(f"error: cannot read {args.bundle}: {error.strerror or error}")
        return UNUSABLE
    except BundleUnreadable as error:
        say(f"error: {args.bundle} is not a usable bundle: {error}")
        return UNUSABLE
    if args.trust_bundle_keys:
        carried = bundle.content.get("verifier_keys", [])
        try:
            trusted += [Verifier.parse(str(key)) for key in carried]
        except NoteError as error:
            say(f"error: a verifier key in the bundle is malformed: {error}")
            return UNUSABLE
        say(
            "warning: trusting the keys the bundle carries: this shows it is self-consistent, "
            "not that the log's operator signed it"
        )
    if not trusted:
        say("error: give the log's verifier key with --key (from its /checkpoint/verifier-key)")
        return UNUSABLE

    outcome = verify(bundle, trusted)
    say(
        f"bundle {bundle.bundle_id}: {bundle.practitioner_id}, {bundle.period_start} to "
        f"{bundle.period_end}, log {bundle.origin}"
    )
    for line in outcome.checked:
        say(f"ok    {line}")
    for line in outcome.failures:
        say(f"FAIL  {line}")
    if args.as_of is not None or outcome.ok:
        state = fold(bundle.practitioner_id, outcome.events, args.as_of)
        if args.as_of is not None:
            say("")
            for line in describe(state):
                say(line)
    say("VERIFIED" if outcome.ok else f"NOT VERIFIED: {len(outcome.failures)} check(s) failed")
    return OK if outcome.ok else FAILED


def main() -> None:
    try:
        code = run()
    except KeyboardInterrupt:
        code = UNUSABLE
    except Exception as error:  # a bug must still end in one line, not a traceback
        print(f"error: the verifier failed unexpectedly: {error.__class__.__name__}: {error}")
        code = UNUSABLE
    sys.exit(code)
