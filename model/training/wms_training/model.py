"""The U-Net: the seed's architecture, with depth, width and input size configurable.

Each encoder level is two 3x3 conv + BatchNorm + ReLU, followed by 2x2 max pooling; the
decoder upsamples bilinearly, concatenates the skip connection and applies the same double
conv; a 1x1 conv produces one channel of logits (no sigmoid: the card says "sigmoid").
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """U-Net with `depth` encoder levels of `base`, 2*base, ... filters and a bottleneck."""

    def __init__(self, in_channels: int = 3, out_channels: int = 1, base: int = 16, depth: int = 4) -> None:
        super().__init__()
        if depth < 1 or base < 1:
            raise ValueError(f"depth and base must be >= 1 (got depth={depth}, base={base})")
        self.depth = depth
        widths = [base * 2**i for i in range(depth + 1)]
        self.encoders = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.encoders.append(DoubleConv(cin, w))
            cin = w
        self.bottleneck = DoubleConv(widths[-2], widths[-1])
        self.decoders = nn.ModuleList()
        for i in reversed(range(depth)):
            # upsampled deeper features (widths[i+1]) concatenated with the skip (widths[i])
            self.decoders.append(DoubleConv(widths[i + 1] + widths[i], widths[i]))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for dec, skip in zip(self.decoders, reversed(skips)):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], dim=1))
        return self.head(x)


def build_model(cfg: dict | None = None) -> UNet:
    cfg = cfg or {}
    return UNet(
        in_channels=3,
        out_channels=1,
        base=int(cfg.get("base_filters", 16)),
        depth=int(cfg.get("depth", 4)),
    )


def check_input_size(width: int, height: int, depth: int) -> None:
    """The input must halve cleanly `depth` times, or skips and upsampled maps disagree."""
    m = 2**depth
    if width % m or height % m:
        raise ValueError(f"input size {width}x{height} must be a multiple of {m} for depth {depth}")
