"""Landmark nodes: detect faces (FACE_LANDMARKS + BOUNDING_BOX), analyse one face, select / reorder faces.

Thin V1 wrappers over face/detection.py and face/analysis.py. Both analysis and selection accept ComfyUI
core's MediaPipeFaceLandmarker output as well as FaceLab's.
"""

from __future__ import annotations

import logging

from . import inputs, types
from .face import analysis, detection
from .face import face_landmarks as fl
from .face.analysis import landmarks_report

log = logging.getLogger("FaceLab")


class FaceLabFaceLandmarks:
    DESCRIPTION = (
        "Finds every face in every image of the batch with MediaPipe's face landmarker (478 mesh points and "
        "52 expression blendshapes per face) and maps them to full resolution, from 64 px thumbnails to 8K "
        "photos. Use it first: zone masks, crops and expression nodes all start from its landmarks. The "
        "output is ComfyUI core's FACE_LANDMARKS format. The default full_range mode finds every face down to "
        "~30 px, group photos included, and meshes each face upright on its own crop. No face gives empty "
        "landmarks (downstream nodes then pass images through)."
    )
    CATEGORY = types.category("Landmarks")
    FUNCTION = "detect"
    RETURN_TYPES = (types.FACE_LANDMARKS, types.BOUNDING_BOX, "INT", "STRING")
    RETURN_NAMES = ("face_landmarks", "bboxes", "face_count", "report")
    OUTPUT_TOOLTIPS = (
        "Landmarks of every face found, per image, in the chosen face order (ComfyUI core's format).",
        "One box per face (x, y, width, height, score), per image: the extent of the face mesh.",
        "How many faces were found in the whole batch.",
        "JSON report per image and face: box, confidence, eye openness, smile, head pose, sizes; "
        "says 'no face found' when there is none.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": (
                    "IMAGE",
                    {"tooltip": "The photo(s) to search for faces. Grayscale and RGBA images work too."},
                ),
                "max_faces": (
                    "INT",
                    {
                        "default": 8,
                        "min": 1,
                        "max": 64,
                        "step": 1,
                        "tooltip": "At most this many faces per image; when there are more, the most confident are kept.",
                    },
                ),
                "min_confidence": (
                    "FLOAT",
                    {
                        "default": 0.5,
                        "min": 0.05,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "How sure the detector must be that it sees a face (0..1). Lower it for "
                        "hard faces (profile, blur, shadow); raise it to drop doubtful ones.",
                    },
                ),
                "mode": (
                    list(detection.DETECTION_MODES),
                    {
                        "default": "full_range",
                        "tooltip": "full_range (default): MediaPipe's full-range detector finds every face down to "
                        "~30 px (group photos too), each meshed on its own crop. Older modes, kept for "
                        "saved workflows: standard (faces larger than ~15% of the image), small_faces "
                        "(tile search, faces down to ~60 px), auto (standard, small_faces if none).",
                    },
                ),
                "face_order": (
                    list(fl.FACE_ORDERS),
                    {
                        "default": "left_to_right",
                        "tooltip": "How faces are numbered (face_index 0, 1, ...): left_to_right by face centre, "
                        "largest_first, top_to_bottom, or detection (most confident first).",
                    },
                ),
            },
            "optional": {
                "reject_false_positives": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Drop detections whose colours are not skin-like (e.g. a colour "
                        "wheel MediaPipe mistakes for a face). Grey photos always pass.",
                    },
                ),
                "meshing": (
                    list(detection.MESHING_MODES),
                    {
                        "default": "steady",
                        "tooltip": "full_range mode only. steady: each face is meshed upright and mirrored and the "
                        "two meshes averaged (steadiest masks; the report gives how far they "
                        "disagreed, in % of the eye distance). upright: one mesh on a crop rotated "
                        "so the eyes are level (faster). plain: one mesh on an unrotated crop.",
                    },
                ),
            },
        }

    def detect(self, image, max_faces, min_confidence, mode, face_order, reject_false_positives=True, meshing="steady"):
        landmarks = detection.detect(
            image,
            max_faces=max_faces,
            min_confidence=min_confidence,
            mode=mode,
            order=face_order,
            reject_false_positives=reject_false_positives,
            meshing=meshing,
        )
        n = fl.count_faces(landmarks)
        settings = {"mode": mode, "face_order": face_order, "min_confidence": float(min_confidence)}
        if mode == "full_range":
            settings["meshing"] = meshing
        report = landmarks_report(landmarks, settings)
        log.info("FaceLab Face Landmarks: %s", report["summary"])
        return (landmarks, fl.bounding_boxes(landmarks), n, types.report_json(report))


class FaceLabFaceAnalysis:
    DESCRIPTION = (
        "Measures one face from face landmarks (FaceLab's or ComfyUI core's): how open each eye is, how much "
        "it smiles, and which way the head is turned. Route the numbers into switches or strengths, e.g. only "
        "fix closed eyes when an eye's openness is low. The report covers every face of every image."
    )
    CATEGORY = types.category("Landmarks")
    FUNCTION = "analyze"
    RETURN_TYPES = ("STRING", "BOOLEAN", "FLOAT", "FLOAT", "FLOAT", "FLOAT", "FLOAT", "FLOAT")
    RETURN_NAMES = ("report", "face_found", "left_eye_openness", "right_eye_openness", "smile", "yaw", "pitch", "roll")
    OUTPUT_TOOLTIPS = (
        "JSON report of every face: box, eye openness (eye aspect ratio and blink blendshape), smile, head pose.",
        "True when the selected face exists; when it does not, the numbers below are 0.",
        "Openness of the subject's own left eye (on the image's right for a frontal face): 0 closed .. 1 open; "
        "below 0.4 counts as closed.",
        "Openness of the subject's own right eye (on the image's left for a frontal face): 0 closed .. 1 open.",
        "Smile level 0 (neutral) .. 1 (broad smile), from the expression blendshapes or mouth-corner geometry.",
        "Head turn in degrees: positive when the face turns toward the image's right.",
        "Head nod in degrees: positive when looking up, negative when looking down.",
        "Head tilt in degrees: positive when the head is rotated counter-clockwise in the image.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "face_landmarks": inputs.face_landmarks(),
                "face_index": inputs.one_face_index(),
                "image_index": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 4095,
                        "step": 1,
                        "tooltip": "Which image of the batch the number outputs describe (0 = first).",
                    },
                ),
            }
        }

    def analyze(self, face_landmarks, face_index, image_index):
        report, a = analysis.analyse_one(face_landmarks, image_index, face_index)
        if a is None:
            log.info("FaceLab Face Analysis: %s", report["selected"]["message"])
            return (types.report_json(report), False, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        pose = a["head_pose"]
        return (
            types.report_json(report),
            True,
            float(a["eyes"]["left"]["openness"]),
            float(a["eyes"]["right"]["openness"]),
            float(a["smile"]["level"]),
            float(pose["yaw"] or 0.0),
            float(pose["pitch"] or 0.0),
            float(pose["roll"]),
        )


class FaceLabSelectFaces:
    DESCRIPTION = (
        "Reorders face landmarks and keeps one face or all of them, in every image of the batch. Use it to pick "
        "which face the following nodes edit (e.g. the largest), or to give ComfyUI core's landmarks FaceLab's "
        "stable face order. Images with fewer faces than face_index get no face (and are passed through downstream)."
    )
    CATEGORY = types.category("Landmarks")
    FUNCTION = "select"
    RETURN_TYPES = (types.FACE_LANDMARKS, types.BOUNDING_BOX, "INT")
    RETURN_NAMES = ("face_landmarks", "bboxes", "face_count")
    OUTPUT_TOOLTIPS = (
        "The selected faces, in the chosen order, in the same format as the input.",
        "One box per selected face, per image.",
        "How many faces were kept in the whole batch.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "face_landmarks": inputs.face_landmarks(),
                "face_order": (
                    list(fl.FACE_ORDERS),
                    {
                        "default": "left_to_right",
                        "tooltip": "Order applied before choosing, and kept for every node downstream: "
                        "left_to_right, largest_first, top_to_bottom, or detection (keep the input's "
                        "order).",
                    },
                ),
                "face_index": inputs.face_index(),
            }
        }

    def select(self, face_landmarks, face_order, face_index):
        face_landmarks = fl.validate(face_landmarks, "Select Faces")
        frames = [fl.select_faces(fl.sort_faces(faces, face_order), face_index) for faces in face_landmarks["frames"]]
        out = {**face_landmarks, "frames": frames}
        return (out, fl.bounding_boxes(out), fl.count_faces(out))


NODE_CLASS_MAPPINGS = {
    "FaceLabFaceLandmarks": FaceLabFaceLandmarks,
    "FaceLabFaceAnalysis": FaceLabFaceAnalysis,
    "FaceLabSelectFaces": FaceLabSelectFaces,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "FaceLabFaceLandmarks": "Face Landmarks (FaceLab)",
    "FaceLabFaceAnalysis": "Face Analysis",
    "FaceLabSelectFaces": "Select Faces",
}
