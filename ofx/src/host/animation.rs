//! Parameter animation curves of the headless host: an ordered key list
//! (time → value) per parameter and its evaluation. Numeric values are vectors
//! of `f64` (one per dimension, ints are stored as exact doubles); string-like
//! values only step. Three interpolations exist:
//!
//! * `Constant`: the value of the last key at or before the time (step).
//! * `Linear`: straight lines between keys.
//! * `Smooth`: cubic Hermite segments whose tangent at an inner key is the
//!   Catmull-Rom slope `(v[i+1] - v[i-1]) / (t[i+1] - t[i-1])` (correct for
//!   uneven key spacing) and zero at the first and last key ("flat ends"), so a
//!   two-key curve is an ease-in/ease-out. Like the curves of real hosts it may
//!   overshoot between inner keys.
//!
//! Before the first key and after the last the curve holds the end value. The
//! derivative is analytic, the integral exact (Simpson's rule on each cubic
//! piece).

/// How values between keys are computed (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// Step: the value of the last key at or before the time.
    Constant,
    /// Straight lines between keys.
    Linear,
    /// The default, as in most hosts.
    #[default]
    Smooth,
}

/// A key or static value: numbers (per dimension) or a string.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Numbers, one per dimension (ints stored exactly).
    Num(Vec<f64>),
    /// A string (string, custom and string-choice parameters).
    Str(String),
}

impl Value {
    /// The numeric components, or an empty slice for strings.
    pub fn nums(&self) -> &[f64] {
        match self {
            Value::Num(v) => v,
            Value::Str(_) => &[],
        }
    }
}

/// Two key times closer than this are the same key.
pub const KEY_TIME_EPSILON: f64 = 1e-6;

/// One key of a curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Keyframe {
    /// Key time.
    pub time: f64,
    /// Key value.
    pub value: Value,
}

/// An ordered list of keys (strictly increasing times).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curve {
    keys: Vec<Keyframe>,
}

impl Curve {
    /// An empty curve (the parameter is not animated).
    pub fn new() -> Curve {
        Curve { keys: Vec::new() }
    }

    /// The keys in time order.
    pub fn keys(&self) -> &[Keyframe] {
        &self.keys
    }

    /// True when the curve has at least one key.
    pub fn is_animated(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Adds a key; a key at (almost) the same time is replaced.
    pub fn set_key(&mut self, time: f64, value: Value) {
        match self.keys.iter().position(|k| k.time >= time - KEY_TIME_EPSILON) {
            Some(i) if (self.keys[i].time - time).abs() <= KEY_TIME_EPSILON => {
                self.keys[i].value = value;
            }
            Some(i) => self.keys.insert(i, Keyframe { time, value }),
            None => self.keys.push(Keyframe { time, value }),
        }
    }

    /// Removes the key at `time`; false when there is none.
    pub fn delete_key(&mut self, time: f64) -> bool {
        match self.key_index(time, 0) {
            Some(i) => {
                self.keys.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.keys.clear();
    }

    /// `paramGetKeyIndex`: direction 0 = key at `time`, > 0 = first key after,
    /// < 0 = last key before.
    pub fn key_index(&self, time: f64, direction: i32) -> Option<usize> {
        if direction == 0 {
            self.keys.iter().position(|k| (k.time - time).abs() <= KEY_TIME_EPSILON)
        } else if direction > 0 {
            self.keys.iter().position(|k| k.time > time + KEY_TIME_EPSILON)
        } else {
            self.keys.iter().rposition(|k| k.time < time - KEY_TIME_EPSILON)
        }
    }

    /// The value at `time`, or None when there are no keys.
    pub fn value_at(&self, time: f64, interp: Interpolation) -> Option<Value> {
        let n = self.keys.len();
        if n == 0 {
            return None;
        }
        let first = &self.keys[0];
        let last = &self.keys[n - 1];
        if time <= first.time {
            return Some(first.value.clone());
        }
        if time >= last.time {
            return Some(last.value.clone());
        }
        let i = self.segment(time);
        let (a, b) = (&self.keys[i], &self.keys[i + 1]);
        let (va, vb) = match (&a.value, &b.value) {
            (Value::Num(va), Value::Num(vb)) if interp != Interpolation::Constant => (va, vb),
            _ => return Some(a.value.clone()),
        };
        let h = b.time - a.time;
        let s = (time - a.time) / h;
        let dims = va.len().min(vb.len());
        let out = (0..dims)
            .map(|d| match interp {
                Interpolation::Linear => va[d] + (vb[d] - va[d]) * s,
                _ => {
                    let (ma, mb) = (self.tangent(i, d), self.tangent(i + 1, d));
                    hermite(va[d], vb[d], ma * h, mb * h, s)
                }
            })
            .collect();
        Some(Value::Num(out))
    }

    /// d value / d time at `time` (per dimension); zero outside the keys or
    /// for constant interpolation; None when there are no keys.
    pub fn derivative(&self, time: f64, interp: Interpolation) -> Option<Vec<f64>> {
        let n = self.keys.len();
        let dims = self.keys.first()?.value.nums().len();
        if n < 2 || interp == Interpolation::Constant || time < self.keys[0].time || time >= self.keys[n - 1].time {
            return Some(vec![0.0; dims]);
        }
        let i = self.segment(time);
        let (a, b) = (&self.keys[i], &self.keys[i + 1]);
        let h = b.time - a.time;
        let s = (time - a.time) / h;
        let (va, vb) = (a.value.nums(), b.value.nums());
        Some(
            (0..dims.min(vb.len()))
                .map(|d| match interp {
                    Interpolation::Linear => (vb[d] - va[d]) / h,
                    _ => {
                        let (ma, mb) = (self.tangent(i, d), self.tangent(i + 1, d));
                        hermite_derivative(va[d], vb[d], ma * h, mb * h, s) / h
                    }
                })
                .collect(),
        )
    }

    /// ∫ value dt from `t1` to `t2` (per dimension), exact for the piecewise
    /// cubic / linear / constant curve; None when there are no keys.
    pub fn integral(&self, t1: f64, t2: f64, interp: Interpolation) -> Option<Vec<f64>> {
        if self.keys.is_empty() {
            return None;
        }
        if t2 < t1 {
            return self.integral(t2, t1, interp).map(|v| v.into_iter().map(|x| -x).collect());
        }
        let dims = self.keys[0].value.nums().len();
        // Split [t1, t2] at every key so each piece is one polynomial.
        let mut cuts = vec![t1];
        cuts.extend(self.keys.iter().map(|k| k.time).filter(|&t| t > t1 && t < t2));
        cuts.push(t2);
        let mut sum = vec![0.0; dims];
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b <= a {
                continue;
            }
            let fa = self.nums_at(a, interp, dims);
            let fm = self.nums_at(0.5 * (a + b), interp, dims);
            // For a constant step use the left value: the step happens at the cut.
            let fb = if interp == Interpolation::Constant { fa.clone() } else { self.nums_at(b, interp, dims) };
            for d in 0..dims {
                sum[d] += (b - a) / 6.0 * (fa[d] + 4.0 * fm[d] + fb[d]);
            }
        }
        Some(sum)
    }

    fn nums_at(&self, t: f64, interp: Interpolation, dims: usize) -> Vec<f64> {
        let mut v = match self.value_at(t, interp) {
            Some(Value::Num(v)) => v,
            _ => Vec::new(),
        };
        v.resize(dims, 0.0);
        v
    }

    /// Index `i` of the segment [keys[i], keys[i+1]) holding `time`
    /// (requires first.time < time < last.time).
    fn segment(&self, time: f64) -> usize {
        let p = self.keys.partition_point(|k| k.time <= time);
        p.saturating_sub(1).min(self.keys.len().saturating_sub(2))
    }

    /// Catmull-Rom tangent (value per time unit) at key `i`, dimension `d`;
    /// zero at both ends.
    fn tangent(&self, i: usize, d: usize) -> f64 {
        if i == 0 || i + 1 >= self.keys.len() {
            return 0.0;
        }
        let (p, n) = (&self.keys[i - 1], &self.keys[i + 1]);
        let dt = n.time - p.time;
        match (p.value.nums().get(d), n.value.nums().get(d)) {
            (Some(a), Some(b)) if dt > 0.0 => (b - a) / dt,
            _ => 0.0,
        }
    }
}

/// Cubic Hermite on s ∈ [0, 1] with end values and end tangents already scaled
/// by the segment length.
fn hermite(p0: f64, p1: f64, m0: f64, m1: f64, s: f64) -> f64 {
    let s2 = s * s;
    let s3 = s2 * s;
    (2.0 * s3 - 3.0 * s2 + 1.0) * p0 + (s3 - 2.0 * s2 + s) * m0 + (-2.0 * s3 + 3.0 * s2) * p1 + (s3 - s2) * m1
}

/// d/ds of [`hermite`].
fn hermite_derivative(p0: f64, p1: f64, m0: f64, m1: f64, s: f64) -> f64 {
    let s2 = s * s;
    (6.0 * s2 - 6.0 * s) * p0 + (3.0 * s2 - 4.0 * s + 1.0) * m0 + (-6.0 * s2 + 6.0 * s) * p1 + (3.0 * s2 - 2.0 * s) * m1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> Value {
        Value::Num(vec![x])
    }
    fn at(c: &Curve, t: f64, i: Interpolation) -> f64 {
        c.value_at(t, i).unwrap().nums()[0]
    }

    #[test]
    fn linear_at_and_between_keys() {
        let mut c = Curve::new();
        c.set_key(10.0, num(1.0));
        c.set_key(0.0, num(0.0));
        c.set_key(20.0, num(-1.0));
        let l = Interpolation::Linear;
        assert_eq!(at(&c, 0.0, l), 0.0);
        assert_eq!(at(&c, 10.0, l), 1.0);
        assert!((at(&c, 5.0, l) - 0.5).abs() < 1e-12);
        assert!((at(&c, 15.0, l) - 0.0).abs() < 1e-12);
        // Outside the keys the end values hold.
        assert_eq!(at(&c, -5.0, l), 0.0);
        assert_eq!(at(&c, 99.0, l), -1.0);
        assert_eq!(c.derivative(5.0, l).unwrap(), vec![0.1]);
    }

    #[test]
    fn smooth_has_flat_ends_and_passes_through_keys() {
        let mut c = Curve::new();
        c.set_key(0.0, num(0.0));
        c.set_key(10.0, num(10.0));
        let s = Interpolation::Smooth;
        assert_eq!(at(&c, 0.0, s), 0.0);
        assert_eq!(at(&c, 10.0, s), 10.0);
        // Symmetric ease: the midpoint is exactly half way, quarter points are eased.
        assert!((at(&c, 5.0, s) - 5.0).abs() < 1e-12);
        assert!((at(&c, 2.5, s) - 1.5625).abs() < 1e-12);
        assert!(c.derivative(0.0, s).unwrap()[0].abs() < 1e-12);
        // Inner key: Catmull-Rom slope (20 - 0) / (20 - 0) = 1.
        c.set_key(20.0, num(20.0));
        let d = c.derivative(10.0, s).unwrap()[0];
        assert!((d - 1.0).abs() < 1e-12, "{d}");
        // Integral of the symmetric curve 0..20 is the triangle-ish area 200.
        let i = c.integral(0.0, 20.0, s).unwrap()[0];
        assert!((i - 200.0).abs() < 1e-9, "{i}");
    }

    #[test]
    fn keys_replace_delete_and_index() {
        let mut c = Curve::new();
        c.set_key(1.0, num(1.0));
        c.set_key(2.0, num(2.0));
        c.set_key(1.0 + 1e-9, num(5.0));
        assert_eq!(c.keys().len(), 2);
        assert_eq!(at(&c, 1.0, Interpolation::Linear), 5.0);
        assert_eq!(c.key_index(1.5, 1), Some(1));
        assert_eq!(c.key_index(1.5, -1), Some(0));
        assert_eq!(c.key_index(2.0, 1), None);
        assert_eq!(c.key_index(2.0, 0), Some(1));
        assert!(c.delete_key(1.0));
        assert!(!c.delete_key(1.0));
        assert_eq!(c.keys().len(), 1);
        c.clear();
        assert!(c.value_at(0.0, Interpolation::Linear).is_none());
    }

    #[test]
    fn constant_and_strings_step() {
        let mut c = Curve::new();
        c.set_key(0.0, Value::Str("a".into()));
        c.set_key(10.0, Value::Str("b".into()));
        assert_eq!(c.value_at(9.9, Interpolation::Smooth), Some(Value::Str("a".into())));
        assert_eq!(c.value_at(10.0, Interpolation::Smooth), Some(Value::Str("b".into())));
        let mut n = Curve::new();
        n.set_key(0.0, num(1.0));
        n.set_key(10.0, num(3.0));
        assert_eq!(at(&n, 5.0, Interpolation::Constant), 1.0);
        assert_eq!(n.integral(0.0, 10.0, Interpolation::Constant).unwrap(), vec![10.0]);
        assert_eq!(n.integral(0.0, 10.0, Interpolation::Linear).unwrap(), vec![20.0]);
        assert_eq!(n.integral(10.0, 0.0, Interpolation::Linear).unwrap(), vec![-20.0]);
    }
}
