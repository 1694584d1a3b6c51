#!/usr/bin/env python3
"""Builds the tiny *stand-in* LivePortrait pack: resources/models/liveportrait_test/*.onnx + manifest.json.

The seven models have exactly the tensor names and full-size shapes of a real `liveportrait` pack (see
resources/models/liveportrait/README.md, "The pack contract") but tiny RANDOM weights from a seeded generator and
a handful of real operators, so that `cargo test` can check the plugin's plumbing (loading, shape checks, caching,
the pose/keypoint maths, stitching, retargeting, paste-back, errors, determinism) without the real weights. Their
outputs depend on their inputs, but they are not a face model: the "generated" crop is a blurred, green-tinted
rendering of the source crop's structure, shifted and zoomed by the keypoints' mean offset and spread.

    appearance  image [1,3,256,256] -> feature_3d [1,32,16,64,64]   4x4 average pool, 1x1 conv 3->512, tanh, reshape
    motion      image [1,3,256,256] -> pitch/yaw/roll [1,66] logits, t [1,3], exp [1,63], scale [1,1], kp [1,63]
                                       64x64 average pool, tanh, one dense layer, split, per-output squashing
    warping     feature_3d, kp_driving [1,21,3], kp_source [1,21,3] -> warped_feature [1,256,64,64]
                                       theta = [I | mean(kp_source - kp_driving)] (scaled by 1 + mean spread ratio),
                                       5-D AffineGrid + 5-D GridSample (opset 20, linear, zeros, align_corners 0),
                                       reshape to [1,256,2,64,64], max over the pair, per-channel scale and bias
    generator   warped_feature [1,256,64,64] -> image [1,3,512,512]  1x1 conv 256->8, relu, 3x3 conv 8->3,
                                       sigmoid, linear resize x8
    stitching   kp [1,126] -> delta [1,65]         dense 126->32, relu, dense 32->65, x0.01
    retarget_eye input [1,66] -> delta [1,63]      dense 66->32, relu, dense 32->63, x0.01
    retarget_lip input [1,65] -> delta [1,63]      dense 65->32, relu, dense 32->63, x0.01

Running the script again gives the same bytes (seeded numpy, deterministic protobuf serialisation).

    /work/venv-warp/bin/python resources/models/liveportrait_test/build_standin.py [--check]

Needs numpy and onnx (pinned in resources/models/warp/requirements.txt); --check also needs onnxruntime and runs
all seven models on ONNX Runtime's CPU provider.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
SEED = 20240704            # LivePortrait's arXiv submission month, for a memorable seed
OPSET = 17                 # every model but the warping module
OPSET_WARP = 20            # 5-D GridSample (and AffineGrid) are in the ONNX standard from opset 20
IR_VERSION = 8             # opset 17
IR_VERSION_WARP = 9        # opset 20
NUM_KP = 21
BINS = 66

# The pack contract: role -> (file, opset, inputs, outputs). Shapes are full size.
CONTRACT = {
    "appearance": ("appearance_feature_extractor.onnx", OPSET,
                   {"image": [1, 3, 256, 256]}, {"feature_3d": [1, 32, 16, 64, 64]}),
    "motion": ("motion_extractor.onnx", OPSET,
               {"image": [1, 3, 256, 256]},
               {"pitch": [1, BINS], "yaw": [1, BINS], "roll": [1, BINS], "t": [1, 3], "exp": [1, 3 * NUM_KP],
                "scale": [1, 1], "kp": [1, 3 * NUM_KP]}),
    "warping": ("warping_module.onnx", OPSET_WARP,
                {"feature_3d": [1, 32, 16, 64, 64], "kp_driving": [1, NUM_KP, 3], "kp_source": [1, NUM_KP, 3]},
                {"warped_feature": [1, 256, 64, 64]}),
    "generator": ("spade_generator.onnx", OPSET,
                  {"warped_feature": [1, 256, 64, 64]}, {"image": [1, 3, 512, 512]}),
    "stitching": ("stitching.onnx", OPSET, {"kp": [1, 126]}, {"delta": [1, 65]}),
    "retarget_eye": ("retarget_eye.onnx", OPSET, {"input": [1, 66]}, {"delta": [1, 63]}),
    "retarget_lip": ("retarget_lip.onnx", OPSET, {"input": [1, 65]}, {"delta": [1, 63]}),
}

CONVENTIONS = {
    "input_size": 256,
    "output_size": 512,
    "num_kp": NUM_KP,
    "channel_order": "RGB",
    "value_range": [0, 1],
    "crop": {"scale": 2.3, "vx_ratio": 0.0, "vy_ratio": -0.125},
    "pose_bins": BINS,
    "bin_degrees": 3.0,
    "bin_offset_degrees": -97.5,
}


def f32(name: str, arr) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name)


def i64(name: str, arr) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(arr, dtype=np.int64), name)


def vi(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def graph_io(role: str):
    _, _, inputs, outputs = CONTRACT[role]
    return [vi(n, s) for n, s in inputs.items()], [vi(n, s) for n, s in outputs.items()]


def finish(role: str, nodes, inits, doc: str) -> onnx.ModelProto:
    _, opset, _, _ = CONTRACT[role]
    ins, outs = graph_io(role)
    graph = helper.make_graph(nodes, f"liveportrait_standin_{role}", ins, outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="living-portrait/build_standin.py", producer_version="1")
    model.ir_version = IR_VERSION_WARP if opset >= 20 else IR_VERSION
    model.doc_string = "TEST ONLY, random weights, not a face model: " + doc
    onnx.checker.check_model(model, full_check=True)
    return model


def appearance(rng: np.random.Generator) -> onnx.ModelProto:
    w = rng.normal(0, 1.0, (512, 3, 1, 1))
    b = rng.normal(0, 0.2, 512)
    nodes = [
        helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[4, 4], strides=[4, 4]),   # [1,3,64,64]
        helper.make_node("Conv", ["p", "w", "b"], ["c"]),                                          # [1,512,64,64]
        helper.make_node("Tanh", ["c"], ["th"]),
        helper.make_node("Reshape", ["th", "shape"], ["feature_3d"]),                             # [1,32,16,64,64]
    ]
    inits = [f32("w", w), f32("b", b), i64("shape", [1, 32, 16, 64, 64])]
    return finish("appearance", nodes, inits, "appearance feature extractor signature.")


def motion(rng: np.random.Generator) -> onnx.ModelProto:
    outs = CONTRACT["motion"][3]
    widths = [s[1] for s in outs.values()]          # 66, 66, 66, 3, 63, 1, 63
    total = sum(widths)
    w = rng.normal(0, 1.0, (48, total)) / np.sqrt(48)
    b = rng.normal(0, 0.3, total)
    nodes = [
        helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[64, 64], strides=[64, 64]),  # [1,3,4,4]
        helper.make_node("Flatten", ["p"], ["fl"], axis=1),                                           # [1,48]
        helper.make_node("Sub", ["fl", "half"], ["fc"]),
        helper.make_node("Mul", ["fc", "four"], ["fs"]),
        helper.make_node("Tanh", ["fs"], ["ft"]),
        helper.make_node("Gemm", ["ft", "w", "b"], ["y"]),                                            # [1,328]
        helper.make_node("Split", ["y", "widths"], ["pitch_raw", "yaw_raw", "roll_raw", "t_raw", "exp_raw",
                                                     "scale_raw", "kp_raw"], axis=1),
        # pose logits: a few bins apart, so the softmax expectation moves with the image
        helper.make_node("Mul", ["pitch_raw", "three"], ["pitch"]),
        helper.make_node("Mul", ["yaw_raw", "three"], ["yaw"]),
        helper.make_node("Mul", ["roll_raw", "three"], ["roll"]),
        # t: small shift, exp: small offsets, scale around 1.5 (LivePortrait's scales are of that order), kp in +-0.6
        helper.make_node("Tanh", ["t_raw"], ["t_th"]),
        helper.make_node("Mul", ["t_th", "tenth"], ["t"]),
        helper.make_node("Tanh", ["exp_raw"], ["exp_th"]),
        helper.make_node("Mul", ["exp_th", "twentieth"], ["exp"]),
        helper.make_node("Tanh", ["scale_raw"], ["scale_th"]),
        helper.make_node("Mul", ["scale_th", "fifth"], ["scale_m"]),
        helper.make_node("Add", ["scale_m", "one_half"], ["scale"]),
        helper.make_node("Tanh", ["kp_raw"], ["kp_th"]),
        helper.make_node("Mul", ["kp_th", "six_tenths"], ["kp"]),
    ]
    consts = {"half": 0.5, "four": 4.0, "three": 3.0, "tenth": 0.1, "twentieth": 0.05, "fifth": 0.2,
              "one_half": 1.5, "six_tenths": 0.6}
    inits = [f32("w", w), f32("b", b), i64("widths", widths)] + [f32(k, [v]) for k, v in consts.items()]
    return finish("motion", nodes, inits, "motion extractor signature (pose bin logits, t, exp, scale, kp).")


def warping(rng: np.random.Generator) -> onnx.ModelProto:
    scale = 1.0 + rng.normal(0, 0.2, 256)
    bias = rng.normal(0, 0.1, 256)
    nodes = [
        # translation of the sampling grid: mean source-minus-driving keypoint offset, (x, y, z) -> a [1,3,1] column
        helper.make_node("Sub", ["kp_source", "kp_driving"], ["d"]),                            # [1,21,3]
        helper.make_node("ReduceMean", ["d", "axis1"], ["dm"], keepdims=1),                     # [1,1,3]
        helper.make_node("Transpose", ["dm"], ["col"], perm=[0, 2, 1]),                          # [1,3,1]
        # zoom: ratio of the keypoints' spreads (mean absolute deviation from their centre), source over driving
        helper.make_node("ReduceMean", ["kp_source", "axis1"], ["cs"], keepdims=1),
        helper.make_node("Sub", ["kp_source", "cs"], ["ds"]),
        helper.make_node("Abs", ["ds"], ["as_"]),
        helper.make_node("ReduceMean", ["as_"], ["ss"], keepdims=0),                            # scalar
        helper.make_node("ReduceMean", ["kp_driving", "axis1"], ["cd"], keepdims=1),
        helper.make_node("Sub", ["kp_driving", "cd"], ["dd"]),
        helper.make_node("Abs", ["dd"], ["ad"]),
        helper.make_node("ReduceMean", ["ad"], ["sd"], keepdims=0),
        helper.make_node("Add", ["sd", "eps"], ["sd_e"]),
        helper.make_node("Div", ["ss", "sd_e"], ["zoom"]),
        helper.make_node("Mul", ["eye3", "zoom"], ["lin"]),                                     # [1,3,3]
        helper.make_node("Concat", ["lin", "col"], ["theta"], axis=2),                          # [1,3,4]
        helper.make_node("AffineGrid", ["theta", "size"], ["grid"], align_corners=0),           # [1,16,64,64,3]
        helper.make_node("GridSample", ["feature_3d", "grid"], ["warped3d"], mode="linear",
                         padding_mode="zeros", align_corners=0),                                 # [1,32,16,64,64]
        helper.make_node("Reshape", ["warped3d", "shape"], ["pairs"]),                          # [1,256,2,64,64]
        helper.make_node("ReduceMax", ["pairs", "axis2"], ["mx"], keepdims=0),                  # [1,256,64,64]
        helper.make_node("Mul", ["mx", "ch_scale"], ["sc"]),
        helper.make_node("Add", ["sc", "ch_bias"], ["warped_feature"]),
    ]
    inits = [i64("axis1", [1]), i64("axis2", [2]), f32("eps", [1e-6]),
             f32("eye3", np.eye(3)[None]), i64("size", [1, 32, 16, 64, 64]), i64("shape", [1, 256, 2, 64, 64]),
             f32("ch_scale", scale.reshape(1, 256, 1, 1)), f32("ch_bias", bias.reshape(1, 256, 1, 1))]
    return finish("warping", nodes, inits, "warping module signature (keypoint-driven 5-D GridSample).")


def generator(rng: np.random.Generator) -> onnx.ModelProto:
    w1 = rng.normal(0, 1.0, (8, 256, 1, 1)) / 4
    b1 = rng.normal(0, 0.1, 8)
    w2 = rng.normal(0, 1.0, (3, 8, 3, 3)) / 6
    b2 = rng.normal(0, 0.1, 3)
    nodes = [
        helper.make_node("Conv", ["warped_feature", "w1", "b1"], ["c1"]),                        # [1,8,64,64]
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),                 # [1,3,64,64]
        helper.make_node("Sigmoid", ["c2"], ["s"]),
        helper.make_node("Resize", ["s", "", "scales"], ["image"], mode="linear"),                # [1,3,512,512]
    ]
    inits = [f32("w1", w1), f32("b1", b1), f32("w2", w2), f32("b2", b2), f32("scales", [1, 1, 8, 8])]
    return finish("generator", nodes, inits, "SPADE generator signature (warped feature -> 512 crop in [0,1]).")


def mlp(role: str, rng: np.random.Generator, n_in: int, n_out: int) -> onnx.ModelProto:
    (in_name,) = CONTRACT[role][2]
    w1 = rng.normal(0, 1.0, (n_in, 32)) / np.sqrt(n_in)
    b1 = rng.normal(0, 0.1, 32)
    w2 = rng.normal(0, 1.0, (32, n_out)) / np.sqrt(32)
    b2 = rng.normal(0, 0.1, n_out)
    nodes = [
        helper.make_node("Gemm", [in_name, "w1", "b1"], ["h"]),
        helper.make_node("Relu", ["h"], ["hr"]),
        helper.make_node("Gemm", ["hr", "w2", "b2"], ["o"]),
        helper.make_node("Mul", ["o", "gain"], ["delta"]),
    ]
    inits = [f32("w1", w1), f32("b1", b1), f32("w2", w2), f32("b2", b2), f32("gain", [0.01])]
    return finish(role, nodes, inits, f"{role} MLP signature ({n_in} -> {n_out}).")


def dump_json(obj) -> str:
    """indented JSON with short lists of numbers/strings on one line"""
    text = json.dumps(obj, indent=2)
    return re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text) + "\n"


def write(model: onnx.ModelProto, path: Path) -> dict:
    data = model.SerializeToString(deterministic=True)
    path.write_bytes(data)
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def check() -> None:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    rng = np.random.default_rng(1)
    for role, (file, _, inputs, outputs) in CONTRACT.items():
        sess = ort.InferenceSession(str(HERE / file), so, providers=["CPUExecutionProvider"])
        assert [i.name for i in sess.get_inputs()] == list(inputs), role
        assert [o.name for o in sess.get_outputs()] == list(outputs), role
        feed = {n: rng.random(s, dtype=np.float32) * (1.0 if n in ("image",) else 0.5) for n, s in inputs.items()}
        res = sess.run(None, feed)
        for (name, shape), arr in zip(outputs.items(), res):
            assert list(arr.shape) == shape, (role, name, arr.shape)
            assert np.isfinite(arr).all(), (role, name)
        print(f"{role:13s} {file:36s} OK: " + ", ".join(f"{n} {list(a.shape)} std {a.std():.3g}"
                                                         for n, a in zip(outputs, res)))
    print("check OK: all seven run on ONNX Runtime", ort.__version__, "CPUExecutionProvider")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="run all seven models with onnxruntime afterwards")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    models = {
        "appearance": appearance(rng),
        "motion": motion(rng),
        "warping": warping(rng),
        "generator": generator(rng),
        "stitching": mlp("stitching", rng, 126, 65),
        "retarget_eye": mlp("retarget_eye", rng, 66, 63),
        "retarget_lip": mlp("retarget_lip", rng, 65, 63),
    }
    manifest = {
        "format": "living-portrait-pack",
        "version": 2,
        "kind": "liveportrait",
        "name": "LivePortrait stand-in test models (random weights, not for use)",
        "license": "Apache-2.0",
        "test_only": True,
    }
    total = 0
    for role, model in models.items():
        file, opset, inputs, outputs = CONTRACT[role]
        entry = write(model, HERE / file)
        total += entry["bytes"]
        manifest[role] = {**entry, "opset": opset, "inputs": inputs, "outputs": outputs}
        print(f"wrote {file} ({entry['bytes']} bytes, sha256 {entry['sha256']})")
    manifest["conventions"] = CONVENTIONS
    (HERE / "manifest.json").write_text(dump_json(manifest))
    print(f"wrote manifest.json; {total} model bytes in all")
    if args.check:
        check()


if __name__ == "__main__":
    main()
