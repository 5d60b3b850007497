"""What every command-line test checks: one ``error:`` line, the exit code, no traceback, no
partial file. Shared by the bad-input, regression, fuzz and Ctrl-C tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from invimg.interfaces.cli import _register_commands, app

_register_commands()

#: Exit codes the README documents (0 success, 2 usage, 3 input image, 4 output path,
#: 5 model, 6 config, 7 payload, 130 interrupted); 1 would be a bug escaping.
DOCUMENTED_EXITS = frozenset({0, 2, 3, 4, 5, 6, 7, 130})


def run(*args: str) -> Any:
    """The command line in-process (CliRunner keeps stdout and stderr apart)."""
    return CliRunner().invoke(app, list(args))


def expect_error(result: Any, code: int, *fragments: str) -> str:
    """Exit ``code``, exactly one ``error:`` line (the last on stderr), no traceback."""
    exit_code = result.exit_code
    stderr: str = result.stderr
    exception = result.exception
    assert exit_code == code, (exit_code, stderr, exception)
    assert exception is None or isinstance(exception, SystemExit), repr(exception)
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    assert all(line.startswith(("error:", "warning:")) for line in lines), stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def expect_ok(result: Any) -> str:
    """Exit 0; stderr (warnings only) is returned."""
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert all(line.startswith("warning:") for line in result.stderr.splitlines() if line.strip())
    return str(result.stderr)


def expect_one_line_outcome(result: Any) -> None:
    """Success, or a documented exit code with one ``error:`` line; never a traceback."""
    assert result.exit_code in DOCUMENTED_EXITS - {130}, (result.exit_code, result.stderr)
    assert "Traceback" not in result.output, result.output
    if result.exit_code == 0:
        expect_ok(result)
    else:
        expect_error(result, result.exit_code)


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary files or folders (``.NAME.…``) a failed write might have left."""
    return sorted(p.name for p in folder.rglob(".*"))
