"""Errors that reach a user as one clear line and a stable exit code.

Every failure a user can cause (a bad file, a wrong password, a payload that
does not fit, corrupted weights) is raised as an :class:`InvimgError`
subclass. The CLI prints ``error: <message>`` and exits with ``exit_code``;
anything else escaping is a bug in invimg, not in the user's input.
"""

from __future__ import annotations


class InvimgError(Exception):
    """Base class of all user-facing errors."""

    exit_code: int = 1


class UsageError(InvimgError, ValueError):
    """A bad option or argument value (``--z foo``, ``--size 12x``, a wrong secret count)."""

    exit_code = 2


class InputImageError(InvimgError):
    """An input image cannot be read or is not usable (truncated, bomb, bad mode)."""

    exit_code = 3


class OutputPathError(InvimgError):
    """An output cannot be written there (missing folder, bad suffix, no permission)."""

    exit_code = 4


class OutputExistsError(OutputPathError):
    """Writing would overwrite an input or an existing file without ``--force``."""


class ModelError(InvimgError):
    """Weights are missing, corrupted (sha256 mismatch) or do not fit the model."""

    exit_code = 5


class WrongModelError(ModelError, ValueError):
    """A model that loads fine but cannot do what was asked (another task or scale)."""


class ConfigError(InvimgError):
    """A training or model configuration is invalid."""

    exit_code = 6


class PayloadError(InvimgError):
    """A payload does not fit, or cannot be authenticated / decoded."""

    exit_code = 7


def one_line(text: str) -> str:
    """``text`` on one line: an error message must never spill over several."""
    return " ".join(text.split())
