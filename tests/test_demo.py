"""The demo shows a rescaling result only when the shipped model beats bicubic."""

from __future__ import annotations

import pytest

from invimg.interfaces.cli_demo import _beats_bicubic


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"irn_z0_psnr_y": 44.0, "irn_zgauss_psnr_y": 43.0, "bicubic_psnr_y": 31.0}, True),
        ({"irn_z0_psnr_y": 22.9, "irn_zgauss_psnr_y": 31.5, "bicubic_psnr_y": 45.3}, False),
        ({"irn_z0_psnr_y": 30.0, "irn_zgauss_psnr_y": 46.0, "bicubic_psnr_y": 45.3}, True),
        ({"irn_z0_psnr_y": 40.0}, False),  # unmeasured against bicubic: not shown
        ({}, False),
    ],
)
def test_rescaling_is_demonstrated_only_when_it_beats_bicubic(
    values: dict[str, float], expected: bool
) -> None:
    assert _beats_bicubic(values) is expected
