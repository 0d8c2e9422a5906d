"""`make demo` tells the whole story against the running stack, and checks it as it goes: each
chapter (allocation, timesheet, wellbeing, duty of care, notifications, audit) says what it
showed, and the demo ends with one line per chapter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "local" / "demo.py"

MARKERS = {  # at least one line each chapter prints only when its checks held
    "allocation": ["= WMT's worked example", "person.community.manager.allocated"],
    "timesheet": ["the same sheet again: 10 already imported", "x hours-corrected"],
    "wellbeing": ["counts the case for nothing", "x three-way-meeting-held", "x policy-adopted"],
    "duty of care": [
        "capacity-red, judged on 119.9%",
        "mo.manager acknowledges it",
        "x breach-acknowledged",
    ],
    "notifications": [
        "To: mo.manager@example.org",
        "notification-acknowledged (mo.manager)",
        "To: hana.head@example.org; Subject: Declaration",
        "pat.practitioner acknowledges",
        "changed by one character: refused",
    ],
    "audit": ["\n  VERIFIED\n", "plimsoll-verify exits 1", "NOT VERIFIED"],
}


def test_the_demo_tells_the_whole_story(stack):
    environment = {**os.environ, "PLIMSOLL_STACK_DIR": str(stack.module.STATE)}
    told = subprocess.run(
        [sys.executable, str(DEMO)],
        capture_output=True,
        text=True,
        timeout=280,
        env=environment,
        check=False,
    )

    assert told.returncode == 0, told.stderr[-4000:] + told.stdout[-4000:]
    assert "DEMO FAILED" not in told.stderr
    for chapter, markers in MARKERS.items():
        for marker in markers:
            assert marker in told.stdout, (chapter, marker)
    summary = told.stdout.split("The whole story, told and checked in", 1)
    assert len(summary) == 2, told.stdout[-4000:]
    summary_lines = summary[1].splitlines()[1:]
    for chapter in MARKERS:
        assert any(line.strip().startswith(f"{chapter} ") for line in summary_lines), chapter
