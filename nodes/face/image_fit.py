"""Landmarks detected on one size of an image, used on another size of the same image."""

from __future__ import annotations

import numpy as np

ASPECT_TOLERANCE = 0.01  # relative: rounding when a photo is resized, not a crop


def fit_landmarks_to_image(face_landmarks: dict, image_hw: tuple[int, int]) -> dict:
    """FACE_LANDMARKS rescaled to an image of size (H, W): the same value when the sizes match.

    Landmarks are often detected on a resized copy (or the image is resized after detection); the masks must
    still land on the right pixels. Another aspect ratio means another framing (a crop), which cannot be fixed
    by scaling: that raises.
    """
    h, w = int(image_hw[0]), int(image_hw[1])
    lh, lw = (int(v) for v in face_landmarks.get("image_size", (h, w)))
    if (lh, lw) == (h, w):
        return face_landmarks
    if lh <= 0 or lw <= 0 or abs(lw / lh - w / h) > ASPECT_TOLERANCE * (w / h):
        raise ValueError(
            f"FaceLab: the landmarks were detected on a {lw}x{lh} image but this image is {w}x{h} (another aspect "
            "ratio); detect the landmarks on this image (a resized copy is fine, a crop is not)"
        )
    sx, sy = w / lw, h / lh
    frames = []
    for faces in face_landmarks["frames"]:
        scaled = []
        for face in faces:
            f = dict(face)
            f["landmarks_xy"] = (np.asarray(face["landmarks_xy"], dtype=np.float32) * np.float32([sx, sy])).astype(np.float32)
            if face.get("bbox_xyxy") is not None:
                f["bbox_xyxy"] = (np.asarray(face["bbox_xyxy"], dtype=np.float32) * np.float32([sx, sy, sx, sy])).astype(np.float32)
            scaled.append(f)
        frames.append(scaled)
    return {**face_landmarks, "frames": frames, "image_size": (h, w)}
