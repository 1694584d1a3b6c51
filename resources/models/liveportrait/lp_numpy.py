"""The `liveportrait` pack pipeline in numpy + ONNX Runtime: the same formulas the Rust side implements
(src/packs/, kind `liveportrait`), written from LivePortrait's reference code (KwaiVGI/LivePortrait at commit
1986663be3b6902605d32200c01f4bfd36cda83d; the README's "The maths" cites file and line for each).

Used by compare_reference.py (against the reference's own classes) and bench_pack.py; no torch needed.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROLES = ("appearance", "motion", "warping", "generator", "stitching", "retarget_eye", "retarget_lip")


# ---------------------------------------------------------------------------------------------------------------
# crop (reference src/utils/crop.py: parse_pt2_from_pt68, parse_rect_from_landmark, _estimate_similar_transform_
# from_pts, crop_image; src/live_portrait_wrapper.py prepare_source resizes the 512 crop to 256)
# ---------------------------------------------------------------------------------------------------------------


def crop_transform(lmk68: np.ndarray, dsize: int, scale: float = 2.3, vx_ratio: float = 0.0,
                   vy_ratio: float = -0.125) -> np.ndarray:
    """2x3 matrix from image pixel coordinates (OpenCV's: pixel i's centre at i) to crop coordinates.

    Axes: uy points from the eyes' centre to the mouth's centre, ux = (uy.y, -uy.x). The box is the square around
    the 68 points in that frame, side = the larger extent x `scale`; its centre is moved by vx_ratio*side along ux
    and vy_ratio*side along uy (negative vy: towards the forehead)."""
    p = np.asarray(lmk68, np.float64)
    eyes = (p[[36, 39]].mean(0) + p[[42, 45]].mean(0)) / 2
    mouth = (p[48] + p[54]) / 2
    uy = mouth - eyes
    n = np.linalg.norm(uy)
    uy = uy / n if n > 1e-3 else np.array([0.0, 1.0])
    ux = np.array([uy[1], -uy[0]])
    rot = np.stack([ux, uy])
    c0 = p.mean(0)
    r = (p - c0) @ rot.T
    lo, hi = r.min(0), r.max(0)
    c1 = (lo + hi) / 2
    side = float((hi - lo).max()) * scale
    centre = c0 + ux * c1[0] + uy * c1[1] + ux * (vx_ratio * side) + uy * (vy_ratio * side)
    s = dsize / side
    m = np.zeros((2, 3))
    m[:, :2] = s * rot
    m[:, 2] = dsize / 2 - s * rot @ centre
    return m


def warp_bilinear(img: np.ndarray, m: np.ndarray, dsize: int) -> np.ndarray:
    """out[y, x] = img sampled bilinearly at inverse(m) applied to (x, y); outside the image: 0 (float64)"""
    a = np.vstack([m, [0, 0, 1]])
    inv = np.linalg.inv(a)
    ys, xs = np.mgrid[0:dsize, 0:dsize].astype(np.float64)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = sx - x0, sy - y0
    h, w = img.shape[:2]
    src = img.astype(np.float64)
    out = np.zeros((dsize, dsize, img.shape[2]))
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            val = np.zeros_like(out)
            val[ok] = src[yi[ok], xi[ok]]
            out += val * (wx * wy)[..., None]
    return out


def crop_256(img_rgb_unit: np.ndarray, lmk68: np.ndarray, conv: dict | None = None) -> np.ndarray:
    """[1,3,256,256] float32 crop in 0..1: warp to 512 (bilinear), then 2x2 box average to 256 (what OpenCV's
    linear resize does for an exact halving)."""
    c = (conv or {}).get("crop", {"scale": 2.3, "vx_ratio": 0.0, "vy_ratio": -0.125})
    m = crop_transform(lmk68, 512, c["scale"], c["vx_ratio"], c["vy_ratio"])
    big = warp_bilinear(img_rgb_unit, m, 512)
    small = big.reshape(256, 2, 256, 2, 3).mean(axis=(1, 3))
    return np.ascontiguousarray(small.transpose(2, 0, 1)[None].astype(np.float32))


# ---------------------------------------------------------------------------------------------------------------
# keypoint maths
# ---------------------------------------------------------------------------------------------------------------


def degrees(logits: np.ndarray, bins: int = 66, step: float = 3.0, offset: float = -97.5) -> float:
    """softmax expectation of the bin index x step + offset (reference src/utils/camera.py 14-26)"""
    z = np.asarray(logits, np.float64).reshape(-1)
    e = np.exp(z - z.max())
    return float((e / e.sum() * np.arange(bins)).sum() * step + offset)


def rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """(Rz(roll) Ry(yaw) Rx(pitch))^T: row keypoints are right-multiplied by it (camera.py 31-73)"""
    x, y, z = np.deg2rad([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return (rz @ ry @ rx).T


def raw_motion(sess, image: np.ndarray) -> dict:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"image": image})))


def motion_info(raw: dict, conv: dict) -> dict:
    n = conv["num_kp"]
    info = {k: degrees(raw[k], conv["pose_bins"], conv["bin_degrees"], conv["bin_offset_degrees"])
            for k in ("pitch", "yaw", "roll")}
    info.update(t=np.asarray(raw["t"], np.float64).reshape(3), exp=np.asarray(raw["exp"], np.float64).reshape(n, 3),
                scale=float(np.asarray(raw["scale"]).reshape(())),
                kp=np.asarray(raw["kp"], np.float64).reshape(n, 3))
    info["R"] = rotation(info["pitch"], info["yaw"], info["roll"])
    return info


def transform(info: dict) -> np.ndarray:
    """x = scale (kp R + exp), + (tx, ty) on x, y (live_portrait_wrapper.py 184-212)"""
    x = info["scale"] * (info["kp"] @ info["R"] + info["exp"])
    x[:, :2] += info["t"][:2]
    return x


def relative(src: dict, d0: dict, di: dict) -> np.ndarray:
    """relative motion, still source, animation_region 'all' (live_portrait_pipeline.py 319-387)"""
    r_new = di["R"] @ d0["R"].T @ src["R"]
    exp_new = src["exp"] + (di["exp"] - d0["exp"])
    scale_new = src["scale"] * (di["scale"] / d0["scale"])
    t_new = src["t"] + (di["t"] - d0["t"])
    t_new[2] = 0.0
    return scale_new * (src["kp"] @ r_new + exp_new) + t_new


def stitch(sess, x_s: np.ndarray, x_d: np.ndarray):
    """(delta [65], stitched x_d): delta = S(x_s ++ x_d); x_d + delta[:63], x,y + delta[63:65] (wrapper 240-274)"""
    n = x_s.shape[0]
    feat = np.concatenate([x_s.reshape(-1), x_d.reshape(-1)])[None].astype(np.float32)
    (delta,) = sess.run(None, {"kp": feat})
    delta = delta.astype(np.float64).reshape(-1)
    out = x_d + delta[:3 * n].reshape(n, 3)
    out[:, :2] += delta[3 * n:3 * n + 2]
    return delta, out


def retarget(sess, x_s: np.ndarray, ratios) -> np.ndarray:
    """eye: ratios = (source left, source right, driving); lip: (source, driving) -> delta [21,3]"""
    feat = np.concatenate([x_s.reshape(-1), np.asarray(ratios, np.float64)])[None].astype(np.float32)
    (delta,) = sess.run(None, {"input": feat})
    return delta.astype(np.float64).reshape(-1, 3)


# ---------------------------------------------------------------------------------------------------------------
# sessions
# ---------------------------------------------------------------------------------------------------------------


def load_pack(pack: Path, threads: int = 2, roles=ROLES):
    import onnxruntime as ort

    manifest = json.loads((pack / "manifest.json").read_text())
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sessions = {r: ort.InferenceSession(str(pack / manifest[r]["file"]), so, providers=["CPUExecutionProvider"])
                for r in roles}
    return manifest, sessions


def warp_generate(sessions, f_s: np.ndarray, x_s: np.ndarray, x_d: np.ndarray):
    (wf,) = sessions["warping"].run(None, {"feature_3d": f_s, "kp_driving": x_d[None].astype(np.float32),
                                           "kp_source": x_s[None].astype(np.float32)})
    (img,) = sessions["generator"].run(None, {"warped_feature": wf})
    return wf, img
