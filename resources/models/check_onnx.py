#!/usr/bin/env python3
"""Run the ONNX face models the way MediaPipe's graphs do and compare with MediaPipe's own results.

This is the executable form of the "Pipeline recipe" in README.md, for whoever re-implements it (the Rust
plugin): face detection (letterbox, anchors, decoding, weighted NMS), the rotated landmark crop, the face mesh
with attention (refined lips and eyes, as refine_landmarks=True) and the projection of its 468 points back to the
image. It needs numpy, onnxruntime and Pillow only (no
MediaPipe, no OpenCV) and compares with tests/data/astronaut_reference.json, made by MediaPipe 0.10.14.

    python resources/models/check_onnx.py [--image resources/demo/astronaut.png] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

DET_SIZE = 128
MESH_SIZE = 192
SEG_SIZE = 256
MIN_SCORE = 0.5  # TensorsToDetections min_score_thresh (= the solutions' min_detection_confidence)
NMS_IOU = 0.3  # NonMaxSuppression min_suppression_threshold, weighted, IoU
ROI_SCALE = 1.5  # RectTransformation scale_x = scale_y, square_long
PRESENCE = 0.5  # face presence threshold (sigmoid of conv_faceflag)


# Mesh points replaced by the attention model's refined outputs: the indexes_mapping of MediaPipe 0.10.14's
# TensorsToFaceLandmarksWithAttention subgraph (LandmarksRefinementCalculator); the irises (468-477) are not used.
REFINEMENT = {
    "lips": [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409, 78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415, 76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408, 62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407],
    "left_eye": [33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189, 35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245, 156, 70, 63, 105, 66, 107, 55, 193],
    "right_eye": [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413, 265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465, 383, 300, 293, 334, 296, 336, 285, 417],
}


# ---------------------------------------------------------------------------------------------- sampling


def warp_affine_bilinear(img: np.ndarray, m: np.ndarray, out_w: int, out_h: int, border: str) -> np.ndarray:
    """out[v, u] = img sampled at m @ (u, v, 1); pixel centres at integer coordinates (OpenCV convention).

    Bilinear, then rounded to uint8 as OpenCV's 8-bit warp does. border: "zero" or "replicate".
    """
    u, v = np.meshgrid(np.arange(out_w, dtype=np.float64), np.arange(out_h, dtype=np.float64))
    sx = m[0, 0] * u + m[0, 1] * v + m[0, 2]
    sy = m[1, 0] * u + m[1, 1] * v + m[1, 2]
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    h, w = img.shape[:2]
    src = img.astype(np.float64)

    def tap(yy, xx):
        if border == "replicate":
            return src[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
        inside = ((xx >= 0) & (xx < w) & (yy >= 0) & (yy < h))[..., None]
        return np.where(inside, src[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], 0.0)

    out = (tap(y0, x0) * (1 - fx) * (1 - fy) + tap(y0, x0 + 1) * fx * (1 - fy)
           + tap(y0 + 1, x0) * (1 - fx) * fy + tap(y0 + 1, x0 + 1) * fx * fy)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def rect_to_tensor_matrix(cx: float, cy: float, w: float, h: float, rot: float, out_w: int, out_h: int):
    """Affine map tensor pixel (u, v) -> image pixel, for a rotated rectangle (all in image pixels).

    MediaPipe (ImageToTensorCalculator) maps the rectangle's corners to the tensor's corners (0, 0) and
    (out_w, out_h): tensor column u sits at fraction u / out_w across the rectangle.
    """
    c, s = math.cos(rot), math.sin(rot)
    ax = np.array([c * w / out_w, s * w / out_w])  # image step per tensor column
    ay = np.array([-s * h / out_h, c * h / out_h])  # image step per tensor row
    origin = np.array([cx, cy]) - ax * out_w / 2 - ay * out_h / 2
    return np.array([[ax[0], ay[0], origin[0]], [ax[1], ay[1], origin[1]]])


# ---------------------------------------------------------------------------------------------- detector


def ssd_anchors() -> np.ndarray:
    """896 anchor centres in [0, 1]: stride 8 -> 16x16 cells x 2, stride 16 -> 8x8 cells x 6; row-major cells."""
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        n = DET_SIZE // stride
        for y in range(n):
            for x in range(n):
                out += [((x + 0.5) / n, (y + 0.5) / n)] * per_cell
    return np.asarray(out, dtype=np.float64)


def decode_detections(reg: np.ndarray, logits: np.ndarray, anchors: np.ndarray):
    """-> list of (score, box [xmin, ymin, xmax, ymax], keypoints [6, 2]) in tensor-normalised coordinates."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
    dets = []
    for i in np.nonzero(scores >= MIN_SCORE)[0]:
        r = reg[i].astype(np.float64) / DET_SIZE
        cx, cy = r[0] + anchors[i, 0], r[1] + anchors[i, 1]
        w, h = r[2], r[3]
        kps = r[4:16].reshape(6, 2) + anchors[i]
        dets.append((float(scores[i]), np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]), kps))
    return dets


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(dets):
    """MediaPipe's WEIGHTED non-maximum suppression.

    Take the best remaining detection; every remaining detection whose IoU with it exceeds 0.3 (itself included)
    is removed and contributes to a score-weighted mean of box corners and keypoints; the result keeps the best
    detection's score.
    """
    remaining = sorted(dets, key=lambda d: -d[0])
    out = []
    while remaining:
        best = remaining[0]
        group = [d for d in remaining if iou(best[1], d[1]) > NMS_IOU]
        remaining = [d for d in remaining if iou(best[1], d[1]) <= NMS_IOU]
        wsum = sum(d[0] for d in group)
        box = sum(d[0] * d[1] for d in group) / wsum
        kps = sum(d[0] * d[2] for d in group) / wsum
        out.append((best[0], box, kps))
    return out


# ---------------------------------------------------------------------------------------------- pipeline


class Models:
    def __init__(self, threads: int = 1):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        mk = lambda n: ort.InferenceSession(str(HERE / n), so, providers=["CPUExecutionProvider"])  # noqa: E731
        self.det, self.mesh, self.seg = mk("face_detector.onnx"), mk("face_mesh_attention.onnx"), mk("selfie_segmentation.onnx")


def detect(models: Models, img: np.ndarray):
    h, w = img.shape[:2]
    side = max(w, h)  # letterbox: a square of the long side, centred, padded with black
    m = rect_to_tensor_matrix(w / 2, h / 2, side, side, 0.0, DET_SIZE, DET_SIZE)
    tensor = warp_affine_bilinear(img, m, DET_SIZE, DET_SIZE, "zero").astype(np.float32) / 127.5 - 1.0
    t = time.perf_counter()
    reg, cls = models.det.run(["regressors", "classificators"], {"input": tensor[None]})
    dt = time.perf_counter() - t
    dets = weighted_nms(decode_detections(reg[0], cls[0, :, 0], ssd_anchors()))

    def to_px(p):  # tensor-normalised -> image pixels (undo the letterbox)
        return np.stack([(p[..., 0] - 0.5) * side + w / 2, (p[..., 1] - 0.5) * side + h / 2], axis=-1)

    res = []
    for score, box, kps in dets:
        b = to_px(box.reshape(2, 2)).reshape(4)
        res.append({"score": score, "box_xyxy": b, "keypoints": to_px(kps)})
    return res, dt


def landmark_roi(det, img_w: int, img_h: int):
    """FaceDetectionFrontDetectionToRoi: box centre, long side x1.5, rotation levelling keypoints 0 -> 1."""
    x0, y0, x1, y1 = det["box_xyxy"]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    (ex0, ey0), (ex1, ey1) = det["keypoints"][0], det["keypoints"][1]  # right eye (image left), left eye
    rot = 0.0 - math.atan2(-(ey1 - ey0), ex1 - ex0)
    rot = rot - 2 * math.pi * math.floor((rot + math.pi) / (2 * math.pi))  # normalise to [-pi, pi)
    side = max(x1 - x0, y1 - y0) * ROI_SCALE
    return cx, cy, side, rot


def face_mesh(models: Models, img: np.ndarray, roi):
    cx, cy, side, rot = roi
    m = rect_to_tensor_matrix(cx, cy, side, side, rot, MESH_SIZE, MESH_SIZE)
    crop = warp_affine_bilinear(img, m, MESH_SIZE, MESH_SIZE, "replicate")
    tensor = crop.astype(np.float32) / 255.0
    t = time.perf_counter()
    pts, lips, left_eye, right_eye, flag = models.mesh.run(
        ["output_mesh_identity", "output_lips", "output_left_eye", "output_right_eye", "conv_faceflag"],
        {"input_1": tensor[None]})
    dt = time.perf_counter() - t
    presence = 1.0 / (1.0 + math.exp(-float(flag.ravel()[0])))
    raw = pts.reshape(468, 3).astype(np.float64)
    # LandmarksRefinementCalculator: the refined contours' x, y replace their mesh points' (z stays the mesh's)
    for part, values in (("lips", lips), ("left_eye", left_eye), ("right_eye", right_eye)):
        raw[REFINEMENT[part], :2] = values.reshape(-1, 2)
    # crop pixels -> image pixels: p = centre + R(rot) * (raw / 192 - 0.5) * side ; z scaled like x
    n = raw[:, :2] / MESH_SIZE - 0.5
    c, s = math.cos(rot), math.sin(rot)
    x = cx + (c * n[:, 0] - s * n[:, 1]) * side
    y = cy + (s * n[:, 0] + c * n[:, 1]) * side
    z = raw[:, 2] / MESH_SIZE * side
    return np.stack([x, y, z], axis=1), presence, crop, dt


def segment(models: Models, img: np.ndarray):
    h, w = img.shape[:2]
    m = rect_to_tensor_matrix(w / 2, h / 2, w, h, 0.0, SEG_SIZE, SEG_SIZE)  # stretched, no letterbox
    tensor = warp_affine_bilinear(img, m, SEG_SIZE, SEG_SIZE, "zero").astype(np.float32) / 255.0
    t = time.perf_counter()
    mask = models.seg.run(["activation_10"], {"input_1": tensor[None]})[0][0, :, :, 0]
    return mask, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default=str(REPO / "resources" / "demo" / "astronaut.png"))
    ap.add_argument("--reference", default=str(REPO / "tests" / "data" / "astronaut_reference.json"))
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--crop-png", help="save the 192x192 landmark crop here")
    args = ap.parse_args()

    img = np.asarray(Image.open(args.image).convert("RGB"))
    h, w = img.shape[:2]
    ref = json.loads(Path(args.reference).read_text())
    models = Models()

    dets, t_det = detect(models, img)
    if not dets:
        raise SystemExit("no face found")
    det = dets[0]
    roi = landmark_roi(det, w, h)
    mesh, presence, crop, t_mesh = face_mesh(models, img, roi)
    mask, t_seg = segment(models, img)
    if args.crop_png:
        Image.fromarray(crop).save(args.crop_png)

    # timing (steady state, 1 thread)
    for _ in range(3):
        detect(models, img), face_mesh(models, img, roi), segment(models, img)
    t = {"det": [], "mesh": [], "seg": []}
    for _ in range(20):
        t["det"].append(detect(models, img)[1])
        t["mesh"].append(face_mesh(models, img, roi)[3])
        t["seg"].append(segment(models, img)[1])

    rd = ref["detection"]
    rbox = np.array(rd["box_xywh"])
    rbox = np.array([rbox[0], rbox[1], rbox[0] + rbox[2], rbox[1] + rbox[3]])
    rkps = np.array(rd["keypoints"])
    rroi = ref["landmark_roi"]
    rmesh = np.array(ref["mesh"]["points_xyz"])
    table = json.loads((HERE / "mesh68.json").read_text())["mesh68"]
    ours68 = np.array([mesh[idx, :2].mean(axis=0) for idx in table])
    r68 = np.array(ref["ibug68"]["points_xy"])
    d2 = np.linalg.norm(mesh[:, :2] - rmesh[:, :2], axis=1)
    d68 = np.linalg.norm(ours68 - r68, axis=1)
    iod = np.linalg.norm(r68[36:42].mean(0) - r68[42:48].mean(0))
    report = {
        "faces": len(dets),
        "score": det["score"],
        "score_reference": rd["score"],
        "box_max_abs_diff_px": float(np.max(np.abs(det["box_xyxy"] - rbox))),
        "keypoints_max_abs_diff_px": float(np.max(np.abs(det["keypoints"] - rkps))),
        "roi": {"center": [roi[0], roi[1]], "side": roi[2], "rotation": roi[3]},
        "roi_reference": {"center": rroi["center"], "side": rroi["width"], "rotation": rroi["rotation"]},
        "face_presence": presence,
        "mesh_xy_mean_px": float(d2.mean()),
        "mesh_xy_max_px": float(d2.max()),
        "mesh_z_mean_abs_px": float(np.mean(np.abs(mesh[:, 2] - rmesh[:, 2]))),
        "ibug68_mean_px": float(d68.mean()),
        "ibug68_max_px": float(d68.max()),
        "interocular_px": float(iod),
        "ibug68_mean_over_interocular": float(d68.mean() / iod),
        "segmentation_mean_mask": float(mask.mean()),
        "ms_median_1_thread": {k: 1000 * float(np.median(v)) for k, v in t.items()},
        "onnxruntime": ort.__version__,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
