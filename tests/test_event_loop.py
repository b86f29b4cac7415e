"""The long-running processes' loop: uvloop's where it is installed, else asyncio's (Windows has
no uvloop; the same code must run there)."""

from __future__ import annotations

import sys

import pytest

from notifier import event_loop


async def _which() -> str:
    return event_loop.running()


def test_the_loop_is_uvloops_where_installed_else_asyncios(monkeypatch: pytest.MonkeyPatch) -> None:
    assert event_loop.run(_which()) == "uvloop"
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as where it is not installed
    assert event_loop.run(_which()) == "asyncio"
