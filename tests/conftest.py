"""Shared test settings: small thread count (CI has 2 cores), deterministic seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def shared_dir() -> Path:
    """The project's shared/ folder beside the checkout (reference checkpoints, photos)."""
    if not (SHARED / "reference").is_dir():
        pytest.skip("../shared/reference is not present beside this checkout")
    return SHARED
