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
            source_points     float32 [1,P,2]    extra control points of the portrait (manifest version 2): the
            target_points     float32 [1,P,2]    turned 3-D face mesh, head shell, fixed body and background points,
                                                 and where they go; P may be 0 (then the result is bit for bit
                                                 the one without them)
    outputs grid              float32 [1,4,S,S]  for every output pixel, two points of `source` it takes its colour
                                                 from: A (x, y normalised; the identity where nothing moves) and B
            overlay           float32 [1,5,S,S]  premultiplied RGB and coverage a of painted colour (the mouth
                                                 cavity), then the weight b of point B (soft lid and lip edges,
                                                 the blends inside an opening mouth); 0 elsewhere
            changed           float32 [1,1,S,S]  soft mask in [0,1] of where the result differs from `source`
    The animated crop is  (1 - a - b) * sample(source, A) + b * sample(source, B) + overlay.rgb;  the plugin
    evaluates it on the full-resolution reference image instead of `source`, so the face keeps the plate's
    resolution and is resampled once. The graph itself samples nothing.
Normalised coordinates: x right, y down, in [-1,1], GridSample's align_corners=0 convention (pixel i has its
centre at (2i+1)/S - 1).
"""
from __future__ import annotations

import argparse
import hashlib
import json
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
MLS_EPS = 1e-3            # w_i = 1 / (|p_i - v|^2 + eps), normalised units (sqrt = 0.032 half-crops, ~8 px at 512)
GRID_DIVISOR = 8          # the MLS is evaluated on a G x G grid, G = S / 8 (32, 64, 128), then resized linearly
ANCHORS_PER_SIDE = 12     # fixed control points on each crop edge (corners counted once): 44 in all
ENVELOPE_IOD = 1.0        # |displacement| <= sum_i |e_i| (1 - d_i^2/R^2)_+^2 with R = this x inter-ocular distance
CHANGED_PX = 0.5          # a displacement of this many pixels gives changed = 1
SMOOTH_STEPS = 2          # subdivision steps that round the lid and inner-lip polylines (4 -> 13, 5 -> 17 knots)
LAYER_STEP = 4            # the layers' smooth maps are evaluated every 4 pixels in both directions, then resized
SOFT_PX = 1.0             # width of the soft edges (lid line, lip lines, cavity edge), in pixels
INTERP_STEPS = 3          # Richardson steps that pre-correct the control displacements so the MLS meets them

# Landmarks used as MLS control points. Eyelids (37,38,40,41,43,44,46,47) and inner lips (60-67) are left out:
# the eye and mouth layers handle them at full resolution, where an upper and a lower curve may meet (blink,
# closing mouth) - a two-sided jump a smooth warp cannot represent.
MLS_LANDMARKS = [i for i in range(68) if i not in (37, 38, 40, 41, 43, 44, 46, 47, 60, 61, 62, 63, 64, 65, 66, 67)]

# Contours refined by one subdivision step for the MLS (their new mid points become control points too): jaw line,
# brows, nose bridge. Denser control along them avoids scalloping between far-apart points.
MLS_REFINED = (tuple(range(0, 17)), tuple(range(17, 22)), tuple(range(22, 27)), tuple(range(27, 31)))

# Eye layers: frame from the corners (half-width h); lid curves through the corners.
EYES = (((36, 37, 38, 39), (36, 41, 40, 39)),       # portrait's right eye (image left): upper lid, lower lid
        ((42, 43, 44, 45), (42, 47, 46, 45)))       # portrait's left eye
EYE_WIN_U = (1.1, 1.6)    # along the eye axis, in h: weight 1 up to 1.1, 0 from 1.6
EYE_WIN_T = (0.6, 2.0)    # across the axis, in h: weight 1 up to 0.6, 0 from 2.0; the lid skin stretch spans 2.0
EYE_WIN_BELOW = 1.4       # the window reaches only this far below the eye axis (the lower lid hardly moves)

BLINK_ON = (0.08, 0.18)   # closure (1 - target opening / portrait's) over which the blink model fades in (0 below)
BLINK_FULL = 0.95         # the closure at which the lids meet (a scripted blink of 1 moves the lid landmarks 0.95)
LID_ROUND = 0.15          # where the descending lid arc meets the lower lid: radius of the smooth minimum (h)
LID_ARC = 0.6             # share of the lid's descent that is one translation of its arc (the rest per column)
LID_RISE = 0.5            # closed: the lower lid rises this share of its depth below the corners' axis
LID_MEET = (0.9, 1.0)     # closing progress over which the eyeball stops showing and the lids overlap
LID_OVERLAP_PX = 2.0      # closed: the upper lid reaches this many pixels past the lower lid line, so its soft edge
                          # blends with the lower lid's skin, never with the eye's opening
MEET_BAND = 0.5           # closed: the lower lid's skin reaches this far (h) above the meeting line, under the lid
LASH_BAND = 0.25          # the band (h) above the upper lash line that moves rigidly with the lid edge
BLINK_BAND = 0.45         # the lid skin band (h) above the lash band that stretches as the lid descends
LASH_LIFT = 0.03          # the lid edge shows the portrait's row this far (h) above its upper lid line (the line
                          # through the landmarks can cut the white near the corners)
LASH_SKIP = 0.1           # closed: the lower lid is taken from this far (h) below its lash line
LID_SOFT_H = 0.12         # soft step of a closing lid's edge, in h (at least SOFT_PX): no stair steps when the
                          # crop is finer than the plate

# Eye model, used when the optional iris inputs are given (a gaze, or wide eyes): the iris is a rigid
# disk that moves to the target iris centre; the rest of the opening is sclera (the portrait's own, taken beside
# the iris); a lid raised above the portrait's shows the eyeball continued (reflected about a line just under the
# portrait's lid), never a stretched one.
IRIS_R = 0.42             # iris radius, in eye half-widths (iris ~11.7 mm across, eye opening ~28-30 mm wide)
IRIS_MARGIN = 0.08        # sclera is taken this far (half-widths) outside the portrait's iris disk
LID_REVEAL = 0.10         # the band a raised lid reveals is reflected about Us + this (half-widths) of the portrait
HOLE_SOFT_PX = 1.0        # the portrait's iris disk (IRIS_R + IRIS_MARGIN) is covered by sclera colour up to its rim,
                          # fading out over this many pixels outside it (a fade inside it blended the old iris rim
                          # into grey smears)
SCLERA_U = (0.15, 0.4, 0.65)   # sclera colour samples: fractions of the way from the iris disk to 0.9 half-widths
SCLERA_T = (0.35, 0.5, 0.65)   # ... and of the way from the portrait's upper lid to its lower lid at that column
SCLERA_TOP = 6            # the sclera colour is the mean of the brightest 6 of those 18 samples (lids, lashes and
                          # corners are darker than the eye's white; the samples stay inside the opening)
SCLERA_SHADE = (0.3, 3.0)      # painted sclera is this much darker at the upper lid, fading over this many pixels
WIDE_BAND = 1.2           # a raised upper lid compresses its skin only up to this far above the eye axis
                          # (half-widths), so brows and glasses rims above stay put

# Mouth layer: frame from the outer corners 48, 54 (half-width h).
MOUTH_OUTER_UP = (48, 49, 50, 51, 52, 53, 54)
MOUTH_INNER_UP = (60, 61, 62, 63, 64)
MOUTH_INNER_LO = (60, 67, 66, 65, 64)
MOUTH_OUTER_LO = (48, 59, 58, 57, 56, 55, 54)
MOUTH_SPLIT = 0.8         # the upper 80 % of the portrait's mouth opening moves with the upper lip (upper teeth)
MOUTH_WIN_U = (1.05, 1.35)  # along the mouth axis, in h
MOUTH_WIN_T = (0.05, 0.35)  # distance outside the outer lip line, in h
OPEN_PX = 1.0             # the cavity fades in while the target opens by up to this many pixels more than the source

# Cavity shading, from the portrait's own palette (its lip colour, skin and any visible teeth, sampled at landmarks)
CAVITY_TINT = (1.25, 0.8, 0.8)       # the mouth's inside is redder than the lips' outside
CAVITY_EDGE_K = 0.4                  # next to the lips: the lip colour darkened
CAVITY_DEEP_K = 0.07                 # in the middle, towards the back: near black, still lip-tinted
CORNER_FLESH = (0.55, 0.95)          # |u| (mouth half-widths) over which the cavity turns to lip flesh at the corners
CAVITY_LIGHT = (0.65, 0.35)          # light factor from the lower lip (0.65) to the upper lip (1.0)
TEETH = (0.90, 0.87, 0.80)           # upper-teeth hint under the upper lip when the portrait shows none: this
                                     # mixed with 35 % skin; the portrait's own teeth colour when it shows some
TEETH_ALPHA = 0.75
TEETH_HEIGHT = 0.14                  # in mouth half-widths, at most 40 % of the opening
TOOTH_WIDTH = 0.2                    # in mouth half-widths: faint darker gaps between teeth, centred on the midline
CAVITY_EDGE_V1, CAVITY_DEEP_V1 = (0.30, 0.10, 0.09), (0.045, 0.018, 0.018)   # version 1's fixed colours
TEETH_V1, TONGUE_V1 = (0.84, 0.80, 0.73), (0.50, 0.22, 0.21)
LIP_ROUND = 0.6            # how far an opening mouth's inner lower lip rounds from the corners towards a quarter ellipse
TONGUE = (0.50, 0.22, 0.21)          # version 1's dim tongue hint rising from the lower lip (kept for its frames)
TONGUE_ALPHA = 0.45
TONGUE_HEIGHT = 0.45                 # fraction of the opening
# The tongue of an opening mouth: a dome resting on the lower lip, coloured from the portrait's lips, lit on top
TONGUE_DOME_H = 0.36                 # its top, in fractions of the opening, in the middle
TONGUE_DOME_W = 0.62                 # its half-width, in mouth half-widths (it ends before the corners)
TONGUE_DOME_SOFT = 0.15              # its top edge's softness, in fractions of the opening
TONGUE_DOME_ALPHA = 0.6
TONGUE_LIGHT = (0.35, 0.45)          # light factor from its foot (0.35) to its lit top (0.8): inside the mouth
TONGUE_FOOT = (0.03, 0.12)           # above the lower lip (fractions of the opening): the shadow between lip and tongue
TONGUE_SHOWS = (0.08, 0.45)          # opening (mouth half-widths) over which the tongue fades in
TONGUE_TINT = (1.0, 0.78, 0.82)      # times the lips' inner flesh colour: a tongue is redder and darker than lips


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

    def split(self, x, n: int, axis: int) -> list[str]:
        """n equal parts along axis (opset 13-17 Split without sizes)"""
        outs = [self._name("split") for _ in range(n)]
        self.nodes.append(helper.make_node("Split", [x], outs, name=f"n{len(self.nodes)}_Split", axis=axis))
        return outs

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
        # the pack's optional inputs (manifest version 2): iris centres; zeros give the version 1 eyes
        helper.make_tensor_value_info("source_iris", TensorProto.FLOAT, [1, 2, 2]),
        helper.make_tensor_value_info("target_iris", TensorProto.FLOAT, [1, 2, 2]),
        helper.make_tensor_value_info("source_points", TensorProto.FLOAT, [1, "P", 2]),
        helper.make_tensor_value_info("target_points", TensorProto.FLOAT, [1, "P", 2]),
    ]
    outputs = [
        helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, 4, "S", "S"]),
        helper.make_tensor_value_info("overlay", TensorProto.FLOAT, [1, 5, "S", "S"]),
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
    neg_edge = g.op("Neg", edge)

    src_lm = g.reshape("source_landmarks", [68, 2])
    tgt_lm = g.reshape("target_landmarks", [68, 2])
    # iris centres (normalised), the subject's right eye first; the eye model is on when any is non-zero
    SI_n, TI_n = g.reshape("source_iris", [2, 2]), g.reshape("target_iris", [2, 2])
    eye_v2 = g.op("Ceil", g.clip01(g.mul(g.add(g.op("ReduceSum", g.abs(SI_n), keepdims=0),
                                               g.op("ReduceSum", g.abs(TI_n), keepdims=0)), 1e6)))   # 0 / 1
    src_pts = g.reshape("source_points", [-1, 2])                      # [P,2], P may be 0
    tgt_pts = g.reshape("target_points", [-1, 2])

    def centres(n_i, n_f):
        """(2i+1)/n - 1 for i < n  ->  [n]"""
        r = g.op("Cast", g.op("Range", g.i64(0), g.reshape(n_i, []), g.i64(1)), to=TensorProto.FLOAT)
        return g.sub(g.div(g.add(g.mul(r, 2.0), 1.0), n_f), 1.0)

    # ================================================================================================================
    # 1. moving least squares (rigid), backward: target-side control points p_i -> source-side q_i = p_i + e_i.
    #    Evaluated on a G x G grid; tensors are laid out [.., G*G] (long last axis: fast broadcasting).
    # ================================================================================================================
    anchors = anchor_points(ANCHORS_PER_SIDE)
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
    # The extra control points join the landmarks: target positions p, displacements back to the source e. With
    # P = 0 the concatenations add nothing and every value below is what it was without them.
    P = g.concat([p_lm, tgt_pts, g.const(anchors)], 0)                 # [N,2]
    E0 = g.concat([e_lm, g.sub(src_pts, tgt_pts), g.const(np.zeros_like(anchors))], 0)   # [N,2]
    px, py = g.take(P, [0], 1), g.take(P, [1], 1)                      # [N,1]
    pp = g.add(g.sq(px), g.sq(py))
    ones_n = g.add(g.mul(px, 0.0), 1.0)
    # squared distances by one matmul: [-2px, -2py, |p|^2, 1] . [vx, vy, 1, |v|^2]
    Bm = g.concat([g.mul(px, -2.0), g.mul(py, -2.0), pp, ones_n], 1)  # [N,4]
    # With eps in the weights the map is smooth, so at a control point it gives a weighted mean of the
    # displacements around it (an opened chin fell ~25 % short). Pre-correct the displacements so that the
    # translation part meets them: E <- E + (E0 - A E), A the normalised weights among the control points (a
    # positive-definite kernel, row-normalised: the steps converge; E0 = 0 stays exactly 0, so identity is exact).
    Vp = g.op("Transpose", g.concat([px, py, ones_n, pp], 1), perm=[1, 0])   # [4,N]
    Wpp = g.op("Reciprocal", g.add(g.relu(g.op("MatMul", Bm, Vp)), MLS_EPS))  # [N,N], symmetric
    App = g.div(Wpp, g.op("ReduceSum", Wpp, g.i64([1]), keepdims=1))
    E = E0
    for _ in range(INTERP_STEPS):
        E = g.add(E, g.sub(E0, g.op("MatMul", App, E)))
    ex, ey = g.take(E, [0], 1), g.take(E, [1], 1)
    # per-point features whose weighted sums give everything:  [1, px, py, ex, ey, p.e, p x e, |p|^2]
    featsT = g.op("Transpose", g.concat([ones_n, px, py, ex, ey, g.add(g.mul(px, ex), g.mul(py, ey)),
                                         g.sub(g.mul(px, ey), g.mul(py, ex)), pp], 1), perm=[1, 0])   # [8,N]

    coarse = centres(G_i, G_f)
    GG = g.concat([G_i, G_i], 0)
    cx = g.reshape(g.op("Expand", g.reshape(coarse, [1, -1]), GG), [1, -1])   # [1,G2]
    cy = g.reshape(g.op("Expand", g.reshape(coarse, [-1, 1]), GG), [1, -1])
    Vt = g.concat([cx, cy, g.add(g.mul(cx, 0.0), 1.0), g.add(g.sq(cx), g.sq(cy))], 0)   # [4,G2]
    D2 = g.relu(g.op("MatMul", Bm, Vt))                                # [N,G2]
    W = g.op("Reciprocal", g.add(D2, MLS_EPS))
    sums = g.op("MatMul", featsT, W)                                   # [8,G2]
    sw, spx, spy, sex, sey, spe, spxe, spp = g.split(sums, 8, 0)       # [1,G2] each
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

    def iod_sq(lm):
        a = g.op("ReduceMean", g.take(lm, range(36, 42), 0), axes=[0], keepdims=1)
        b = g.op("ReduceMean", g.take(lm, range(42, 48), 0), axes=[0], keepdims=1)
        return g.op("ReduceSum", g.sq(g.sub(b, a)), keepdims=0)        # squared inter-ocular distance

    # compact envelope: |d| <= m(v) = sum_i |e_i| (1 - d_i^2/R^2)_+^2  ->  exactly 0 far from every moved point
    inv_R2 = g.div(1.0, g.max(g.mul(iod_sq(tgt_lm), ENVELOPE_IOD ** 2), 1e-6))
    # (the envelope bounds by the requested displacements, not the pre-corrected ones)
    emagT = g.op("Transpose", g.sqrt(g.op("ReduceSum", g.sq(E0), g.i64([1]), keepdims=1)), perm=[1, 0])   # [1,N]
    kern = g.sq(g.relu(g.sub(1.0, g.mul(D2, inv_R2))))                 # [N,G2]
    env = g.op("MatMul", emagT, kern)                                  # [1,G2]
    mag = g.sqrt(g.add(g.sq(dx), g.sq(dy)))
    mag_c = g.min(mag, env)
    fac = g.div(mag_c, g.max(mag, 1e-20))
    disp_c = g.reshape(g.mul(g.concat([dx, dy], 0), fac), g.concat([g.i64([2]), G_i, G_i], 0))  # [2,G,G]
    chg_c = g.clip01(g.mul(mag_c, g.mul(half_S, 1.0 / CHANGED_PX)))
    chg_c = g.op("MaxPool", g.reshape(chg_c, g.concat([one_i, one_i, G_i, G_i], 0)),
                 kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    # ---- the coarse maps at full resolution -----------------------------------------------------------------------
    # What Resize (linear, half_pixel, edges clamped) from G to S = 8 G computes, as two separable 2-tap passes,
    # each a Gather of the two neighbouring rows and a batched 4 x 2 MatMul (Resize costs ~3 ns a pixel and channel
    # on one thread; this ~0.6). Output pixels come in runs of 4 (m = 0 .. 2G-1): run m lies between the cells
    # (m+1)//2 - 1 and (m+1)//2 at the fractions (q + 4.5)/8 (m even) or (q + 0.5)/8 (m odd), q = 0..3. The cells
    # are padded by one on each side (edge-replicated: Resize's clamping), and the identity (cell centres, continued
    # linearly into the padding) is added before the passes, so A = identity + displacement comes out in one go.
    # Where the displacement is 0 every product and sum is exact (centres (2k+1)/G - 1, weights k/16), so the
    # identity grid is still the exact pixel centres (2i+1)/S - 1 for a power-of-two S.
    Q = g.op("Pad", g.concat([disp_c, g.reshape(chg_c, g.concat([one_i, G_i, G_i], 0))], 0),
             g.i64([0, 1, 1, 0, 1, 1]), mode="edge")                   # [3,G+2,G+2]: x, y, changed
    Ge_i = g.add_i(G_i, 2)
    re_ = g.op("Cast", g.op("Range", g.i64(0), g.reshape(Ge_i, []), g.i64(1)), to=TensorProto.FLOAT)
    ce = g.sub(g.div(g.sub(g.mul(re_, 2.0), 1.0), G_f), 1.0)           # centres of the padded cells
    idc = g.add(g.mul(g.reshape(ce, [1, 1, -1]), g.const(np.array([1, 0, 0], np.float32).reshape(3, 1, 1))),
                g.mul(g.reshape(ce, [1, -1, 1]), g.const(np.array([0, 1, 0], np.float32).reshape(3, 1, 1))))
    Q = g.add(Q, idc)
    m_i = g.op("Range", g.i64(0), g.reshape(g.mul(G_i, g.i64([2])), []), g.i64(1))
    left = g.reshape(g.op("Div", g.add_i(m_i, 1), g.i64([2])), [-1, 1])
    lr = g.concat([left, g.add_i(left, 1)], 1)                         # [2G,2] the two padded cells of each run
    wq = np.array([[4.5, 5.5, 6.5, 7.5], [0.5, 1.5, 2.5, 3.5]], np.float32) / 8
    W2 = g.op("Tile", g.const(np.stack([1 - wq, wq], -1)), g.concat([G_i, one_i, one_i], 0))   # [2G,4,2]

    def up_rows(x, C, n_i):
        """[C,G+2,n] -> [C,S,n]: the rows resized"""
        return g.reshape(g.op("MatMul", W2, g.op("Gather", x, lr, axis=1)), g.concat([g.i64([C]), S_i, n_i], 0))

    X = g.op("Transpose", up_rows(g.op("Transpose", Q, perm=[0, 2, 1]), 3, Ge_i), perm=[0, 2, 1])   # [3,G+2,S]
    # grid A and the base of grid B (both the MLS map: x, y, x, y; duplicated here, where it is cheap, so that the
    # output is one full-size Add), and changed
    mls4 = g.reshape(up_rows(g.take(X, [0, 1, 0, 1], 0), 4, S_i), g.concat([g.i64([1, 4]), S_i, S_i], 0))
    chg_full = g.reshape(up_rows(g.take(X, [2], 0), 1, S_i), g.concat([one_i, one_i, S_i, S_i], 0))

    def mls_grid(x0, x1, y0, y1):
        """the MLS sampling grid [1,h,w,2] (normalised) for the pixel box [y0,y1) x [x0,x1)"""
        d = g.op("Slice", mls4, g.concat([g.i64([0]), y0, x0], 0), g.concat([g.i64([2]), y1, x1], 0),
                 g.i64([1, 2, 3]))                                     # [1,2,h,w]
        return g.op("Transpose", g.clip(d, neg_edge, edge), perm=[0, 2, 3, 1])

    # ================================================================================================================
    # 2. eye and mouth layers, each in a small window of the crop.
    #    Landmark-level work (frames, curve knots, windows) is batched over the three layers.
    # ================================================================================================================
    LM = g.concat([g.mul(g.add(tgt_lm, 1.0), half_S), g.mul(g.add(src_lm, 1.0), half_S)], 0)   # [136,2] pixels
    CORNERS = ((36, 39), (42, 45), (48, 54))                           # layer frames: eye R, eye L, mouth
    frame_rows = [(side, layer) for side in (0, 1) for layer in range(3)]   # frame f = side * 3 + layer
    A = g.take(LM, [s * 68 + CORNERS[l][0] for s, l in frame_rows], 0)  # [6,2]
    B = g.take(LM, [s * 68 + CORNERS[l][1] for s, l in frame_rows], 0)
    ab = g.sub(B, A)
    ln = g.max(g.sqrt(g.op("ReduceSum", g.sq(ab), g.i64([1]), keepdims=1)), 1e-3)   # [6,1]
    FP = g.concat([g.mul(g.add(A, B), 0.5), g.div(ab, ln), g.mul(ln, 0.5), g.div(2.0, ln)], 1)  # [6,6]
    # FP columns: cx, cy, ax, ay, h, 1/h   (t axis = a turned +90 degrees: (-ay, ax), 'down' for a level face)

    # curves: (layer, side, landmarks, smoothing steps), in layer order
    eye_curves = lambda l, up, lo: [(l, 0, up, SMOOTH_STEPS), (l, 0, lo, SMOOTH_STEPS),
                                    (l, 1, up, SMOOTH_STEPS), (l, 1, lo, SMOOTH_STEPS)]
    mouth_curves = [(2, s, c, k) for s in (0, 1) for c, k in ((MOUTH_OUTER_UP, 0), (MOUTH_INNER_UP, SMOOTH_STEPS),
                                                             (MOUTH_INNER_LO, SMOOTH_STEPS), (MOUTH_OUTER_LO, 0))]
    CURVES = eye_curves(0, *EYES[0]) + eye_curves(1, *EYES[1]) + mouth_curves
    raw_lm, raw_frame, blocks, offsets = [], [], [], []
    kprime = 0
    for (l, s, idx, k) in CURVES:
        raw_lm += [s * 68 + i for i in idx]
        raw_frame += [s * 3 + l] * len(idx)
        M = np.eye(len(idx))
        for _ in range(k):
            M = subdivision_matrix(M.shape[0]).astype(np.float64) @ M
        blocks.append(M)
        offsets.append((kprime, M.shape[0], len(raw_lm) - len(idx)))
        kprime += M.shape[0]
    KUT_ROWS = kprime
    BD = np.zeros((kprime, len(raw_lm)), np.float32)
    for M, (o, n, r0) in zip(blocks, offsets):
        BD[o:o + n, r0:r0 + M.shape[1]] = M
    def round_opening_lip(KT):
        """An opening mouth's inner lower lip hangs as an arc from the corners: between each inner corner and the
        next lower-lip landmark (67, 65) the target's knots go down by LIP_ROUND of (the quarter ellipse - the
        straight line) times how much more that landmark dropped below the corner than in the portrait. Only when the
        target's mouth opens wider than the portrait's (by 0.5 px and more, fully from 1.5 px), so every other
        frame keeps its knots bit for bit."""
        ci = {side: [i for i, c in enumerate(CURVES) if c[0] == 2 and c[1] == side and c[2] == MOUTH_INNER_LO][0]
              for side in (0, 1)}
        (o, n, _), (os_, _, _) = offsets[ci[0]], offsets[ci[1]]
        q = (n - 1) // (len(MOUTH_INNER_LO) - 1)                       # knots per landmark interval
        drop = lambda base, c, l: g.sub(g.take(KT, [base + l], 0), g.take(KT, [base + c], 0))
        opening = lambda side: g.op("ReduceMean", g.sqrt(g.op("ReduceSum", g.sq(g.sub(
            g.take(LM, [side * 68 + i for i in (61, 62, 63)], 0), g.take(LM, [side * 68 + i for i in (67, 66, 65)], 0))),
            g.i64([1]), keepdims=0)), keepdims=0)
        gain = g.clip01(g.sub(g.sub(opening(0), opening(1)), 0.5))
        D = np.zeros((KUT_ROWS, 2), np.float32)                        # per knot: weight of the left, right excess
        for k in range(1, q):
            f = k / q
            bulge = LIP_ROUND * (np.sqrt(1 - (1 - f) ** 2) - f)
            D[o + k, 0] = bulge                                        # from corner 60 towards 67
            D[o + n - 1 - k, 1] = bulge                                # from corner 64 towards 65
        excess = g.relu(g.concat([g.sub(drop(o, 0, q), drop(os_, 0, q)),
                                  g.sub(drop(o, n - 1, n - 1 - q), drop(os_, n - 1, n - 1 - q))], 0))   # [2,1]
        return g.add(KT, g.mul(gain, g.op("MatMul", g.const(D), excess)))

    Pk = g.take(LM, raw_lm, 0)                                         # [K,2]
    Fk = g.take(FP, raw_frame, 0)                                      # [K,6]
    kcx, kcy, kax, kay, _kh, kih = g.split(Fk, 6, 1)
    kdx, kdy = g.sub(g.take(Pk, [0], 1), kcx), g.sub(g.take(Pk, [1], 1), kcy)
    ku = g.mul(g.add(g.mul(kdx, kax), g.mul(kdy, kay)), kih)
    kt = g.mul(g.sub(g.mul(kdy, kax), g.mul(kdx, kay)), kih)
    KUT = g.op("MatMul", g.const(BD), g.concat([ku, kt], 1))           # [K',2] smoothed knots (u, t)
    KU, KT = g.take(KUT, [0], 1), g.take(KUT, [1], 1)                  # [K',1]
    KT = round_opening_lip(KT)

    def segment_tables_idx(layer):
        """per-layer ramp tables as indices: starts, ends [R,1] (into KU, KT), firsts [C,1], group matrix [C,R]"""
        cs = [i for i, c in enumerate(CURVES) if c[0] == layer]
        starts, ends, firsts, grp = [], [], [], []
        for j, ci in enumerate(cs):
            o, n, _ = offsets[ci]
            starts += list(range(o, o + n - 1))
            ends += list(range(o + 1, o + n))
            firsts.append(o)
            grp += [j] * (n - 1)
        Gm = np.zeros((len(cs), len(starts)), np.float32)
        Gm[grp, np.arange(len(starts))] = 1
        return starts, ends, firsts, Gm

    def segment_tables(layer):
        """per-layer ramp tables: U0, INV, DT [R,1]; T0 [C,1]; group matrix [C,R] (constant)"""
        starts, ends, firsts, Gm = segment_tables_idx(layer)
        U0 = g.take(KU, starts, 0)
        INV = g.op("Reciprocal", g.max(g.sub(g.take(KU, ends, 0), U0), 1e-4))
        DT = g.sub(g.take(KT, ends, 0), g.take(KT, starts, 0))
        return U0, INV, DT, g.take(KT, firsts, 0), g.const(Gm), Gm.shape[0]

    # windows: local rectangles (in half-widths) -> pixel boxes, all three layers at once
    mouth_ou = [i for i, c in enumerate(CURVES) if c[0] == 2 and c[1] == 0 and c[2] == MOUTH_OUTER_UP][0]
    mouth_ol = [i for i, c in enumerate(CURVES) if c[0] == 2 and c[1] == 0 and c[2] == MOUTH_OUTER_LO][0]
    o, n, _ = offsets[mouth_ou]
    m_top = g.sub(g.op("ReduceMin", g.op("Slice", KT, g.i64([o]), g.i64([o + n])), keepdims=1), MOUTH_WIN_T[1])
    o, n, _ = offsets[mouth_ol]
    m_bot = g.add(g.op("ReduceMax", g.op("Slice", KT, g.i64([o]), g.i64([o + n])), keepdims=1), MOUTH_WIN_T[1])
    Ur = [EYE_WIN_U[1], EYE_WIN_U[1], MOUTH_WIN_U[1]]
    Uc = g.const(np.array([[-u, u, -u, u] for u in Ur], np.float32))   # [3,4]
    eye_t = g.const(np.array([[-EYE_WIN_T[1], -EYE_WIN_T[1], EYE_WIN_BELOW, EYE_WIN_BELOW]] * 2, np.float32))
    Tc = g.concat([eye_t, g.concat([m_top, m_top, m_bot, m_bot], 1)], 0)   # [3,4]
    tcx, tcy, tax, tay, th_, _ = g.split(g.op("Slice", FP, g.i64([0]), g.i64([3])), 6, 1)   # target frames [3,1]
    BX = g.add(tcx, g.mul(g.sub(g.mul(Uc, tax), g.mul(Tc, tay)), th_))
    BY = g.add(tcy, g.mul(g.add(g.mul(Uc, tay), g.mul(Tc, tax)), th_))
    Sm1 = g.sub(S_f, 1.0)

    def lo(v):
        return g.op("Cast", g.clip(g.op("Floor", g.op("ReduceMin", v, axes=[1], keepdims=0)), 0.0, Sm1),
                    to=TensorProto.INT64)

    def hi(v, v0):
        top = g.clip(g.op("Ceil", g.op("ReduceMax", v, axes=[1], keepdims=0)), 0.0, S_f)
        return g.op("Cast", g.max(top, g.add(g.op("Cast", v0, to=TensorProto.FLOAT), 1.0)), to=TensorProto.INT64)

    bx0, by0 = lo(BX), lo(BY)
    bx1, by1 = hi(BX, bx0), hi(BY, by0)                                # [3] int64 each
    # how far each layer's landmarks moved (L1, pixels); a layer whose landmarks did not move at all gets a
    # 1-pixel window (its result is gated to zero anyway), so it costs nothing
    dsp = g.op("ReduceSum", g.abs(g.sub(g.op("Slice", LM, g.i64([0]), g.i64([68])),
                                        g.op("Slice", LM, g.i64([68]), g.i64([136])))), g.i64([1]), keepdims=0)
    LAYER_POINTS = (list(EYES[0][0]) + list(EYES[0][1]), list(EYES[1][0]) + list(EYES[1][1]), list(range(48, 68)))
    # the iris motion (pixels) of each eye, 0 without the eye model: a gaze alone moves an eye layer too
    iris_px = g.mul(g.op("ReduceSum", g.abs(g.sub(TI_n, SI_n)), g.i64([1]), keepdims=0), g.mul(half_S, eye_v2))   # [2]
    layer_motion = [g.op("ReduceMax", g.take(dsp, idx, 0), keepdims=1) for idx in LAYER_POINTS]
    layer_motion = [g.max(layer_motion[0], g.take(iris_px, [0], 0)), g.max(layer_motion[1], g.take(iris_px, [1], 0)),
                    layer_motion[2]]
    moved_any = g.op("Cast", g.op("Ceil", g.clip01(g.concat(layer_motion, 0))), to=TensorProto.INT64)
    bx1 = g.add(bx0, g.op("Max", g.mul(g.sub(bx1, bx0), moved_any), g.i64([1])))
    by1 = g.add(by0, g.op("Max", g.mul(g.sub(by1, by0), moved_any), g.i64([1])))
    # ... and that pixel is put at the corner of a layer that did move (if any), so that it does not stretch the
    # union box below (its contribution is exactly 0 wherever it sits)
    moved_b = g.op("Cast", moved_any, to=TensorProto.BOOL)
    any_b = g.op("Cast", g.op("ReduceMax", moved_any, keepdims=1), to=TensorProto.BOOL)
    S_big = g.op("Cast", S_f, to=TensorProto.INT64)

    def park(v0, v1):
        ref = g.op("ReduceMin", g.op("Where", moved_b, v0, S_big), keepdims=1)
        keep = g.op("Or", moved_b, g.op("Not", any_b))
        return g.op("Where", keep, v0, ref), g.op("Where", keep, v1, g.add_i(ref, 1))

    bx0, bx1 = park(bx0, bx1)
    by0, by1 = park(by0, by1)
    # union of the three boxes: the layers are summed there, and only that sum is padded to the full crop
    lx0, ly0 = (g.op("ReduceMin", v, keepdims=1) for v in (bx0, by0))  # [1] the layers' union box
    lx1, ly1 = (g.op("ReduceMax", v, keepdims=1) for v in (bx1, by1))
    def frame_scalars(f):
        return g.split(g.take(FP, [f], 0), 6, 1)                       # cx, cy, ax, ay, h, 1/h  ([1,1] each)

    class Win:
        """A layer's pixel box, its full-resolution pixel grid and a LAYER_STEP times coarser grid."""

        def __init__(self, layer):
            self.x0, self.x1 = g.take(bx0, [layer], 0), g.take(bx1, [layer], 0)
            self.y0, self.y1 = g.take(by0, [layer], 0), g.take(by1, [layer], 0)
            self.h_i, self.w_i = g.sub(self.y1, self.y0), g.sub(self.x1, self.x0)
            self.hc = g.op("Div", g.add_i(self.h_i, LAYER_STEP - 1), g.i64([LAYER_STEP]))
            self.wc = g.op("Div", g.add_i(self.w_i, LAYER_STEP - 1), g.i64([LAYER_STEP]))

            def coarse(n_c, n, o):
                """positions (pixels) where Resize(half_pixel) from n_c to n samples put the coarse points"""
                j = g.op("Cast", g.op("Range", g.i64(0), g.reshape(n_c, []), g.i64(1)), to=TensorProto.FLOAT)
                ratio = g.div(g.op("Cast", n, to=TensorProto.FLOAT), g.op("Cast", n_c, to=TensorProto.FLOAT))
                return g.add(g.op("Cast", o, to=TensorProto.FLOAT), g.mul(g.add(j, 0.5), ratio))

            self.xc = g.reshape(coarse(self.wc, self.w_i, self.x0), [1, -1])     # [1,wc]
            self.yc = g.reshape(coarse(self.hc, self.h_i, self.y0), [-1, 1])     # [hc,1]
            self.Fm = mls_grid(self.x0, self.x1, self.y0, self.y1)              # [1,h,w,2]
            self.Fm_planar = g.reshape(g.op("Transpose", self.Fm, perm=[3, 0, 1, 2]), [2, 1, -1])   # [2,1,P]

        def local(self, f):
            """(u, t) of the coarse points in frame f, [hc,wc] each"""
            cx_, cy_, ax_, ay_, _h, ih = frame_scalars(f)
            a1, a2 = g.mul(ax_, ih), g.mul(ay_, ih)
            bu = g.op("Neg", g.add(g.mul(cx_, a1), g.mul(cy_, a2)))
            bt = g.sub(g.mul(cx_, a2), g.mul(cy_, a1))
            u = g.add(g.mul(self.xc, a1), g.add(g.mul(self.yc, a2), bu))
            t = g.add(g.sub(g.mul(self.yc, a1), g.mul(self.xc, a2)), bt)
            return u, t

        def curves(self, layer, u):
            """the layer's curves t(u) at the coarse points -> list of [hc,wc]"""
            U0, INV, DT, T0, Gm, C = segment_tables(layer)
            uf = g.reshape(u, [1, -1])
            r = g.clip01(g.mul(g.sub(uf, U0), INV))                    # [R,Pc]
            out = g.add(g.op("MatMul", Gm, g.mul(r, DT)), T0)          # [C,Pc]
            out = g.reshape(out, g.concat([g.i64([C]), self.hc, self.wc], 0))
            return [g.reshape(x, g.concat([self.hc, self.wc], 0)) for x in g.split(out, C, 0)]

        def upsample(self, chans):
            """stack coarse [hc,wc] maps and resize them (linear) to the window -> [1,C,h,w]"""
            C = len(chans)
            x = g.reshape(g.concat([g.reshape(c, g.concat([one_i, self.hc, self.wc], 0)) for c in chans], 0),
                          g.concat([g.i64([1, C]), self.hc, self.wc], 0))
            return g.op("Resize", x, "", "", g.concat([g.i64([1, C]), self.h_i, self.w_i], 0), mode="linear",
                        coordinate_transformation_mode="half_pixel")

        def interp(self, n_c, n):
            """[n, n_c]: the weights of Resize linear (half_pixel) from n_c to n samples, in ORT's own arithmetic
            (scale = n / n_c in float, x = (i + 0.5) / scale - 0.5 clamped to [0, n_c - 1])"""
            n_cf = g.op("Cast", n_c, to=TensorProto.FLOAT)
            i = g.op("Cast", g.op("Range", g.i64(0), g.reshape(n, []), g.i64(1)), to=TensorProto.FLOAT)
            x = g.sub(g.div(g.add(i, 0.5), g.div(g.op("Cast", n, to=TensorProto.FLOAT), n_cf)), 0.5)
            x = g.min(g.max(x, 0.0), g.sub(n_cf, 1.0))
            j = g.op("Cast", g.op("Range", g.i64(0), g.reshape(n_c, []), g.i64(1)), to=TensorProto.FLOAT)
            return g.relu(g.sub(1.0, g.abs(g.sub(g.reshape(x, [-1, 1]), g.reshape(j, [1, -1])))))

        def upsample_mm(self, chans):
            """the same resize as two products with the interpolation matrices -> [C,h,w] (less work than
            Resize, but rounds differently: only for maps that feed no hard decision)"""
            x = g.concat([g.reshape(c, g.concat([one_i, self.hc, self.wc], 0)) for c in chans], 0)   # [C,hc,wc]
            Wx = g.op("Transpose", self.interp(self.wc, self.w_i), perm=[1, 0])                   # [wc,w]
            return g.op("MatMul", self.interp(self.hc, self.h_i), g.op("MatMul", x, Wx))          # [C,h,w]

        def channels(self, R, a, b):
            """channels a..b-1 of [1,C,h,w] as [b-a,1,P]"""
            return g.reshape(g.op("Slice", R, g.i64([a]), g.i64([b]), g.i64([1])), [b - a, 1, -1])

        def grid_pair(self, grid5):
            """grid5 [1,2,h,w,2] normalised -> the two candidate grids, planar [2,1,P] each (x, y)"""
            pl = g.op("Transpose", g.clip(grid5, neg_edge, edge), perm=[0, 1, 4, 2, 3])    # [1,2,2,h,w]
            a, b = g.split(g.reshape(pl, [2, 2, 1, -1]), 2, 0)
            return g.reshape(a, [2, 1, -1]), g.reshape(b, [2, 1, -1])

        def to_union(self, grid_a, grid_b, w_b, chg, cavity, gate):
            """grids A and B [2,1,P], weight of B [1,1,P], changed [1,1,P], the cavity's premultiplied colour and
            coverage [4,1,P] and the layer's 0/1 gate -> [1,6,lh,lw] and [1,4,lh,lw] over the layers' box: the grids
            as changes of the MLS map (0 where the gate is 0, so that B equals A outside the layer and both meet the
            MLS map continuously at the window's edge), the gated weight of B, changed; the gated cavity"""
            da, db = (g.mul(gate, g.sub(x, self.Fm_planar)) for x in (grid_a, grid_b))
            pads = g.concat([g.i64([0, 0]), g.sub(self.y0, ly0), g.sub(self.x0, lx0), g.i64([0, 0]),
                             g.sub(ly1, self.y1), g.sub(lx1, self.x1)], 0)
            return [g.op("Pad", g.reshape(x, g.concat([g.i64([1, C]), self.h_i, self.w_i], 0)), pads, mode="constant")
                    for x, C in ((g.concat([da, db, g.mul(gate, w_b), chg], 0), 6), (g.mul(gate, cavity), 4))]

    def falloff(x, lo_, hi_):
        """1 for x <= lo, 0 for x >= hi, linear between"""
        return g.clip01(g.mul(g.sub(hi_, x), 1.0 / (hi_ - lo_)))

    def moved(idx):
        """max landmark motion over idx (pixels) and an exact 0/1 flag 'moved at all'"""
        m = g.op("ReduceMax", g.take(dsp, idx, 0), keepdims=0)
        return m, g.op("Ceil", g.clip01(m))

    def step_level(x_px):
        """soft step level over SOFT_PX pixels: clip01 of this is 1 where x_px > 0"""
        return g.add(g.mul(x_px, 1.0 / SOFT_PX), 0.5)

    # ---- eyes: both layers in one computation ----------------------------------------------------------------------
    # Tensors carry the eye along a leading axis of 2. The two windows differ in size: each is computed in the
    # top-left corner of a common block (the larger height and width of the two, and so for the coarse grid); the
    # interpolation matrices are 0 past an eye's own window, so all its maps, its gate and its changed are 0 there,
    # and every pixel of the window gets what the eye's own window gives.
    def eye_layers():
        E2 = [0, 1]
        x0, x1, y0, y1 = (g.take(v, E2, 0) for v in (bx0, bx1, by0, by1))   # [2] int64
        h_i, w_i = g.sub(y1, y0), g.sub(x1, x0)
        hc = g.op("Div", g.add_i(h_i, LAYER_STEP - 1), g.i64([LAYER_STEP]))
        wc = g.op("Div", g.add_i(w_i, LAYER_STEP - 1), g.i64([LAYER_STEP]))
        hm, wm, hcm, wcm = (g.op("ReduceMax", v, keepdims=1) for v in (h_i, w_i, hc, wc))   # [1] the block

        def col(v, shape):
            return g.reshape(g.op("Cast", v, to=TensorProto.FLOAT), shape)

        def arange_f(n, shape):
            return g.reshape(g.op("Cast", g.op("Range", g.i64(0), g.reshape(n, []), g.i64(1)),
                                  to=TensorProto.FLOAT), shape)

        def coarse(n_c, n, o, n_m, shape, shape_e):
            """positions (pixels) where Resize(half_pixel) from n_c to n samples puts the coarse points"""
            ratio = g.div(col(n, shape_e), col(n_c, shape_e))
            return g.add(col(o, shape_e), g.mul(g.add(arange_f(n_m, shape), 0.5), ratio))

        xc = coarse(wc, w_i, x0, wcm, [1, 1, 1, -1], [2, 1, 1, 1])              # [2,1,1,wcm]
        yc = coarse(hc, h_i, y0, hcm, [1, 1, -1, 1], [2, 1, 1, 1])              # [2,1,hcm,1]

        def frames(rows):
            return g.split(g.reshape(g.take(FP, rows, 0), [2, 6, 1, 1]), 6, 1)   # 6 x [2,1,1,1]

        cx_, cy_, ax_, ay_, _h, ih = frames([0, 1])                             # target eye frames
        scx, scy, sax, say, sh, sih = frames([3, 4])                            # source eye frames
        th = _h
        a1, a2 = g.mul(ax_, ih), g.mul(ay_, ih)
        bu = g.op("Neg", g.add(g.mul(cx_, a1), g.mul(cy_, a2)))
        bt = g.sub(g.mul(cx_, a2), g.mul(cy_, a1))
        u = g.add(g.mul(xc, a1), g.add(g.mul(yc, a2), bu))                     # [2,1,hcm,wcm]
        t = g.add(g.sub(g.mul(yc, a1), g.mul(xc, a2)), bt)
        # the lid curves at the coarse points: the segment tables of the two eyes side by side
        tabs = [segment_tables_idx(layer) for layer in E2]
        starts, ends, firsts, Gm = (np.array([tb[i] for tb in tabs]) for i in range(4))
        C = Gm.shape[1]
        U0 = g.take(KU, starts, 0)                                               # [2,R,1]
        INV = g.op("Reciprocal", g.max(g.sub(g.take(KU, ends, 0), U0), 1e-4))
        DT = g.sub(g.take(KT, ends, 0), g.take(KT, starts, 0))
        r = g.clip01(g.mul(g.sub(g.reshape(u, [2, 1, -1]), U0), INV))          # [2,R,Pc]
        cv = g.add(g.op("MatMul", g.const(Gm[0]), g.mul(r, DT)), g.take(KT, firsts, 0))   # [2,C,Pc]
        cv = g.reshape(cv, g.concat([g.i64([2, C]), hcm, wcm], 0))
        Ut, Lt, Us, Ls = g.split(cv, C, 1)                                       # [2,1,hcm,wcm] each
        T1 = EYE_WIN_T[1]
        # Without a blink (open, wide, still eyes) the maps are version 1's: the lid skin band [-T1, Ut] stretched
        # from [-T1, Us], the eyeball with the lower lid, [Lt, T1] <- [Ls, T1] below it.
        open_s = g.op("ReduceMax", g.relu(g.sub(Ls, Us)), axes=[2, 3], keepdims=1)      # [2,1,1,1]
        open_t = g.op("ReduceMax", g.relu(g.sub(Lt, Ut)), axes=[2, 3], keepdims=1)
        closure = g.sub(1.0, g.div(open_t, g.max(open_s, 1e-3)))
        Ls_v1 = Ls
        t_up = g.sub(g.mul(g.add(t, T1), g.div(g.add(Us, T1), g.max(g.add(Ut, T1), 1e-3))), T1)
        t_up = g.op("Where", g.op("Less", t, g.const(-T1)), t, t_up)
        t_below = g.sub(T1, g.mul(g.sub(T1, t), g.div(g.sub(T1, Ls), g.max(g.sub(T1, Lt), 1e-3))))
        hs, ht = g.relu(g.sub(Ls, Us)), g.relu(g.sub(Lt, Ut))
        k = g.min(g.div(hs, g.max(ht, 1e-3)), 1.0)
        t_eye = g.add(Ls, g.mul(g.sub(t, Lt), k))
        t_lo = g.op("Where", g.op("Greater", t, Lt), t_below, t_eye)
        # A blink (closure c = 1 - target opening / portrait's, per eye at its widest, past BLINK_ON[0]; the blink
        # model fades in up to BLINK_ON[1] and is exactly absent below): the upper lid slides down over the eyeball.
        # Closing progress kappa = c / BLINK_FULL (a scripted blink 1 moves the lid landmarks 0.95 of the way).
        #  - the lid edge E: the portrait's upper lid arc U0 (relative to the lower lid) moved down by kappa of
        #    LID_ARC x the widest opening + the rest x the column's own (mostly one translation), kept above the lower lid's line Lc by a smooth minimum (radius LID_ROUND): the arc
        #    keeps its curvature over the eyeball and flattens onto the lower lid from the corners inwards; at
        #    kappa >= LID_MEET[1] it reaches LID_OVERLAP_PX past Lc. Half of the opening is covered at kappa 0.5.
        #  - the lower lid rises kappa^2 LID_RISE of its depth below the corners' axis (Lc), so the closed lash
        #    line is an arc below the middle of the old opening; its lash line slides under the upper lid
        #    (LASH_SKIP) and the eyeball stops showing between them as they meet (LID_MEET).
        #  - above E: the lash band (LASH_BAND high) moves rigidly with the edge, so the lash line keeps its width
        #    and darkness; the lid skin band BLINK_BAND above it stretches; above that nothing moves (brows and
        #    glasses rims stay).
        #  - the eyeball is not moved (occluded, not squashed), the lid line's soft step is LID_SOFT_H wide, below
        #    the edge, where the lid side repeats its lash line's row.
        g_bl = g.clip01(g.mul(g.sub(closure, BLINK_ON[0]), 1.0 / (BLINK_ON[1] - BLINK_ON[0])))   # [2,1,1,1]
        kap = g.clip01(g.mul(closure, 1.0 / BLINK_FULL))
        w_meet = g.clip01(g.mul(g.sub(kap, LID_MEET[0]), 1.0 / (LID_MEET[1] - LID_MEET[0])))
        Lc = g.sub(Lt, g.mul(g.mul(g.sq(kap), LID_RISE), g.relu(Lt)))
        Ul0 = g.sub(Lt, hs)                                             # the portrait's upper lid, over Lt
        gap = g.sub(Lc, Ul0)
        a_max = g.op("ReduceMax", gap, axes=[2, 3], keepdims=1)
        x_ = g.sub(gap, g.mul(kap, g.add(g.mul(a_max, LID_ARC), g.mul(gap, 1.0 - LID_ARC))))
        E = g.sub(Lc, g.mul(g.add(x_, g.sqrt(g.add(g.sq(x_), LID_ROUND ** 2))), 0.5))
        E = g.add(E, g.mul(w_meet, g.sub(g.add(Lc, g.div(g.const(LID_OVERLAP_PX), th)), E)))
        Tb = g.sub(Us, LASH_BAND + BLINK_BAND)
        # the skin band [Tb, E - LASH_BAND] <- [Tb, Us - LASH_BAND] with sigma = Tb + B (1 - (1 - tau)^r), r = its
        # stretch: the rows at its top keep their scale (the map is C1 there, so a brow or rim above does not dip)
        # and the stretch grows towards the lash band (the smooth skin just above the lashes unfolds)
        len_t = g.max(g.sub(g.sub(E, LASH_BAND), Tb), 1e-3)
        tau = g.clip01(g.div(g.sub(t, Tb), len_t))
        r_st = g.max(g.mul(len_t, 1.0 / BLINK_BAND), 1.0)
        up_band = g.add(Tb, g.mul(g.sub(1.0, g.op("Pow", g.sub(1.0, tau), r_st)), BLINK_BAND))
        # the lash band [E - LASH_BAND, E] <- [Us - LASH_BAND, Us - LASH_LIFT]; below E its last row repeats
        lash = g.add(g.sub(Us, LASH_BAND), g.mul(g.min(g.sub(t, g.sub(E, LASH_BAND)), LASH_BAND),
                                                 (LASH_BAND - LASH_LIFT) / LASH_BAND))
        up_new = g.op("Where", g.op("Less", t, Tb), t,
                      g.op("Where", g.op("Less", t, g.sub(E, LASH_BAND)), up_band, lash))
        Ls_b = g.add(Ls, g.mul(w_meet, LASH_SKIP))
        below_new = g.sub(T1, g.mul(g.sub(T1, t), g.div(g.sub(T1, Ls_b), g.max(g.sub(T1, Lc), 1e-3))))
        lo_new = g.op("Where", g.op("Greater", t, g.sub(Lc, g.mul(w_meet, MEET_BAND))), below_new, t_eye)
        # blended in by g_bl: exactly version 1's maps where g_bl = 0 (x + 0 * finite = x)
        t_up = g.add(t_up, g.mul(g_bl, g.sub(up_new, t_up)))
        t_lo = g.add(t_lo, g.mul(g_bl, g.sub(lo_new, t_lo)))
        t_below = g.add(t_below, g.mul(g_bl, g.sub(below_new, t_below)))
        Ut = g.add(Ut, g.mul(g_bl, g.sub(E, Ut)))
        soft_px = g.add(SOFT_PX, g.mul(g_bl, g.sub(g.max(g.mul(th, LID_SOFT_H), SOFT_PX), SOFT_PX)))
        alpha = g.mul(g.mul(falloff(g.abs(u), *EYE_WIN_U), falloff(g.op("Neg", t), *EYE_WIN_T)),
                      falloff(t, EYE_WIN_T[0], EYE_WIN_BELOW))
        # correction added to the MLS map: along the source frame's t axis by (t' - t) half-widths
        k_n = g.mul(sh, inv_half_S)                                     # half-width in normalised units
        dtx, dty = g.mul(g.op("Neg", say), k_n), g.mul(sax, k_n)
        cu, cl = g.mul(g.sub(t_up, t), alpha), g.mul(g.sub(t_lo, t), alpha)
        # > 0.5 above the target upper lid; a closing lid's wider step lies below its edge (the lid side there
        # repeats the lash line's row), so the lash line keeps its full darkness
        s_lv = g.add(g.div(g.add(g.mul(g.sub(Ut, t), th), g.mul(g.sub(soft_px, SOFT_PX), 0.5)), soft_px), 0.5)
        X = g.concat([g.mul(cu, dtx), g.mul(cu, dty), g.mul(cl, dtx), g.mul(cl, dty), s_lv, alpha], 1)

        def interp(n_c, n, n_m, n_cm):
            """[2,n_m,n_cm]: per eye, the weights of Resize linear (half_pixel) from n_c to n samples, in ORT's
            own arithmetic (scale = n / n_c in float, x = (i + 0.5) / scale - 0.5 clamped to [0, n_c - 1])"""
            n_cf, n_f, i = col(n_c, [2, 1, 1]), col(n, [2, 1, 1]), arange_f(n_m, [1, -1, 1])
            x = g.sub(g.div(g.add(i, 0.5), g.div(n_f, n_cf)), 0.5)
            x = g.min(g.max(x, 0.0), g.sub(n_cf, 1.0))
            inside = g.op("Cast", g.op("Less", i, n_f), to=TensorProto.FLOAT)   # rows past the eye's window: 0
            return g.mul(g.relu(g.sub(1.0, g.abs(g.sub(x, arange_f(n_cm, [1, 1, -1]))))), inside)

        # the linear resize of the 6 coarse maps to the window: two products with the interpolation matrices
        Wy = g.reshape(interp(hc, h_i, hm, hcm), g.concat([g.i64([2, 1]), hm, hcm], 0))        # [2,1,hm,hcm]
        Wx = g.reshape(g.op("Transpose", interp(wc, w_i, wm, wcm), perm=[0, 2, 1]),
                       g.concat([g.i64([2, 1]), wcm, wm], 0))                                  # [2,1,wcm,wm]
        R = g.op("MatMul", Wy, g.op("MatMul", X, Wx))                            # [2,6,hm,wm]
        # the MLS map in each window, in the block
        fms = []
        for e in E2:
            ye, xe = g.take(y0, [e], 0), g.take(x0, [e], 0)
            d = g.op("Slice", mls4, g.concat([g.i64([0]), ye, xe], 0),
                     g.concat([g.i64([2]), g.take(y1, [e], 0), g.take(x1, [e], 0)], 0), g.i64([1, 2, 3]))
            fms.append(g.op("Pad", d, g.concat([g.i64([0, 0, 0, 0, 0, 0]), g.sub(hm, g.take(h_i, [e], 0)),
                                                g.sub(wm, g.take(w_i, [e], 0))], 0), mode="constant"))
        Fm = g.clip(g.concat(fms, 0), neg_edge, edge)                            # [2,2,hm,wm]
        blk = g.concat([g.i64([2, 2, 2]), hm, wm], 0)
        g_up, g_lo = g.split(g.clip(g.add(g.reshape(g.op("Slice", R, g.i64([0]), g.i64([4]), g.i64([1])), blk),
                                          g.op("Unsqueeze", Fm, g.i64([1]))), neg_edge, edge), 2, 1)
        g_up, g_lo = (g.reshape(v, g.concat([g.i64([2, 2]), hm, wm], 0)) for v in (g_up, g_lo))   # [2,2,hm,wm]
        s, a = g.split(g.op("Slice", R, g.i64([4]), g.i64([6]), g.i64([1])), 2, 1)   # [2,1,hm,wm]
        s = g.clip01(s)                                                 # weight of the lid side
        m = g.reshape(g.op("ReduceMax", g.take(dsp, [LAYER_POINTS[e] for e in E2], 0), axes=[1], keepdims=1),
                      [2, 1, 1, 1])
        m = g.max(m, g.reshape(iris_px, [2, 1, 1, 1]))                  # (unchanged without the eye model)
        gate = g.mul(g.op("Ceil", a), g.op("Ceil", g.clip01(m)))
        # grid A: the side with the larger weight; grid B: the other, weighted (non-zero on the soft lid line only)
        k = g.op("Cast", g.op("GreaterOrEqual", s, g.const(0.5)), to=TensorProto.FLOAT)
        g_a = g.add(g_lo, g.mul(k, g.sub(g_up, g_lo)))
        g_b = g.add(g_up, g.mul(k, g.sub(g_lo, g_up)))
        w_b = g.add(g.mul(k, g.sub(1.0, s)), g.mul(g.sub(1.0, k), s))
        # ---- the eye model (only when the iris inputs are given; otherwise the above, untouched) ----------------
        # (in the `then` branch of an If on the iris inputs: without them none of these nodes runs)
        n_model = len(g.nodes)
        # Three candidates: the lid side (above), the sclera and the iris. The iris is a rigid disk at the target
        # iris centre showing the portrait's iris; the sclera is the eyeball as before but without stretching (a lid
        # raised above the portrait's shows the band under the portrait's lid reflected), taken beside the
        # portrait's iris where it would show the old iris. The sharp edges (iris rim, lower lid) are soft steps at
        # full resolution, like the lid line.
        def local_iris(P, fx, fy, fax, fay, fih):
            Pp = g.mul(g.add(P, 1.0), half_S)
            px_, py_ = (g.reshape(g.take(Pp, [c], 1), [2, 1, 1, 1]) for c in (0, 1))
            dx_, dy_ = g.sub(px_, fx), g.sub(py_, fy)
            return (g.mul(g.add(g.mul(dx_, fax), g.mul(dy_, fay)), fih),
                    g.mul(g.sub(g.mul(dy_, fax), g.mul(dx_, fay)), fih))

        ti_u, ti_t = local_iris(TI_n, cx_, cy_, ax_, ay_, ih)
        si_u, si_t = local_iris(SI_n, scx, scy, sax, say, sih)
        Ls = Ls_v1                                                      # the eye model's own bounds
        lid_s = g.add(Us, LID_REVEAL)
        low_s = g.max(g.sub(Ls, 0.5 * LID_REVEAL), lid_s)

        def keep_in_eye(tt):
            # reflect about the line just under the portrait's upper lid (a revealed band shows the eyeball below
            # it mirrored), then keep inside the portrait's opening
            tt = g.max(tt, g.sub(g.mul(lid_s, 2.0), tt))
            return g.min(g.max(tt, lid_s), low_s)

        # the sclera: a rubber sheet between the eye's corners that moves with the iris (the band of columns of
        # the iris and its margin rigidly, the rest stretched or squeezed towards the corners), the band a raised
        # lid reveals reflected; where it would still show the portrait's iris (the gaze's trailing crescent, the
        # revealed band above the iris) sclera colour is painted instead
        RR = IRIS_R + IRIS_MARGIN
        d_u, d_t = g.sub(ti_u, si_u), g.sub(ti_t, si_t)                 # the iris motion, half-widths
        rho = g.clip01(g.op("Where", g.op("Less", u, g.sub(ti_u, RR)),
                            g.div(g.add(u, 1.0), g.max(g.add(g.sub(ti_u, RR), 1.0), 1e-3)),
                            g.op("Where", g.op("Greater", u, g.add(ti_u, RR)),
                                 g.div(g.sub(1.0, u), g.max(g.sub(1.0, g.add(ti_u, RR)), 1e-3)), g.const(1.0))))
        u_sc = g.sub(u, g.mul(rho, d_u))
        t_sc0 = g.sub(g.add(Ls, g.sub(t, Lt)), g.mul(rho, d_t))     # before the reflection
        t_sc = keep_in_eye(t_sc0)
        # 1 inside the portrait's iris disk (its rim included), 0 one pixel outside it
        hole = g.clip01(g.add(g.mul(g.sub(RR, g.sqrt(g.add(g.sq(g.sub(u_sc, si_u)), g.sq(g.sub(t_sc, si_t))))),
                                    g.mul(sh, 1.0 / HOLE_SOFT_PX)), 1.0))
        # the band a raised lid (or an iris moved down) reveals above the portrait's upper lid: sclera colour too,
        # not the band under the portrait's lid reflected (its lashes' shadow showed as grey smears)
        hole = g.max(hole, g.clip01(g.add(g.mul(g.sub(lid_s, t_sc0), g.mul(sh, 1.0 / HOLE_SOFT_PX)), 0.5)))
        below = g.op("Greater", t, Lt)
        t_sc = g.op("Where", below, t_below, t_sc)
        u_sc = g.op("Where", below, u, u_sc)
        hole = g.op("Where", below, g.const(0.0), hole)
        # sclera colour: the portrait's own, from its opening beside its iris: 18 samples per eye (3 columns on
        # each side between the iris disk and the corner, 3 heights between the portrait's lids there), the mean
        # of the brightest SCLERA_TOP (the eye's white; lids, lashes and corner shadows are darker)
        nS = 2 * len(SCLERA_U)
        si_u3, si_t3 = g.reshape(si_u, [2, 1, 1]), g.reshape(si_t, [2, 1, 1])
        su = []
        for sgn in (-1.0, 1.0):
            a_ = g.add(si_u3, sgn * RR)
            su += [g.add(a_, g.mul(g.sub(sgn * 0.9, a_), f)) for f in SCLERA_U]
        su = g.concat(su, 2)                                            # [2,1,nS] source frame, half-widths
        rs = g.clip01(g.mul(g.sub(su, U0), INV))                        # [2,R,nS]
        cvs = g.add(g.op("MatMul", g.const(Gm[0]), g.mul(rs, DT)), g.take(KT, firsts, 0))   # [2,C,nS]
        _, _, Us_s, Ls_s = g.split(cvs, C, 1)                          # [2,1,nS]
        st = g.concat([g.add(Us_s, g.mul(g.sub(Ls_s, Us_s), f)) for f in SCLERA_T], 1)   # [2,3,nS]
        su = g.op("Expand", su, g.i64([2, len(SCLERA_T), nS]))
        s3 = lambda v: g.reshape(v, [2, 1, 1])
        SX = g.add(s3(scx), g.mul(g.sub(g.mul(su, s3(sax)), g.mul(st, s3(say))), s3(sh)))
        SY = g.add(s3(scy), g.mul(g.add(g.mul(su, s3(say)), g.mul(st, s3(sax))), s3(sh)))
        cast_i = lambda v: g.op("Cast", g.clip(g.op("Floor", v), 0.0, Sm1), to=TensorProto.INT64)
        flat = g.add(g.mul(cast_i(SY), S_i), cast_i(SX))                # [2,3,nS]
        nT = len(SCLERA_T) * nS
        cols = g.reshape(g.op("Gather", g.reshape("source", g.concat([g.i64([3]), g.i64([-1])], 0)),
                              g.reshape(flat, [-1]), axis=1), [3, 2, nT])   # [3,2,nT]
        lum = g.op("ReduceSum", g.mul(cols, g.const(np.array([0.299, 0.587, 0.114], np.float32).reshape(3, 1, 1))),
                   g.i64([0]), keepdims=1)                              # [1,2,nT]
        top_v, top_i = g._name("topk_v"), g._name("topk_i")
        g.nodes.append(helper.make_node("TopK", [lum, g.i64([SCLERA_TOP])], [top_v, top_i],
                                        name=f"n{len(g.nodes)}_TopK", axis=2, largest=1, sorted=1))
        best = g.op("GatherElements", cols, g.op("Expand", top_i, g.i64([3, 2, SCLERA_TOP])), axis=2)   # [3,2,k]
        sclera = g.reshape(g.op("Transpose", g.op("ReduceMean", best, axes=[2], keepdims=0), perm=[1, 0]),
                           [2, 3, 1, 1])                                # [2,3,1,1]
        diu, dit = g.sub(u, ti_u), g.sub(t, ti_t)
        u_ir = g.add(si_u, diu)
        t_ir = keep_in_eye(g.add(si_t, dit))
        dux, duy = g.mul(sax, k_n), g.mul(say, k_n)

        def corr(uu, tt):
            cu_, ct_ = g.mul(g.sub(uu, u), alpha), g.mul(g.sub(tt, t), alpha)
            return [g.add(g.mul(cu_, dux), g.mul(ct_, dtx)), g.add(g.mul(cu_, duy), g.mul(ct_, dty))]

        # > 0.5 inside the iris disk with its margin (the rim and the blur around it move with the iris; the
        # portrait's own disk is covered with sclera up to the same radius)
        c_lv = step_level(g.mul(g.sub(RR, g.sqrt(g.add(g.sq(diu), g.sq(dit)))), th))
        b_lv = step_level(g.mul(g.sub(Lt, t), th))                      # > 0.5 above the target lower lid
        # a raised upper lid (target above the portrait's): its skin band is compressed only up to WIDE_BAND above
        # the axis, not EYE_WIN_T[1] (which bent glasses rims and brows); a lowered one as above
        t_up_w = g.sub(g.mul(g.add(t, WIDE_BAND), g.div(g.add(Us, WIDE_BAND), g.max(g.add(Ut, WIDE_BAND), 1e-3))),
                       WIDE_BAND)
        t_up_w = g.op("Where", g.op("Less", t, g.const(-WIDE_BAND)), t, t_up_w)
        t_up2 = g.op("Where", g.op("Less", Ut, Us), t_up_w, t_up)
        cu2 = g.mul(g.sub(t_up2, t), alpha)
        # painted sclera is a little darker just under the upper lid (its shadow)
        shade = g.sub(1.0, g.mul(g.clip01(g.sub(1.0, g.mul(g.sub(t, Ut), g.mul(th, 1.0 / SCLERA_SHADE[1])))),
                                 SCLERA_SHADE[0]))
        X2 = g.concat(corr(u_sc, t_sc) + corr(u_ir, t_ir) + [g.mul(cu2, dtx), g.mul(cu2, dty)]
                      + [c_lv, b_lv, g.mul(hole, alpha), shade], 1)
        R2 = g.op("MatMul", Wy, g.op("MatMul", X2, Wx))                          # [2,10,hm,wm]
        blk3 = g.concat([g.i64([2, 3, 2]), hm, wm], 0)
        g_sc, g_ir, g_up = g.split(g.clip(g.add(g.reshape(g.op("Slice", R2, g.i64([0]), g.i64([6]), g.i64([1])), blk3),
                                                g.op("Unsqueeze", Fm, g.i64([1]))), neg_edge, edge), 3, 1)
        g_sc, g_ir, g_up = (g.reshape(v, g.concat([g.i64([2, 2]), hm, wm], 0)) for v in (g_sc, g_ir, g_up))
        c_w, b_w, h_w = g.split(g.clip01(g.op("Slice", R2, g.i64([6]), g.i64([9]), g.i64([1]))), 3, 1)
        sh_w = g.op("Slice", R2, g.i64([9]), g.i64([10]), g.i64([1]))
        W_up = s
        W_ir = g.mul(g.sub(1.0, s), g.mul(c_w, b_w))
        W_eye = g.sub(g.sub(1.0, s), W_ir)
        W_paint = g.mul(W_eye, h_w)
        W_sc = g.sub(W_eye, W_paint)
        # the two largest become A and B (the third, non-zero only where the lid line crosses the iris rim, goes
        # to A)
        one_m = lambda x: g.sub(1.0, x)
        ge = lambda x, y: g.op("Cast", g.op("GreaterOrEqual", x, y), to=TensorProto.FLOAT)
        up_ir, up_sc, ir_sc = ge(W_up, W_ir), ge(W_up, W_sc), ge(W_ir, W_sc)
        k_up = g.mul(up_ir, up_sc)
        k_ir = g.mul(one_m(k_up), ir_sc)
        k_sc = g.sub(one_m(k_up), k_ir)
        b_up = g.mul(one_m(k_up), g.add(g.mul(k_ir, up_sc), g.mul(k_sc, up_ir)))
        b_ir = g.mul(one_m(k_ir), g.add(g.mul(k_up, ir_sc), g.mul(k_sc, one_m(up_ir))))
        b_sc = g.mul(one_m(k_sc), g.add(g.mul(k_up, one_m(ir_sc)), g.mul(k_ir, one_m(up_sc))))
        g_a2 = g.add(g.add(g.mul(k_up, g_up), g.mul(k_ir, g_ir)), g.mul(k_sc, g_sc))
        g_b2 = g.add(g.add(g.mul(b_up, g_up), g.mul(b_ir, g_ir)), g.mul(b_sc, g_sc))
        w_b2 = g.add(g.add(g.mul(b_up, W_up), g.mul(b_ir, W_ir)), g.mul(b_sc, W_sc))
        paint2 = g.concat([g.mul(g.mul(sclera, sh_w), W_paint), W_paint], 1)   # [2,4,hm,wm]
        body = g.nodes[n_model:]
        del g.nodes[n_model:]
        for nd in body:
            nd.name = f"eyemodel/{nd.name}"
        vi = lambda nm: helper.make_tensor_value_info(nm, TensorProto.FLOAT, None)
        then_g = helper.make_graph(body, "eye_model", [], [vi(o) for o in (g_a2, g_b2, w_b2, paint2)])
        # without the model: version 1's grids and weight as they are, and no paint
        keep = [g._name("eye_v1") for _ in range(4)]
        else_nodes = [helper.make_node("Identity", [x], [y], name=f"eyemodel_off/id{i}")
                      for i, (x, y) in enumerate(zip((g_a, g_b, w_b), keep))]
        else_nodes.append(helper.make_node("ConstantOfShape", [g.concat([g.i64([2, 4]), hm, wm], 0)], [keep[3]],
                                           name="eyemodel_off/nopaint",
                                           value=numpy_helper.from_array(np.zeros(1, np.float32))))
        else_g = helper.make_graph(else_nodes, "eye_v1", [], [vi(y) for y in keep])
        outs_ = [g._name("eye") for _ in range(4)]
        g.nodes.append(helper.make_node("If", [g.op("Cast", eye_v2, to=TensorProto.BOOL)], outs_,
                                        name=f"n{len(g.nodes)}_If_eyemodel", then_branch=then_g, else_branch=else_g))
        g_a, g_b, w_b, paint = outs_
        chg = g.mul(g.clip01(g.mul(a, 4.0)), g.clip01(g.mul(m, 1.0 / CHANGED_PX)))
        # as in to_union: the grids as changes of the MLS map, gated, then the gated weight of B and changed
        da, db = (g.mul(gate, g.sub(v, Fm)) for v in (g_a, g_b))
        t4 = g.concat([da, db, g.mul(gate, w_b), chg, g.mul(gate, paint)], 1)   # [2,10,hm,wm]: + painted sclera
        outs = []
        for e in E2:
            # one Pad: eye e's block into the union box; negative pads drop the other eye (and any of the block,
            # all 0 past the eye's window, that reaches past the box)
            ye, xe = g.take(y0, [e], 0), g.take(x0, [e], 0)
            pads = g.concat([g.i64([-e, 0]), g.sub(ye, ly0), g.sub(xe, lx0), g.i64([e - 1, 0]),
                             g.sub(g.sub(ly1, ye), hm), g.sub(g.sub(lx1, xe), wm)], 0)
            outs.append(g.op("Pad", t4, pads, mode="constant"))
        return outs

    # ---- mouth -----------------------------------------------------------------------------------------------------
    def mouth_layer():
        layer = 2
        win = Win(layer)
        u, t = win.local(layer)
        OUt, IUt, ILt, OLt, OUs, IUs, ILs, OLs = win.curves(layer, u)

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
        scx, scy, sax, say, sh, _ = frame_scalars(3 + layer)
        _, _, _, _, th, _ = frame_scalars(layer)

        def src_norm(tt):
            """source-frame (u, tt) -> normalised crop coordinates"""
            X = g.add(scx, g.mul(g.sub(g.mul(u, sax), g.mul(tt, say)), sh))
            Y = g.add(scy, g.mul(g.add(g.mul(u, say), g.mul(tt, sax)), sh))
            return g.sub(g.mul(X, inv_half_S), 1.0), g.sub(g.mul(Y, inv_half_S), 1.0)

        xu, yu = src_norm(t_up)
        xl, yl = src_norm(t_lo)
        def opening(side):
            a = g.take(LM, [side * 68 + i for i in (61, 62, 63)], 0)
            b = g.take(LM, [side * 68 + i for i in (67, 66, 65)], 0)
            return g.op("ReduceMean", g.sqrt(g.op("ReduceSum", g.sq(g.sub(a, b)), g.i64([1]), keepdims=0)), keepdims=0)

        # ---- the portrait's palette and its teeth split ---------------------------------------------------------
        SRCP = g.op("Slice", LM, g.i64([68]), g.i64([136]))             # the portrait's landmarks, pixels [68,2]
        src_flat = g.reshape("source", g.concat([g.i64([3]), g.i64([-1])], 0))

        def lerp_pts(pairs, fs):
            """points a + f (b - a) for every pair and f, [len(fs) * len(pairs), 2], f-major"""
            A = np.zeros((len(fs) * len(pairs), 68), np.float32)
            for i, f in enumerate(fs):
                for j, (a_, b_) in enumerate(pairs):
                    A[i * len(pairs) + j, a_] += 1 - f
                    A[i * len(pairs) + j, b_] += f
            return g.op("MatMul", g.const(A), SRCP)

        def colours(P):
            """the portrait's pixels (nearest) at points P [n,2] -> [3,n]"""
            Pi = g.op("Cast", g.clip(g.op("Floor", P), 0.0, Sm1), to=TensorProto.INT64)
            flat = g.add(g.mul(g.take(Pi, [1], 1), S_i), g.take(Pi, [0], 1))
            return g.op("Gather", src_flat, g.reshape(flat, [-1]), axis=1)

        def mean_colour(P):
            return g.op("ReduceMean", colours(P), axes=[1], keepdims=0)    # [3]

        lum_w = g.const(np.array([0.299, 0.587, 0.114], np.float32))
        lum = lambda c: g.op("ReduceSum", g.mul(c, lum_w), keepdims=0)
        lips_c = mean_colour(lerp_pts([(50, 61), (51, 62), (52, 63), (58, 67), (57, 66), (56, 65)], [0.5]))
        skin_c = mean_colour(lerp_pts([(57, 8), (48, 4), (54, 12), (33, 51)], [0.4]))
        # what the portrait's own opening shows (its teeth, if any): used only when it is open and brighter than
        # the lips
        teeth_s = mean_colour(lerp_pts([(61, 67), (62, 66), (63, 65)], [0.2, 0.35]))
        open_s = opening(1)
        teeth_w = g.mul(g.clip01(g.mul(g.sub(open_s, 3.0), 0.25)),
                        g.clip01(g.mul(g.sub(lum(teeth_s), g.add(lum(lips_c), 0.08)), 10.0)))
        teeth_default = g.add(g.mul(skin_c, 0.35), g.mul(g.const(np.array(TEETH, np.float32)), 0.65))
        teeth_c = g.add(teeth_default, g.mul(teeth_w, g.sub(teeth_s, teeth_default)))
        flesh = g.clip01(g.mul(lips_c, g.const(np.array(CAVITY_TINT, np.float32))))   # the inside of the lips
        edge_p = g.mul(flesh, CAVITY_EDGE_K)
        deep_p = g.add(g.mul(flesh, CAVITY_DEEP_K), 0.01)
        tongue_p = g.add(g.mul(lips_c, 0.8), g.mul(skin_c, 0.1))
        ch = lambda c, i: g.reshape(g.take(c, [i], 0), [1, 1])
        # the teeth split: the darkest row of the portrait's opening between 30 % and 85 % of the way from the
        # upper to the lower inner lip (the gap between the teeth rows, or the dark under the upper teeth)
        SPLIT_FS = [0.3 + 0.05 * i for i in range(12)]
        rows_lum = g.reshape(g.op("MatMul", g.reshape(lum_w, [1, 3]),
                                  colours(lerp_pts([(61, 67), (62, 66), (63, 65)], SPLIT_FS))), [len(SPLIT_FS), 3])
        dark = g.op("ArgMin", g.op("ReduceMean", rows_lum, axes=[1], keepdims=0), axis=0, keepdims=1)
        split_f = g.reshape(g.op("Gather", g.const(np.array(SPLIT_FS, np.float32) + 0.025), dark, axis=0), [1, 1])
        # a portrait without a visible opening keeps the old split (nothing is there to split), and so does a frame
        # that opens the mouth less than 0.5 px wider than the portrait's (a smile, a roll: the same as version 1)
        gain = g.mul(g.clip01(g.mul(g.sub(open_s, 3.0), 0.25)), g.clip01(g.sub(g.sub(opening(0), open_s), 0.5)))
        split_f = g.add(MOUTH_SPLIT, g.mul(gain, g.sub(split_f, MOUTH_SPLIT)))
        split_s = g.add(IUs, g.mul(g.sub(ILs, IUs), split_f))
        split_t = g.add(IUt, g.mul(g.sub(ILt, IUt), split_f))
        levels = [step_level(g.mul(g.sub(IUt, t), th)),                # sU: above the target inner upper lip
                  step_level(g.mul(g.sub(t, ILt), th)),                # sL: below the target inner lower lip
                  step_level(g.mul(g.sub(split_t, t), th)),            # pu: in the upper part of the opening
                  step_level(g.mul(g.sub(split_s, t_up), sh)),         # va: upper candidate shows upper-mouth content
                  step_level(g.mul(g.sub(t_lo, split_s), sh))]         # vl: lower candidate shows lower-mouth content

        # the cavity appears only where the target is more open than the portrait, and fades in over OPEN_PX
        w_open = g.clip01(g.div(g.sub(opening(0), opening(1)), OPEN_PX))
        gap = g.sub(ILt, IUt)                                          # half-widths
        gap_px = g.mul(gap, th)
        cgate = g.mul(g.mul(g.clip01(g.sub(gap_px, 0.5)), w_open), alpha)
        # cavity colour: red-brown at the lips, near black in the middle; a dim tongue rising from the lower lip;
        # faint upper teeth under the upper lip (seen only where the portrait's own teeth do not cover the spot)
        below_up = g.sub(t, IUt)
        depth = g.clip01(g.div(g.min(below_up, g.sub(ILt, t)), g.add(g.mul(gap, 0.5), 1e-3)))
        depth = g.mul(depth, g.clip01(g.sub(1.2, g.sq(u))))
        depth = g.mul(g.sq(depth), g.sub(3.0, g.mul(depth, 2.0)))      # smoothstep
        # lit from the upper lip's side: brighter under the upper lip, darker towards the lower lip and the back
        light = g.add(CAVITY_LIGHT[0], g.mul(g.clip01(g.div(g.sub(ILt, t), g.add(gap, 1e-3))), CAVITY_LIGHT[1]))
        cav = [g.mul(g.add(ch(edge_p, i), g.mul(depth, g.sub(ch(deep_p, i), ch(edge_p, i)))), light) for i in range(3)]
        # the corners of the opening show the lips' inner flesh, not a dark point
        corner = g.clip01(g.div(g.sub(g.abs(u), CORNER_FLESH[0]), CORNER_FLESH[1] - CORNER_FLESH[0]))
        cav = [g.add(c, g.mul(corner, g.sub(g.mul(ch(lips_c, i), 0.75), c))) for i, c in enumerate(cav)]
        above_lo = g.div(g.sub(ILt, t), g.add(gap, 1e-3))              # 0 at the lower lip, 1 at the upper
        tongue_a = g.mul(g.mul(falloff(above_lo, 0.5 * TONGUE_HEIGHT, TONGUE_HEIGHT), TONGUE_ALPHA),
                         g.clip01(g.sub(1.0, g.sq(g.mul(u, 1.6)))))
        shade_t = g.add(0.55, g.mul(g.clip01(g.sub(1.0, g.div(above_lo, TONGUE_HEIGHT))), 0.45))
        # the tongue: a dome on the lower lip, its top edge soft, lit from above, a faint groove down its middle
        uw = g.div(u, TONGUE_DOME_W)
        dome_h = g.mul(g.sqrt(g.clip01(g.sub(1.0, g.sq(uw)))), TONGUE_DOME_H)
        dome_a = g.mul(g.clip01(g.div(g.sub(dome_h, above_lo), TONGUE_DOME_SOFT)), TONGUE_DOME_ALPHA)
        # it rests behind the lower lip: a line of shadow between them, so the lip's inner edge stays where it is
        dome_a = g.mul(dome_a, g.clip01(g.div(g.sub(above_lo, TONGUE_FOOT[0]), TONGUE_FOOT[1] - TONGUE_FOOT[0])))
        # a slightly parted mouth hides the tongue behind the lower teeth; it shows as the mouth opens
        dome_a = g.mul(dome_a, g.clip01(g.div(g.sub(gap, TONGUE_SHOWS[0]), TONGUE_SHOWS[1] - TONGUE_SHOWS[0])))
        dome_l = g.add(TONGUE_LIGHT[0], g.mul(g.clip01(g.div(above_lo, g.add(dome_h, 1e-3))), TONGUE_LIGHT[1]))
        dome_l = g.mul(dome_l, g.sub(1.0, g.mul(g.clip01(g.sub(1.0, g.mul(g.abs(u), 12.0))), 0.15)))
        tongue_c = g.clip01(g.mul(flesh, g.const(np.array(TONGUE_TINT, np.float32))))
        cav = [g.add(c, g.mul(dome_a, g.sub(g.mul(dome_l, ch(tongue_c, i)), c))) for i, c in enumerate(cav)]
        tth = g.min(g.const(TEETH_HEIGHT), g.mul(gap, 0.4))            # teeth height, half-widths
        teeth_a = g.mul(falloff(g.div(below_up, g.add(tth, 1e-3)), 0.8, 1.0),
                        g.mul(g.clip01(g.sub(1.0, g.sq(g.mul(u, 1.25)))), TEETH_ALPHA))
        shade = g.sub(1.0, g.mul(g.clip01(g.div(below_up, g.add(tth, 1e-3))), 0.4))
        gaps = g.op("Cos", g.mul(g.add(u, TOOTH_WIDTH / 2), float(2 * np.pi / TOOTH_WIDTH)))     # 1 at the gaps
        gaps = g.sq(g.sq(g.add(g.mul(gaps, 0.5), 0.5)))
        shade = g.mul(shade, g.sub(1.0, g.mul(gaps, 0.25)))
        cav = [g.add(c, g.mul(teeth_a, g.sub(g.mul(shade, ch(teeth_c, i)), c))) for i, c in enumerate(cav)]
        # version 1's fixed colours, kept for frames that open the mouth less than 0.5 px wider than the portrait's
        # (there the cavity is all but invisible, and such frames of a version-1 project stay bit for bit)
        e1, d1 = np.array(CAVITY_EDGE_V1, np.float32), np.array(CAVITY_DEEP_V1, np.float32)
        cav1 = [g.add(float(e1[i]), g.mul(depth, float(d1[i] - e1[i]))) for i in range(3)]
        cav1 = [g.add(c, g.mul(tongue_a, g.sub(g.mul(shade_t, TONGUE_V1[i]), c))) for i, c in enumerate(cav1)]
        cav1 = [g.add(c, g.mul(teeth_a, g.sub(g.mul(shade, TEETH_V1[i]), c))) for i, c in enumerate(cav1)]
        cav_gain = g.clip01(g.sub(g.sub(opening(0), open_s), 0.5))
        cav = [g.add(c1, g.mul(cav_gain, g.sub(c, c1))) for c1, c in zip(cav1, cav)]
        # the maps behind the weights and their comparisons are resized by Resize itself (ties between weights
        # must come out exactly as they did); the coordinates and the cavity colour by two small products
        R = win.upsample([alpha] + levels + [cgate])                    # [1,7,h,w]
        Rm = win.upsample_mm([xu, yu, xl, yl] + cav)                    # [7,h,w]
        # coordinates: lerp(MLS, layer map, alpha), in planar layout, then to a grid
        Fm_pl = g.op("Unsqueeze", g.op("Transpose", win.Fm, perm=[0, 3, 1, 2]), g.i64([1]))   # [1,1,2,h,w]
        F_ab = g.reshape(g.op("Slice", Rm, g.i64([0]), g.i64([4]), g.i64([0])),
                         g.concat([g.i64([1, 2, 2]), win.h_i, win.w_i], 0))
        a5 = g.op("Unsqueeze", g.op("Slice", R, g.i64([0]), g.i64([1]), g.i64([1])), g.i64([1]))   # [1,1,1,h,w]
        F5 = g.add(Fm_pl, g.mul(a5, g.sub(F_ab, Fm_pl)))
        F5 = g.op("Transpose", F5, perm=[0, 1, 3, 4, 2])
        g_up, g_lo = win.grid_pair(F5)
        a = win.channels(R, 0, 1)
        sU, sL, pu, va, vl = g.split(g.clip01(win.channels(R, 1, 6)), 5, 0)   # [1,1,P] each
        cav_c = g.reshape(g.op("Slice", Rm, g.i64([4]), g.i64([7]), g.i64([0])), [3, 1, -1])   # [3,1,P]
        cg = win.channels(R, 6, 7)
        one_m = lambda x: g.sub(1.0, x)
        w_up = g.mul(va, g.add(pu, g.mul(one_m(pu), one_m(vl))))
        w_lo = g.mul(vl, g.add(one_m(pu), g.mul(pu, one_m(va))))
        w_none = g.mul(one_m(va), one_m(vl))
        w_cav = g.mul(w_none, cg)
        inside = g.relu(g.sub(one_m(sU), sL))
        # weights of the three source samples (upper map, lower map, MLS) and of the cavity colour
        inv_n = g.div(1.0, g.max(g.add(sU, sL), 1.0))
        W_up = g.mul(g.add(sU, g.mul(inside, w_up)), inv_n)
        W_lo = g.mul(g.add(sL, g.mul(inside, w_lo)), inv_n)
        W_m = g.mul(g.mul(inside, g.sub(w_none, w_cav)), inv_n)
        W_c = g.mul(g.mul(inside, w_cav), inv_n)
        m, mv = moved(LAYER_POINTS[2])
        gate = g.mul(g.op("Ceil", a), mv)
        # the two source samples with the largest weights become grids A and B (a third weight, which only the
        # corners of overlapping soft edges have, goes to A); the cavity colour is the overlay
        ge = lambda x, y: g.op("Cast", g.op("GreaterOrEqual", x, y), to=TensorProto.FLOAT)
        up_lo, up_m, lo_m = ge(W_up, W_lo), ge(W_up, W_m), ge(W_lo, W_m)
        k_up = g.mul(up_lo, up_m)
        k_lo = g.mul(one_m(k_up), lo_m)
        k_m = g.sub(one_m(k_up), k_lo)
        b_up = g.mul(one_m(k_up), g.add(g.mul(k_lo, up_m), g.mul(k_m, up_lo)))
        b_lo = g.mul(one_m(k_lo), g.add(g.mul(k_up, lo_m), g.mul(k_m, one_m(up_lo))))
        b_m = g.mul(one_m(k_m), g.add(g.mul(k_up, one_m(lo_m)), g.mul(k_lo, one_m(up_m))))
        g_a = g.add(g.add(g.mul(k_up, g_up), g.mul(k_lo, g_lo)), g.mul(k_m, win.Fm_planar))
        g_b = g.add(g.add(g.mul(b_up, g_up), g.mul(b_lo, g_lo)), g.mul(b_m, win.Fm_planar))
        w_b = g.add(g.add(g.mul(b_up, W_up), g.mul(b_lo, W_lo)), g.mul(b_m, W_m))
        chg = g.max(g.mul(g.clip01(g.mul(a, 4.0)), g.clip01(g.mul(m, 1.0 / CHANGED_PX))), g.mul(w_cav, inside))
        return win.to_union(g_a, g_b, w_b, chg, g.concat([g.mul(W_c, cav_c), W_c], 0), gate)

    # A layer whose landmarks did not move contributes exactly 0 (its gate is 0): its nodes are put in the branch
    # of an If taken only when it moved, the other branch gives zeros of the union box (in an identity frame or a
    # blink the mouth's ~450 small operators are skipped; the outputs are the same).
    def if_moved(cond, fn, tag, chans):
        n0 = len(g.nodes)
        outs = fn()
        body = g.nodes[n0:]
        del g.nodes[n0:]
        for nd in body:
            nd.name = f"{tag}/{nd.name}"
        vi = lambda nm: helper.make_tensor_value_info(nm, TensorProto.FLOAT, None)
        then_g = helper.make_graph(body, f"{tag}_moved", [], [vi(o) for o in outs])
        zeros = [g._name(f"{tag}_zero") for _ in outs]
        shapes = [g.concat([g.i64([1, C]), g.sub(ly1, ly0), g.sub(lx1, lx0)], 0) for C in chans]
        else_g = helper.make_graph([helper.make_node("ConstantOfShape", [sh], [z], name=f"{tag}/zero{i}",
                                                     value=numpy_helper.from_array(np.zeros(1, np.float32)))
                                    for i, (z, sh) in enumerate(zip(zeros, shapes))], f"{tag}_still", [],
                                   [vi(z) for z in zeros])
        res = [g._name(f"{tag}_out") for _ in outs]
        g.nodes.append(helper.make_node("If", [cond], res, name=f"n{len(g.nodes)}_If_{tag}", then_branch=then_g,
                                        else_branch=else_g))
        return res

    moved_f = g.op("Cast", moved_any, to=TensorProto.BOOL)                 # [3]
    eyes_moved = g.op("Cast", g.op("ReduceMax", g.take(moved_any, [0, 1], 0), keepdims=1), to=TensorProto.BOOL)
    mouth6, cav4 = if_moved(g.take(moved_f, [2], 0), mouth_layer, "mouth", (6, 4))
    eye0, eye1 = if_moved(eyes_moved, eye_layers, "eyes", (10, 10))
    first6 = lambda x: g.op("Slice", x, g.i64([0]), g.i64([6]), g.i64([1]))
    last4 = lambda x: g.op("Slice", x, g.i64([6]), g.i64([10]), g.i64([1]))
    L = g.op("Sum", first6(eye0), first6(eye1), mouth6)                 # [1,6,lh,lw]
    # L channels: 0-1 change of grid A, 2-3 change of grid B (both from the MLS map), 4 weight of B, 5 changed;
    # cav4: premultiplied painted colour (the mouth's cavity, the eyes' sclera), its coverage
    cav4 = g.op("Sum", cav4, last4(eye0), last4(eye1))
    pads = g.concat([g.i64([0, 0]), ly0, lx0, g.i64([0, 0]), g.sub(S_i, ly1), g.sub(S_i, lx1)], 0)

    def part(x, a, b):
        """channels a..b-1 of L, padded from the layers' union box to the full width of its rows (one Pad:
        negative pads drop the other channels) -> [1,b-a,lh,S]"""
        return g.op("Pad", x, g.concat([g.i64([0, -a, 0]), lx0, g.i64([0, b - 6, 0]), g.sub(S_i, lx1)], 0),
                    mode="constant")

    def rows(x):
        """the rows of the layers' union box, [1,C,lh,S]"""
        return g.op("Slice", x, ly0, ly1, g.i64([2]))

    # The layers change only the rows of their union box: ScatterND of whole rows adds them to (grid) or writes them
    # over (changed) the MLS maps; cheaper than adding a full-size padded copy (one full-size pass, a copy, instead
    # of three).
    ys = g.op("Range", g.reshape(ly0, []), g.reshape(ly1, []), g.i64(1))
    row_idx = g.add(g.i64(np.array([[0, c, 0] for c in range(4)]).reshape(1, 4, 1, 3)),
                    g.op("Mul", g.reshape(ys, [1, 1, -1, 1]), g.i64([0, 0, 1])))    # [1,4,lh,3]: (0, c, y)
    g.op("ScatterND", mls4, row_idx, part(L, 0, 4), reduction="add", name="grid")
    # layers whose windows overlap (only for degenerate landmarks) add up: scale their weights back to at most 1
    w_b = g.op("Slice", L, g.i64([4]), g.i64([5]), g.i64([1]))
    total = g.add(g.op("Slice", cav4, g.i64([3]), g.i64([4]), g.i64([1])), w_b)
    ov = g.mul(g.concat([cav4, w_b], 1), g.op("Reciprocal", g.max(total, 1.0)))
    g.op("Pad", ov, pads, mode="constant", name="overlay")
    # chg_full is in [0,1] already (a convex 2-tap blend of values in [0,1]); the layers' sum is clipped in the box
    g.op("ScatterND", chg_full, g.op("Slice", row_idx, g.i64([0]), g.i64([1]), g.i64([1])),
         g.max(rows(chg_full), g.clip01(part(L, 5, 6))), name="changed")

    graph = helper.make_graph(g.nodes, "living_portrait_warp", inputs, outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="living-portrait/build_warp.py", producer_version="1")
    model.ir_version = IR_VERSION
    model.doc_string = ("Living Portrait built-in warp generator: rigid moving-least-squares landmark warp with "
                        "crop-border anchors, plus eyelid and mouth layers. Apache-2.0.")
    onnx.checker.check_model(model, full_check=True)
    return model


def manifest(data: bytes, file_name: str) -> dict:
    return {
        "format": "living-portrait-pack",
        "version": 2,
        "kind": "warp",
        "name": "Built-in landmark warp",
        "license": "Apache-2.0",
        "generator": {
            "file": file_name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "opset": OPSET,
            "inputs": {"source": [1, 3, "S", "S"], "source_landmarks": [1, 68, 2], "target_landmarks": [1, 68, 2],
                       "source_points": [1, "P", 2], "target_points": [1, "P", 2],
                       "source_iris": [1, 2, 2], "target_iris": [1, 2, 2]},
            "outputs": {"grid": [1, 4, "S", "S"], "overlay": [1, 5, "S", "S"], "changed": [1, 1, "S", "S"]},
        },
        "dims": {"S": {"values": [256, 512, 1024]}},
        "resolutions": [256, 512, 1024],
        "landmarks": "ibug68",
        "coordinates": "normalised-crop-align-corners-false",
        "value_range": [0.0, 1.0],
        "recommended_crop": {"side_iod": 3.6, "centre_below_eyes_iod": 0.35, "eyes_level": True},
    }


def dump_json(obj) -> str:
    """indented JSON with short lists of numbers/strings on one line"""
    import re

    text = json.dumps(obj, indent=2)
    return re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "warp_generator.onnx"))
    args = ap.parse_args()
    data = build().SerializeToString(deterministic=True)
    out = Path(args.out)
    out.write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    (out.parent / "manifest.json").write_text(dump_json(manifest(data, out.name)))
    print(f"wrote {out.parent / 'manifest.json'}")
    # No SHA256SUMS: a pack's digests live in its manifest only, which is what the plugin verifies.


if __name__ == "__main__":
    main()
