#!/usr/bin/env python3
"""Calibrates the gaze measure: how much of a known iris shift the shipped detector reads.

For each demo portrait, each eye's own iris disk (centre and radius as the detector reads them) is pasted shifted by
a known amount inside the eye's opening (the face mesh model's 16-point eye contour), an image edit with a known
answer: the vacated part of the old disk gets the portrait's sclera colour (the median of the brighter 40 % of the
opening around the iris), pixels of the shifted disk that would come from outside the opening get the iris's mean
colour. `living-portrait detect` then reads the edited image. Shifts are in inter-ocular distances (IOD) in the
face frame (u towards the subject's left eye, v towards the chin), the same as `measure.py --only gaze` asks of the
renderer: 0.065 and 0.08 to the sides (gazeX 20 and 25 degrees), 0.0395 up and down (gazeY 12 degrees).

Prints, per portrait and shift, what each eye's iris centre reads, the error in IOD, and the read share along each
axis (the gain `IRIS_READ_GAIN_U` in src/render/geometry.rs is the mean along u).

Usage (paths default to a debug build in ./target):
  python3 resources/demo/calibrate_gaze.py [--lp target/debug/living-portrait] [--out DIR] [PORTRAIT ...]
Needs numpy and Pillow (resources/models/warp/requirements.txt).
"""
import argparse
import json
import math
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PORTRAITS = ["astronaut.png", "grace_hopper.jpg", "obama.jpg"]
SHIFTS = [(0.065, 0), (-0.065, 0), (0.08, 0), (-0.08, 0), (0, -0.0395), (0, 0.0395)]
# the face mesh's eye contours (MediaPipe face mesh indices), the subject's right eye first, as the iris centres
EYES = ([33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7],
        [362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382])


def detect(lp, image):
    r = subprocess.run([lp, "detect", image, "--json", "--mesh"], capture_output=True, text=True, check=True)
    faces = json.loads(r.stdout)["faces"]
    return max(faces, key=lambda f: f["box"][2] * f["box"][3])


def frame_of(lm):
    re, le = lm[36:42].mean(0), lm[42:48].mean(0)
    d = le - re
    iod = float(np.hypot(*d))
    ex = d / iod
    return ex, np.array([-ex[1], ex[0]]), iod


def bilinear(a, x, y):
    h, w = a.shape[:2]
    x, y = np.clip(x, 0, w - 1.001), np.clip(y, 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    return (a[y0, x0] * (1 - fx) * (1 - fy) + a[y0, x0 + 1] * fx * (1 - fy) + a[y0 + 1, x0] * (1 - fx) * fy
            + a[y0 + 1, x0 + 1] * fx * fy)


def polygon_mask(shape, pts, ss=4):
    im = Image.new("L", (shape[1] * ss, shape[0] * ss), 0)
    ImageDraw.Draw(im).polygon([(x * ss, y * ss) for x, y in pts], fill=255)
    return np.asarray(im.resize((shape[1], shape[0]), Image.BOX), np.float32) / 255


def edit(a, face, du, dv):
    """The portrait `a` (float RGB) with both iris disks moved by (du, dv) IOD."""
    lm, mesh = np.array(face["landmarks68"]), np.array(face["mesh468"])
    ex, ey, iod = frame_of(lm)
    d = (du * ex + dv * ey) * iod
    out = a.copy()
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]].astype(np.float32) + 0.5
    for k, idx in enumerate(EYES):
        m = polygon_mask(a.shape, [mesh[i][:2] for i in idx])
        c, r = np.array(face["irises"][k]), face["iris_radii"][k]
        r_old, r_new = np.hypot(xx - c[0], yy - c[1]), np.hypot(xx - c[0] - d[0], yy - c[1] - d[1])
        inside = m > 0.5
        ring = a[inside & (r_old > 1.4 * r) & (r_old < 3 * r)]
        lum = ring.mean(1)
        sclera = np.median(ring[lum >= np.percentile(lum, 60)], axis=0)
        iris = a[inside & (r_old < 0.9 * r)].mean(0)
        moved = bilinear(a, xx - 0.5 - d[0], yy - 0.5 - d[1])
        from_in = bilinear(m[..., None], xx - 0.5 - d[0], yy - 0.5 - d[1])
        moved = moved * from_in + iris * (1 - from_in)
        w_new, w_old = np.clip(r + 0.5 - r_new, 0, 1)[..., None], np.clip(r + 0.5 - r_old, 0, 1)[..., None]
        val = (a * (1 - w_old) + sclera * w_old) * (1 - w_new) + moved * w_new
        out = out * (1 - m[..., None]) + val * m[..., None]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("portraits", nargs="*")
    ap.add_argument("--lp", default=os.path.join(ROOT, "target/debug/living-portrait"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="lp-calibrate-")
    os.makedirs(out, exist_ok=True)
    gains_u, gains_v = [], []
    for p in args.portraits or [os.path.join(HERE, p) for p in PORTRAITS]:
        name = os.path.splitext(os.path.basename(p))[0]
        src = detect(args.lp, p)
        a = np.asarray(Image.open(p).convert("RGB"), np.float32)
        ex, ey, iod = frame_of(np.array(src["landmarks68"]))
        worst = 0.0
        for du, dv in SHIFTS:
            f = os.path.join(out, f"{name}_{du:+.4f}_{dv:+.4f}.png")
            Image.fromarray(np.clip(edit(a, src, du, dv) + 0.5, 0, 255).astype(np.uint8)).save(f)
            face = detect(args.lp, f)
            row = []
            for k in range(2):
                s, r = np.array(src["irises"][k]), np.array(face["irises"][k])
                ru, rv = float((r - s) @ ex / iod), float((r - s) @ ey / iod)
                e = math.hypot(ru - du, rv - dv)
                worst = max(worst, e)
                if du:
                    gains_u.append(ru / du)
                if dv:
                    gains_v.append(rv / dv)
                row.append(f"eye {k} reads ({ru:+.4f}, {rv:+.4f}), error {e:.4f}")
            print(f"{name} pasted ({du:+.4f}, {dv:+.4f}) IOD: " + "; ".join(row), flush=True)
        print(f"{name}: worst error of a known-answer edit {worst:.4f} IOD", flush=True)
    print(f"read share along the eye (u): mean {np.mean(gains_u):.3f}, range {min(gains_u):.2f}-{max(gains_u):.2f}")
    print(f"read share across it (v): mean {np.mean(gains_v):.3f}, range {min(gains_v):.2f}-{max(gains_v):.2f}")


if __name__ == "__main__":
    main()
