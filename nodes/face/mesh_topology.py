"""The MediaPipe face mesh as a surface: its 852 oriented triangles and which of them face the camera.

Triangulation: the triangles are the 3-cycles of MediaPipe's tesselation edge graph (the edges
`landmarker.connection_sets()["tesselation"]` gives, i.e. the canonical face mesh's own faces), minus
the two "separating" 3-cycles that are not mesh faces (each of their edges already borders two real
triangles). That leaves 852 triangles over the 468 mesh points; the eye and mouth openings are holes.
Triangles are oriented consistently by walking the mesh (neighbours traverse their shared edge in
opposite directions), so a triangle whose orientation disagrees with the rest of its face is folded
over (self-occlusion at high yaw). Used by the makeup warp and by the visible-skin zone masks.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter, defaultdict, deque

import numpy as np

N_MESH_POINTS = 468  # the tesselation covers the mesh points, not the 10 iris points


def _tesselation_edges() -> set[tuple[int, int]]:
    from . import landmarker  # lazy: mediapipe is imported only when a mesh is first needed

    return {(min(a, b), max(a, b)) for a, b in landmarker.connection_sets()["tesselation"]}


def triangles_from_edges(edges) -> np.ndarray:
    """Mesh faces (T, 3) of a triangulated surface given by its edges, consistently oriented."""
    edges = {(min(a, b), max(a, b)) for a, b in edges}
    adj = defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    cycles = {tuple(sorted((a, b, c))) for a, b in edges for c in adj[a] & adj[b]}
    uses = Counter(e for t in cycles for e in itertools.combinations(t, 2))
    # A separating 3-cycle is not a face: each of its edges borders two faces plus itself.
    faces = [t for t in cycles if not all(uses[e] >= 3 for e in itertools.combinations(t, 2))]
    return _orient(sorted(faces))


def _orient(faces: list[tuple[int, int, int]]) -> np.ndarray:
    """Give every face the orientation of its neighbours (breadth-first over shared edges)."""
    by_edge = defaultdict(list)
    for i, t in enumerate(faces):
        for e in itertools.combinations(t, 2):
            by_edge[e].append(i)
    oriented: list[tuple[int, int, int] | None] = [None] * len(faces)
    for seed in range(len(faces)):
        if oriented[seed] is not None:
            continue
        oriented[seed] = faces[seed]
        queue = deque([seed])
        while queue:
            i = queue.popleft()
            a, b, c = oriented[i]
            directed = {(a, b), (b, c), (c, a)}
            for u, v in directed:
                for j in by_edge[(min(u, v), max(u, v))]:
                    if oriented[j] is not None:
                        continue
                    x, y, z = faces[j]
                    cand = (x, y, z)
                    # the neighbour must traverse the shared edge as (v, u)
                    if {(x, y), (y, z), (z, x)} & {(u, v)}:
                        cand = (x, z, y)
                    oriented[j] = cand
                    queue.append(j)
    return np.asarray(oriented, dtype=np.int64)


@functools.lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """The 852 oriented triangles (T, 3) of the MediaPipe face mesh (computed once per process)."""
    tris = triangles_from_edges(_tesselation_edges())
    tris.setflags(write=False)
    return tris


def signed_areas(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Signed area of each triangle (positive = counter-clockwise in x-right / y-up axes)."""
    p = np.asarray(points, dtype=np.float64)[tris]
    return 0.5 * (
        (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])
    )


def unfolded_triangles(points: np.ndarray, tris: np.ndarray, min_area: float = 1e-3) -> np.ndarray:
    """True for triangles facing the camera: oriented like the face as a whole and not degenerate."""
    areas = signed_areas(points, tris)
    sign = 1.0 if areas.sum() >= 0 else -1.0
    return areas * sign > min_area


def facing_triangles(points_3d: np.ndarray, tris: np.ndarray, min_cos: float = 0.3) -> np.ndarray:
    """True for triangles seen at less than acos(min_cos) from straight on (needs the mesh's 3-D points).

    Grazing triangles along a turned face's silhouette sample little of the face and often the background
    or hair beyond it (the mesh overshoots the silhouette by a few pixels): they are not used as a source.
    """
    p = np.asarray(points_3d, dtype=np.float64)[tris]
    normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    cos = normal[:, 2] / np.maximum(np.linalg.norm(normal, axis=1), 1e-12)
    return cos * np.sign(np.median(cos)) >= min_cos


def facing_camera(points_xy: np.ndarray, points_3d: np.ndarray | None = None, min_cos: float = 0.1) -> np.ndarray:
    """True for the mesh triangles the camera sees: not folded over in 2-D and, given the 3-D points, with a
    normal within acos(min_cos) of the view axis (0.1: 84 deg; what lies beyond is a sliver of silhouette)."""
    tris = mesh_triangles()
    keep = unfolded_triangles(np.asarray(points_xy, dtype=np.float64)[:N_MESH_POINTS], tris, min_area=0.0)
    if points_3d is not None:
        p3 = np.asarray(points_3d, dtype=np.float64)
        if p3.ndim == 2 and p3.shape[0] >= N_MESH_POINTS and p3.shape[1] == 3 and np.isfinite(p3[:N_MESH_POINTS]).all():
            keep &= facing_triangles(p3[:N_MESH_POINTS], tris, min_cos)
    return keep
