#!/usr/bin/env python3
"""Head turns on the demo portrait: the contact sheets `turns_yaw.png` and `turns_pitch.png`, and the issue-13
head-turn measure.

Contact sheets: the astronaut rendered through `ofx-render` with the `headYaw` (-30, -15, 0, 15, 30) or
`headPitch` (-20, -10, 0, 10, 20) expression control keyed on frames 1-5, the head cropped from each frame, in a
row.

Measure (`--measure`): each portrait (the astronaut, Grace Hopper and Obama; `--portraits`), enlarged by a whole
factor to an eye distance of about 130 px (so that a 20-degree turn moves points by tens of pixels, not a few), is
analysed with `living-portrait detect --mesh`; its own 468-point mesh (with the
face mesh model's depth) is rotated by +-10 and +-20 degrees of yaw or pitch about its centre and projected
(orthographically), and only the 68 projected points (`mesh68.json`) are given to the renderer as frame 2 of a
track whose frame 1 is the portrait's own 68 (relative motion). The detector is run on the rendered frame and the
mean distance of all 468 detected points to the rotated mesh is reported, for each plugin bundle given (the
version 1 bundle and this one), beside the distance of the unmoved portrait's mesh to the rotated one; then means
in eye distances over the portraits, per turn, per region and over everything (`turns_measure.txt` holds a run).

The instrument is calibrated by two floors, what the detector reads on an exact 3-D turn of the same mesh: the
portrait's own textured mesh (a Delaunay triangulation of its unturned projection; the repository does not ship
MediaPipe's triangle list) truly turned and drawn with a z-buffer, the portrait itself outside the face ("floor":
where the turned face uncovers the portrait's own cheek or chin, that edge stays in the picture and the detector
reads it), and the same with a skirt, the mesh's boundary scaled out 1.3x about the face's centre that turns with
the head (hair, ears) and a fixed ring 2x out ("skirted": no uncovered edge, but the skirt is a proxy, like the
renderer's head shell). Errors are given per region of the face (each of the 468 points goes with its nearest of
the 68 landmarks: outline, brows, nose, eyes, mouth; "cheeks" where every landmark is over 0.25 eye distances
away). `--keep DIR` keeps the frames and the detected points.

A version 1 bundle: build commit 07d8bc4 in a separate worktree and assemble its bundle there
(`git worktree add /tmp/v1 07d8bc4 && cd /tmp/v1 && cargo run -p installer -- bundle`; the tests' bundles under
`target/test-bundles/` of that worktree do as well).

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


def delaunay(pts):
    """Delaunay triangles of 2-D points (Bowyer-Watson; numpy only, fine for the mesh's 468 points)."""
    pts = np.asarray(pts, float)
    lo, hi = pts.min(0), pts.max(0)
    span = (hi - lo).max() * 20.0
    mid = (lo + hi) / 2
    allp = np.vstack([pts, mid + [-span, -span], mid + [span, -span], mid + [0.0, span]])
    n = len(pts)
    tris = [(n, n + 1, n + 2)]

    def circle(t):
        (ax, ay), (bx, by), (cx, cy) = allp[list(t)]
        d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
        ux = ((ax * ax + ay * ay) * (by - cy) + (bx * bx + by * by) * (cy - ay) + (cx * cx + cy * cy) * (ay - by)) / d
        uy = ((ax * ax + ay * ay) * (cx - bx) + (bx * bx + by * by) * (ax - cx) + (cx * cx + cy * cy) * (bx - ax)) / d
        return ux, uy, (ax - ux) ** 2 + (ay - uy) ** 2

    circles = [circle(tris[0])]
    for i in range(n):
        x, y = allp[i]
        c = np.array(circles)
        bad = np.nonzero((c[:, 0] - x) ** 2 + (c[:, 1] - y) ** 2 < c[:, 2])[0]
        edges = {}
        for b in bad:
            a, b2, c2 = tris[b]
            for e in ((a, b2), (b2, c2), (c2, a)):
                k = tuple(sorted(e))
                edges[k] = None if k in edges else e
        keep = np.ones(len(tris), bool)
        keep[bad] = False
        tris = [t for t, k in zip(tris, keep) if k]
        circles = [ci for ci, k in zip(circles, keep) if k]
        for e in edges.values():
            if e is not None:
                t = (e[0], e[1], i)
                tris.append(t)
                circles.append(circle(t))
    return np.array([t for t in tris if max(t) < n])


def render_mesh_turn(img, src, dst, tris):
    """The portrait with its own mesh truly turned: each triangle of `tris` textured from its place `src` (2-D,
    pixels) in the portrait, drawn at `dst` (3-D, z towards the camera) with a z-buffer (a triangle turned away
    lies behind the ones facing the camera); outside the turned face the portrait itself. Pixel centres at integer coordinates (the detector's)."""
    h, w, _ = img.shape
    zbuf = np.full((h, w), -np.inf)
    tri_of = np.full((h, w), -1)
    bary = np.zeros((h, w, 3))
    area = lambda p: (p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[2, 0] - p[0, 0]) * (p[1, 1] - p[0, 1])
    for k, t in enumerate(tris):
        s2, d3 = src[t], dst[t]
        a_d = area(d3[:, :2])
        if abs(a_d) < 1e-9:
            continue  # edge-on
        x0, y0 = np.floor(d3[:, :2].min(0)).astype(int)
        x1, y1 = np.ceil(d3[:, :2].max(0)).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
        if x1 < x0 or y1 < y0:
            continue
        gy, gx = np.mgrid[y0:y1 + 1, x0:x1 + 1].astype(float)
        (ax, ay), (bx, by), (cx, cy) = d3[:, :2]
        l1 = ((bx - gx) * (cy - gy) - (cx - gx) * (by - gy)) / a_d
        l2 = ((cx - gx) * (ay - gy) - (ax - gx) * (cy - gy)) / a_d
        l3 = 1.0 - l1 - l2
        inside = (l1 >= -1e-9) & (l2 >= -1e-9) & (l3 >= -1e-9)
        z = l1 * d3[0, 2] + l2 * d3[1, 2] + l3 * d3[2, 2]
        zb = zbuf[y0:y1 + 1, x0:x1 + 1]
        win = inside & (z > zb)
        zb[win] = z[win]
        tri_of[y0:y1 + 1, x0:x1 + 1][win] = k
        bary[y0:y1 + 1, x0:x1 + 1][win] = np.stack([l1, l2, l3], -1)[win]
    out = img.astype(float).copy()
    ys, xs = np.nonzero(tri_of >= 0)
    s = src[tris[tri_of[ys, xs]]]  # (n, 3, 2)
    sp = (bary[ys, xs][:, :, None] * s).sum(1)
    fx, fy = np.clip(sp[:, 0], 0, w - 1.001), np.clip(sp[:, 1], 0, h - 1.001)
    ix, iy = fx.astype(int), fy.astype(int)
    tx, ty = (fx - ix)[:, None], (fy - iy)[:, None]
    f = img.astype(float)
    out[ys, xs] = (f[iy, ix] * (1 - tx) * (1 - ty) + f[iy, ix + 1] * tx * (1 - ty)
                   + f[iy + 1, ix] * (1 - tx) * ty + f[iy + 1, ix + 1] * tx * ty)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def hull_of(tris):
    """The boundary vertices of a triangulation (edges used by one triangle), in no order."""
    count = {}
    for t in tris:
        for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            k = tuple(sorted(e))
            count[k] = count.get(k, 0) + 1
    return sorted({i for k, c in count.items() if c == 1 for i in k})


# The skirted floor: the mesh's boundary scaled out about the face's centre by SKIRT (in the image, at the
# boundary's depth) turns with the head, standing in for hair and ears; a ring further out (RING) stays put.
SKIRT, RING = 1.3, 2.0


def skirted(xyz, rot, centre, tris):
    """The mesh with a skirt and a fixed ring (see SKIRT): source points (2-D), turned points (3-D, the ring far
    behind everything) and their triangles."""
    hull = hull_of(tris)
    c = centre[:2]
    skirt = np.array([np.r_[c + SKIRT * (xyz[i, :2] - c), xyz[i, 2]] for i in hull])
    ring = np.array([np.r_[c + RING * (xyz[i, :2] - c), xyz[:, 2].min() - 1e4] for i in hull])
    src = np.vstack([xyz, skirt, ring])
    moving = np.vstack([xyz, skirt])
    dst = np.vstack([(moving - centre) @ rot.T + centre, ring])
    return src[:, :2], dst, delaunay(src[:, :2])


# Regions of the 468 points for the breakdown: each point goes with its nearest of the 68 landmarks on the
# unturned portrait (jaw 0-16: outline; brows 17-26; nose 27-35; eyes 36-47; lips 48-67), unless every landmark
# is more than CHEEK_IOD eye distances away: then it is cheek or forehead skin.
REGIONS = (("outline", range(0, 17)), ("brows", range(17, 27)), ("nose", range(27, 36)), ("eyes", range(36, 48)),
           ("mouth", range(48, 68)))
CHEEK_IOD = 0.25


def regions(mesh2, lm68, iod):
    d = np.linalg.norm(mesh2[:, None, :] - lm68[None, :, :], axis=2)
    near = d.argmin(1)
    out = {name: np.isin(near, list(r)) & (d.min(1) <= CHEEK_IOD * iod) for name, r in REGIONS}
    out["cheeks"] = d.min(1) > CHEEK_IOD * iod
    return out


# The turns (+-20 degrees) and, to average the detector's noise, +-10 as well.
TURNS = [("yaw +20", 20, 0), ("yaw -20", -20, 0), ("pitch +20", 0, 20), ("pitch -20", 0, -20),
         ("yaw +10", 10, 0), ("yaw -10", -10, 0), ("pitch +10", 0, 10), ("pitch -10", 0, -10)]
PORTRAITS = ["astronaut.png", "grace_hopper.jpg", "obama.jpg"]
EYE_PX = 130  # the eye distance the portraits are enlarged to


def measure_portrait(args, env, name, labels, tmp, keep=None, turns=TURNS, log=print):
    """The head-turn measure on one portrait: {turn: {label: 468 errors (px)}}, the regions and the eye distance.
    `labels`: "floor", "skirted", and bundle labels with their bundles in `args.bundles`."""
    table = json.load(open(os.path.join(ROOT, "resources", "models", "mesh68.json")))["mesh68"]
    img = Image.open(os.path.join(HERE, name)).convert("RGB")
    small = os.path.join(tmp, "portrait.png")
    img.save(small)
    _, lm = detect(args, env, small)
    k = max(1, round(EYE_PX / np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))))
    big = os.path.join(tmp, "portrait_big.png")
    img = img.resize((img.width * k, img.height * k), Image.LANCZOS)
    img.save(big)
    pix = np.asarray(img)
    mesh, lm68 = detect(args, env, big)
    iod = np.linalg.norm(lm68[42:48].mean(0) - lm68[36:42].mean(0))
    xyz = mesh[:, :3].copy()
    xyz[:, 2] *= -1  # MediaPipe's z is smaller nearer the camera; ours grows towards it
    centre = xyz.mean(0)
    tris = delaunay(xyz[:, :2])
    parts = regions(xyz[:, :2], lm68, iod)
    log(f"{name} x{k}: {img.width} x {img.height} px, eye distance {iod:.1f} px; {len(tris)} triangles")
    out = {}
    stem = os.path.splitext(name)[0]
    for turn, yaw, pitch in turns:
        rot = rotation(yaw, pitch)
        turned = (xyz - centre) @ rot.T + centre
        t68 = np.array([turned[idx, :2].mean(0) for idx in table])
        track = {"format": "living-portrait-track", "version": 1, "landmarks": "ibug68",
                 "coordinates": "image-pixels-top-left", "image_size": [img.width, img.height], "fps": 24,
                 "frames": [{"frame": 1, "landmarks": lm68.round(3).tolist()},
                            {"frame": 2, "landmarks": t68.round(3).tolist()}]}
        tpath = os.path.join(tmp, "track.json")
        json.dump(track, open(tpath, "w"))
        errs = {"unmoved": np.linalg.norm(mesh[:, :2] - turned[:, :2], axis=1)}
        tag = stem + "_" + turn.replace(" ", "").replace("+", "p").replace("-", "m")
        for label in labels:
            frame = os.path.join(keep or tmp, f"{tag}_{label}.png")
            if label == "floor":
                Image.fromarray(render_mesh_turn(pix, xyz[:, :2], turned, tris)).save(frame)
            elif label == "skirted":
                Image.fromarray(render_mesh_turn(pix, *skirted(xyz, rot, centre, tris))).save(frame)
            else:
                render(args, env, args.bundles[label], big, "2", ["driveMode=trackFile", f"trackFile={tpath}"], frame)
            got, _ = detect(args, env, frame)
            errs[label] = np.linalg.norm(got[:, :2] - turned[:, :2], axis=1)
            if keep:
                json.dump({"turned": turned.round(2).tolist(), "detected": got.round(2).tolist()},
                          open(os.path.join(keep, f"{tag}_{label}.json"), "w"))
        out[turn] = errs
    return out, parts, iod


def measure(args, env):
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    args.bundles = {label: b for label, b in (("v1", args.v1_bundle), ("v2", args.bundle)) if b}
    labels = ["floor", "skirted"] + list(args.bundles)
    cols = ["unmoved"] + labels
    table = {}  # (portrait, turn) -> {label: mean error in eye distances}
    region_sum = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.portraits:
            res, parts, iod = measure_portrait(args, env, name, labels, tmp, args.keep)
            for turn, errs in res.items():
                table[(name, turn)] = {k: v.mean() / iod for k, v in errs.items()}
                print(f"  {turn:9s} " + "  ".join(f"{k} {v.mean():5.2f}" for k, v in errs.items()) + " px")
                for part, sel in parts.items():
                    for k, v in errs.items():
                        region_sum.setdefault((part, k), []).append(v[sel].mean() / iod)
    print("\nmean 468-point error, eye distances (all portraits):")
    for turn, _, _ in TURNS:
        rows = [t for (n, tt), t in table.items() if tt == turn]
        print(f"  {turn:9s} " + "  ".join(f"{k} {np.mean([r[k] for r in rows]):.4f}" for k in cols))
    print("by region (all portraits and turns):")
    for part in list(parts):
        print(f"  {part:8s} " + "  ".join(f"{k} {np.mean(region_sum[(part, k)]):.4f}" for k in cols))
    allm = {k: np.mean([r[k] for r in table.values()]) for k in cols}
    print("all      " + "  ".join(f"{k} {v:.4f}" for k, v in allm.items()))
    if "v1" in allm and "v2" in allm:
        for f in ("floor", "skirted"):
            print(f"v2/v1 {allm['v2'] / allm['v1']:.3f}; above the \"{f}\" floor: v1 {allm['v1'] - allm[f]:+.4f}, "
                  f"v2 {allm['v2'] - allm[f]:+.4f} eye distances")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="folder holding ofx-render and living-portrait")
    ap.add_argument("--bundle", required=True, help="the LivingPortrait.ofx.bundle to render with")
    ap.add_argument("--v1-bundle", help="a version 1 bundle, for --measure")
    ap.add_argument("--measure", action="store_true", help="also run the head-turn measure")
    ap.add_argument("--no-sheets", action="store_true")
    ap.add_argument("--keep", help="for --measure: a folder to keep the measured frames in")
    ap.add_argument("--portraits", nargs="+", default=PORTRAITS, help="for --measure: portraits in resources/demo")
    args = ap.parse_args()
    env = dict(os.environ)
    if "LIVING_PORTRAIT_ORT_LIB" not in env:
        cache = os.path.join(ROOT, "target", "onnxruntime-cache", "cpu-1.31.1", "libonnxruntime.so.1.31.1")
        env["LIVING_PORTRAIT_ORT_LIB"] = cache
    if not args.no_sheets:
        sheet(args, env, "turns_yaw.png", "headYaw", [-30, -15, 0, 15, 30])
        sheet(args, env, "turns_pitch.png", "headPitch", [-20, -10, 0, 10, 20])
    if args.measure:
        measure(args, env)


if __name__ == "__main__":
    main()
