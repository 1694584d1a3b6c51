//! The person matte from MediaPipe's selfie-segmentation model (general, 256×256): the whole image is stretched
//! to 256×256 in [0, 1] (black outside, as `SelfieSegmentationCpu` does), the model gives a person probability
//! per tensor pixel, and the matte is read back at every image pixel bilinearly through the inverse of the same
//! mapping, so the matte lines up with the image exactly as the input was sampled from it.

use super::image::{to_tensor, warp_rgb, Affine, Border, FaceImage};
use crate::inference::{ModelSpec, TensorInput, TensorSpec};

/// The segmentation model and its tensors.
pub const MATTE_MODEL: ModelSpec = ModelSpec {
    file: "selfie_segmentation.onnx",
    inputs: &[TensorSpec { name: "input_1", shape: &[1, 256, 256, 3] }],
    outputs: &[TensorSpec { name: "activation_10", shape: &[1, 256, 256, 1] }],
};

const SIZE: u32 = 256;

/// A single-channel matte, row-major from the top row, values 0 (background) … 1 (person).
#[derive(Clone, Debug, PartialEq)]
pub struct Matte {
    pub width: u32,
    pub height: u32,
    pub alpha: Vec<f32>,
}

impl Matte {
    /// The matte as an 8-bit grey image (for files and previews).
    pub fn to_luma8(&self) -> image::GrayImage {
        let bytes = self.alpha.iter().map(|&a| (a.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
        image::GrayImage::from_raw(self.width, self.height, bytes).unwrap_or_else(|| image::GrayImage::new(1, 1))
    }

    /// The value at pixel (x, y).
    pub fn at(&self, x: u32, y: u32) -> f32 {
        self.alpha[y as usize * self.width as usize + x as usize]
    }
}

fn input_map(img: &FaceImage) -> Affine {
    Affine::from_rect(
        img.width as f64 / 2.0,
        img.height as f64 / 2.0,
        img.width as f64,
        img.height as f64,
        0.0,
        SIZE,
        SIZE,
    )
}

pub(crate) fn matte_input(img: &FaceImage) -> Vec<f32> {
    let rgb = warp_rgb(img, &input_map(img), SIZE, SIZE, Border::Zero);
    to_tensor(&rgb, 1.0 / 255.0, 0.0)
}

pub(crate) fn input_tensor(data: &[f32]) -> TensorInput<'_> {
    TensorInput { name: "input_1", shape: &[1, 256, 256, 3], data }
}

/// Resamples the 256×256 probabilities to the image: pixel x reads tensor position x·256/W (the inverse of the
/// input mapping), bilinearly, clamped at the edges.
pub(crate) fn decode(img: &FaceImage, probs: &[f32]) -> Option<Matte> {
    let n = SIZE as usize;
    if probs.len() != n * n {
        return None;
    }
    let (w, h) = (img.width as usize, img.height as usize);
    let sx = SIZE as f32 / img.width as f32;
    let sy = SIZE as f32 / img.height as f32;
    let max = (n - 1) as f32;
    // Per-column positions are the same on every row: compute them once.
    let cols: Vec<(usize, usize, f32)> = (0..w)
        .map(|x| {
            let t = (x as f32 * sx).clamp(0.0, max);
            let i = t.floor() as usize;
            (i, (i + 1).min(n - 1), t - i as f32)
        })
        .collect();
    let mut alpha = Vec::with_capacity(w * h);
    for y in 0..h {
        let t = (y as f32 * sy).clamp(0.0, max);
        let j0 = t.floor() as usize;
        let j1 = (j0 + 1).min(n - 1);
        let fy = t - j0 as f32;
        let (r0, r1) = (&probs[j0 * n..j0 * n + n], &probs[j1 * n..j1 * n + n]);
        for &(i0, i1, fx) in &cols {
            let top = r0[i0] + (r0[i1] - r0[i0]) * fx;
            let bottom = r1[i0] + (r1[i1] - r1[i0]) * fx;
            let v = top + (bottom - top) * fy;
            alpha.push(if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 });
        }
    }
    Some(Matte { width: img.width, height: img.height, alpha })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_resizes_and_clamps() {
        let img = FaceImage::filled(512, 128, [0, 0, 0]).unwrap();
        let mut probs = vec![0.0f32; 256 * 256];
        probs[0] = 1.0;
        probs[1] = 0.5;
        probs[254 * 256 + 255] = -3.0; // out of range: clamped
        let m = decode(&img, &probs).unwrap();
        assert_eq!((m.width, m.height, m.alpha.len()), (512, 128, 512 * 128));
        assert_eq!(m.at(0, 0), 1.0);
        assert!((m.at(1, 0) - 0.75).abs() < 1e-6); // halfway between tensor pixels 0 and 1
        assert_eq!(m.at(2, 0), 0.5);
        assert_eq!(m.at(511, 127), 0.0);
        assert_eq!(m.to_luma8().get_pixel(0, 0).0, [255]);
        assert!(decode(&img, &probs[1..]).is_none());
    }
}
