#!/usr/bin/env python3
"""Checks a converted pack against LivePortrait's own code, run on the same weights, crops and driver frames.

    python convert.py --random-weights --seed 7 --save-checkpoints CKPT --out PACK
    python compare_reference.py --reference REF --checkpoints CKPT --pack PACK [--json figures.json]

REF is a checkout of KwaiVGI/LivePortrait (the folder holding its `src/`), read at run time and never copied: its
`LivePortraitWrapper` loads CKPT with its own `load_model` and model classes (strict state-dict loading) and runs
on the CPU in float32; its `crop_image` crops with OpenCV. The other side is our pipeline (lp_numpy.py: numpy +
ONNX Runtime on PACK, the formulas the Rust code implements). Both get the same inputs: the demo portrait
resources/demo/astronaut.png with the first frame of resources/demo/track.json as its 68 landmarks (the reference's
cropper needs InsightFace, so its landmark detector is not used) and three driver frames made from the portrait by
fixed similarity transforms (driver frame 0 is the reference frame of relative motion).

Figures (max abs diff unless said): the crop (mean abs), raw motion outputs, pose in degrees, x_s, relative x_d,
stitching delta and stitched x_d, eye and lip retargeting deltas, feature volume, warped feature, generated 512 crop
(mean abs). Exit status 1 when one is over its bound: keypoint figures 1e-4, crops and images 1e-3 mean abs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))
import lp_numpy as lp  # noqa: E402

# driver frames: similarity transforms of the portrait about the face centre: (degrees, scale, dx, dy)
DRIVERS = [(0.0, 1.0, 0.0, 0.0), (8.0, 1.06, 4.0, -3.0), (-6.0, 0.95, -9.0, 5.0)]
EYE = (0.31, 0.29, 0.12)       # source left, source right, driving
LIP = (0.05, 0.42)             # source, driving
BOUND_KP = 1e-4
BOUND_IMG = 1e-3


def similarity(deg: float, s: float, dx: float, dy: float, centre) -> np.ndarray:
    a = np.deg2rad(deg)
    r = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    c = np.asarray(centre, np.float64)
    return np.hstack([r, (c - r @ c + [dx, dy])[:, None]])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", type=Path, required=True, help="LivePortrait checkout (holds src/)")
    ap.add_argument("--checkpoints", type=Path, required=True, help="the checkpoints the pack was converted from")
    ap.add_argument("--pack", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(args.reference.resolve()))
    from src.config.inference_config import InferenceConfig
    from src.live_portrait_wrapper import LivePortraitWrapper
    from src.utils.camera import get_rotation_matrix
    from src.utils.crop import crop_image
    from src.utils.helper import calc_motion_multiplier

    ck = args.checkpoints
    cfg = InferenceConfig(
        checkpoint_F=str(ck / "base_models/appearance_feature_extractor.pth"),
        checkpoint_M=str(ck / "base_models/motion_extractor.pth"),
        checkpoint_W=str(ck / "base_models/warping_module.pth"),
        checkpoint_G=str(ck / "base_models/spade_generator.pth"),
        checkpoint_S=str(ck / "retargeting_models/stitching_retargeting_module.pth"),
        flag_force_cpu=True, flag_use_half_precision=False)
    ref = LivePortraitWrapper(cfg)
    manifest, sess = lp.load_pack(args.pack, args.threads)
    conv = manifest["conventions"]
    c = conv["crop"]

    portrait_u8 = np.asarray(cv2.cvtColor(cv2.imread(str(ROOT / "resources/demo/astronaut.png")), cv2.COLOR_BGR2RGB))
    track = json.loads((ROOT / "resources/demo/track.json").read_text())
    lmk = np.asarray(track["frames"][0]["landmarks"], np.float64)
    centre = lmk.mean(0)
    figs: dict = {}

    # ---- crops: ours (numpy) vs the reference's crop_image (OpenCV) + prepare_source's resize to 256 ----------
    frames = []
    for deg, s, dx, dy in DRIVERS:
        m = similarity(deg, s, dx, dy, centre)
        img = cv2.warpAffine(portrait_u8, m, (512, 512), flags=cv2.INTER_LINEAR)
        frames.append((img, lmk @ m[:, :2].T + m[:, 2]))
    crop_diffs, crop_diffs_u8 = [], []
    ours_crops = []
    for img, pts in [(portrait_u8, lmk)] + frames:
        ours = lp.crop_256(img.astype(np.float64) / 255.0, pts, conv)
        ours_crops.append(ours)
        kw = dict(dsize=512, scale=c["scale"], vx_ratio=c["vx_ratio"], vy_ratio=c["vy_ratio"])
        rf = crop_image(img.astype(np.float32) / 255.0, pts, **kw)["img_crop"]
        rf = cv2.resize(rf, (256, 256))          # prepare_source's resize (INTER_LINEAR)
        crop_diffs.append(float(np.abs(rf.transpose(2, 0, 1)[None] - ours).mean()))
        ru = crop_image(img, pts, **kw)["img_crop"]
        ru = cv2.resize(ru, (256, 256)).astype(np.float32) / 255.0
        crop_diffs_u8.append(float(np.abs(ru.transpose(2, 0, 1)[None] - ours).mean()))
    figs["crop_mean_abs_float"] = max(crop_diffs)
    figs["crop_mean_abs_uint8_reference"] = max(crop_diffs_u8)
    src_img, drv_imgs = ours_crops[0], ours_crops[1:]

    # ---- models and keypoint maths on the same (our) crops --------------------------------------------------------
    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    def worst(key, a, b):
        figs[key] = max(figs.get(key, 0.0), float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()))

    with torch.no_grad():
        raw_ref_all = [ref.motion_extractor(t(x)) for x in [src_img, *drv_imgs]]
    raws = [lp.raw_motion(sess["motion"], x) for x in [src_img, *drv_imgs]]
    for rr, ro in zip(raw_ref_all, raws):
        for k in ("pitch", "yaw", "roll", "t", "exp", "scale", "kp"):
            worst("raw_motion", rr[k].numpy(), ro[k])

    kp_ref = [ref.get_kp_info(t(x)) for x in [src_img, *drv_imgs]]
    infos = [lp.motion_info(r, conv) for r in raws]
    for kr, io in zip(kp_ref, infos):
        worst("pose_degrees", [kr[k].item() for k in ("pitch", "yaw", "roll")], [io[k] for k in ("pitch", "yaw", "roll")])
        rot = get_rotation_matrix(kr["pitch"], kr["yaw"], kr["roll"])[0].numpy()
        worst("rotation", rot, io["R"])
    src_ref, d_ref = kp_ref[0], kp_ref[1:]
    src, drv = infos[0], infos[1:]

    x_s_ref = ref.transform_keypoint(src_ref)
    x_s = lp.transform(src)
    worst("x_s", x_s_ref[0].numpy(), x_s)

    f_s_ref = ref.extract_feature_3d(t(src_img))
    (f_s,) = sess["appearance"].run(None, {"image": src_img})
    worst("feature_3d", f_s_ref.numpy(), f_s)

    # relative motion exactly as the reference pipeline writes it (live_portrait_pipeline.py 319-387), in torch
    r_s = get_rotation_matrix(src_ref["pitch"], src_ref["yaw"], src_ref["roll"])
    d0 = d_ref[0]
    r_d0 = get_rotation_matrix(d0["pitch"], d0["yaw"], d0["roll"])
    stitched_ours = []
    for i, (di_ref, di) in enumerate(zip(d_ref, drv)):
        r_di = get_rotation_matrix(di_ref["pitch"], di_ref["yaw"], di_ref["roll"])
        r_new = (r_di @ r_d0.permute(0, 2, 1)) @ r_s
        delta_new = src_ref["exp"] + (di_ref["exp"] - d0["exp"])
        scale_new = src_ref["scale"] * (di_ref["scale"] / d0["scale"])
        t_new = src_ref["t"] + (di_ref["t"] - d0["t"])
        t_new[..., 2].fill_(0)
        x_d_ref = scale_new * (src_ref["kp"] @ r_new + delta_new) + t_new
        x_d = lp.relative(src, drv[0], di)
        worst("x_d_relative", x_d_ref[0].numpy(), x_d)
        # the CLI's default "expression-friendly" option (pipeline 389-395): for a still source, frame 0's x_d is
        # x_s itself, so the hull-volume multiplier is 1 and the result is the formula above
        if i == 0:
            x_d0_new = x_d_ref
            multiplier = calc_motion_multiplier(x_s_ref, x_d0_new)
            figs["expression_friendly_multiplier_minus_1"] = abs(float(multiplier) - 1.0)
        worst("expression_friendly_vs_relative", ((x_d_ref - x_d0_new) * multiplier + x_s_ref)[0].numpy(), x_d)
        st_ref = ref.stitching(x_s_ref, x_d_ref)
        delta_ref = ref.stitch(x_s_ref, x_d_ref)
        delta, st = lp.stitch(sess["stitching"], x_s, x_d)
        worst("stitching_delta", delta_ref[0].numpy(), delta)
        worst("x_d_stitched", st_ref[0].numpy(), st)
        stitched_ours.append((st_ref, st))

    eye_ref = ref.retarget_eye(x_s_ref, torch.tensor([list(EYE)], dtype=torch.float32))
    lip_ref = ref.retarget_lip(x_s_ref, torch.tensor([list(LIP)], dtype=torch.float32))
    worst("eye_delta", eye_ref[0].numpy(), lp.retarget(sess["retarget_eye"], x_s, EYE))
    worst("lip_delta", lip_ref[0].numpy(), lp.retarget(sess["retarget_lip"], x_s, LIP))

    # ---- warping + generator: driver frame 1's stitched keypoints ---------------------------------------------------
    st_ref, st = stitched_ours[1]
    out_ref = ref.warp_decode(f_s_ref, x_s_ref, st_ref)
    wf, img = lp.warp_generate(sess, f_s, x_s, st)
    with torch.no_grad():
        wf_ours_ref = ref.warping_module(f_s_ref, kp_source=x_s_ref, kp_driving=st_ref)["out"].numpy()
    worst("warped_feature", wf_ours_ref, wf)
    figs["generated_mean_abs"] = float(np.abs(out_ref["out"].numpy() - img).mean())
    figs["generated_max_abs"] = float(np.abs(out_ref["out"].numpy() - img).max())
    # the same warp on the reference's keypoints fed to ONNX (isolates the ONNX export from the keypoint maths)
    wf2, img2 = lp.warp_generate(sess, f_s_ref.numpy(), x_s_ref[0].numpy().astype(np.float64),
                                 st_ref[0].numpy().astype(np.float64))
    with torch.no_grad():
        wf_ref = ref.warping_module(f_s_ref, kp_source=x_s_ref, kp_driving=st_ref)["out"].numpy()
    figs["onnx_vs_torch_warped_feature"] = float(np.abs(wf_ref - wf2).max())
    figs["onnx_vs_torch_image"] = float(np.abs(out_ref["out"].numpy() - img2).max())
    figs["generated_image_mean"] = float(img.astype(np.float64).mean())
    figs["generated_image_std"] = float(img.astype(np.float64).std())
    figs["motion_spread_x_d_minus_x_s"] = float(np.abs(stitched_ours[1][1] - x_s).max())

    ok = True
    print("figure                              value      bound")
    for k, v in figs.items():
        bound = None
        if k in ("crop_mean_abs_float", "generated_mean_abs"):
            bound = BOUND_IMG
        elif k in ("raw_motion", "x_s", "x_d_relative", "expression_friendly_vs_relative", "stitching_delta", "x_d_stitched", "eye_delta", "lip_delta",
                   "rotation"):
            bound = BOUND_KP
        flag = "" if bound is None or v <= bound else "  OVER"
        ok &= flag == ""
        print(f"{k:34s} {v:10.3g} {'' if bound is None else f'{bound:8.0e}'}{flag}")
    if args.json:
        args.json.write_text(json.dumps(figs, indent=1) + "\n")
    # save a look at the generated crop and the source crop
    look = np.concatenate([np.repeat(np.repeat(src_img[0], 2, 1), 2, 2), img[0]], axis=2)
    cv2.imwrite(str((args.json.parent if args.json else Path(".")) / "compare_look.png"),
                cv2.cvtColor((np.clip(look.transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    print("all within bounds" if ok else "SOME FIGURES OVER THEIR BOUNDS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
