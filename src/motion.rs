//! Motion transfer: from a driving landmark track to target landmarks on the
//! portrait's own face.
//!
//! Relative mode (the default) keeps the portrait's face shape: the driver's
//! motion at time t is measured against its reference frame, split into a
//! global similarity (head translation, scale, roll) and a residual expression
//! (jaw, lips, lids, brows) expressed in the reference frame, normalised for the
//! driver's face size and orientation, and re-applied to the portrait's own
//! landmarks. Absolute mode uses the track's points as they are.
//! Everything here is a pure function of its inputs.


/// A 2D similarity transform `p ↦ s·R(θ)·p + t`, stored as `[a, -b; b, a]` + t
/// with `a = s cos θ`, `b = s sin θ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    /// `s cos θ`.
    pub a: f64,
    /// `s sin θ`.
    pub b: f64,
    /// Translation x.
    pub tx: f64,
    /// Translation y.
    pub ty: f64,
}

impl Similarity {
    /// The identity.
    pub const IDENTITY: Similarity = Similarity { a: 1.0, b: 0.0, tx: 0.0, ty: 0.0 };

    /// Apply to a point.
    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        [self.a * p[0] - self.b * p[1] + self.tx, self.b * p[0] + self.a * p[1] + self.ty]
    }
    /// Apply only the linear part (for vectors).
    pub fn apply_vector(&self, v: [f64; 2]) -> [f64; 2] {
        [self.a * v[0] - self.b * v[1], self.b * v[0] + self.a * v[1]]
    }
    /// Uniform scale.
    pub fn scale(&self) -> f64 {
        self.a.hypot(self.b)
    }
    /// Rotation angle in radians.
    pub fn angle(&self) -> f64 {
        self.b.atan2(self.a)
    }
    /// The inverse transform (identity for a degenerate one).
    pub fn inverse(&self) -> Similarity {
        let d = self.a * self.a + self.b * self.b;
        if d <= f64::EPSILON {
            return Similarity::IDENTITY;
        }
        let (a, b) = (self.a / d, -self.b / d);
        let t = [-(a * self.tx - b * self.ty), -(b * self.tx + a * self.ty)];
        Similarity { a, b, tx: t[0], ty: t[1] }
    }
    /// `self ∘ other` (apply `other` first).
    pub fn compose(&self, other: &Similarity) -> Similarity {
        let t = self.apply([other.tx, other.ty]);
        Similarity {
            a: self.a * other.a - self.b * other.b,
            b: self.b * other.a + self.a * other.b,
            tx: t[0],
            ty: t[1],
        }
    }

    /// Least-squares similarity mapping `from[i]` onto `to[i]` (weighted), the
    /// closed form of Umeyama (1991) for 2D. Degenerate input gives the
    /// translation between the centroids.
    pub fn fit(from: &[[f64; 2]], to: &[[f64; 2]], weights: &[f64]) -> Similarity {
        let n = from.len().min(to.len()).min(weights.len());
        let wsum: f64 = weights[..n].iter().sum();
        if n == 0 || wsum <= 0.0 {
            return Similarity::IDENTITY;
        }
        let mut mf = [0.0; 2];
        let mut mt = [0.0; 2];
        for i in 0..n {
            for k in 0..2 {
                mf[k] += weights[i] * from[i][k] / wsum;
                mt[k] += weights[i] * to[i][k] / wsum;
            }
        }
        let (mut sxx, mut sab, mut sba) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let f = [from[i][0] - mf[0], from[i][1] - mf[1]];
            let t = [to[i][0] - mt[0], to[i][1] - mt[1]];
            sxx += weights[i] * (f[0] * f[0] + f[1] * f[1]);
            sab += weights[i] * (f[0] * t[0] + f[1] * t[1]);
            sba += weights[i] * (f[0] * t[1] - f[1] * t[0]);
        }
        if sxx <= 1e-12 {
            return Similarity { a: 1.0, b: 0.0, tx: mt[0] - mf[0], ty: mt[1] - mf[1] };
        }
        let a = sab / sxx;
        let b = sba / sxx;
        let s = Similarity { a, b, tx: 0.0, ty: 0.0 };
        let m = s.apply(mf);
        Similarity { a, b, tx: mt[0] - m[0], ty: mt[1] - m[1] }
    }
}

/// Points that move with the head but hardly with expressions: eye corners,
/// the nose bridge and nose base, and the upper jaw line. They carry the
/// global head motion; everything else is expression.
pub const RIGID_POINTS: [usize; 17] = [0, 1, 15, 16, 27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45, 2, 14];

/// Weights for fitting the head's similarity: rigid points count, the rest not.
pub fn rigid_weights() -> [f64; 68] {
    let mut w = [0.0; 68];
    for i in RIGID_POINTS {
        w[i] = 1.0;
    }
    w
}

/// Transfer the driver's motion at one frame onto the portrait.
///
/// * `portrait`: the portrait's own landmarks (image pixels).
/// * `driver_ref`: the driver's landmarks at its reference frame.
/// * `driver_now`: the driver's landmarks at the frame to render.
///
/// Returns the target landmarks on the portrait. When `driver_now ==
/// driver_ref` the result is exactly `portrait` (up to float rounding).
pub fn transfer_relative(portrait: &[[f64; 2]; 68], driver_ref: &[[f64; 2]; 68], driver_now: &[[f64; 2]; 68]) -> [[f64; 2]; 68] {
    let w = rigid_weights();
    // Head motion of the driver, in driver coordinates.
    let head = Similarity::fit(driver_ref, driver_now, &w);
    let head_inv = head.inverse();
    // The driver's reference face mapped onto the portrait's (all points: the
    // best overall alignment of the two faces).
    let align = Similarity::fit(driver_ref, portrait, &[1.0; 68]);
    let align_inv = align.inverse();
    // Head motion expressed in portrait coordinates.
    let head_p = align.compose(&head).compose(&align_inv);
    let mut out = [[0.0; 2]; 68];
    for i in 0..68 {
        // Expression: where the point is once the head motion is undone.
        let undone = head_inv.apply(driver_now[i]);
        let expr = [undone[0] - driver_ref[i][0], undone[1] - driver_ref[i][1]];
        let e = align.apply_vector(expr);
        out[i] = head_p.apply([portrait[i][0] + e[0], portrait[i][1] + e[1]]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> [[f64; 2]; 68] {
        let mut l = [[0.0; 2]; 68];
        for (i, p) in l.iter_mut().enumerate() {
            let a = i as f64 * 0.37;
            *p = [100.0 + 40.0 * a.cos() + i as f64 * 0.5, 120.0 + 55.0 * a.sin()];
        }
        l
    }

    #[test]
    fn fit_recovers_a_known_similarity() {
        let f = face();
        let s = Similarity { a: 1.2 * 0.3f64.cos(), b: 1.2 * 0.3f64.sin(), tx: 5.0, ty: -7.0 };
        let t: Vec<[f64; 2]> = f.iter().map(|p| s.apply(*p)).collect();
        let g = Similarity::fit(&f, &t, &[1.0; 68]);
        assert!((g.a - s.a).abs() < 1e-9 && (g.b - s.b).abs() < 1e-9);
        assert!((g.tx - s.tx).abs() < 1e-7 && (g.ty - s.ty).abs() < 1e-7);
        let id = g.compose(&g.inverse());
        assert!((id.a - 1.0).abs() < 1e-12 && id.b.abs() < 1e-12 && id.tx.abs() < 1e-9);
    }

    #[test]
    fn static_driver_gives_the_portrait_itself() {
        let p = face();
        let mut d = face();
        for q in d.iter_mut() {
            *q = [q[0] * 0.5 + 300.0, q[1] * 0.7 + 10.0];
        }
        let t = transfer_relative(&p, &d, &d);
        for i in 0..68 {
            assert!((t[i][0] - p[i][0]).abs() < 1e-9 && (t[i][1] - p[i][1]).abs() < 1e-9);
        }
    }

    #[test]
    fn driver_head_motion_moves_the_portrait_head_rigidly() {
        let p = face();
        let d = face();
        let roll = Similarity { a: 0.1f64.cos(), b: 0.1f64.sin(), tx: 3.0, ty: 4.0 };
        let now: Vec<[f64; 2]> = d.iter().map(|q| roll.apply(*q)).collect();
        let now: [[f64; 2]; 68] = now.try_into().unwrap();
        let t = transfer_relative(&p, &d, &now);
        for i in 0..68 {
            let e = roll.apply(p[i]);
            assert!((t[i][0] - e[0]).abs() < 1e-6 && (t[i][1] - e[1]).abs() < 1e-6);
        }
    }

    #[test]
    fn expressions_scale_with_the_face() {
        // A driver face half the portrait's size opening its jaw by 5 px moves
        // the portrait's jaw by 10 px.
        let p = face();
        let mut d = face();
        for q in d.iter_mut() {
            *q = [q[0] * 0.5, q[1] * 0.5];
        }
        let mut now = d;
        now[8][1] += 5.0;
        let t = transfer_relative(&p, &d, &now);
        assert!((t[8][1] - p[8][1] - 10.0).abs() < 0.5, "moved {}", t[8][1] - p[8][1]);
        assert!((t[30][1] - p[30][1]).abs() < 0.5, "the nose tip stays");
    }
}
