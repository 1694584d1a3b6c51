#!/usr/bin/env python3
"""Converts LivePortrait's PyTorch checkpoints (or random-weight ones of the same architecture) into a
`liveportrait` model pack for Living Portrait: seven ONNX files + manifest.json with sizes and SHA-256 sums.

    # the public weights (see README.md for where to get them):
    python convert.py --checkpoints /path/to/pretrained_weights/liveportrait --out /path/to/pack
    # random weights of the exact architecture (for verification and benchmarks), also keeping the .pth files:
    python convert.py --random-weights --seed 7 --save-checkpoints /tmp/lp-ckpt --out /tmp/lp-pack
    # then, from the repository root:  cargo run --release -p installer -- install --pack /path/to/pack

The module definitions below are ours, written from the architecture LivePortrait publishes (paper: Guo et al.
2024, "LivePortrait: Efficient Portrait Animation with Stitching and Retargeting Control", arXiv:2407.03168; sizes
from the reference's `src/config/models.yaml`). They name their parameters as the reference does, so the original
checkpoints load with `strict=True`. Before export the SPADE generator's spectral norms are folded into plain
weights (`weight = weight_orig / sigma`, sigma = u . (W v) with the stored u, v: what spectral norm computes in
evaluation mode), so the ONNX graph has no power-iteration arithmetic. The warping module is exported at ONNX opset
20, the first opset whose GridSample is specified for 5-D inputs; the others at opset 17.

Needs the pinned environment in requirements.txt (CPU torch from PyPI, onnx, onnxruntime for --check).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NUM_KP = 21
BINS = 66
OPSET = 17
OPSET_WARP = 20

# ---------------------------------------------------------------------------------------------------------------
# Building blocks. Attribute names (conv, norm, conv1, norm1, mlp_shared.0, weight_orig, ...) are the checkpoint's
# parameter names; everything else is our own arrangement.
# ---------------------------------------------------------------------------------------------------------------


class ConvNormAct(nn.Module):
    """conv -> batch norm -> ReLU (or leaky ReLU, slope 0.01) [-> 2x2 average pool, spatial axes only].

    2-D or 3-D. The reference calls these SameBlock2d / DownBlock2d / DownBlock3d."""

    def __init__(self, dims: int, cin: int, cout: int, leaky: bool = False, pool: bool = False):
        super().__init__()
        conv, bn = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d)
        self.conv = conv(cin, cout, kernel_size=3, padding=1)
        self.norm = bn(cout, affine=True)
        self.leaky = leaky
        self.pool = pool
        self.dims = dims

    def forward(self, x):
        x = self.norm(self.conv(x))
        x = F.leaky_relu(x, 0.01) if self.leaky else F.relu(x)
        if self.pool:
            x = F.avg_pool2d(x, 2) if self.dims == 2 else F.avg_pool3d(x, (1, 2, 2))
        return x


class UpConvNormAct3d(nn.Module):
    """nearest 2x upsampling of H and W -> conv3d -> batch norm -> ReLU (the reference's UpBlock3d)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(cout, affine=True)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest")
        return F.relu(self.norm(self.conv(x)))


class PreActResidual3d(nn.Module):
    """x + conv2(relu(bn2(conv1(relu(bn1(x)))))), 3x3x3 convolutions (the reference's ResBlock3d)."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = nn.Conv3d(ch, ch, kernel_size=3, padding=1)
        self.conv2 = nn.Conv3d(ch, ch, kernel_size=3, padding=1)
        self.norm1 = nn.BatchNorm3d(ch, affine=True)
        self.norm2 = nn.BatchNorm3d(ch, affine=True)

    def forward(self, x):
        y = self.conv1(F.relu(self.norm1(x)))
        y = self.conv2(F.relu(self.norm2(y)))
        return x + y


def coordinate_grid(d: int, h: int, w: int) -> torch.Tensor:
    """[d, h, w, 3] grid of (x, y, z) in -1..1, pixel centres at the ends (i / (n - 1) * 2 - 1): x right, y down,
    z inwards. This is the grid LivePortrait's keypoints live in."""
    axes = [torch.arange(n, dtype=torch.float32) / (n - 1) * 2 - 1 for n in (d, h, w)]
    z, y, x = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([x, y, z], dim=-1)


# ---------------------------------------------------------------------------------------------------------------
# F: appearance feature extractor
# ---------------------------------------------------------------------------------------------------------------


class AppearanceExtractor(nn.Module):
    """image [B,3,256,256] -> feature volume [B,32,16,64,64]."""

    def __init__(self, image_channel=3, block_expansion=64, num_down_blocks=2, max_features=512, reshape_channel=32,
                 reshape_depth=16, num_resblocks=6):
        super().__init__()
        self.c, self.d = reshape_channel, reshape_depth
        self.first = ConvNormAct(2, image_channel, block_expansion)
        widths = [min(max_features, block_expansion * 2 ** i) for i in range(num_down_blocks + 1)]
        self.down_blocks = nn.ModuleList(ConvNormAct(2, a, b, pool=True) for a, b in zip(widths, widths[1:]))
        self.second = nn.Conv2d(widths[-1], max_features, kernel_size=1)
        self.resblocks_3d = nn.Sequential()
        for i in range(num_resblocks):
            self.resblocks_3d.add_module(f"3dr{i}", PreActResidual3d(reshape_channel))

    def forward(self, image):
        x = self.first(image)
        for block in self.down_blocks:
            x = block(x)
        x = self.second(x)
        b, _, h, w = x.shape
        return self.resblocks_3d(x.reshape(b, self.c, self.d, h, w))


# ---------------------------------------------------------------------------------------------------------------
# M: motion extractor, a ConvNeXt V2 tiny backbone (Woo et al. 2023) with seven linear heads
# ---------------------------------------------------------------------------------------------------------------


class ChannelsFirstLayerNorm(nn.Module):
    """layer norm over the channel axis of [B,C,H,W], eps 1e-6."""

    def __init__(self, ch: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ch))
        self.bias = nn.Parameter(torch.zeros(ch))

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        return self.weight[:, None, None] * ((x - mu) / torch.sqrt(var + 1e-6)) + self.bias[:, None, None]


class ChannelsLastLayerNorm(nn.Module):
    """layer norm over the last axis, eps 1e-6 (parameters `weight`, `bias`)."""

    def __init__(self, ch: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ch))
        self.bias = nn.Parameter(torch.zeros(ch))

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, 1e-6)


class GlobalResponseNorm(nn.Module):
    """ConvNeXt V2's GRN on [B,H,W,C]: x + gamma * x * n + beta, n = |x|_2 over H,W / (its mean over C + 1e-6)."""

    def __init__(self, ch: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, ch))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, ch))

    def forward(self, x):
        g = torch.sqrt((x * x).sum(dim=(1, 2), keepdim=True))
        n = g / (g.mean(dim=-1, keepdim=True) + 1e-6)
        return x + self.gamma * (x * n) + self.beta


class ConvNeXtV2Block(nn.Module):
    """depthwise 7x7 -> LN -> linear 4x -> GELU -> GRN -> linear back, residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = ChannelsLastLayerNorm(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GlobalResponseNorm(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtV2Tiny(nn.Module):
    HEADS = ("pitch", "yaw", "roll", "t", "exp", "scale", "kp")

    def __init__(self, num_kp=NUM_KP, num_bins=BINS, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)):
        super().__init__()
        stem = nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4), ChannelsFirstLayerNorm(dims[0]))
        downs = [nn.Sequential(ChannelsFirstLayerNorm(a), nn.Conv2d(a, b, kernel_size=2, stride=2))
                 for a, b in zip(dims, dims[1:])]
        self.downsample_layers = nn.ModuleList([stem, *downs])
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtV2Block(d) for _ in range(n)]) for d, n in zip(dims, depths))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        width = {"pitch": num_bins, "yaw": num_bins, "roll": num_bins, "t": 3, "exp": 3 * num_kp, "scale": 1,
                 "kp": 3 * num_kp}
        for name, n in width.items():
            setattr(self, f"fc_{name}", nn.Linear(dims[-1], n))

    def forward(self, x):
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        feat = self.norm(x.mean(dim=(-2, -1)))
        return tuple(getattr(self, f"fc_{name}")(feat) for name in self.HEADS)


class MotionExtractor(nn.Module):
    """image [B,3,256,256] -> (pitch, yaw, roll bin logits [B,66], t [B,3], exp [B,63], scale [B,1], kp [B,63])."""

    def __init__(self, num_kp=NUM_KP, backbone="convnextv2_tiny", **_):
        super().__init__()
        if backbone != "convnextv2_tiny":
            raise ValueError(f"unknown motion extractor backbone {backbone!r}")
        self.detector = ConvNeXtV2Tiny(num_kp=num_kp)

    def forward(self, image):
        return self.detector(image)


# ---------------------------------------------------------------------------------------------------------------
# W: warping module (dense motion from the two keypoint sets, 5-D grid sampling of the feature volume)
# ---------------------------------------------------------------------------------------------------------------


class Hourglass3d(nn.Module):
    """U-net over [B,C,D,H,W] that halves/doubles H and W only. Parameters under encoder.down_blocks.i and
    decoder.{up_blocks.i, conv, norm}."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        width = [in_features] + [min(max_features, block_expansion * 2 ** (i + 1)) for i in range(num_blocks)]
        self.encoder = nn.Module()
        self.encoder.down_blocks = nn.ModuleList(ConvNormAct(3, width[i], width[i + 1], pool=True)
                                                 for i in range(num_blocks))
        self.decoder = nn.Module()
        ups = []
        for i in reversed(range(num_blocks)):
            cin = min(max_features, block_expansion * 2 ** (i + 1)) * (1 if i == num_blocks - 1 else 2)
            ups.append(UpConvNormAct3d(cin, min(max_features, block_expansion * 2 ** i)))
        self.decoder.up_blocks = nn.ModuleList(ups)
        self.out_filters = block_expansion + in_features
        self.decoder.conv = nn.Conv3d(self.out_filters, self.out_filters, kernel_size=3, padding=1)
        self.decoder.norm = nn.BatchNorm3d(self.out_filters, affine=True)

    def forward(self, x):
        skips = [x]
        for block in self.encoder.down_blocks:
            skips.append(block(skips[-1]))
        y = skips.pop()
        for block in self.decoder.up_blocks:
            y = torch.cat([block(y), skips.pop()], dim=1)
        return F.relu(self.decoder.norm(self.decoder.conv(y)))


class DenseMotion(nn.Module):
    """(feature [B,32,D,H,W], kp_driving, kp_source [B,K,3]) -> (deformation [B,D,H,W,3], occlusion [B,1,H,W])."""

    def __init__(self, num_kp=NUM_KP, feature_channel=32, block_expansion=32, max_features=1024, num_blocks=5,
                 reshape_depth=16, compress=4, estimate_occlusion_map=True, spatial=(16, 64, 64)):
        super().__init__()
        self.num_kp = num_kp
        n = num_kp + 1                                              # + the background (identity) motion
        self.hourglass = Hourglass3d(block_expansion, n * (compress + 1), num_blocks, max_features)
        self.mask = nn.Conv3d(self.hourglass.out_filters, n, kernel_size=7, padding=3)
        self.compress = nn.Conv3d(feature_channel, compress, kernel_size=1)
        self.norm = nn.BatchNorm3d(compress, affine=True)
        self.occlusion = (nn.Conv2d(self.hourglass.out_filters * reshape_depth, 1, kernel_size=7, padding=3)
                          if estimate_occlusion_map else None)
        self.register_buffer("grid", coordinate_grid(*spatial), persistent=False)

    def forward(self, feature, kp_driving, kp_source):
        b, _, d, h, w = feature.shape
        k = self.num_kp
        feat = F.relu(self.norm(self.compress(feature)))            # [B,4,D,H,W]
        c = feat.shape[1]
        grid = self.grid.view(1, 1, d, h, w, 3)
        # per keypoint: sample the source where the driving keypoint's neighbourhood came from (zero-order motion)
        shifted = grid - kp_driving.view(b, k, 1, 1, 1, 3) + kp_source.view(b, k, 1, 1, 1, 3)
        motions = torch.cat([grid.expand(b, 1, d, h, w, 3), shifted], dim=1)          # [B,K+1,D,H,W,3]
        feats = feat.unsqueeze(1).expand(b, k + 1, c, d, h, w).reshape(b * (k + 1), c, d, h, w)
        sampled = F.grid_sample(feats, motions.reshape(b * (k + 1), d, h, w, 3), align_corners=False)
        sampled = sampled.view(b, k + 1, c, d, h, w)
        # Gaussian heat maps (variance 0.01) of driving minus source keypoints, zero for the background
        def gauss(kp):
            diff = grid - kp.view(b, k, 1, 1, 1, 3)
            return torch.exp(-0.5 * (diff * diff).sum(-1) / 0.01)
        heat = gauss(kp_driving) - gauss(kp_source)                                       # [B,K,D,H,W]
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1).unsqueeze(2)       # [B,K+1,1,D,H,W]
        pred = self.hourglass(torch.cat([heat, sampled], dim=2).view(b, -1, d, h, w))
        weights = F.softmax(self.mask(pred), dim=1).unsqueeze(-1)                         # [B,K+1,D,H,W,1]
        deformation = (motions * weights).sum(dim=1)                                      # [B,D,H,W,3]
        occlusion = None
        if self.occlusion is not None:
            occlusion = torch.sigmoid(self.occlusion(pred.reshape(b, -1, h, w)))
        return deformation, occlusion


class WarpingModule(nn.Module):
    """(feature_3d [B,32,16,64,64], kp_driving, kp_source [B,21,3]) -> warped feature [B,256,64,64]."""

    def __init__(self, num_kp=NUM_KP, block_expansion=64, max_features=512, num_down_blocks=2, reshape_channel=32,
                 estimate_occlusion_map=True, dense_motion_params=None, **_):
        super().__init__()
        self.dense_motion_network = DenseMotion(num_kp=num_kp, feature_channel=reshape_channel,
                                                estimate_occlusion_map=estimate_occlusion_map,
                                                **(dense_motion_params or {}))
        width = block_expansion * 2 ** num_down_blocks
        self.third = ConvNormAct(2, max_features, width, leaky=True)
        self.fourth = nn.Conv2d(width, width, kernel_size=1)

    def forward(self, feature_3d, kp_driving, kp_source):
        deformation, occlusion = self.dense_motion_network(feature_3d, kp_driving, kp_source)
        warped = F.grid_sample(feature_3d, deformation, align_corners=False)
        b, c, d, h, w = warped.shape
        out = self.fourth(self.third(warped.reshape(b, c * d, h, w)))
        return out * occlusion if occlusion is not None else out


# ---------------------------------------------------------------------------------------------------------------
# G: SPADE decoder (Park et al. 2019 normalisation), 64 -> 512 pixels
# ---------------------------------------------------------------------------------------------------------------


class SpectralConv2d(nn.Module):
    """A 2-D convolution whose weight is `weight_orig / sigma` (spectral norm in evaluation mode: sigma = u . (W v)
    with W the weight reshaped to [out, -1] and the stored vectors u, v). `fold()` freezes the division so that the
    export holds plain weights."""

    def __init__(self, cin, cout, kernel_size, padding=0, bias=True):
        super().__init__()
        self.weight_orig = nn.Parameter(torch.empty(cout, cin, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight_orig, a=5 ** 0.5)
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.register_buffer("weight_u", F.normalize(torch.randn(cout), dim=0, eps=1e-12))
        self.register_buffer("weight_v", F.normalize(torch.randn(cin * kernel_size * kernel_size), dim=0, eps=1e-12))
        self.padding = padding
        self.folded = None

    def effective_weight(self) -> torch.Tensor:
        w = self.weight_orig
        sigma = torch.dot(self.weight_u, torch.mv(w.reshape(w.shape[0], -1), self.weight_v))
        return w / sigma

    def power_iterate(self, steps: int = 30) -> None:
        """what training does to u, v; only for random-weight checkpoints, so that sigma is the top singular value"""
        with torch.no_grad():
            wm = self.weight_orig.reshape(self.weight_orig.shape[0], -1)
            u, v = self.weight_u, self.weight_v
            for _ in range(steps):
                v = F.normalize(torch.mv(wm.t(), u), dim=0, eps=1e-12)
                u = F.normalize(torch.mv(wm, v), dim=0, eps=1e-12)
            self.weight_u.copy_(u)
            self.weight_v.copy_(v)

    def fold(self) -> None:
        with torch.no_grad():
            self.folded = self.effective_weight().detach().clone()

    def forward(self, x):
        w = self.folded if self.folded is not None else self.effective_weight()
        return F.conv2d(x, w, self.bias, padding=self.padding)


class SpadeNorm(nn.Module):
    """instance norm (no affine, eps 1e-5) modulated by gamma/beta maps computed from the segmentation input."""

    def __init__(self, norm_nc: int, label_nc: int, hidden: int = 128):
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, hidden, kernel_size=3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)

    def forward(self, x, seg):
        normalized = F.instance_norm(x, eps=1e-5)
        seg = F.interpolate(seg, size=(x.shape[2], x.shape[3]), mode="nearest")
        actv = self.mlp_shared(seg)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SpadeResidual(nn.Module):
    def __init__(self, fin: int, fout: int, label_nc: int):
        super().__init__()
        mid = min(fin, fout)
        self.learned_shortcut = fin != fout
        self.conv_0 = SpectralConv2d(fin, mid, 3, padding=1)
        self.conv_1 = SpectralConv2d(mid, fout, 3, padding=1)
        self.norm_0 = SpadeNorm(fin, label_nc)
        self.norm_1 = SpadeNorm(mid, label_nc)
        if self.learned_shortcut:
            self.conv_s = SpectralConv2d(fin, fout, 1, bias=False)
            self.norm_s = SpadeNorm(fin, label_nc)

    def forward(self, x, seg):
        skip = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return skip + dx


class SpadeGenerator(nn.Module):
    """warped feature [B,256,64,64] -> image [B,3,512,512] in 0..1."""

    def __init__(self, upscale=2, max_features=512, block_expansion=64, out_channels=64, num_down_blocks=2, **_):
        super().__init__()
        ch = min(max_features, block_expansion * 2 ** num_down_blocks)          # 256
        self.fc = nn.Conv2d(ch, 2 * ch, kernel_size=3, padding=1)
        for i in range(6):
            setattr(self, f"G_middle_{i}", SpadeResidual(2 * ch, 2 * ch, ch))
        self.up_0 = SpadeResidual(2 * ch, ch, ch)
        self.up_1 = SpadeResidual(ch, out_channels, ch)
        if upscale is None or upscale <= 1:
            self.conv_img = nn.Conv2d(out_channels, 3, kernel_size=3, padding=1)
        else:
            self.conv_img = nn.Sequential(nn.Conv2d(out_channels, 3 * 4, kernel_size=3, padding=1),
                                          nn.PixelShuffle(2))

    def forward(self, warped_feature):
        seg = warped_feature
        x = self.fc(warped_feature)
        for i in range(6):
            x = getattr(self, f"G_middle_{i}")(x, seg)
        x = self.up_0(F.interpolate(x, scale_factor=2.0, mode="nearest"), seg)
        x = self.up_1(F.interpolate(x, scale_factor=2.0, mode="nearest"), seg)
        return torch.sigmoid(self.conv_img(F.leaky_relu(x, 0.2)))

    def spectral_convs(self):
        return [m for m in self.modules() if isinstance(m, SpectralConv2d)]

    def fold_spectral_norm(self) -> None:
        for m in self.spectral_convs():
            m.fold()


# ---------------------------------------------------------------------------------------------------------------
# S, R_eye, R_lip: plain MLPs
# ---------------------------------------------------------------------------------------------------------------


class KeypointMLP(nn.Module):
    """linear/ReLU stack under `mlp` (indices 0, 2, 4, ... are the linear layers)."""

    def __init__(self, input_size: int, hidden_sizes, output_size: int):
        super().__init__()
        sizes = [input_size, *hidden_sizes]
        layers = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.mlp = nn.Sequential(*layers, nn.Linear(sizes[-1], output_size))

    def forward(self, x):
        return self.mlp(x)


# The published sizes (reference src/config/models.yaml).
PARAMS = {
    "appearance": dict(image_channel=3, block_expansion=64, num_down_blocks=2, max_features=512, reshape_channel=32,
                       reshape_depth=16, num_resblocks=6),
    "motion": dict(num_kp=NUM_KP, backbone="convnextv2_tiny"),
    "warping": dict(num_kp=NUM_KP, block_expansion=64, max_features=512, num_down_blocks=2, reshape_channel=32,
                    estimate_occlusion_map=True,
                    dense_motion_params=dict(block_expansion=32, max_features=1024, num_blocks=5, reshape_depth=16,
                                             compress=4)),
    "generator": dict(upscale=2, block_expansion=64, max_features=512, num_down_blocks=2),
    "stitching": dict(input_size=126, hidden_sizes=[128, 128, 64], output_size=65),
    "retarget_lip": dict(input_size=65, hidden_sizes=[128, 128, 64], output_size=63),
    "retarget_eye": dict(input_size=66, hidden_sizes=[256, 256, 128, 128, 64], output_size=63),
}
# Role -> key of the stitching/retargeting checkpoint (reference src/utils/helper.py, load_model).
SR_KEYS = {"stitching": "retarget_shoulder", "retarget_lip": "retarget_mouth", "retarget_eye": "retarget_eye"}
# Role -> checkpoint file in the release's `liveportrait/` folder.
CKPT_FILES = {
    "appearance": "base_models/appearance_feature_extractor.pth",
    "motion": "base_models/motion_extractor.pth",
    "warping": "base_models/warping_module.pth",
    "generator": "base_models/spade_generator.pth",
    "stitching_retargeting": "retargeting_models/stitching_retargeting_module.pth",
}

# The pack contract: role -> (file, opset, inputs, outputs).
CONTRACT = {
    "appearance": ("appearance_feature_extractor.onnx", OPSET,
                   {"image": [1, 3, 256, 256]}, {"feature_3d": [1, 32, 16, 64, 64]}),
    "motion": ("motion_extractor.onnx", OPSET, {"image": [1, 3, 256, 256]},
               {"pitch": [1, BINS], "yaw": [1, BINS], "roll": [1, BINS], "t": [1, 3], "exp": [1, 3 * NUM_KP],
                "scale": [1, 1], "kp": [1, 3 * NUM_KP]}),
    "warping": ("warping_module.onnx", OPSET_WARP,
                {"feature_3d": [1, 32, 16, 64, 64], "kp_driving": [1, NUM_KP, 3], "kp_source": [1, NUM_KP, 3]},
                {"warped_feature": [1, 256, 64, 64]}),
    "generator": ("spade_generator.onnx", OPSET, {"warped_feature": [1, 256, 64, 64]}, {"image": [1, 3, 512, 512]}),
    "stitching": ("stitching.onnx", OPSET, {"kp": [1, 126]}, {"delta": [1, 65]}),
    "retarget_eye": ("retarget_eye.onnx", OPSET, {"input": [1, 66]}, {"delta": [1, 63]}),
    "retarget_lip": ("retarget_lip.onnx", OPSET, {"input": [1, 65]}, {"delta": [1, 63]}),
}
CONVENTIONS = {
    "input_size": 256, "output_size": 512, "num_kp": NUM_KP, "channel_order": "RGB", "value_range": [0, 1],
    "crop": {"scale": 2.3, "vx_ratio": 0.0, "vy_ratio": -0.125},
    "pose_bins": BINS, "bin_degrees": 3.0, "bin_offset_degrees": -97.5,
}


def build(role: str) -> nn.Module:
    cls = {"appearance": AppearanceExtractor, "motion": MotionExtractor, "warping": WarpingModule,
           "generator": SpadeGenerator, "stitching": KeypointMLP, "retarget_lip": KeypointMLP,
           "retarget_eye": KeypointMLP}[role]
    return cls(**PARAMS[role]).eval()


# ---------------------------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------------------------


def randomize(models: dict, seed: int) -> None:
    """Random weights of the exact architecture: torch's default initialisation from a seeded generator, then
    batch-norm statistics, norm affines, GRN parameters and spectral-norm vectors set to plausible non-trivial
    values (training would have moved them away from their initial ones)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    for role in sorted(models):
        m = models[role]
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                mod.reset_parameters()
            if isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm3d)):
                n = mod.num_features
                mod.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                mod.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                mod.weight.data.copy_(1 + torch.randn(n, generator=gen) * 0.1)
                mod.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
                mod.num_batches_tracked.fill_(1000)
            elif isinstance(mod, (ChannelsFirstLayerNorm, ChannelsLastLayerNorm, nn.LayerNorm)):
                n = mod.weight.shape[0]
                mod.weight.data.copy_(1 + torch.randn(n, generator=gen) * 0.1)
                mod.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
            elif isinstance(mod, GlobalResponseNorm):
                mod.gamma.data.copy_(torch.randn(mod.gamma.shape, generator=gen) * 0.1)
                mod.beta.data.copy_(torch.randn(mod.beta.shape, generator=gen) * 0.1)
            elif isinstance(mod, SpectralConv2d):
                with torch.no_grad():
                    nn.init.kaiming_uniform_(mod.weight_orig, a=5 ** 0.5)
                    if mod.bias is not None:
                        mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.05)
                    mod.weight_u.copy_(F.normalize(torch.randn(mod.weight_u.shape, generator=gen), dim=0))
                    mod.weight_v.copy_(F.normalize(torch.randn(mod.weight_v.shape, generator=gen), dim=0))
                mod.power_iterate()


def checkpoint_dicts(models: dict) -> dict:
    """state dicts in the release's file layout (CKPT_FILES)"""
    out = {role: models[role].state_dict() for role in ("appearance", "motion", "warping", "generator")}
    out["stitching_retargeting"] = {SR_KEYS[r]: {f"module.{k}": v for k, v in models[r].state_dict().items()}
                                    for r in ("stitching", "retarget_lip", "retarget_eye")}
    return out


def save_checkpoints(models: dict, folder: Path) -> None:
    for role, sd in checkpoint_dicts(models).items():
        path = folder / CKPT_FILES[role]
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(sd, path)
        print(f"saved {path}")


def find_checkpoint(folder: Path, rel: str) -> Path:
    for cand in (folder / rel, folder / "liveportrait" / rel, folder / Path(rel).name):
        if cand.is_file():
            return cand
    sys.exit(f"error: {rel} not found under {folder} (expected LivePortrait's pretrained_weights/liveportrait "
             f"layout: {', '.join(CKPT_FILES.values())})")


def read_checkpoint(path: Path) -> dict:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated download, a file that is not a checkpoint
        sys.exit(f"error: {path} is not a readable PyTorch checkpoint: {e}")
    if not isinstance(sd, dict):
        sys.exit(f"error: {path} holds a {type(sd).__name__}, not a state dict")
    return sd


def load_strict(model: nn.Module, sd: dict, what: str) -> None:
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:  # missing/unexpected keys or wrong shapes: torch names each one
        sys.exit(f"error: {what} does not match LivePortrait's published architecture: {e}")


def load_checkpoints(models: dict, folder: Path) -> None:
    paths = {role: find_checkpoint(folder, rel) for role, rel in CKPT_FILES.items()}  # all there before any work
    for role in ("appearance", "motion", "warping", "generator"):
        path = paths[role]
        load_strict(models[role], read_checkpoint(path), str(path))
        print(f"loaded {path} (strict)")
    path = paths["stitching_retargeting"]
    sr = read_checkpoint(path)
    for role, key in SR_KEYS.items():
        if key not in sr:
            sys.exit(f"error: {path} has no {key!r} entry (it holds {', '.join(map(str, sr))})")
        sd = {k.replace("module.", ""): v for k, v in sr[key].items()}
        load_strict(models[role], sd, f"{path} [{key}]")
    print(f"loaded {path} (strict: {', '.join(SR_KEYS.values())})")


# ---------------------------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------------------------


def example_inputs(role: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    _, _, inputs, _ = CONTRACT[role]
    out = []
    for name, shape in inputs.items():
        if name.startswith("kp_"):
            out.append((torch.rand(shape, generator=g) - 0.5) * 0.8)
        elif name == "image":
            out.append(torch.rand(shape, generator=g))
        else:
            out.append(torch.randn(shape, generator=g) * 0.5)
    return tuple(out)


def export(role: str, model: nn.Module, path: Path) -> None:
    _, opset, inputs, outputs = CONTRACT[role]
    with torch.no_grad():
        torch.onnx.export(model, example_inputs(role), str(path), input_names=list(inputs),
                          output_names=list(outputs), opset_version=opset, do_constant_folding=True,
                          dynamic_axes=None)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dump_json(obj) -> str:
    text = json.dumps(obj, indent=2)
    return re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text) + "\n"


def check_exports(models: dict, out: Path, threads: int = 2) -> dict:
    """runs each ONNX file on ONNX Runtime's CPU provider and compares with torch on the export inputs"""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    diffs = {}
    for role, (file, _, inputs, outputs) in CONTRACT.items():
        sess = ort.InferenceSession(str(out / file), so, providers=["CPUExecutionProvider"])
        args = example_inputs(role, seed=1)
        got = sess.run(None, {n: a.numpy() for n, a in zip(inputs, args)})
        with torch.no_grad():
            want = models[role](*args)
        want = want if isinstance(want, tuple) else (want,)
        diffs[role] = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))
        print(f"check {role:13s}: ONNX Runtime vs torch max abs diff {diffs[role]:.2e}")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoints", type=Path, help="folder with LivePortrait's liveportrait/ checkpoints")
    src.add_argument("--random-weights", action="store_true", help="random weights of the exact architecture")
    ap.add_argument("--seed", type=int, default=0, help="seed for --random-weights")
    ap.add_argument("--save-checkpoints", type=Path, help="also save the (random) checkpoints in the release layout")
    ap.add_argument("--out", type=Path, required=True, help="pack folder to write")
    ap.add_argument("--name", help="pack name in the manifest")
    ap.add_argument("--check", action="store_true", help="compare each ONNX file with torch on ONNX Runtime")
    args = ap.parse_args()

    torch.set_grad_enabled(False)
    models = {role: build(role) for role in CONTRACT}
    if args.random_weights:
        randomize(models, args.seed)
        name = args.name or f"LivePortrait architecture, random weights (seed {args.seed}), not for use"
        license_ = "Apache-2.0"
    else:
        load_checkpoints(models, args.checkpoints)
        name = args.name or "LivePortrait (KwaiVGI), converted"
        license_ = "MIT"
    if args.save_checkpoints:
        save_checkpoints(models, args.save_checkpoints)
    models["generator"].fold_spectral_norm()

    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {"format": "living-portrait-pack", "version": 2, "kind": "liveportrait", "name": name,
                "license": license_}
    if args.random_weights:
        manifest["test_only"] = True
    for role, (file, opset, inputs, outputs) in CONTRACT.items():
        path = args.out / file
        export(role, models[role], path)
        manifest[role] = {"file": file, "sha256": sha256(path), "bytes": path.stat().st_size, "opset": opset,
                          "inputs": inputs, "outputs": outputs}
        print(f"exported {file} ({path.stat().st_size} bytes, opset {opset})")
    manifest["conventions"] = CONVENTIONS
    (args.out / "manifest.json").write_text(dump_json(manifest))
    print(f"wrote {args.out / 'manifest.json'}")
    if args.check:
        check_exports(models, args.out)


if __name__ == "__main__":
    main()
