"""glibc allocator settings for the command line: keep freed memory for the next pass.

Why. A forward pass of these networks allocates and frees tens of large
activation buffers. glibc serves each buffer above its mmap threshold with a
fresh ``mmap`` and returns it with ``munmap`` on free, so every pass faults
in its memory page by page again; on the development VM page faults were
about a third of a pass's CPU time (BENCHMARKS.md, "Speed against the
published code"). Raising the mmap threshold and the trim threshold keeps
freed buffers in the heap, where the next pass reuses them already mapped.

Only the ``invimg`` command applies this (a short-lived process that wants
speed); importing the library never changes the host process's allocator.
The web server also returns freed memory after each request with
:func:`release_freed_memory`, so its resident size still falls back to idle.
Elsewhere than Linux/glibc both functions do nothing.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

#: mallopt parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
#: Largest mmap threshold glibc accepts on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``).
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024
TOP_PAD = 64 * 1024 * 1024


@functools.cache
def _libc() -> Any | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 - glibc only
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Tune glibc to reuse freed buffers (module doc); True if every setting was taken."""
    libc = _libc()
    if libc is None:
        return False
    settings = (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, TOP_PAD),
    )
    return all(libc.mallopt(param, value) == 1 for param, value in settings)


def release_freed_memory() -> None:
    """Give freed heap memory back to the system (glibc keeps it otherwise)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
