"""`make demo` tells the allocation story against the running stack, and checks it as it goes."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "local" / "demo.py"


def test_the_demo_tells_the_whole_story(stack, capsys):
    spec = importlib.util.spec_from_file_location("plimsoll_demo", DEMO)
    assert spec is not None
    assert spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)

    exit_code = demo.main()

    told = capsys.readouterr()
    assert exit_code == 0, told.err
    assert "DEMO FAILED" not in told.err
    assert "person.community.manager.allocated" in told.out
