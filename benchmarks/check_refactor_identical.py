"""Fingerprint what every shipped model outputs, to prove a refactor changed no result.

Run it on the tree before and after a behaviour-neutral change, then compare::

    PYTHONPATH=old/src python benchmarks/check_refactor_identical.py /tmp/before.json
    PYTHONPATH=new/src python benchmarks/check_refactor_identical.py /tmp/after.json
    python benchmarks/check_refactor_identical.py --compare /tmp/before.json /tmp/after.json

Each shipped card (``zoo/weights/*.json``) goes through its task's public API
on small seeded inputs (64×64, so it runs in a few minutes on one thread), and
the SHA-256 of every output array is recorded. Why hashes: "bit-identical" is
the claim, so any difference at all must show, and a JSON of hashes is small
enough to keep beside the change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch

SIZE = 64


def fingerprint(value: Any) -> str:
    """SHA-256 of an array's dtype, shape and bytes (tensors are moved to NumPy first)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.ascontiguousarray(np.asarray(value))
    digest = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def image(seed: int) -> np.ndarray:
    """A smooth seeded uint8 SIZE×SIZE×3 picture (noise on a gradient, like a photo crop)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, SIZE)[None, :, None] + np.linspace(0, 40, SIZE)[:, None, None]
    return np.clip(ramp + rng.normal(0, 12, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)


def hole() -> np.ndarray:
    """A boolean mask with a square hole in the middle (True: to fill)."""
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[20:44, 16:40] = True
    return mask


def run_hiding(name: str, card: dict[str, Any]) -> dict[str, str]:
    import invimg

    n = int(card["config"].get("num_secrets", 1))
    stego = invimg.hide(image(1), [image(2 + i) for i in range(n)], model=name)
    out = {"stego": fingerprint(stego)}
    for i, secret in enumerate(invimg.reveal(stego, n, model=name)):
        out[f"secret{i}"] = fingerprint(secret)
    for i, secret in enumerate(invimg.reveal(stego, n, model=name, z="gaussian", seed=3)):
        out[f"secret{i}-gaussian"] = fingerprint(secret)
    return out


def run_rescaling(name: str, card: dict[str, Any]) -> dict[str, str]:
    import invimg

    lr = invimg.downscale(image(1), model=name)
    return {
        "lr": fingerprint(lr),
        "hr": fingerprint(invimg.upscale(lr, model=name)),
        "hr-gaussian": fingerprint(invimg.upscale(lr, model=name, z="gaussian", seed=2)),
    }


def run_pdgan(name: str, card: dict[str, Any]) -> dict[str, str]:
    import invimg

    fills = invimg.inpaint(image(1), hole(), n=2, seed=5, model=name)
    return {f"fill{i}": fingerprint(f) for i, f in enumerate(fills)}


def run_forward(name: str, card: dict[str, Any]) -> dict[str, str]:
    """Networks used inside other tasks (prior, feature nets): their forward on a fixed input."""
    import invimg

    net = invimg.load(name)
    x = torch.from_numpy(image(1)).permute(2, 0, 1)[None].float() / 255
    known = torch.from_numpy(~hole())[None, None].float()
    with torch.no_grad():
        outputs = net(x, known) if card["architecture"] == "pconv-unet" else net(x)
    items = outputs if isinstance(outputs, list | tuple) else [outputs]
    return {f"out{i}": fingerprint(t) for i, t in enumerate(items)}


def run_hog_decoder(name: str, card: dict[str, Any]) -> dict[str, str]:
    import invimg

    out = invimg.invert(image(1), "hog", method="decoder", decoder=name)
    return {"decoded": fingerprint(out)}


def run_rotnet(name: str, card: dict[str, Any]) -> dict[str, str]:
    import invimg

    out = run_forward(name, card)
    out["features"] = fingerprint(invimg.features_of(image(1), f"torch:{name}:conv3"))
    return out


def run_steg(name: str, card: dict[str, Any]) -> dict[str, str]:
    import invimg

    cover = np.concatenate([image(1), image(2)], axis=1)
    # The frame's salt comes from os.urandom on purpose; fixed here so outputs can match.
    with mock.patch("os.urandom", lambda n: bytes(n)):
        stego = invimg.embed(cover, "fingerprint me", model=name, seed=4)
    message = np.frombuffer(invimg.extract(stego, model=name), dtype=np.uint8)
    return {"stego": fingerprint(stego), "message": fingerprint(message)}


RUNNERS: dict[str, Callable[[str, dict[str, Any]], dict[str, str]]] = {
    "hinet": run_hiding,
    "deepmih": run_hiding,
    "riis": run_hiding,
    "irn": run_rescaling,
    "pdgan": run_pdgan,
    "pconv-unet": run_forward,
    "inpaint-features": run_forward,
    "hog-decoder": run_hog_decoder,
    "rotnet": run_rotnet,
    "steg-cinn": run_steg,
}


def fingerprints() -> dict[str, dict[str, str]]:
    """Output hashes of every shipped model, keyed by model name."""
    import invimg

    torch.manual_seed(0)
    weights = Path(invimg.__file__).parent / "zoo" / "weights"
    results: dict[str, dict[str, str]] = {}
    for path in sorted(weights.glob("*.json")):
        card = json.loads(path.read_text())
        runner = RUNNERS.get(card["architecture"])
        if runner is None:
            raise SystemExit(f"no runner for {path.stem} ({card['architecture']}): add one")
        results[path.stem] = runner(path.stem, card)
        print(f"{path.stem}: {len(results[path.stem])} outputs", file=sys.stderr)
    return results


def compare(before: Path, after: Path) -> int:
    """0 when both files hold the same hashes; lists every difference otherwise."""
    old, new = json.loads(before.read_text()), json.loads(after.read_text())
    differences = [
        f"{model}.{key}: {old.get(model, {}).get(key)} -> {new.get(model, {}).get(key)}"
        for model in sorted(set(old) | set(new))
        for key in sorted(set(old.get(model, {})) | set(new.get(model, {})))
        if old.get(model, {}).get(key) != new.get(model, {}).get(key)
    ]
    print("\n".join(differences) or f"identical: {sum(len(v) for v in old.values())} outputs")
    return 1 if differences else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="output JSON, or two to compare")
    parser.add_argument("--compare", action="store_true", help="compare two fingerprint files")
    args = parser.parse_args()
    if args.compare:
        return compare(*args.files)
    torch.set_num_threads(1)
    args.files[0].write_text(json.dumps(fingerprints(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
