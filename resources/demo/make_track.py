#!/usr/bin/env python3
"""Makes the demo landmark track `track.json` (Living Portrait track format v1).

The track starts from the astronaut's own 68 landmarks (MediaPipe's, from
tests/data/astronaut_reference.json) and animates them procedurally over 48
frames at 24 fps: the jaw opens and closes as in speech, both eyes blink once,
the mouth corners rise into a smile, and the head rolls by up to 8 degrees.
Amounts are fractions of the distance between the eye centres (IOD), so the
same recipe suits any face. Standard library only; re-running gives the same
bytes.

    python3 resources/demo/make_track.py            # writes resources/demo/track.json
"""
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FRAMES = 48


def centre(points, idx):
    xs = [points[i][0] for i in idx]
    ys = [points[i][1] for i in idx]
    return sum(xs) / len(xs), sum(ys) / len(ys)


def animate(base, f):
    pts = [list(p) for p in base]
    rx, ry = centre(base, range(36, 42))
    lx, ly = centre(base, range(42, 48))
    iod = math.hypot(lx - rx, ly - ry)
    t = (f - 1) / FRAMES
    # Speech: two open-close cycles of the jaw in frames 1-24, then a wide one.
    if f <= 24:
        jaw = max(0.0, math.sin(2 * math.pi * t * 2)) * 0.28
    else:
        jaw = max(0.0, math.sin(math.pi * (f - 25) / 23)) * 0.35
    for i in range(3, 14):  # jaw line, more at the chin
        w = 1.0 - abs(i - 8) / 6.0
        pts[i][1] += jaw * iod * w
    for i in list(range(55, 60)) + list(range(64, 68)):  # lower lip
        pts[i][1] += jaw * iod
    for i in (54, 48):
        pts[i][1] += 0.45 * jaw * iod
    # A blink around frame 16: upper lids onto the lower lids.
    blink = math.exp(-((f - 16) / 1.6) ** 2)
    for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):
        pts[up][1] += (base[lo][1] - base[up][1]) * 0.95 * blink
    # A smile in the second half: mouth corners up and out.
    smile = max(0.0, math.sin(math.pi * (f - 25) / 23)) if f > 24 else 0.0
    for i, side in ((48, -1), (60, -1), (54, 1), (64, 1)):
        pts[i][0] += side * 0.08 * iod * smile
        pts[i][1] -= 0.07 * iod * smile
    # Head roll of up to 8 degrees about the nose tip.
    roll = math.radians(8) * math.sin(2 * math.pi * t)
    cx, cy = base[30]
    c, s = math.cos(roll), math.sin(roll)
    for p in pts:
        x, y = p[0] - cx, p[1] - cy
        p[0], p[1] = cx + c * x - s * y, cy + s * x + c * y
    return [[round(v, 3) for v in p] for p in pts]


def main():
    with open(os.path.join(ROOT, "tests", "data", "astronaut_reference.json")) as fh:
        ref = json.load(fh)
    base = ref["ibug68"]["points_xy"]
    w, h = ref["image"]["width"], ref["image"]["height"]
    track = {
        "format": "living-portrait-track",
        "version": 1,
        "landmarks": "ibug68",
        "coordinates": "image-pixels-top-left",
        "image_size": [w, h],
        "fps": 24,
        "source": "resources/demo/make_track.py: procedural speech, blink, smile and head roll on the astronaut's landmarks",
        "frames": [{"frame": f, "landmarks": animate(base, f)} for f in range(1, FRAMES + 1)],
    }
    with open(os.path.join(HERE, "track.json"), "w") as fh:
        json.dump(track, fh, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main()
