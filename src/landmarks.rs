//! The 68 iBUG landmarks, the plugin's one vocabulary for a face's points:
//! [`Landmarks68`] (f32 in image pixels as analysis and track files give them,
//! f64 in canonical coordinates as the render computes with them), the
//! conversions between the two precisions, the mean of a range of points (a
//! face part: 36..42 is the right eye) and the inter-ocular distance, the
//! face's natural unit. A leaf: it imports nothing of ours, so everything may
//! import it.

use std::ops::Range;

/// Points in a landmark set (the iBUG 300-W layout).
pub const POINTS: usize = 68;

/// The 68 iBUG points, `[x, y]` each: f32 by default (image pixels, origin
/// top-left, as detection and track files give them); `Landmarks68<f64>` in
/// canonical coordinates (y up) inside the render.
pub type Landmarks68<T = f32> = [[T; 2]; POINTS];

/// The right eye's points (the subject's right: image left).
pub const RIGHT_EYE: Range<usize> = 36..42;
/// The left eye's points.
pub const LEFT_EYE: Range<usize> = 42..48;
/// The outer and inner lip points.
pub const MOUTH: Range<usize> = 48..60;

/// The f32 points as f64.
pub fn to_f64(l: &Landmarks68) -> Landmarks68<f64> {
    let mut out = [[0.0; 2]; POINTS];
    for (o, p) in out.iter_mut().zip(l.iter()) {
        *o = [p[0] as f64, p[1] as f64];
    }
    out
}

/// The f64 points as f32.
pub fn to_f32(l: &Landmarks68<f64>) -> Landmarks68 {
    let mut out = [[0.0f32; 2]; POINTS];
    for (o, p) in out.iter_mut().zip(l.iter()) {
        *o = [p[0] as f32, p[1] as f32];
    }
    out
}

/// The mean of points `range` (a face part), each point divided by the count
/// as it is added.
pub fn mean(l: &Landmarks68<f64>, range: Range<usize>) -> [f64; 2] {
    let n = range.len() as f64;
    let mut m = [0.0; 2];
    for i in range {
        m[0] += l[i][0] / n;
        m[1] += l[i][1] / n;
    }
    m
}

/// Distance between the eye centres (the face's natural unit).
pub fn inter_ocular(l: &Landmarks68<f64>) -> f64 {
    // Summed, then divided: not `mean`'s order of rounding, and the reference
    // choice that uses this must not move by an ulp.
    let centre = |r: Range<usize>| {
        let n = r.len() as f64;
        let (mut x, mut y) = (0.0, 0.0);
        for i in r {
            x += l[i][0];
            y += l[i][1];
        }
        [x / n, y / n]
    };
    let (r, le) = (centre(RIGHT_EYE), centre(LEFT_EYE));
    (r[0] - le[0]).hypot(r[1] - le[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> Landmarks68<f64> {
        let mut l = [[0.0; 2]; POINTS];
        for (i, p) in l.iter_mut().enumerate() {
            *p = [i as f64 * 0.5, 100.0 - i as f64];
        }
        for i in RIGHT_EYE {
            l[i] = [10.0, 50.0];
        }
        for i in LEFT_EYE {
            l[i] = [40.0, 90.0];
        }
        l
    }

    #[test]
    fn inter_ocular_is_the_distance_between_the_eye_centres() {
        assert_eq!(inter_ocular(&face()), 50.0);
    }

    #[test]
    fn mean_of_a_part() {
        assert_eq!(mean(&face(), LEFT_EYE), [40.0, 90.0]);
        assert_eq!(mean(&face(), 0..2), [0.25, 99.5]);
    }

    #[test]
    fn precisions_round_trip() {
        let l = face();
        assert_eq!(to_f64(&to_f32(&l)), l, "these values are exact in f32");
    }
}
