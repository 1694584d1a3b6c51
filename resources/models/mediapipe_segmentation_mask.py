#!/usr/bin/env python3
"""Run MediaPipe's own selfie-segmentation graph on an image and save the mask (helper for convert.py).

Usage: python mediapipe_segmentation_mask.py IN.npy OUT.npy
IN.npy: uint8 RGB image [H, W, 3]. For a 256x256 image, the graph's ImageToTensor and mask resize steps are
identities, so OUT.npy (float32 [H, W]) is the TFLite model's `activation_10` output itself.
Needs a Python where `import mediapipe` works (mediapipe 0.10.14 wants protobuf<5).
"""
import sys

import numpy as np


def main() -> None:
    import mediapipe as mp

    img = np.ascontiguousarray(np.load(sys.argv[1]))
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        mask = seg.process(img).segmentation_mask
    np.save(sys.argv[2], np.asarray(mask, dtype=np.float32))


if __name__ == "__main__":
    main()
