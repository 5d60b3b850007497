"""The ``robust_hiding`` training task: RIIS trained through a random channel.

Recipe sections (see ``training/recipes/riis*.yaml``)::

    task: robust_hiding
    model: {architecture: riis, init_from: hinet-small, num_blocks: 8, ...}
    loss:
      reveal: 5          # Σ‖secret' − secret‖², secret' revealed from the distorted stego
      hide: 1            # Σ‖stego − cover‖²            (HiNet's)
      low_frequency: 1   # Σ‖LL(stego) − LL(cover)‖²    (HiNet's)
      enhance: 1         # Σ‖CEM(received) − sent‖²: the CEM restores the clean 8-bit stego
      project: 1         # Σ‖CANP(container) − r‖²: the CANP predicts the lost part
      reduction: sum
      distortions: {round: {weight: 0.2}, jpeg: {weight: 0.4, low: 50, high: 95}, ...}

``model.init_from`` (a shipped name or a card path) copies a trained HiNet
into the invertible part; the CEM and CANP start as the identity and ``z = 0``,
so step 0 reveals exactly as that HiNet does.

Each step: hide; round to 8 bits (straight-through); draw one channel from
``loss.distortions`` (:class:`invimg.distortions.DistortionMixture`) and apply
its differentiable approximation; round again (the received file is 8-bit);
enhance, project, reveal conditioned on the channel. The draw depends only on
``seed`` and the step number, so a resumed run meets the same channels.

Validation runs the *real* channels (libjpeg, seeded noise) the benchmark
uses: PSNR (RGB, dB) of the stego vs the cover, and of the secret revealed
after each channel of :data:`VALIDATION_CHANNELS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..distortions import DistortionMixture, parse_distortion
from ..errors import ConfigError
from ..metrics import psnr
from ..training import TrainConfig, fp32, register_task
from ..training.config import build_section
from ..training.distributed import unwrap
from .losses import low_frequency, squared_error, sum_terms
from .riis import RIIS, RobustReveal
from .task import split_batch, warm_start

#: The channels validation measures, by metric name (the benchmark's table rows).
VALIDATION_CHANNELS: dict[str, str] = {
    "png": "round:8",
    "jpeg90": "jpeg:90",
    "jpeg75": "jpeg:75",
    "gaussian2": "gaussian:2",
}
#: A mixture for recipes that name none: mostly JPEG, some noise, some clean PNG.
DEFAULT_MIXTURE: dict[str, dict[str, Any]] = {
    "round": {"weight": 0.2},
    "jpeg": {"weight": 0.5, "low": 50, "high": 95},
    "gaussian": {"weight": 0.2, "low": 0.5, "high": 6},
    "poisson": {"weight": 0.1, "low": 300, "high": 10000},
}


@dataclass
class RobustLossConfig:
    """The ``loss:`` section of a robust-hiding recipe (see the module docstring)."""

    reveal: float = 5.0
    hide: float = 1.0
    low_frequency: float = 1.0
    enhance: float = 1.0
    project: float = 1.0
    reduction: str = "sum"
    distortions: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_MIXTURE))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RobustLossConfig:
        """Validate a recipe's ``loss`` mapping; unknown keys are errors, not ignored."""
        config = build_section(cls, raw, "loss.", what="loss")
        if config.reduction not in ("sum", "mean"):
            raise ConfigError("loss.reduction must be 'sum' or 'mean'")
        weights = (config.reveal, config.hide, config.low_frequency, config.enhance, config.project)
        if min(weights) < 0:
            raise ConfigError("loss weights must be >= 0")
        return config

    def mixture(self) -> DistortionMixture:
        """The channel sampler, with recipe errors as ConfigError."""
        if not isinstance(self.distortions, dict):
            raise ConfigError("loss.distortions must map kinds to {weight, low, high, ...}")
        try:
            return DistortionMixture(self.distortions)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"loss.distortions: {exc}") from None


class RobustHidingTask:
    """Implements :class:`invimg.training.TrainingTask` for :class:`RIIS`."""

    def __init__(self, config: TrainConfig) -> None:
        section = dict(config.model)
        architecture = section.pop("architecture", "riis")
        if architecture != "riis":
            raise ConfigError(
                f"task robust_hiding trains architecture 'riis', not {architecture!r}"
            )
        self.init_from: str | None = section.pop("init_from", None)
        self.model_config = build_section(RIIS.Config, section, "model.")
        self.loss = RobustLossConfig.from_dict(dict(config.loss))
        self.mixture = self.loss.mixture()
        self.seed = config.seed
        if config.data.batch_size < 2:
            raise ConfigError("data.batch_size must be at least 2 (one cover and one secret)")

    def build_model(self) -> nn.Module:
        model = RIIS(self.model_config)
        if self.init_from:
            warm_start(model, self.init_from)
        return model

    def generator(self, step: int) -> torch.Generator:
        """Randomness of one step (channel and noise): a function of seed, rank and step."""
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        return torch.Generator().manual_seed((self.seed * 1_000_003 + step) * 64 + rank)

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        cover, secrets = split_batch(batch, 1)
        generator = self.generator(step)
        channel = self.mixture.sample(generator)
        with fp32(batch.device.type):
            hidden, revealed = model(
                cover.float(), [secrets[0].float()], generator=generator, distortion=channel
            )
            loss, terms = self.objective(cover, secrets[0], hidden.stego, hidden.lost[0], revealed)
        return loss, terms | {"severity": channel.severity()}

    def objective(
        self, cover: Tensor, secret: Tensor, stego: Tensor, lost: Tensor, revealed: RobustReveal
    ) -> tuple[Tensor, dict[str, float]]:
        """The weighted RIIS loss and its named terms."""
        red, w = self.loss.reduction, self.loss
        assert revealed.container is not None and revealed.sent is not None
        assert revealed.z is not None
        terms = {
            "reveal": squared_error(revealed.secrets[0], secret, red),
            "hide": squared_error(stego, cover, red),
            "low_freq": squared_error(low_frequency(stego), low_frequency(cover), red),
            "enhance": squared_error(revealed.container, revealed.sent.detach(), red),
            "project": squared_error(revealed.z, lost.detach(), red),
        }
        weights = {
            "reveal": w.reveal,
            "hide": w.hide,
            "low_freq": w.low_frequency,
            "enhance": w.enhance,
            "project": w.project,
        }
        total = sum_terms(weights[k] * v for k, v in terms.items())
        return total, {k: float(v.detach()) for k, v in terms.items()}

    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        net = unwrap(model)
        assert isinstance(net, RIIS)
        cover, secrets = split_batch(batch, 1, allow_flips=True)
        hidden = net.hide(cover.float(), [secrets[0].float()])
        stego = torch.round(hidden.stego.clamp(0, 1) * 255) / 255
        metrics = {"psnr_stego": psnr(cover, stego, quantize=True)}
        for name, spec in VALIDATION_CHANNELS.items():
            channel = parse_distortion(spec).eval()
            generator = torch.Generator().manual_seed(0)
            received = torch.round(channel(stego, generator).clamp(0, 1) * 255) / 255
            secret = net.reveal(received, "zeros", channel=channel).secrets[0]
            metrics[f"psnr_secret_{name}"] = psnr(secrets[0], secret.clamp(0, 1), quantize=True)
        return metrics


@register_task("robust_hiding")
def make_robust_hiding_task(config: TrainConfig) -> RobustHidingTask:
    """Factory registered with the trainer under the name ``robust_hiding``."""
    return RobustHidingTask(config)
