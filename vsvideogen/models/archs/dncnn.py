"""DnCNN: a plain stack of 3x3 convolutions that predicts the noise and subtracts it (Zhang et al., 2017).

``depth`` convolutions of ``features`` channels with ReLU between them (batch norm folded into the
convolution biases, as in the released checkpoints); the output is ``x - net(x)``. The network is *blind*:
it takes no noise level. KAIR's checkpoints (``dncnn_25.pth``: grayscale, trained at sigma 25, 17 layers;
``dncnn_color_blind.pth``: colour, sigma 0-50, 20 layers) load as they are: the module's parameter names
are the checkpoint's (``model.<2i>.weight`` / ``.bias`` for convolution ``i``), so no key renaming is
needed and :func:`vsvideogen.models.weights.load_into` names the checkpoint's own key on a misfit.

:func:`kair_denoiser_from_state_dict` recognises any of the denoisers here (DnCNN, FFDNet, DRUNet) from a
checkpoint's keys and shapes; it is the builder for denoise weight files given by path.

Nothing here imports VapourSynth.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ...errors import WeightsError
from ..weights import load_into

__all__ = ["DnCNN", "dncnn_from_state_dict", "kair_denoiser_from_state_dict", "conv_stack_shape"]


class DnCNN(nn.Module):
    """Blind residual denoiser.

    Args:
        channels: Image channels in and out (1 grayscale, 3 colour).
        features: Channels of the hidden convolutions.
        depth: Number of convolutions (17 for DnCNN-S, 20 for the blind colour model).

    Attributes:
        channels: as given.
        noise_conditional: False: ``forward`` ignores any noise level.
        modulo: 1: any frame size works.
        tile_context: ``depth``: the receptive-field radius in pixels, so tiles with this much context
            give exactly the untiled result.
        bytes_per_pixel: Rough peak activation memory per input pixel in fp32 (for tiling budgets).
    """

    noise_conditional = False
    modulo = 1

    def __init__(self, channels: int = 1, features: int = 64, depth: int = 17) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError("DnCNN: depth must be at least 2")
        self.channels = channels
        self.bytes_per_pixel = 3 * features * 4
        self.tile_context = depth
        layers: list[nn.Module] = []
        widths = [channels] + [features] * (depth - 1) + [channels]
        for i in range(depth):
            layers.append(nn.Conv2d(widths[i], widths[i + 1], 3, padding=1))
            if i < depth - 1:
                layers.append(nn.ReLU(inplace=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        """Denoise ``x`` (``[N, channels, H, W]``, nominal 0..1); ``sigma`` is accepted and ignored."""
        return x - self.model(x)


def conv_stack_shape(state_dict: Mapping[str, torch.Tensor], what: str, func: str) -> tuple[int, int, int, int]:
    """``(in_channels, features, out_channels, depth)`` of a ``model.<2i>`` convolution stack checkpoint.

    Raises:
        WeightsError: the keys are not a conv stack of 3x3 convolutions.
    """
    convs = []
    while f"model.{2 * len(convs)}.weight" in state_dict:
        convs.append(state_dict[f"model.{2 * len(convs)}.weight"])
    if len(convs) < 2 or any(w.ndim != 4 for w in convs):
        raise WeightsError(
            func, f"the checkpoint is not a {what} (expected 3x3 convolutions 'model.0.weight', 'model.2.weight', ...); "
            f"use a KAIR {what} checkpoint"
        )
    first, last = convs[0], convs[-1]
    return first.shape[1], first.shape[0], last.shape[0], len(convs)


def dncnn_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> DnCNN:
    """Build the :class:`DnCNN` that fits a KAIR DnCNN checkpoint (or one of ours) and load it strictly.

    Raises:
        WeightsError: not a DnCNN layout, or a tensor is missing, unexpected or of the wrong shape (the
            message names the key and both shapes).
    """
    cin, features, cout, depth = conv_stack_shape(state_dict, "DnCNN", func)
    if cin != cout or cin not in (1, 3):
        raise WeightsError(
            func, f"'model.0.weight' takes {cin} channels and the last layer gives {cout}; a DnCNN maps 1 or 3 "
            "channels to as many: use a DnCNN checkpoint"
        )
    net = DnCNN(cin, features, depth)
    return load_into(net, {k: v.float() for k, v in state_dict.items()}, func).eval()


def kair_denoiser_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> nn.Module:
    """Build whichever KAIR-layout denoiser (DnCNN, FFDNet, DRUNet) the checkpoint holds.

    FFDNet is told from DnCNN by its first layer, which takes ``4 * C + 1`` channels (pixel-unshuffled image
    plus noise map); DRUNet by its ``m_head`` key.

    Raises:
        WeightsError: the checkpoint is none of them, or does not fit the one it looks like.
    """
    from .drunet import drunet_from_state_dict
    from .ffdnet import ffdnet_from_state_dict

    if "m_head.weight" in state_dict:
        return drunet_from_state_dict(state_dict, func)
    cin, _, cout, _ = conv_stack_shape(state_dict, "DnCNN, FFDNet or DRUNet", func)
    if cin == cout + 1 and cout % 4 == 0:
        return ffdnet_from_state_dict(state_dict, func)
    return dncnn_from_state_dict(state_dict, func)
