#!/usr/bin/env python3
"""Builds the tiny *test* few-shot pack: resources/models/fewshot_test/{embedder,generator}.onnx + manifest.json.

These models have the signature of the seed architecture (Zakharov et al. 2019, "Few-Shot Adversarial Learning of
Realistic Neural Talking Head Models": an embedder that turns K reference frames, each with its landmark sketch,
into one averaged embedding, and a generator that turns a driving landmark sketch plus that embedding into a
face crop) but RANDOM weights from a seeded generator. They exist only to exercise the plugin's plumbing (pack
loading, shape checks, embedding cache, K from 1 to 32); their output is a colourful function of the sketch, not a
face. Running the script again gives the same bytes.

    /path/to/venv/bin/python resources/models/fewshot_test/build_fewshot_test.py [--check]

Needs numpy and onnx (pinned in resources/models/warp/requirements.txt); --check also needs onnxruntime.
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
IR_VERSION = 8
SEED = 20190521            # Zakharov et al. on arXiv
SIZE = 256                 # crop and sketch size
EMBED = 64                 # embedding length
K_MAX = 32                 # references accepted by the plugin


def init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name)


def embedder(rng: np.random.Generator) -> onnx.ModelProto:
    """reference [K,6,256,256] (RGB crop ++ landmark sketch RGB, [0,1]) -> embedding [1,64] (mean over K)."""
    w1 = rng.normal(0, 0.5, (8, 6, 4, 4)) / 4
    b1 = rng.normal(0, 0.1, 8)
    w2 = rng.normal(0, 0.5, (16, 8, 4, 4)) / 8
    b2 = rng.normal(0, 0.1, 16)
    w3 = rng.normal(0, 1.0, (16, EMBED)) / 4
    b3 = rng.normal(0, 0.1, EMBED)
    nodes = [
        helper.make_node("Conv", ["reference", "w1", "b1"], ["c1"], kernel_shape=[4, 4], strides=[4, 4]),  # 64x64
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[4, 4], strides=[4, 4]),         # 16x16
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gp"]),                                          # [K,16,1,1]
        helper.make_node("Flatten", ["gp"], ["fl"], axis=1),                                            # [K,16]
        helper.make_node("Gemm", ["fl", "w3", "b3"], ["per_ref"]),                                      # [K,64]
        helper.make_node("ReduceMean", ["per_ref"], ["embedding"], axes=[0], keepdims=1),              # [1,64]
    ]
    graph = helper.make_graph(
        nodes, "fewshot_test_embedder",
        [helper.make_tensor_value_info("reference", TensorProto.FLOAT, ["K", 6, SIZE, SIZE])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, EMBED])],
        initializer=[init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2), init("w3", w3), init("b3", b3)])
    return finish(graph, "TEST ONLY, random weights: few-shot embedder signature (K references -> embedding).")


def generator(rng: np.random.Generator) -> onnx.ModelProto:
    """sketch [1,3,256,256] + embedding [1,64] -> output [1,3,256,256] in [0,1].

    1x1 conv of the sketch to 8 features, instance norm, AdaIN-like scale and bias from the embedding, ReLU,
    1x1 conv to RGB, sigmoid."""
    wa = rng.normal(0, 1.0, (8, 3, 1, 1))
    ba = rng.normal(0, 0.1, 8)
    wm = rng.normal(0, 1.0, (EMBED, 16)) / 8                           # embedding -> 8 scales + 8 biases
    wb = rng.normal(0, 1.0, (3, 8, 1, 1)) / 2
    bb = rng.normal(0, 0.1, 3)
    nodes = [
        helper.make_node("Conv", ["sketch", "wa", "ba"], ["f"]),
        helper.make_node("InstanceNormalization", ["f", "ones8", "zeros8"], ["fn"], epsilon=1e-5),
        helper.make_node("MatMul", ["embedding", "wm"], ["sb"]),                                        # [1,16]
        helper.make_node("Reshape", ["sb", "shape_sb"], ["sb4"]),                                       # [1,16,1,1]
        helper.make_node("Split", ["sb4"], ["scale", "bias"], axis=1),
        helper.make_node("Add", ["scale", "one"], ["scale1"]),
        helper.make_node("Mul", ["fn", "scale1"], ["fs"]),
        helper.make_node("Add", ["fs", "bias"], ["fb"]),
        helper.make_node("Relu", ["fb"], ["fr"]),
        helper.make_node("Conv", ["fr", "wb", "bb"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["output"]),
    ]
    inits = [init("wa", wa), init("ba", ba), init("wm", wm), init("wb", wb), init("bb", bb),
             init("ones8", np.ones(8)), init("zeros8", np.zeros(8)), init("one", np.ones(1)),
             numpy_helper.from_array(np.array([1, 16, 1, 1], np.int64), "shape_sb")]
    graph = helper.make_graph(
        nodes, "fewshot_test_generator",
        [helper.make_tensor_value_info("sketch", TensorProto.FLOAT, [1, 3, SIZE, SIZE]),
         helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, EMBED])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        initializer=inits)
    return finish(graph, "TEST ONLY, random weights: few-shot generator signature (sketch + embedding -> crop).")


def finish(graph: onnx.GraphProto, doc: str) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="living-portrait/build_fewshot_test.py", producer_version="1")
    model.ir_version = IR_VERSION
    model.doc_string = doc + " Apache-2.0."
    onnx.checker.check_model(model, full_check=True)
    return model


def dump_json(obj) -> str:
    """indented JSON with short lists of numbers/strings on one line"""
    import re

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
    emb = ort.InferenceSession(str(HERE / "embedder.onnx"), so, providers=["CPUExecutionProvider"])
    gen = ort.InferenceSession(str(HERE / "generator.onnx"), so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for k in (1, 4, K_MAX):
        ref = rng.random((k, 6, SIZE, SIZE), dtype=np.float32)
        (e,) = emb.run(None, {"reference": ref})
        assert e.shape == (1, EMBED) and np.isfinite(e).all(), e.shape
        # the mean over K: K copies of one reference give that reference's embedding
        (e1,) = emb.run(None, {"reference": np.repeat(ref[:1], k, 0)})
        (e0,) = emb.run(None, {"reference": ref[:1]})
        assert np.allclose(e1, e0, atol=1e-5)
        (out,) = gen.run(None, {"sketch": ref[:1, 3:], "embedding": e})
        assert out.shape == (1, 3, SIZE, SIZE) and out.min() >= 0 and out.max() <= 1
        print(f"K={k}: embedding {e.shape} |e|={float(np.linalg.norm(e)):.3f}, output {out.shape} "
              f"in [{out.min():.3f}, {out.max():.3f}]")
    print("check OK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="run both models with onnxruntime afterwards")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    e = write(embedder(rng), HERE / "embedder.onnx")
    gmod = write(generator(rng), HERE / "generator.onnx")
    manifest = {
        "format": "living-portrait-pack",
        "version": 1,
        "kind": "fewshot",
        "name": "Few-shot test models (random weights, not for use)",
        "license": "Apache-2.0",
        "test_only": True,
        "embedder": {**e, "opset": OPSET,
                     "inputs": {"reference": ["K", 6, SIZE, SIZE]},
                     "outputs": {"embedding": [1, EMBED]}},
        "generator": {**gmod, "opset": OPSET,
                      "inputs": {"sketch": [1, 3, SIZE, SIZE], "embedding": [1, EMBED]},
                      "outputs": {"output": [1, 3, SIZE, SIZE]}},
        "dims": {"K": {"min": 1, "max": K_MAX}},
        "resolutions": [SIZE],
        "landmarks": "ibug68",
        "sketch": "polylines-thickness-2-on-black-one-colour-per-part",
        "value_range": [0.0, 1.0],
    }
    (HERE / "manifest.json").write_text(dump_json(manifest))
    for m in (e, gmod):
        print(f"wrote {m['file']} ({m['bytes']} bytes, sha256 {m['sha256']})")
    print("wrote manifest.json")
    if args.check:
        check()


if __name__ == "__main__":
    main()
