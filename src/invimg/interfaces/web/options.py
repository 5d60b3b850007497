"""What ``invimg serve`` can be told, checked before Gradio is even imported."""

from __future__ import annotations

import errno
import ipaddress
import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ...errors import UsageError

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the machine.

    The defaults let a 2048×2048 photo through (about 3 minutes of hiding and
    checking on a 2-core CPU) and refuse a 12-megapixel phone picture, which
    would keep the machine busy for many minutes.
    """

    max_upload_bytes: int = 32 * 2**20
    max_pixels: int = 2048 * 2048


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``invimg serve`` can be told (see ``invimg serve --help``)."""

    host: str = "127.0.0.1"
    port: int = 7860
    allow_remote: bool = False
    limits: Limits = field(default_factory=Limits)
    #: Model calls running at once. Each already uses every core, so more than
    #: one only shares them; 1 keeps a small machine responsive.
    concurrency: int = 1
    #: Requests that may wait in the queue; beyond it the page says the server is busy.
    queue_size: int = 16
    #: Seconds an upload or a result is kept (to be shown and downloaded).
    keep_files: int = 600


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a host other machines can reach unless asked for explicitly; warn when asked."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise UsageError(
            f"--host {host} would let other machines use this page (it has no login); "
            "add --allow-remote if that is what you want"
        )
    warnings.warn(
        f"listening on {host}: anyone who can reach this port can upload images and use "
        "this machine's CPU (the page has no login)",
        UserWarning,
        stacklevel=2,
    )


def check_options(options: ServeOptions) -> None:
    """Refuse nonsensical limits before anything starts."""
    positive = {
        "--max-upload-mb": options.limits.max_upload_bytes,
        "--max-pixels": options.limits.max_pixels,
        "--concurrency": options.concurrency,
        "--queue-size": options.queue_size,
        "--keep-files": options.keep_files,
    }
    for name, value in positive.items():
        if value <= 0:
            raise UsageError(f"{name} must be positive, got {value}")
    if not 0 < options.port < 65536:
        raise UsageError(f"--port must be in 1..65535, got {options.port}")


def check_port(host: str, port: int) -> None:
    """Refuse a port already in use, in milliseconds rather than after Gradio has loaded."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise UsageError(
                f"cannot listen on {host}:{port}: {reason}; choose another --port"
            ) from None


_ACTIVE_TEMP_DIR: list[str] = []  # the folder of the private_temp_dir() being used, if any


@contextmanager
def private_temp_dir() -> Iterator[str]:
    """A fresh 0700 folder as Gradio's cache (``GRADIO_TEMP_DIR``), removed afterwards.

    Enter it before Gradio is imported: some of Gradio's folders are fixed at
    import. Nested uses share the outer folder.
    """
    if _ACTIVE_TEMP_DIR:
        yield _ACTIVE_TEMP_DIR[-1]
        return
    folder = tempfile.mkdtemp(prefix="invimg-serve-")
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = folder
    _ACTIVE_TEMP_DIR.append(folder)
    try:
        yield folder
    finally:
        _ACTIVE_TEMP_DIR.pop()
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous
        shutil.rmtree(folder, ignore_errors=True)
