"""ArcFace's standard 5-point face alignment, from MediaPipe mesh landmarks, in numpy/scipy (no OpenCV).

insightface crops every face for recognition by a similarity transform (rotation + uniform scale +
translation) that maps five facial points onto a fixed 112x112 template (`arcface_dst` in
insightface/utils/face_align.py). The five points, in template order, are: the eye on the image's
left, the eye on the image's right, the nose tip, the mouth corner on the image's left, the one on
the image's right. For a frontal face the image-left eye is the subject's RIGHT eye (MediaPipe's
"right" points), so the MediaPipe indices are: right iris centre 468, left iris centre 473, nose
tip 1, mouth corners 61 (subject's right) and 291 (subject's left).

Coordinates are pixel indices (pixel (0, 0) is at 0.0), the convention of cv2.warpAffine that
insightface uses. The crop stays float (insightface's cv2 crop is rounded to uint8; the difference is
below half a grey level).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..base.mesh import (
    LEFT_EYE_CORNERS,
    LEFT_IRIS_CENTER,
    MOUTH_LEFT_CORNER,
    MOUTH_RIGHT_CORNER,
    NOSE_TIP,
    RIGHT_EYE_CORNERS,
    RIGHT_IRIS_CENTER,
)

ARCFACE_SIZE = 112
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def five_points_from_mesh(landmarks_xy) -> np.ndarray:
    """(5, 2) ArcFace alignment points from a MediaPipe mesh (478 points, or 468 without irises)."""
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[1] != 2 or lm.shape[0] < 468:
        raise ValueError(f"FaceLab: expected MediaPipe mesh landmarks of shape (478, 2), got {lm.shape}")
    if lm.shape[0] >= 478:
        right_eye, left_eye = lm[RIGHT_IRIS_CENTER], lm[LEFT_IRIS_CENTER]
    else:
        right_eye, left_eye = lm[list(RIGHT_EYE_CORNERS)].mean(0), lm[list(LEFT_EYE_CORNERS)].mean(0)
    return np.stack([right_eye, left_eye, lm[NOSE_TIP], lm[MOUTH_RIGHT_CORNER], lm[MOUTH_LEFT_CORNER]])


def similarity_transform(src, dst) -> np.ndarray:
    """2x3 least-squares similarity transform mapping points src -> dst (Umeyama 1991, no reflection)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # best fit would mirror the face: flip the weakest axis
        sign[-1] = -1.0
    rot = u @ np.diag(sign) @ vt
    var_s = (s**2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("FaceLab: the five alignment points coincide; the face landmarks are degenerate")
    scale = float((sig * sign).sum() / var_s)
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def warp_affine(image, matrix, size: tuple[int, int]) -> np.ndarray:
    """Bilinear warp of an [H,W,C] image by a 2x3 forward matrix into a (height, width) float32 canvas, 0 outside."""
    img = np.asarray(image, dtype=np.float32)
    h, w = size
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(full)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    coords = np.stack([sy, sx])
    out = np.empty((h, w, img.shape[2]), dtype=np.float32)
    for c in range(img.shape[2]):
        out[..., c] = ndimage.map_coordinates(img[..., c], coords, order=1, mode="constant", cval=0.0)
    return out


def align_face(rgb, five_points, size: int = ARCFACE_SIZE) -> np.ndarray:
    """The [size,size,3] float32 (0..255) ArcFace crop of the face whose 5 points are given."""
    template = ARCFACE_TEMPLATE * (size / ARCFACE_SIZE)
    return warp_affine(rgb, similarity_transform(five_points, template), (size, size))
