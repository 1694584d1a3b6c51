//! LivePortrait's small maths, in plain Rust: pose angles from the motion extractor's bin logits, the rotation
//! matrix, the transformed implicit keypoints, relative driving motion, LivePortrait's crop square from
//! landmarks, and the eye and lip openness ratios from our 68 points. The facts come from LivePortrait's public
//! source (KwaiVGI/LivePortrait, MIT): `src/utils/camera.py` (`headpose_pred_to_degree`, `get_rotation_matrix`),
//! `src/live_portrait_wrapper.py` (`transform_keypoint`, `stitching`), `src/live_portrait_pipeline.py` (relative
//! motion: `R_new = (R_d_i R_d_0ᵀ) R_s`, `exp_new = exp_s + (exp_d_i − exp_d_0)`, `scale_new = scale_s ·
//! scale_d_i / scale_d_0`, `t_new = t_s + (t_d_i − t_d_0)` with its z set to 0), `src/utils/crop.py`
//! (`parse_rect_from_landmark`, `parse_pt2_from_pt68`, `_estimate_similar_transform_from_pts`) and
//! `src/utils/retargeting_utils.py` (openness ratios, there on its 203 points).

// Loops over the 3 axes of small matrices read as the maths does.
#![allow(clippy::needless_range_loop)]

/// A 3×3 matrix, rows.
pub type Mat3 = [[f64; 3]; 3];

/// The number of implicit keypoints of the published models.
pub const NUM_KP: usize = 21;

/// One image's motion as the motion extractor gives it, the pose turned into degrees.
#[derive(Clone, Debug, PartialEq)]
pub struct Motion {
    pub pitch: f64,
    pub yaw: f64,
    pub roll: f64,
    pub t: [f64; 3],
    pub exp: [[f64; 3]; NUM_KP],
    pub scale: f64,
    pub kp: [[f64; 3]; NUM_KP],
}

/// The softmax expectation over pose bins, in degrees: `Σ softmax(logits)_i · i · bin_degrees + offset`
/// (LivePortrait: 66 bins, 3°, −97.5°).
pub fn pose_degrees(logits: &[f32], bin_degrees: f64, offset_degrees: f64) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let (mut sum, mut weighted) = (0.0f64, 0.0f64);
    for (i, &l) in logits.iter().enumerate() {
        let e = (l as f64 - max).exp();
        sum += e;
        weighted += e * i as f64;
    }
    if sum <= 0.0 || !sum.is_finite() {
        return 0.0;
    }
    weighted / sum * bin_degrees + offset_degrees
}

fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// The transpose.
pub fn transpose(a: &Mat3) -> Mat3 {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = a[j][i];
        }
    }
    m
}

/// `a · b`.
pub fn matmul(a: &Mat3, b: &Mat3) -> Mat3 {
    mul(a, b)
}

/// LivePortrait's rotation matrix of (pitch, yaw, roll) in degrees: `(R_z(roll) R_y(yaw) R_x(pitch))ᵀ`, the
/// matrix keypoints are multiplied by on the right (`kp · R`).
pub fn rotation(pitch: f64, yaw: f64, roll: f64) -> Mat3 {
    let (x, y, z) = (pitch.to_radians(), yaw.to_radians(), roll.to_radians());
    let rx = [[1.0, 0.0, 0.0], [0.0, x.cos(), -x.sin()], [0.0, x.sin(), x.cos()]];
    let ry = [[y.cos(), 0.0, y.sin()], [0.0, 1.0, 0.0], [-y.sin(), 0.0, y.cos()]];
    let rz = [[z.cos(), -z.sin(), 0.0], [z.sin(), z.cos(), 0.0], [0.0, 0.0, 1.0]];
    transpose(&mul(&mul(&rz, &ry), &rx))
}

/// The keypoints moved by a pose: `scale · (kp · R + exp) + t`, with only t's x and y added (LivePortrait's
/// `transform_keypoint`; relative driving zeroes t's z anyway).
pub fn transform(kp: &[[f64; 3]; NUM_KP], r: &Mat3, exp: &[[f64; 3]; NUM_KP], scale: f64, t: [f64; 3]) -> [[f64; 3]; NUM_KP] {
    let mut out = [[0.0; 3]; NUM_KP];
    for (o, (p, e)) in out.iter_mut().zip(kp.iter().zip(exp)) {
        for j in 0..3 {
            let rotated: f64 = (0..3).map(|k| p[k] * r[k][j]).sum();
            o[j] = scale * (rotated + e[j]);
        }
        o[0] += t[0];
        o[1] += t[1];
    }
    out
}

/// The driving keypoints of relative motion: the source moved by the driver's motion since its reference
/// frame (`R_new = (R_d R_d0ᵀ) R_s`, expression, scale and translation likewise), before stitching. `turn`
/// (a rotation in the same convention) is applied on top, as one more driving rotation.
pub fn relative_driving(source: &Motion, now: &Motion, reference: &Motion, turn: &Mat3, extra: &[[f64; 3]; NUM_KP]) -> [[f64; 3]; NUM_KP] {
    let r_s = rotation(source.pitch, source.yaw, source.roll);
    let r_d = rotation(now.pitch, now.yaw, now.roll);
    let r_d0 = rotation(reference.pitch, reference.yaw, reference.roll);
    let r_new = mul(turn, &mul(&mul(&r_d, &transpose(&r_d0)), &r_s));
    let mut exp = source.exp;
    for ((e, a), b) in exp.iter_mut().zip(&now.exp).zip(&reference.exp) {
        for j in 0..3 {
            e[j] += a[j] - b[j];
        }
    }
    add(&mut exp, extra);
    let scale = if reference.scale.abs() > 1e-12 { source.scale * (now.scale / reference.scale) } else { source.scale };
    let t = [source.t[0] + now.t[0] - reference.t[0], source.t[1] + now.t[1] - reference.t[1], 0.0];
    transform(&source.kp, &r_new, &exp, scale, t)
}

/// `a += b`, keypoint by keypoint.
pub fn add(a: &mut [[f64; 3]; NUM_KP], b: &[[f64; 3]; NUM_KP]) {
    for (p, q) in a.iter_mut().zip(b) {
        for j in 0..3 {
            p[j] += q[j];
        }
    }
}

/// Expression offsets for a smile and a brow raise, as LivePortrait's image-retargeting controls make them
/// (`src/gradio_pipeline.py`, `update_delta_new_smile` and `update_delta_new_eyebrow`: fixed offsets of a few
/// keypoints; its smile slider runs −0.3…1.3, its eyebrow slider −30…30). Our `smile` 1 is its smile 1; our brow
/// raise 1 (the mean of both brows) is its eyebrow 15, the middle of its range.
pub fn control_offsets(smile: f64, brow_raise: f64) -> [[f64; 3]; NUM_KP] {
    let mut d = [[0.0; 3]; NUM_KP];
    if smile != 0.0 {
        for (k, j, v) in [(20, 1, -0.01), (14, 1, -0.02), (17, 1, 0.0065), (17, 2, 0.003), (13, 1, -0.00275), (16, 1, -0.00275), (3, 1, -0.0035), (7, 1, -0.0035)] {
            d[k][j] += smile * v;
        }
    }
    let e = 15.0 * brow_raise;
    if e > 0.0 {
        d[1][1] += e * 0.001;
        d[2][1] += e * -0.001;
    } else if e < 0.0 {
        d[1][0] += e * -0.001;
        d[2][0] += e * 0.001;
        d[1][1] += e * 0.0003;
        d[2][1] += e * -0.0003;
    }
    d
}

/// Applies a stitching network's output: its first 63 values to the keypoints, its last 2 to their x and y.
pub fn apply_stitching(kp: &mut [[f64; 3]; NUM_KP], delta: &[f32]) {
    if delta.len() < 3 * NUM_KP + 2 {
        return;
    }
    let (tx, ty) = (delta[3 * NUM_KP] as f64, delta[3 * NUM_KP + 1] as f64);
    for (i, p) in kp.iter_mut().enumerate() {
        for j in 0..3 {
            p[j] += delta[3 * i + j] as f64;
        }
        p[0] += tx;
        p[1] += ty;
    }
}

/// A square in an image-like frame (x right, y down): LivePortrait's crop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CropSquare {
    /// LivePortrait's `center`.
    pub centre: [f64; 2],
    /// Side, in the frame's units.
    pub size: f64,
    /// Unit vector along the crop's x (LivePortrait's `ux`).
    pub ux: [f64; 2],
    /// Unit vector along the crop's y (`uy`, from the eyes' middle towards the mouth's).
    pub uy: [f64; 2],
}

impl CropSquare {
    /// LivePortrait's crop of 68 landmarks (x right, y down): the axis from the eyes' middle (mean of points 36,
    /// 39 and of 42, 45) to the mouth corners' middle (48, 54) is the crop's y; the landmarks' bounding box in
    /// that frame about their mean, made square, times `scale`, shifted by `vx`, `vy` of its side.
    pub fn from_landmarks(points: &[[f64; 2]; 68], scale: f64, vx: f64, vy: f64) -> CropSquare {
        let mid = |a: usize, b: usize| [(points[a][0] + points[b][0]) / 2.0, (points[a][1] + points[b][1]) / 2.0];
        let (e1, e2) = (mid(36, 39), mid(42, 45));
        let eyes = [(e1[0] + e2[0]) / 2.0, (e1[1] + e2[1]) / 2.0];
        let lips = mid(48, 54);
        let d = [lips[0] - eyes[0], lips[1] - eyes[1]];
        let l = d[0].hypot(d[1]);
        let uy = if l <= 1e-3 { [0.0, 1.0] } else { [d[0] / l, d[1] / l] };
        let ux = [uy[1], -uy[0]];
        let n = points.len() as f64;
        let c0 = [points.iter().map(|p| p[0]).sum::<f64>() / n, points.iter().map(|p| p[1]).sum::<f64>() / n];
        let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
        for p in points {
            let q = [p[0] - c0[0], p[1] - c0[1]];
            let r = [q[0] * ux[0] + q[1] * ux[1], q[0] * uy[0] + q[1] * uy[1]];
            for k in 0..2 {
                lo[k] = lo[k].min(r[k]);
                hi[k] = hi[k].max(r[k]);
            }
        }
        let c1 = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
        let size = (hi[0] - lo[0]).max(hi[1] - lo[1]) * scale;
        let centre = [
            c0[0] + ux[0] * c1[0] + uy[0] * c1[1] + ux[0] * vx * size + uy[0] * vy * size,
            c0[1] + ux[1] * c1[0] + uy[1] * c1[1] + ux[1] * vx * size + uy[1] * vy * size,
        ];
        CropSquare { centre, size, ux, uy }
    }

    /// Where pixel (x, y) of the `side`-pixel crop takes its value from (LivePortrait's inverse similarity:
    /// pixel centres at whole numbers, the square's centre at pixel `side / 2`).
    pub fn source_of(&self, x: f64, y: f64, side: usize) -> [f64; 2] {
        let k = self.size / side as f64;
        let (a, b) = ((x - side as f64 / 2.0) * k, (y - side as f64 / 2.0) * k);
        [self.centre[0] + a * self.ux[0] + b * self.uy[0], self.centre[1] + a * self.ux[1] + b * self.uy[1]]
    }

    /// The inverse of `source_of`: the crop pixel (x, y) of a point.
    pub fn pixel_of(&self, p: [f64; 2], side: usize) -> [f64; 2] {
        let k = side as f64 / self.size;
        let d = [p[0] - self.centre[0], p[1] - self.centre[1]];
        [
            (d[0] * self.ux[0] + d[1] * self.ux[1]) * k + side as f64 / 2.0,
            (d[0] * self.uy[0] + d[1] * self.uy[1]) * k + side as f64 / 2.0,
        ]
    }
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Eye openness from 68 points, as LivePortrait's `calc_eye_close_ratio` on its own points: each eye's lid gap
/// (mean of the two upper–lower pairs) over its corner distance, image-left eye first (iBUG 36–41, then 42–47).
pub fn eye_ratios(p: &[[f64; 2]; 68]) -> [f64; 2] {
    let eye = |c0: usize, u1: usize, u2: usize, c1: usize, l2: usize, l1: usize| {
        let gap = (dist(p[u1], p[l1]) + dist(p[u2], p[l2])) / 2.0;
        gap / (dist(p[c0], p[c1]) + 1e-6)
    };
    [eye(36, 37, 38, 39, 40, 41), eye(42, 43, 44, 45, 46, 47)]
}

/// Lip openness from 68 points, as LivePortrait's `calc_lip_close_ratio`: the inner lips' middle gap (62–66)
/// over the mouth corners' distance (48–54).
pub fn lip_ratio(p: &[[f64; 2]; 68]) -> f64 {
    dist(p[62], p[66]) / (dist(p[48], p[54]) + 1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn pose_is_the_softmax_expectation_of_the_bins() {
        // Uniform logits: the mean bin 32.5 → 32.5 · 3 − 97.5 = 0°.
        assert!(close(pose_degrees(&[0.3; 66], 3.0, -97.5), 0.0, 1e-9));
        // One dominant bin: its angle.
        let mut l = [0.0f32; 66];
        l[40] = 80.0;
        assert!(close(pose_degrees(&l, 3.0, -97.5), 40.0 * 3.0 - 97.5, 1e-6));
        // Two equal bins: their middle, whatever the common offset of the logits.
        let mut l = [-1e4f32; 66];
        l[10] = 1000.0;
        l[12] = 1000.0;
        assert!(close(pose_degrees(&l, 3.0, -97.5), 11.0 * 3.0 - 97.5, 1e-6));
    }

    #[test]
    fn rotation_follows_liveportraits_euler_order() {
        let i = rotation(0.0, 0.0, 0.0);
        assert_eq!(i, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        // Roll alone: kp · R_zᵀ = (R_z kp)ᵀ, so a point on x turns to y.
        let r = rotation(0.0, 0.0, 90.0);
        let p = [[1.0, 0.0, 0.0]; NUM_KP];
        let moved = transform(&p, &r, &[[0.0; 3]; NUM_KP], 1.0, [0.0; 3]);
        assert!(close(moved[0][0], 0.0, 1e-12) && close(moved[0][1], 1.0, 1e-12));
        // Orthonormal for any angles, and R(p, y, r) = (R_z R_y R_x)ᵀ: check one product by hand.
        let r = rotation(10.0, -20.0, 30.0);
        let rrt = matmul(&r, &transpose(&r));
        for a in 0..3 {
            for b in 0..3 {
                assert!(close(rrt[a][b], if a == b { 1.0 } else { 0.0 }, 1e-12));
            }
        }
        let (x, y, z) = (10f64.to_radians(), (-20f64).to_radians(), 30f64.to_radians());
        // Element [0][0] of R_z R_y R_x is cos z cos y; [2][0] is −sin y, which is element [0][2] of the transpose.
        assert!(close(r[0][0], z.cos() * y.cos(), 1e-12));
        assert!(close(r[0][2], -y.sin(), 1e-12));
        let _ = x;
    }

    #[test]
    fn relative_motion_of_the_reference_frame_is_the_source() {
        let mut m = Motion { pitch: 5.0, yaw: -7.0, roll: 3.0, t: [0.1, -0.2, 0.3], exp: [[0.01; 3]; NUM_KP], scale: 1.3, kp: [[0.0; 3]; NUM_KP] };
        for (i, p) in m.kp.iter_mut().enumerate() {
            *p = [i as f64 * 0.05 - 0.5, (i % 5) as f64 * 0.1, (i % 3) as f64 * 0.07];
        }
        let mut d = m.clone();
        d.pitch = 20.0;
        d.scale = 0.9;
        d.t = [0.5, 0.5, 0.5];
        let identity = rotation(0.0, 0.0, 0.0);
        let none = [[0.0; 3]; NUM_KP];
        let x = relative_driving(&m, &d, &d, &identity, &none);
        let r_s = rotation(m.pitch, m.yaw, m.roll);
        let x_s = transform(&m.kp, &r_s, &m.exp, m.scale, [m.t[0], m.t[1], 0.0]);
        for (a, b) in x.iter().zip(&x_s) {
            for j in 0..3 {
                assert!(close(a[j], b[j], 1e-12));
            }
        }
        // A driver that doubles its scale and moves right doubles the source's scale and moves it as much.
        let mut now = d.clone();
        now.scale = 1.8;
        now.t[0] += 0.25;
        let x = relative_driving(&m, &now, &d, &identity, &none);
        let x2 = transform(&m.kp, &r_s, &m.exp, 2.0 * m.scale, [m.t[0] + 0.25, m.t[1], 0.0]);
        assert!(close(x[4][0], x2[4][0], 1e-12) && close(x[4][2], x2[4][2], 1e-12));
    }

    #[test]
    fn smile_and_brows_move_liveportraits_keypoints() {
        assert_eq!(control_offsets(0.0, 0.0), [[0.0; 3]; NUM_KP]);
        let s = control_offsets(1.0, 0.0);
        assert_eq!((s[14][1], s[17][2]), (-0.02, 0.003));
        let up = control_offsets(0.0, 1.0);
        assert!((up[1][1] - 0.015).abs() < 1e-12 && (up[2][1] + 0.015).abs() < 1e-12 && up[1][0] == 0.0);
        let down = control_offsets(0.0, -1.0);
        assert!((down[1][0] - 0.015).abs() < 1e-12 && (down[1][1] + 0.0045).abs() < 1e-12);
    }

    #[test]
    fn stitching_adds_the_delta_and_the_shift() {
        let mut kp = [[0.0; 3]; NUM_KP];
        let mut delta = vec![0.0f32; 65];
        delta[3 * 2 + 2] = 0.5; // z of keypoint 2
        delta[63] = 0.25;
        delta[64] = -0.125;
        apply_stitching(&mut kp, &delta);
        assert_eq!(kp[2], [0.25, -0.125, 0.5]);
        assert_eq!(kp[20], [0.25, -0.125, 0.0]);
    }

    /// A frontal face: eyes at y = 0, mouth at y = 1, points spread over [-1, 1] × [-0.5, 1.5].
    fn face() -> [[f64; 2]; 68] {
        let mut p = [[0.0; 2]; 68];
        for (i, q) in p.iter_mut().enumerate() {
            *q = [((i * 37) % 21) as f64 / 10.0 - 1.0, ((i * 11) % 21) as f64 / 10.0 - 0.5];
        }
        p[36] = [-0.8, 0.0];
        p[39] = [-0.2, 0.0];
        p[42] = [0.2, 0.0];
        p[45] = [0.8, 0.0];
        p[48] = [-0.4, 1.0];
        p[54] = [0.4, 1.0];
        p
    }

    #[test]
    fn crop_square_of_a_level_face() {
        let p = face();
        let sq = CropSquare::from_landmarks(&p, 2.0, 0.0, -0.125);
        assert!(close(sq.uy[0], 0.0, 1e-12) && close(sq.uy[1], 1.0, 1e-12));
        assert!(close(sq.ux[0], 1.0, 1e-12) && close(sq.ux[1], 0.0, 1e-12));
        let (min_x, max_x) = p.iter().fold((f64::MAX, f64::MIN), |(a, b), q| (a.min(q[0]), b.max(q[0])));
        let (min_y, max_y) = p.iter().fold((f64::MAX, f64::MIN), |(a, b), q| (a.min(q[1]), b.max(q[1])));
        let side = (max_x - min_x).max(max_y - min_y) * 2.0;
        assert!(close(sq.size, side, 1e-12));
        assert!(close(sq.centre[0], (min_x + max_x) / 2.0, 1e-12));
        assert!(close(sq.centre[1], (min_y + max_y) / 2.0 - 0.125 * side, 1e-12));
        // Pixel side/2 is the centre, and pixel_of inverts source_of.
        assert_eq!(sq.source_of(128.0, 128.0, 256), sq.centre);
        let back = sq.pixel_of(sq.source_of(17.0, 201.5, 256), 256);
        assert!(close(back[0], 17.0, 1e-9) && close(back[1], 201.5, 1e-9));
        // A turned face turns the square with it.
        let turn = |q: [f64; 2]| [q[0] * 0.6 - q[1] * 0.8, q[0] * 0.8 + q[1] * 0.6];
        let sq2 = CropSquare::from_landmarks(&p.map(turn), 2.0, 0.0, -0.125);
        assert!(close(sq2.size, sq.size, 1e-9));
        let c = turn(sq.centre);
        assert!(close(sq2.centre[0], c[0], 1e-9) && close(sq2.centre[1], c[1], 1e-9));
    }

    #[test]
    fn openness_ratios() {
        let mut p = face();
        p[37] = [-0.6, -0.1];
        p[41] = [-0.6, 0.1];
        p[38] = [-0.4, -0.1];
        p[40] = [-0.4, 0.1];
        let r = eye_ratios(&p);
        assert!(close(r[0], 0.2 / 0.6, 1e-5));
        p[62] = [0.0, 0.9];
        p[66] = [0.0, 1.1];
        assert!(close(lip_ratio(&p), 0.2 / 0.8, 1e-5));
    }
}
