"""A small AlexNet-shaped CNN trained here, so that CNN inversion can be shown and measured.

No ImageNet network ships with invimg (and torchvision cannot be installed on
every machine), so the per-layer inversion benchmark inverts a network
trained in this repository on the training photos: it learns to tell which
way up a photo crop is (0°, 90°, 180° or 270°; Gidaris et al., ICLR 2018),
a task that needs no labels and makes the network learn edges, textures and
the layout of scenes. Its layers are named as AlexNet's, so the contact
sheets read like the papers' figures::

    conv1 5×5/2 ─ norm1 ─ relu1 ─ pool1 3×3/2 ─ conv2 3×3 ─ norm2 ─ relu2 ─ pool2 3×3/2
    ─ conv3 3×3 ─ norm3 ─ relu3 ─ conv4 3×3 ─ norm4 ─ relu4 ─ conv5 3×3 ─ norm5 ─ relu5
    ─ pool5 3×3/2 ─ avgpool (4×4) ─ fc6 ─ relu6 ─ fc7 ─ relu7 ─ fc8 (4 rotations)

The ``norm`` layers are batch normalisation (AlexNet's are LRN): in
evaluation mode they are fixed per-channel affine maps, so they change
nothing for inversion but let the network learn in a few CPU minutes.

Strides: conv1 2, pool1 4, pool2 8, pool5 16. The input is an RGB image in
[0, 1]; the network normalises it itself ((x − ½)/¼), so no ``--mean``/
``--std`` is needed to invert it.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ..zoo import register_architecture

#: The named layers, in order (what ``--features torch:CARD.json:LAYER`` accepts).
LAYERS = (
    "conv1", "norm1", "relu1", "pool1", "conv2", "norm2", "relu2", "pool2", "conv3", "norm3",
    "relu3", "conv4", "norm4", "relu4", "conv5", "norm5", "relu5", "pool5", "avgpool",
    "fc6", "relu6", "fc7", "relu7", "fc8",
)  # fmt: skip
#: Where the flattening happens: the layers before it are convolutional.
_SPATIAL = LAYERS.index("fc6")


@register_architecture("rotnet")
class RotNet(nn.Module):
    """Rotation classifier: ``(N, 3, H, W)`` in [0, 1], H, W ≥ 32 → ``(N, 4)`` logits."""

    @dataclass
    class Config:
        width: int = 32
        hidden: int = 128
        classes: int = 4

    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.width < 4 or config.hidden < 4 or config.classes < 2:
            raise ValueError(f"width and hidden must be >= 4 and classes >= 2, got {config}")
        self.config = config
        c = config.width
        self.conv1 = nn.Conv2d(3, c, 5, stride=2, padding=2)
        self.norm1 = nn.BatchNorm2d(c)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c, 2 * c, 3, padding=1)
        self.norm2 = nn.BatchNorm2d(2 * c)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * c, 3 * c, 3, padding=1)
        self.norm3 = nn.BatchNorm2d(3 * c)
        self.relu3 = nn.ReLU()
        self.conv4 = nn.Conv2d(3 * c, 3 * c, 3, padding=1)
        self.norm4 = nn.BatchNorm2d(3 * c)
        self.relu4 = nn.ReLU()
        self.conv5 = nn.Conv2d(3 * c, 2 * c, 3, padding=1)
        self.norm5 = nn.BatchNorm2d(2 * c)
        self.relu5 = nn.ReLU()
        self.pool5 = nn.MaxPool2d(3, stride=2, padding=1)
        self.avgpool = nn.AdaptiveAvgPool2d(4)
        self.fc6 = nn.Linear(2 * c * 16, config.hidden)
        self.relu6 = nn.ReLU()
        self.fc7 = nn.Linear(config.hidden, config.hidden)
        self.relu7 = nn.ReLU()
        self.fc8 = nn.Linear(config.hidden, config.classes)

    def forward(self, x: Tensor) -> Tensor:
        x = (x - 0.5) / 0.25
        for name in LAYERS[:_SPATIAL]:
            x = getattr(self, name)(x)
        x = x.flatten(1)
        for name in LAYERS[_SPATIAL:]:
            x = getattr(self, name)(x)
        return x
