"""Lossless data hiding in colours (Steg-cINN): any bytes in a photo, back bit for bit.

``embed`` / ``extract`` / ``capacity`` (see :mod:`.api`) are the task API the
CLI (``invimg embed|extract|capacity``), the Python API and the web page use.
"""

from .api import DEFAULT_MODEL, capacity, embed, embed_with_report, extract, extract_payload
from .model import StegCINN
from .payload import Payload

__all__ = [
    "DEFAULT_MODEL",
    "Payload",
    "StegCINN",
    "capacity",
    "embed",
    "embed_with_report",
    "extract",
    "extract_payload",
]
