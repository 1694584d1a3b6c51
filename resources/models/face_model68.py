#!/usr/bin/env python3
"""Writes `face_model68.json`: a symmetric 3-D model of the 68 iBUG points, for head-pose estimation
(`src/face/pose.rs`).

Where the shape comes from: the face mesh model's own depth on the demo portrait. MediaPipe's 468-point mesh
with z (the model `face_mesh_attention.onnx` ships converted from; its results on `resources/demo/astronaut.png`
are stored in `tests/data/astronaut_reference.json`, z scaled like x) is reduced to the 68 points with the
plugin's own table `mesh68.json` (the mean of the listed mesh points, x, y and z alike). MediaPipe's canonical
face model (`canonical_face_model.obj` in its repository) would be the other choice, but it is not in the
`mediapipe==0.10.14` wheel the converter pins and no model hub is reachable from the build machines; the mesh
model's own depth is also what the renderer rotates, so pose and warp agree on what a face's depth is.

Steps: flip z so that +z points towards the camera (the nose tip has the largest z); centre on the mean of the
68 points; find the small rotation that makes the shape most mirror-symmetric (the astronaut's head is turned
by a few degrees) and apply it; average each point with its mirror image (x negated, left and right swapped);
scale so that the distance between the eye centres (iBUG 36-41 and 42-47) is 1; centre again.

Frame of the result: x towards the image's right (the subject's left) for a frontal face, y down, z towards the
camera; units of inter-ocular distance. Standard library only; re-running gives the same bytes.

    python3 resources/models/face_model68.py     # writes resources/models/face_model68.json
"""
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REFERENCE = os.path.join(ROOT, "tests", "data", "astronaut_reference.json")
TABLE = os.path.join(HERE, "mesh68.json")
OUT = os.path.join(HERE, "face_model68.json")

# iBUG point -> its mirror image (the same part on the other side of the face).
MIRROR = (
    list(range(16, -1, -1))  # jaw 0..16
    + list(range(26, 16, -1))  # brows 17..26
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nose bottom
    + [45, 44, 43, 42, 47, 46]  # right eye 36..41 -> left eye
    + [39, 38, 37, 36, 41, 40]  # left eye 42..47 -> right eye
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lip 48..59
    + [64, 63, 62, 61, 60, 67, 66, 65]  # inner lip 60..67
)
assert len(MIRROR) == 68 and all(MIRROR[MIRROR[i]] == i for i in range(68))


def rotation(yaw, pitch, roll):
    """R = Rz(roll) Rx(pitch) Ry(yaw), the convention of src/face/pose.rs (degrees)."""
    cy, sy = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    cp, sp = math.cos(math.radians(pitch)), math.sin(math.radians(pitch))
    cr, sr = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]
    rx = [[1, 0, 0], [0, cp, sp], [0, -sp, cp]]
    rz = [[cr, sr, 0], [-sr, cr, 0], [0, 0, 1]]
    return matmul(rz, matmul(rx, ry))


def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def apply(r, pts):
    return [[sum(r[i][k] * p[k] for k in range(3)) for i in range(3)] for p in pts]


def mirrored(pts):
    return [[-pts[MIRROR[i]][0], pts[MIRROR[i]][1], pts[MIRROR[i]][2]] for i in range(68)]


def asymmetry(pts):
    m = mirrored(pts)
    return sum((a - b) ** 2 for p, q in zip(pts, m) for a, b in zip(p, q))


def centred(pts):
    c = [sum(p[k] for p in pts) / len(pts) for k in range(3)]
    return [[p[k] - c[k] for k in range(3)] for p in pts]


def main():
    ref = json.load(open(REFERENCE))
    table = json.load(open(TABLE))["mesh68"]
    mesh = ref["mesh"]["points_xyz"]
    pts = []
    for idx in table:
        x = sum(mesh[i][0] for i in idx) / len(idx)
        y = sum(mesh[i][1] for i in idx) / len(idx)
        z = sum(mesh[i][2] for i in idx) / len(idx)
        pts.append([x, y, -z])
    pts = centred(pts)

    # The most symmetric orientation: coordinate descent on yaw and roll with shrinking steps. Mirror symmetry
    # says nothing about pitch (a nod keeps a symmetric face symmetric), so the portrait's own pitch is kept as
    # the model's frontal one.
    angles = [0.0, 0.0, 0.0]
    step = 4.0
    best = asymmetry(pts)
    while step > 1e-4:
        improved = False
        for k in (0, 2):
            for d in (-step, step):
                trial = list(angles)
                trial[k] += d
                a = asymmetry(apply(rotation(*trial), pts))
                if a < best - 1e-12:
                    best, angles, improved = a, trial, True
        if not improved:
            step /= 2
    pts = apply(rotation(*angles), pts)
    sym = [[(p[k] + q[k]) / 2 for k in range(3)] for p, q in zip(pts, mirrored(pts))]
    sym = centred(sym)
    re = [sum(sym[i][k] for i in range(36, 42)) / 6 for k in range(3)]
    le = [sum(sym[i][k] for i in range(42, 48)) / 6 for k in range(3)]
    iod = math.dist(re, le)
    sym = [[round(v / iod, 6) + 0.0 for v in p] for p in sym]
    # Exact symmetry after rounding: the right-hand half is the mirror of the left-hand one.
    for i in range(68):
        j = MIRROR[i]
        if i == j:
            sym[i][0] = 0.0
        elif i > j:
            sym[i] = [-sym[j][0], sym[j][1], sym[j][2]]
    out = {
        "description": "A symmetric 3-D model of the 68 iBUG points for head-pose estimation (src/face/pose.rs), "
        "made by resources/models/face_model68.py. Frame: x towards the image's right (the subject's left) for a "
        "frontal face, y down, z towards the camera; origin the mean of the points; unit the distance between the "
        "eye centres (iBUG 36-41 and 42-47).",
        "source": "MediaPipe's face mesh (468 points with depth) on resources/demo/astronaut.png, from "
        "tests/data/astronaut_reference.json, reduced to 68 points with resources/models/mesh68.json, "
        "levelled (the portrait's own turn removed: yaw %.2f, roll %.2f degrees) and mirror-averaged."
        % (angles[0], angles[2]),
        "points_xyz": sym,
    }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("levelled by yaw %.2f pitch %.2f roll %.2f; residual asymmetry %.4f px^2; IOD %.2f px" % (*angles, best, iod))


if __name__ == "__main__":
    main()
