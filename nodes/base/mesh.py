"""Index constants of MediaPipe's 478-point face mesh that several capabilities use.

Sides are the subject's own (MediaPipe's naming): for a frontal face "right" lies on the image's left.
"""

from __future__ import annotations

# (outer, inner) eye corners per side.
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (263, 362)
EYE_CORNERS = {"right": RIGHT_EYE_CORNERS, "left": LEFT_EYE_CORNERS}
OUTER_EYE_CORNERS = (RIGHT_EYE_CORNERS[0], LEFT_EYE_CORNERS[0])  # subject's right / left outer corners
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473
NOSE_TIP = 1
MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER = 61, 291
MOUTH_CORNERS = {"right": MOUTH_RIGHT_CORNER, "left": MOUTH_LEFT_CORNER}
FOREHEAD_TOP, CHIN_BOTTOM = 10, 152
