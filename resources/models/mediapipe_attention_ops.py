"""Standard-ONNX replacements for the three MediaPipe custom operators of ``face_landmark_with_attention.tflite``.

tf2onnx converts the model's ordinary layers and leaves each custom operator as a node of type ``TFL_<name>`` (no
runtime knows them). This module swaps every such node for a small subgraph of standard ONNX operators (opset 16)
computing the same function. The operators' options come from the ``.tflite`` file (their flexbuffer custom
options, decoded by ``convert.tflite_custom_ops``); the semantics are those of MediaPipe's reference CPU kernels
(``mediapipe/util/tflite/operations/``, version 2 of each operator, the version the model asks for):

``Landmarks2TransformMatrix`` (v2), input ``L`` [1, 468, 3] (mesh points in the scale of a feature map), options
``left_rotation_idx``, ``right_rotation_idx``, ``target_rotation_radians``, ``subset_idxs``, ``scale_x``,
``scale_y``, ``output_width``, ``output_height``; output a 4×4 matrix [1, 4, 4] mapping an output pixel
``(u, v, 0, 1)`` of a region crop to feature-map coordinates:

    θ = atan2(L[right].y − L[left].y, L[right].x − L[left].x),  r = target_rotation_radians − θ
    R(a) = [[cos a, −sin a], [sin a, cos a]]
    the subset points rotated by R(r): their bounding box gives width w, height h and centre m (rotated frame);
    centre c = R(−r) · m
    M = Shift(c) · R(−r) · Scale(scale_x · w / output_width, scale_y · h / output_height)
        · Shift(−output_width / 2, −output_height / 2)            (z row and column: identity)

  Only cos r and sin r are needed; they come from the normalised eye/mouth-corner direction (no atan2 in ONNX):
  cos r = cos t · cos θ + sin t · sin θ, sin r = sin t · cos θ − cos t · sin θ.

``TransformTensorBilinear`` (v2), inputs ``X`` [1, H, W, C] (NHWC) and ``M`` [1, 4, 4], options ``output_height``,
``output_width``; output [1, oh, ow, C]: output pixel (u, v) reads X bilinearly at
``(x, y) = M[0:2] · (u + 0.5, v + 0.5, 0, 1) − 0.5`` (the v2 "align corners" correction), integer coordinates at
pixel centres, and is 0 when (x, y) lies outside ``[0, W − 1] × [0, H − 1]``. Here: a ``GridSample``
(bilinear, zeros, align_corners = 1, on NCHW) times an inside mask.

``TransformLandmarks`` (v2), inputs ``P`` [1, N, 2] and ``M`` [1, 4, 4], no options; output
``M[0:2] · (x, y, 0, 1)`` per point: a ``MatMul`` with ``(x, y, 0, 1)`` rows.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

L2TM = "Landmarks2TransformMatrix"
TTB = "TransformTensorBilinear"
TL = "TransformLandmarks"
OPSET = 16  # GridSample


class _Builder:
    """Collects the nodes and constants of one replacement; every name is prefixed by the replaced tensor's."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def _name(self, hint: str) -> str:
        self.count += 1
        return f"{self.prefix}/{hint}_{self.count}"

    def const(self, value, hint: str = "c", dtype=np.float32) -> str:
        name = self._name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, out: str | None = None, **attrs) -> str:
        out = out or self._name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def slice(self, x: str, start: int, end: int, axis: int, hint: str = "slice") -> str:
        return self.op("Slice", [x, self.const([start], "s", np.int64), self.const([end], "e", np.int64),
                                 self.const([axis], "a", np.int64)], hint)


def landmarks_to_transform_matrix(b: _Builder, landmarks: str, out: str, opts: dict) -> None:
    t = float(opts["target_rotation_radians"])
    subset = sorted(set(int(i) for i in opts["subset_idxs"]))  # min/max over the points: order and pairs irrelevant
    ow, oh = float(opts["output_width"]), float(opts["output_height"])
    sx_k, sy_k = float(opts["scale_x"]) / ow, float(opts["scale_y"]) / oh

    lr = b.op("Gather", [landmarks, b.const([opts["left_rotation_idx"], opts["right_rotation_idx"]], "lr", np.int64)],
              "lr_points", axis=1)  # [1, 2, 3]
    left, right = b.slice(lr, 0, 1, 1, "left"), b.slice(lr, 1, 2, 1, "right")
    d = b.op("Sub", [right, left], "d")  # [1, 1, 3]
    dx, dy = b.slice(d, 0, 1, 2, "dx"), b.slice(d, 1, 2, 2, "dy")  # [1, 1, 1]
    n = b.op("Sqrt", [b.op("Add", [b.op("Mul", [dx, dx]), b.op("Mul", [dy, dy])])], "norm")
    cos_t, sin_t = b.op("Div", [dx, n], "cos_theta"), b.op("Div", [dy, n], "sin_theta")
    ct, st = b.const(np.float32(np.cos(t)), "cos_target"), b.const(np.float32(np.sin(t)), "sin_target")
    c = b.op("Add", [b.op("Mul", [ct, cos_t]), b.op("Mul", [st, sin_t])], "cos_r")
    s = b.op("Sub", [b.op("Mul", [st, cos_t]), b.op("Mul", [ct, sin_t])], "sin_r")

    pts = b.op("Gather", [landmarks, b.const(subset, "subset", np.int64)], "subset_points", axis=1)  # [1, K, 3]
    px, py = b.slice(pts, 0, 1, 2, "px"), b.slice(pts, 1, 2, 2, "py")  # [1, K, 1]
    rx = b.op("Sub", [b.op("Mul", [c, px]), b.op("Mul", [s, py])], "rot_x")
    ry = b.op("Add", [b.op("Mul", [s, px]), b.op("Mul", [c, py])], "rot_y")
    xmax, xmin = b.op("ReduceMax", [rx], axes=[1], keepdims=1), b.op("ReduceMin", [rx], axes=[1], keepdims=1)
    ymax, ymin = b.op("ReduceMax", [ry], axes=[1], keepdims=1), b.op("ReduceMin", [ry], axes=[1], keepdims=1)
    half = b.const(np.float32(0.5), "half")
    mx = b.op("Mul", [b.op("Add", [xmin, xmax]), half], "mid_x")
    my = b.op("Mul", [b.op("Add", [ymin, ymax]), half], "mid_y")
    cx = b.op("Add", [b.op("Mul", [c, mx]), b.op("Mul", [s, my])], "centre_x")  # R(-r) · m
    cy = b.op("Sub", [b.op("Mul", [c, my]), b.op("Mul", [s, mx])], "centre_y")
    sx = b.op("Mul", [b.op("Sub", [xmax, xmin]), b.const(np.float32(sx_k), "kx")], "scale_x")
    sy = b.op("Mul", [b.op("Sub", [ymax, ymin]), b.const(np.float32(sy_k), "ky")], "scale_y")
    # A = R(-r) · diag(sx, sy) = [[c sx, s sy], [-s sx, c sy]]; translation = A · (-ow/2, -oh/2) + centre
    a00, a01 = b.op("Mul", [c, sx], "a00"), b.op("Mul", [s, sy], "a01")
    a11 = b.op("Mul", [c, sy], "a11")
    a10 = b.op("Neg", [b.op("Mul", [s, sx])], "a10")
    hw, hh = b.const(np.float32(-ow / 2.0), "half_w"), b.const(np.float32(-oh / 2.0), "half_h")
    t0 = b.op("Add", [b.op("Add", [b.op("Mul", [a00, hw]), b.op("Mul", [a01, hh])]), cx], "t0")
    t1 = b.op("Add", [b.op("Add", [b.op("Mul", [a10, hw]), b.op("Mul", [a11, hh])]), cy], "t1")
    zero, one = b.const(np.zeros((1, 1, 1), np.float32), "zero"), b.const(np.ones((1, 1, 1), np.float32), "one")
    flat = b.op("Concat", [a00, a01, zero, t0, a10, a11, zero, t1, zero, zero, one, zero, zero, zero, zero, one],
                "flat", axis=2)  # [1, 1, 16]
    b.op("Reshape", [flat, b.const([1, 4, 4], "shape", np.int64)], out=out)


def transform_tensor_bilinear(b: _Builder, x_nhwc: str, matrix: str, out: str, opts: dict,
                              in_shape: list[int], x_nchw: str | None) -> None:
    _, h, w, _ = in_shape
    oh, ow = int(opts["output_height"]), int(opts["output_width"])
    v, u = np.meshgrid(np.arange(oh, dtype=np.float32), np.arange(ow, dtype=np.float32), indexing="ij")
    rows = np.stack([u.ravel() + 0.5, v.ravel() + 0.5, np.zeros(oh * ow), np.ones(oh * ow)], 1)  # [oh*ow, 4]
    m2 = b.op("Reshape", [b.slice(matrix, 0, 2, 1, "rows01"), b.const([2, 4], "shape24", np.int64)], "m2")
    tc = b.op("Sub", [b.op("MatMul", [b.const(rows.astype(np.float32), "grid_rows"),
                                       b.op("Transpose", [m2], "m2t", perm=[1, 0])]),
                      b.const(np.float32(0.5), "half")], "coords")  # [oh*ow, 2]: x, y in input pixels
    lim = b.const(np.array([w - 1, h - 1], np.float32), "limits")
    inside = b.op("And", [b.op("GreaterOrEqual", [tc, b.const(np.zeros(2, np.float32), "zero2")]),
                          b.op("LessOrEqual", [tc, lim])], "inside_xy")
    mask = b.op("Cast", [b.op("ReduceMin", [b.op("Cast", [inside], to=onnx.TensorProto.INT32)], axes=[1],
                              keepdims=0)], "mask_flat", to=onnx.TensorProto.FLOAT)
    mask = b.op("Reshape", [mask, b.const([1, 1, oh, ow], "mask_shape", np.int64)], "mask")
    grid = b.op("Sub", [b.op("Mul", [tc, b.const(np.array([2.0 / (w - 1), 2.0 / (h - 1)], np.float32), "norm")]),
                        b.const(np.float32(1.0), "one")], "grid_flat")
    grid = b.op("Reshape", [grid, b.const([1, oh, ow, 2], "grid_shape", np.int64)], "grid")
    if x_nchw is None:
        x_nchw = b.op("Transpose", [x_nhwc], "x_nchw", perm=[0, 3, 1, 2])
    y = b.op("GridSample", [x_nchw, grid], "sampled", mode="bilinear", padding_mode="zeros", align_corners=1)
    y = b.op("Mul", [y, mask], "masked")
    b.op("Transpose", [y], out=out, perm=[0, 2, 3, 1])


def transform_landmarks(b: _Builder, points: str, matrix: str, out: str, n_points: int) -> None:
    m2 = b.op("Reshape", [b.slice(matrix, 0, 2, 1, "rows01"), b.const([2, 4], "shape24", np.int64)], "m2")
    zo = np.zeros((1, n_points, 2), np.float32)
    zo[..., 1] = 1.0
    p4 = b.op("Concat", [points, b.const(zo, "zero_one")], "p4", axis=2)  # [1, N, 4] = (x, y, 0, 1)
    b.op("MatMul", [p4, b.op("Transpose", [m2], "m2t", perm=[1, 0])], out=out)


def replace_attention_ops(model: onnx.ModelProto, custom_ops: dict[str, dict]) -> dict[str, int]:
    """Replace every TFL_Landmarks2TransformMatrix / TFL_TransformTensorBilinear / TFL_TransformLandmarks node."""
    g = model.graph
    producers = {o: n for n in g.node for o in n.output}
    counts = {L2TM: 0, TTB: 0, TL: 0}
    rebuilt = []
    for n in g.node:
        kind = n.op_type[4:] if n.op_type.startswith("TFL_") else None
        if kind not in counts:
            rebuilt.append(n)
            continue
        out = n.output[0]
        info = custom_ops.get(out)
        if info is None or info["code"] != kind:
            raise SystemExit(f"no custom-op options found in the .tflite file for node {n.name} ({n.op_type})")
        if info.get("version") != 2:
            raise SystemExit(f"{n.name}: {kind} version {info.get('version')}, only version 2 is implemented")
        opts = info.get("flex") or {}
        b = _Builder(out)
        if kind == L2TM:
            landmarks_to_transform_matrix(b, n.input[0], out, opts)
            desc = (f"rotation {opts['left_rotation_idx']}->{opts['right_rotation_idx']}, {len(opts['subset_idxs'])} "
                    f"subset points, scale {opts['scale_x']}x{opts['scale_y']}, output "
                    f"{opts['output_width']}x{opts['output_height']}")
        elif kind == TTB:
            x = n.input[0]
            prod = producers.get(x)
            x_nchw = None
            if prod is not None and prod.op_type == "Transpose":
                if list(next(a for a in prod.attribute if a.name == "perm").ints) == [0, 2, 3, 1]:
                    x_nchw = prod.input[0]
            shape = info["input_shapes"][0]  # NHWC, from the .tflite file
            transform_tensor_bilinear(b, x, n.input[1], out, opts, shape, x_nchw)
            desc = f"{shape} -> {opts['output_height']}x{opts['output_width']}"
        else:
            n_points = info["input_shapes"][0][1]  # [1, N, 2]
            transform_landmarks(b, n.input[0], n.input[1], out, n_points)
            desc = f"{n_points} points"
        print(f"    {kind} '{out}': {desc} -> {len(b.nodes)} standard nodes")
        rebuilt.extend(b.nodes)
        g.initializer.extend(b.inits)
        counts[kind] += 1
    if not any(counts.values()):
        return counts
    del g.node[:]
    g.node.extend(rebuilt)
    prune_dead_nodes(model)
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version < OPSET:
            imp.version = OPSET
    return counts


def prune_dead_nodes(model: onnx.ModelProto) -> None:
    """Drop nodes whose outputs nothing uses (e.g. a Transpose the replacement bypassed)."""
    g = model.graph
    while True:
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        keep = [n for n in g.node if any(o in used for o in n.output)]
        if len(keep) == len(g.node):
            return
        del g.node[:]
        g.node.extend(keep)
