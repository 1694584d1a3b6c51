#!/usr/bin/env python3
"""Measures what the shipped face detector reads on rendered frames: how much of a scripted jaw drop and of a
scripted blink it sees, and how far the irises land from where a scripted gaze asks them to be.

Each sequence is rendered through the headless host (`ofx-render`, expression controls keyed at every frame, so
no interpolation is involved), then `living-portrait detect --json` reads every frame. The scripted motion is
known exactly from the detector's reading of the portrait itself (the plugin starts from the same analysis):

* jaw: `jawOpen` j moves each point of the inner lower lip (65-67) lower_lip_drop(u) j inter-ocular distances
  (IOD) towards the chin, u being its place across the mouth in half-widths (0.45 in the middle, an elliptic arc
  to 0.15 at the corners; `src/expressions.rs`); the scripted change of the mean inner-lip gap (61-67, 62-66,
  63-65) is the mean of the three drops times j.
  Read fraction = sum of the measured gap changes / sum of the scripted ones; agreement = 1 - sum of the
  per-frame |measured - scripted| / sum of the scripted (an over-read counts against it too).
* blink: `blinkLeft` = `blinkRight` = b moves 37, 38, 43, 44 by 0.95 b of the way onto 41, 40, 47, 46; the
  scripted change of the mean lid gap is 0.95 b times the portrait's own. Read fraction likewise.
* blink_calibration (with blink): the same closures made by a plain image transform of the portrait with exactly
  known lid motion (closed_by_hand), read the same way: what share of an exact blink the detector reads.
* gaze: `gazeX`/`gazeY` (degrees) ask for the iris centres to move by GAZE_RADIUS_IOD * sin(angle) IOD in the
  face frame (x towards the subject's left, y up), the same mapping as `src/expressions.rs`. Error = distance
  between the detector's iris centres and that target, in IOD; the worst frame is reported. Only when the build
  has the `gazeX` control and the detector reports irises.

Usage (paths default to a debug build in ./target):
  python3 resources/demo/measure.py [--ofx-render target/debug/ofx-render] [--plugin-path DIR]
      [--lp target/debug/living-portrait] [--out /tmp/measure] [--only jaw,blink,gaze] [PORTRAIT ...]
Prints one line per portrait and sequence, and a JSON summary at the end (--json FILE writes it to a file).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PORTRAITS = ["astronaut.png", "grace_hopper.jpg", "obama.jpg"]
PLUGIN = "org.livingportrait.LivingPortrait"
# Iris centre travel per unit sine of the gaze angle, in IOD: the eyeball's radius (about 12 mm) over the adult
# mean inter-pupillary distance (about 63 mm); must equal GAZE_RADIUS_IOD in src/expressions.rs.
GAZE_RADIUS_IOD = 0.19

JAW = [0.0, 0.15, 0.3, 0.45, 0.6, 0.8]
BLINK = [0.0, 0.25, 0.5, 0.75, 1.0]
GAZE = [(0, 0), (20, 0), (-20, 0), (0, 12), (0, -12), (15, 10)]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{r.stderr.strip()[-2000:]}")
    return r.stdout


def render(args, portrait, params, frames, out_dir):
    """params: name -> list of values, one per frame (keyed at every frame)."""
    os.makedirs(out_dir, exist_ok=True)
    cmd = [args.ofx_render, "--plugin-path", args.plugin_path, "--plugin", PLUGIN, "--input", f"Source={portrait}",
           "--frames", f"1-{frames}", "--out", os.path.join(out_dir, "f_%04d.png"), "--param", "driveMode=expressions"]
    for name, values in params.items():
        for k, v in enumerate(values):
            cmd += ["--param", f"{name}@{k + 1}={v}"]
    run(cmd)
    return [os.path.join(out_dir, f"f_{k + 1:04d}.png") for k in range(frames)]


def detect(args, image):
    try:
        out = json.loads(run([args.lp, "detect", image, "--json"]))
    except RuntimeError:
        return None
    faces = out.get("faces") or []
    if not faces:
        return None
    face = max(faces, key=lambda f: f["box"][2] * f["box"][3])
    return face


def dist(a, b):
    return math.hypot(a[0] - b[0], a[1] - b[1])


def centre(lm, idx):
    return [sum(lm[i][0] for i in idx) / len(idx), sum(lm[i][1] for i in idx) / len(idx)]


def frame_of(lm):
    """Face frame of 68 landmarks (image pixels, y down): origin, unit x towards the subject's left, IOD."""
    re, le = centre(lm, range(36, 42)), centre(lm, range(42, 48))
    d = [le[0] - re[0], le[1] - re[1]]
    iod = math.hypot(*d)
    return [(re[0] + le[0]) / 2, (re[1] + le[1]) / 2], [d[0] / iod, d[1] / iod], iod


def mouth_gap(lm):
    return sum(dist(lm[a], lm[b]) for a, b in [(61, 67), (62, 66), (63, 65)]) / 3


def lid_gap(lm):
    return sum(dist(lm[a], lm[b]) for a, b in [(37, 41), (38, 40), (43, 47), (44, 46)]) / 4


def agreement(measured, scripted):
    """1 - sum |measured - scripted| / sum scripted: 1 when every frame reads as scripted; an over-read costs as
    much as an under-read (the plain fraction lets one hide the other). Frames without a face count as 0 read."""
    total = sum(scripted)
    if not total:
        return None
    return 1 - sum(abs((m or 0.0) - s) for m, s in zip(measured, scripted)) / total


def lower_lip_drop(u):
    """Must equal lower_lip_drop in src/expressions.rs."""
    return 0.15 + 0.30 * math.sqrt(1.0 - min(u * u, 1.0))


def jaw_gap_per_unit(lm):
    """The scripted change of the mean inner-lip gap per unit of jawOpen, in IOD."""
    origin, ex, _ = frame_of(lm)
    along = lambda p: (p[0] - origin[0]) * ex[0] + (p[1] - origin[1]) * ex[1]
    mid, half = (along(lm[48]) + along(lm[54])) / 2, max(abs(along(lm[54]) - along(lm[48])) / 2, 1e-9)
    return sum(lower_lip_drop((along(lm[i]) - mid) / half) for i in (65, 66, 67)) / 3


def measure_jaw(args, portrait, src, out):
    frames = render(args, portrait, {"jawOpen": JAW}, len(JAW), out)
    k = jaw_gap_per_unit(src["landmarks68"])
    iod0 = frame_of(src["landmarks68"])[2]
    g0 = mouth_gap(src["landmarks68"]) / iod0
    read = scripted = 0.0
    per = []
    for j, f in zip(JAW, frames):
        face = detect(args, f)
        if face is None:
            per.append(None)
            continue
        g = mouth_gap(face["landmarks68"]) / frame_of(face["landmarks68"])[2]
        read += g - g0
        scripted += k * j
        per.append(round(g - g0, 4))
    return {"fraction": read / scripted if scripted else None, "agreement": agreement(per, [k * j for j in JAW]),
            "gap_change_iod": per, "scripted_iod": [round(k * j, 4) for j in JAW]}


def read_blink(args, src, frames):
    """The read fraction of a scripted blink: frames[k] shows both eyes closed by 0.95 BLINK[k] of the portrait's
    own lid gap (rendered or made by hand), the detector reads each."""
    a0 = lid_gap(src["landmarks68"]) / frame_of(src["landmarks68"])[2]
    read = scripted = 0.0
    per = []
    for b, f in zip(BLINK, frames):
        face = detect(args, f)
        if face is None:
            per.append(None)
            continue
        a = lid_gap(face["landmarks68"]) / frame_of(face["landmarks68"])[2]
        read += a0 - a
        scripted += 0.95 * b * a0
        per.append(round(a0 - a, 4))
    asked = [0.95 * b * a0 for b in BLINK]
    return {"fraction": read / scripted if scripted else None, "agreement": agreement(per, asked), "closing_iod": per,
            "scripted_iod": [round(a, 4) for a in asked], "aperture_iod": round(a0, 4)}


def measure_blink(args, portrait, src, out):
    return read_blink(args, src, render(args, portrait, {"blinkLeft": BLINK, "blinkRight": BLINK}, len(BLINK), out))


def closed_by_hand(portrait, lm, b, path):
    """The calibration transform: a plain image edit that closes both eyes of the portrait by b with known
    landmark motion. Per image column across each eye, the upper lid's line (the polyline 36-37-38-39, resp.
    42-43-44-45) moves b of the way down to the lower lid's (36-41-40-39); the band of one eye width above the lid
    is stretched down with it (brow end fixed), and the rows of the opening that the lid now covers are simply
    hidden (occluded, the rest of the eyeball stays where it was). Rows are resampled linearly; nothing else
    changes. So the upper lid landmarks 37, 38, 43, 44 move exactly b of the way onto 41, 40, 47, 46."""
    import numpy as np
    from PIL import Image
    img = np.asarray(Image.open(portrait).convert("RGB"), dtype=np.float64)
    out = img.copy()
    h = img.shape[0]
    for up, lo in (((36, 37, 38, 39), (36, 41, 40, 39)), ((42, 43, 44, 45), (42, 47, 46, 45))):
        xu, yu = [lm[i][0] for i in up], [lm[i][1] for i in up]
        xl, yl = [lm[i][0] for i in lo], [lm[i][1] for i in lo]
        band = (xu[-1] - xu[0])                                      # stretched band above the lid: one eye width
        for x in range(int(math.floor(xu[0])), int(math.ceil(xu[-1])) + 1):
            xc = x + 0.5
            y_u, y_l = float(np.interp(xc, xu, yu)), float(np.interp(xc, xl, yl))
            if y_l <= y_u:
                continue
            y_e = y_u + b * (y_l - y_u)                              # the lid line's new place
            top = y_u - band
            ys = np.arange(h) + 0.5
            src = ys.copy()
            sel = (ys > top) & (ys < y_e)
            src[sel] = top + (ys[sel] - top) * (y_u - top) / (y_e - top)
            s0 = np.clip(src - 0.5, 0, h - 1)
            i0 = np.floor(s0).astype(int)
            i1 = np.minimum(i0 + 1, h - 1)
            f = (s0 - i0)[:, None]
            out[:, x] = img[i0, x] * (1 - f) + img[i1, x] * f
    Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8)).save(path)
    return path


def calibrate_blink(args, portrait, src, out):
    """What the detector reads of eyes closed by a plain image transform with known landmark motion (the same
    closures and read fraction as measure_blink): the instrument's own gain for a blink."""
    os.makedirs(out, exist_ok=True)
    lm0 = src["landmarks68"]
    frames = [closed_by_hand(portrait, lm0, 0.95 * b, os.path.join(out, f"c_{k + 1:04d}.png"))
              for k, b in enumerate(BLINK)]
    return read_blink(args, src, frames)


def measure_gaze(args, portrait, src, out):
    if "irises" not in src:
        return {"error": "the detector reports no irises"}
    try:
        frames = render(args, portrait, {"gazeX": [g[0] for g in GAZE], "gazeY": [g[1] for g in GAZE]}, len(GAZE), out)
    except RuntimeError as e:
        return {"error": "no gaze controls in this build" if "gazeX" in str(e) else str(e)[-300:]}
    o, ex, iod = frame_of(src["landmarks68"])
    ey = [-ex[1], ex[0]]  # towards the chin, image y down
    errors = []
    for (gx, gy), f in zip(GAZE, frames):
        face = detect(args, f)
        if face is None or "irises" not in face:
            errors.append(None)
            continue
        du = GAZE_RADIUS_IOD * math.sin(math.radians(gx)) * iod
        dv = -GAZE_RADIUS_IOD * math.sin(math.radians(gy)) * iod
        e = 0.0
        for k in range(2):
            s = src["irises"][k]
            t = [s[0] + du * ex[0] + dv * ey[0], s[1] + du * ex[1] + dv * ey[1]]
            e = max(e, dist(t, face["irises"][k]) / frame_of(face["landmarks68"])[2])
        errors.append(round(e, 4))
    finite = [e for e in errors if e is not None]
    return {"worst_iod": max(finite) if finite else None, "per_frame_iod": errors,
            "asked_shift_iod": [round(GAZE_RADIUS_IOD * math.hypot(math.sin(math.radians(a)), math.sin(math.radians(b))), 4) for a, b in GAZE]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("portraits", nargs="*")
    ap.add_argument("--ofx-render", default=os.path.join(ROOT, "target/debug/ofx-render"))
    ap.add_argument("--plugin-path", default=os.path.join(ROOT, "target"))
    ap.add_argument("--lp", default=os.path.join(ROOT, "target/debug/living-portrait"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", default="jaw,blink,gaze")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    portraits = args.portraits or [os.path.join(HERE, p) for p in PORTRAITS]
    out = args.out or tempfile.mkdtemp(prefix="lp-measure-")
    summary = {}
    for p in portraits:
        name = os.path.splitext(os.path.basename(p))[0]
        src = detect(args, p)
        if src is None:
            print(f"{name}: no face detected in the portrait", flush=True)
            continue
        summary[name] = {}
        for seq, fn in [("jaw", measure_jaw), ("blink", measure_blink), ("blink_calibration", calibrate_blink),
                        ("gaze", measure_gaze)]:
            if seq.split("_")[0] not in args.only.split(","):
                continue
            r = fn(args, p, src, os.path.join(out, name, seq))
            summary[name][seq] = r
            print(f"{name} {seq}: {json.dumps(r)}", flush=True)
    text = json.dumps(summary, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
