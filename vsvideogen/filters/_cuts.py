"""Where the filters see scene cuts: the ``scene_change`` argument they share, read into a :class:`CutRule`.

``"auto"`` honours ``_SceneChangeNext`` on frame ``i`` / ``_SceneChangePrev`` on frame ``i + 1`` where either
prop exists, and runs the built-in detector (:mod:`vsvideogen.vs.scenes`) where neither does; a float in
(0, 1) runs the detector with that threshold on every pair, ignoring the props; ``None`` sees no cut at all.
A decision depends on the two frames only, so it is the same whatever order frames are requested in.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import vapoursynth as vs

from ..errors import VSVideoGenError
from ..vs.scenes import DEFAULT_THRESHOLD, SceneFeatures, is_scene_change

__all__ = ["CutRule", "cut_rule"]


@dataclass(frozen=True)
class CutRule:
    """How to tell whether a cut lies between two consecutive frames.

    Attributes:
        detect: Run the detector where the props do not decide.
        threshold: The detector's threshold.
        honour_props: Read ``_SceneChangeNext`` / ``_SceneChangePrev`` where either exists.
    """

    detect: bool
    threshold: float
    honour_props: bool

    @property
    def active(self) -> bool:
        """Whether any cut can be seen at all."""
        return self.detect or self.honour_props

    def marked(self, a: vs.VideoFrame, b: vs.VideoFrame) -> bool | None:
        """What the props of consecutive frames ``a``, ``b`` say of a cut between them; None where they say
        nothing or are not honoured."""
        if self.honour_props and ("_SceneChangeNext" in a.props or "_SceneChangePrev" in b.props):
            return bool(a.props.get("_SceneChangeNext", 0)) or bool(b.props.get("_SceneChangePrev", 0))
        return None

    def between(self, a: vs.VideoFrame, b: vs.VideoFrame,
                features: Callable[[], tuple[SceneFeatures, SceneFeatures]]) -> bool:
        """Whether a cut lies between consecutive frames ``a`` and ``b``; ``features`` gives the detector's
        summaries of the two (called only when the detector decides)."""
        cut = self.marked(a, b)
        if cut is not None:
            return cut
        return self.detect and is_scene_change(*features(), self.threshold)


def cut_rule(func: str, scene_change: Any) -> CutRule:
    """The rule ``scene_change`` (``"auto"``, a threshold in (0, 1), or None) asks for.

    Raises:
        VSVideoGenError: any other value.
    """
    if scene_change is None:
        return CutRule(False, DEFAULT_THRESHOLD, False)
    if isinstance(scene_change, str):
        if scene_change == "auto":
            return CutRule(True, DEFAULT_THRESHOLD, True)
    elif isinstance(scene_change, (int, float)) and not isinstance(scene_change, bool):
        if 0 < scene_change < 1:
            return CutRule(True, float(scene_change), False)
        raise VSVideoGenError(func, f"scene_change={scene_change!r} is out of range; a detector threshold is "
                                    f"in (0, 1), default {DEFAULT_THRESHOLD}")
    raise VSVideoGenError(func, f"scene_change={scene_change!r} is not supported; use 'auto', a threshold in "
                                "(0, 1) such as 0.15, or None")
