"""Image input and output that a user can trust.

Reading (:func:`read_image`) states every conversion it makes and refuses
what it cannot read faithfully; writing (:func:`write_image`) is atomic and
never overwrites an input or an existing file without ``force``;
:func:`as_image_tensor` turns whatever a user passes to a task function (a
path, a PIL image, an array, a tensor) into the tensor models take. The rules
are documented in :mod:`invimg.io.images`, :mod:`invimg.io.writing` and
:mod:`invimg.io.convert`.
"""

from invimg.io.arrays import quantize_8bit, quantize_st, to_numpy, to_tensor
from invimg.io.convert import as_image_tensor, luma
from invimg.io.images import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_INPUT_FORMATS,
    LoadedImage,
    read_image,
)
from invimg.io.writing import (
    OUTPUT_FORMATS,
    check_output_file,
    check_output_path,
    read_metadata,
    read_png_metadata,
    write_bytes,
    write_image,
    write_png,
    write_text,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "OUTPUT_FORMATS",
    "SUPPORTED_INPUT_FORMATS",
    "LoadedImage",
    "as_image_tensor",
    "check_output_file",
    "check_output_path",
    "luma",
    "quantize_8bit",
    "quantize_st",
    "read_image",
    "read_metadata",
    "read_png_metadata",
    "to_numpy",
    "to_tensor",
    "write_bytes",
    "write_image",
    "write_png",
    "write_text",
]
