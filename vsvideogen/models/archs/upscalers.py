"""Which upscaling architecture a checkpoint holds, for models given to ``upscale`` as a file path.

The layouts are told apart by their keys: BasicVSR has ``spynet.*`` and ``backward_trunk.*``; RRDBNet has
``conv_first`` and ``body.<i>.rdb1``; SRVGGNetCompact has only ``body.<i>`` convolutions and PReLUs.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ...errors import WeightsError
from .basicvsr import basicvsr_from_state_dict
from .rrdb import is_rrdbnet_state_dict, rrdbnet_from_state_dict
from .srvgg import is_srvgg_state_dict, srvgg_from_state_dict

__all__ = ["upscaler_from_state_dict"]


def upscaler_from_state_dict(state_dict: Mapping[str, torch.Tensor], func: str = "load_model") -> nn.Module:
    """Build and load the upscaler (BasicVSR, RRDBNet or SRVGGNetCompact) whose layout ``state_dict`` has.

    Raises:
        WeightsError: The keys match none of the three layouts, or a tensor does not fit.
    """
    if "backward_trunk.main.0.weight" in state_dict or any(k.startswith("spynet.") for k in state_dict):
        return basicvsr_from_state_dict(state_dict, func)
    if is_rrdbnet_state_dict(state_dict):
        return rrdbnet_from_state_dict(state_dict, func)
    if is_srvgg_state_dict(state_dict):
        return srvgg_from_state_dict(state_dict, func)
    shown = ", ".join(f"'{k}'" for k in list(state_dict)[:3])
    raise WeightsError(
        func, f"the checkpoint (keys {shown}, ...) is not an upscaler layout known here; use a Real-ESRGAN RRDBNet "
        "(RealESRGAN_x4plus/x2plus), a compact SRVGGNetCompact (realesr-general-x4v3) or a BasicVSR checkpoint"
    )
