//! Expression controls: procedural, keyframable deformations of 68 landmarks,
//! relative to the face's own proportions.
//!
//! Every control works in the face's frame: the origin between the eye
//! centres, `u` along the eye line towards the subject's left eye, `v` towards
//! the chin, unit = the distance between the eye centres (IOD). Left and right
//! are the subject's own (as in ARKit's blend shapes): the left eye is iBUG
//! 42–47, on the image's right in a frontal portrait.
//!
//! | control | range | 1 means |
//! | --- | --- | --- |
//! | `jawOpen` | 0…1 | chin down by 0.5 IOD, lower lip with it (0.45 IOD in the middle, an arc to the corners' 0.15) |
//! | `smile` | −1…1 | mouth corners up 0.12 and out 0.10 IOD (negative: down) |
//! | `mouthWide` | −1…1 | corners out 0.15 IOD each (negative: in) |
//! | `pucker` | 0…1 | lips drawn towards the mouth centre by 35 % |
//! | `blinkLeft`, `blinkRight` | 0…1 | upper lid on the lower lid (eye closed) |
//! | `browRaiseLeft`, `browRaiseRight` | −1…1 | brow up 0.15 IOD (negative: down) |
//! | `browFurrow` | 0…1 | inner brow ends together 0.08 and down 0.06 IOD |
//! | `headYaw`, `headPitch`, `headRoll` | degrees | turn left (+, towards the subject's left), nod down (+), tilt (+, counter-clockwise on screen) |
//! | `gazeX`, `gazeY` | degrees | the eyes look towards the subject's own left (+x) and up (+y): the irises move (see [`Expressions::gaze_shift`]); a vertical gaze also moves the lids, which follow it ([`LID_FOLLOW_UP`]) |
//! | `eyeWideLeft`, `eyeWideRight` | 0…1 | upper lid raised by 40 % of the eye's opening (more sclera shows) |
//!
//! Yaw and pitch turn the 68 points in 3-D: each point gets a typical depth
//! (nose forward, jaw line back) and is rotated about the vertical or
//! horizontal axis through the face centre; under a yaw the jaw contour is the
//! head's outline, not a point of the skin (see `silhouette`). The render then
//! turns the portrait's own mesh to match (`src/render/head.rs`). All zero is
//! exactly no change.

// Loops over iBUG index ranges (36..42 is the right eye) say what they mean.
#![allow(clippy::needless_range_loop)]

use crate::landmarks::{mean, Landmarks68, LEFT_EYE, RIGHT_EYE};

/// The expression control values at one time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Expressions {
    pub jaw_open: f64,
    pub smile: f64,
    pub mouth_wide: f64,
    pub pucker: f64,
    pub blink_left: f64,
    pub blink_right: f64,
    pub brow_raise_left: f64,
    pub brow_raise_right: f64,
    pub brow_furrow: f64,
    pub head_yaw: f64,
    pub head_pitch: f64,
    pub head_roll: f64,
    // Eyes.
    /// Gaze towards the subject's own left (+) or right, degrees.
    pub gaze_x: f64,
    /// Gaze up (+) or down, degrees.
    pub gaze_y: f64,
    /// The subject's left upper lid raised, 0…1.
    pub eye_wide_left: f64,
    /// The subject's right upper lid raised, 0…1.
    pub eye_wide_right: f64,
}

/// How many expression controls there are.
pub const COUNT: usize = 16;

/// Script names of the controls, in the order of [`Expressions::values`].
pub const NAMES: [&str; COUNT] = [
    "jawOpen", "smile", "mouthWide", "pucker", "blinkLeft", "blinkRight", "browRaiseLeft", "browRaiseRight",
    "browFurrow", "headYaw", "headPitch", "headRoll", "gazeX", "gazeY", "eyeWideLeft", "eyeWideRight",
];

/// How far the iris centre travels for a gaze of 90°, in inter-ocular distances: the eyeball's radius (about
/// 12 mm; Bekerman, Gottlieb & Vaiman 2014, "Variations in eyeball diameters of the healthy adults", J.
/// Ophthalmology, axial length ≈ 23.7 mm) over the adult mean inter-pupillary distance (about 63 mm; Dodgson 2004,
/// "Variation and extrema of human interpupillary distance", Proc. SPIE 5291). A gaze of θ moves the iris centre
/// by `GAZE_RADIUS_IOD · sin θ` IOD in the face's frame.
pub const GAZE_RADIUS_IOD: f64 = 0.19;

/// How far `eyeWide…` = 1 raises the upper lid, as a fraction of the eye's opening.
pub const EYE_WIDE_MAX: f64 = 0.4;

/// How far the upper lids follow a vertical gaze (`gazeY`), as a fraction of the iris centre's vertical travel:
/// the upper lid keeps about the same cover of the iris as the eye looks up or down (lid-eye coordination; Becker &
/// Fuchs 1988, "Lid-eye coordination during vertical gaze changes in man and monkey", J. Neurophysiol. 60(4)).
/// Without it an iris looking up slid under a still lid and the eye read as half closed.
pub const LID_FOLLOW_UP: f64 = 1.0;
/// The lower lids' share of a gaze down (they follow it less; same source).
pub const LID_FOLLOW_LOW: f64 = 0.3;

/// `d` with entries `from..to` set to `v` (for the constant tables).
const fn fill(mut d: [f64; 68], from: usize, to: usize, v: f64) -> [f64; 68] {
    let mut i = from;
    while i < to {
        d[i] = v;
        i += 1;
    }
    d
}

/// How far `jawOpen` = 1 moves a point of the lower lip towards the chin, in IOD, at `u` mouth half-widths from
/// the mouth's middle: 0.45 in the middle, 0.15 at the corners (as the corners move), an elliptic arc between them
/// (the lower lip hangs between the corners the cheeks hold).
pub fn lower_lip_drop(u: f64) -> f64 {
    0.15 + 0.30 * (1.0 - (u * u).min(1.0)).sqrt()
}

/// Typical depth of each iBUG point towards the camera, in IOD units (a
/// generic face: nose tip forward, the jaw line's ends behind the eyes).
const DEPTH: [f64; 68] = {
    let mut d = [0.0; 68];
    let mut i = 0;
    while i < 17 {
        // Jaw: from -0.55 at the ears to +0.05 at the chin.
        let t = if i <= 8 { i as f64 / 8.0 } else { (16 - i) as f64 / 8.0 };
        d[i] = -0.55 + 0.6 * t;
        i += 1;
    }
    d = fill(d, 17, 27, 0.15);
    d[27] = 0.25;
    d[28] = 0.4;
    d[29] = 0.55;
    d[30] = 0.7;
    d = fill(d, 31, 36, 0.45);
    d[33] = 0.55;
    d = fill(d, 36, 48, 0.05);
    d = fill(d, 48, 68, 0.4);
    d[48] = 0.25;
    d[54] = 0.25;
    d[60] = 0.3;
    d[64] = 0.3;
    d
};

impl Expressions {
    /// The values in the order of [`NAMES`].
    pub fn values(&self) -> [f64; COUNT] {
        [
            self.jaw_open, self.smile, self.mouth_wide, self.pucker, self.blink_left, self.blink_right,
            self.brow_raise_left, self.brow_raise_right, self.brow_furrow, self.head_yaw, self.head_pitch,
            self.head_roll, self.gaze_x, self.gaze_y, self.eye_wide_left, self.eye_wide_right,
        ]
    }
    /// From values in the order of [`NAMES`].
    pub fn from_values(v: [f64; COUNT]) -> Expressions {
        Expressions {
            jaw_open: v[0], smile: v[1], mouth_wide: v[2], pucker: v[3], blink_left: v[4], blink_right: v[5],
            brow_raise_left: v[6], brow_raise_right: v[7], brow_furrow: v[8], head_yaw: v[9], head_pitch: v[10],
            head_roll: v[11], gaze_x: v[12], gaze_y: v[13], eye_wide_left: v[14], eye_wide_right: v[15],
        }
    }
    /// Whether every control is zero (no change).
    pub fn is_neutral(&self) -> bool {
        self.values().iter().all(|v| *v == 0.0)
    }

    /// Whether any control that moves landmarks is not zero (a horizontal gaze moves none; a vertical one moves
    /// the lids, which follow it).
    pub fn moves_landmarks(&self) -> bool {
        Expressions { gaze_x: 0.0, ..*self } != Expressions::default()
    }

    /// The iris shift the gaze controls ask for, in the face's frame (`u` towards the subject's left eye, `v`
    /// towards the chin), in inter-ocular distances. `[0, 0]` exactly when both are 0.
    pub fn gaze_shift(&self) -> [f64; 2] {
        let rad = |d: f64| d.clamp(-60.0, 60.0).to_radians().sin();
        [GAZE_RADIUS_IOD * rad(self.gaze_x), -GAZE_RADIUS_IOD * rad(self.gaze_y)]
    }

    /// Apply to landmarks in canonical coordinates (y up).
    pub fn apply(&self, l: &Landmarks68<f64>) -> Landmarks68<f64> {
        if !self.moves_landmarks() {
            return *l;
        }
        let (re, le) = (mean(l, RIGHT_EYE), mean(l, LEFT_EYE));
        let origin = [(re[0] + le[0]) / 2.0, (re[1] + le[1]) / 2.0];
        let d = [le[0] - re[0], le[1] - re[1]];
        let iod = d[0].hypot(d[1]).max(1e-9);
        let ex = [d[0] / iod, d[1] / iod];
        let ey = [ex[1], -ex[0]]; // towards the chin in a y-up frame
        let to_local = |p: [f64; 2]| {
            let q = [p[0] - origin[0], p[1] - origin[1]];
            [(q[0] * ex[0] + q[1] * ex[1]) / iod, (q[0] * ey[0] + q[1] * ey[1]) / iod]
        };
        let to_world = |u: [f64; 2]| [origin[0] + iod * (u[0] * ex[0] + u[1] * ey[0]), origin[1] + iod * (u[0] * ex[1] + u[1] * ey[1])];
        let mut p: Vec<[f64; 2]> = l.iter().map(|q| to_local(*q)).collect();
        let base = p.clone();
        self.move_features(&mut p, &base);
        self.turn_head(&mut p, &base);
        let mut out = *l;
        for (o, q) in out.iter_mut().zip(p.iter()) {
            *o = to_world(*q);
        }
        out
    }

    /// Jaw, mouth, lids and brows, in the face's frame (`base`: the
    /// landmarks before any control).
    fn move_features(&self, p: &mut Vec<[f64; 2]>, base: &[[f64; 2]]) {
        // Jaw: chin down, falling off towards the ears.
        if self.jaw_open != 0.0 {
            let j = self.jaw_open;
            for i in 2..15 {
                let w = (1.0 - (i as f64 - 8.0).abs() / 7.0).max(0.0);
                p[i][1] += 0.5 * j * w;
            }
            // The lower lip (outer 55–59, inner 65–67) rides on the jaw while the corners (48, 54, and the inner
            // ones 60, 64) stay held by the cheeks: stretched between them it hangs as an arc, not a flat step.
            let (mid, half) = ((base[48][0] + base[54][0]) / 2.0, ((base[54][0] - base[48][0]) / 2.0).abs().max(1e-9));
            for i in (55..60).chain(65..68) {
                p[i][1] += j * lower_lip_drop((base[i][0] - mid) / half);
            }
            for i in [48, 54, 60, 64] {
                p[i][1] += 0.15 * j;
            }
        }
        // Smile and width: corners up/out, their neighbours half as much.
        let corner = |p: &mut Vec<[f64; 2]>, i: usize, side: f64, du: f64, dv: f64| {
            p[i][0] += side * du;
            p[i][1] += dv;
        };
        for (i, side, k) in [(48, -1.0, 1.0), (60, -1.0, 0.8), (49, -1.0, 0.4), (59, -1.0, 0.4), (54, 1.0, 1.0), (64, 1.0, 0.8), (53, 1.0, 0.4), (55, 1.0, 0.4)] {
            corner(p, i, side, k * (0.10 * self.smile + 0.15 * self.mouth_wide), -k * 0.12 * self.smile);
        }
        if self.pucker != 0.0 {
            let c = mean_local(base, 48..60);
            for i in 48..68 {
                p[i][0] += (c[0] - base[i][0]) * 0.35 * self.pucker;
                p[i][1] += (c[1] - base[i][1]) * 0.2 * self.pucker;
            }
        }
        // Blinks: the upper lid onto the lower lid; wide eyes: the upper lid away from it.
        let lids = [
            (self.blink_left, self.eye_wide_left, [(43, 47), (44, 46)]),
            (self.blink_right, self.eye_wide_right, [(37, 41), (38, 40)]),
        ];
        for (amount, wide, pairs) in lids {
            if amount != 0.0 || wide != 0.0 {
                let a = amount.clamp(0.0, 1.0) * 0.95 - wide.clamp(0.0, 1.0) * EYE_WIDE_MAX;
                for (up, lo) in pairs {
                    p[up][0] += (base[lo][0] - base[up][0]) * a;
                    p[up][1] += (base[lo][1] - base[up][1]) * a;
                }
            }
        }
        // The lids follow a vertical gaze: the upper lids move with the iris, the lower lids a little on a gaze
        // down (face frame: v towards the chin, so a gaze up is a negative shift).
        let dv = self.gaze_shift()[1];
        if dv != 0.0 {
            for i in [37, 38, 43, 44] {
                p[i][1] += LID_FOLLOW_UP * dv;
            }
            if dv > 0.0 {
                for i in [40, 41, 46, 47] {
                    p[i][1] += LID_FOLLOW_LOW * dv;
                }
            }
        }
        for (amount, range) in [(self.brow_raise_left, 22..27), (self.brow_raise_right, 17..22)] {
            for i in range {
                p[i][1] -= 0.15 * amount;
            }
        }
        if self.brow_furrow != 0.0 {
            let f = self.brow_furrow;
            for (i, side, k) in [(21, 1.0, 1.0), (20, 1.0, 0.5), (22, -1.0, 1.0), (23, -1.0, 0.5)] {
                p[i][0] += side * 0.08 * f * k;
                p[i][1] += 0.06 * f * k;
            }
        }
    }

    /// Head yaw, pitch and roll about the face centre (between the eyes and
    /// the mouth), in the face's frame.
    fn turn_head(&self, p: &mut [[f64; 2]], base: &[[f64; 2]]) {
        let centre = mean_local(base, 27..36);
        if self.head_yaw != 0.0 || self.head_pitch != 0.0 {
            let (sy, cy) = self.head_yaw.to_radians().sin_cos();
            let (sp, cp) = self.head_pitch.to_radians().sin_cos();
            for i in 0..68 {
                let (u, v, z) = (p[i][0] - centre[0], p[i][1] - centre[1], DEPTH[i]);
                let mut u2 = u * cy + z * sy;
                let z2 = -u * sy + z * cy;
                let v2 = v * cp + z2 * sp;
                if i <= 16 {
                    u2 = silhouette(u, z, u2, sy, cy);
                }
                p[i] = [centre[0] + u2, centre[1] + v2];
            }
        }
        if self.head_roll != 0.0 {
            // Counter-clockwise on screen: in the (u right, v down) frame that
            // is a negative rotation.
            let (s, c) = (-self.head_roll).to_radians().sin_cos();
            for q in p.iter_mut() {
                let (u, v) = (q[0] - centre[0], q[1] - centre[1]);
                *q = [centre[0] + c * u - s * v, centre[1] + s * u + c * v];
            }
        }
    }
}

/// The jaw contour (iBUG 0–16) under a yaw. Away from the chin its points are not points of the skin but the
/// face's outline, as a detector marks them on a turned face: the edge of the head's cross-section at that
/// height. Modelled as an ellipse centred at the point's depth `z`, as wide as the point is off the axis (`u`)
/// and as deep (`HEAD_SECTION_DEPTH`), its outline after the turn lies at `z·sin + ±√(a²cos² + b²sin²)`: the far
/// side narrows but stays outside the far eye (rotating the points themselves swept the far jaw line past the eye
/// corner at 30°), the near side widens. Near the chin (`u` → 0) the contour is the chin itself and turns as a
/// point (`turned`); between, the two blend. At zero yaw both give `u` exactly.
fn silhouette(u: f64, z: f64, turned: f64, sy: f64, cy: f64) -> f64 {
    let a = u.abs();
    let b = a * HEAD_SECTION_DEPTH;
    let outline = z * sy + u.signum() * (a * a * cy * cy + b * b * sy * sy).sqrt();
    let t = ((a - 0.25) / 0.5).clamp(0.0, 1.0);
    let w = t * t * (3.0 - 2.0 * t);
    turned + w * (outline - turned)
}

/// Depth of the head's cross-section at the jaw contour, relative to its half-width: chosen so that at 30° of yaw
/// the far outline stays about 0.1 eye distances outside the far eye's outer corner, as a detector marks turned
/// faces.
const HEAD_SECTION_DEPTH: f64 = 1.2;

fn mean_local(p: &[[f64; 2]], r: std::ops::Range<usize>) -> [f64; 2] {
    let n = r.len() as f64;
    r.fold([0.0, 0.0], |a, i| [a[0] + p[i][0] / n, a[1] + p[i][1] / n])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> Landmarks68<f64> {
        // A rough frontal face, y up, IOD 60.
        let mut l = [[0.0; 2]; 68];
        for i in 0..17 {
            let a = std::f64::consts::PI * (i as f64 / 16.0);
            l[i] = [200.0 - 70.0 * a.cos(), 300.0 - 90.0 * a.sin()];
        }
        for i in 17..27 {
            l[i] = [150.0 + (i - 17) as f64 * 11.0, 330.0];
        }
        for i in 27..36 {
            l[i] = [200.0, 310.0 - (i - 27) as f64 * 6.0];
        }
        for (k, i) in (36..42).enumerate() {
            l[i] = [160.0 + k as f64 * 4.0, 315.0 + if (1..3).contains(&k) { 4.0 } else if k >= 4 { -4.0 } else { 0.0 }];
        }
        for (k, i) in (42..48).enumerate() {
            l[i] = [220.0 + k as f64 * 4.0, 315.0 + if (1..3).contains(&k) { 4.0 } else if k >= 4 { -4.0 } else { 0.0 }];
        }
        for i in 48..68 {
            let a = 2.0 * std::f64::consts::PI * (i - 48) as f64 / 20.0;
            l[i] = [200.0 - 25.0 * a.cos(), 240.0 + 8.0 * a.sin()];
        }
        l
    }

    #[test]
    fn neutral_is_exactly_no_change() {
        let f = face();
        assert_eq!(Expressions::default().apply(&f), f);
    }

    #[test]
    fn each_control_moves_only_its_points() {
        let f = face();
        let moved = |e: Expressions| -> Vec<usize> {
            let o = e.apply(&f);
            (0..68).filter(|&i| (o[i][0] - f[i][0]).hypot(o[i][1] - f[i][1]) > 1e-9).collect()
        };
        assert_eq!(moved(Expressions { blink_left: 1.0, ..Default::default() }), vec![43, 44]);
        assert_eq!(moved(Expressions { blink_right: 1.0, ..Default::default() }), vec![37, 38]);
        assert_eq!(moved(Expressions { brow_raise_right: 1.0, ..Default::default() }), (17..22).collect::<Vec<_>>());
        assert_eq!(moved(Expressions { brow_furrow: 1.0, ..Default::default() }), vec![20, 21, 22, 23]);
        let jaw = moved(Expressions { jaw_open: 1.0, ..Default::default() });
        assert!(jaw.contains(&8) && jaw.contains(&57) && !jaw.contains(&51) && !jaw.contains(&30));
        assert_eq!(moved(Expressions { eye_wide_left: 1.0, ..Default::default() }), vec![43, 44]);
        assert_eq!(moved(Expressions { eye_wide_right: 0.5, ..Default::default() }), vec![37, 38]);
        assert!(moved(Expressions { gaze_x: 20.0, ..Default::default() }).is_empty());
        assert_eq!(moved(Expressions { gaze_y: 10.0, ..Default::default() }), vec![37, 38, 43, 44]);
        assert_eq!(moved(Expressions { gaze_x: 20.0, gaze_y: -5.0, ..Default::default() }), vec![37, 38, 40, 41, 43, 44, 46, 47]);
        // Everything but a point that sits on the rotation centre.
        assert!(moved(Expressions { head_roll: 5.0, ..Default::default() }).len() >= 67);
    }

    #[test]
    fn directions_are_the_documented_ones() {
        let f = face();
        // Jaw down = y decreasing (y up); 0.5 IOD = 30 px at the chin.
        let j = Expressions { jaw_open: 1.0, ..Default::default() }.apply(&f);
        assert!((f[8][1] - j[8][1] - 30.0).abs() < 1e-6);
        // Blink closes the lid onto the lower lid.
        let b = Expressions { blink_left: 1.0, ..Default::default() }.apply(&f);
        assert!((b[44][1] - f[46][1]).abs() < (f[44][1] - f[46][1]).abs() * 0.1);
        // The jaw opens the inner lips by 0.45 IOD (27 px) in the middle, less towards the corners along an arc, and
        // the inner corners follow the outer ones (0.15 IOD).
        assert!((lower_lip_drop(0.0) - 0.45).abs() < 1e-12 && (lower_lip_drop(1.0) - 0.15).abs() < 1e-12);
        let (mid, half) = ((f[48][0] + f[54][0]) / 2.0, (f[54][0] - f[48][0]) / 2.0);
        for (i, upper) in [(65, 63), (66, 62), (67, 61)] {
            let change = (f[i][1] - f[upper][1]) - (j[i][1] - j[upper][1]);
            let want = 60.0 * lower_lip_drop((f[i][0] - mid) / half);
            assert!((change - want).abs() < 1e-6, "inner gap change at {i}: {change}, want {want}");
        }
        assert!(lower_lip_drop(0.5) > lower_lip_drop(0.8) && lower_lip_drop(0.8) > lower_lip_drop(0.95));
        assert!((f[64][1] - j[64][1] - 9.0).abs() < 1e-6 && (f[60][1] - j[60][1] - 9.0).abs() < 1e-6);
        // Wide eyes raise the upper lid by 40 % of the opening, away from the lower lid.
        let w = Expressions { eye_wide_left: 1.0, ..Default::default() }.apply(&f);
        let open = |l: &Landmarks68<f64>| l[44][1] - l[46][1];
        assert!((open(&w) - 1.4 * open(&f)).abs() < 1e-9);
        // Gaze: towards the subject's left is +u, up is -v; a horizontal gaze moves no landmark, a vertical one
        // raises (up) or lowers (down) the upper lids with the iris (IOD 60 here, y up).
        assert_eq!(Expressions { gaze_x: 30.0, ..Default::default() }.apply(&f), f);
        let g = Expressions { gaze_x: 30.0, gaze_y: 30.0, ..Default::default() };
        let up = g.apply(&f);
        assert!((up[44][1] - f[44][1] - 60.0 * GAZE_RADIUS_IOD * 0.5 * LID_FOLLOW_UP).abs() < 1e-9);
        assert_eq!(up[46], f[46]);
        let down = Expressions { gaze_y: -30.0, ..Default::default() }.apply(&f);
        assert!(down[44][1] < f[44][1] && down[46][1] < f[46][1] && down[44][1] - down[46][1] < f[44][1] - f[46][1]);
        let s = g.gaze_shift();
        assert!((s[0] - GAZE_RADIUS_IOD * 0.5).abs() < 1e-12 && (s[1] + GAZE_RADIUS_IOD * 0.5).abs() < 1e-12);
        assert_eq!(Expressions::default().gaze_shift(), [0.0, 0.0]);
        // Yaw to the subject's left moves the nose tip towards the image's right.
        let y = Expressions { head_yaw: 20.0, ..Default::default() }.apply(&f);
        assert!(y[30][0] > f[30][0] + 5.0);
        // At ±30° of yaw the far jaw contour narrows but stays outside the far eye's outer corner (image right is
        // the far side for + yaw), and the near side widens.
        // A face of ordinary proportions for this: the jaw at ear level 1 eye distance off the axis, the outer eye
        // corners 0.75 (turning the jaw points themselves put the far ones 0.08 inside the corner).
        let mut g = f;
        for j in 0..17 {
            g[j][0] = 200.0 + (f[j][0] - 200.0) * 60.0 / 70.0;
        }
        (g[36][0], g[45][0]) = (155.0, 245.0);
        for (yaw, far, corner, near) in [(30.0, [15, 16], 45, 0), (-30.0, [0, 1], 36, 16)] {
            let t = Expressions { head_yaw: yaw, ..Default::default() }.apply(&g);
            let side = if yaw > 0.0 { 1.0 } else { -1.0 };
            for j in far {
                let gap = side * (t[j][0] - t[corner][0]) / 60.0;
                assert!(gap > 0.05, "yaw {yaw}: jaw {j} only {gap:.3} eye distances outside the eye corner {corner}");
                assert!(side * (t[j][0] - g[j][0]) < 0.0, "yaw {yaw}: the far side narrows");
            }
            assert!((t[near][0] - t[30][0]).abs() > (g[near][0] - g[30][0]).abs(), "yaw {yaw}: the near side widens");
        }
        // Smile raises the corners.
        let s = Expressions { smile: 1.0, ..Default::default() }.apply(&f);
        assert!(s[48][1] > f[48][1] && s[54][1] > f[54][1]);
        // Roll is counter-clockwise on screen for positive degrees: the
        // subject's left eye (image right) goes up.
        let r = Expressions { head_roll: 10.0, ..Default::default() }.apply(&f);
        assert!(r[45][1] > f[45][1]);
    }
}
