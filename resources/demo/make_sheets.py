#!/usr/bin/env python3
"""Contact sheets of generator v2's face motions: resources/demo/sheet_{jaw,talk,blink,gaze,wide}.png.

Each sheet has one row per demo portrait (astronaut, Grace Hopper, Obama) and one column per frame of a scripted
sequence rendered through the headless host (`ofx-render`, Expressions drive, controls keyed at every frame),
cropped to the face part the motion is about (the mouth for jaw and talk, the eyes for blink, gaze and wide) and
saved as a small palette PNG (< 150 KB).

Usage (paths default to a debug build in ./target):
  python3 resources/demo/make_sheets.py [--ofx-render target/debug/ofx-render] [--plugin-path DIR]
      [--lp target/debug/living-portrait] [--only jaw,talk,...] [--out resources/demo]
"""
import argparse
import json
import os
import subprocess
import tempfile

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PORTRAITS = ["astronaut.png", "grace_hopper.jpg", "obama.jpg"]
PLUGIN = "org.livingportrait.LivingPortrait"

# name -> (face part, column labels, controls keyed per frame)
SEQUENCES = {
    "jaw": ("mouth", ["0", "0.2", "0.4", "0.6", "0.8"], {"jawOpen": [0, 0.2, 0.4, 0.6, 0.8]}),
    "talk": ("mouth", ["rest", "ah", "ee", "oh", "smile+open"],
             {"jawOpen": [0, 0.5, 0.2, 0.35, 0.4], "mouthWide": [0, 0, 0.6, -0.5, 0.2],
              "pucker": [0, 0, 0, 0.5, 0], "smile": [0, 0, 0.3, 0, 0.7]}),
    "blink": ("eyes", ["0", "0.25", "0.5", "0.75", "1"], {"blinkLeft": [0, 0.25, 0.5, 0.75, 1], "blinkRight": [0, 0.25, 0.5, 0.75, 1]}),
    "gaze": ("eyes", ["0 deg", "x +25 deg", "x -25 deg", "y +12 deg", "y -12 deg"], {"gazeX": [0, 25, -25, 0, 0], "gazeY": [0, 0, 0, 12, -12]}),
    "wide": ("eyes", ["0", "0.5", "1", "1, gaze x +20 deg", "1, blink 0.5"],
             {"eyeWideLeft": [0, 0.5, 1, 1, 1], "eyeWideRight": [0, 0.5, 1, 1, 1], "gazeX": [0, 0, 0, 20, 0],
              "blinkLeft": [0, 0, 0, 0, 0.5], "blinkRight": [0, 0, 0, 0, 0.5]}),
}
CELL_H = 96


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{r.stderr[-2000:]}")
    return r.stdout


def face_box(args, portrait, part):
    lm = json.loads(run([args.lp, "detect", portrait, "--json"]))["faces"][0]["landmarks68"]
    el = [sum(lm[i][k] for i in range(36, 42)) / 6 for k in (0, 1)]
    er = [sum(lm[i][k] for i in range(42, 48)) / 6 for k in (0, 1)]
    iod = ((er[0] - el[0]) ** 2 + (er[1] - el[1]) ** 2) ** 0.5
    if part == "mouth":
        cx = sum(lm[i][0] for i in range(48, 68)) / 20
        cy = sum(lm[i][1] for i in range(48, 68)) / 20 + 0.12 * iod
        w, h = 1.25 * iod, 1.0 * iod
    else:
        cx, cy = (el[0] + er[0]) / 2, (el[1] + er[1]) / 2
        w, h = 1.9 * iod, 0.55 * iod
    return (int(cx - w / 2), int(cy - h / 2), int(cx + w / 2), int(cy + h / 2))


def render(args, portrait, controls, n, out_dir):
    cmd = [args.ofx_render, "--plugin-path", args.plugin_path, "--plugin", PLUGIN, "--input", f"Source={portrait}",
           "--frames", f"1-{n}", "--out", os.path.join(out_dir, "f_%04d.png"), "--depth", "byte",
           "--param", "driveMode=expressions"]
    for name, values in controls.items():
        for k, v in enumerate(values):
            cmd += ["--param", f"{name}@{k + 1}={v}"]
    run(cmd)
    return [Image.open(os.path.join(out_dir, f"f_{k + 1:04d}.png")).convert("RGB") for k in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ofx-render", default=os.path.join(ROOT, "target/debug/ofx-render"))
    ap.add_argument("--plugin-path", default=os.path.join(ROOT, "target"))
    ap.add_argument("--lp", default=os.path.join(ROOT, "target/debug/living-portrait"))
    ap.add_argument("--only", default=",".join(SEQUENCES))
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lp-sheets-")
    for name in args.only.split(","):
        part, labels, controls = SEQUENCES[name]
        n = len(labels)
        rows = []
        for p in PORTRAITS:
            path = os.path.join(HERE, p)
            box = face_box(args, path, part)
            frames = render(args, path, controls, n, os.path.join(tmp, name, p))
            cells = []
            for f in frames:
                c = f.crop(box)
                cells.append(c.resize((max(1, round(c.width * CELL_H / c.height)), CELL_H), Image.LANCZOS))
            rows.append(cells)
        cw = max(c.width for r in rows for c in r)
        label_h = 14
        sheet = Image.new("RGB", (cw * n, label_h + CELL_H * len(rows)), (255, 255, 255))
        draw = ImageDraw.Draw(sheet)
        for k, lab in enumerate(labels):
            draw.text((k * cw + 3, 1), f"{name} {lab}", fill=(0, 0, 0))
        for r, cells in enumerate(rows):
            for k, c in enumerate(cells):
                sheet.paste(c, (k * cw, label_h + r * CELL_H))
        out = os.path.join(args.out, f"sheet_{name}.png")
        sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
        print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
