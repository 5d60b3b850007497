"""The command line's allocator tuning: glibc takes every setting; serve and opting out skip it."""

from __future__ import annotations

import platform
import sys

import pytest

from invimg import allocator
from invimg.interfaces import cli, entry

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_glibc_accepts_every_setting() -> None:
    assert allocator.keep_freed_memory()  # mallopt refuses e.g. an mmap threshold over 32 MiB
    allocator.release_freed_memory()


@pytest.mark.parametrize(
    ("command", "opt_out", "tuned"),
    [("hide", None, True), ("hide", "1", False), ("serve", None, False)],
)
def test_the_console_script_tunes_unless_told_not_to_or_serving(
    monkeypatch: pytest.MonkeyPatch, command: str, opt_out: str | None, tuned: bool
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append("tuned") or True)
    monkeypatch.setattr(cli, "main", lambda: calls.append("cli"))
    if opt_out is None:
        monkeypatch.delenv("INVIMG_DEFAULT_MALLOC", raising=False)
    else:
        monkeypatch.setenv("INVIMG_DEFAULT_MALLOC", opt_out)
    monkeypatch.setattr(sys, "argv", ["invimg", command])
    entry.main()
    assert calls == (["tuned", "cli"] if tuned else ["cli"])
