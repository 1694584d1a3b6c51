//! Head turns in 3-D and a still body: the extra control points a version 2 warp pack takes
//! (`source_points` / `target_points`, see `packs::manifest`), made from the portrait's own 3-D face.
//!
//! The portrait keeps a thinned set of its 468-point face mesh *with depth* (the face mesh model's z) and the
//! upper part of its face oval, in the base crop's normalised coordinates ([`HeadGeometry`], made once per
//! reference still in `source.rs`). Each frame, [`control_points`]:
//!
//! 1. fits the head pose (`face::pose`, the skull's rigid points only) to the portrait's landmarks and to the
//!    target's — whatever drove them: a track or the Driver clip (relative motion), keys, or the
//!    `headYaw`/`headPitch`/`headRoll` controls, so all take this one path — and takes the change: rotation
//!    ΔR = R_t R_sᵀ, scale ratio k, the model origin's shift;
//! 2. moves every 3-D point by that rigid motion and projects it (weak perspective), so points nearer the
//!    camera move more: the nose more than the cheeks, the far cheek narrows and the near one widens;
//! 3. adds to each face point the target's non-rigid residual (what the 68 targets do beyond the rigid motion: a
//!    jaw drop, a smile), spread from the landmarks by a compact kernel, so that the mesh agrees with the
//!    landmarks next to it and the warp does not fold between them;
//! 4. adds a head shell, a proxy for skull, hair and ears, on the head's outline: the face oval's upper part
//!    scaled out by [`SHELL_SCALE`] about a head centre [`HEAD_CENTRE`] behind the face; it follows the outline
//!    (the oval's centre under the rigid motion, roll and scale), since a turned head's outline is again its
//!    outline, plus what the jaw contour's targets do beyond that near it ([`SHELL_FOLLOW_REACH`]);
//! 5. pins points that must stay: a ring further out ([`RING_SCALE`], the background) and a row half an eye
//!    distance below the lower of the portrait's and the target's chin lines (the neck, collar and clothes).
//!
//! No points at all (P = 0, the version 1 result bit for bit) when the target equals the portrait's landmarks,
//! when none of the points would move, when the still has no mesh (landmarks given by an override the detector
//! disagrees with) or when a pose cannot be fitted.
//!
//! The paste side of the still body is [`chin_fade`]: the paste matte fades to 0 below the chin line, so a jaw
//! drop, a nod or a turn never moves the collar, whatever the pack.

use crate::face::pose::{head_pose_of, mat_mul, transpose, RIGID_POINTS};

/// The thinned mesh: 48 of the 468 points, spread by farthest-point sampling over the face, none within 0.3 eye
/// distances of the eyes, 0.25 of the lips or 0.15 of another landmark (the 68 drive those places themselves).
/// Chosen on the demo portrait's mesh (`tests/data/astronaut_reference.json`); the indices are the mesh's
/// topology, the same for every face.
pub const THIN_MESH: [u16; 48] = [
    8, 10, 21, 32, 50, 54, 67, 69, 103, 104, 108, 109, 134, 142, 149, 151, 162, 171, 177, 199, 203, 205, 207, 210,
    211, 214, 251, 262, 280, 284, 297, 299, 333, 337, 338, 371, 377, 378, 389, 401, 423, 425, 427, 428, 430, 431,
    434, 456,
];

/// The face oval's upper part (MediaPipe's `FACEMESH_FACE_OVAL`, from the image's right at ear level over the
/// forehead to the image's left): where the head shell and the background ring are built.
pub const UPPER_OVAL: [u16; 19] =
    [323, 454, 356, 389, 251, 284, 332, 297, 338, 10, 109, 67, 103, 54, 21, 162, 127, 234, 93];

/// The head's centre in the pose model's frame (eye distances; x right, y down, z towards the camera, origin the
/// mean of the 68 points): behind the face, at brow height. A head is about three eye distances deep.
pub const HEAD_CENTRE: [f64; 3] = [0.0, -0.4, -1.2];
/// The head shell, for hair, skull and ears: the upper face oval scaled out about the head centre by this in the
/// image.
pub const SHELL_SCALE: f64 = 1.3;
/// How far the jaw contour's own change (beyond the shell's in-plane motion) reaches onto the shell, in eye
/// distances (kernel (1 − d²/r²)₊², as [`RESIDUAL_REACH`]).
pub const SHELL_FOLLOW_REACH: f64 = 0.6;
/// The fixed background ring: the upper face oval scaled out about the face's centre by this (in the image).
pub const RING_SCALE: f64 = 2.0;
/// A point is left out when its displacement differs from that of a point already taken (landmarks first) by more
/// than this times their distance in the portrait (sheared past it): the warp between them could fold.
pub const MAX_STRAIN: f64 = 1.0;
/// A point is also left out when it would come closer to a point already taken by more than this fraction of
/// their distance.
pub const MAX_SQUEEZE: f64 = 0.5;
/// How far a landmark's non-rigid residual reaches onto the mesh points, in eye distances (kernel
/// (1 − d²/r²)₊², a weighted mean where the weights add up to more than 1).
pub const RESIDUAL_REACH: f64 = 0.5;
/// Below the chin line, the paste fades out over this (eye distances) and the pinned row sits there; the
/// still-body guarantee holds from 0.5 on.
pub const BODY_FADE_IOD: f64 = 0.45;

/// The portrait's 3-D face for the head path, in the base crop's normalised coordinates (x right, y down), depth
/// z towards the camera in the same unit.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadGeometry {
    /// The [`THIN_MESH`] points.
    pub mesh: Vec<[f64; 3]>,
    /// The [`UPPER_OVAL`] points.
    pub oval: Vec<[f64; 3]>,
    /// Depth of each of the 68 landmarks (the mean depth of its mesh points, `mesh68.json`).
    pub depth68: [f64; 68],
}

impl HeadGeometry {
    /// From a 468-point mesh (analysis pixels, z as the face mesh model gives it: smaller = nearer, scaled like
    /// x), a map of analysis pixels to normalised crop coordinates and how many normalised units one analysis
    /// pixel is. `None` for a mesh of another size or with non-finite values.
    pub fn from_mesh(mesh: &[[f32; 3]], to_crop: impl Fn([f32; 2]) -> [f64; 2], unit: f64) -> Option<HeadGeometry> {
        if mesh.len() != crate::face::MESH_POINTS || !unit.is_finite() || unit <= 0.0 {
            return None;
        }
        let point = |i: usize| {
            let p = mesh[i];
            let n = to_crop([p[0], p[1]]);
            [n[0], n[1], -(p[2] as f64) * unit]
        };
        let mesh_pts: Vec<[f64; 3]> = THIN_MESH.iter().map(|&i| point(i as usize)).collect();
        let oval: Vec<[f64; 3]> = UPPER_OVAL.iter().map(|&i| point(i as usize)).collect();
        let table = crate::face::Mesh68Table::builtin().ok()?;
        let mut depth68 = [0.0; 68];
        for (d, idx) in depth68.iter_mut().zip(&table.mesh_indices) {
            *d = -idx.iter().map(|&i| mesh[i][2] as f64).sum::<f64>() / idx.len() as f64 * unit;
        }
        let finite = mesh_pts.iter().chain(&oval).flatten().chain(&depth68).all(|v| v.is_finite());
        finite.then_some(HeadGeometry { mesh: mesh_pts, oval, depth68 })
    }
}

/// One frame's extra control points (normalised crop coordinates), and the moving ones for the paste hull.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControlPoints {
    pub source: Vec<[f32; 2]>,
    pub target: Vec<[f32; 2]>,
    /// The head shell's source and target positions (the hull must hold the hair and ears that move).
    pub shell: Vec<[f64; 2]>,
}

/// The rigid motion between two poses: `target(X) = t_t + k ΔR (X − o_s)`, projected.
struct RigidMotion {
    dr: [[f64; 3]; 3],
    k: f64,
    origin: [f64; 3],
    to: [f64; 2],
}

impl RigidMotion {
    fn apply(&self, x: [f64; 3]) -> [f64; 2] {
        let d = [x[0] - self.origin[0], x[1] - self.origin[1], x[2] - self.origin[2]];
        let r = &self.dr;
        [
            self.to[0] + self.k * (r[0][0] * d[0] + r[0][1] * d[1] + r[0][2] * d[2]),
            self.to[1] + self.k * (r[1][0] * d[0] + r[1][1] * d[1] + r[1][2] * d[2]),
        ]
    }
}

fn iod(l: &[[f32; 2]; 68]) -> f64 {
    crate::landmarks::inter_ocular(&crate::landmarks::to_f64(l))
}

/// Below this rigid motion at the skull's points (eye distances; about a 1° turn) the head is taken as still.
const HEAD_STILL_IOD: f64 = 0.02;

/// Whether the jaw line (iBUG 4–12, the chin and the jaw below the ears) moved.
pub fn jaw_line_moved(source: &[[f32; 2]; 68], target: &[[f32; 2]; 68]) -> bool {
    (4..=12).any(|j| source[j] != target[j])
}

/// The extra control points for a frame whose 68 targets are `target`, on a portrait with landmarks `source`
/// (both in the base crop's normalised coordinates). Empty when the target is the portrait or no pose fits.
pub fn control_points(head: &HeadGeometry, source: &[[f32; 2]; 68], target: &[[f32; 2]; 68]) -> ControlPoints {
    if source == target {
        return ControlPoints::default();
    }
    let (Some(ps), Some(pt)) = (head_pose_of(source, &RIGID_POINTS), head_pose_of(target, &RIGID_POINTS)) else {
        return ControlPoints::default();
    };
    // The skull's points did not move (keys on the chin only, a jaw drop): no rigid motion at all, exactly, so
    // that points far from what moved stay exactly still.
    let still = RIGID_POINTS.iter().all(|&i| source[i] == target[i]);
    let iod_n = iod(source);
    if !(iod_n > 1e-6) {
        return ControlPoints::default();
    }
    let jaw_moved = jaw_line_moved(source, target);
    if still && !jaw_moved {
        return ControlPoints::default();
    }
    let z0 = head.depth68.iter().sum::<f64>() / 68.0;
    let motion = if still {
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        RigidMotion { dr: identity, k: 1.0, origin: [0.0, 0.0, 0.0], to: [0.0, 0.0] }
    } else {
        RigidMotion {
            dr: mat_mul(&pt.rotation, &transpose(&ps.rotation)),
            k: pt.scale / ps.scale,
            origin: [ps.translation[0], ps.translation[1], z0],
            to: pt.translation,
        }
    };
    // A smile, a blink or a brow moves a few of the skull's points, and the fit reads that as a tiny turn: below
    // HEAD_STILL_IOD of motion at the skull's points, with the jaw line unmoved, the head did not move, and the
    // frame is the 68-point warp alone (a version 1 project's smiles and blinks render exactly as before).
    if !jaw_moved {
        let shift = RIGID_POINTS
            .iter()
            .map(|&j| {
                let r = motion.apply([source[j][0] as f64, source[j][1] as f64, head.depth68[j]]);
                (r[0] - source[j][0] as f64).hypot(r[1] - source[j][1] as f64)
            })
            .fold(0.0, f64::max);
        if shift < HEAD_STILL_IOD * iod_n {
            return ControlPoints::default();
        }
    }
    // What the targets do beyond the rigid motion, per landmark.
    let residual: Vec<[f64; 2]> = (0..68)
        .map(|j| {
            let r = motion.apply([source[j][0] as f64, source[j][1] as f64, head.depth68[j]]);
            [target[j][0] as f64 - r[0], target[j][1] as f64 - r[1]]
        })
        .collect();
    let reach2 = (RESIDUAL_REACH * iod_n).powi(2);
    let spread = |p: [f64; 3]| {
        let (mut w, mut acc) = (0.0, [0.0, 0.0]);
        for j in 0..68 {
            let d2 = (p[0] - source[j][0] as f64).powi(2) + (p[1] - source[j][1] as f64).powi(2);
            // A smooth kernel that is exactly 0 beyond the reach: a residual far away moves nothing at all.
            let wj = (1.0 - d2 / reach2).max(0.0).powi(2);
            w += wj;
            acc = [acc[0] + wj * residual[j][0], acc[1] + wj * residual[j][1]];
        }
        // A weighted mean among close landmarks, fading out where they are few and far.
        let w = w.max(1.0);
        [acc[0] / w, acc[1] / w]
    };
    let mut out = ControlPoints::default();
    let inside = |p: [f64; 2]| p[0].abs() < 0.97 && p[1].abs() < 0.97;
    // Every point taken so far, landmarks first, as (source, target): a new point that one of them would press
    // against (closer by more than MAX_SQUEEZE of their distance) or shear past (relative displacement over
    // MAX_STRAIN times their distance) is left out: a far cheek point the turned jaw line passes, a shell point
    // the nose swings towards. Between two such points the warp would fold or nearly so; there the landmarks and
    // the points further off shape the map as before.
    let mut taken: Vec<([f64; 2], [f64; 2])> =
        (0..68).map(|j| ([source[j][0] as f64, source[j][1] as f64], [target[j][0] as f64, target[j][1] as f64])).collect();
    let mut push = |out: &mut ControlPoints, s: [f64; 2], t: [f64; 2]| -> bool {
        if !inside(s) || !t[0].is_finite() || !t[1].is_finite() {
            return false;
        }
        let t = [t[0].clamp(-0.99, 0.99), t[1].clamp(-0.99, 0.99)];
        let e = [t[0] - s[0], t[1] - s[1]];
        let squeezed = taken.iter().any(|(ps, pt)| {
            let d = [s[0] - ps[0], s[1] - ps[1]];
            let ds = d[0].hypot(d[1]);
            let de = [e[0] - (pt[0] - ps[0]), e[1] - (pt[1] - ps[1])];
            // Pressed together (the relative motion along their separation), or sheared past each other; a
            // stretch is harmless.
            let along = (de[0] * d[0] + de[1] * d[1]) / ds.max(1e-12);
            along < -MAX_SQUEEZE * ds || de[0].hypot(de[1]) > MAX_STRAIN * ds
        });
        if squeezed {
            return false;
        }
        taken.push((s, t));
        out.source.push([s[0] as f32, s[1] as f32]);
        out.target.push([t[0] as f32, t[1] as f32]);
        true
    };
    // The face: rigid motion plus the landmarks' residual.
    for &p in &head.mesh {
        let r = motion.apply(p);
        let e = spread(p);
        push(&mut out, [p[0], p[1]], [r[0] + e[0], r[1] + e[1]]);
    }
    // The head shell about a centre behind the face (the pose model's frame taken into the portrait's).
    let centre = {
        let m = HEAD_CENTRE;
        let r = &ps.rotation;
        let v = [0, 1, 2].map(|i| ps.scale * (r[i][0] * m[0] + r[i][1] * m[1] + r[i][2] * m[2]));
        [ps.translation[0] + v[0], ps.translation[1] + v[1], z0 + v[2]]
    };
    // The shell lies on the head's outline, and a turning head's outline is its outline again (other points of
    // the skull come to lie on it): the shell follows the outline's centre, the oval's own centroid, with the
    // in-plane part of the motion (roll, scale), not a turn in depth, which would carry the far ear across the
    // cheek (hidden behind it at 30°: a fold no warp can show).
    let n_oval = head.oval.len().max(1) as f64;
    let oc = head.oval.iter().fold([0.0; 3], |a, o| [0, 1, 2].map(|k| a[k] + o[k] / n_oval));
    let oc_to = motion.apply(oc);
    let (sr, cr) = {
        // The image-plane rotation ΔR gives to the x axis.
        let a = motion.dr[1][0].atan2(motion.dr[0][0]);
        a.sin_cos()
    };
    let inplane = |p: [f64; 2]| {
        let d = [p[0] - oc[0], p[1] - oc[1]];
        [oc_to[0] + motion.k * (cr * d[0] - sr * d[1]), oc_to[1] + motion.k * (sr * d[0] + cr * d[1])]
    };
    // The outline's own change beyond that in-plane motion (what the jaw contour's targets, 0-16, do: the near
    // side widens, the far side narrows), spread onto the shell within SHELL_FOLLOW_REACH, so that the hair and
    // ears beside the cheek keep their distance from the face's edge: at ±30° of yaw the near side's jaw line
    // otherwise ran into the shell at ear height and nearly folded the warp there.
    let follow2 = (SHELL_FOLLOW_REACH * iod_n).powi(2);
    let outline_residual = |s: [f64; 2]| {
        let (mut w, mut acc) = (0.0, [0.0, 0.0]);
        for j in 0..17 {
            let sj = [source[j][0] as f64, source[j][1] as f64];
            let q = inplane(sj);
            let wj = (1.0 - ((s[0] - sj[0]).powi(2) + (s[1] - sj[1]).powi(2)) / follow2).max(0.0).powi(2);
            w += wj;
            acc = [acc[0] + wj * (target[j][0] as f64 - q[0]), acc[1] + wj * (target[j][1] as f64 - q[1])];
        }
        let w = w.max(1.0);
        [acc[0] / w, acc[1] / w]
    };
    for &o in &head.oval {
        let s = [centre[0] + SHELL_SCALE * (o[0] - centre[0]), centre[1] + SHELL_SCALE * (o[1] - centre[1])];
        let t = inplane(s);
        let e = outline_residual(s);
        let t = [t[0] + e[0], t[1] + e[1]];
        if push(&mut out, s, t) {
            out.shell.push(s);
            out.shell.push(t);
        }
    }
    // Fixed: the background ring about the face's centre, and the row below the chin.
    let c2 = {
        let n = 68.0;
        source.iter().fold([0.0, 0.0], |a, p| [a[0] + p[0] as f64 / n, a[1] + p[1] as f64 / n])
    };
    for &o in &head.oval {
        let s = [c2[0] + RING_SCALE * (o[0] - c2[0]), c2[1] + RING_SCALE * (o[1] - c2[1])];
        push(&mut out, s, s);
    }
    for j in 4..=12 {
        let y = (source[j][1].max(target[j][1])) as f64 + BODY_FADE_IOD * iod_n;
        let s = [source[j][0] as f64, y];
        push(&mut out, s, s);
    }
    // Nothing of the head moves (a blink, a smile far from every mesh point): the points would only cost time.
    if out.source == out.target {
        return ControlPoints::default();
    }
    out
}

/// The chin line for the still body: per x, the lower (larger y) of the portrait's and the target's jaw polylines
/// through points 4–12, extended flat beyond their ends (normalised crop coordinates, y down).
pub fn chin_line(source: &[[f32; 2]; 68], target: &[[f32; 2]; 68]) -> impl Fn(f64) -> f64 {
    let line = |l: &[[f32; 2]; 68]| -> Vec<[f64; 2]> {
        let mut v: Vec<[f64; 2]> = (4..=12).map(|j| [l[j][0] as f64, l[j][1] as f64]).collect();
        v.sort_by(|a, b| a[0].total_cmp(&b[0]));
        v
    };
    let (a, b) = (line(source), line(target));
    let at = |v: &[[f64; 2]], x: f64| -> f64 {
        if x <= v[0][0] {
            return v[0][1];
        }
        for w in v.windows(2) {
            if x <= w[1][0] {
                let t = if w[1][0] > w[0][0] { (x - w[0][0]) / (w[1][0] - w[0][0]) } else { 1.0 };
                return w[0][1] + t * (w[1][1] - w[0][1]);
            }
        }
        v[v.len() - 1][1]
    };
    move |x| at(&a, x).max(at(&b, x))
}

/// Multiplies a paste matte on the `size`×`size` crop grid by the still-body fade: 1 down to the chin line, a
/// smoothstep to exactly 0 at [`BODY_FADE_IOD`] eye distances below it, 0 beyond. Nothing changes when the
/// jaw line did not move and no pose changed (the target is the portrait).
pub fn chin_fade(matte: &mut [f32], size: usize, source: &[[f32; 2]; 68], target: &[[f32; 2]; 68]) {
    if matte.len() != size * size || source == target {
        return;
    }
    let iod_n = iod(source);
    if !(iod_n > 1e-6) {
        return;
    }
    let line = chin_line(source, target);
    let width = BODY_FADE_IOD * iod_n;
    for u in 0..size {
        let x = (2 * u + 1) as f64 / size as f64 - 1.0;
        let y0 = line(x);
        for v in 0..size {
            let y = (2 * v + 1) as f64 / size as f64 - 1.0;
            let a = (1.0 - (y - y0) / width).clamp(0.0, 1.0);
            if a < 1.0 {
                matte[v * size + u] *= (a * a * (3.0 - 2.0 * a)) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::pose::{face_model, rotation};

    /// A portrait made of the pose model itself: the 68 points and, for the mesh, model points; a frontal face of
    /// IOD 0.4 normalised units (the render's crops are five eye distances wide).
    fn portrait() -> (HeadGeometry, [[f32; 2]; 68]) {
        let m = face_model();
        let s = 0.4;
        let mut l = [[0.0f32; 2]; 68];
        for (o, p) in l.iter_mut().zip(m) {
            *o = [(s * p[0]) as f32, (s * p[1]) as f32];
        }
        // Mesh stand-ins: midpoints between landmark pairs across the face (cheeks, forehead, nose sides).
        let pairs = [(1, 31), (15, 35), (2, 48), (14, 54), (0, 17), (16, 26), (19, 27), (24, 27), (3, 49), (13, 53)];
        let mesh = pairs.iter().map(|&(a, b)| [0, 1, 2].map(|k| s * (m[a][k] + m[b][k]) / 2.0)).collect();
        let oval = [0usize, 17, 19, 21, 22, 24, 26, 16].iter().map(|&i| [s * m[i][0], s * (m[i][1] - 0.4), s * m[i][2]]).collect();
        let depth68 = m.map(|p| s * p[2]);
        (HeadGeometry { mesh, oval, depth68 }, l)
    }

    fn turned(yaw: f64, pitch: f64) -> [[f32; 2]; 68] {
        let r = rotation(yaw, pitch, 0.0);
        let mut l = [[0.0f32; 2]; 68];
        for (o, p) in l.iter_mut().zip(face_model()) {
            let q = [0, 1].map(|i| 0.4 * (r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2]));
            *o = [q[0] as f32, q[1] as f32];
        }
        l
    }

    #[test]
    fn no_points_for_the_portrait_itself() {
        let (head, l) = portrait();
        assert_eq!(control_points(&head, &l, &l), ControlPoints::default());
    }

    #[test]
    fn a_yaw_moves_near_points_more_and_pins_stay() {
        let (head, l) = portrait();
        let cp = control_points(&head, &l, &turned(20.0, 0.0));
        assert_eq!(cp.source.len(), cp.target.len());
        // Where the mesh points went (those kept), with their depth.
        let moved: Vec<(f64, f64)> = head
            .mesh
            .iter()
            .filter_map(|p| {
                let i = cp.source.iter().position(|s| *s == [p[0] as f32, p[1] as f32])?;
                Some((p[2], (cp.target[i][0] - cp.source[i][0]) as f64))
            })
            .collect();
        assert!(moved.len() >= head.mesh.len() / 2, "{} of {} kept", moved.len(), head.mesh.len());
        // Mesh points move towards the image's right (yaw to the subject's left), the nearer ones more.
        let nearest = moved.iter().max_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
        let farthest = moved.iter().min_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
        assert!(nearest.1 > 0.0 && nearest.1 > farthest.1 + 0.01, "{moved:?}");
        // Some points are fixed (the background ring, the row below the chin), and the shell moves.
        assert!(cp.source.iter().zip(&cp.target).filter(|(s, t)| s == t).count() >= 5);
        assert!(!cp.shell.is_empty() && cp.shell.chunks(2).any(|st| st[0] != st[1]));
    }

    #[test]
    fn a_pure_turn_has_no_residual() {
        // With the pose model as the face, a turn of the 68 is rigid: the mesh points land where rotating them
        // puts them (the residual is only the fit's rounding).
        let (head, l) = portrait();
        let t = turned(-15.0, 10.0);
        let cp = control_points(&head, &l, &t);
        let r = rotation(-15.0, 10.0, 0.0);
        let mut checked = 0;
        for p in &head.mesh {
            let Some(i) = cp.source.iter().position(|s| *s == [p[0] as f32, p[1] as f32]) else { continue };
            checked += 1;
            let q = [0, 1].map(|k| r[k][0] * p[0] + r[k][1] * p[1] + r[k][2] * p[2]);
            let e = ((cp.target[i][0] as f64 - q[0]).powi(2) + (cp.target[i][1] as f64 - q[1]).powi(2)).sqrt();
            assert!(e < 0.004, "point {i}: {e}");
        }
        assert!(checked >= 3, "{checked} mesh points kept");
    }

    #[test]
    fn the_chin_fade_is_zero_below_the_lower_chin_line() {
        let (_, l) = portrait();
        let mut t = l;
        for j in 5..12 {
            t[j][1] += 0.08;
        }
        let size = 64;
        let mut m = vec![1.0f32; size * size];
        chin_fade(&mut m, size, &l, &t);
        let line = chin_line(&l, &t);
        let w = BODY_FADE_IOD * 0.4;
        for v in 0..size {
            for u in 0..size {
                let (x, y) = ((2 * u + 1) as f64 / size as f64 - 1.0, (2 * v + 1) as f64 / size as f64 - 1.0);
                let a = m[v * size + u];
                if y >= line(x) + w {
                    assert_eq!(a, 0.0);
                }
                if y <= line(x) {
                    assert_eq!(a, 1.0);
                }
            }
        }
        let mut same = vec![1.0f32; size * size];
        chin_fade(&mut same, size, &l, &l);
        assert!(same.iter().all(|&a| a == 1.0));
    }
}
