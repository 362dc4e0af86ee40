"""Piecewise-affine warping of one face onto another face's geometry over the MediaPipe mesh.

Triangulation (nodes/face/mesh_topology.py): the 852 oriented triangles of the mesh; a triangle whose
orientation disagrees with the rest of its face is folded over (self-occlusion at high yaw) and is masked out.

Warping: the destination face's triangles are rasterised into a triangle-id image once (PIL, C speed);
each destination pixel then gets the affine map of its triangle (destination -> reference pixels) and
everything is sampled in one torch grid_sample call.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ..face.mesh_topology import (  # noqa: F401  (re-exported: the warp's public mesh helpers)
    N_MESH_POINTS,
    facing_triangles,
    mesh_triangles,
    signed_areas,
    triangles_from_edges,
    unfolded_triangles,
)


def rasterize_triangle_ids(
    points: np.ndarray, tris: np.ndarray, size: tuple[int, int], keep: np.ndarray | None = None
) -> np.ndarray:
    """(H, W) int32 image: the index of the triangle covering each pixel centre, -1 where none.

    `points` are pixel coordinates with pixel (row i, col j) centred on (j + 0.5, i + 0.5).
    """
    h, w = size
    canvas = Image.new("I", (w, h), -1)
    draw = ImageDraw.Draw(canvas)
    pts = np.asarray(points, dtype=np.float64) - 0.5  # PIL's integer grid is the pixel centres
    idx = np.arange(len(tris)) if keep is None else np.flatnonzero(keep)
    for t, flat in zip(idx.tolist(), pts[tris[idx]].reshape(len(idx), 6).tolist()):  # one conversion, not 852
        draw.polygon(flat, fill=t)
    return np.asarray(canvas, dtype=np.int32)


def triangle_affines(dst_points: np.ndarray, src_points: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the 2x3 affine map from destination pixels to source pixels, and a validity flag."""
    d = np.asarray(dst_points, dtype=np.float64)[tris]  # (T, 3, 2)
    s = np.asarray(src_points, dtype=np.float64)[tris]
    m = np.concatenate([d.transpose(0, 2, 1), np.ones((len(tris), 1, 3))], axis=1)  # (T, 3, 3) columns = vertices
    det = np.linalg.det(m)
    ok = np.abs(det) > 1e-6
    m[~ok] = np.eye(3)
    affine = s.transpose(0, 2, 1) @ np.linalg.inv(m)  # (T, 2, 3)
    return affine, ok


def warp_face(
    image: torch.Tensor,
    image_points: np.ndarray,
    dst_points: np.ndarray,
    dst_size: tuple[int, int],
    image_points_3d: np.ndarray | None = None,
) -> tuple[torch.Tensor, np.ndarray]:
    """Warp the face in `image` ([H, W, C] float) onto the mesh `dst_points`.

    dst_points are landmark pixels of the destination face; the output covers the destination frame's
    top-left `dst_size` (h, w).
    Returns (warped [h, w, C] float32, valid [h, w] bool). A pixel is valid when a mesh triangle
    covers it, that triangle faces the camera in both faces (and, given `image_points_3d`, is not seen
    at a grazing angle in `image`), and it samples inside `image`.
    """
    tris = mesh_triangles()
    src = np.asarray(image_points, dtype=np.float64)[:N_MESH_POINTS]
    dst = np.asarray(dst_points, dtype=np.float64)[:N_MESH_POINTS]
    affine, solvable = triangle_affines(dst, src, tris)
    keep = solvable & unfolded_triangles(src, tris) & unfolded_triangles(dst, tris)
    if image_points_3d is not None and np.ptp(np.asarray(image_points_3d)[:N_MESH_POINTS, 2]) > 0:
        keep &= facing_triangles(np.asarray(image_points_3d)[:N_MESH_POINTS], tris)
    h, w = dst_size
    ids = rasterize_triangle_ids(dst, tris, (h, w), keep)
    flat = np.flatnonzero(ids >= 0)  # covered pixels, row-major
    t = ids.ravel()[flat]
    rows, cols = np.divmod(flat, w)
    homog = np.stack([cols + 0.5, rows + 0.5, np.ones(len(flat))], axis=1)  # (N, 3)
    xy = np.einsum("nij,nj->ni", affine[t], homog)  # source pixel coordinates (continuous)
    ih, iw = image.shape[:2]
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= iw) & (xy[:, 1] >= 0) & (xy[:, 1] <= ih)
    flat, xy = flat[inside], xy[inside]

    img = image.to(torch.float32)
    out = torch.zeros((h, w, img.shape[-1]), dtype=torch.float32, device=img.device)
    valid = np.zeros((h, w), dtype=bool)
    if len(flat):
        grid = torch.from_numpy(np.stack([2 * xy[:, 0] / iw - 1, 2 * xy[:, 1] / ih - 1], axis=1).astype(np.float32))
        grid = grid.to(img.device).view(1, 1, -1, 2)
        samples = F.grid_sample(
            img.permute(2, 0, 1)[None], grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        out.view(h * w, -1)[torch.from_numpy(flat).to(img.device)] = samples[0, :, 0].T  # one flat index, not two
        valid.ravel()[flat] = True
    return out, valid
