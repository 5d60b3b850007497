"""Training and validation images: file discovery, the train/val split, crops.

Crops are a pure function of ``(seed, sample index)``: every sample builds its
own random generator from those two numbers. The batch that step ``s`` sees
therefore does not depend on the number of loader workers, on what ran
before, or on whether the run was resumed, which is what makes a resumed run
bit-identical to an uninterrupted one. Ranks of a distributed run draw
disjoint sample indices (see :class:`StepBatchSampler`), so they see
different crops without any per-rank seeding.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from invimg.errors import ConfigError, InputImageError
from invimg.io.images import list_images

from .config import DataConfig

log = logging.getLogger("invimg.training")

DIV2K_TRAIN, DIV2K_VALID = "DIV2K_train_HR", "DIV2K_valid_HR"
_SEED_MASK = (1 << 63) - 1


# -- finding files -------------------------------------------------------------


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders (recursively, sorted) and files into a de-duplicated image list."""
    found: list[Path] = []
    for entry in paths:
        path = Path(entry).expanduser()
        if path.is_dir():
            found += list_images(path, recursive=True)
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"data path does not exist: {path}")
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def div2k_layout(root: str | Path) -> tuple[Path, Path | None] | None:
    """``(train_dir, valid_dir)`` if ``root`` holds the standard DIV2K HR folders.

    Pointing ``data.train`` at a DIV2K root must not train on the official
    validation photos (and not on the LR folders next to them), so only the
    HR training folder is used for training.
    """
    root = Path(root)
    train = root / DIV2K_TRAIN
    if not train.is_dir():
        return None
    valid = root / DIV2K_VALID
    return train, valid if valid.is_dir() else None


def split_train_val(
    files: Sequence[Path], val_fraction: float, seed: int
) -> tuple[list[Path], list[Path]]:
    """Hold out about ``val_fraction`` of ``files``, chosen by a seeded hash of the file name.

    Hashing the name (not the position) keeps the choice stable when photos
    are added or the dataset moves; files sharing a name go to the same side.
    """
    if val_fraction <= 0:
        return list(files), []
    target = max(1, round(val_fraction * len(files)))
    if target >= len(files):
        raise ConfigError(f"data.val_fraction={val_fraction} leaves no training image")
    counts: dict[str, int] = {}
    for f in files:
        counts[f.name] = counts.get(f.name, 0) + 1
    held: set[str] = set()
    total = 0
    for name in sorted(counts, key=lambda n: hashlib.sha256(f"{seed}:{n}".encode()).hexdigest()):
        if total >= target:
            break
        held.add(name)
        total += counts[name]
    return [f for f in files if f.name not in held], [f for f in files if f.name in held]


def resolve_files(
    data: DataConfig, seed: int, previous_split: Path | None = None
) -> tuple[list[Path], list[Path]]:
    """Training and validation files for ``data``; validation files are never trained on.

    With ``val_fraction``, an existing ``previous_split`` (the ``split.json``
    of an earlier run in the same folder) wins, so a resumed run keeps the
    same photos held out even if the folder or the fraction changed.
    """
    train_dirs: list[str | Path] = []
    val_dirs: list[str | Path] = list(data.val)
    for entry in data.train:
        layout = div2k_layout(entry)
        if layout is None:
            train_dirs.append(entry)
            continue
        train_dirs.append(layout[0])
        if layout[1] is not None and not data.val and not data.val_fraction:
            val_dirs.append(layout[1])
    train, val = image_files(train_dirs), image_files(val_dirs)
    if data.val_fraction and previous_split is not None and previous_split.is_file():
        held = {Path(p).name for p in read_split(previous_split)[1]}
        train, val = [f for f in train if f.name not in held], [f for f in train if f.name in held]
    elif data.val_fraction:
        train, val = split_train_val(train, data.val_fraction, seed)
    val_keys = {f.resolve() for f in val}
    overlap = [f for f in train if f.resolve() in val_keys]
    if overlap:
        log.warning(
            "%d validation image(s) also listed for training; not training on them", len(overlap)
        )
        train = [f for f in train if f.resolve() not in val_keys]
    if not train:
        raise ConfigError("data.train: no training images found (png/jpg/jpeg/webp/bmp/tif)")
    return train, val


def write_split(path: Path, train: Sequence[Path], val: Sequence[Path]) -> None:
    """Record which photos were held out, next to the checkpoints."""
    payload = {"train": [str(p) for p in train], "val": [str(p) for p in val]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    tmp.replace(path)


def read_split(path: Path) -> tuple[list[str], list[str]]:
    """The ``(train, val)`` lists written by :func:`write_split`."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        return list(payload["train"]), list(payload["val"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: unreadable split file ({exc})") from None


# -- pixels ----------------------------------------------------------------------


def _read_pixels(path: Path) -> np.ndarray:
    """H×W×3 float32 RGB in [0, 1], through the project's one image reader."""
    from invimg.io import read_image  # imported late: keeps `import invimg.training` light

    return np.asarray(read_image(path).pixels, dtype=np.float32)


def _load(path: Path, scale_down: float) -> np.ndarray:
    pixels = _read_pixels(path)
    if scale_down <= 1.0:
        return pixels
    h, w = (max(1, int(s / scale_down)) for s in pixels.shape[:2])
    chw = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
    small = torch.nn.functional.interpolate(
        chw, size=(h, w), mode="bicubic", antialias=True, align_corners=False
    )
    return small[0].clamp_(0, 1).permute(1, 2, 0).contiguous().numpy()


def _header_min_side(path: Path, scale_down: float) -> int | None:
    """Shorter side after ``scale_down``, from the header only (None if unknown)."""
    try:
        with Image.open(path) as im:
            return int(min(im.size) / scale_down)
    except Exception:  # let the real reader report the problem when the file is used
        return None


def _compact(pixels: np.ndarray) -> np.ndarray:
    """uint8 copy if that is lossless (4× less memory in the cache), else the input."""
    q = np.rint(pixels * 255.0).astype(np.uint8)
    return q if np.array_equal(q.astype(np.float32) / np.float32(255.0), pixels) else pixels


def _as_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / np.float32(255.0)
    return pixels


def _dihedral(patch: np.ndarray, which: int) -> np.ndarray:
    """One of the 8 flips/rotations of a square patch (``which`` in 0..7)."""
    if which & 4:
        patch = patch[:, ::-1]
    return np.rot90(patch, k=which & 3, axes=(0, 1))


def _to_tensor(patch: np.ndarray) -> torch.Tensor:
    # Always a fresh, writable, C-ordered copy: decoded pixels may be read-only.
    return torch.from_numpy(np.array(_as_float(patch).transpose(2, 0, 1), order="C", copy=True))


class _ImageSource:
    """Decodes images on demand or once up front (``cache``), after ``scale_down``."""

    def __init__(self, files: Sequence[Path], min_side: int, scale_down: float, cache: bool):
        self.scale_down = scale_down
        self.min_side = min_side
        sides = [_header_min_side(f, scale_down) for f in files]
        kept = [f for f, side in zip(files, sides) if side is None or side >= min_side]
        if len(kept) < len(files):
            log.warning(
                "skipping %d image(s) smaller than %d px on a side",
                len(files) - len(kept),
                min_side,
            )
        if files and not kept:
            raise ConfigError(f"no image is at least {min_side}×{min_side} px (data.crop too big?)")
        self.files = kept
        self._cache = [_compact(self._decode(i)) for i in range(len(kept))] if cache else None

    def __len__(self) -> int:
        return len(self.files)

    def _decode(self, i: int) -> np.ndarray:
        pixels = _load(self.files[i], self.scale_down)
        if min(pixels.shape[:2]) < self.min_side:
            raise InputImageError(
                f"{self.files[i]}: {pixels.shape[1]}×{pixels.shape[0]} px is smaller than "
                f"the {self.min_side} px crop"
            )
        return pixels

    def get(self, i: int) -> np.ndarray:
        """Pixels of image ``i``; uint8 or float32 (convert with ``_as_float``)."""
        return self._cache[i] if self._cache is not None else self._decode(i)


# -- datasets ---------------------------------------------------------------------


class RandomCropDataset(Dataset[torch.Tensor]):
    """Random ``crop``×``crop`` patches (float32, 3×H×W), with optional flips/rot90.

    Index ``k`` is a global sample number and may exceed ``len(self)``: the
    files are visited in a fresh seeded order every ``len(files)`` samples,
    and the crop position and augmentation come from ``(seed, k)``.
    ``len(self)`` is ``samples_per_epoch`` for use with ordinary samplers
    such as ``DistributedSampler``; call :meth:`set_epoch` to move on.
    """

    def __init__(
        self,
        files: Sequence[Path],
        crop: int,
        samples_per_epoch: int | None = None,
        augment: bool = True,
        cache: bool = False,
        *,
        seed: int = 0,
        scale_down: float = 1.0,
    ) -> None:
        if not files:
            raise ConfigError("no training images")
        self.source = _ImageSource(files, crop, scale_down, cache)
        self.crop, self.augment, self.seed = crop, augment, seed & _SEED_MASK
        self.samples_per_epoch = samples_per_epoch or len(self.source)
        self.epoch = 0
        self._order: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.samples_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Offset indices by ``epoch × samples_per_epoch`` (for finite-epoch samplers)."""
        self.epoch = epoch

    def _file_index(self, k: int) -> int:
        n = len(self.source)
        rnd, pos = divmod(k, n)
        if self._order is None or self._order[0] != rnd:
            order = np.random.default_rng([self.seed, 0, rnd]).permutation(n)
            self._order = (rnd, order)
        return int(self._order[1][pos])

    def __getitem__(self, index: int) -> torch.Tensor:
        k = int(index) + self.epoch * self.samples_per_epoch
        pixels = self.source.get(self._file_index(k))
        rng = np.random.default_rng([self.seed, 1, k])
        h, w = pixels.shape[:2]
        top = int(rng.integers(0, h - self.crop + 1))
        left = int(rng.integers(0, w - self.crop + 1))
        patch = pixels[top : top + self.crop, left : left + self.crop]
        if self.augment:
            patch = _dihedral(patch, int(rng.integers(0, 8)))
        return _to_tensor(patch)


class CenterCropDataset(Dataset[torch.Tensor]):
    """Deterministic validation images: a centred ``crop`` (or the whole image).

    With ``crop=None`` the image is trimmed (centred) to a multiple of
    ``multiple`` on each side, because most invertible models need sizes
    divisible by their downsampling factor.
    """

    def __init__(
        self,
        files: Sequence[Path],
        crop: int | None = None,
        multiple: int = 1,
        cache: bool = False,
        *,
        scale_down: float = 1.0,
    ) -> None:
        self.crop, self.multiple = crop, multiple
        self.source = _ImageSource(files, crop or multiple, scale_down, cache)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> torch.Tensor:
        pixels = self.source.get(index)
        h, w = pixels.shape[:2]
        ch = self.crop or h - h % self.multiple
        cw = self.crop or w - w % self.multiple
        top, left = (h - ch) // 2, (w - cw) // 2
        return _to_tensor(pixels[top : top + ch, left : left + cw])


class StepBatchSampler(Sampler[list[int]]):
    """Endless batches of global sample indices, starting at batch ``start``.

    Batch ``b`` of rank ``r`` holds indices ``(b·world + r)·B … +B-1``, so
    ranks never share a sample and resuming at batch ``b`` replays nothing.
    """

    def __init__(self, batch_size: int, start: int = 0, rank: int = 0, world_size: int = 1):
        self.batch_size, self.start = batch_size, start
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        b = self.start
        while True:
            base = (b * self.world_size + self.rank) * self.batch_size
            yield list(range(base, base + self.batch_size))
            b += 1
