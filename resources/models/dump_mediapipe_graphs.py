#!/usr/bin/env python3
"""Print the MediaPipe graph configurations that README.md's "Pipeline recipe" is read from.

The top-level graphs ship as .binarypb files in the mediapipe wheel; their subgraphs (FaceDetection,
FaceDetectionFrontDetectionToRoi, FaceLandmarkCpu, ...) are compiled into the native extension as serialized
CalculatorGraphConfig messages. This script finds each subgraph by its type name inside the extension and decodes
it with MediaPipe's own protobuf classes, so the option values (anchors, thresholds, crop scale, tensor ranges)
come from the installed wheel rather than from memory.

Needs a Python where `import mediapipe` works (resources/models/requirements-mediapipe.txt):

    python resources/models/dump_mediapipe_graphs.py > graphs.txt
"""
from __future__ import annotations

import glob
import importlib
import os
import sys

SUBGRAPHS = [
    "FaceDetectionShortRange",
    "FaceDetection",
    "FaceDetectionFrontDetectionToRoi",
    "FaceLandmarkCpu",
    "TensorsToFaceLandmarks",
    "FaceLandmarkLandmarksToRoi",
    "FaceLandmarksModelLoader",
]
BINARY_GRAPHS = [
    "modules/face_detection/face_detection_short_range_cpu.binarypb",
    "modules/face_landmark/face_landmark_front_cpu.binarypb",
    "modules/selfie_segmentation/selfie_segmentation_cpu.binarypb",
]
# option messages that must be registered for the text dump to show their fields
OPTION_MODULES = [
    "mediapipe.calculators.tensor.image_to_tensor_calculator_pb2",
    "mediapipe.calculators.tflite.ssd_anchors_calculator_pb2",
    "mediapipe.calculators.tensor.tensors_to_detections_calculator_pb2",
    "mediapipe.calculators.util.non_max_suppression_calculator_pb2",
    "mediapipe.calculators.util.detections_to_rects_calculator_pb2",
    "mediapipe.calculators.util.rect_transformation_calculator_pb2",
    "mediapipe.calculators.tensor.tensors_to_landmarks_calculator_pb2",
    "mediapipe.calculators.tensor.tensors_to_floats_calculator_pb2",
    "mediapipe.calculators.tensor.tensors_to_segmentation_calculator_pb2",
    "mediapipe.calculators.util.thresholding_calculator_pb2",
    "mediapipe.calculators.tensor.inference_calculator_pb2",
    "mediapipe.calculators.util.landmark_projection_calculator_pb2",
    "mediapipe.calculators.util.association_calculator_pb2",
    "mediapipe.calculators.core.split_vector_calculator_pb2",
    "mediapipe.calculators.core.constant_side_packet_calculator_pb2",
    "mediapipe.calculators.core.gate_calculator_pb2",
    "mediapipe.framework.tool.switch_container_pb2",
    "mediapipe.modules.face_detection.face_detection_pb2",
]


def find_embedded(blob: bytes, type_name: str, config_cls):
    """Serialized CalculatorGraphConfig messages whose last field is `type: "<type_name>"` (field 20)."""
    name = type_name.encode()
    tail = b"\xa2\x01" + bytes([len(name)]) + name
    pos = blob.find(tail)
    while pos >= 0:
        end = pos + len(tail)
        best = None
        # the message starts with field 1 (node, tag 0x0a); take the longest slice that round-trips exactly
        for start in range(end - 2, max(0, end - 65536), -1):
            if blob[start] != 0x0A:
                continue
            cfg = config_cls()
            try:
                cfg.ParseFromString(blob[start:end])
            except Exception:  # noqa: BLE001 - not a message boundary
                continue
            if cfg.node and cfg.SerializeToString() == blob[start:end]:
                best = cfg
        if best is not None:
            yield best
        pos = blob.find(tail, pos + 1)


def main() -> None:
    import mediapipe
    from mediapipe.framework import calculator_pb2

    for mod in OPTION_MODULES:
        try:
            importlib.import_module(mod)
        except ImportError as e:
            print(f"# (options module {mod} not available: {e})", file=sys.stderr)
    root = os.path.dirname(mediapipe.__file__)
    print(f"# mediapipe {mediapipe.__version__}")
    for rel in BINARY_GRAPHS:
        cfg = calculator_pb2.CalculatorGraphConfig()
        with open(os.path.join(root, rel), "rb") as f:
            cfg.ParseFromString(f.read())
        print(f"\n######## {rel}\n{cfg}")
    so = glob.glob(os.path.join(root, "python", "_framework_bindings*.so"))[0]
    with open(so, "rb") as f:
        blob = f.read()
    for name in SUBGRAPHS:
        for cfg in find_embedded(blob, name, calculator_pb2.CalculatorGraphConfig):
            print(f"\n######## subgraph {name} (embedded in {os.path.basename(so)})\n{cfg}")
            for node in cfg.node:  # options given as a typed Any (e.g. FaceDetectionOptions): decode them too
                for any_opt in node.node_options:
                    if any_opt.type_url.endswith("mediapipe.FaceDetectionOptions"):
                        from mediapipe.modules.face_detection import face_detection_pb2

                        opt = face_detection_pb2.FaceDetectionOptions()
                        opt.ParseFromString(any_opt.value)
                        print(f"# {node.calculator} node_options (FaceDetectionOptions):\n{opt}")


if __name__ == "__main__":
    main()
