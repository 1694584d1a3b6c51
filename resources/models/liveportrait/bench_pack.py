#!/usr/bin/env python3
"""Times a `liveportrait` pack on ONNX Runtime's CPU provider, the way the plugin runs it: per-model milliseconds,
the first frame (source features + keypoints, then a driven frame) and steady frames (driver motion, stitching,
warping, generator; the source's features and keypoints cached), and the process's peak resident memory.

    python bench_pack.py --pack /path/to/pack [--threads 2] [--frames 3] [--json out.json]

Inputs are a fixed crop of the demo portrait and small keypoint motions; with random weights the pixels mean
nothing but the cost is the real architecture's. Needs numpy, onnxruntime (requirements.txt).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import lp_numpy as lp  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0      # Linux: kilobytes


def torch_times(ckpt: Path, threads: int, f_s: np.ndarray, x_s: np.ndarray, frames: int) -> dict:
    """warping + generator in torch (float32, CPU) on the same inputs, for comparison"""
    import torch
    import convert

    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    models = {r: convert.build(r) for r in convert.CONTRACT}
    convert.load_checkpoints(models, ckpt)
    fs, xs = torch.from_numpy(f_s), torch.from_numpy(x_s[None].astype(np.float32))
    warp, gen = [], []
    for i in range(frames + 1):
        xd = xs + 0.01 * (i + 1)
        a = time.perf_counter()
        wf = models["warping"](fs, xd, xs)
        b = time.perf_counter()
        models["generator"](wf)
        c = time.perf_counter()
        warp.append((b - a) * 1000)
        gen.append((c - b) * 1000)
    return {"torch": torch.__version__, "warping_ms": [round(v) for v in warp], "generator_ms": [round(v) for v in gen]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=3, help="steady frames to time")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--torch-checkpoints", type=Path,
                    help="also time warping + generator in torch (convert.py's modules, these checkpoints)")
    args = ap.parse_args()

    import onnxruntime as ort

    t0 = time.perf_counter()
    manifest, s = lp.load_pack(args.pack, args.threads)
    conv = manifest["conventions"]
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(3)
    src = rng.random((1, 3, 256, 256), dtype=np.float32)
    drivers = [np.clip(src + rng.normal(0, 0.05, src.shape).astype(np.float32), 0, 1) for _ in range(args.frames + 2)]
    ms: dict[str, list[float]] = {r: [] for r in lp.ROLES}

    def timed(role, fn):
        a = time.perf_counter()
        out = fn()
        ms[role].append((time.perf_counter() - a) * 1000)
        return out

    # first frame: everything, including the per-source work
    a = time.perf_counter()
    (f_s,) = timed("appearance", lambda: s["appearance"].run(None, {"image": src}))
    src_info = lp.motion_info(timed("motion", lambda: lp.raw_motion(s["motion"], src)), conv)
    x_s = lp.transform(src_info)
    d0 = lp.motion_info(timed("motion", lambda: lp.raw_motion(s["motion"], drivers[0])), conv)

    def frame(drv):
        di = lp.motion_info(timed("motion", lambda: lp.raw_motion(s["motion"], drv)), conv)
        x_d = lp.relative(src_info, d0, di)
        _, st = timed("stitching", lambda: lp.stitch(s["stitching"], x_s, x_d))
        timed("retarget_eye", lambda: lp.retarget(s["retarget_eye"], x_s, (0.3, 0.3, 0.2)))
        timed("retarget_lip", lambda: lp.retarget(s["retarget_lip"], x_s, (0.05, 0.3)))
        (wf,) = timed("warping", lambda: s["warping"].run(None, {"feature_3d": f_s, "kp_driving": st[None].astype(np.float32),
                                                                 "kp_source": x_s[None].astype(np.float32)}))
        (img,) = timed("generator", lambda: s["generator"].run(None, {"warped_feature": wf}))
        return img

    frame(drivers[1])
    first_ms = (time.perf_counter() - a) * 1000
    steady = []
    for drv in drivers[2:]:
        a = time.perf_counter()
        img = frame(drv)
        steady.append((time.perf_counter() - a) * 1000)
    res = {
        "onnxruntime": ort.__version__, "threads": args.threads, "cpu": platform.processor() or platform.machine(),
        "cpus_visible": os.cpu_count(), "load_average_at_end": os.getloadavg(),
        "session_load_s": round(load_s, 2), "first_frame_ms": round(first_ms), "steady_frame_ms": [round(v) for v in steady],
        "per_model_ms_median": {r: round(float(np.median(v)), 1) for r, v in ms.items() if v},
        "peak_rss_mb": round(peak_rss_mb()), "output": list(img.shape),
    }
    if args.torch_checkpoints:
        res["torch"] = torch_times(args.torch_checkpoints, args.threads, f_s, x_s, args.frames)
    for k, v in res.items():
        print(f"{k:22s} {v}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
