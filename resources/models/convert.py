#!/usr/bin/env python3
"""Convert MediaPipe's face models (TFLite) to the ONNX files in this folder.

Sources: three ``.tflite`` files inside the PyPI wheel ``mediapipe==0.10.14`` (Apache-2.0):

    mediapipe/modules/face_detection/face_detection_short_range.tflite  -> face_detector.onnx
    mediapipe/modules/face_landmark/face_landmark_with_attention.tflite -> face_mesh_attention.onnx
    mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite    -> selfie_segmentation.onnx

Steps for each model:
 1. ``python -m tf2onnx.convert --tflite SRC --output TMP --opset N`` (N = 13, or 14 for the segmentation model).
 2. Replace MediaPipe's custom ops (which tf2onnx leaves as unknown ``TFL_*`` nodes) by standard ONNX ops; their
    options are read from the op's custom options in the .tflite file. Selfie segmentation:
    ``Convolution2DTransposeBias`` -> ``ConvTranspose`` with bias (kernel OHWI -> IOHW). Face mesh with attention:
    ``Landmarks2TransformMatrix``, ``TransformTensorBilinear``, ``TransformLandmarks`` -> small subgraphs of
    standard ops (``mediapipe_attention_ops.py``, opset 16 for ``GridSample``).
 3. Canonicalise: deterministic node order and tensor names, fixed doc strings, so that a re-run gives the same
    bytes (tf2onnx numbers its generated names differently on every run).
 4. Check the ONNX model with onnx.checker and compare it with the TFLite model on the demo portrait
    (max abs difference of every output). The segmentation and attention mesh models cannot run in TensorFlow's
    TFLite interpreter (custom ops); they are compared with MediaPipe itself (its selfie-segmentation graph, and
    its InferenceCalculator with MediaPipe's custom-op resolver) when ``--mediapipe-python`` names a Python
    interpreter where ``import mediapipe`` works (see README.md: mediapipe 0.10.14 needs protobuf<5, TensorFlow
    2.21 needs protobuf>=6, so they live in two virtual environments).
 5. Write SHA256SUMS.

Usage (in a virtualenv made from requirements-convert.txt, plus ``pip install --no-deps mediapipe==0.10.14``):

    python resources/models/convert.py [--mediapipe-python /path/to/mediapipe-venv/bin/python]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_IMAGE = REPO / "resources" / "demo" / "astronaut.png"

MODELS = [
    {
        "name": "face_detector",
        "src": "modules/face_detection/face_detection_short_range.tflite",
        "opset": 13,
    },
    {
        "name": "face_mesh_attention",
        "src": "modules/face_landmark/face_landmark_with_attention.tflite",
        "opset": 16,
        "structural_names": True,
    },
    {
        "name": "selfie_segmentation",
        "src": "modules/selfie_segmentation/selfie_segmentation.tflite",
        "opset": 14,
    },
]

CUSTOM_TRANSPOSE_CONV = "Convolution2DTransposeBias"


# --------------------------------------------------------------------------------------------------------------
# locating the wheel's files


def find_mediapipe_dir(explicit: str | None) -> Path:
    """The installed mediapipe package folder, found without importing it (its import may fail here)."""
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("mediapipe is not installed: pip install --no-deps mediapipe==0.10.14 (or pass --mediapipe-dir)")
    return Path(list(spec.submodule_search_locations)[0])


def mediapipe_version(mp_dir: Path) -> str:
    for dist in mp_dir.parent.glob("mediapipe-*.dist-info"):
        for line in (dist / "METADATA").read_text(encoding="utf-8").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


# --------------------------------------------------------------------------------------------------------------
# conversion


def run_tf2onnx(src: Path, dst: Path, opset: int) -> None:
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(src), "--output", str(dst), "--opset", str(opset)]
    env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not dst.exists():
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"tf2onnx failed on {src}")
    for line in (proc.stdout + proc.stderr).splitlines():
        if "ERROR" in line or "Unsupported ops" in line:
            print("    tf2onnx:", line.split(" - ", 2)[-1])


def tflite_custom_ops(src: Path) -> dict[str, dict]:
    """Custom ops of a .tflite file: output tensor name -> {code, version, options (int32 words), input_shapes,
    flex (decoded flexbuffer map, or None)}."""
    from flatbuffers import flexbuffers
    from tf2onnx.tflite.Model import Model  # the flatbuffer schema bundled with tf2onnx

    buf = src.read_bytes()
    model = Model.GetRootAsModel(buf, 0)
    found = {}
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex()).CustomCode()
            if not code:
                continue
            out_name = sg.Tensors(op.Outputs(0)).Name().decode()
            raw = op.CustomOptionsAsNumpy()
            raw_bytes = raw.astype(np.uint8).tobytes() if isinstance(raw, np.ndarray) else b""
            words = np.frombuffer(raw_bytes, dtype="<i4").tolist() if len(raw_bytes) % 4 == 0 else []
            try:
                flex = flexbuffers.Loads(raw_bytes) if raw_bytes else None
            except Exception:  # noqa: BLE001 - not every custom op uses flexbuffer options
                flex = None
            version = model.OperatorCodes(op.OpcodeIndex()).Version()
            in_shapes = [sg.Tensors(op.Inputs(k)).ShapeAsNumpy().tolist() for k in range(op.InputsLength())]
            found[out_name] = {"code": code.decode(), "version": version, "options": words, "input_shapes": in_shapes,
                               "flex": flex if isinstance(flex, dict) else None}
    return found


def replace_transpose_conv_bias(model: onnx.ModelProto, custom_ops: dict[str, dict]) -> int:
    """Replace tf2onnx's placeholder for MediaPipe's Convolution2DTransposeBias by ConvTranspose (NCHW).

    The custom op is TFLite's TRANSPOSE_CONV plus a bias, on NHWC tensors, kernel OHWI. Its custom options are
    TfLiteTransposeConvParams {padding, stride_width, stride_height} (padding 1 = SAME, 2 = VALID).
    """
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    replaced = 0
    new_nodes = []
    drop = set()
    for n in g.node:
        if CUSTOM_TRANSPOSE_CONV not in n.op_type:
            continue
        out = n.output[0]
        info = custom_ops.get(out)
        if info is None or info["code"] != CUSTOM_TRANSPOSE_CONV:
            sys.exit(f"no custom-op options found in the .tflite file for node {n.name}")
        padding, stride_w, stride_h = info["options"][:3]
        x_nhwc, w_name, b_name = n.input
        w = numpy_helper.to_array(inits[w_name])  # OHWI
        b = numpy_helper.to_array(inits[b_name])
        o_ch, k_h, k_w, i_ch = w.shape
        if padding == 1:  # SAME: output = input * stride, total padding = kernel - stride
            pad_h, pad_w = max(k_h - stride_h, 0), max(k_w - stride_w, 0)
        elif padding == 2:  # VALID
            pad_h = pad_w = 0
        else:
            sys.exit(f"unknown padding {padding} in {n.name}")
        pads = [pad_h // 2, pad_w // 2, pad_h - pad_h // 2, pad_w - pad_w // 2]
        print(
            f"    {CUSTOM_TRANSPOSE_CONV} '{n.name}': kernel OHWI {list(w.shape)}, stride ({stride_h},{stride_w}), "
            f"padding {'SAME' if padding == 1 else 'VALID'} -> ConvTranspose pads {pads}"
        )
        w_iohw = np.ascontiguousarray(w.transpose(3, 0, 1, 2))
        g.initializer.remove(inits[w_name])
        g.initializer.append(numpy_helper.from_array(w_iohw, w_name))
        if b.shape != (o_ch,):
            sys.exit(f"unexpected bias shape {b.shape} for {n.name}")

        # tf2onnx feeds the op from a Transpose NCHW->NHWC; use its NCHW input directly when nothing else needs it.
        prod = producers.get(x_nhwc)
        perm = None
        if prod is not None and prod.op_type == "Transpose":
            perm = list(next(a for a in prod.attribute if a.name == "perm").ints)
        if perm == [0, 2, 3, 1] and len(consumers.get(x_nhwc, [])) == 1:
            x_nchw = prod.input[0]
            drop.add(id(prod))
        else:
            x_nchw = out + "_input_nchw"
            new_nodes.append((n, helper.make_node("Transpose", [x_nhwc], [x_nchw], name=x_nchw, perm=[0, 3, 1, 2])))
        y_nchw = out + "_nchw"
        conv = helper.make_node(
            "ConvTranspose",
            [x_nchw, w_name, b_name],
            [y_nchw],
            name=out,
            kernel_shape=[k_h, k_w],
            strides=[stride_h, stride_w],
            pads=pads,
        )
        back = helper.make_node("Transpose", [y_nchw], [out], name=out + "_nhwc", perm=[0, 2, 3, 1])
        new_nodes.append((n, conv))
        new_nodes.append((n, back))
        drop.add(id(n))
        replaced += 1
    if replaced:
        rebuilt = []
        for n in g.node:
            for old, new in new_nodes:
                if old is n:
                    rebuilt.append(new)
            if id(n) not in drop:
                rebuilt.append(n)
        del g.node[:]
        g.node.extend(rebuilt)
    return replaced


# --------------------------------------------------------------------------------------------------------------
# canonical form (reproducible bytes)

_GENERATED = re.compile(r"__\d+")


def canonicalize(model: onnx.ModelProto, doc: str, structural_names: bool = False) -> None:
    """Deterministic node order and names.

    tf2onnx gives generated tensors names with global counters ("Transpose__307:0", "const_fold_opt__538") that
    change from run to run. Nodes are put in a topological order found by a depth-first walk from the graph
    outputs (inputs visited in order), which depends only on the graph's structure; then every generated name
    is renumbered in that order. Names that come from the TFLite model (like "conv2d_21") are kept, except with
    ``structural_names`` (the attention mesh, where tf2onnx merges duplicate nodes and keeps a random one of their
    names): then every inner tensor is named after its producer's type (or a constant after its first use).
    """
    g = model.graph
    producers = {o: n for n in g.node for o in n.output}
    order, seen = [], set()

    def visit(tensor: str) -> None:
        n = producers.get(tensor)
        if n is None or id(n) in seen:
            return
        seen.add(id(n))
        for i in n.input:
            visit(i)
        order.append(n)

    sys.setrecursionlimit(10000)
    for o in g.output:
        visit(o.name)
    if len(order) != len(g.node):
        sys.exit(f"graph has {len(g.node) - len(order)} nodes that do not feed an output")

    keep = {i.name for i in g.input} | {o.name for o in g.output}
    init_names = {t.name for t in g.initializer}
    rename: dict[str, str] = {}
    counter = 0

    def new_name(old: str, use: tuple | None = None) -> str:
        nonlocal counter
        if old in keep or old == "":
            return old
        if old not in rename:
            if _GENERATED.search(old) or old in init_names or structural_names:
                base = _GENERATED.sub("", old).replace(":0", "")
                if structural_names:
                    # tf2onnx merges equal constants and equal nodes and keeps one of their names at random
                    # ("const_ends__107" one run, "new_shape__107" the next; "reshape" or "reshape_5"): name
                    # constants after their first use and tensors after their producer's type instead
                    base = f"{use[0].op_type}_input{use[1]}" if use is not None else producers[old].op_type
                rename[old] = f"{base}__{counter}"
                counter += 1
            else:
                rename[old] = old
        return rename[old]

    node_names: set[str] = set()
    for n in order:
        for k, i in enumerate(n.input):
            n.input[k] = new_name(i, (n, k))
        for k, o in enumerate(n.output):
            n.output[k] = new_name(o)
        nm = _GENERATED.sub("", n.name) if _GENERATED.search(n.name) else n.name
        if structural_names:
            nm = n.output[0]
        if not nm or nm in node_names:
            nm = f"{nm or n.op_type}__n{len(node_names)}"
        node_names.add(nm)
        n.name = nm
    del g.node[:]
    g.node.extend(order)

    used = {i for n in order for i in n.input}
    inits = [t for t in g.initializer if t.name in rename or t.name in keep]
    for t in inits:
        t.name = rename.get(t.name, t.name)
    inits = [t for t in inits if t.name in used]
    pos = {}
    for k, n in enumerate(order):
        for i in n.input:
            pos.setdefault(i, k)
    inits.sort(key=lambda t: (pos.get(t.name, 1 << 30), t.name))
    del g.initializer[:]
    g.initializer.extend(inits)

    # value_info entries are shape hints only; rebuild them by shape inference for stable contents
    del g.value_info[:]
    model.doc_string = doc
    g.doc_string = ""
    inferred = onnx.shape_inference.infer_shapes(model)
    g.value_info.extend(sorted(inferred.graph.value_info, key=lambda v: v.name))


# --------------------------------------------------------------------------------------------------------------
# checks against TFLite


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def resize(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def tflite_run(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()}


def onnx_run(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    outs = sess.run(None, {sess.get_inputs()[0].name: x})
    return {o.name: v for o, v in zip(sess.get_outputs(), outs)}


def face_crop_for_mesh(img: np.ndarray, det_out: dict[str, np.ndarray]) -> np.ndarray:
    """A rough axis-aligned face crop (best anchor, box x1.5) for the mesh check; accuracy does not matter here."""
    anchors = []
    for stride, per_cell in ((8, 2), (16, 6)):
        n = 128 // stride
        for y in range(n):
            for x in range(n):
                anchors += [((x + 0.5) / n, (y + 0.5) / n)] * per_cell
    anchors = np.asarray(anchors)
    reg, cls = det_out["regressors"][0], det_out["classificators"][0, :, 0]
    k = int(np.argmax(cls))
    cx, cy = reg[k, 0] / 128 + anchors[k, 0], reg[k, 1] / 128 + anchors[k, 1]
    side = max(reg[k, 2], reg[k, 3]) / 128 * 1.5
    h, w = img.shape[:2]
    x0, y0 = int(round((cx - side / 2) * w)), int(round((cy - side / 2) * h))
    x1, y1 = int(round((cx + side / 2) * w)), int(round((cy + side / 2) * h))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return resize(np.ascontiguousarray(img[y0:y1, x0:x1]), 192)


def report_diff(tag: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    res = {}
    for name in a:
        if name not in b:
            sys.exit(f"{tag}: output {name} missing in ONNX model (has {list(b)})")
        if a[name].shape != b[name].shape:
            sys.exit(f"{tag}: output {name} shape {a[name].shape} vs {b[name].shape}")
        d = float(np.max(np.abs(a[name].astype(np.float64) - b[name].astype(np.float64))))
        scale = float(np.max(np.abs(a[name])))
        res[name] = d
        print(f"    {tag}: {name} {list(a[name].shape)} max |TFLite - ONNX| = {d:.3g} (max |value| {scale:.3g})")
    return res


ATTENTION_OUTPUTS = ["output_mesh_identity", "output_lips", "output_left_eye", "output_right_eye",
                     "output_left_iris", "output_right_iris", "conv_faceflag"]


def mediapipe_model_outputs(mp_python: str, tflite: Path, img192: np.ndarray):
    """The attention mesh model's outputs from MediaPipe's InferenceCalculator (with its custom-op resolver), and
    the exact input tensor it was fed (mediapipe_landmark_tensors.py)."""
    with tempfile.TemporaryDirectory() as td:
        inp, outp = Path(td) / "in.npy", Path(td) / "out.npz"
        np.save(inp, img192)
        helper_script = HERE / "mediapipe_landmark_tensors.py"
        proc = subprocess.run([mp_python, str(helper_script), str(tflite), str(inp), str(outp),
                               str(len(ATTENTION_OUTPUTS))], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            sys.exit(f"{helper_script.name} failed under {mp_python}")
        got = np.load(outp)
        x = got["input"].astype(np.float32)
        outs = {name: got[f"out{k}"].reshape(1, 1, 1, -1) for k, name in enumerate(ATTENTION_OUTPUTS)}
    return outs, x


def check_segmentation_with_mediapipe(mp_python: str, onnx_path: Path, img256: np.ndarray) -> float:
    with tempfile.TemporaryDirectory() as td:
        inp, outp = Path(td) / "in.npy", Path(td) / "mask.npy"
        np.save(inp, img256)
        helper_script = HERE / "mediapipe_segmentation_mask.py"
        proc = subprocess.run([mp_python, str(helper_script), str(inp), str(outp)], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            sys.exit(f"{helper_script.name} failed under {mp_python}")
        mask = np.load(outp)
    ours = onnx_run(onnx_path, (img256.astype(np.float32) / 255.0)[None])["activation_10"][0, :, :, 0]
    d = float(np.max(np.abs(mask.astype(np.float64) - ours)))
    print(f"    MediaPipe selfie-segmentation graph vs ONNX: mask {list(mask.shape)} max abs diff = {d:.3g}")
    return d


# --------------------------------------------------------------------------------------------------------------


def describe(path: Path) -> dict:
    m = onnx.load(str(path))

    def shape(v):
        return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in v.type.tensor_type.shape.dim]

    return {
        "inputs": {i.name: shape(i) for i in m.graph.input},
        "outputs": {o.name: shape(o) for o in m.graph.output},
        "opset": {o.domain or "ai.onnx": o.version for o in m.opset_import},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mediapipe-dir", help="folder of the installed mediapipe package (default: found by Python)")
    ap.add_argument("--out-dir", default=str(HERE), help="where the .onnx files go (default: this folder)")
    ap.add_argument("--image", default=str(DEFAULT_IMAGE), help="test image for the TFLite/ONNX comparison")
    ap.add_argument("--mediapipe-python", help="a Python interpreter with a working `import mediapipe`, used to "
                    "check the segmentation model against MediaPipe's own graph")
    ap.add_argument("--skip-check", action="store_true")
    args = ap.parse_args()

    mp_dir = find_mediapipe_dir(args.mediapipe_dir)
    version = mediapipe_version(mp_dir)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"mediapipe {version} at {mp_dir}")
    if version != "0.10.14":
        print("WARNING: the committed models come from mediapipe 0.10.14")

    import tf2onnx

    results = {}
    with tempfile.TemporaryDirectory() as td:
        for spec in MODELS:
            src = mp_dir / spec["src"]
            dst = out_dir / f"{spec['name']}.onnx"
            print(f"{spec['name']}: {src.name} (opset {spec['opset']})")
            tmp = Path(td) / f"{spec['name']}.onnx"
            run_tf2onnx(src, tmp, spec["opset"])
            model = onnx.load(str(tmp))
            custom = tflite_custom_ops(src)
            if custom:
                n = replace_transpose_conv_bias(model, custom)
                from mediapipe_attention_ops import replace_attention_ops

                counts = replace_attention_ops(model, custom)
                n += sum(counts.values())
                print(f"    replaced {n} custom op(s)")
            leftovers = [n.op_type for n in model.graph.node if n.op_type.startswith("TFL_")]
            if leftovers:
                sys.exit(f"unconverted ops left: {leftovers}")
            canonicalize(
                model,
                structural_names=spec.get("structural_names", False),
                doc=f"Converted from mediapipe {version}: mediapipe/{spec['src']} "
                f"(Apache-2.0, MediaPipe authors) with tf2onnx {tf2onnx.__version__}, opset {spec['opset']}",
            )
            model.producer_version = tf2onnx.__version__
            onnx.checker.check_model(model, full_check=True)
            dst.write_bytes(model.SerializeToString())
            results[spec["name"]] = {"src": src, "dst": dst}
            d = describe(dst)
            print(f"    -> {dst.name} {dst.stat().st_size} bytes, inputs {d['inputs']}, outputs {d['outputs']}")

    sums = []
    for spec in MODELS:
        dst = results[spec["name"]]["dst"]
        sums.append(f"{hashlib.sha256(dst.read_bytes()).hexdigest()}  {dst.name}\n")
    (out_dir / "SHA256SUMS").write_text("".join(sums))
    print("SHA256SUMS:\n" + "".join(sums), end="")

    if args.skip_check:
        return
    print(f"checks on {args.image}")
    img = load_rgb(Path(args.image))
    report = {}
    # detector: whole image, 128x128, [-1, 1]
    x = (resize(img, 128).astype(np.float32) / 127.5 - 1.0)[None]
    a = tflite_run(results["face_detector"]["src"], x)
    b = onnx_run(results["face_detector"]["dst"], x)
    report["face_detector"] = report_diff("face_detector", a, b)
    best = int(np.argmax(b["classificators"][0, :, 0]))
    print(f"    best anchor {best}: score {1 / (1 + np.exp(-b['classificators'][0, best, 0])):.4f}")
    # mesh with attention: face crop, 192x192, [0, 1]; custom ops, so MediaPipe's own InferenceCalculator
    crop = face_crop_for_mesh(img, b)
    if args.mediapipe_python:
        a, x = mediapipe_model_outputs(args.mediapipe_python, results["face_mesh_attention"]["src"], crop)
        b = onnx_run(results["face_mesh_attention"]["dst"], x)
        report["face_mesh_attention"] = report_diff("face_mesh_attention (MediaPipe)", a, b)
        print(f"    face presence {1 / (1 + np.exp(-float(b['conv_faceflag'].ravel()[0]))):.4f}")
    else:
        print("    face_mesh_attention: skipped (pass --mediapipe-python to compare with MediaPipe's interpreter)")
    # segmentation: no TFLite interpreter with MediaPipe's custom op here
    img256 = resize(img, 256)
    if args.mediapipe_python:
        report["selfie_segmentation"] = {
            "activation_10 vs MediaPipe graph": check_segmentation_with_mediapipe(
                args.mediapipe_python, results["selfie_segmentation"]["dst"], img256)
        }
    else:
        print("    selfie_segmentation: skipped (pass --mediapipe-python to compare with MediaPipe's graph)")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
