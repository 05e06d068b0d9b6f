"""Where the filters see scene cuts: the ``scene_change`` argument they share, read into a :class:`CutRule`.

``"auto"`` honours ``_SceneChangeNext`` on frame ``i`` / ``_SceneChangePrev`` on frame ``i + 1`` where either
prop exists, and runs the built-in detector (:mod:`vsvideogen.vs.scenes`) where neither does; a float in
(0, 1) runs the detector with that threshold on every pair, ignoring the props; ``None`` sees no cut at all.
A decision depends on the pair and :data:`REACH` frames on each side of it only, so it is the same whatever
order frames are requested in.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import vapoursynth as vs

from ..errors import VSVideoGenError
from ..vs.scenes import DEFAULT_THRESHOLD, SceneFeatures, is_scene_change, scene_score

__all__ = ["CONTEXT", "REACH", "CutRule", "cut_rule"]

#: Frames before the first of a pair (and after the second) that the detector also looks at.
REACH = 2
#: Frames a decision looks at: the pair and :data:`REACH` on each side.
CONTEXT = 2 * REACH + 2


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
                summaries: Callable[[], Sequence[SceneFeatures | None]]) -> bool:
        """Whether a cut lies between consecutive frames ``a`` and ``b``. ``summaries`` gives the detector's
        summaries (:func:`vsvideogen.vs.scenes.scene_features`) of the :data:`CONTEXT` frames from two before
        ``a`` to two after ``b``, None for those outside the clip (a pair with one is no cut: clamped at the clip's
        ends, it repeats a frame); it is called only when the detector decides."""
        cut = self.marked(a, b)
        if cut is not None:
            return cut
        if not self.detect:
            return False
        s = summaries()
        if s[2] is None or s[3] is None:
            return False  # a frame standing in for one beyond the clip's end repeats its neighbour
        neighbours = [scene_score(s[k], s[k + 1]) for k in (0, 1, 3, 4) if s[k] is not None and s[k + 1] is not None]
        return is_scene_change(s[2], s[3], self.threshold, neighbours=neighbours)


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
