"""Per-face measurements a user can route: eye openness, smile level, head pose, sizes.

Every function takes plain arrays / dicts (a face of FACE_LANDMARKS, FaceLab's or core's) and returns
JSON-serialisable values. Left/right are the subject's own sides as MediaPipe names them (for a frontal
face "left" is on the image's right); MediaPipe's blendshape names follow the same convention (checked on
an asymmetric smile: mouthSmileLeft is high where the left mouth corner, landmark 291, is lifted).

Reference values measured with the real model on the test portraits (open eyes, mostly neutral or smiling):
  EAR of open eyes 0.19 (smiling squint) .. 0.35; eyeBlink of open eyes <= 0.30.
  Mouth-corner lift (fraction of mouth width) of neutral mouths -0.11 .. +0.03, broad smiles +0.10 .. +0.16.
"""

from __future__ import annotations

import math

import numpy as np

from ..base.mesh import CHIN_BOTTOM as CHIN
from ..base.mesh import FOREHEAD_TOP as FOREHEAD
from ..base.mesh import MOUTH_CORNERS, OUTER_EYE_CORNERS
from .face_landmarks import check_face_index, face_size, validate
from .zone_masks import inter_ocular_distance

# Six-point eye contours for the eye aspect ratio (Soukupová & Čech 2016): outer corner, upper lid (outer,
# inner), inner corner, lower lid (inner, outer); so p2-p6 and p3-p5 are the two vertical pairs.
EAR_POINTS = {"right": (33, 160, 158, 133, 153, 144), "left": (263, 387, 385, 362, 380, 373)}
EAR_CLOSED = 0.10  # at or below: openness 0 (lids touch; the mesh keeps a small gap)
EAR_OPEN = 0.25  # at or above: openness 1 (typical relaxed open eye)
EYE_OPEN_THRESHOLD = 0.4  # openness >= this counts as open

LIP_CENTRE = (13, 14)  # inner upper / lower lip midpoints
SMILE_LIFT_FULL = 0.12  # corner lift (fraction of mouth width) that counts as a full smile in the geometric level


def _lm(landmarks_xy) -> np.ndarray:
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] < 468 or lm.shape[1] < 2:
        raise ValueError(f"FaceLab: expected MediaPipe mesh landmarks of shape (478, 2), got {lm.shape}")
    return lm


def _blend(blendshapes, name: str) -> float | None:
    if not blendshapes or name not in blendshapes:
        return None
    return float(blendshapes[name])


def eye_aspect_ratio(landmarks_xy, side: str) -> float:
    """EAR of one eye ("left"/"right", the subject's): lid opening over eye width; ~0.3 open, < 0.1 closed."""
    lm = _lm(landmarks_xy)
    p1, p2, p3, p4, p5, p6 = (lm[i, :2] for i in EAR_POINTS[side])
    width = float(np.linalg.norm(p1 - p4))
    if width < 1e-6:
        return 0.0
    return float((np.linalg.norm(p2 - p6) + np.linalg.norm(p3 - p5)) / (2.0 * width))


def eye_openness(landmarks_xy, blendshapes: dict | None = None) -> dict:
    """Per eye: {"ear", "blink" (eyeBlink blendshape or None), "openness" 0..1, "open" bool}.

    openness averages the EAR mapped linearly between EAR_CLOSED and EAR_OPEN with 1 - eyeBlink when the
    blendshapes are present (they are robust to head pose, the EAR is not: a head turned sideways or
    tilted down changes it).
    """
    out = {}
    for side in ("left", "right"):
        ear = eye_aspect_ratio(landmarks_xy, side)
        from_ear = min(max((ear - EAR_CLOSED) / (EAR_OPEN - EAR_CLOSED), 0.0), 1.0)
        blink = _blend(blendshapes, "eyeBlinkLeft" if side == "left" else "eyeBlinkRight")
        openness = from_ear if blink is None else 0.5 * (from_ear + (1.0 - blink))
        out[side] = {"ear": ear, "blink": blink, "openness": openness, "open": bool(openness >= EYE_OPEN_THRESHOLD)}
    return out


def _roll_rad(lm: np.ndarray) -> float:
    """In-image angle of the eye line, counter-clockwise positive (image y points down)."""
    d = lm[OUTER_EYE_CORNERS[1], :2] - lm[OUTER_EYE_CORNERS[0], :2]
    return math.atan2(-d[1], d[0])


def smile_level(landmarks_xy, blendshapes: dict | None = None) -> dict:
    """{"level" 0..1, "blendshape" (mean mouthSmile or None), "geometry" 0..1, "corner_lift": {left, right}}.

    Corner lift: how far a mouth corner sits above the lip centre, as a fraction of the mouth width, measured
    in the face's own frame (head roll removed). level = blendshape when present (trained on expressions,
    pose-robust), else the geometric level (mean lift / SMILE_LIFT_FULL, clipped to 0..1).
    """
    lm = _lm(landmarks_xy)[:, :2]
    a = _roll_rad(lm)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])  # undoes a CCW roll (y down)
    q = lm @ rot.T
    centre = q[list(LIP_CENTRE)].mean(axis=0)
    width = float(np.linalg.norm(q[MOUTH_CORNERS["left"]] - q[MOUTH_CORNERS["right"]]))
    lift = {side: float((centre[1] - q[i, 1]) / width) if width > 1e-6 else 0.0 for side, i in MOUTH_CORNERS.items()}
    geometry = min(max(0.5 * (lift["left"] + lift["right"]) / SMILE_LIFT_FULL, 0.0), 1.0)
    sl, sr = _blend(blendshapes, "mouthSmileLeft"), _blend(blendshapes, "mouthSmileRight")
    blend = None if sl is None or sr is None else 0.5 * (sl + sr)
    return {
        "level": geometry if blend is None else blend,
        "blendshape": blend,
        "geometry": geometry,
        "corner_lift": lift,
    }


def _angles(r: np.ndarray) -> tuple[float, float, float]:
    """yaw, pitch, roll (degrees) of a face rotation r (canonical face -> camera with x right, y up, z toward
    the viewer), decomposed as r = Rz(roll) Ry(yaw) Rx(-pitch): roll is the in-image rotation applied last, so
    yaw and pitch (read from r's last row, which Rz leaves unchanged) do not mix when the head is tilted."""
    yaw = math.degrees(math.asin(min(max(-r[2, 0], -1.0), 1.0)))
    pitch = -math.degrees(math.atan2(r[2, 1], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return yaw, pitch, roll


def head_pose(landmarks_xy, transformation_matrix=None, landmarks_3d=None) -> dict:
    """{"yaw", "pitch", "roll" in degrees, "source"}; 0/0/0 = looking straight at the camera, upright.

    yaw > 0: the face turns toward the image's right (the subject's own left); pitch > 0: looking up (chin
    raised); roll > 0: the head is rotated counter-clockwise in the image (the subject's left eye higher).
    Source: MediaPipe's facial transformation matrix when present ("matrix"), else the 3-D mesh's own axes
    for yaw/pitch and the eye line for roll ("landmarks_3d"), else roll only ("landmarks_2d", yaw/pitch None).
    """
    lm = _lm(landmarks_xy)
    if transformation_matrix is not None:
        m = np.asarray(transformation_matrix, dtype=np.float64).reshape(4, 4)[:3, :3]
        scale = np.linalg.norm(m[:, 0])
        if scale > 1e-9:
            yaw, pitch, roll = _angles(m / scale)
            return {"yaw": yaw, "pitch": pitch, "roll": roll, "source": "matrix"}
    roll = math.degrees(_roll_rad(lm))
    l3 = None if landmarks_3d is None else np.asarray(landmarks_3d, dtype=np.float64)
    if l3 is not None and l3.ndim == 2 and l3.shape[0] >= 468 and l3.shape[1] == 3:
        # Image-like axes (y down, z away from the camera) -> camera axes (y up, z toward the viewer).
        p = l3 * np.array([1.0, -1.0, -1.0])
        x_axis = p[OUTER_EYE_CORNERS[1]] - p[OUTER_EYE_CORNERS[0]]
        x_axis /= max(np.linalg.norm(x_axis), 1e-9)
        up = p[FOREHEAD] - p[CHIN]
        up -= x_axis * float(up @ x_axis)
        up /= max(np.linalg.norm(up), 1e-9)
        # yaw/pitch do not depend on the frame's in-plane rotation (core's 3-D points are in a de-rotated
        # crop frame), so roll comes from the image's eye line instead.
        yaw, pitch, _ = _angles(np.column_stack([x_axis, up, np.cross(x_axis, up)]))
        return {"yaw": yaw, "pitch": pitch, "roll": roll, "source": "landmarks_3d"}
    return {"yaw": None, "pitch": None, "roll": roll, "source": "landmarks_2d"}


def analyze_face(face: dict) -> dict:
    """Every measurement of one FACE_LANDMARKS face, JSON-serialisable."""
    lm = _lm(face["landmarks_xy"])
    blend = face.get("blendshapes") or None
    box = [float(v) for v in np.asarray(face["bbox_xyxy"], dtype=np.float64)[:4]]
    return {
        "bbox_xyxy": box,
        "score": float(face.get("score", 1.0)),
        "face_size": face_size(face),
        "inter_ocular_distance": float(inter_ocular_distance(lm[:, :2])),
        "eyes": eye_openness(lm, blend),
        "smile": smile_level(lm, blend),
        "head_pose": head_pose(lm, face.get("transformation_matrix"), face.get("landmarks_3d")),
        "has_blendshapes": bool(blend),
    }


NO_FACE = "no face found"


def _face_report(face: dict, index: int) -> dict:
    mesh = {k: face[k] for k in ("meshing", "mesh_disagreement_pct") if k in face}  # full_range mode only
    return {"face_index": index, **analyze_face(face), **mesh}


def landmarks_report(face_landmarks: dict, extra: dict | None = None) -> dict:
    """Per image and face (in the value's own order): box, score and every analyze_face measurement (JSON-ready)."""
    images = [
        {"image_index": i, "faces": [_face_report(f, k) for k, f in enumerate(faces)]}
        for i, faces in enumerate(face_landmarks["frames"])
    ]
    n = sum(len(f) for f in face_landmarks["frames"])
    summary = f"{n} face(s) in {len(images)} image(s)" if n else NO_FACE
    return {"summary": summary, "face_count": n, **(extra or {}), "images": images}


def analyse_one(face_landmarks, image_index: int, face_index: int) -> tuple[dict, dict | None]:
    """The Face Analysis node: (report of every face with a 'selected' entry, the selected face's measurements or
    None when it does not exist). face_index counts in the landmarks' own order; negative indices are refused."""
    lms = validate(face_landmarks, "Face Analysis")
    face_index = check_face_index(face_index, allow_all=False)
    image_index = check_face_index(image_index, allow_all=False, name="image_index")
    report = landmarks_report(lms)
    frames = lms["frames"]
    faces = frames[image_index] if image_index < len(frames) else []
    selected = {"image_index": image_index, "face_index": face_index, "found": face_index < len(faces)}
    report["selected"] = selected
    if selected["found"]:
        return report, report["images"][image_index]["faces"][face_index]
    if image_index >= len(frames):
        selected["message"] = f"the landmarks hold {len(frames)} image(s); image_index {image_index} does not exist"
    elif faces:
        selected["message"] = f"image {image_index} has {len(faces)} face(s); face_index {face_index} does not exist"
    else:
        selected["message"] = NO_FACE
    return report, None
