#!/usr/bin/env python3
"""Checks for the built-in warp generator (resources/models/warp/warp_generator.onnx).

    /path/to/venv/bin/python resources/models/warp/check_warp.py [--images DIR] [--timing-runs 50]

The model returns a resampling (grids A, B and an overlay); "output" below is its composite on the crop, made
here as the plugin makes it on the full-resolution image (see run()).
1. identity (target == source landmarks) at S = 256, 512, 1024: max |output - source| <= 1e-4, changed == 0;
2. scripted landmark edits on the aligned astronaut crop (jaw open, blink, smile, head roll +-8 degrees, and
   more): no NaN/Inf, output in [0,1], changed in [0,1], output == source where changed == 0 (to 1e-4);
   side-by-side images (source | output | changed) are written to DIR for looking at;
3. timing: onnxruntime CPU, 2 intra-op threads, mean of N runs after warm-up, S = 256, 512, 1024.
Exits non-zero when a check fails.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
# The optional control points of manifest version 2, none: the model then gives its version 1 result.
NO_POINTS = {"source_points": np.zeros((1, 0, 2), np.float32), "target_points": np.zeros((1, 0, 2), np.float32)}
REPO = HERE.parent.parent.parent
MODEL = HERE / "warp_generator.onnx"
PORTRAIT = REPO / "resources" / "demo" / "astronaut.png"
REFERENCE = REPO / "tests" / "data" / "astronaut_reference.json"

# the optional iris inputs fed as zeros (no gaze)
IRIS0 = {"source_iris": np.zeros((1, 2, 2), np.float32), "target_iris": np.zeros((1, 2, 2), np.float32)}
CROP_IOD = 3.6        # crop side in inter-ocular distances (the face, hairline to chin, fills ~70 %)
CROP_DOWN = 0.35      # crop centre below the eye midpoint, in inter-ocular distances


# ----------------------------------------------------------------------------------------------------------------
# aligned crop
# ----------------------------------------------------------------------------------------------------------------
def bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample img [H,W,C] at continuous pixel coordinates (pixel i has its centre at i + 0.5), edge clamped."""
    h, w = img.shape[:2]
    x = np.clip(x - 0.5, 0, w - 1)
    y = np.clip(y - 0.5, 0, h - 1)
    x0 = np.floor(x).astype(int)
    y0 = np.floor(y).astype(int)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bot = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bot * fy


def aligned_crop(img: np.ndarray, lm: np.ndarray, S: int):
    """Similarity-aligned crop (eyes level). Returns crop [S,S,3] float in [0,1] and landmarks in crop pixels."""
    el, er = lm[36:42].mean(0), lm[42:48].mean(0)
    d = er - el
    iod = float(np.hypot(*d))
    ang = np.arctan2(d[1], d[0])
    ca, sa = np.cos(ang), np.sin(ang)
    R = np.array([[ca, -sa], [sa, ca]])                       # crop axes -> image axes
    down = R @ np.array([0.0, 1.0])
    centre = (el + er) / 2 + CROP_DOWN * iod * down
    side = CROP_IOD * iod
    k = side / S                                              # image px per crop px
    ys, xs = np.mgrid[0:S, 0:S].astype(np.float64) + 0.5
    rel = np.stack([xs - S / 2, ys - S / 2], -1) * k
    img_xy = rel @ R.T + centre
    crop = bilinear(img.astype(np.float64) / 255.0, img_xy[..., 0], img_xy[..., 1])
    lm_c = ((lm - centre) @ R) / k + S / 2                    # R orthonormal: inverse = R^T
    return crop.astype(np.float32), lm_c


def to_norm(lm_px: np.ndarray, S: int) -> np.ndarray:
    return (lm_px * 2.0 / S - 1.0).astype(np.float32)[None]


# ----------------------------------------------------------------------------------------------------------------
# scripted edits, in crop pixels
# ----------------------------------------------------------------------------------------------------------------
def iod_of(lm):
    return float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))


def edit_jaw_open(lm, amount=0.22):
    t = lm.copy()
    a = amount * iod_of(lm)
    w = {5: .35, 6: .65, 7: .9, 8: 1, 9: .9, 10: .65, 11: .35, 4: .12, 12: .12,
         55: .45, 56: .85, 57: .9, 58: .85, 59: .45, 65: .85, 66: .9, 67: .85,
         48: .2, 54: .2, 60: .2, 64: .2}
    for i, f in w.items():
        t[i, 1] += f * a
    return t


def edit_blink(lm, which=(0, 1), amount=1.0):
    t = lm.copy()
    pairs = [((37, 41), (38, 40)), ((43, 47), (44, 46))]
    for e in which:
        for up, lo in pairs[e]:
            t[up] = lm[up] + amount * (lm[lo] - lm[up])
    return t


def edit_smile(lm, amount=1.0):
    t = lm.copy()
    iod = iod_of(lm)
    up, out = 0.09 * iod * amount, 0.06 * iod * amount
    for i, s in ((48, -1), (60, -1), (54, 1), (64, 1)):
        t[i] += (s * out, -up)
    for i, s in ((49, -1), (59, -1), (53, 1), (55, 1), (61, -1), (67, -1), (63, 1), (65, 1)):
        t[i] += (s * out * 0.4, -up * 0.45)
    for i in (3, 4, 12, 13):     # cheeks
        t[i, 1] -= up * 0.15
    return t


def edit_roll(lm, deg):
    t = lm.copy()
    c = lm[30]
    a = np.deg2rad(deg)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (lm - c) @ R.T + c


def edit_close_mouth(lm):
    t = lm.copy()
    for up, lo in ((61, 67), (62, 66), (63, 65)):
        m = (lm[up] + lm[lo]) / 2
        t[up], t[lo] = m, m
    d = (t[66] - lm[66])[1]
    for i in (56, 57, 58):
        t[i, 1] += d * 0.8
    for i in (55, 59):
        t[i, 1] += d * 0.4
    for i, f in {7: .4, 8: .5, 9: .4}.items():
        t[i, 1] += d * f
    return t


def edit_wide(lm, amount=1.0):
    """both upper lids raised by 40 % of the opening (the plugin's eyeWide)"""
    t = lm.copy()
    for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):
        t[up] = lm[up] - 0.4 * amount * (lm[lo] - lm[up])
    return t


# Edits with the eye model: (landmark edit, iris shift in eye distances (x, y down)); the iris centres are taken
# as the eye landmarks' means here (the plugin uses the face mesh model's iris points)
EYE_EDITS = {
    "gaze_right": (lambda lm: lm.copy(), (0.06, 0.0)),
    "gaze_down": (lambda lm: lm.copy(), (0.0, 0.03)),
    "wide": (edit_wide, (0.0, 0.0)),
    "wide_gaze_left": (edit_wide, (-0.05, 0.0)),
    "blink_half_gaze": (lambda lm: edit_blink(lm, amount=0.5), (0.05, 0.0)),
}


def irises(lm, tl, shift, S):
    si = np.stack([lm[36:42].mean(0), lm[42:48].mean(0)])
    ti = np.stack([tl[36:42].mean(0), tl[42:48].mean(0)]) * 0 + si + np.array(shift) * iod_of(lm)
    return to_norm(si, S), to_norm(ti, S)


EDITS = {
    "jaw_open": lambda lm: edit_jaw_open(lm),
    "jaw_open_wide": lambda lm: edit_jaw_open(lm, 0.4),
    "blink": lambda lm: edit_blink(lm),
    "blink_half_right": lambda lm: edit_blink(lm, (0,), 0.5),
    "smile": lambda lm: edit_smile(lm),
    "roll_plus8": lambda lm: edit_roll(lm, 8),
    "roll_minus8": lambda lm: edit_roll(lm, -8),
    "close_mouth": lambda lm: edit_close_mouth(lm),
    "talk_blink_roll": lambda lm: edit_roll(edit_blink(edit_jaw_open(lm, 0.3)), 5),
}


# ----------------------------------------------------------------------------------------------------------------
def session(threads=2):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(MODEL), so, providers=["CPUExecutionProvider"])


def resample(src: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """src [1,3,S,S] sampled bilinearly at grid [1,2,S,S] (normalised, align_corners=0, edge clamped)."""
    S = src.shape[-1]
    x = np.clip(((grid[0, 0] + 1) * S - 1) / 2, 0, S - 1)
    y = np.clip(((grid[0, 1] + 1) * S - 1) / 2, 0, S - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, S - 1), np.minimum(y0 + 1, S - 1)
    tx, ty = x - x0, y - y0
    c = src[0]
    top = c[:, y0, x0] * (1 - tx) + c[:, y0, x1] * tx
    bot = c[:, y1, x0] * (1 - tx) + c[:, y1, x1] * tx
    return (top * (1 - ty) + bot * ty)[None]


def run(sess, src, lm_s, lm_t, iris=None):
    """The animated crop and the changed mask: the model returns two sampling grids A, B and an overlay,
    composited here as the plugin does it, (1 - a - b) * sample(source, A) + b * sample(source, B) + rgb
    (the plugin samples the full-resolution reference image instead of the crop)."""
    feeds = {"source": src, "source_landmarks": lm_s, "target_landmarks": lm_t, **NO_POINTS}
    # the optional iris inputs (manifest version 2): zeros = no gaze, the eyes as in version 1
    names = {i.name for i in sess.get_inputs()}
    feeds.update({n: np.zeros((1, 2, 2), np.float32) for n in ("source_iris", "target_iris") if n in names})
    if iris is not None:
        feeds["source_iris"], feeds["target_iris"] = iris
    grid, overlay, changed = sess.run(None, feeds)
    if not (np.isfinite(grid).all() and np.isfinite(overlay).all()):
        return np.full_like(src, np.nan), changed
    a, b = overlay[:, 3:4], overlay[:, 4:5]
    if a.min() < 0 or b.min() < 0 or (a + b).max() > 1 + 1e-6:
        return np.full_like(src, -1.0), changed
    out = (1 - a - b) * resample(src, grid[:, 0:2]) + b * resample(src, grid[:, 2:4]) + overlay[:, :3]
    return out.astype(np.float32), changed


def load_portrait():
    img = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    ref = json.loads(REFERENCE.read_text())
    lm = np.array(ref["ibug68"]["points_xy"], dtype=np.float64)
    return img, lm


def draw_points(im: Image.Image, lm, colour):
    d = ImageDraw.Draw(im)
    for x, y in lm:
        d.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=colour)


def panel(src, out, chg, lm_s, lm_t, zoom_box=None):
    a = Image.fromarray((np.clip(src, 0, 1) * 255 + 0.5).astype(np.uint8))
    b = Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8))
    c = Image.fromarray((np.clip(chg, 0, 1) * 255 + 0.5).astype(np.uint8)).convert("RGB")
    if zoom_box is not None:
        a, b, c = (im.crop(zoom_box) for im in (a, b, c))
    W, H = a.size
    canvas = Image.new("RGB", (3 * W, H))
    for k, im in enumerate((a, b, c)):
        canvas.paste(im, (k * W, 0))
    return canvas


def save_png(im: Image.Image, path: Path) -> None:
    """a small PNG: 256-colour palette (these images are for looking at, and some are committed)"""
    im.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default=str(HERE / "check"), help="folder for the side-by-side PNGs")
    ap.add_argument("--image-size", type=int, default=256, help="crop size used for the saved PNGs")
    ap.add_argument("--zoom", action="store_true", help="also write 2x zooms of the eyes and mouth (512 crop)")
    ap.add_argument("--timing-runs", type=int, default=50)
    args = ap.parse_args()

    ok = True
    sess = session()
    img, lm_img = load_portrait()
    print(f"model {MODEL.name} sha256 {hashlib.sha256(MODEL.read_bytes()).hexdigest()}")
    print(f"onnxruntime {ort.__version__}")

    # ---- identity ------------------------------------------------------------------------------------------------
    rng = np.random.default_rng(0)
    for S in (256, 512, 1024):
        src, lm = aligned_crop(img, lm_img, S)
        src_t = np.ascontiguousarray(src.transpose(2, 0, 1)[None])
        n = to_norm(lm, S)
        out, chg = run(sess, src_t, n, n)
        err = float(np.abs(out - src_t).max())
        cmax = float(chg.max())
        # also a random image (worst case for interpolation error)
        rnd = rng.random((1, 3, S, S), dtype=np.float32)
        out2, chg2 = run(sess, rnd, n, n)
        err2 = float(np.abs(out2 - rnd).max())
        good = err <= 1e-4 and err2 <= 1e-4 and cmax == 0.0 and float(chg2.max()) == 0.0
        ok &= good
        print(f"identity S={S}: max|out-src| {err:.2e} (random image {err2:.2e}), max changed {cmax} "
              f"{'OK' if good else 'FAIL'}")

    # ---- edits ---------------------------------------------------------------------------------------------------
    out_dir = Path(args.images)
    out_dir.mkdir(parents=True, exist_ok=True)
    for S in (256, 512, 1024):
        src, lm = aligned_crop(img, lm_img, S)
        src_t = np.ascontiguousarray(src.transpose(2, 0, 1)[None])
        edits = [(n, fn, None) for n, fn in EDITS.items()] + [(n, fn, sh) for n, (fn, sh) in EYE_EDITS.items()]
        for name, fn, shift in edits:
            tl = fn(lm)
            iris = None if shift is None else irises(lm, tl, shift, S)
            out, chg = run(sess, src_t, to_norm(lm, S), to_norm(tl, S), iris)
            finite = bool(np.isfinite(out).all() and np.isfinite(chg).all())
            in_range = bool(out.min() >= 0 and out.max() <= 1 and chg.min() >= 0 and chg.max() <= 1)
            still = chg[0, 0] == 0
            leak = float(np.abs(out - src_t)[0][:, still].max()) if still.any() else 0.0
            frac = float((chg > 0).mean())
            good = finite and in_range and leak <= 1e-4
            ok &= good
            if S == 512 or not good:
                print(f"edit {name:16s} S={S}: finite {finite}, in range {in_range}, "
                      f"max|out-src| where changed==0 {leak:.1e}, changed>0 on {100 * frac:.1f}% "
                      f"{'OK' if good else 'FAIL'}")
            o = out[0].transpose(1, 2, 0)
            c = chg[0, 0]
            if S == args.image_size:
                save_png(panel(src, o, c, lm, tl), out_dir / f"{name}.png")
            if args.zoom and S == 512:
                zdir = out_dir / "zoom"
                zdir.mkdir(exist_ok=True)
                eyes = lm[36:48]
                x0, y0 = eyes.min(0) - 40
                x1, y1 = eyes.max(0) + 40
                box = tuple(int(v) for v in (x0, y0, x1, y1))
                p = panel(src, o, c, lm, tl, box)
                p.resize((p.width * 2, p.height * 2), Image.LANCZOS).save(zdir / f"{name}_eyes.png")
                mouth = np.concatenate([lm[48:68], tl[48:68]])
                x0, y0 = mouth.min(0) - 30
                x1, y1 = mouth.max(0) + 30
                box = tuple(int(v) for v in (x0, y0, x1, y1))
                p = panel(src, o, c, lm, tl, box)
                p.resize((p.width * 2, p.height * 2), Image.LANCZOS).save(zdir / f"{name}_mouth.png")
                panel(src, o, c, lm, tl).save(zdir / f"{name}_full.png")

    # ---- fidelity: the map meets its control points -----------------------------------------------------------------
    # Point A of the grid at a moved MLS landmark's target position must point at its source position (so the feature
    # lands where the track puts it). Lids and inner lips are the layers' (their soft steps sit on the target curves).
    # Bound: 0.03 eye distances; 0.05 for the 0.4-eye-distance jaw drop, whose tent-shaped peak at the chin the
    # G = S/8 grid rounds (0.02 with G = S/4, at four times the MLS cost).
    S = 512
    src, lm = aligned_crop(img, lm_img, S)
    src_t = np.ascontiguousarray(src.transpose(2, 0, 1)[None])
    mls_points = [i for i in range(68) if not (i in (37, 38, 40, 41, 43, 44, 46, 47) or 60 <= i <= 67)]
    for name in ("jaw_open", "jaw_open_wide", "smile", "roll_plus8", "talk_blink_roll"):
        tl = EDITS[name](lm)
        grid = sess.run(None, {**IRIS0, **NO_POINTS, "source": src_t, "source_landmarks": to_norm(lm, S),
                               "target_landmarks": to_norm(tl, S)})[0][0]
        moved = [i for i in mls_points if np.hypot(*(tl[i] - lm[i])) > 0.5]
        gx = bilinear(grid[0][..., None], tl[moved, 0], tl[moved, 1])[:, 0]
        gy = bilinear(grid[1][..., None], tl[moved, 0], tl[moved, 1])[:, 0]
        miss = np.hypot((gx + 1) * S / 2 - lm[moved, 0], (gy + 1) * S / 2 - lm[moved, 1]) / iod_of(lm)
        good = bool(miss.max() <= (0.05 if name == "jaw_open_wide" else 0.03))
        ok &= good
        print(f"fidelity {name:16s} S={S}: {len(moved)} moved control points, miss mean {miss.mean():.4f}, "
              f"max {miss.max():.4f} (landmark {moved[int(miss.argmax())]}) of the eye distance "
              f"{'OK' if good else 'FAIL'}")

    # ---- robustness: jittered, collapsed, far-outside and corner-shifted landmarks ----------------------------------
    for S in (256, 512):
        src, lm = aligned_crop(img, lm_img, S)
        src_t = np.ascontiguousarray(src.transpose(2, 0, 1)[None])
        n = to_norm(lm, S)
        cases = [n + rng.normal(0, 0.02 * (k % 5 + 1), n.shape).astype(np.float32) for k in range(20)]
        cases += [np.zeros_like(n), n * 3, n + np.float32(0.9), np.clip(n * 1.5, -1, 1)]
        bad = 0
        for t in cases:
            for s_ in (n, t):
                out, chg = run(sess, src_t, s_.astype(np.float32), t.astype(np.float32))
                fail = not (np.isfinite(out).all() and np.isfinite(chg).all() and out.min() >= -1e-5
                            and out.max() <= 1 + 1e-5 and chg.min() >= 0 and chg.max() <= 1)
                if fail:
                    print(f"  odd case: out range [{np.nanmin(out):.3g}, {np.nanmax(out):.3g}], "
                          f"changed [{chg.min():.3g}, {chg.max():.3g}], finite {np.isfinite(out).all()}")
                bad += fail
        ok &= bad == 0
        print(f"robustness S={S}: {2 * len(cases)} odd landmark sets, {bad} with NaN/Inf or out of range "
              f"{'OK' if bad == 0 else 'FAIL'}")

    # ---- a closed-mouth portrait opening its mouth: the synthetic cavity and teeth hint -------------------------
    for S in (256, 512):
        src, lm = aligned_crop(img, lm_img, S)
        src_t = np.ascontiguousarray(src.transpose(2, 0, 1)[None])
        lm_closed = edit_close_mouth(lm)
        closed, _ = run(sess, src_t, to_norm(lm, S), to_norm(lm_closed, S))
        closed = closed.astype(np.float32)
        for name, amount in (("closed_jaw_open", 0.22), ("closed_jaw_open_wide", 0.4)):
            tl = edit_jaw_open(lm_closed, amount)
            out, chg = run(sess, closed, to_norm(lm_closed, S), to_norm(tl, S))
            finite = bool(np.isfinite(out).all() and np.isfinite(chg).all())
            in_range = bool(out.min() >= 0 and out.max() <= 1 and chg.min() >= 0 and chg.max() <= 1)
            good = finite and in_range
            ok &= good
            if S == 512:
                print(f"edit {name:16s} S={S}: finite {finite}, in range {in_range} {'OK' if good else 'FAIL'}")
            o, c, cl = out[0].transpose(1, 2, 0), chg[0, 0], closed[0].transpose(1, 2, 0)
            if S == args.image_size:
                save_png(panel(cl, o, c, lm_closed, tl), out_dir / f"{name}.png")
            if args.zoom and S == 512:
                mouth = np.concatenate([lm_closed[48:68], tl[48:68]])
                x0, y0 = mouth.min(0) - 30
                x1, y1 = mouth.max(0) + 30
                p = panel(cl, o, c, lm_closed, tl, tuple(int(v) for v in (x0, y0, x1, y1)))
                p.resize((p.width * 2, p.height * 2), Image.LANCZOS).save(out_dir / "zoom" / f"{name}_mouth.png")

    # ---- timing --------------------------------------------------------------------------------------------------
    # A bare GridSample of the crop (what any warp generator must at least do) is timed alongside, in the same
    # process and conditions, to calibrate against machine load.
    def bare_gridsample(S):
        from onnx import TensorProto, helper

        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, S, S])
        gr = helper.make_tensor_value_info("g", TensorProto.FLOAT, [1, S, S, 2])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, S, S])
        node = helper.make_node("GridSample", ["x", "g"], ["y"], mode="bilinear", padding_mode="zeros",
                                align_corners=0)
        m = helper.make_model(helper.make_graph([node], "bare", [x, gr], [y]),
                              opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])

    # "global": jaw + blink + 5 degree roll (the whole face moves); "local": a blink only (the MLS moves nothing,
    # only the eye windows are computed). Wall time per run, after 5 warm-up runs.
    for S in (256, 512, 1024):
        src, lm = aligned_crop(img, lm_img, S)
        src_t = np.ascontiguousarray(src.transpose(2, 0, 1)[None])
        for case, edit in (("global", "talk_blink_roll"), ("local", "blink")):
            s_n, t_n = to_norm(lm, S), to_norm(EDITS[edit](lm), S)
            for _ in range(5):
                sess.run(None, {**IRIS0, **NO_POINTS, "source": src_t, "source_landmarks": s_n, "target_landmarks": t_n})
            ts = []
            for _ in range(args.timing_runs):
                t0 = time.perf_counter()
                sess.run(None, {**IRIS0, **NO_POINTS, "source": src_t, "source_landmarks": s_n, "target_landmarks": t_n})
                ts.append(time.perf_counter() - t0)
            ts = np.array(ts) * 1e3
            print(f"timing S={S} {case:6s}: mean {ts.mean():6.2f} ms, median {np.median(ts):6.2f} ms, "
                  f"min {ts.min():6.2f} ms ({args.timing_runs} runs, 2 intra-op threads)")
        bare = bare_gridsample(S)
        c = (np.arange(S) * 2 + 1) / S - 1
        grid = (np.stack(np.meshgrid(c, c), -1)[None] + 0.3 / S).astype(np.float32)
        for _ in range(5):
            bare.run(None, {"x": src_t, "g": grid})
        ts = []
        for _ in range(args.timing_runs):
            t0 = time.perf_counter()
            bare.run(None, {"x": src_t, "g": grid})
            ts.append(time.perf_counter() - t0)
        ts = np.array(ts) * 1e3
        print(f"timing S={S} bare GridSample (reference): mean {ts.mean():6.2f} ms, median {np.median(ts):6.2f} ms, "
              f"min {ts.min():6.2f} ms")

    print("ALL OK" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
