"""A small patch discriminator for adversarial training (a PatchGAN: one realism score per image patch).

Three stride-2 4x4 convolutions (``features``, ``2 * features``, ``4 * features`` channels) and two 3x3
convolutions, all spectrally normalised, with LeakyReLU(0.2) between them. Every output logit judges a
54 x 54 pixel patch of the input, so the network rates local texture rather than whole images, and works on
any crop size. Spectral normalisation keeps it 1-Lipschitz per layer, which steadies hinge-loss training.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    """``[N, C, H, W]`` images in 0..1 -> ``[N, 1, H / 8, W / 8]`` logits (higher: more real).

    Args:
        channels: image channels.
        features: channels of the first layer (the next ones have 2x and 4x as many).
    """

    def __init__(self, channels: int = 3, features: int = 32) -> None:
        super().__init__()
        widths = [channels, features, 2 * features, 4 * features]
        layers: list[nn.Module] = []
        for cin, cout in zip(widths, widths[1:]):
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
        layers += [spectral_norm(nn.Conv2d(widths[-1], widths[-1], 3, padding=1)), nn.LeakyReLU(0.2),
                   spectral_norm(nn.Conv2d(widths[-1], 1, 3, padding=1))]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits; the input is centred to -1..1 first."""
        return self.body(2.0 * x - 1.0)
