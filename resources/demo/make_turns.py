#!/usr/bin/env python3
"""Head turns on the demo portrait: the contact sheets `turns_yaw.png` and `turns_pitch.png`, and the issue-13
head-turn measure.

Contact sheets: the astronaut rendered through `ofx-render` with the `headYaw` (-30, -15, 0, 15, 30) or
`headPitch` (-20, -10, 0, 10, 20) expression control keyed on frames 1-5, the head cropped from each frame, in a
row.

Measure (`--measure`): the portrait, enlarged 3x (a 130-pixel eye distance, so that a 20-degree turn moves points
by tens of pixels, not a few), is analysed with `living-portrait detect --mesh`; its own 468-point mesh (with the
face mesh model's depth) is rotated by +-20 degrees of yaw or pitch about its centre and projected
(orthographically), and only the 68 projected points (`mesh68.json`) are given to the renderer as frame 2 of a
track whose frame 1 is the portrait's own 68 (relative motion). The detector is run on the rendered frame and the
mean distance of all 468 detected points to the rotated mesh is reported, for each plugin bundle given (the
version 1 bundle and this one), beside the distance of the unmoved portrait's mesh to the rotated one.

Needs numpy and Pillow (resources/models/warp/requirements.txt):

    /work/venv-warp/bin/python resources/demo/make_turns.py --bin target/debug \\
        --bundle target/test-bundles/<any>/LivingPortrait.ofx.bundle [--measure --v1-bundle OLD.ofx.bundle]
"""
import argparse
import json
import math
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PORTRAIT = os.path.join(HERE, "astronaut.png")
PLUGIN = "org.livingportrait.LivingPortrait"
CROP = (140, 30, 320, 250)  # the head in the 512 x 512 frame


def run(cmd, env):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}\n{r.stderr}")
    return r.stdout


def render(args, env, bundle, portrait, frames, params, out):
    cmd = [os.path.join(args.bin, "ofx-render"), "--plugin-path", bundle, "--plugin", PLUGIN,
           "--input", f"Source={portrait}", "--frames", frames, "--out", out, "--depth", "byte", "--threads", "2"]
    for p in params:
        cmd += ["--param", p]
    run(cmd, env)


def sheet(args, env, name, param, values):
    with tempfile.TemporaryDirectory() as tmp:
        params = ["driveMode=expressions"] + [f"{param}@{i + 1}={v}" for i, v in enumerate(values)]
        render(args, env, args.bundle, PORTRAIT, f"1-{len(values)}", params, os.path.join(tmp, "f%04d.png"))
        tiles = [Image.open(os.path.join(tmp, f"f{i + 1:04d}.png")).convert("RGB").crop(CROP) for i in range(len(values))]
    # Four fifths of the render's size keeps a sheet under 150 KB.
    tiles = [t.resize((t.width * 4 // 5, t.height * 4 // 5), Image.LANCZOS) for t in tiles]
    w, h = tiles[0].size
    out = Image.new("RGB", (w * len(tiles), h))
    for i, t in enumerate(tiles):
        out.paste(t, (i * w, 0))
    path = os.path.join(HERE, name)
    out.save(path, optimize=True)
    print(f"wrote {path} ({os.path.getsize(path)} bytes): {param} {values}")


def rotation(yaw, pitch):
    """src/face/pose.rs's convention (x right, y down, z towards the camera): Rx(pitch) Ry(yaw)."""
    cy, sy = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    cp, sp = math.cos(math.radians(pitch)), math.sin(math.radians(pitch))
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    return rx @ ry


def detect(args, env, image):
    out = json.loads(run([os.path.join(args.bin, "living-portrait"), "detect", "--mesh", "--json", image], env))
    face = out["faces"][0]
    return np.array(face["mesh468"], float), np.array(face["landmarks68"], float)


def measure(args, env):
    table = json.load(open(os.path.join(ROOT, "resources", "models", "mesh68.json")))["mesh68"]
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "portrait3x.png")
        img = Image.open(PORTRAIT).convert("RGB")
        img.resize((img.width * 3, img.height * 3), Image.LANCZOS).save(big)
        mesh, lm68 = detect(args, env, big)
        iod = np.linalg.norm(lm68[42:48].mean(0) - lm68[36:42].mean(0))
        xyz = mesh[:, :3].copy()
        xyz[:, 2] *= -1  # MediaPipe's z is smaller nearer the camera; ours grows towards it
        centre = xyz.mean(0)
        print(f"portrait 3x: {img.width * 3} px, eye distance {iod:.1f} px")
        rows = []
        for name, yaw, pitch in [("yaw +20", 20, 0), ("yaw -20", -20, 0), ("pitch +20", 0, 20), ("pitch -20", 0, -20)]:
            turned = (xyz - centre) @ rotation(yaw, pitch).T + centre
            t68 = np.array([turned[idx, :2].mean(0) for idx in table])
            track = {"format": "living-portrait-track", "version": 1, "landmarks": "ibug68",
                     "coordinates": "image-pixels-top-left", "image_size": [img.width * 3, img.height * 3], "fps": 24,
                     "frames": [{"frame": 1, "landmarks": lm68.round(3).tolist()},
                                {"frame": 2, "landmarks": t68.round(3).tolist()}]}
            tpath = os.path.join(tmp, "track.json")
            json.dump(track, open(tpath, "w"))
            still = np.linalg.norm(mesh[:, :2] - turned[:, :2], axis=1).mean()
            row = [name, still]
            for label, bundle in (("v1", args.v1_bundle), ("v2", args.bundle)):
                out = os.path.join(tmp, f"{label}.png")
                render(args, env, bundle, big, "2", ["driveMode=trackFile", f"trackFile={tpath}"], out)
                got, _ = detect(args, env, out)
                row.append(np.linalg.norm(got[:, :2] - turned[:, :2], axis=1).mean())
            rows.append(row)
            print(f"{name}: 468-point error, unmoved portrait {row[1]:.2f} px, v1 {row[2]:.2f} px, v2 {row[3]:.2f} px "
                  f"(v2/v1 {row[3] / row[2]:.2f}; {row[3] / iod:.3f} IOD)")
        mean = np.mean([r[3] / r[2] for r in rows])
        print(f"mean v2/v1 ratio {mean:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="folder holding ofx-render and living-portrait")
    ap.add_argument("--bundle", required=True, help="the LivingPortrait.ofx.bundle to render with")
    ap.add_argument("--v1-bundle", help="a version 1 bundle, for --measure")
    ap.add_argument("--measure", action="store_true", help="also run the head-turn measure")
    ap.add_argument("--no-sheets", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ)
    if "LIVING_PORTRAIT_ORT_LIB" not in env:
        cache = os.path.join(ROOT, "target", "onnxruntime-cache", "cpu-1.31.1", "libonnxruntime.so.1.31.1")
        env["LIVING_PORTRAIT_ORT_LIB"] = cache
    if not args.no_sheets:
        sheet(args, env, "turns_yaw.png", "headYaw", [-30, -15, 0, 15, 30])
        sheet(args, env, "turns_pitch.png", "headPitch", [-20, -10, 0, 10, 20])
    if args.measure:
        if not args.v1_bundle:
            raise SystemExit("--measure needs --v1-bundle")
        measure(args, env)


if __name__ == "__main__":
    main()
