#!/usr/bin/env python3
"""Reference face landmarks for the demo portrait, made with MediaPipe's own Python solutions (face mesh with
attention, refine_landmarks=True, as the plugin uses).

Writes tests/data/astronaut_reference.json and the visual check tests/data/astronaut_68_check.png.

Needs mediapipe 0.10.14 (see resources/models/requirements-mediapipe.txt; it wants protobuf<5, so use its own
virtualenv):

    /path/to/venv-mediapipe/bin/python tests/data/make_reference.py

Coordinates are image pixels with the origin at the top-left corner of the top-left pixel (MediaPipe's
normalised coordinates times the image width/height). z is MediaPipe's normalised z times the image width, so it
has the same scale as x (smaller = closer to the camera, roughly centred on the head).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
IMAGE = REPO / "resources" / "demo" / "astronaut.png"
MESH68 = REPO / "resources" / "models" / "mesh68.json"

KEYPOINT_NAMES = ["right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion"]


def r(v: float, nd: int = 4) -> float:
    return float(round(float(v), nd))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default=str(IMAGE))
    ap.add_argument("--out", default=str(HERE / "astronaut_reference.json"))
    ap.add_argument("--check-png", default=str(HERE / "astronaut_68_check.png"))
    args = ap.parse_args()

    import mediapipe as mp
    from mediapipe.python.solution_base import SolutionBase

    img = np.asarray(Image.open(args.image).convert("RGB"))
    h, w = img.shape[:2]

    # 1. face detection, short-range model, as mp.solutions.face_detection runs it
    with mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5) as fd:
        dets = fd.process(img).detections or []
    if len(dets) != 1:
        raise SystemExit(f"expected one face, found {len(dets)}")
    det = dets[0]
    bb = det.location_data.relative_bounding_box
    detection = {
        "score": r(det.score[0], 6),
        "box_xywh": [r(bb.xmin * w), r(bb.ymin * h), r(bb.width * w), r(bb.height * h)],
        "keypoint_names": KEYPOINT_NAMES,
        "keypoints": [[r(k.x * w), r(k.y * h)] for k in det.location_data.relative_keypoints],
    }

    # 2. face mesh: the FaceMesh solution's graph and settings, also observing its detection and crop rectangle
    graph = SolutionBase(
        binary_graph_path="mediapipe/modules/face_landmark/face_landmark_front_cpu.binarypb",
        side_inputs={"num_faces": 1, "with_attention": True, "use_prev_landmarks": False},
        calculator_params={
            "facedetectionshortrangecpu__facedetectionshortrange__facedetection__TensorsToDetectionsCalculator"
            ".min_score_thresh": 0.5,
            "facelandmarkcpu__ThresholdingCalculator.threshold": 0.5,
        },
        outputs=["multi_face_landmarks", "face_detections", "face_rects_from_detections"],
    )
    res = graph.process(input_data={"image": img})
    graph.close()
    # with attention (refine_landmarks=True) MediaPipe gives 478 points: the 468 mesh points with refined lips and
    # eyes, then 10 iris points (not used by the plugin, left out here)
    lms = res.multi_face_landmarks[0].landmark[:468]
    mesh = np.array([[p.x * w, p.y * h, p.z * w] for p in lms], dtype=np.float64)
    roi = res.face_rects_from_detections[0]
    mesh_det = res.face_detections[0]

    # the same numbers through the public FaceMesh class (must agree with the graph above)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as fm:
        lms2 = fm.process(img).multi_face_landmarks[0].landmark[:468]
    mesh2 = np.array([[p.x * w, p.y * h, p.z * w] for p in lms2])
    if np.max(np.abs(mesh2 - mesh)) > 1e-3:
        raise SystemExit("FaceMesh class and its graph disagree")
    if abs(mesh_det.score[0] - det.score[0]) > 1e-5:
        raise SystemExit("face mesh graph's detection differs from the face detection solution's")

    # 3. 68 iBUG points
    table = json.loads(MESH68.read_text())["mesh68"]
    ibug = np.array([mesh[idx].mean(axis=0) for idx in table])

    out = {
        "description": "MediaPipe reference results on resources/demo/astronaut.png, made by tests/data/make_reference.py",
        "mediapipe_version": mp.__version__,
        "coordinates": "image pixels, origin at the top-left corner of the image, x right, y down; z = MediaPipe's "
        "normalised z times the image width (same scale as x, smaller = nearer the camera)",
        "image": {
            "file": "resources/demo/astronaut.png",
            "width": w,
            "height": h,
            "rgb_sha256": hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest(),
        },
        "detection": {
            "model": "face_detection_short_range (mp.solutions.face_detection.FaceDetection(model_selection=0))",
            **detection,
        },
        "landmark_roi": {
            "description": "the rotated square crop MediaPipe's face mesh graph fed to the landmark model "
            "(FaceDetectionFrontDetectionToRoi output): centre and side in pixels, rotation in radians "
            "(positive = clockwise on screen)",
            "center": [r(roi.x_center * w), r(roi.y_center * h)],
            "width": r(roi.width * w),
            "height": r(roi.height * h),
            "rotation": r(roi.rotation, 6),
        },
        "mesh": {
            "settings": "mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)"
            " (model face_landmark_with_attention.tflite), the first 468 of its 478 points (the irises left out)",
            "count": len(mesh),
            "points_xyz": [[r(x), r(y), r(z)] for x, y, z in mesh],
        },
        "ibug68": {
            "table": "resources/models/mesh68.json",
            "points_xy": [[r(x), r(y)] for x, y, _ in ibug],
        },
    }
    Path(args.out).write_text(compact_json(out))
    print(f"wrote {args.out}: score {detection['score']}, box {detection['box_xywh']}, roi {out['landmark_roi']}")

    if args.check_png:
        draw_check(img, ibug[:, :2], table, Path(args.check_png))
        print(f"wrote {args.check_png}")


def compact_json(obj) -> str:
    """Indented JSON with every list of numbers or strings on one line."""
    text = json.dumps(obj, indent=1)
    flat = re.compile(r"\[\s*((?:-?[\d.eE+-]+|\"[^\"\n]*\")(?:,\s*(?:-?[\d.eE+-]+|\"[^\"\n]*\"))*)\s*\]")
    text = flat.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    return text + "\n"


def draw_check(img: np.ndarray, pts: np.ndarray, table, path: Path, scale: int = 6) -> None:
    """The face region enlarged, with the 68 points, their numbers and the part polylines."""
    x0, y0 = np.floor(pts.min(axis=0) - 12).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + 12).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, img.shape[1]), min(y1, img.shape[0])
    crop = Image.fromarray(img[y0:y1, x0:x1]).resize(((x1 - x0) * scale, (y1 - y0) * scale), Image.LANCZOS)
    crop = Image.fromarray((np.asarray(crop) * 0.7).astype(np.uint8))  # darker, so labels stand out
    d = ImageDraw.Draw(crop)
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", 15)
    except OSError:
        font = ImageFont.load_default()
    p = (pts - [x0, y0]) * scale
    parts = [(0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False),
             (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True)]
    colours = [(255, 255, 0), (0, 255, 0), (0, 255, 0), (0, 200, 255), (0, 200, 255), (255, 80, 80),
               (255, 80, 80), (255, 0, 255), (255, 160, 0)]
    for (a, b, closed), col in zip(parts, colours):
        seq = list(range(a, b + 1)) + ([a] if closed else [])
        d.line([tuple(p[i]) for i in seq], fill=col, width=1)
    for i, (x, y) in enumerate(p):
        d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(255, 255, 255))
        d.text((x + 4, y - 16), str(i), fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    crop.save(path, optimize=True)


if __name__ == "__main__":
    main()
