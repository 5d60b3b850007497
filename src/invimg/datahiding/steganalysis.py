"""Two classic LSB steganalysis attacks, to measure what they say of a stego.

* **Chi-square attack** (Westfeld & Pfitzmann, 1999). Embedding random bits
  in least significant bits equalises the counts of each "pair of values"
  ``(2i, 2i+1)``. The statistic compares the counts of even values with the
  pair means; the result is the probability that the pairs are equalised
  (near 1: LSB embedding; near 0: a natural image). Sequential embedders fill
  the image from the top, so the test is run on the first rows too.
* **RS analysis** (Fridrich, Goljan & Du, 2001). Groups of four neighbouring
  values are classified Regular or Singular by whether flipping LSBs with a
  mask makes them noisier; LSB embedding moves the four counts of ``M`` and
  ``−M`` in a known way, which gives an estimate of the fraction of values
  carrying a message (0 for a clean image; 1 for a fully embedded one).

Both read 8-bit values of all three channels (each channel separately for
RS, pooled for chi-square), as steganalysis tools do.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

_MASK = np.array([0, 1, 1, 0])
_MIN_EXPECTED = 5.0


def chi_square_probability(values: np.ndarray) -> float:
    """Probability that the pairs of values were equalised by LSB embedding."""
    counts = np.bincount(np.asarray(values, dtype=np.uint8).ravel(), minlength=256)
    even, odd = counts[0::2].astype(np.float64), counts[1::2].astype(np.float64)
    expected = (even + odd) / 2
    keep = expected >= _MIN_EXPECTED
    if keep.sum() < 2:
        return 0.0
    chi2 = float(((even[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    return float(stats.chi2.sf(chi2, keep.sum() - 1))


def chi_square_attack(image: np.ndarray, fraction: float = 1.0) -> float:
    """:func:`chi_square_probability` of the first ``fraction`` of rows (uint8 H×W×3)."""
    rows = max(1, round(image.shape[0] * fraction))
    return chi_square_probability(image[:rows])


def _flip(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """F1 (``0↔1, 2↔3, …``) where the mask is 1, F−1 (``−1↔0, 1↔2, …``) where −1."""
    f1 = x ^ 1
    f_minus = ((x + 1) ^ 1) - 1
    return np.where(mask == 1, f1, np.where(mask == -1, f_minus, x))


def _noise(groups: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(groups, axis=-1)).sum(axis=-1)


def _regular_singular(groups: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    before, after = _noise(groups), _noise(_flip(groups, mask))
    return float((after > before).mean()), float((after < before).mean())


def _groups(channel: np.ndarray) -> np.ndarray:
    """Non-overlapping horizontal groups of four values (int64)."""
    h, w = channel.shape
    return channel[:, : w - w % 4].astype(np.int64).reshape(h, -1, 4).reshape(-1, 4)


def rs_estimate(channel: np.ndarray) -> float:
    """Estimated fraction of values of one channel that carry LSB-embedded bits."""
    groups = _groups(channel)
    flipped = groups ^ 1
    r_m, s_m = _regular_singular(groups, _MASK)
    r_n, s_n = _regular_singular(groups, -_MASK)
    r_m1, s_m1 = _regular_singular(flipped, _MASK)
    r_n1, s_n1 = _regular_singular(flipped, -_MASK)
    d0, d1 = r_m - s_m, r_m1 - s_m1
    dn0, dn1 = r_n - s_n, r_n1 - s_n1
    a, b, c = 2 * (d1 + d0), dn0 - dn1 - d1 - 3 * d0, d0 - dn0
    roots = np.roots([a, b, c]) if abs(a) > 1e-12 else np.array([-c / b if b else 0.0])
    real = roots[np.isreal(roots)].real
    if real.size == 0:
        return 0.0
    x = real[np.argmin(np.abs(real))]
    return float(np.clip(x / (x - 0.5), 0.0, 1.0)) if x != 0.5 else 1.0


def rs_analysis(image: np.ndarray) -> float:
    """Mean RS estimate over the three channels of a uint8 H×W×3 image."""
    return float(np.mean([rs_estimate(image[..., c]) for c in range(image.shape[-1])]))
