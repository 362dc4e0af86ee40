"""Which faces need an expression fix: closed eyes (EAR + eyeBlink) and a missing smile (blendshapes or geometry).

Measurements come from face/analysis.py; this module only turns them into decisions with user thresholds.

Eyes. The source system called an eye closed when its eye aspect ratio (EAR) was below 0.22. On its own that
misfires on open eyes that squint (a broad smile: EAR 0.19 on obama.jpg) or look down, so the blink
blendshape, which is robust to pose, arbitrates the doubtful band:
  EAR < UNAMBIGUOUS_EAR_FRACTION x threshold   closed: the lids (nearly) touch; no open eye of the test
                                               portraits measures below 0.19, i.e. 0.87 x 0.22
  EAR < threshold                              closed only if eyeBlink >= blink threshold (or no blendshapes)
  otherwise                                    open
Measured with the real model: open eyes EAR 0.19-0.35 with eyeBlink <= 0.30; eyes painted shut (tests)
EAR <= 0.13 with eyeBlink 0.34-0.66. A blink threshold of 0 trusts the EAR alone; an EAR threshold of 0
never calls an eye closed.

Smile. level = mean mouthSmile blendshape when present, else the mouth-corner lift geometry (analysis.py);
a face needs a smile when its level is below the threshold. Neutral portraits measure 0.01-0.07, smiling
ones 0.61-0.94 (blendshapes; geometry agrees: neutral <= 0.15, smiling >= 0.6).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..face import analysis

FIX_CHOICES = ("eyes", "smile", "eyes and smile")
EAR_THRESHOLD = 0.22  # the source system's closed-eye EAR
BLINK_THRESHOLD = 0.5
SMILE_THRESHOLD = 0.3
UNAMBIGUOUS_EAR_FRACTION = 0.7  # below this fraction of the EAR threshold no blendshape can call the eye open
SIDES = ("left", "right")  # the subject's own sides


@dataclass(frozen=True)
class Thresholds:
    ear: float = EAR_THRESHOLD
    blink: float = BLINK_THRESHOLD
    smile: float = SMILE_THRESHOLD

    def __post_init__(self):
        for name, value, hi in (("EAR", self.ear, 1.0), ("blink", self.blink, 1.0), ("smile", self.smile, 1.0)):
            if not 0.0 <= float(value) <= hi:
                raise ValueError(f"FaceLab: the {name} threshold must be between 0 and {hi}, got {value}")


def wants(fix: str) -> tuple[bool, bool]:
    """(fix eyes, fix smile) for a FIX_CHOICES value."""
    if fix not in FIX_CHOICES:
        raise ValueError(f"FaceLab: 'fix' must be one of {FIX_CHOICES}, got {fix!r}")
    return fix in ("eyes", "eyes and smile"), fix in ("smile", "eyes and smile")


def eye_state(ear: float, blink: float | None, t: Thresholds) -> tuple[bool, str]:
    """(closed, what decided it) for one eye."""
    if ear >= t.ear:
        return False, f"open: EAR {ear:.3f} >= {t.ear:.3f}"
    if ear < UNAMBIGUOUS_EAR_FRACTION * t.ear:
        return True, f"closed: EAR {ear:.3f} < {UNAMBIGUOUS_EAR_FRACTION * t.ear:.3f} (lids touch)"
    if blink is None:
        return True, f"closed: EAR {ear:.3f} < {t.ear:.3f} (no blendshapes to confirm)"
    if blink >= t.blink:
        return True, f"closed: EAR {ear:.3f} < {t.ear:.3f} and eyeBlink {blink:.2f} >= {t.blink:.2f}"
    return False, f"open: EAR {ear:.3f} is low but eyeBlink {blink:.2f} < {t.blink:.2f} (squint or downward gaze)"


def assess_face(face: dict, t: Thresholds, fix: str) -> dict:
    """JSON-ready decision for one FACE_LANDMARKS face: eyes, smile, and the list of regions to fix."""
    fix_eyes, fix_smile = wants(fix)
    lm = face["landmarks_xy"]
    blend = face.get("blendshapes") or None
    eyes = analysis.eye_openness(lm, blend)
    out_eyes = {}
    fix_regions: list[str] = []
    for side in SIDES:
        closed, why = eye_state(eyes[side]["ear"], eyes[side]["blink"], t)
        out_eyes[side] = {
            "ear": round(eyes[side]["ear"], 4),
            "blink": None if eyes[side]["blink"] is None else round(eyes[side]["blink"], 4),
            "closed": closed,
            "decision": why,
        }
        if fix_eyes and closed:
            fix_regions.append(f"eye_{side}")
    smile = analysis.smile_level(lm, blend)
    smiling = smile["level"] >= t.smile
    if fix_smile and not smiling:
        fix_regions.append("mouth")
    source = "blendshapes" if smile["blendshape"] is not None else "mouth-corner geometry"
    return {
        "box": [round(float(v), 1) for v in face["bbox_xyxy"][:4]],
        "eyes": out_eyes,
        "smile": {
            "level": round(smile["level"], 4),
            "source": source,
            "blendshape": None if smile["blendshape"] is None else round(smile["blendshape"], 4),
            "geometry": round(smile["geometry"], 4),
            "smiling": smiling,
        },
        "has_blendshapes": blend is not None,
        "fix": fix_regions,
    }
