//! Landmark smoothing with the One Euro filter (Casiez, Roussel and Vogel,
//! CHI 2012): a low-pass filter whose cut-off rises with speed, so slow jitter
//! is removed while fast motion keeps little lag.
//!
//! The filter is causal and carries state from frame to frame, but a render
//! must be a pure function of its inputs. So the smoothed value at frame t is
//! computed afresh from the track alone: the filter runs over a window of the
//! [`WINDOW`] frames before t (from the oldest, with its state started at that
//! frame's value). Any frame order gives the same result; the window is long
//! enough (two seconds at 24 fps) that a longer history changes the result by
//! less than the filter's own smoothing at the default settings.

use crate::landmarks::Landmarks68;

/// Frames of history the filter runs over.
pub const WINDOW: usize = 48;

/// One Euro filter settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneEuro {
    /// Cut-off frequency at rest, Hz (lower: smoother, more lag at rest).
    pub min_cutoff: f64,
    /// Speed coefficient (higher: less lag in fast motion).
    pub beta: f64,
    /// Cut-off for the speed estimate, Hz (1 Hz as in the paper).
    pub d_cutoff: f64,
}

fn alpha(cutoff: f64, dt: f64) -> f64 {
    let tau = 1.0 / (2.0 * std::f64::consts::PI * cutoff.max(1e-6));
    1.0 / (1.0 + tau / dt)
}

impl OneEuro {
    /// Filter a sequence of (time in seconds, landmarks), oldest first, and
    /// return the filtered value at the last sample.
    pub fn filter_last(&self, samples: &[(f64, Landmarks68<f64>)]) -> Option<Landmarks68<f64>> {
        let (first, rest) = samples.split_first()?;
        let mut x = first.1;
        let mut dx = [[0.0f64; 2]; 68];
        let mut t_prev = first.0;
        for (t, raw) in rest {
            let dt = (t - t_prev).max(1e-6);
            t_prev = *t;
            let ad = alpha(self.d_cutoff, dt);
            for i in 0..68 {
                for k in 0..2 {
                    let d = (raw[i][k] - x[i][k]) / dt;
                    dx[i][k] += ad * (d - dx[i][k]);
                    let cutoff = self.min_cutoff + self.beta * dx[i][k].abs();
                    let a = alpha(cutoff, dt);
                    x[i][k] += a * (raw[i][k] - x[i][k]);
                }
            }
        }
        Some(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(v: f64) -> Landmarks68<f64> {
        [[v, -v]; 68]
    }

    #[test]
    fn a_still_track_stays_exactly_still() {
        let f = OneEuro { min_cutoff: 1.0, beta: 0.0, d_cutoff: 1.0 };
        let s: Vec<(f64, Landmarks68<f64>)> = (0..10).map(|i| (i as f64 / 24.0, at(3.5))).collect();
        assert_eq!(f.filter_last(&s).unwrap(), at(3.5));
    }

    #[test]
    fn jitter_is_reduced_and_fast_motion_followed() {
        let f = OneEuro { min_cutoff: 0.5, beta: 0.0, d_cutoff: 1.0 };
        let jitter: Vec<(f64, Landmarks68<f64>)> = (0..48).map(|i| (i as f64 / 24.0, at(if i % 2 == 0 { 1.0 } else { -1.0 }))).collect();
        let v = f.filter_last(&jitter).unwrap()[0][0];
        assert!(v.abs() < 0.5, "jitter of ±1 smoothed to {v}");
        let fast = OneEuro { min_cutoff: 0.5, beta: 5.0, d_cutoff: 1.0 };
        let ramp: Vec<(f64, Landmarks68<f64>)> = (0..24).map(|i| (i as f64 / 24.0, at(i as f64 * 10.0))).collect();
        let slow_v = f.filter_last(&ramp).unwrap()[0][0];
        let fast_v = fast.filter_last(&ramp).unwrap()[0][0];
        assert!(fast_v > slow_v && fast_v > 200.0, "beta reduces lag: {slow_v} vs {fast_v} (target 230)");
    }
}
