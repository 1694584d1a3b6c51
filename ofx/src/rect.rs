//! Rectangles, the vocabulary both halves of the crate share: [`RectI`] (pixel
//! bounds, render windows) and [`RectD`] (canonical coordinates). A leaf: it
//! imports nothing of this crate, only the OFX C types it converts from and to,
//! so that the plugin side (`ofx::plugin::RectI`) and the host side
//! (`ofx::host::RectI`) name one and the same type.

use openfx::sys::generic::core::OfxRectD;

/// Integer pixel rectangle, half open: `x1 <= x < x2`, `y1 <= y < y2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RectI {
    /// Left (inclusive).
    pub x1: i32,
    /// Bottom (inclusive).
    pub y1: i32,
    /// Right (exclusive).
    pub x2: i32,
    /// Top (exclusive).
    pub y2: i32,
}

impl RectI {
    /// A rectangle from its corners.
    pub fn new(x1: i32, y1: i32, x2: i32, y2: i32) -> RectI {
        RectI { x1, y1, x2, y2 }
    }
    /// Width (0 when empty).
    pub fn width(&self) -> usize {
        (self.x2 - self.x1).max(0) as usize
    }
    /// Height (0 when empty).
    pub fn height(&self) -> usize {
        (self.y2 - self.y1).max(0) as usize
    }
    /// Whether it has no pixels.
    pub fn is_empty(&self) -> bool {
        self.x2 <= self.x1 || self.y2 <= self.y1
    }
    /// Grown by `p` pixels on every side.
    pub fn padded(&self, p: i32) -> RectI {
        RectI::new(self.x1 - p, self.y1 - p, self.x2 + p, self.y2 + p)
    }
    /// The common part (may be empty).
    pub fn intersect(&self, o: &RectI) -> RectI {
        RectI::new(self.x1.max(o.x1), self.y1.max(o.y1), self.x2.min(o.x2), self.y2.min(o.y2))
    }
    /// Whether `o` lies entirely inside.
    pub fn contains(&self, o: &RectI) -> bool {
        o.x1 >= self.x1 && o.y1 >= self.y1 && o.x2 <= self.x2 && o.y2 <= self.y2
    }
    /// Pixel bounds of a canonical rectangle at `scale` (outward rounding; a
    /// hair of tolerance so that 0.9999999 does not grow a whole pixel).
    pub fn from_canonical(r: &OfxRectD, scale: f64) -> RectI {
        let c = |v: f64, up: bool| {
            let v = v * scale;
            let v = if up { (v - 1e-6).ceil() } else { (v + 1e-6).floor() };
            v.clamp(i32::MIN as f64 / 2.0, i32::MAX as f64 / 2.0) as i32
        };
        RectI::new(c(r.x1, false), c(r.y1, false), c(r.x2, true), c(r.y2, true))
    }
    /// Canonical rectangle of these pixel bounds at `scale`.
    pub fn to_canonical(&self, scale: f64) -> OfxRectD {
        OfxRectD {
            x1: self.x1 as f64 / scale,
            y1: self.y1 as f64 / scale,
            x2: self.x2 as f64 / scale,
            y2: self.y2 as f64 / scale,
        }
    }
    /// As an OFX rectangle.
    pub fn to_ofx(&self) -> [i32; 4] {
        [self.x1, self.y1, self.x2, self.y2]
    }
}

/// Canonical-coordinate rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RectD {
    /// Left.
    pub x1: f64,
    /// Bottom.
    pub y1: f64,
    /// Right.
    pub x2: f64,
    /// Top.
    pub y2: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_round_trip_rounds_outward() {
        let r = RectI::from_canonical(&OfxRectD { x1: 0.5, y1: -0.5, x2: 9.2, y2: 4.0 }, 0.5);
        assert_eq!(r, RectI::new(0, -1, 5, 2));
        assert_eq!(RectI::from_canonical(&r.to_canonical(0.5), 0.5), r);
        assert!(RectI::new(3, 0, 3, 9).is_empty() && !r.is_empty());
        assert!(r.padded(1).contains(&r) && !r.contains(&r.padded(1)));
        assert_eq!(r.intersect(&RectI::new(2, 0, 9, 9)), RectI::new(2, 0, 5, 2));
    }
}
