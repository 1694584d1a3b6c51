//! Head pose from 68 landmarks: yaw, pitch and roll of a face, by fitting a symmetric 3-D model of the 68 iBUG
//! points under weak perspective (scaled orthographic projection: rotate, drop depth, scale, shift). A portrait
//! or driver face is a few hundred pixels seen from metres away, so perspective is negligible and the fit is a
//! linear least-squares problem followed by a small Gauss-Newton refinement; no camera is needed.
//!
//! The model (`resources/models/face_model68.json`, made by `resources/models/face_model68.py`) is the face mesh
//! model's own depth on the demo portrait, reduced to 68 points with `mesh68.json`, levelled and mirror-averaged,
//! unit = the distance between the eye centres (IOD). MediaPipe's canonical face model would be the alternative,
//! but it is not in the `mediapipe==0.10.14` wheel our converter pins and no model hub is reachable when the
//! project is built; using the mesh model's depth also keeps the pose in the units of the depth the renderer
//! rotates (`render::head`).
//!
//! Conventions. Points are image pixels, x right, y down. The model frame is x towards the image's right (the
//! subject's left) for a frontal face, y down, z towards the camera. Angles are degrees, as the `headYaw`,
//! `headPitch` and `headRoll` expression controls use them: **yaw** + = the head turns towards the subject's own
//! left (the nose tip moves towards the image's right); **pitch** + = the head nods down (the nose tip moves
//! down); **roll** + = the head tilts counter-clockwise on screen. The rotation is `Rz(roll) · Rx(pitch) ·
//! Ry(yaw)` (yaw applied first), see [`rotation`]; a model point `X` lands at `scale · (R X)[..2] + translation`.

use crate::landmarks::POINTS;

/// The model: 68 × (x, y, z) in IOD units, mean zero.
static MODEL_JSON: &str = include_str!("../../resources/models/face_model68.json");

#[derive(serde::Deserialize)]
struct ModelFile {
    points_xyz: Vec<[f64; 3]>,
}

static MODEL: once_cell::sync::Lazy<[[f64; 3]; POINTS]> = once_cell::sync::Lazy::new(|| {
    // Built into the binary and checked by the tests: a failure here is a build problem, not user input.
    let file: ModelFile = serde_json::from_str(MODEL_JSON).expect("face_model68.json is valid JSON");
    let mut out = [[0.0; 3]; POINTS];
    assert_eq!(file.points_xyz.len(), POINTS, "face_model68.json holds 68 points");
    out.copy_from_slice(&file.points_xyz);
    out
});

/// The 3-D face model the pose is fitted to: 68 × (x, y, z), IOD units, x right, y down, z towards the camera.
pub fn face_model() -> &'static [[f64; 3]; POINTS] {
    &MODEL
}

/// A 3 × 3 rotation, rows first.
pub type Rotation = [[f64; 3]; 3];

/// A head pose: how the model must be turned, scaled and shifted to land on the points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Degrees; + = towards the subject's own left (nose to the image's right).
    pub yaw: f64,
    /// Degrees; + = nodding down.
    pub pitch: f64,
    /// Degrees; + = counter-clockwise on screen.
    pub roll: f64,
    /// Pixels per IOD unit of the model.
    pub scale: f64,
    /// Where the model's origin (the mean of its 68 points) lands, image pixels.
    pub translation: [f64; 2],
    /// `rotation(yaw, pitch, roll)`.
    pub rotation: Rotation,
}

impl Pose {
    /// Where a model-frame point lands in the image.
    pub fn project(&self, p: [f64; 3]) -> [f64; 2] {
        let r = &self.rotation;
        [
            self.translation[0] + self.scale * (r[0][0] * p[0] + r[0][1] * p[1] + r[0][2] * p[2]),
            self.translation[1] + self.scale * (r[1][0] * p[0] + r[1][1] * p[1] + r[1][2] * p[2]),
        ]
    }
}

/// `Rz(roll) · Rx(pitch) · Ry(yaw)` for angles in degrees, in the model frame (x right, y down, z towards the
/// camera): yaw turns +z towards +x, pitch turns +z towards +y (down), roll turns +x towards −y (up on screen).
pub fn rotation(yaw: f64, pitch: f64, roll: f64) -> Rotation {
    let (sy, cy) = yaw.to_radians().sin_cos();
    let (sp, cp) = pitch.to_radians().sin_cos();
    let (sr, cr) = roll.to_radians().sin_cos();
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let rx = [[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]];
    let rz = [[cr, sr, 0.0], [-sr, cr, 0.0], [0.0, 0.0, 1.0]];
    mat_mul(&rz, &mat_mul(&rx, &ry))
}

/// Yaw, pitch and roll (degrees) of a rotation made by [`rotation`]; pitch is kept in [−90°, 90°].
pub fn angles(r: &Rotation) -> [f64; 3] {
    // Row 2 of Rz·Rx·Ry is Rx·Ry's: [−cos p sin y, −sin p, cos p cos y]; column 1 of rows 0 and 1 is
    // [sin r cos p, cos r cos p].
    let pitch = (-r[2][1]).clamp(-1.0, 1.0).asin();
    let yaw = (-r[2][0]).atan2(r[2][2]);
    let roll = r[0][1].atan2(r[1][1]);
    [yaw.to_degrees(), pitch.to_degrees(), roll.to_degrees()]
}

/// `a · b`.
pub fn mat_mul(a: &Rotation, b: &Rotation) -> Rotation {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// The transpose (the inverse of a rotation).
pub fn transpose(a: &Rotation) -> Rotation {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in a.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            out[j][i] = *v;
        }
    }
    out
}

/// The points that move with the skull whatever the face does: the jaw's upper ends, the nose, the eye corners
/// (lids, lips, brows and the chin move with expressions and would read as a turn).
pub const RIGID_POINTS: [usize; 19] = [0, 1, 2, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45];

/// The head pose of 68 points (image pixels, y down), fitted to all of them. `None` when the points are not
/// finite or too degenerate to fit (all on a line, or the same point).
pub fn head_pose(points: &[[f32; 2]; POINTS]) -> Option<Pose> {
    let all: Vec<usize> = (0..POINTS).collect();
    head_pose_of(points, &all)
}

/// The head pose fitted to the points `use_points` of the 68 only (for example [`RIGID_POINTS`], so that a jaw
/// drop or a smile does not read as a nod); the others are ignored. Same conventions as [`head_pose`].
pub fn head_pose_of(points: &[[f32; 2]; POINTS], use_points: &[usize]) -> Option<Pose> {
    let idx: Vec<usize> = use_points.iter().copied().filter(|&i| i < POINTS).collect();
    if idx.len() < 4 {
        return None;
    }
    let p: Vec<[f64; 2]> = idx.iter().map(|&i| [points[i][0] as f64, points[i][1] as f64]).collect();
    if p.iter().any(|q| !q[0].is_finite() || !q[1].is_finite()) {
        return None;
    }
    let full = face_model();
    let model_mean = idx.iter().fold([0.0; 3], |a, &i| [0, 1, 2].map(|k| a[k] + full[i][k] / idx.len() as f64));
    // The subset centred on its own mean (the fit's translation is put back on the model's origin below).
    let model: Vec<[f64; 3]> = idx.iter().map(|&i| [0, 1, 2].map(|k| full[i][k] - model_mean[k])).collect();
    let n = idx.len() as f64;
    let mean = p.iter().fold([0.0, 0.0], |a, q| [a[0] + q[0] / n, a[1] + q[1] / n]);
    // Affine least squares: M (2 × 3) minimising Σ |M X_i − (p_i − mean)|², X mean-free:
    // M = Pᵀ X (Xᵀ X)⁻¹.
    let mut xtx = [[0.0; 3]; 3];
    let mut ptx = [[0.0; 3]; 2];
    for (x, q) in model.iter().zip(&p) {
        let d = [q[0] - mean[0], q[1] - mean[1]];
        for i in 0..3 {
            for j in 0..3 {
                xtx[i][j] += x[i] * x[j];
            }
            for (k, row) in ptx.iter_mut().enumerate() {
                row[i] += d[k] * x[i];
            }
        }
    }
    let inv = invert3(&xtx)?;
    let m: [[f64; 3]; 2] = [0, 1].map(|k| [0, 1, 2].map(|j| (0..3).map(|i| ptx[k][i] * inv[i][j]).sum()));
    // The nearest scaled pair of orthonormal rows: (M Mᵀ)^(-1/2) M, scale = mean singular value.
    let (a, b, c) = (dot(&m[0], &m[0]), dot(&m[0], &m[1]), dot(&m[1], &m[1]));
    let (s1, s2, inv_sqrt) = inverse_sqrt_2x2(a, b, c)?;
    let r0 = [0, 1, 2].map(|j| inv_sqrt[0][0] * m[0][j] + inv_sqrt[0][1] * m[1][j]);
    let r1 = [0, 1, 2].map(|j| inv_sqrt[1][0] * m[0][j] + inv_sqrt[1][1] * m[1][j]);
    let r2 = cross(&r0, &r1);
    let [yaw, pitch, roll] = angles(&[r0, r1, r2]);
    // The subset's mean lands on the points' mean; the model's origin lands where the subset's offset from it
    // takes it.
    let scale = 0.5 * (s1 + s2);
    let off = [0, 1].map(|k| [r0, r1][k].iter().zip(&model_mean).map(|(a, b)| a * b).sum::<f64>() * scale);
    let mut x = [yaw, pitch, roll, scale, mean[0] - off[0], mean[1] - off[1]];
    if !x.iter().all(|v| v.is_finite()) || x[3] <= 1e-9 {
        return None;
    }
    let centred_points: Vec<[f64; 3]> = idx.iter().map(|&i| full[i]).collect();
    refine(&mut x, &centred_points, &p);
    let pose = Pose {
        yaw: x[0],
        pitch: x[1],
        roll: x[2],
        scale: x[3],
        translation: [x[4], x[5]],
        rotation: rotation(x[0], x[1], x[2]),
    };
    (x.iter().all(|v| v.is_finite()) && pose.scale > 0.0).then_some(pose)
}

/// Gauss-Newton on the reprojection error over (yaw, pitch, roll, scale, tx, ty), a few steps from the linear
/// fit (which minimises an affine error, not the weak-perspective one); numeric derivatives, 68 points.
fn refine(x: &mut [f64; 6], model: &[[f64; 3]], p: &[[f64; 2]]) {
    let residuals = |v: &[f64; 6]| -> Vec<f64> {
        let r = rotation(v[0], v[1], v[2]);
        let mut out = Vec::with_capacity(2 * model.len());
        for (m, q) in model.iter().zip(p) {
            for k in 0..2 {
                out.push(v[4 + k] + v[3] * (r[k][0] * m[0] + r[k][1] * m[1] + r[k][2] * m[2]) - q[k]);
            }
        }
        out
    };
    let cost = |r: &[f64]| r.iter().map(|e| e * e).sum::<f64>();
    for _ in 0..8 {
        let r0 = residuals(x);
        let c0 = cost(&r0);
        let mut jac = vec![[0.0; 6]; r0.len()];
        for k in 0..6 {
            let h = if k < 3 { 1e-4 } else { 1e-6 * x[k].abs().max(1.0) };
            let mut xp = *x;
            xp[k] += h;
            for (row, (a, b)) in jac.iter_mut().zip(residuals(&xp).iter().zip(&r0)) {
                row[k] = (a - b) / h;
            }
        }
        let mut jtj = [[0.0; 6]; 6];
        let mut jtr = [0.0; 6];
        for (row, e) in jac.iter().zip(&r0) {
            for i in 0..6 {
                jtr[i] += row[i] * e;
                for j in 0..6 {
                    jtj[i][j] += row[i] * row[j];
                }
            }
        }
        let Some(step) = solve6(jtj, jtr) else { return };
        let mut next = *x;
        for k in 0..6 {
            next[k] -= step[k];
        }
        if !next.iter().all(|v| v.is_finite()) || cost(&residuals(&next)) > c0 {
            return;
        }
        *x = next;
        if step.iter().all(|s| s.abs() < 1e-9) {
            return;
        }
    }
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn invert3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let c = |r0: usize, r1: usize, c0: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    let cof = [
        [c(1, 2, 1, 2), -c(1, 2, 0, 2), c(1, 2, 0, 1)],
        [-c(0, 2, 1, 2), c(0, 2, 0, 2), -c(0, 2, 0, 1)],
        [c(0, 1, 1, 2), -c(0, 1, 0, 2), c(0, 1, 0, 1)],
    ];
    let det = m[0][0] * cof[0][0] + m[0][1] * cof[0][1] + m[0][2] * cof[0][2];
    if !det.is_finite() || det.abs() < 1e-12 {
        return None;
    }
    // The inverse is the transposed cofactor matrix over the determinant.
    Some([0, 1, 2].map(|i| [0, 1, 2].map(|j| cof[j][i] / det)))
}

/// For the symmetric positive 2 × 2 matrix [[a, b], [b, c]]: its singular values' square roots (the
/// singular values of M) and its inverse square root.
fn inverse_sqrt_2x2(a: f64, b: f64, c: f64) -> Option<(f64, f64, [[f64; 2]; 2])> {
    let tr = a + c;
    let det = a * c - b * b;
    if !(det > 1e-18) {
        return None;
    }
    // sqrt of a 2 × 2 SPD matrix: (A + √det I) / √(tr + 2√det).
    let sd = det.sqrt();
    let t = (tr + 2.0 * sd).sqrt();
    let sq = [[(a + sd) / t, b / t], [b / t, (c + sd) / t]];
    let d = sq[0][0] * sq[1][1] - sq[0][1] * sq[1][0];
    let inv = [[sq[1][1] / d, -sq[0][1] / d], [-sq[1][0] / d, sq[0][0] / d]];
    let disc = ((tr * tr / 4.0) - det).max(0.0).sqrt();
    let (l1, l2) = (tr / 2.0 + disc, (tr / 2.0 - disc).max(0.0));
    Some((l1.sqrt(), l2.sqrt(), inv))
}

/// Solves the 6 × 6 system `a x = b` (Gaussian elimination with partial pivoting); `None` when singular.
fn solve6(mut a: [[f64; 6]; 6], mut b: [f64; 6]) -> Option<[f64; 6]> {
    for col in 0..6 {
        let piv = (col..6).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-15 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..6 {
            let f = a[row][col] / a[col][col];
            for k in col..6 {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 6];
    for row in (0..6).rev() {
        let s: f64 = (row + 1..6).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_model(yaw: f64, pitch: f64, roll: f64, scale: f64, t: [f64; 2]) -> [[f32; 2]; POINTS] {
        let pose = Pose { yaw, pitch, roll, scale, translation: t, rotation: rotation(yaw, pitch, roll) };
        let mut out = [[0.0f32; 2]; POINTS];
        for (o, m) in out.iter_mut().zip(face_model()) {
            let q = pose.project(*m);
            *o = [q[0] as f32, q[1] as f32];
        }
        out
    }

    #[test]
    fn model_is_symmetric_centred_and_iod_normalised() {
        let m = face_model();
        let mean = |r: std::ops::Range<usize>| {
            let n = r.len() as f64;
            r.fold([0.0; 3], |a, i| [a[0] + m[i][0] / n, a[1] + m[i][1] / n, a[2] + m[i][2] / n])
        };
        let (re, le) = (mean(36..42), mean(42..48));
        let iod = ((re[0] - le[0]).powi(2) + (re[1] - le[1]).powi(2) + (re[2] - le[2]).powi(2)).sqrt();
        assert!((iod - 1.0).abs() < 1e-4, "IOD {iod}");
        let c = mean(0..68);
        assert!(c.iter().all(|v| v.abs() < 1e-4), "centre {c:?}");
        // Mirror pairs: jaw 0 ↔ 16, outer eye corners 36 ↔ 45, mouth corners 48 ↔ 54.
        for (i, j) in [(0, 16), (36, 45), (48, 54), (31, 35)] {
            assert_eq!(m[i][0], -m[j][0]);
            assert_eq!([m[i][1], m[i][2]], [m[j][1], m[j][2]]);
        }
        // The nose tip is the nearest point to the camera, the jaw's ends the farthest of the face outline.
        assert!(m[30][2] > m[33][2] && m[33][2] > m[36][2] && m[36][2] > m[0][2]);
    }

    #[test]
    fn rotation_and_angles_round_trip_and_follow_the_documented_signs() {
        for (y, p, r) in [(0.0, 0.0, 0.0), (30.0, -20.0, 10.0), (-45.0, 15.0, -25.0), (5.0, 60.0, 170.0)] {
            let a = angles(&rotation(y, p, r));
            assert!((a[0] - y).abs() < 1e-9 && (a[1] - p).abs() < 1e-9 && (a[2] - r).abs() < 1e-9, "{a:?}");
        }
        let nose = face_model()[30];
        let at = |y, p, r| Pose { yaw: y, pitch: p, roll: r, scale: 1.0, translation: [0.0; 2], rotation: rotation(y, p, r) }.project(nose);
        let front = at(0.0, 0.0, 0.0);
        // Yaw towards the subject's left: the nose goes to the image's right; pitch down: the nose goes down.
        assert!(at(20.0, 0.0, 0.0)[0] > front[0] + 0.1);
        assert!(at(0.0, 20.0, 0.0)[1] > front[1] + 0.1);
        // Roll counter-clockwise on screen (y down): the subject's left eye (image right) rises.
        let eye = face_model()[45];
        let r = Pose { yaw: 0.0, pitch: 0.0, roll: 10.0, scale: 1.0, translation: [0.0; 2], rotation: rotation(0.0, 0.0, 10.0) };
        assert!(r.project(eye)[1] < eye[1] - 0.05);
    }

    #[test]
    fn known_poses_are_recovered_within_a_degree() {
        for &(y, p, r) in &[
            (0.0, 0.0, 0.0),
            (30.0, 0.0, 0.0),
            (-30.0, 0.0, 0.0),
            (0.0, 20.0, 0.0),
            (0.0, -20.0, 0.0),
            (0.0, 0.0, 15.0),
            (25.0, -15.0, 8.0),
            (-20.0, 18.0, -12.0),
            (40.0, 25.0, -30.0),
        ] {
            let pts = project_model(y, p, r, 87.0, [300.0, 240.0]);
            let pose = head_pose(&pts).expect("a pose");
            assert!(
                (pose.yaw - y).abs() < 1.0 && (pose.pitch - p).abs() < 1.0 && (pose.roll - r).abs() < 1.0,
                "wanted {y} {p} {r}, got {} {} {}",
                pose.yaw,
                pose.pitch,
                pose.roll
            );
            assert!((pose.scale - 87.0).abs() < 0.5, "scale {}", pose.scale);
            assert!((pose.translation[0] - 300.0).abs() < 0.5 && (pose.translation[1] - 240.0).abs() < 0.5);
        }
    }

    #[test]
    fn the_rigid_points_ignore_a_jaw_drop() {
        let mut pts = project_model(10.0, -5.0, 3.0, 80.0, [200.0, 200.0]);
        // The chin and lower lip drop by half an eye distance.
        for i in (4..13).chain(55..60).chain(65..68) {
            pts[i][1] += 40.0;
        }
        let rigid = head_pose_of(&pts, &RIGID_POINTS).unwrap();
        assert!((rigid.yaw - 10.0).abs() < 0.5 && (rigid.pitch + 5.0).abs() < 0.5 && (rigid.roll - 3.0).abs() < 0.5, "{rigid:?}");
        assert!((rigid.translation[0] - 200.0).abs() < 0.5 && (rigid.translation[1] - 200.0).abs() < 0.5, "{rigid:?}");
        let all = head_pose(&pts).unwrap();
        assert!((all.pitch + 5.0).abs() > 1.0, "the whole set reads the drop as a nod: {all:?}");
    }

    #[test]
    fn noisy_points_still_give_the_pose_within_two_degrees() {
        // A deterministic ±1 px jitter on a face 90 px across the eyes.
        let mut pts = project_model(18.0, -10.0, 5.0, 90.0, [256.0, 256.0]);
        let mut s = 12345u32;
        for q in pts.iter_mut() {
            for v in q.iter_mut() {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *v += ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 2.0;
            }
        }
        let pose = head_pose(&pts).unwrap();
        assert!((pose.yaw - 18.0).abs() < 2.0 && (pose.pitch + 10.0).abs() < 2.0 && (pose.roll - 5.0).abs() < 2.0, "{pose:?}");
    }

    #[test]
    fn the_demo_portrait_reads_near_frontal() {
        // The astronaut's 68 points as MediaPipe gives them (the first frame of the demo track starts from them).
        let text = include_str!("../../tests/data/astronaut_reference.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let pts = v["ibug68"]["points_xy"].as_array().unwrap();
        let mut l = [[0.0f32; 2]; POINTS];
        for (o, q) in l.iter_mut().zip(pts) {
            *o = [q[0].as_f64().unwrap() as f32, q[1].as_f64().unwrap() as f32];
        }
        let pose = head_pose(&l).unwrap();
        assert!(pose.yaw.abs() < 5.0 && pose.pitch.abs() < 5.0 && pose.roll.abs() < 6.0, "{pose:?}");
        // Scale: the portrait's IOD is about 44 px.
        assert!((pose.scale - 44.0).abs() < 4.0, "{pose:?}");
    }

    #[test]
    fn degenerate_points_have_no_pose() {
        assert!(head_pose(&[[10.0, 10.0]; POINTS]).is_none());
        let mut line = [[0.0f32; 2]; POINTS];
        for (i, q) in line.iter_mut().enumerate() {
            *q = [i as f32, 2.0 * i as f32];
        }
        assert!(head_pose(&line).is_none());
        let mut nan = project_model(0.0, 0.0, 0.0, 50.0, [100.0, 100.0]);
        nan[5][0] = f32::NAN;
        assert!(head_pose(&nan).is_none());
    }
}
