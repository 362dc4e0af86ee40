"""Is a face usable as a makeup reference (or as the source)? Size, pose and mismatch checks.

Thresholds (chosen, documented in docs/makeup.md):
- inter-ocular distance < 16 px: nothing usable (lips are a few pixels) -> the face is refused;
  < 48 px: usable but colours are averaged over few pixels -> warning.
- |yaw| > 38 deg: one side of the face is foreshortened or hidden; triangles that fold over are
  masked out and regions seen too little are skipped -> warning. Yaw is measured from the mesh's
  3-D landmarks (left/right pairs of cheek, eye-corner and mouth-corner points), or approximated
  from the 2-D nose offset when a producer gives no depth.
"""

from __future__ import annotations

import math

import numpy as np

from ..face.zone_masks import inter_ocular_distance

MIN_IOD_PX = 16.0
SMALL_IOD_PX = 48.0
MAX_YAW_DEG = 38.0
MAX_YAW_GAP_DEG = 30.0
# subject's right / left pairs: face sides, outer eye corners, mouth corners, cheeks
_SYMMETRIC_PAIRS = ((234, 454), (33, 263), (61, 291), (127, 356), (93, 323))
_NOSE_TIP = 1
# tan(yaw) ~ NOSE_TO_YAW * (nose offset / half face width), fitted against the 3-D estimate on the test portraits
_NOSE_TO_YAW = 0.7


def estimate_yaw(face: dict) -> float:
    """Head yaw in degrees (0 = frontal; the sign flips with a mirrored photo)."""
    lm3 = face.get("landmarks_3d")
    if lm3 is not None:
        lm3 = np.asarray(lm3, dtype=np.float64)
        if lm3.ndim == 2 and lm3.shape[1] == 3 and np.ptp(lm3[:, 2]) > 1e-6:
            v = sum(lm3[b] - lm3[a] for a, b in _SYMMETRIC_PAIRS)
            return float(math.degrees(math.atan2(v[2], v[0])))
    lm = np.asarray(face["landmarks_xy"], dtype=np.float64)
    side = lm[454] - lm[234]
    half = np.linalg.norm(side) / 2
    if half < 1e-6:
        return 0.0
    offset = float((lm[_NOSE_TIP] - (lm[234] + lm[454]) / 2) @ side / (2 * half)) / half
    return float(math.degrees(math.atan(_NOSE_TO_YAW * offset)))


def check_face(face: dict | None, role: str) -> tuple[bool, list[str]]:
    """(usable, messages) for one face; `role` is 'source' or 'reference' (used in the messages)."""
    if face is None:
        return False, [f"no face found in the {role} image"]
    msgs = []
    iod = inter_ocular_distance(np.asarray(face["landmarks_xy"]))
    if iod < MIN_IOD_PX:
        return False, [f"{role} face is too small ({iod:.0f} px between the eyes, need at least {MIN_IOD_PX:.0f})"]
    if iod < SMALL_IOD_PX:
        msgs.append(
            f"{role} face is small ({iod:.0f} px between the eyes): colours are approximate; use a closer photo"
        )
    yaw = estimate_yaw(face)
    if abs(yaw) > MAX_YAW_DEG:
        msgs.append(
            f"{role} face is turned {abs(yaw):.0f} deg (over {MAX_YAW_DEG:.0f}): the far side is hidden; use a frontal photo"
        )
    return True, msgs


def pose_gap_message(source_face: dict, reference_face: dict) -> str | None:
    gap = abs(estimate_yaw(source_face) - estimate_yaw(reference_face))
    if gap > MAX_YAW_GAP_DEG:
        return f"source and reference poses differ by {gap:.0f} deg of yaw: makeup on the far side is extrapolated"
    return None
