//! Face geometry of the render: the aligned face crop, conversions between
//! canonical coordinates and the crop's normalised coordinates, the
//! paste-back hull, and the mouth/eye state used to pick a reference still.
//!
//! Canonical coordinates are OFX's: full-resolution pixels, origin
//! bottom-left, y up. The crop is a square of side `side` (canonical units)
//! centred at `centre`, turned so that the eyes are level; its normalised
//! coordinates run over [-1, 1] with x to the subject's left eye (image right)
//! and y towards the chin (down), the convention of ONNX GridSample with
//! `align_corners = 0`: crop pixel `u` of `S` has its centre at `(2u+1)/S - 1`.

// Loops over iBUG index ranges (36..42 is the right eye) say what they mean.
#![allow(clippy::needless_range_loop)]

use crate::landmarks::{inter_ocular, mean, Landmarks68, LEFT_EYE, MOUTH, RIGHT_EYE};

/// The similarity-aligned face crop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceCrop {
    /// Centre, canonical.
    pub centre: [f64; 2],
    /// Side length, canonical units.
    pub side: f64,
    /// Unit vector along the eye line (towards the subject's left eye), canonical.
    pub ex: [f64; 2],
    /// Unit vector from the eyes towards the chin, canonical.
    pub ey: [f64; 2],
}

impl FaceCrop {
    /// The crop of a face given its landmarks (canonical, y up). The framing
    /// starts from the FFHQ alignment recipe (Karras et al. 2019: side four
    /// times the larger of the eye distance and 0.9 × the eye–mouth distance,
    /// centre a tenth of the way from the eyes to the mouth) and widens it to
    /// five times, centred 0.3 of the way to the mouth, so that a jaw opened by
    /// half an eye distance, the forehead and a head roll all stay inside.
    pub fn from_landmarks(l: &Landmarks68<f64>) -> FaceCrop {
        let right_eye = mean(l, RIGHT_EYE);
        let left_eye = mean(l, LEFT_EYE);
        let mouth = mean(l, MOUTH);
        let eye_mid = [(right_eye[0] + left_eye[0]) / 2.0, (right_eye[1] + left_eye[1]) / 2.0];
        let d = [left_eye[0] - right_eye[0], left_eye[1] - right_eye[1]];
        let iod = d[0].hypot(d[1]).max(1e-6);
        let ex = [d[0] / iod, d[1] / iod];
        // Rotate ex by -90° in a y-up frame: towards the chin.
        let ey = [ex[1], -ex[0]];
        let em = [mouth[0] - eye_mid[0], mouth[1] - eye_mid[1]];
        let eye_mouth = em[0].hypot(em[1]);
        let side = 5.0 * iod.max(0.9 * eye_mouth);
        let centre = [eye_mid[0] + 0.3 * em[0], eye_mid[1] + 0.3 * em[1]];
        FaceCrop { centre, side, ex, ey }
    }

    /// Canonical point → normalised crop coordinates.
    pub fn to_normalised(&self, p: [f64; 2]) -> [f64; 2] {
        let d = [p[0] - self.centre[0], p[1] - self.centre[1]];
        let k = 2.0 / self.side;
        [k * (d[0] * self.ex[0] + d[1] * self.ex[1]), k * (d[0] * self.ey[0] + d[1] * self.ey[1])]
    }

    /// Normalised crop coordinates → canonical point.
    pub fn to_canonical(&self, n: [f64; 2]) -> [f64; 2] {
        let h = self.side / 2.0;
        [
            self.centre[0] + h * (n[0] * self.ex[0] + n[1] * self.ey[0]),
            self.centre[1] + h * (n[0] * self.ex[1] + n[1] * self.ey[1]),
        ]
    }

    /// All 68 points in normalised crop coordinates, as f32 for the generator.
    pub fn normalise_points(&self, l: &Landmarks68<f64>) -> [[f32; 2]; 68] {
        let mut out = [[0.0f32; 2]; 68];
        for (o, p) in out.iter_mut().zip(l.iter()) {
            let n = self.to_normalised(*p);
            *o = [n[0] as f32, n[1] as f32];
        }
        out
    }

    /// Bounding box of the crop square in canonical coordinates.
    pub fn bounds(&self) -> [f64; 4] {
        let corners = [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]].map(|c| self.to_canonical(c));
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for c in corners {
            b[0] = b[0].min(c[0]);
            b[1] = b[1].min(c[1]);
            b[2] = b[2].max(c[0]);
            b[3] = b[3].max(c[1]);
        }
        b
    }
}

/// Openness of the mouth and of each eye, normalised by the eye distance: the
/// state a reference still is matched on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceState {
    /// Inner-lip gap / eye distance.
    pub mouth: f64,
    /// Subject's right eye lid gap / eye distance.
    pub right_eye: f64,
    /// Subject's left eye lid gap / eye distance.
    pub left_eye: f64,
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

impl FaceState {
    /// Measure a face.
    pub fn of(l: &Landmarks68<f64>) -> FaceState {
        let iod = inter_ocular(l).max(1e-6);
        let mouth = (dist(l[61], l[67]) + dist(l[62], l[66]) + dist(l[63], l[65])) / 3.0;
        let right_eye = (dist(l[37], l[41]) + dist(l[38], l[40])) / 2.0;
        let left_eye = (dist(l[43], l[47]) + dist(l[44], l[46])) / 2.0;
        FaceState { mouth: mouth / iod, right_eye: right_eye / iod, left_eye: left_eye / iod }
    }

    /// How far apart two states are (mouth counts double: teeth matter most).
    pub fn distance(&self, o: &FaceState) -> f64 {
        2.0 * (self.mouth - o.mouth).abs() + (self.right_eye - o.right_eye).abs() + (self.left_eye - o.left_eye).abs()
    }
}

/// The convex paste-back region in normalised crop coordinates: the hull of
/// the source and target faces, grown up over the forehead (brows raised by
/// 0.6 eye distances) and a little below the jaw, as a polygon with
/// counter-clockwise (in the y-down crop frame: clockwise on screen) vertices.
pub fn paste_hull(source: &[[f32; 2]; 68], target: &[[f32; 2]; 68]) -> Vec<[f64; 2]> {
    let mut pts: Vec<[f64; 2]> = Vec::with_capacity(68 * 2 + 40);
    for set in [source, target] {
        let iod = {
            let c = |r: std::ops::Range<usize>| {
                let n = r.len() as f64;
                r.fold([0.0, 0.0], |a, i| [a[0] + set[i][0] as f64 / n, a[1] + set[i][1] as f64 / n])
            };
            let (a, b) = (c(36..42), c(42..48));
            dist(a, b)
        };
        for p in set.iter() {
            pts.push([p[0] as f64, p[1] as f64]);
        }
        for p in &set[17..27] {
            pts.push([p[0] as f64, p[1] as f64 - 0.6 * iod]);
        }
        for p in &set[3..14] {
            pts.push([p[0] as f64, p[1] as f64 + 0.12 * iod]);
        }
    }
    convex_hull(pts)
}

/// Andrew's monotone chain convex hull.
pub fn convex_hull(mut pts: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    pts.retain(|p| p[0].is_finite() && p[1].is_finite());
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut lower: Vec<[f64; 2]> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<[f64; 2]> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// The feathered hull matte on the S×S crop grid: 1 inside the hull, ramping
/// to 0 over `feather` (normalised units) outside it, so that every landmark
/// inside the hull moves fully and the ramp lies on skin or background that
/// the generator barely changes.
pub fn hull_matte(poly: &[[f64; 2]], size: usize, feather: f64) -> Vec<f32> {
    let mut out = vec![0.0f32; size * size];
    let f = feather.max(1e-6);
    // Each edge as a line n·p = c with the outward unit normal n (vertices are
    // counter-clockwise): the signed distance of p to the convex polygon,
    // negative inside, is the largest n·p − c — exact inside; outside it is
    // the distance to the farthest edge line, which is what a feathered edge
    // needs.
    let edges: Vec<[f64; 3]> = (0..poly.len())
        .filter_map(|i| {
            let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
            let e = [b[0] - a[0], b[1] - a[1]];
            let len = e[0].hypot(e[1]);
            (len > 1e-12).then(|| {
                let n = [e[1] / len, -e[0] / len];
                [n[0], n[1], n[0] * a[0] + n[1] * a[1]]
            })
        })
        .collect();
    if edges.len() < 3 {
        return out;
    }
    for v in 0..size {
        let ny = (2 * v + 1) as f64 / size as f64 - 1.0;
        for u in 0..size {
            let nx = (2 * u + 1) as f64 / size as f64 - 1.0;
            let mut sd = f64::MIN;
            for e in &edges {
                sd = sd.max(e[0] * nx + e[1] * ny - e[2]);
                if sd >= f {
                    break;
                }
            }
            if sd >= f {
                continue;
            }
            let a = ((f - sd) / f).clamp(0.0, 1.0);
            // The matte must reach 0 before the crop's edge, or the edge of
            // the crop would show as a seam.
            let edge = ((1.0 - nx.abs().max(ny.abs())) / 0.06).clamp(0.0, 1.0);
            let a = a * edge;
            // Smoothstep: no visible kink where the ramp meets the plateau.
            out[v * size + u] = (a * a * (3.0 - 2.0 * a)) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> Landmarks68<f64> {
        let mut l = [[0.0; 2]; 68];
        // Eyes level at y = 300 (y up), 60 px apart; mouth 70 px below.
        for i in 36..42 {
            l[i] = [200.0 + (i - 36) as f64, 300.0];
        }
        for i in 42..48 {
            l[i] = [260.0 + (i - 42) as f64, 300.0];
        }
        for i in 48..68 {
            l[i] = [232.0, 230.0];
        }
        l
    }

    #[test]
    fn crop_levels_the_eyes_and_round_trips() {
        let c = FaceCrop::from_landmarks(&face());
        assert!((c.ex[0] - 1.0).abs() < 1e-12 && c.ex[1].abs() < 1e-12);
        assert!((c.ey[1] + 1.0).abs() < 1e-12, "towards the chin is down (y decreasing)");
        let p = [211.0, 287.5];
        let q = c.to_canonical(c.to_normalised(p));
        assert!((p[0] - q[0]).abs() < 1e-9 && (p[1] - q[1]).abs() < 1e-9);
        let n = c.normalise_points(&face());
        assert!(n[40][0] < n[45][0], "the right eye is on the crop's left");
        assert!(n[50][1] > n[40][1], "the mouth is below the eyes in the crop");
    }

    #[test]
    fn hull_matte_is_one_inside_zero_outside() {
        let sq = convex_hull(vec![[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [0.0, 0.0]]);
        assert_eq!(sq.len(), 4);
        let m = hull_matte(&sq, 64, 0.1);
        assert_eq!(m[32 * 64 + 32], 1.0);
        // (0.9, 0) lies outside the hull and beyond the feather: 0.
        assert_eq!(m[32 * 64 + 60], 0.0);
        // Just inside the edge (x = 0.48): still 1; past edge + feather: 0.
        assert_eq!(m[32 * 64 + 47], 1.0);
        assert_eq!(m[0], 0.0);
    }

    #[test]
    fn face_state_measures_an_open_mouth() {
        let mut l = face();
        let closed = FaceState::of(&l);
        l[62][1] += 12.0;
        let open = FaceState::of(&l);
        assert!(open.mouth > closed.mouth);
        assert!(open.distance(&closed) > 0.0);
    }
}

/// The share of an iris centre's true shift along the eye that the face mesh model's refined iris points read
/// (MediaPipe's attention mesh, the model the plugin ships and MediaPipe's 478-point output). Calibrated by an
/// image edit with a known answer: each demo portrait's own iris disk pasted 0.065 and 0.08 inter-ocular
/// distances to either side inside its eye opening and read back (`resources/demo/calibrate_gaze.py`): 0.80 on
/// average over the three portraits, both eyes (0.49-1.00 per eye). Across the eye (up, down) the reading depends
/// on the lids too much to correct (0.42 on average of a pasted shift with still lids), so it is taken as read.
pub const IRIS_READ_GAIN_U: f64 = 0.80;

// Here, beside the other landmark geometry, so drive.rs and generate.rs both reach it)
/// Where two iris centres sit relative to their eyes' centres, averaged, in the face's frame (towards the
/// subject's left eye, towards the chin; image pixels y down), in inter-ocular distances. The first axis is the
/// model's reading over [`IRIS_READ_GAIN_U`]: iris points come from the face mesh model (the Driver clip, our own
/// analysis; MediaPipe 478-point tracks), which reads that share of a gaze to the side.
pub fn iris_offset(l: &[[f32; 2]; 68], irises: &[[f32; 2]; 2]) -> Option<[f64; 2]> {
    let mean = |r: std::ops::Range<usize>| {
        let n = r.len() as f64;
        r.fold([0.0, 0.0], |a, i| [a[0] + l[i][0] as f64 / n, a[1] + l[i][1] as f64 / n])
    };
    let (re, le) = (mean(36..42), mean(42..48));
    let d = [le[0] - re[0], le[1] - re[1]];
    let iod = d[0].hypot(d[1]);
    if iod.is_nan() || iod <= 1e-6 {
        return None;
    }
    let ex = [d[0] / iod, d[1] / iod];
    let ey = [-ex[1], ex[0]];
    let mut o = [0.0; 2];
    for (c, i) in [re, le].iter().zip(irises) {
        let q = [i[0] as f64 - c[0], i[1] as f64 - c[1]];
        o[0] += (q[0] * ex[0] + q[1] * ex[1]) / iod / 2.0 / IRIS_READ_GAIN_U;
        o[1] += (q[0] * ey[0] + q[1] * ey[1]) / iod / 2.0;
    }
    Some(o)
}
