"""The zone atlas: named cosmetic face zones defined on MediaPipe's 478-point face mesh.

Each zone is one or more closed outlines ("rings") of mesh landmarks, optionally with holes. Where the mesh
ends (it stops mid-forehead), points are extended geometrically in the face's own frame (`Up`: along the
chin -> forehead axis, in fractions of face height), so zones follow tilted and rotated faces.

Left/right are the SUBJECT's anatomical sides, as MediaPipe names them: landmark 33 is the outer corner of
the subject's right eye, which appears on the image's LEFT for a frontal, non-mirrored photo. Left zones are
generated from right zones through the mesh's mirror symmetry (`MIRROR`), so both sides are defined
identically.

This module is data plus name resolution only: no numpy arrays of pixels, no I/O. Geometry lives in
zone_masks.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple


class Up(NamedTuple):
    """Landmark `index` moved up by `frac` x face height, along the face's own chin (152) -> mesh top (10) axis."""

    index: int
    frac: float


class Lerp(NamedTuple):
    """The point a + t * (b - a) between landmarks a and b."""

    a: int
    b: int
    t: float


Point = int | Up | Lerp
Ring = tuple  # tuple[Point, ...], a closed outline, or MESH_OUTLINE

# The outline of the whole projected mesh (its convex hull). On a frontal face it is exactly the FACE_OVAL
# contour; on a turned face the far-side contour points slip behind the cheek, and the hull follows the
# visible silhouette instead (the far cheek and crow's feet stay inside the face).
MESH_OUTLINE: Ring = ("mesh_outline",)


# --- Mesh symmetry -------------------------------------------------------------------------------------------
# Landmarks on the mid-sagittal line. The 478-point topology numbers the remaining mesh points so that the
# k-th right-side index (ascending, below 248) mirrors landmark 248 + k. Verified on six real frontal portraits:
# reflecting landmarks_3d across the plane fitted to MIDLINE and matching nearest points gives exactly this map.
MIDLINE = (0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 94, 151, 152, 164, 168, 175, 195, 197,
           199, 200)  # fmt: skip
_IRIS_PAIRS = ((468, 473), (469, 476), (470, 475), (471, 474), (472, 477))


def _mirror_table() -> tuple[int, ...]:
    table = list(range(478))
    right = [i for i in range(248) if i not in set(MIDLINE)]
    for k, i in enumerate(right):
        table[i], table[248 + k] = 248 + k, i
    for a, b in _IRIS_PAIRS:
        table[a], table[b] = b, a
    return tuple(table)


MIRROR: tuple[int, ...] = _mirror_table()  # MIRROR[i] = the landmark symmetric to i (midline points map to themselves)


def mirror_point(p: Point) -> Point:
    if isinstance(p, Up):
        return Up(MIRROR[p.index], p.frac)
    if isinstance(p, Lerp):
        return Lerp(MIRROR[p.a], MIRROR[p.b], p.t)
    return MIRROR[p]


def mirror_ring(ring: Ring) -> Ring:
    if ring == MESH_OUTLINE:
        return ring
    return tuple(mirror_point(p) for p in ring)


def _mirror_tail(path_to_midline: Ring) -> Ring:
    """The mirror image of a path that ends on the midline, walked back out (midline point not repeated)."""
    return tuple(mirror_point(p) for p in path_to_midline[-2::-1])


def symmetric_ring(right_half: Ring) -> Ring:
    """Close a path drawn from a midline point down the subject's right side to another midline point."""
    return tuple(right_half) + tuple(mirror_point(p) for p in reversed(right_half[1:-1]))


# --- Mesh contours (standard MediaPipe FACEMESH contours, ordered as closed rings) -------------------------------
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
LIPS_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
EYE_RIGHT = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
EYEBROW_RIGHT = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
NOSTRIL_RIGHT = (219, 218, 79, 237, 239, 20, 60, 75, 59, 235)

# How far above the mesh top the forehead reaches toward the hairline, as a fraction of face height (10 -> 152).
FOREHEAD_EXTENSION = 0.10
# The hairline band (protected area) above the forehead extension.
HAIRLINE_EXTENSION = 0.22
# Visible-skin masks: the forehead reaches this far above the mesh top (generous: past the highest hairline seen,
# the top quarter of a forehead with hair pulled back) and the per-face skin model cuts it where the skin ends.
FOREHEAD_SKIN_EXTENSION = 0.35

_GLABELLA_TOP = Lerp(9, 151, 0.5)  # a little above the brow heads: frown lines ("11s") rise above the brows
_FOREHEAD_TOP_RIGHT = (10, 109, 67, 103, 54, 21)  # upper mesh boundary, midline -> right temple


def _up(indices: Iterable[int], frac: float) -> tuple:
    return tuple(Up(i, frac) for i in indices)


@dataclass(frozen=True)
class Zone:
    name: str
    definition: str  # one line, shown in docs and reports
    rings: tuple  # tuple[Ring, ...] filled outlines (union)
    holes: tuple = ()  # tuple[Ring, ...] cut out of the rings
    # Clipped to the face outline (MESH_OUTLINE). On a turned face, rows of the mesh near the far contour can
    # project beyond it; clipping keeps every zone on the visible face. Off for zones meant to extend past it.
    inside_face: bool = True

    def mirrored(self, name: str, definition: str) -> Zone:
        rings, holes = tuple(mirror_ring(r) for r in self.rings), tuple(mirror_ring(r) for r in self.holes)
        return Zone(name, definition, rings, holes, self.inside_face)


# --- Zone definitions (subject's right side; left = mirror) ------------------------------------------------------
_RIGHT: dict[str, Zone] = {}


def _right(name: str, definition: str, *rings: Ring, holes: tuple = ()) -> None:
    _RIGHT[name] = Zone(name, definition, tuple(rings), holes)


# Rings run around the zone; numbers are landmark indices of MediaPipe's canonical face mesh (its mesh_map).
_right(
    "crows_feet",
    "lateral to the outer eye corner: from the brow tail down to the upper cheekbone, out toward the temple",
    (130, 247, 113, 124, 156, 139, 34, 227, 116, 111, 35, 226),
)  # canthus 130 -> brow tail 156/139 -> 227/116
_right(
    "under_eye",
    "tear trough and lower-lid hollow: below the lower lid, above the cheek, inner to outer eye corner",
    (
        33,
        7,
        163,
        144,
        145,
        153,
        154,
        155,
        133,  # lower lid margin, outer -> inner corner
        243,
        233,
        128,
        121,
        120,
        119,
        118,
        117,
        111,
        35,
        226,
        130,
    ),
)  # third mesh row below the lid, back out
_right(
    "nasolabial",
    "the fold band from the nose wing down to beside the mouth corner",
    (
        129,
        165,
        92,
        186,
        57,  # alar crease -> beside the mouth corner (medial edge)
        212,
        207,
        205,
        36,
    ),
)  # back up on the cheek side of the fold
_right(
    "marionette",
    "the lip corner and the band below it running down toward the jaw",
    (
        57,
        61,
        146,
        106,
        194,
        32,
        140,
        176,  # mouth corner -> along the chin's side -> jaw contour
        149,
        170,
        211,
        210,
        202,
    ),
)  # back up on the jowl side
_right(
    "cheek",
    "malar and buccal cheek: below the under-eye, between the nose side / nasolabial fold and the face contour",
    (
        128,
        121,
        120,
        119,
        118,
        117,
        111,
        116,
        227,  # under the under-eye zone, medial -> lateral
        137,
        177,
        215,
        138,
        135,
        169,  # down inside the face contour
        210,
        202,  # along the marionette band
        # Up the nasolabial fold line itself (212 -> 216 -> 206 -> 203 lie on the crease). Not the fold band's
        # lateral edge (207, 205, 36): that is a mesh column out on the cheek and cut the cheek apple away.
        212,
        216,
        206,
        203,
        129,
        209,
        198,
        174,
        188,
    ),
)  # nose wing, then up the side of the nose
_right("eye", "the eye opening (lid margins)", EYE_RIGHT)
_right("eyebrow", "the eyebrow", EYEBROW_RIGHT)
_right("nostril", "the nostril opening", NOSTRIL_RIGHT)


def _sided(base: str) -> dict[str, Zone]:
    """`<base>_right` as defined and `<base>_left` as its mirror image."""
    r = _RIGHT[base]
    right = Zone(f"{base}_right", f"{r.definition} (subject's right)", r.rings, r.holes)
    return {right.name: right, f"{base}_left": r.mirrored(f"{base}_left", f"{r.definition} (subject's left)")}


def _build() -> dict[str, Zone]:
    z: dict[str, Zone] = {}

    def add(name: str, definition: str, *rings: Ring, holes: tuple = (), inside_face: bool = True) -> None:
        z[name] = Zone(name, definition, tuple(rings), tuple(holes), inside_face)

    top_right = _up(_FOREHEAD_TOP_RIGHT[::-1], FOREHEAD_EXTENSION)  # right temple -> midline, extended up
    top = top_right + _mirror_tail(top_right)  # right temple -> left temple
    brow_line_right = (21, 71, 70, 63, 105, 66, 107)  # temple -> medial brow head, along the brow tops
    brow_line = brow_line_right + (_GLABELLA_TOP,) + _mirror_tail(brow_line_right + (_GLABELLA_TOP,))
    add(
        "forehead",
        "above the brows up toward the hairline (mesh top extended by 10% of face height), excluding the glabella",
        brow_line + top[::-1],
        inside_face=False,
    )
    top_skin = _up(_FOREHEAD_TOP_RIGHT[::-1], FOREHEAD_SKIN_EXTENSION)
    top_skin = top_skin + _mirror_tail(top_skin)
    add(
        "forehead_to_skin_edge",
        "the forehead extended generously upward, for the visible-skin masks to cut where the skin ends",
        brow_line + top_skin[::-1],
        inside_face=False,
    )
    add(
        "glabella",
        "between the brow heads above the nose root (frown-line area)",
        symmetric_ring((_GLABELLA_TOP, 107, 55, 193, 168)),
    )
    z.update(_sided("crows_feet"))
    z.update(_sided("under_eye"))
    add(
        "inter_ocular",
        "the nasal bridge between the inner eye corners",
        symmetric_ring((168, 193, 243, 244, 245, 188, 197)),
    )
    z.update(_sided("nasolabial"))
    z.update(_sided("marionette"))
    add(
        "upper_lip",
        "skin between the nose base and the upper red lip, out to the nasolabial folds (perioral)",
        symmetric_ring((2, 97, 98, 165, 92, 186, 57, 61, 185, 40, 39, 37, 0)),
    )
    add(
        "chin",
        "from below the lower red lip down to the chin tip, between the marionette bands",
        symmetric_ring((17, 84, 181, 91, 146, 106, 194, 32, 140, 176, 148, 152)),
    )
    z.update(_sided("cheek"))
    jaw_outer = (93, 132, 58, 172, 136, 150, 149, 176, 148, 152)  # below the right ear -> chin tip, on the oval
    # Inner edge: 22% of the way from the contour toward the nose tip (the mesh rows near the contour fold
    # over it on turned faces, so they make a poor edge).
    jaw_inner = tuple(Lerp(o, 1, 0.22) for o in jaw_outer)
    add(
        "jawline",
        "band along the lower face contour from below the ears to the chin",
        jaw_outer + _mirror_tail(jaw_outer) + _mirror_tail(jaw_inner)[::-1] + jaw_inner[::-1],
    )
    add(
        "nose",
        "the nose from its root between the eyes down to the tip, wings and base",
        symmetric_ring((168, 245, 188, 174, 198, 209, 129, 64, 98, 240, 99, 97, 2)),
    )
    z.update(_sided("eye"))
    z.update(_sided("eyebrow"))
    add("lips", "the red lips (vermilion), without the opening between them", LIPS_OUTER, holes=(LIPS_INNER,))
    add("mouth", "the whole mouth: both lips and the opening between them", LIPS_OUTER)
    add("face_oval", "the whole face inside its contour, from the jaw up to the mesh top (mid-forehead)", MESH_OUTLINE)
    features = (EYE_RIGHT, EYEBROW_RIGHT, NOSTRIL_RIGHT)
    add(
        "skin",
        "face oval minus eyes, eyebrows, mouth and nostrils",
        MESH_OUTLINE,
        holes=features + tuple(mirror_ring(r) for r in features) + (LIPS_OUTER,),
    )
    z.update(_sided("nostril"))
    top_hair = _up(_FOREHEAD_TOP_RIGHT[::-1], HAIRLINE_EXTENSION)
    add(
        "hairline",
        "protected band above the forehead extension (hair); use it in 'subtract'",
        top + (top_hair + _mirror_tail(top_hair))[::-1],
        inside_face=False,
    )
    return z


ZONES: dict[str, Zone] = _build()
# Outlines used instead of a zone's own by the visible-skin masks (not selectable by name).
SKIN_OUTLINES: dict[str, Zone] = {"forehead": ZONES.pop("forehead_to_skin_edge")}

ZONE_NAMES: tuple[str, ...] = (
    "forehead", "glabella", "crows_feet_left", "crows_feet_right", "under_eye_left", "under_eye_right",
    "inter_ocular", "nasolabial_left", "nasolabial_right", "marionette_left", "marionette_right", "upper_lip",
    "chin", "cheek_left", "cheek_right", "jawline", "nose", "eye_left", "eye_right", "eyebrow_left",
    "eyebrow_right", "lips", "mouth", "face_oval", "skin",
)  # fmt: skip
# Extra zones, valid in selections and `subtract` but not part of the canonical list.
EXTRA_ZONE_NAMES: tuple[str, ...] = ("nostril_left", "nostril_right", "hairline")

ZONE_GROUPS: dict[str, tuple[str, ...]] = {
    "crows_feet": ("crows_feet_left", "crows_feet_right"),
    "under_eye": ("under_eye_left", "under_eye_right"),
    "nasolabial": ("nasolabial_left", "nasolabial_right"),
    "marionette": ("marionette_left", "marionette_right"),
    "cheeks": ("cheek_left", "cheek_right"),
    "eyes": ("eye_left", "eye_right"),
    "eyebrows": ("eyebrow_left", "eyebrow_right"),
    "nostrils": ("nostril_left", "nostril_right"),
    "all_wrinkle_zones": (
        "forehead",
        "glabella",
        "crows_feet_left",
        "crows_feet_right",
        "under_eye_left",
        "under_eye_right",
        "inter_ocular",
        "nasolabial_left",
        "nasolabial_right",
        "marionette_left",
        "marionette_right",
        "upper_lip",
    ),
    "all": ZONE_NAMES,
}

# Zones limited to the face's visible skin when a mask is made with the skin model (visible_skin.face_skin).
SKIN_ZONES: tuple[str, ...] = (
    "forehead", "glabella", "crows_feet_left", "crows_feet_right", "under_eye_left", "under_eye_right",
    "inter_ocular", "nasolabial_left", "nasolabial_right", "marionette_left", "marionette_right", "upper_lip",
    "chin", "cheek_left", "cheek_right", "jawline", "face_oval", "skin",
)  # fmt: skip

# Friendly spellings accepted by resolve_zones.
ALIASES: dict[str, str] = {
    "tear_trough": "under_eye", "tear_troughs": "under_eye", "lip_corners": "marionette", "brows": "eyebrows",
    "cheek": "cheeks", "eye": "eyes", "eyebrow": "eyebrows", "nostril": "nostrils", "perioral": "upper_lip",
    "crowsfeet": "crows_feet", "forehead_lines": "forehead", "between_brows": "glabella", "bridge": "inter_ocular",
    "oval": "face_oval", "face": "face_oval", "jaw": "jawline",
}  # fmt: skip

# Protected-feature presets for the `subtract` option of the mask node ("lips" protects the whole mouth).
SUBTRACT_PRESETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "eyes": ("eye_left", "eye_right"),
    "eyes+brows": ("eye_left", "eye_right", "eyebrow_left", "eyebrow_right"),
    "eyes+brows+lips": ("eye_left", "eye_right", "eyebrow_left", "eyebrow_right", "mouth"),
    "eyes+brows+lips+nostrils": ("eye_left", "eye_right", "eyebrow_left", "eyebrow_right", "mouth",
                                 "nostril_left", "nostril_right"),
    "eyes+brows+lips+nostrils+hairline": ("eye_left", "eye_right", "eyebrow_left", "eyebrow_right", "mouth",
                                          "nostril_left", "nostril_right", "hairline"),
}  # fmt: skip


def valid_names() -> list[str]:
    """Every name resolve_zones accepts besides aliases: zones, extra zones, groups (for pickers and help)."""
    return list(ZONE_NAMES) + list(EXTRA_ZONE_NAMES) + list(ZONE_GROUPS)


def _normalise(token: str) -> str:
    t = token.strip().lower().replace("'", "").replace("-", "_")
    return ALIASES.get(t, t)


def resolve_zones(selection: str | Iterable[str]) -> list[str]:
    """Zone names and group names (comma/space/semicolon separated, case-insensitive) -> canonical zone names.

    Order of first appearance is kept and duplicates are removed. Unknown names raise ValueError listing the
    valid ones.
    """
    if isinstance(selection, str):
        tokens = [t for t in re.split(r"[,;\s]+", selection) if t]
    else:
        tokens = [t for item in selection for t in re.split(r"[,;\s]+", str(item)) if t]
    out: list[str] = []
    unknown: list[str] = []
    for token in tokens:
        name = _normalise(token)
        if name in ZONE_GROUPS:
            names = ZONE_GROUPS[name]
        elif name in ZONES:
            names = (name,)
        else:
            unknown.append(token)
            continue
        out.extend(n for n in names if n not in out)
    if unknown:
        raise ValueError(
            f"FaceLab: unknown zone name(s) {', '.join(repr(u) for u in unknown)}. "
            f"Valid zones: {', '.join(ZONE_NAMES + EXTRA_ZONE_NAMES)}. Valid groups: {', '.join(ZONE_GROUPS)}."
        )
    return out


def resolve_subtract(subtract: str | Iterable[str] | None) -> list[str]:
    """A SUBTRACT_PRESETS key, or zone/group names, -> zone names to protect (empty for none)."""
    if subtract is None:
        return []
    if isinstance(subtract, str):
        key = subtract.strip().lower()
        if key in ("", "none"):
            return []
        if key in SUBTRACT_PRESETS:
            return list(SUBTRACT_PRESETS[key])
        try:
            return resolve_zones(key.replace("+", ","))
        except ValueError as exc:
            raise ValueError(f"{exc} Presets: {', '.join(SUBTRACT_PRESETS)}.") from None
    return resolve_zones(subtract)
