"""Discriminators for adversarial training, spectrally normalised: a PatchGAN and a U-Net.

Both take ``[N, C, H, W]`` images in 0..1 (H and W multiples of 8) and return realism logits (higher: more
real); ``features`` is the width of the first layer.

:class:`PatchDiscriminator`: three stride-2 4x4 convolutions (``features``, ``2 * features``, ``4 * features``
channels) and two 3x3 convolutions, all spectrally normalised, with LeakyReLU(0.2) between them. Every
output logit judges a 54 x 54 pixel patch of the input, so the network rates local texture rather than whole
images, and works on any crop size. Spectral normalisation keeps it 1-Lipschitz per layer, which steadies
hinge-loss training.

:class:`UNetDiscriminator`: an encoder-decoder with skip connections that returns one logit per input pixel,
so the decoder combines the coarse, wide view of the bottleneck (global structure) with the full-resolution
encoder features (local texture), and the generator gets dense per-pixel feedback.

:class:`HighPass`: an optional input stage that shows either of them only the amplified fine detail.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
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


class UNetDiscriminator(nn.Module):
    """``[N, C, H, W]`` images in 0..1 -> ``[N, 1, H, W]`` per-pixel logits (higher: more real).

    A full-resolution 3x3 convolution, three stride-2 4x4 convolutions (``2 *``, ``4 *``, ``8 * features``
    channels), then three steps back up (bilinear x2, 3x3 convolution, plus the encoder features of that
    size), and two 3x3 convolutions to one logit per pixel; LeakyReLU(0.2) between them. All but the first
    and the last convolution are spectrally normalised: those two set the input and output gains freely, so
    that the small differences between a good upscale and a real image can still reach the hinge margin.
    The last convolution starts at zero, so training begins from an undecided discriminator.

    Args:
        channels: image channels.
        features: channels of the first layer.
    """

    def __init__(self, channels: int = 3, features: int = 32) -> None:
        super().__init__()
        widths = [features, 2 * features, 4 * features, 8 * features]
        self.stem = nn.Conv2d(channels, features, 3, padding=1)
        self.down = nn.ModuleList(spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1))
                                  for cin, cout in zip(widths, widths[1:]))
        self.up = nn.ModuleList(spectral_norm(nn.Conv2d(cin, cout, 3, padding=1))
                                for cin, cout in zip(widths[:0:-1], widths[-2::-1]))
        self.head = nn.Sequential(spectral_norm(nn.Conv2d(features, features, 3, padding=1)), nn.LeakyReLU(0.2),
                                  nn.Conv2d(features, 1, 3, padding=1))
        self.act = nn.LeakyReLU(0.2)
        nn.init.zeros_(self.head[-1].weight)  # every logit starts at 0: undecided
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel logits; the input is centred to -1..1 first."""
        skips = [self.act(self.stem(2.0 * x - 1.0))]
        for conv in self.down:
            skips.append(self.act(conv(skips[-1])))
        x = skips.pop()
        for conv in self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.act(conv(x)) + skips.pop()
        return self.head(x)


class HighPass(nn.Module):
    """An input stage that shows a discriminator only the fine detail of ``[N, C, H, W]`` images in 0..1.

    Returns ``0.5 + gain * (x - box5(x))``, ``box5`` being the 5x5 mean (reflected borders): an image in the
    0..1 convention the discriminators expect, whose content is the amplified high-frequency residual. The
    texture a fidelity upscaler gets wrong differs from the real one by a few 8-bit levels, a difference a
    spectrally normalised discriminator barely responds to next to the smooth content of the image. Stripped
    of that content (amplifying the whole image instead does not help), it is learnt many times faster.

    Args:
        channels: image channels.
        gain: amplification of the residual.
    """

    def __init__(self, channels: int = 3, gain: float = 4.0) -> None:
        super().__init__()
        self.gain = gain
        self.register_buffer("kernel", torch.full((channels, 1, 5, 5), 1.0 / 25.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The amplified detail, centred at 0.5."""
        blurred = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.kernel, groups=x.shape[1])
        return 0.5 + self.gain * (x - blurred)
