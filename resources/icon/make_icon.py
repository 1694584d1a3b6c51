#!/usr/bin/env python3
"""Draws the Living Portrait plugin icon, resources/icon/org.livingportrait.LivingPortrait.png (128x128 RGBA).

A gilded picture frame around a cameo-style head-and-shoulders silhouette, with a few facial landmarks (jaw
line, eyes, a smile) traced over it in cyan: a still portrait brought to life by a landmark track. Uses the
Python standard library only (shapes are signed-distance functions, 4x4 supersampled for anti-aliasing, PNG
written with zlib), so the icon can be regenerated anywhere: `python3 resources/icon/make_icon.py`.
The output is deterministic; the committed PNG is what this script writes.
"""

import math
import os
import struct
import zlib

SIZE = 128
SS = 4  # supersamples per axis


def lerp(a, b, t):
    return tuple(x + (y - x) * t for x, y in zip(a, b))


def hexrgb(h):
    return tuple(int(h[i:i + 2], 16) / 255.0 for i in (1, 3, 5))


def rounded_rect(px, py, x0, y0, x1, y1, r):
    """Signed distance to a rounded rectangle (negative inside)."""
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2 - r, (y1 - y0) / 2 - r
    qx, qy = abs(px - cx) - hx, abs(py - cy) - hy
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - r


def ellipse(px, py, cx, cy, rx, ry):
    """Approximate signed distance to an ellipse (exact enough for anti-aliased edges)."""
    k = math.hypot((px - cx) / rx, (py - cy) / ry)
    return (k - 1.0) * min(rx, ry)


def segment(px, py, ax, ay, bx, by):
    vx, vy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * vx + (py - ay) * vy) / (vx * vx + vy * vy)))
    return math.hypot(px - ax - vx * t, py - ay - vy * t)


# Geometry (pixel units, y down).
FRAME = (3, 3, 125, 125, 20)
INNER = (15, 15, 113, 113, 9)
HEAD = (64, 52, 19, 23.5)
NECK = (56, 66, 72, 94, 5)
SHOULDERS = (64, 117, 46, 27)

# Landmarks on the face: jaw line, eyes, brows and a smiling mouth.
JAW = [(64 + 16 * math.cos(math.radians(a)), 52 + 20 * math.sin(math.radians(a))) for a in range(0, 181, 30)]
EYES = [(55.5, 48.5), (59.5, 48.0), (68.5, 48.0), (72.5, 48.5)]
BROWS = [((53.5, 43.5), (60.5, 42.0)), ((67.5, 42.0), (74.5, 43.5))]
MOUTH = [(57.5, 61.5), (60.8, 64.0), (64, 64.8), (67.2, 64.0), (70.5, 61.5)]

GOLD_LIGHT = hexrgb("#f3d98f")
GOLD = hexrgb("#c99a3c")
GOLD_DARK = hexrgb("#7d5a1c")
PAPER_CENTER = hexrgb("#f7efdc")
PAPER_EDGE = hexrgb("#d8c39b")
INK_TOP = hexrgb("#2a3f63")
INK_BOTTOM = hexrgb("#17243d")
CYAN = hexrgb("#37d3e6")
WHITE = (1.0, 1.0, 1.0)


def shade(px, py):
    """Colour and alpha of one supersample, painted back to front."""
    d_frame = rounded_rect(px, py, *FRAME)
    if d_frame > 0:
        return (0.0, 0.0, 0.0), 0.0
    d_inner = rounded_rect(px, py, *INNER)
    if d_inner > 0:
        # The gilded frame: light from the top left, a bevel near both edges.
        t = ((px + py) / (2 * SIZE))
        col = lerp(GOLD_LIGHT, GOLD, min(1.0, t * 1.6)) if t < 0.62 else lerp(GOLD, GOLD_DARK, (t - 0.62) / 0.38)
        bevel = min(-d_frame, d_inner)
        if bevel < 1.6:
            col = lerp(col, GOLD_DARK, 0.45 * (1.6 - bevel) / 1.6)
        mid = abs(-d_frame - d_inner)  # a fine groove halfway across the moulding
        if mid < 0.7:
            col = lerp(col, GOLD_DARK, 0.35)
        return col, 1.0
    # Paper: a warm radial vignette, with a thin shadow under the frame.
    r = math.hypot(px - 64, py - 58) / 60.0
    col = lerp(PAPER_CENTER, PAPER_EDGE, min(1.0, r * r))
    if d_inner > -2.2:
        col = lerp(col, GOLD_DARK, 0.5 * (2.2 + d_inner) / 2.2)
    # Silhouette: head, neck and shoulders in one ink, darker towards the bottom.
    d_sil = min(ellipse(px, py, *HEAD), rounded_rect(px, py, *NECK), ellipse(px, py, *SHOULDERS))
    if d_sil < 0:
        col = lerp(INK_TOP, INK_BOTTOM, max(0.0, min(1.0, (py - 30) / 84)))
        # Landmark polylines and points, only on the face.
        lines = min(
            [segment(px, py, *a, *b) for a, b in zip(JAW, JAW[1:])]
            + [segment(px, py, *a, *b) for a, b in zip(MOUTH, MOUTH[1:])]
            + [segment(px, py, *EYES[0], *EYES[1]), segment(px, py, *EYES[2], *EYES[3])]
            + [segment(px, py, *a, *b) for a, b in BROWS]
        )
        if lines < 0.55:
            col = lerp(col, CYAN, 0.85)
        for (x, y) in JAW + EYES + MOUTH:
            d = math.hypot(px - x, py - y)
            if d < 1.9:
                col = WHITE if d < 0.8 else CYAN
    return col, 1.0


def render():
    rows = []
    n = SS * SS
    for y in range(SIZE):
        row = bytearray([0])  # PNG filter type 0 for each scanline
        for x in range(SIZE):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(SS):
                for sx in range(SS):
                    col, a = shade(x + (sx + 0.5) / SS, y + (sy + 0.5) / SS)
                    acc[0] += col[0] * a
                    acc[1] += col[1] * a
                    acc[2] += col[2] * a
                    acc[3] += a
            alpha = acc[3] / n
            if alpha > 0:
                rgb = [c / acc[3] for c in acc[:3]]  # un-premultiply
            else:
                rgb = [0.0, 0.0, 0.0]
            row.extend(int(round(max(0.0, min(1.0, v)) * 255)) for v in rgb + [alpha])
        rows.append(bytes(row))
    return b"".join(rows)


def write_png(path, width, height, raw):
    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "org.livingportrait.LivingPortrait.png")
    write_png(out, SIZE, SIZE, render())
    print(out)
