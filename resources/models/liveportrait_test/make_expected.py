#!/usr/bin/env python3
"""Golden numbers for the `liveportrait` pipeline maths on the stand-in pack: writes expected.json beside it.

The Rust pipeline (src/packs/, pack kind `liveportrait`) is checked against these numbers to 1e-4. The maths is
resources/models/liveportrait/lp_numpy.py (numpy on top of ONNX Runtime), the module compare_reference.py checks
against LivePortrait's own code; it follows the reference (KwaiVGI/LivePortrait at
commit 1986663be3b6902605d32200c01f4bfd36cda83d; file/line citations in resources/models/liveportrait/README.md,
"The maths"), the same formulas the Rust side implements.

Inputs (no resampling, so the Rust test can rebuild them exactly from the demo portrait):
  - the demo portrait resources/demo/astronaut.png (512 x 512 RGB);
  - crops are plain 256 x 256 pixel windows of it, `[top:top+256, left:left+256]`, RGB / 255, NCHW float32:
      source          left 97,  top 8
      driver frame 0  left 97,  top 8   (the driver's reference frame, the same pixels as the source)
      driver frame 1  left 113, top 8   (the window moved 16 px right: the face moves left in the crop)
      driver frame 2  left 97,  top 8, mirrored left-right
  - fixed eye/lip openness ratios for the retargeting networks (the `retarget` block below).

Outputs (see expected.json's "notes"): pose in degrees from the bins, rotation matrices, x_s, per driver frame the
relative x_d (reference's relative-motion formula), the stitching delta and stitched x_d, the eye and lip deltas,
the retargeted + stitched keypoints, and for the warp/generator runs summary figures (means in float64, a few
sampled values) of the warped feature and the generated 512 crop. `crop_from_landmarks` checks the crop convention:
the image -> crop matrices from the demo track's first frame and figures of the resulting 256 crop.

    /work/venv-warp/bin/python resources/models/liveportrait_test/make_expected.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "liveportrait"))
import lp_numpy as lp  # noqa: E402  (the pipeline maths, shared with compare_reference.py)
PORTRAIT = ROOT / "resources" / "demo" / "astronaut.png"
CROPS = {  # name -> (left, top, mirrored)
    "source": (97, 8, False),
    "driver0": (97, 8, False),
    "driver1": (113, 8, False),
    "driver2": (97, 8, True),
}
RETARGET = {"source_eye_ratios": [0.31, 0.29], "driving_eye_ratio": 0.12,
            "source_lip_ratio": 0.05, "driving_lip_ratio": 0.42}
# sampled positions: feature [c, y, x], image [c, y, x]
FEATURE_SAMPLES = [[0, 0, 0], [17, 31, 40], [128, 32, 32], [200, 10, 55], [255, 63, 63]]
IMAGE_SAMPLES = [[0, 0, 0], [0, 256, 256], [1, 100, 300], [2, 400, 150], [2, 511, 511]]


def session(file: str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(HERE / file), so, providers=["CPUExecutionProvider"])


def crop(img: np.ndarray, left: int, top: int, mirrored: bool) -> np.ndarray:
    c = img[top:top + 256, left:left + 256].astype(np.float32) / np.float32(255.0)
    if mirrored:
        c = c[:, ::-1]
    return np.ascontiguousarray(c.transpose(2, 0, 1)[None])            # [1,3,256,256] RGB [0,1]


def motion_info(sess, image: np.ndarray, conv: dict) -> dict:
    return lp.motion_info(lp.raw_motion(sess, image), conv)


transform, relative, stitch = lp.transform, lp.relative, lp.stitch


def mlp(sess, x_s: np.ndarray, ratios) -> np.ndarray:
    return lp.retarget(sess, x_s, ratios)


def r(a, nd: int = 7):
    """rounded nested lists for JSON"""
    return np.round(np.asarray(a, np.float64), nd).tolist()


def warp_generate(warp, gen, f_s, x_s, x_d) -> dict:
    (wf,) = warp.run(None, {"feature_3d": f_s, "kp_driving": x_d[None].astype(np.float32),
                            "kp_source": x_s[None].astype(np.float32)})
    (img,) = gen.run(None, {"warped_feature": wf})
    return {
        "warped_feature": {"mean": r(wf.astype(np.float64).mean()), "mean_abs": r(np.abs(wf.astype(np.float64)).mean()),
                           "samples": [[*s, r(wf[0, s[0], s[1], s[2]])] for s in FEATURE_SAMPLES]},
        "image": {"mean": r(img.astype(np.float64).mean()),
                  "channel_means": r(img.astype(np.float64).mean(axis=(0, 2, 3))),
                  "samples": [[*s, r(img[0, s[0], s[1], s[2]])] for s in IMAGE_SAMPLES]},
    }


def main() -> None:
    manifest = json.loads((HERE / "manifest.json").read_text())
    conv = manifest["conventions"]
    s = {role: session(manifest[role]["file"]) for role in
         ("appearance", "motion", "warping", "generator", "stitching", "retarget_eye", "retarget_lip")}
    img = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    crops = {k: crop(img, *v) for k, v in CROPS.items()}

    (f_s,) = s["appearance"].run(None, {"image": crops["source"]})
    src = motion_info(s["motion"], crops["source"], conv)
    x_s = transform(src)
    drivers = {k: motion_info(s["motion"], crops[k], conv) for k in ("driver0", "driver1", "driver2")}

    def info_json(i: dict) -> dict:
        return {"pitch": r(i["pitch"]), "yaw": r(i["yaw"]), "roll": r(i["roll"]), "t": r(i["t"]),
                "scale": r(i["scale"]), "exp": r(i["exp"]), "kp": r(i["kp"]), "R": r(i["R"])}

    out = {
        "notes": [
            "Generated by make_expected.py from the stand-in models in this folder; regenerate after build_standin.py.",
            "Crops: 256x256 windows [top:top+256, left:left+256] of resources/demo/astronaut.png, RGB/255, NCHW float32,"
            " 'mirrored' flips left-right after cropping. No resampling.",
            "pitch/yaw/roll in degrees = sum(softmax(logits) * bin index) * bin_degrees + bin_offset_degrees.",
            "R is the matrix row keypoints are right-multiplied by: (Rz(roll) Ry(yaw) Rx(pitch))^T.",
            "x = scale * (kp @ R + exp); x[:, 0:2] += t[0:2] (t's z is not applied).",
            "x_d_relative (driver frame i, reference frame driver0): R_new = R_di @ R_d0^T @ R_s, exp_new = exp_s +"
            " exp_di - exp_d0, scale_new = scale_s * scale_di / scale_d0, t_new = t_s + t_di - t_d0 with t_new z = 0,"
            " x = scale_new * (kp_s @ R_new + exp_new) + t_new.",
            "stitching: delta = stitching(concat(x_s flat, x_d flat)); x_d_stitched = x_d + delta[0:63] (as 21x3),"
            " then x,y += delta[63:65].",
            "retarget: eye_delta = retarget_eye(concat(x_s flat, source_eye_ratios, driving_eye_ratio)); lip_delta ="
            " retarget_lip(concat(x_s flat, source_lip_ratio, driving_lip_ratio)); retargeted = x_s + eye_delta +"
            " lip_delta, then stitched.",
            "warp runs: warping(feature_3d = appearance(source), kp_driving = the stitched keypoints, kp_source = x_s),"
            " then generator; means in float64; samples are [c, y, x, value] of batch 0.",
        ],
        "crops": {k: {"left": v[0], "top": v[1], "mirrored": v[2]} for k, v in CROPS.items()},
        "feature_3d": {"mean": r(f_s.astype(np.float64).mean()), "mean_abs": r(np.abs(f_s.astype(np.float64)).mean()),
                       "samples": [[0, 0, 0, 0, r(f_s[0, 0, 0, 0, 0])], [31, 15, 63, 63, r(f_s[0, 31, 15, 63, 63])],
                                   [7, 3, 20, 40, r(f_s[0, 7, 3, 20, 40])]]},
        "source": {**info_json(src), "x_s": r(x_s)},
        "drivers": {},
        "retarget": dict(RETARGET),
        "warp_runs": {},
    }
    for k, d in drivers.items():
        x_rel = relative(src, drivers["driver0"], d)
        delta, x_st = stitch(s["stitching"], x_s, x_rel)
        out["drivers"][k] = {**info_json(d), "x_d": r(transform(d)), "x_d_relative": r(x_rel),
                             "stitching_delta": r(delta), "x_d_stitched": r(x_st)}
    eye = mlp(s["retarget_eye"], x_s, [*RETARGET["source_eye_ratios"], RETARGET["driving_eye_ratio"]])
    lip = mlp(s["retarget_lip"], x_s, [RETARGET["source_lip_ratio"], RETARGET["driving_lip_ratio"]])
    ret = x_s + eye + lip
    ret_delta, ret_st = stitch(s["stitching"], x_s, ret)
    out["retarget"].update({"eye_delta": r(eye), "lip_delta": r(lip), "x_d_retargeted": r(ret),
                            "stitching_delta": r(ret_delta), "x_d_stitched": r(ret_st)})
    out["warp_runs"]["source_identity"] = warp_generate(s["warping"], s["generator"], f_s, x_s, x_s)
    out["warp_runs"]["driver1"] = warp_generate(s["warping"], s["generator"], f_s, x_s,
                                                np.asarray(out["drivers"]["driver1"]["x_d_stitched"]))
    out["warp_runs"]["retarget"] = warp_generate(s["warping"], s["generator"], f_s, x_s, ret_st)
    # the crop convention from landmarks: the demo track's first frame on the demo portrait
    lmk = np.asarray(json.loads((ROOT / "resources/demo/track.json").read_text())["frames"][0]["landmarks"], np.float64)
    m512 = lp.crop_transform(lmk, 512, conv["crop"]["scale"], conv["crop"]["vx_ratio"], conv["crop"]["vy_ratio"])
    c256 = lp.crop_256(img.astype(np.float64) / 255.0, lmk, conv)
    out["crop_from_landmarks"] = {
        "landmarks": "resources/demo/track.json frames[0].landmarks, used as OpenCV pixel coordinates (the top-left"
                     " pixel's centre is (0, 0))",
        "matrix_512": r(m512, 9),
        "matrix_256": r(lp.crop_transform(lmk, 256, conv["crop"]["scale"], conv["crop"]["vx_ratio"],
                                          conv["crop"]["vy_ratio"]), 9),
        "crop_256": "warp to 512 with matrix_512 (image -> crop pixel coordinates; bilinear, black outside), then"
                    " 2x2 box average to 256; RGB/255",
        "crop_256_mean": r(c256.astype(np.float64).mean()),
        "crop_256_samples": [[*p_, r(c256[0, p_[0], p_[1], p_[2]])] for p_ in
                             [[0, 0, 0], [0, 128, 128], [1, 60, 200], [2, 200, 40], [2, 255, 255]]],
    }
    text = json.dumps(out, indent=1)
    (HERE / "expected.json").write_text(text + "\n")
    print(f"wrote expected.json ({len(text)} chars)")
    for k in ("driver1", "driver2"):
        d = out["drivers"][k]
        print(f"{k}: pose {d['pitch']:.3f} {d['yaw']:.3f} {d['roll']:.3f}; |x_rel - x_s| max "
              f"{np.abs(np.asarray(d['x_d_relative']) - x_s).max():.4f}")
    print("source pose", out["source"]["pitch"], out["source"]["yaw"], out["source"]["roll"], "scale",
          out["source"]["scale"])
    for k, w in out["warp_runs"].items():
        print(f"warp {k}: feature mean {w['warped_feature']['mean']}, image mean {w['image']['mean']}")


if __name__ == "__main__":
    main()
