#!/usr/bin/env python3
"""Writes the tiny model packs the pack tests use (tests/packs_*.rs); each is a few hundred bytes.

Their models compute something a test can predict exactly, so the tests check the plugin's plumbing (which
channels hold the crop and the sketch, the mean over references, resizing to a pack's fixed crop side) rather
than only that something came out:

- ``mean_fewshot/``: a ``fewshot`` pack fixed to 64 px crops. The embedder returns the mean of each of the 6 input
  channels over the pixels and the K references: ``embedding`` [1,6] = (mean crop R, G, B, mean sketch R, G, B).
  The generator paints the whole crop in the embedding's first three values (the mean crop colour) and ignores
  the sketch's values (it multiplies them by zero).
- ``mean_fewshot_k1/``: the same, but the embedder takes exactly one reference (K fixed to 1), so the plugin
  runs it once per reference and averages.
- ``identity_warp64/``: a ``warp`` pack fixed to 64 px crops whose output is its source and whose ``changed`` mask
  is zero.

Every manifest says ``"test_only": true``. Running the script again gives the same bytes.

    python3.11 -m venv /tmp/venv-packs && /tmp/venv-packs/bin/pip install onnx==1.23.2 numpy==2.4.6 protobuf==7.36.2
    /tmp/venv-packs/bin/python tests/data/packs/make_test_packs.py
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
OPSET = 17
IR_VERSION = 8
SIDE = 64


def finish(graph: onnx.GraphProto, doc: str) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="living-portrait-tests")
    model.ir_version = IR_VERSION
    model.doc_string = doc
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def const(name: str, values, dtype=np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def mean_embedder(k) -> bytes:
    """reference [k,6,64,64] -> embedding [1,6]: per-channel mean over pixels and references."""
    nodes = [
        helper.make_node("ReduceMean", ["reference"], ["per_ref"], axes=[2, 3], keepdims=0),   # [k,6]
        helper.make_node("ReduceMean", ["per_ref"], ["embedding"], axes=[0], keepdims=1),      # [1,6]
    ]
    graph = helper.make_graph(
        nodes, "mean_embedder",
        [helper.make_tensor_value_info("reference", TensorProto.FLOAT, [k, 6, SIDE, SIDE])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 6])])
    return finish(graph, "TEST ONLY: per-channel mean of the references (crop RGB, sketch RGB).")


def mean_generator() -> bytes:
    """sketch [1,3,64,64] + embedding [1,6] -> output [1,3,64,64] = embedding[:3] everywhere (+ 0 x sketch)."""
    nodes = [
        helper.make_node("Slice", ["embedding", "starts", "ends", "axes"], ["rgb"]),           # [1,3]
        helper.make_node("Reshape", ["rgb", "shape"], ["rgb4"]),                               # [1,3,1,1]
        helper.make_node("Mul", ["sketch", "zero"], ["nothing"]),                              # [1,3,64,64]
        helper.make_node("Add", ["nothing", "rgb4"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "mean_generator",
        [helper.make_tensor_value_info("sketch", TensorProto.FLOAT, [1, 3, SIDE, SIDE]),
         helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        initializer=[const("starts", [0]), const("ends", [3]), const("axes", [1]), const("shape", [1, 3, 1, 1]),
                     const("zero", 0.0, np.float32)])
    return finish(graph, "TEST ONLY: paints the crop in the mean reference colour.")


def identity_warp() -> bytes:
    """source [1,3,64,64], landmarks -> output = source, changed = 0."""
    nodes = [
        helper.make_node("Identity", ["source"], ["output"]),
        helper.make_node("Sub", ["source_landmarks", "target_landmarks"], ["moved"]),
        helper.make_node("ReduceSum", ["moved"], ["moved_sum"], keepdims=1),                   # [1,1,1]
        helper.make_node("Slice", ["source", "starts", "ends", "axes"], ["red"]),               # [1,1,64,64]
        helper.make_node("Mul", ["red", "zero"], ["zeros"]),
        helper.make_node("Mul", ["moved_sum", "zero"], ["zero_sum"]),
        helper.make_node("Unsqueeze", ["zero_sum", "unsq"], ["zero_sum4"]),                    # [1,1,1,1]
        helper.make_node("Add", ["zeros", "zero_sum4"], ["changed"]),
    ]
    points = [1, 68, 2]
    graph = helper.make_graph(
        nodes, "identity_warp64",
        [helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 3, SIDE, SIDE]),
         helper.make_tensor_value_info("source_landmarks", TensorProto.FLOAT, points),
         helper.make_tensor_value_info("target_landmarks", TensorProto.FLOAT, points)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, SIDE, SIDE]),
         helper.make_tensor_value_info("changed", TensorProto.FLOAT, [1, 1, SIDE, SIDE])],
        initializer=[const("starts", [0]), const("ends", [1]), const("axes", [1]), const("unsq", [0]),
                     const("zero", 0.0, np.float32)])
    return finish(graph, "TEST ONLY: returns its source unchanged.")


def entry(folder: Path, file: str, data: bytes, inputs: dict, outputs: dict) -> dict:
    (folder / file).write_bytes(data)
    return {"file": file, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "inputs": inputs, "outputs": outputs}


def write_pack(name: str, manifest: dict, models: dict, extra: dict) -> None:
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    for role, (file, data, inputs, outputs) in models.items():
        manifest[role] = entry(folder, file, data, inputs, outputs)
    manifest.update(extra)
    text = json.dumps(manifest, indent=2) + "\n"
    # Shapes on one line each: [1, 3, "S", "S"].
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
                  text)
    (folder / "manifest.json").write_text(text)
    sizes = ", ".join(f"{file} {len(data)} B" for file, data, _, _ in models.values())
    print(f"wrote {folder} ({sizes})")


def header(kind: str, name: str) -> dict:
    return {"format": "living-portrait-pack", "version": 1, "kind": kind, "name": name, "license": "Apache-2.0",
            "test_only": True}


def main() -> None:
    # The manifests both say "K"; the second model fixes it to 1.
    for folder, k, label in (("mean_fewshot", "K", "any K"), ("mean_fewshot_k1", 1, "K = 1")):
        manifest = header("fewshot", f"Mean-colour test pack ({label})")
        write_pack(folder, manifest, {
            "embedder": ("embedder.onnx", mean_embedder(k),
                         {"reference": ["K", 6, SIDE, SIDE]}, {"embedding": [1, "E"]}),
            "generator": ("generator.onnx", mean_generator(),
                          {"sketch": [1, 3, "S", "S"], "embedding": [1, "E"]}, {"output": [1, 3, "S", "S"]}),
        }, {"dims": {"K": {"min": 1, "max": 32}}, "resolutions": [SIDE]})
    manifest = header("warp", "Identity warp test pack (64 px)")
    write_pack("identity_warp64", manifest, {
        "generator": ("identity.onnx", identity_warp(),
                      {"source": [1, 3, "S", "S"], "source_landmarks": [1, 68, 2], "target_landmarks": [1, 68, 2]},
                      {"output": [1, 3, "S", "S"], "changed": [1, 1, "S", "S"]}),
    }, {"resolutions": [SIDE]})


if __name__ == "__main__":
    main()
