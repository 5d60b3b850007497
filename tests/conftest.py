"""Shared test settings: one torch thread and deterministic seeds.

CI has 2 cores; with 2 threads torch runs the tests' small convolutions slower.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True, scope="session")
def _graph_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Exported ONNX graphs go to a temporary folder, not the user's ~/.cache."""
    os.environ.setdefault("INVIMG_CACHE_DIR", str(tmp_path_factory.mktemp("invimg-cache")))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def shared_dir() -> Path:
    """The project's shared/ folder beside the checkout (reference checkpoints, photos)."""
    if not (SHARED / "reference").is_dir():
        pytest.skip("../shared/reference is not present beside this checkout")
    return SHARED
