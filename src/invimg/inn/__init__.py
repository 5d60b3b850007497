"""The invertible core: every invimg model is a composition of these blocks.

Contract (see :class:`InvertibleModule`): ``forward(x, cond=None)``,
``inverse(y, cond=None)``, ``forward_and_log_det`` / ``inverse_and_log_det``
(per-sample, forward +J, inverse −J), ``Inverse(m)`` swaps directions, and
``InvertibleSequential(..., memory_saving=True)`` trains without storing
activations.
"""

from .base import Inverse, InvertibleModule, is_invertible
from .couplings import AffineCoupling, deepmih_coupling, hinet_coupling, irn_coupling
from .haar import HaarWavelet, haar_dwt, haar_iwt
from .linear import (
    RGB_TO_YUV,
    ChannelPermutation,
    InvertibleConv1x1,
    LearnableDownsampling,
    Squeeze,
    mean_dct_basis,
)
from .sequential import InvertibleSequential
from .subnets import DenseBlock, SubnetFactory, conv_factory, dense_block_factory

__all__ = [
    "RGB_TO_YUV",
    "AffineCoupling",
    "ChannelPermutation",
    "DenseBlock",
    "HaarWavelet",
    "Inverse",
    "InvertibleConv1x1",
    "InvertibleModule",
    "InvertibleSequential",
    "LearnableDownsampling",
    "Squeeze",
    "SubnetFactory",
    "conv_factory",
    "deepmih_coupling",
    "dense_block_factory",
    "haar_dwt",
    "haar_iwt",
    "hinet_coupling",
    "irn_coupling",
    "is_invertible",
    "mean_dct_basis",
]
