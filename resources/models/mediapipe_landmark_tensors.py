#!/usr/bin/env python3
"""Run a MediaPipe landmark model (with MediaPipe's custom TFLite operators) on a 192×192 image; save its outputs.

Helper for ``convert.py``: TensorFlow's TFLite interpreter cannot run ``face_landmark_with_attention.tflite``
(MediaPipe custom operators), so the converted ONNX model is compared with MediaPipe's own InferenceCalculator,
which registers them (TfLiteCustomOpResolverCalculator). The graph: ImageToTensorCalculator (whole image,
192×192, range 0…1) → InferenceCalculator (CPU, XNNPACK, as in FaceLandmarkCpu) → one TensorsToFloatsCalculator
per output. The input tensor is saved too, so the ONNX model can be fed exactly the same numbers.

Needs a Python with a working ``import mediapipe`` (requirements-mediapipe.txt):

    python mediapipe_landmark_tensors.py MODEL.tflite IMAGE_192x192.npy OUT.npz N_OUTPUTS
"""
from __future__ import annotations

import sys

import numpy as np


def main() -> None:
    model, image_npy, out_npz, n_out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    import mediapipe as mp

    img = np.ascontiguousarray(np.load(image_npy).astype(np.uint8))
    h, w = img.shape[:2]
    split = "".join(f"ranges {{ begin: {k} end: {k + 1} }} " for k in range(n_out))
    outs = "".join(f'output_stream: "t{k}" ' for k in range(n_out))
    floats = "".join(
        f'node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:t{k}" output_stream: "FLOATS:f{k}" }}\n'
        for k in range(n_out))
    config = f"""
input_stream: "image"
node {{
  calculator: "ImageToTensorCalculator"
  input_stream: "IMAGE:image"
  output_stream: "TENSORS:input_tensors"
  options {{ [mediapipe.ImageToTensorCalculatorOptions.ext] {{
    output_tensor_width: {w} output_tensor_height: {h} keep_aspect_ratio: false
    output_tensor_float_range {{ min: 0.0 max: 1.0 }} }} }}
}}
node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:input_tensors" output_stream: "FLOATS:input_floats" }}
node {{ calculator: "TfLiteCustomOpResolverCalculator" output_side_packet: "OP_RESOLVER:op_resolver" }}
node {{
  calculator: "InferenceCalculator"
  input_stream: "TENSORS:input_tensors"
  output_stream: "TENSORS:output_tensors"
  input_side_packet: "OP_RESOLVER:op_resolver"
  options {{ [mediapipe.InferenceCalculatorOptions.ext] {{ model_path: "{model}" delegate {{ xnnpack {{}} }} }} }}
}}
node {{
  calculator: "SplitTensorVectorCalculator"
  input_stream: "output_tensors"
  {outs}
  options {{ [mediapipe.SplitVectorCalculatorOptions.ext] {{ {split} }} }}
}}
{floats}
"""
    graph = mp.CalculatorGraph(graph_config=config)
    got: dict[str, np.ndarray] = {}
    names = ["input_floats"] + [f"f{k}" for k in range(n_out)]
    for name in names:
        graph.observe_output_stream(
            name, lambda stream, packet: got.__setitem__(stream, np.array(mp.packet_getter.get_float_list(packet),
                                                                          dtype=np.float32)))
    graph.start_run()
    frame = mp.packet_creator.create_image_frame(image_format=mp.ImageFormat.SRGB, data=img)
    graph.add_packet_to_input_stream("image", frame.at(0))
    graph.close()
    missing = [n for n in names if n not in got]
    if missing:
        sys.exit(f"no output on {missing}")
    np.savez(out_npz, input=got["input_floats"].reshape(1, h, w, 3), **{f"out{k}": got[f"f{k}"] for k in range(n_out)})


if __name__ == "__main__":
    main()
