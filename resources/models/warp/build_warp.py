#!/usr/bin/env python3
"""Builds the built-in ``warp`` generator: resources/models/warp/warp_generator.onnx.

The graph is written op by op with ``onnx.helper`` (no trained weights, no exported framework model). Running the
script again gives the same bytes. README.md in this folder documents the contract, the maths and the parameters.

    python3.11 -m venv /tmp/venv-warp
    /tmp/venv-warp/bin/pip install -r resources/models/warp/requirements.txt
    /tmp/venv-warp/bin/python resources/models/warp/build_warp.py

Contract (keep in sync with README.md and manifest.json):
    inputs  source            float32 [1,3,S,S]  RGB in [0,1], the aligned face crop (S = 256, 512 or 1024)
            source_landmarks  float32 [1,68,2]   iBUG-68 points of the portrait, normalised crop coordinates
            target_landmarks  float32 [1,68,2]   driving iBUG-68 points, same frame
    outputs output            float32 [1,3,S,S]  animated crop, RGB in [0,1]
            changed           float32 [1,1,S,S]  soft mask in [0,1] of where `output` differs from `source`
Normalised coordinates: x right, y down, in [-1,1], GridSample's align_corners=0 convention (pixel i has its
centre at (2i+1)/S - 1).
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
OPSET = 17
IR_VERSION = 8            # onnxruntime >= 1.14 reads it; the plugin's runtime floor is 1.20

# ----------------------------------------------------------------------------------------------------------------
# Parameters (documented in README.md)
# ----------------------------------------------------------------------------------------------------------------
MLS_EPS = 1e-3            # w_i = 1 / (|p_i - v|^2 + eps), normalised units (0.01 of the half-crop, ~2.6 px at 512)
GRID_DIVISOR = 8          # the MLS is evaluated on a G x G grid, G = S / 8 (32, 64, 128), then resized linearly
ANCHORS_PER_SIDE = 12     # fixed control points on each crop edge (corners counted once): 44 in all
ENVELOPE_IOD = 1.0        # |displacement| <= max_i |e_i| (1 - d_i^2/R^2)_+^2 with R = this x inter-ocular distance
NECK_JAW_POINTS = ()
NECK_OFFSET_IOD = 0.55    # neck anchors sit this far (in inter-ocular distances) outside those jaw points
CHANGED_PX = 0.5          # a displacement of this many pixels gives changed = 1
SMOOTH_STEPS = 2          # subdivision steps that round the lid and inner-lip polylines (4 -> 13, 5 -> 17 knots)
CURVE_STEP = 4            # the lid and lip curves are evaluated every 4 pixels in both directions, then resized
SOFT_PX = 1.0             # width of the soft edges (lid line, lip lines, cavity edge), in pixels

# Landmarks used as MLS control points. Eyelids (37,38,40,41,43,44,46,47) and inner lips (60-67) are left out:
# the eye and mouth layers handle them at full resolution, where an upper and a lower curve may meet (blink,
# closing mouth) - a two-sided jump a smooth warp cannot represent.
MLS_LANDMARKS = [i for i in range(68) if i not in (37, 38, 40, 41, 43, 44, 46, 47, 60, 61, 62, 63, 64, 65, 66, 67)]

MLS_REFINED = (tuple(range(0, 17)), tuple(range(17, 22)), tuple(range(22, 27)), tuple(range(27, 31)))

# Eye layers: frame from the corners (half-width h); lid curves through the corners.
EYES = (((36, 37, 38, 39), (36, 41, 40, 39)),       # portrait's right eye (image left): upper lid, lower lid
        ((42, 43, 44, 45), (42, 47, 46, 45)))       # portrait's left eye
EYE_WIN_U = (1.1, 1.6)    # along the eye axis, in h: weight 1 up to 1.1, 0 from 1.6
EYE_WIN_T = (0.6, 2.0)    # across the axis, in h: weight 1 up to 0.6, 0 from 2.0; the lid skin stretch spans 2.0

# Mouth layer: frame from the outer corners 48, 54 (half-width h).
MOUTH_OUTER_UP = (48, 49, 50, 51, 52, 53, 54)
MOUTH_INNER_UP = (60, 61, 62, 63, 64)
MOUTH_INNER_LO = (60, 67, 66, 65, 64)
MOUTH_OUTER_LO = (48, 59, 58, 57, 56, 55, 54)
MOUTH_SPLIT = 0.8         # the upper 80 % of the portrait's mouth opening moves with the upper lip (upper teeth)
MOUTH_WIN_U = (1.05, 1.35)  # along the mouth axis, in h
MOUTH_WIN_T = (0.05, 0.35)  # distance outside the outer lip line, in h
OPEN_PX = 1.0             # the cavity fades in while the target opens by up to this many pixels more than the source

# Cavity shading (values in the crop's own encoding, typically sRGB)
CAVITY_EDGE = (0.30, 0.10, 0.09)     # dark red-brown next to the lips
CAVITY_DEEP = (0.045, 0.018, 0.018)  # near black in the middle
TEETH = (0.80, 0.76, 0.70)           # faint upper-teeth hint under the upper lip (only where the portrait shows none)
TEETH_ALPHA = 0.5
TEETH_HEIGHT = 0.12                  # in mouth half-widths, at most 40 % of the opening


def anchor_points(n: int) -> np.ndarray:
    """Points on the crop's outer edge (normalised coords +-1), n per side, corners once."""
    t = np.linspace(-1.0, 1.0, n)
    pts = []
    for x in t:
        pts.append((x, -1.0))
        pts.append((x, 1.0))
    for y in t[1:-1]:
        pts.append((-1.0, y))
        pts.append((1.0, y))
    return np.array(pts, dtype=np.float32)


def subdivision_matrix(n: int) -> np.ndarray:
    """(2n-1) x n matrix of one step of the 4-point interpolating subdivision scheme (Dyn, Levin, Gregory 1987):
    old points kept, new mid points (-p[i-1] + 9 p[i] + 9 p[i+1] - p[i+2]) / 16, ends mirrored (p[-1] = 2p0 - p1)."""
    M = np.zeros((2 * n - 1, n))

    def p(i):                      # row vector expressing the (possibly mirrored) point i
        r = np.zeros(n)
        if i < 0:
            r[0] += 2
            r[1] -= 1
        elif i >= n:
            r[n - 1] += 2
            r[n - 2] -= 1
        else:
            r[i] = 1
        return r

    for i in range(n):
        M[2 * i] = p(i)
    for i in range(n - 1):
        M[2 * i + 1] = (-p(i - 1) + 9 * p(i) + 9 * p(i + 1) - p(i + 2)) / 16
    return M.astype(np.float32)


class Graph:
    """A tiny deterministic graph writer: every value gets a readable, numbered name."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0
        self.consts: dict[tuple, str] = {}

    def _name(self, hint: str) -> str:
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, value, dtype=np.float32) -> str:
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self.consts:
            nm = self._name("c")
            self.inits.append(numpy_helper.from_array(arr, nm))
            self.consts[key] = nm
        return self.consts[key]

    def i64(self, value) -> str:
        return self.const(value, np.int64)

    def add_i(self, a, k: int):
        return self.op("Add", a, self.i64([k]))

    def op(self, op_type: str, *inputs: str, name: str | None = None, **attrs) -> str:
        out = name or self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=f"n{len(self.nodes)}_{op_type}", **attrs))
        return out

    def f(self, x):
        return x if isinstance(x, str) else self.const(x)

    def add(self, a, b):
        return self.op("Add", self.f(a), self.f(b))

    def sub(self, a, b):
        return self.op("Sub", self.f(a), self.f(b))

    def mul(self, a, b):
        return self.op("Mul", self.f(a), self.f(b))

    def div(self, a, b):
        return self.op("Div", self.f(a), self.f(b))

    def max(self, a, b):
        return self.op("Max", self.f(a), self.f(b))

    def min(self, a, b):
        return self.op("Min", self.f(a), self.f(b))

    def clip(self, a, lo, hi):
        return self.op("Clip", a, self.f(lo), self.f(hi))

    def clip01(self, a):
        return self.clip(a, 0.0, 1.0)

    def relu(self, a):
        return self.op("Relu", a)

    def sqrt(self, a):
        return self.op("Sqrt", a)

    def abs(self, a):
        return self.op("Abs", a)

    def sq(self, a):
        return self.op("Mul", a, a)

    def lerp(self, a, b, t):
        return self.add(a, self.mul(t, self.sub(b, a)))

    def take(self, x, idx, axis):
        return self.op("Gather", x, self.i64(list(idx)), axis=axis)

    def concat(self, xs, axis):
        return self.op("Concat", *xs, axis=axis)

    def reshape(self, x, shape):
        return self.op("Reshape", x, shape if isinstance(shape, str) else self.i64(shape))

    def step(self, a_px):
        """soft step over SOFT_PX pixels: a_px > 0 -> 1."""
        return self.clip01(self.add(self.mul(a_px, 1.0 / SOFT_PX), 0.5))


def build() -> onnx.ModelProto:
    g = Graph()
    inputs = [
        helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 3, "S", "S"]),
        helper.make_tensor_value_info("source_landmarks", TensorProto.FLOAT, [1, 68, 2]),
        helper.make_tensor_value_info("target_landmarks", TensorProto.FLOAT, [1, 68, 2]),
    ]
    outputs = [
        helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "S", "S"]),
        helper.make_tensor_value_info("changed", TensorProto.FLOAT, [1, 1, "S", "S"]),
    ]

    # ---- sizes ---------------------------------------------------------------------------------------------------
    S_i = g.take(g.op("Shape", "source"), [3], 0)                      # [1] int64
    S_f = g.op("Cast", S_i, to=TensorProto.FLOAT)                      # [1]
    half_S = g.mul(S_f, 0.5)                                           # pixels per normalised unit
    inv_half_S = g.div(2.0, S_f)
    G_i = g.op("Div", S_i, g.i64([GRID_DIVISOR]))
    G_f = g.op("Cast", G_i, to=TensorProto.FLOAT)
    one_i = g.i64([1])
    edge = g.sub(1.0, g.div(1.0, S_f))                                 # centre of the outermost pixels

    src_lm = g.reshape("source_landmarks", [68, 2])
    tgt_lm = g.reshape("target_landmarks", [68, 2])

    def centres(n_i, n_f):
        """(2i+1)/n - 1 for i < n  ->  [n]"""
        r = g.op("Cast", g.op("Range", g.i64(0), g.reshape(n_i, []), g.i64(1)), to=TensorProto.FLOAT)
        return g.sub(g.div(g.add(g.mul(r, 2.0), 1.0), n_f), 1.0)

    # ================================================================================================================
    # 1. moving least squares (rigid), backward: target-side control points p_i -> source-side q_i = p_i + e_i
    # ================================================================================================================
    anchors = anchor_points(ANCHORS_PER_SIDE)
    # control points: the chosen landmarks, plus the jaw line and brows refined by one subdivision step (denser
    # control along those contours avoids scalloping between far-apart points)
    sel = np.zeros((len(MLS_LANDMARKS), 68), np.float32)
    sel[np.arange(len(MLS_LANDMARKS)), MLS_LANDMARKS] = 1
    rows = [sel]
    for contour in MLS_REFINED:
        sub = subdivision_matrix(len(contour))[1::2]                   # only the new mid points
        r = np.zeros((sub.shape[0], 68), np.float32)
        r[:, list(contour)] = sub
        rows.append(r)
    Csel = g.const(np.concatenate(rows, 0))
    p_lm = g.op("MatMul", Csel, tgt_lm)
    e_lm = g.op("MatMul", Csel, g.sub(src_lm, tgt_lm))                 # exactly 0 when target == source

    def iod_sq(lm):
        a = g.op("ReduceMean", g.take(lm, range(36, 42), 0), axes=[0], keepdims=1)
        b = g.op("ReduceMean", g.take(lm, range(42, 48), 0), axes=[0], keepdims=1)
        return g.op("ReduceSum", g.sq(g.sub(b, a)), keepdims=0)        # squared inter-ocular distance

    # neck anchors: fixed points below the portrait's jaw line (jaw point pushed away from the nose tip), so that
    # an opening jaw slides over the neck instead of dragging it down
    P = [p_lm, g.const(anchors)]
    if NECK_JAW_POINTS:
        jaw = g.take(src_lm, NECK_JAW_POINTS, 0)
        out_dir = g.sub(jaw, g.take(src_lm, [30], 0))
        out_dir = g.div(out_dir, g.max(g.sqrt(g.op("ReduceSum", g.sq(out_dir), g.i64([1]), keepdims=1)), 1e-6))
        P.append(g.add(jaw, g.mul(out_dir, g.mul(g.sqrt(iod_sq(src_lm)), NECK_OFFSET_IOD))))
    P = g.concat(P, 0)                                                 # [N,2]
    E = g.concat([e_lm, g.const(np.zeros((len(anchors) + len(NECK_JAW_POINTS), 2), np.float32))], 0)   # [N,2]
    px, py = g.take(P, [0], 1), g.take(P, [1], 1)                      # [N,1]
    ex, ey = g.take(E, [0], 1), g.take(E, [1], 1)
    pp = g.add(g.sq(px), g.sq(py))
    ones_n = g.add(g.mul(px, 0.0), 1.0)
    # per-point features whose weighted sums give everything:  [1, px, py, ex, ey, p.e, p x e, |p|^2]
    feats = g.concat([ones_n, px, py, ex, ey, g.add(g.mul(px, ex), g.mul(py, ey)),
                      g.sub(g.mul(px, ey), g.mul(py, ex)), pp], 1)     # [N,8]
    # squared distances by one matmul: [vx, vy, 1, |v|^2] . [-2px, -2py, |p|^2, 1]
    Bm = g.op("Transpose", g.concat([g.mul(px, -2.0), g.mul(py, -2.0), pp, ones_n], 1), perm=[1, 0])   # [4,N]

    coarse = centres(G_i, G_f)
    GG = g.concat([G_i, G_i], 0)
    cx = g.reshape(g.op("Expand", g.reshape(coarse, [1, -1]), GG), [-1, 1])   # [G2,1]
    cy = g.reshape(g.op("Expand", g.reshape(coarse, [-1, 1]), GG), [-1, 1])
    V = g.concat([cx, cy, g.add(g.mul(cx, 0.0), 1.0), g.add(g.sq(cx), g.sq(cy))], 1)
    D2 = g.relu(g.op("MatMul", V, Bm))                                 # [G2,N]
    W = g.op("Reciprocal", g.add(D2, MLS_EPS))
    sums = g.op("MatMul", W, feats)                                    # [G2,8]
    sw, spx, spy, sex, sey, spe, spxe, spp = (g.take(sums, [i], 1) for i in range(8))
    inv_sw = g.op("Reciprocal", sw)
    psx, psy = g.mul(spx, inv_sw), g.mul(spy, inv_sw)                  # p*
    esx, esy = g.mul(sex, inv_sw), g.mul(sey, inv_sw)                  # e*
    # complex form: kappa = sum w conj(p^) e^, mu = sum w |p^|^2, z = kappa / mu, similarity a = 1 + z
    k_re = g.sub(spe, g.mul(sw, g.add(g.mul(psx, esx), g.mul(psy, esy))))
    k_im = g.sub(spxe, g.mul(sw, g.sub(g.mul(psx, esy), g.mul(psy, esx))))
    mu = g.max(g.sub(spp, g.mul(sw, g.add(g.sq(psx), g.sq(psy)))), 1e-12)
    zr, zi = g.div(k_re, mu), g.div(k_im, mu)
    # rigid: f(v) = v + e* + (a/|a| - 1)(v - p*),  a/|a| - 1 = (z - (2 Re z + |z|^2) / (1 + |a|)) / |a|
    zz = g.add(g.sq(zr), g.sq(zi))
    na = g.max(g.sqrt(g.add(g.add(zz, g.mul(zr, 2.0)), 1.0)), 1e-6)
    hh = g.div(g.add(g.mul(zr, 2.0), zz), g.add(na, 1.0))
    gr, gi = g.div(g.sub(zr, hh), na), g.div(zi, na)
    rvx, rvy = g.sub(cx, psx), g.sub(cy, psy)
    dx = g.add(esx, g.sub(g.mul(gr, rvx), g.mul(gi, rvy)))
    dy = g.add(esy, g.add(g.mul(gr, rvy), g.mul(gi, rvx)))
    # compact envelope: |d| <= m(v) = sum_i |e_i| (1 - d_i^2/R^2)_+^2  ->  exactly 0 far from every moved point
    inv_R2 = g.div(1.0, g.max(g.mul(iod_sq(tgt_lm), ENVELOPE_IOD ** 2), 1e-6))
    emag = g.sqrt(g.add(g.sq(ex), g.sq(ey)))                            # [N,1]
    kern = g.sq(g.relu(g.sub(1.0, g.mul(D2, inv_R2))))
    env = g.op("MatMul", kern, emag)                                   # [G2,1]
    mag = g.sqrt(g.add(g.sq(dx), g.sq(dy)))
    mag_c = g.min(mag, env)
    fac = g.div(mag_c, g.max(mag, 1e-20))
    disp = g.mul(g.concat([dx, dy], 1), fac)                           # [G2,2]
    disp_c = g.op("Transpose", g.reshape(disp, g.concat([one_i, G_i, G_i, g.i64([2])], 0)), perm=[0, 3, 1, 2])
    disp_full = g.op("Resize", disp_c, "", "", g.concat([one_i, g.i64([2]), S_i, S_i], 0), mode="linear",
                     coordinate_transformation_mode="half_pixel")      # [1,2,S,S]
    full = centres(S_i, S_f)
    e1S = g.concat([one_i, one_i, S_i, S_i], 0)
    ident = g.concat([g.op("Expand", g.reshape(full, [1, 1, 1, -1]), e1S),
                      g.op("Expand", g.reshape(full, [1, 1, -1, 1]), e1S)], 1)   # [1,2,S,S]
    F_mls = g.op("Transpose", g.clip(g.add(ident, disp_full), g.op("Neg", edge), edge), perm=[0, 2, 3, 1])
    # padding 'zeros' with coordinates clamped to the outer pixel centres == padding 'border' (and is faster)
    warped = g.op("GridSample", "source", F_mls, mode="bilinear", padding_mode="zeros", align_corners=0)

    chg_c = g.clip01(g.mul(mag_c, g.mul(half_S, 1.0 / CHANGED_PX)))
    chg_c = g.op("MaxPool", g.reshape(chg_c, g.concat([one_i, one_i, G_i, G_i], 0)),
                 kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    chg_full = g.clip01(g.op("Resize", chg_c, "", "", e1S, mode="linear", coordinate_transformation_mode="half_pixel"))

    # ================================================================================================================
    # 2. full-resolution layers in small windows: eyes and mouth. Tensors are rows [1,P] over the window's pixels.
    # ================================================================================================================
    tgt_px = g.mul(g.add(tgt_lm, 1.0), half_S)                         # [68,2] pixels (pixel i centre at i + 0.5)
    src_px = g.mul(g.add(src_lm, 1.0), half_S)

    class Frame:
        """centre c, unit axis a, half-width h (pixels) from two corner landmarks; t points 'down' (a turned +90)."""

        def __init__(self, lm, i0, i1):
            A, B = g.take(lm, [i0], 0), g.take(lm, [i1], 0)            # [1,2]
            c = g.mul(g.add(A, B), 0.5)
            ab = g.sub(B, A)
            ln = g.max(g.sqrt(g.op("ReduceSum", g.sq(ab), g.i64([1]), keepdims=1)), 1e-3)   # [1,1]
            a = g.div(ab, ln)
            self.cx, self.cy = g.take(c, [0], 1), g.take(c, [1], 1)    # [1,1]
            self.ax, self.ay = g.take(a, [0], 1), g.take(a, [1], 1)
            self.h = g.mul(ln, 0.5)
            self.inv_h = g.div(2.0, ln)

        def local(self, X, Y):
            """pixels -> (u, t) in half-widths"""
            dxx, dyy = g.sub(X, self.cx), g.sub(Y, self.cy)
            u = g.mul(g.add(g.mul(dxx, self.ax), g.mul(dyy, self.ay)), self.inv_h)
            t = g.mul(g.sub(g.mul(dyy, self.ax), g.mul(dxx, self.ay)), self.inv_h)
            return u, t

        def world(self, u, t):
            """(u, t) in half-widths -> pixels"""
            X = g.add(self.cx, g.mul(g.sub(g.mul(u, self.ax), g.mul(t, self.ay)), self.h))
            Y = g.add(self.cy, g.mul(g.add(g.mul(u, self.ay), g.mul(t, self.ax)), self.h))
            return X, Y

        def dir_t(self):
            """the frame's 'down' direction in pixels per half-width: (-ay, ax) * h"""
            return g.mul(g.op("Neg", self.ay), self.h), g.mul(self.ax, self.h)

    def knots(lm, frame, idx, smooth):
        """landmarks idx in the frame's local coords, optionally one subdivision step -> (u [K,1], t [K,1], K)."""
        pts = g.take(lm, idx, 0)
        u, t = frame.local(g.take(pts, [0], 1), g.take(pts, [1], 1))
        k = len(idx)
        for _ in range(smooth):
            M = g.const(subdivision_matrix(k))
            u, t, k = g.op("MatMul", M, u), g.op("MatMul", M, t), 2 * k - 1
        return u, t, k

    def curves(win, frame, specs):
        """Piecewise-linear curves t(u) through knots (clamped outside), for every pixel of the window -> [1,P] each.

        Each curve is a sum of clipped ramps, one per segment, all curves of a layer in one matmul. They are
        evaluated on a grid CURVE_STEP times coarser than the window and resized (linear) to it: the curves are
        smooth in u, and this keeps the cost independent of the number of knots."""
        u, _ = frame.local(win.Xc, win.Yc)
        u0s, invs, dts, t0s, groups = [], [], [], [], []
        R = 0
        for (ku, kt, k) in specs:
            a0 = g.op("Slice", ku, g.i64([0]), g.i64([k - 1]))
            a1 = g.op("Slice", ku, g.i64([1]), g.i64([k]))
            u0s.append(a0)
            invs.append(g.op("Reciprocal", g.max(g.sub(a1, a0), 1e-4)))
            dts.append(g.sub(g.op("Slice", kt, g.i64([1]), g.i64([k])), g.op("Slice", kt, g.i64([0]), g.i64([k - 1]))))
            t0s.append(g.op("Slice", kt, g.i64([0]), g.i64([1])))
            groups.append((R, k - 1))
            R += k - 1
        Gm = np.zeros((len(specs), R), np.float32)
        for c, (r0, n) in enumerate(groups):
            Gm[c, r0:r0 + n] = 1
        U0, INV, DT, T0 = (g.concat(x, 0) for x in (u0s, invs, dts, t0s))   # [R,1] / [C,1]
        r = g.clip01(g.mul(g.sub(u, U0), INV))                         # [R,Pc]
        out = g.add(g.op("MatMul", g.const(Gm), g.mul(r, DT)), T0)     # [C,Pc]
        C = len(specs)
        out = g.reshape(out, g.concat([g.i64([1, C]), win.hc, win.wc], 0))
        out = g.op("Resize", out, "", "", g.concat([g.i64([1, C]), win.h_i, win.w_i], 0), mode="linear",
                   coordinate_transformation_mode="half_pixel")
        out = g.reshape(out, [C, -1])                                   # [C,P]
        return [g.take(out, [c], 0) for c in range(C)]

    def window(frame, u_lo, u_hi, t_lo, t_hi):
        """Pixel box x0,x1,y0,y1 (int64 [1]) around a local rectangle (in half-widths), clamped to the crop."""
        xs, ys = [], []
        for uu in (u_lo, u_hi):
            for tt in (t_lo, t_hi):
                X, Y = frame.world(g.f(uu), g.f(tt))
                xs.append(X)
                ys.append(Y)
        Xs, Ys = g.concat(xs, 0), g.concat(ys, 0)
        Sm1 = g.sub(S_f, 1.0)

        def lo(v):
            return g.op("Cast", g.clip(g.op("Floor", g.op("ReduceMin", v, keepdims=0)), 0.0, Sm1), to=TensorProto.INT64)

        def hi(v, v0):
            top = g.clip(g.op("Ceil", g.op("ReduceMax", v, keepdims=0)), 0.0, S_f)
            return g.op("Cast", g.max(top, g.add(g.op("Cast", v0, to=TensorProto.FLOAT), 1.0)), to=TensorProto.INT64)

        x0, y0 = lo(Xs), lo(Ys)
        x1, y1 = hi(Xs, x0), hi(Ys, y0)
        return [g.reshape(v, [1]) for v in (x0, x1, y0, y1)]

    class Win:
        def __init__(self, box):
            self.x0, self.x1, self.y0, self.y1 = box
            self.h_i, self.w_i = g.sub(self.y1, self.y0), g.sub(self.x1, self.x0)
            xr = g.add(g.op("Cast", g.op("Range", g.reshape(self.x0, []), g.reshape(self.x1, []), g.i64(1)),
                            to=TensorProto.FLOAT), 0.5)
            yr = g.add(g.op("Cast", g.op("Range", g.reshape(self.y0, []), g.reshape(self.y1, []), g.i64(1)),
                            to=TensorProto.FLOAT), 0.5)
            hw = g.concat([self.h_i, self.w_i], 0)
            self.X = g.reshape(g.op("Expand", g.reshape(xr, [1, -1]), hw), [1, -1])     # [1,P]
            self.Y = g.reshape(g.op("Expand", g.reshape(yr, [-1, 1]), hw), [1, -1])
            # coarse grid for the curves: hc x wc points placed where Resize(half_pixel) to h x w expects them
            self.hc = g.op("Div", g.add_i(self.h_i, CURVE_STEP - 1), g.i64([CURVE_STEP]))
            self.wc = g.op("Div", g.add_i(self.w_i, CURVE_STEP - 1), g.i64([CURVE_STEP]))

            def coarse(n_c, n, o):
                j = g.op("Cast", g.op("Range", g.i64(0), g.reshape(n_c, []), g.i64(1)), to=TensorProto.FLOAT)
                ratio = g.div(g.op("Cast", n, to=TensorProto.FLOAT), g.op("Cast", n_c, to=TensorProto.FLOAT))
                return g.add(g.op("Cast", o, to=TensorProto.FLOAT), g.mul(g.add(j, 0.5), ratio))

            xc, yc = coarse(self.wc, self.w_i, self.x0), coarse(self.hc, self.h_i, self.y0)
            hwc = g.concat([self.hc, self.wc], 0)
            self.Xc = g.reshape(g.op("Expand", g.reshape(xc, [1, -1]), hwc), [1, -1])   # [1,Pc]
            self.Yc = g.reshape(g.op("Expand", g.reshape(yc, [-1, 1]), hwc), [1, -1])
            starts, ends = g.concat([self.y0, self.x0], 0), g.concat([self.y1, self.x1], 0)
            Fm = g.op("Slice", F_mls, starts, ends, g.i64([1, 2]))                       # [1,h,w,2]
            Fm = g.op("Transpose", g.reshape(Fm, [-1, 2]), perm=[1, 0])                  # [2,P]
            self.Fx = g.mul(g.add(g.take(Fm, [0], 0), 1.0), half_S)                      # pixels [1,P]
            self.Fy = g.mul(g.add(g.take(Fm, [1], 0), 1.0), half_S)
            self.warped = g.reshape(g.op("Slice", warped, starts, ends, g.i64([2, 3])), [3, -1])   # [3,P]

        def sample2(self, ax, ay, bx, by):
            """bilinear samples of the source at two sets of pixel positions -> two [3,P]"""
            X = g.concat([ax, bx], 1)
            Y = g.concat([ay, by], 1)
            nx = g.clip(g.sub(g.mul(X, inv_half_S), 1.0), g.op("Neg", edge), edge)
            ny = g.clip(g.sub(g.mul(Y, inv_half_S), 1.0), g.op("Neg", edge), edge)
            grid = g.reshape(g.op("Transpose", g.concat([nx, ny], 0), perm=[1, 0]),
                             g.concat([one_i, g.mul(self.h_i, g.i64([2])), self.w_i, g.i64([2])], 0))
            smp = g.op("GridSample", "source", grid, mode="bilinear", padding_mode="zeros", align_corners=0)
            smp = g.reshape(smp, g.concat([g.i64([3, 2]), g.op("Mul", self.h_i, self.w_i)], 0))  # [3,2,P]
            return (g.reshape(g.take(smp, [0], 1), [3, -1]), g.reshape(g.take(smp, [1], 1), [3, -1]))

        def to_full(self, t, channels):
            t4 = g.reshape(t, g.concat([g.i64([1, channels]), self.h_i, self.w_i], 0))
            pads = g.concat([g.i64([0, 0]), self.y0, self.x0, g.i64([0, 0]),
                             g.sub(S_i, self.y1), g.sub(S_i, self.x1)], 0)
            return g.op("Pad", t4, pads, mode="constant")

    dsp_px = g.sub(tgt_px, src_px)

    def moved(idx):
        """max |motion| in pixels over landmarks idx (L1), and an exact 0/1 flag 'moved at all'."""
        d = g.abs(g.take(dsp_px, idx, 0))
        m = g.op("ReduceMax", g.op("ReduceSum", d, g.i64([1]), keepdims=0), keepdims=0)
        return m, g.op("Ceil", g.clip01(m))

    def falloff(x, lo, hi):
        """1 for x <= lo, 0 for x >= hi, linear between"""
        return g.clip01(g.mul(g.sub(hi, x), 1.0 / (hi - lo)))

    # ---- eyes ------------------------------------------------------------------------------------------------------
    def eye_layer(upper, lower):
        ft = Frame(tgt_px, upper[0], upper[-1])
        fs = Frame(src_px, upper[0], upper[-1])
        U1, T1 = EYE_WIN_U[1], EYE_WIN_T[1]
        win = Win(window(ft, -U1, U1, -T1, T1))
        u, t = ft.local(win.X, win.Y)
        Ut, Lt, Us, Ls = curves(win, ft, [knots(tgt_px, ft, upper, SMOOTH_STEPS), knots(tgt_px, ft, lower, SMOOTH_STEPS),
                                    knots(src_px, fs, upper, SMOOTH_STEPS), knots(src_px, fs, lower, SMOOTH_STEPS)])
        # above the target upper lid: the lid skin band [-T1, Ut] is stretched from the source band [-T1, Us]
        t_up = g.sub(g.mul(g.add(t, T1), g.div(g.add(Us, T1), g.max(g.add(Ut, T1), 1e-3))), T1)
        # below the target lower lid: [Lt, T1] <- [Ls, T1]
        t_below = g.sub(T1, g.mul(g.sub(T1, t), g.div(g.sub(T1, Ls), g.max(g.sub(T1, Lt), 1e-3))))
        # between the lids: the eyeball stays with the lower lid (the upper lid covers it), stretched if wider
        hs, ht = g.relu(g.sub(Ls, Us)), g.relu(g.sub(Lt, Ut))
        k = g.min(g.div(hs, g.max(ht, 1e-3)), 1.0)
        t_eye = g.add(Ls, g.mul(g.sub(t, Lt), k))
        t_lo = g.op("Where", g.op("Greater", t, Lt), t_below, t_eye)
        alpha = g.mul(falloff(g.abs(u), *EYE_WIN_U), falloff(g.abs(t), *EYE_WIN_T))
        # correction relative to the MLS: move along the source frame's 'down' by (t' - t) half-widths
        dtx, dty = fs.dir_t()
        cu, cl = g.mul(g.sub(t_up, t), alpha), g.mul(g.sub(t_lo, t), alpha)
        c_up, c_lo = win.sample2(g.add(win.Fx, g.mul(cu, dtx)), g.add(win.Fy, g.mul(cu, dty)),
                                 g.add(win.Fx, g.mul(cl, dtx)), g.add(win.Fy, g.mul(cl, dty)))
        s = g.step(g.mul(g.sub(Ut, t), ft.h))                          # 1 above the target upper lid
        col = g.lerp(c_lo, c_up, s)
        m, mv = moved(list(upper) + list(lower))
        gate = g.mul(g.op("Ceil", alpha), mv)
        delta = g.mul(g.sub(col, win.warped), gate)
        chg = g.mul(g.clip01(g.mul(alpha, 4.0)), g.clip01(g.mul(m, 1.0 / CHANGED_PX)))
        return win.to_full(delta, 3), win.to_full(chg, 1)

    # ---- mouth -----------------------------------------------------------------------------------------------------
    def mouth_layer():
        ft = Frame(tgt_px, 48, 54)
        fs = Frame(src_px, 48, 54)
        kt_ou = knots(tgt_px, ft, MOUTH_OUTER_UP, 0)
        kt_ol = knots(tgt_px, ft, MOUTH_OUTER_LO, 0)
        t_top = g.op("ReduceMin", kt_ou[1], keepdims=0)
        t_bot = g.op("ReduceMax", kt_ol[1], keepdims=0)
        U1, M1 = MOUTH_WIN_U[1], MOUTH_WIN_T[1]
        win = Win(window(ft, -U1, U1, g.sub(t_top, M1), g.add(t_bot, M1)))
        u, t = ft.local(win.X, win.Y)
        OUt, IUt, ILt, OLt, OUs, IUs, ILs, OLs = curves(win, ft, [
            kt_ou, knots(tgt_px, ft, MOUTH_INNER_UP, SMOOTH_STEPS), knots(tgt_px, ft, MOUTH_INNER_LO, SMOOTH_STEPS), kt_ol,
            knots(src_px, fs, MOUTH_OUTER_UP, 0), knots(src_px, fs, MOUTH_INNER_UP, SMOOTH_STEPS),
            knots(src_px, fs, MOUTH_INNER_LO, SMOOTH_STEPS), knots(src_px, fs, MOUTH_OUTER_LO, 0)])

        def band(t, a_t, b_t, a_s, b_s):
            """map [a_t, b_t] -> [a_s, b_s] linearly"""
            return g.add(a_s, g.mul(g.sub(t, a_t), g.div(g.sub(b_s, a_s), g.max(g.sub(b_t, a_t), 1e-3))))

        # upper map: above the outer lip translate with it; the lip band [OU, IU] linearly; below IU (into the
        # opening) translate with the inner upper lip.  Lower map: the mirror image.
        t_up = g.op("Where", g.op("Less", t, OUt), g.add(t, g.sub(OUs, OUt)),
                    g.op("Where", g.op("Less", t, IUt), band(t, OUt, IUt, OUs, IUs), g.add(t, g.sub(IUs, IUt))))
        t_lo = g.op("Where", g.op("Greater", t, OLt), g.add(t, g.sub(OLs, OLt)),
                    g.op("Where", g.op("Greater", t, ILt), band(t, ILt, OLt, ILs, OLs), g.add(t, g.sub(ILs, ILt))))
        dv = g.relu(g.max(g.sub(OUt, t), g.sub(t, OLt)))                # distance outside the outer lips
        alpha = g.mul(falloff(g.abs(u), *MOUTH_WIN_U), falloff(dv, *MOUTH_WIN_T))
        Xu, Yu = fs.world(u, t_up)
        Xl, Yl = fs.world(u, t_lo)
        c_up, c_lo = win.sample2(g.lerp(win.Fx, Xu, alpha), g.lerp(win.Fy, Yu, alpha),
                                 g.lerp(win.Fx, Xl, alpha), g.lerp(win.Fy, Yl, alpha))
        h = ft.h
        # inside the target opening: upper-mouth content (moves with the upper lip), lower-mouth content, cavity
        split_s = g.lerp(IUs, ILs, MOUTH_SPLIT)
        va = g.step(g.mul(g.sub(split_s, t_up), fs.h))                 # upper candidate lands in the upper part
        vl = g.step(g.mul(g.sub(t_lo, split_s), fs.h))                 # lower candidate lands in the lower part
        pu = g.step(g.mul(g.sub(g.lerp(IUt, ILt, MOUTH_SPLIT), t), h))  # the target pixel is in the upper part
        w_up = g.mul(va, g.add(pu, g.mul(g.sub(1.0, pu), g.sub(1.0, vl))))
        w_lo = g.mul(vl, g.add(g.sub(1.0, pu), g.mul(pu, g.sub(1.0, va))))
        w_none = g.mul(g.sub(1.0, va), g.sub(1.0, vl))
        sU = g.step(g.mul(g.sub(IUt, t), h))                           # above the target inner upper lip
        sL = g.step(g.mul(g.sub(t, ILt), h))                           # below the target inner lower lip
        inside = g.relu(g.sub(g.sub(1.0, sU), sL))

        def opening(lm):
            a, b = g.take(lm, [61, 62, 63], 0), g.take(lm, [67, 66, 65], 0)
            return g.op("ReduceMean", g.sqrt(g.op("ReduceSum", g.sq(g.sub(a, b)), g.i64([1]), keepdims=1)),
                        keepdims=0)

        w_open = g.clip01(g.div(g.sub(opening(tgt_px), opening(src_px)), OPEN_PX))
        gap_px = g.mul(g.sub(ILt, IUt), h)
        w_cav = g.mul(g.mul(g.mul(w_none, w_open), g.clip01(g.sub(gap_px, 0.5))), alpha)
        # cavity colour: red-brown at the lips, near black in the middle; faint upper teeth under the upper lip
        depth = g.clip01(g.div(g.min(g.sub(t, IUt), g.sub(ILt, t)), g.add(g.mul(g.sub(ILt, IUt), 0.5), 1e-3)))
        depth = g.mul(depth, g.clip01(g.sub(1.2, g.sq(u))))
        depth = g.mul(g.sq(depth), g.sub(3.0, g.mul(depth, 2.0)))      # smoothstep
        edge_c = g.const(np.array(CAVITY_EDGE, np.float32).reshape(3, 1))
        deep_c = g.const(np.array(CAVITY_DEEP, np.float32).reshape(3, 1))
        cav = g.lerp(edge_c, deep_c, depth)                            # [3,P]
        th = g.min(g.mul(h, TEETH_HEIGHT), g.mul(gap_px, 0.4))         # teeth height, pixels
        below_lip = g.mul(g.sub(t, IUt), h)                            # pixels below the inner upper lip
        teeth_a = g.mul(g.step(g.sub(th, below_lip)),
                        g.mul(TEETH_ALPHA, g.clip01(g.sub(1.0, g.sq(g.mul(u, 1.25))))))
        shade = g.sub(1.0, g.mul(g.clip01(g.div(below_lip, g.add(th, 1e-3))), 0.4))
        cav = g.lerp(cav, g.mul(g.const(np.array(TEETH, np.float32).reshape(3, 1)), shade), teeth_a)
        interior = g.add(g.add(g.mul(w_up, c_up), g.mul(w_lo, c_lo)),
                         g.add(g.mul(w_cav, cav), g.mul(g.sub(w_none, w_cav), win.warped)))
        col = g.add(g.add(g.mul(sU, c_up), g.mul(sL, c_lo)), g.mul(inside, interior))
        col = g.div(col, g.max(g.add(sU, sL), 1.0))
        m, mv = moved(list(range(48, 68)))
        gate = g.mul(g.op("Ceil", alpha), mv)
        delta = g.mul(g.sub(col, win.warped), gate)
        chg = g.max(g.mul(g.clip01(g.mul(alpha, 4.0)), g.clip01(g.mul(m, 1.0 / CHANGED_PX))), w_cav)
        return win.to_full(delta, 3), win.to_full(chg, 1)

    (d_r, c_r), (d_l, c_l) = (eye_layer(*e) for e in EYES)
    d_m, c_m = mouth_layer()
    out = g.add(g.add(warped, d_r), g.add(d_l, d_m))
    g.op("Clip", out, g.const(0.0), g.const(1.0), name="output")
    g.op("Max", chg_full, c_r, c_l, c_m, name="changed")

    graph = helper.make_graph(g.nodes, "living_portrait_warp", inputs, outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="living-portrait/build_warp.py", producer_version="1")
    model.ir_version = IR_VERSION
    model.doc_string = ("Living Portrait built-in warp generator: rigid moving-least-squares landmark warp with "
                        "crop-border anchors, plus eyelid and mouth layers. Apache-2.0.")
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "warp_generator.onnx"))
    args = ap.parse_args()
    data = build().SerializeToString(deterministic=True)
    out = Path(args.out)
    out.write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})")


if __name__ == "__main__":
    main()
