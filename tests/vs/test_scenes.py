"""The scene-cut detector's fade rule (vsvideogen.vs.scenes) on real photos."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsvideogen.vs.scenes import FADE_RESIDUAL, fade_residual, is_fade, is_scene_change, scene_features


def features(photo: np.ndarray, brightness: float = 1.0):
    """The detector's summaries of an RGB uint8 photo shown at ``brightness``."""
    image = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255 * brightness
    return scene_features(torch.nn.functional.interpolate(image, size=(90, 160), mode="area"))


@pytest.fixture(scope="module")
def photos() -> tuple[np.ndarray, np.ndarray]:
    data = pytest.importorskip("skimage.data")
    return data.astronaut(), data.coffee()


def test_a_cut_to_a_dark_shot_is_a_cut_not_a_fade(photos):
    astronaut, coffee = photos
    before, night = features(astronaut), features(coffee, 0.12)
    # A gain near 0 maps anything onto a picture this dark within the absolute residual alone ...
    assert fade_residual(before, night) < FADE_RESIDUAL
    # ... but it leaves most of the dark picture's own spread unexplained: the two shots are different.
    assert not is_fade(before, night) and is_scene_change(before, night)


@pytest.mark.parametrize("brightness", [0.12, 0.5])
def test_the_same_picture_darkened_is_a_fade(photos, brightness):
    coffee = photos[1]
    assert is_fade(features(coffee), features(coffee, brightness))
    assert not is_scene_change(features(coffee), features(coffee, brightness))
