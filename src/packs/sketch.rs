//! The landmark sketch a few-shot pack is driven by, in the style of the seed authors' later released code: the
//! 68 iBUG points joined by polylines 2 px thick on black, one colour per face part, the eyes and both lip rings
//! closed (their last point joined back to the first) so that an open mouth or an open eye reads as a ring with a
//! dark inside. Lines are anti-aliased (coverage 1 within half a pixel of the line, falling linearly to 0 at
//! 1.5 px, so a cut across the line sums to 2 px) so the sketch moves smoothly with sub-pixel landmark motion instead of snapping from pixel to pixel, which a
//! generator would turn into jitter. Parts are drawn in `PARTS` order, later parts over earlier ones where they
//! cross. Colours (RGB in [0, 1]):
//!
//! | part | points | closed | colour |
//! |---|---|---|---|
//! | jaw | 0–16 | no | orange (1, 0.5, 0) |
//! | right brow (image left) | 17–21 | no | yellow (1, 1, 0) |
//! | left brow (image right) | 22–26 | no | lime (0.5, 1, 0) |
//! | nose bridge | 27–30 | no | cyan (0, 1, 1) |
//! | nose base | 31–35 | no | azure (0, 0.5, 1) |
//! | right eye (image left) | 36–41 | yes | magenta (1, 0, 1) |
//! | left eye (image right) | 42–47 | yes | violet (0.5, 0, 1) |
//! | outer lips | 48–59 | yes | red (1, 0, 0) |
//! | inner lips | 60–67 | yes | spring green (0, 1, 0.5) |
//!
//! Landmarks are normalised crop coordinates ([-1, 1], x right, y down, pixel `u` of `S` centred at
//! `(2u + 1)/S - 1`, GridSample's `align_corners = 0`); the sketch is planar RGB, `S`×`S`.

use std::ops::Range;

/// One face part of the sketch.
#[derive(Clone, Debug, PartialEq)]
pub struct FacePart {
    pub name: &'static str,
    /// The iBUG point indices, in drawing order.
    pub points: Range<usize>,
    /// Whether the last point joins back to the first.
    pub closed: bool,
    /// RGB in [0, 1].
    pub colour: [f32; 3],
}

/// The face parts, in drawing order.
pub const PARTS: [FacePart; 9] = [
    FacePart { name: "jaw", points: 0..17, closed: false, colour: [1.0, 0.5, 0.0] },
    FacePart { name: "right brow", points: 17..22, closed: false, colour: [1.0, 1.0, 0.0] },
    FacePart { name: "left brow", points: 22..27, closed: false, colour: [0.5, 1.0, 0.0] },
    FacePart { name: "nose bridge", points: 27..31, closed: false, colour: [0.0, 1.0, 1.0] },
    FacePart { name: "nose base", points: 31..36, closed: false, colour: [0.0, 0.5, 1.0] },
    FacePart { name: "right eye", points: 36..42, closed: true, colour: [1.0, 0.0, 1.0] },
    FacePart { name: "left eye", points: 42..48, closed: true, colour: [0.5, 0.0, 1.0] },
    FacePart { name: "outer lips", points: 48..60, closed: true, colour: [1.0, 0.0, 0.0] },
    FacePart { name: "inner lips", points: 60..68, closed: true, colour: [0.0, 1.0, 0.5] },
];

/// Line thickness in pixels: the summed coverage across a line.
pub const LINE_WIDTH: f32 = 2.0;

/// Draws the sketch of `landmarks` (normalised crop coordinates) as planar RGB `size`×`size`, black background.
pub fn draw(landmarks: &[[f32; 2]; 68], size: usize) -> Vec<f32> {
    let plane = size * size;
    let mut rgb = vec![0.0f32; 3 * plane];
    if size == 0 {
        return rgb;
    }
    // Normalised → pixel coordinates where pixel u covers [u, u + 1) and has its centre at u + 0.5.
    let to_px = |p: [f32; 2]| [(p[0] + 1.0) * 0.5 * size as f32, (p[1] + 1.0) * 0.5 * size as f32];
    let mut coverage = Vec::new();
    for part in &PARTS {
        let points: Vec<[f32; 2]> = landmarks[part.points.clone()].iter().map(|&p| to_px(p)).collect();
        if points.iter().any(|p| !p[0].is_finite() || !p[1].is_finite()) {
            continue;
        }
        let mut segments: Vec<([f32; 2], [f32; 2])> = points.windows(2).map(|w| (w[0], w[1])).collect();
        if part.closed {
            segments.push((points[points.len() - 1], points[0]));
        }
        // The part's coverage is the maximum over its segments (joints are not covered twice), then blended over
        // what is drawn already; the box bounds the work to the part.
        let reach = LINE_WIDTH * 0.5 + 0.5;
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for p in &points {
            x0 = x0.min(p[0] - reach);
            y0 = y0.min(p[1] - reach);
            x1 = x1.max(p[0] + reach);
            y1 = y1.max(p[1] + reach);
        }
        let clamp = |v: f32| (v.max(0.0) as usize).min(size);
        let (bx0, by0, bx1, by1) = (clamp(x0.floor()), clamp(y0.floor()), clamp(x1.ceil()), clamp(y1.ceil()));
        if bx0 >= bx1 || by0 >= by1 {
            continue;
        }
        let w = bx1 - bx0;
        coverage.clear();
        coverage.resize(w * (by1 - by0), 0.0f32);
        for &(a, b) in &segments {
            stroke(&mut coverage, w, (bx0, by0), a, b);
        }
        for (i, &cov) in coverage.iter().enumerate() {
            if cov <= 0.0 {
                continue;
            }
            let at = (by0 + i / w) * size + bx0 + i % w;
            for c in 0..3 {
                let v = &mut rgb[c * plane + at];
                *v = *v * (1.0 - cov) + part.colour[c] * cov;
            }
        }
    }
    rgb
}

/// Adds one segment's coverage (max) to a box of coverage `w` wide whose top-left pixel is `origin`.
fn stroke(coverage: &mut [f32], w: usize, origin: (usize, usize), a: [f32; 2], b: [f32; 2]) {
    let h = coverage.len() / w;
    let half = LINE_WIDTH * 0.5;
    let reach = half + 0.5;
    let lo_x = (a[0].min(b[0]) - reach).floor().max(origin.0 as f32) as usize;
    let hi_x = ((a[0].max(b[0]) + reach).ceil().max(0.0) as usize).min(origin.0 + w);
    let lo_y = (a[1].min(b[1]) - reach).floor().max(origin.1 as f32) as usize;
    let hi_y = ((a[1].max(b[1]) + reach).ceil().max(0.0) as usize).min(origin.1 + h);
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    for y in lo_y..hi_y {
        for x in lo_x..hi_x {
            let p = [x as f32 + 0.5 - a[0], y as f32 + 0.5 - a[1]];
            let t = if len2 > 0.0 { ((p[0] * d[0] + p[1] * d[1]) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let dist = (p[0] - t * d[0]).hypot(p[1] - t * d[1]);
            // 1 up to half a pixel from the line, 0 from 1.5 px: a cut across the line sums to LINE_WIDTH.
            let cov = (reach - dist).clamp(0.0, 1.0);
            let cell = &mut coverage[(y - origin.1) * w + (x - origin.0)];
            *cell = cell.max(cov);
        }
    }
}
