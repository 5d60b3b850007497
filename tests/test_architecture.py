"""The layering the README promises, checked on the source: who may import whom.

* A task package (``invimg/hiding`` …, the task table's packages) never imports
  ``invimg.interfaces``: the command line and the web page sit on top of the
  task APIs, not beside them.
* A web tab never imports a ``cli_*`` module: the page calls the task APIs
  only, so whatever a tab needs (metadata keys, model checks) lives there.
* The task table is the only list of tasks: every package, command module and
  tab it names exists, and every task package on disk is in it.
* Registering a training task (importing the module the table names for it)
  does not import the trainer.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import invimg
from invimg.tasks import TASKS, training_tasks

SRC = Path(invimg.__file__).resolve().parent


def imported_modules(path: Path) -> Iterator[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = ".".join(("invimg", *path.relative_to(SRC).with_suffix("").parts))
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def test_task_packages_do_not_import_the_interfaces() -> None:
    offending = [
        f"{path.relative_to(SRC)} imports {name}"
        for spec in TASKS
        for path in (SRC / spec.package.removeprefix("invimg.")).rglob("*.py")
        for name in imported_modules(path)
        if name.startswith("invimg.interfaces")
    ]
    assert offending == []


def test_web_tabs_do_not_import_cli_modules() -> None:
    offending = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / "interfaces" / "web").rglob("*.py")
        for name in imported_modules(path)
        if name.startswith("invimg.interfaces.cli") or name == "invimg.interfaces.common"
    ]
    assert offending == []


def test_the_checker_sees_relative_imports() -> None:
    """The two tests above would pass vacuously if imports were misread."""
    tab = SRC / "interfaces" / "web" / "hiding_tab.py"
    assert "invimg.hiding.api.stego_metadata" in set(imported_modules(tab))
    assert "invimg.interfaces.web.parts" in set(imported_modules(tab))


def test_the_task_table_names_what_exists() -> None:
    named = [spec.package for spec in TASKS]
    named += [m for spec in TASKS for m in (spec.commands, spec.web_tab) if m]
    named += [t.module for t in training_tasks()]
    named += [e.partition(":")[0] for spec in TASKS if (e := spec.evaluator)]
    named += [m for spec in TASKS for m in spec.api.values()]
    assert [m for m in named if importlib.util.find_spec(m) is None] == []
    packages = {p.parent.name for p in SRC.glob("*/api.py")}
    assert packages == {spec.package.removeprefix("invimg.") for spec in TASKS}


def test_registering_a_training_task_does_not_import_the_trainer() -> None:
    """The task table names each task's module; importing it registers the task, not more."""
    modules = sorted({t.module for t in training_tasks()})
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from invimg.training.registry import TASKS\n"
        "print(sorted(TASKS), 'invimg.training.trainer' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    registered = sorted(t.task for t in training_tasks())
    assert out.stdout.strip() == f"{registered} False"
