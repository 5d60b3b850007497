"""The error measures of both papers, for a set of images and their reconstructions.

* :func:`cvpr_error` — CVPR 2015, §4 and Table 1 (HOG 28.1 ± 7.9 %, HOGgle
  66.2 ± 13.7 %, HOGb 10.7 %, DSIFT 10.9 %), as computed by the authors'
  ``experiment_shallow_quantitative.m`` (``my_meanstd``): for images
  i = 1…N with features Φ0_i and reconstructions x*_i,

      error_i = ‖Φ(x*_i) − Φ0_i‖² / mean_{j,k} ‖Φ0_j − Φ0_k‖²

  the mean running over all N² ordered pairs, the N zero pairs j = k
  included. Dividing by the typical distance between two different images
  makes 100 % mean "as far from the original as another photo is". Reported
  as mean ± standard deviation over the images, in %. The paper's set is the
  first 100 ILSVRC 2012 validation images, grey, at full size; HOG is the
  UoCTTI variant, cell size 8, its first 27 dimensions.
* :func:`relative_error` — IJCV 2016, §5.1 (``table2.m``,
  ``figure_quantresults_cnn.m``): per image ‖Φ(x*) − Φ0‖ / ‖Φ0‖ (the square
  root of the optimised loss), in %, averaged over images.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


def pairwise_normaliser(targets: Tensor) -> float:
    """mean over all ordered pairs (j, k), j = k included, of ‖Φ0_j − Φ0_k‖²."""
    flat = targets.flatten(1).double()
    sq = flat.pow(2).sum(1)
    dist2 = (sq[:, None] + sq[None, :] - 2 * flat @ flat.t()).clamp_min(0)
    return float(dist2.mean())


def cvpr_error(features: Tensor, targets: Tensor) -> Tensor:
    """CVPR 2015 normalised reconstruction error of each image, in % (see the module docstring).

    ``features``: Φ(x*) of the N reconstructions; ``targets``: Φ0 of the N
    originals; both ``(N, …)`` of one shape. Needs N ≥ 2.
    """
    if features.shape != targets.shape or targets.shape[0] < 2:
        raise ValueError(
            f"cvpr_error needs N >= 2 pairs of equal shape, got {tuple(features.shape)} "
            f"and {tuple(targets.shape)}"
        )
    err = (features - targets).flatten(1).double().pow(2).sum(1)
    return 100 * err / pairwise_normaliser(targets)


def relative_error(features: Tensor, targets: Tensor) -> Tensor:
    """IJCV 2016 relative error ‖Φ(x*) − Φ0‖ / ‖Φ0‖ of each image, in %. ``(N,)``."""
    diff = (features - targets).flatten(1).double().norm(dim=1)
    return 100 * diff / targets.flatten(1).double().norm(dim=1).clamp_min(1e-12)


@dataclass(frozen=True)
class Summary:
    """Mean and standard deviation of per-image errors (the papers' "m ± s")."""

    mean: float
    std: float
    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Tensor) -> Summary:
        v = values.double()
        std = float(v.std()) if v.numel() > 1 else 0.0
        return cls(float(v.mean()), std, tuple(float(a) for a in v))

    def __str__(self) -> str:
        return f"{self.mean:.1f} ± {self.std:.1f}"


__all__ = ["Summary", "cvpr_error", "pairwise_normaliser", "relative_error"]
