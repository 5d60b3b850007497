"""``metrics.csv``: one row per logged step, columns appear as they are first seen.

The loss terms and validation metrics are only known once the task reports
them, so the header grows when a new name shows up (the file is then
rewritten once, atomically). A checkpoint records how many rows the log
had; on resume the rows written after it are dropped, because those steps
will be trained again and would otherwise appear twice. (Counting rows, not
comparing step numbers, keeps the record of rollbacks, after which step
numbers legitimately repeat.)
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

FIXED_COLUMNS = ("step", "lr", "seconds")

Value = float | int | str


class MetricsLog:
    """Append-safe CSV log; only rank 0 creates one."""

    def __init__(self, path: Path, keep_rows: int = 0) -> None:
        self.path = path
        self.columns: list[str] = list(FIXED_COLUMNS)
        rows = self._read() if path.exists() else []
        if len(rows) > keep_rows:
            rows = rows[:keep_rows]
            self._rewrite(rows)
        self.rows = len(rows)

    def _read(self) -> list[dict[str, str]]:
        with open(self.path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            self.columns = _merge(self.columns, reader.fieldnames or [])
            return list(reader)

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path)

    def write(self, row: dict[str, Value]) -> None:
        """Append ``row``; new column names widen the header of the whole file."""
        new = [k for k in row if k not in self.columns]
        if new or not self.path.exists():
            old = self._read() if self.path.exists() else []
            self.columns = _merge(self.columns, new)
            self._rewrite(old)
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.columns, restval="").writerow(
                {k: _fmt(v) for k, v in row.items()}
            )
        self.rows += 1


def _merge(columns: Sequence[str], extra: Sequence[str]) -> list[str]:
    """Fixed columns first, then the others in order of appearance, ``event`` last."""
    merged = list(columns) + [c for c in extra if c not in columns]
    return [c for c in merged if c != "event"] + (["event"] if "event" in merged else [])


def _fmt(value: Value) -> str:
    if isinstance(value, float):
        return repr(value) if not math.isfinite(value) else f"{value:.6g}"
    return str(value)
