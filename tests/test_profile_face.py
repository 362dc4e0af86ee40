"""A real, strongly turned face (issue 13: "turned up to profile where the model can"): scikit-image's `camera.png`.

Provenance: scikit-image >= 0.18 `skimage/data/camera.png`, a 512x512 grey-scale photo of a man filming with a
camcorder on a tripod, "No copyright restrictions. CC0 by the photographer (Lav Varshney)" (skimage.data.camera's
docstring; scikit-image issue 3927 replaced the old cameraman for copyright reasons). Copied at test time by
tests/provision_assets.py, like astronaut.png. His head is turned about 60-70 deg toward the image's right (one
eye, the nose in silhouette, the ear visible), the face ~60 px wide, the far eye behind the camcorder.

What the pipeline does with it (measured 2026-12; docs/landmarks.md "A strongly turned face"):
- `full_range` finds it (detector score 0.89) and meshes it; the nose tip and the visible eye land where they
  are in the photo (checked by eye on a 4x enlargement: nose tip ~(252, 169), visible iris ~(235, 147)).
  `standard` finds nothing (the face is ~12 % of the frame; the short-range detector needs ~15 %).
- Head pose yaw +57 deg (toward the image's right); the steady mesh's two halves disagree by 4.7 % of the eye
  distance (median; 21 % max) against 1.1-1.9 % on frontal group-photo faces: the report flags it as uncertain.
- The far side is not hidden, it is squeezed: MediaPipe's mesh never turns past ~60 deg, so the far cheek, crow's
  feet, under-eye, nasolabial and marionette zones become narrow strips (6-45 % of their near twins' area) on
  the visible front of the face near the nose, and the camera-facing test removes only 0-17 % of them as hidden.
- In this grey photo the skin model keeps the near side's skin (cheek 99 %, crow's feet 99.6 %).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_photo

NEAR = ("cheek_right", "crows_feet_right", "under_eye_right", "nasolabial_right", "marionette_right")
FAR = tuple(z.replace("_right", "_left") for z in NEAR)


@pytest.fixture(scope="module")
def profile(pack):
    from comfyui_facelab.nodes.face import detection

    rgb = load_photo("camera.png")
    return rgb, detection.detect(rgb, mode="full_range")["frames"][0]


def test_full_range_finds_and_meshes_the_turned_face(profile):
    from comfyui_facelab.nodes.face import analysis

    rgb, faces = profile
    assert len(faces) == 1  # one person; the camcorder, gloves and tripod are not faces
    face = faces[0]
    lm = np.asarray(face["landmarks_xy"], np.float64)
    # Within ~10 % of the 60 px face from where they are in the photo (by eye, see the module docstring).
    assert np.hypot(*(lm[1] - (252, 169))) < 6, lm[1]  # nose tip, in silhouette
    assert np.hypot(*(lm[468] - (235, 147))) < 6, lm[468]  # the subject's right iris: the visible eye
    yaw = analysis.head_pose(lm, face.get("transformation_matrix"), face["landmarks_3d"])["yaw"]
    assert 45 < yaw < 80, yaw  # turned toward the image's right (measured 57)
    # Steady meshing's own doubt is reported: well above frontal faces' 1.1-1.9 % (measured 4.7 %).
    assert face["mesh_disagreement_pct"]["median"] > 2.5


def test_far_side_zones_are_squeezed_not_hidden_and_near_skin_is_kept(profile):
    from comfyui_facelab.nodes.face import visible_skin, zone_masks

    rgb, (face, *_) = profile
    lm = np.asarray(face["landmarks_xy"], np.float64)
    skin = visible_skin.face_skin(rgb, lm, face["landmarks_3d"])
    shares = visible_skin.skin_shares(lm, NEAR + FAR, skin)
    for near, far in zip(NEAR, FAR):
        a_near = float(zone_masks.face_zone_mask(lm, near, rgb.shape[:2]).sum())
        a_far = float(zone_masks.face_zone_mask(lm, far, rgb.shape[:2]).sum())
        assert a_far < 0.5 * a_near, (far, a_far, a_near)  # foreshortened to a strip (measured 6-45 %)
        assert shares[near]["hidden"] < 1.0 and shares[far]["hidden"] >= shares[near]["hidden"], (near, shares)
    # The limitation, measured: most of the far side still counts as visible (hidden 0-17 % per zone), because
    # the mesh does not turn as far as the head. If this starts failing the mesh or the culling got better:
    # update docs/landmarks.md.
    assert np.mean([shares[z]["hidden"] for z in FAR]) < 30
    # A grey photo has no hue: the skin model must still keep the near side's clean skin.
    assert shares["cheek_right"]["kept"] >= 95 and shares["crows_feet_right"]["kept"] >= 95
