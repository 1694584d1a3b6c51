//! The image type the face analysis reads (8-bit RGB, rows top to bottom) and the one resampling routine every
//! model input is made with. MediaPipe prepares its tensors with OpenCV's `warpPerspective` (bilinear, source
//! positions on a 1/32-pixel grid, 8-bit result) from a rectangle whose corners map onto the tensor's corners;
//! the reference landmarks were produced that way, so `warp_rgb` does the same: tensor pixel (u, v) reads the
//! source at the affine image of (u, v), where source pixel k sits at coordinate k. Coordinates throughout the
//! face module follow MediaPipe's: a normalised position times the image size, origin at the top-left.

use std::path::Path;

use super::FaceError;

/// An 8-bit RGB image, row-major from the top row, 3 bytes per pixel, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct FaceImage {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for FaceImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FaceImage({}×{})", self.width, self.height)
    }
}

/// Largest side accepted: keeps a corrupt size from allocating gigabytes.
pub const MAX_IMAGE_SIDE: u32 = 32768;
/// Largest image file read (1 GiB): a 32768-pixel-wide EXR frame stays below it; a wrong path (a disk image) does not.
pub const MAX_IMAGE_FILE_BYTES: u64 = 1024 * 1024 * 1024;

impl FaceImage {
    /// Wraps RGB bytes; fails when the length does not match the size or the size is empty or absurd.
    pub fn new(width: u32, height: u32, rgb: Vec<u8>) -> Result<FaceImage, FaceError> {
        check_size(width, height)?;
        let expected = width as usize * height as usize * 3;
        if rgb.len() != expected {
            return Err(FaceError::InvalidImage(format!(
                "a {width}×{height} RGB image needs {expected} bytes but {} were given",
                rgb.len()
            )));
        }
        Ok(FaceImage { width, height, rgb })
    }

    /// A uniform image (used for tests and as a neutral input).
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Result<FaceImage, FaceError> {
        check_size(width, height)?;
        let n = width as usize * height as usize;
        Ok(FaceImage { width, height, rgb: rgb.iter().copied().cycle().take(n * 3).collect() })
    }

    /// Converts any decoded image (alpha is dropped, 16-bit and float channels are scaled to 8 bits).
    pub fn from_dynamic(img: &image::DynamicImage) -> FaceImage {
        let rgb = img.to_rgb8();
        FaceImage { width: rgb.width(), height: rgb.height(), rgb: rgb.into_raw() }
    }

    /// Reads an image file (JPEG, PNG 8/16-bit, TIFF, WebP, OpenEXR, GIF: the formats this build decodes, recognised
    /// by content; EXIF orientation applied), of at most `MAX_IMAGE_FILE_BYTES`.
    pub fn open(path: &Path) -> Result<FaceImage, FaceError> {
        let unreadable = |reason: String| FaceError::Unreadable { path: path.to_path_buf(), reason };
        // Through the one bounded reader: no named pipe, device or endless file is read.
        let bytes = crate::files::read_bounded(path, MAX_IMAGE_FILE_BYTES).map_err(|e| unreadable(format!("it {}", e.reason())))?;
        let mut decoder = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| unreadable(e.to_string()))?
            .into_decoder()
            .map_err(|e| unreadable(e.to_string()))?;
        // A camera JPEG stores its pixels as the sensor saw them and says in EXIF how to turn them upright.
        let orientation = image::ImageDecoder::orientation(&mut decoder).unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| unreadable(e.to_string()))?;
        img.apply_orientation(orientation);
        if img.width() == 0 || img.height() == 0 || img.width() > MAX_IMAGE_SIDE || img.height() > MAX_IMAGE_SIDE {
            return Err(FaceError::Unreadable {
                path: path.to_path_buf(),
                reason: format!("its size {}×{} is not supported", img.width(), img.height()),
            });
        }
        Ok(FaceImage::from_dynamic(&img))
    }

    /// Converts float pixels with `channels` (3 = RGB, 4 = RGBA) per pixel, rows from the top, values 0–1
    /// (display-referred); values outside are clamped. Alpha is ignored.
    pub fn from_f32(width: u32, height: u32, channels: usize, data: &[f32]) -> Result<FaceImage, FaceError> {
        check_size(width, height)?;
        if !(3..=4).contains(&channels) {
            return Err(FaceError::InvalidImage(format!("{channels} channels per pixel are not RGB or RGBA")));
        }
        let n = width as usize * height as usize;
        if data.len() != n * channels {
            return Err(FaceError::InvalidImage(format!(
                "a {width}×{height} image with {channels} channels needs {} values but {} were given",
                n * channels,
                data.len()
            )));
        }
        let to8 = |v: f32| if v.is_nan() { 0 } else { (v.clamp(0.0, 1.0) * 255.0).round() as u8 };
        let rgb = data.chunks_exact(channels).flat_map(|p| [to8(p[0]), to8(p[1]), to8(p[2])]).collect();
        Ok(FaceImage { width, height, rgb })
    }

    /// The pixel at (x, y) clamped into the image.
    #[inline]
    fn pixel_clamped(&self, x: i64, y: i64) -> [u8; 3] {
        let x = x.clamp(0, self.width as i64 - 1) as usize;
        let y = y.clamp(0, self.height as i64 - 1) as usize;
        let i = (y * self.width as usize + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// A 128-bit key of the pixels and size, for caches keyed by image content.
    pub fn content_key(&self) -> ContentKey {
        ContentKey(content_hash(self.width, self.height, &self.rgb))
    }
}

fn check_size(width: u32, height: u32) -> Result<(), FaceError> {
    if width == 0 || height == 0 {
        return Err(FaceError::InvalidImage(format!("the image is empty ({width}×{height})")));
    }
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(FaceError::InvalidImage(format!(
            "the image is {width}×{height}; sides above {MAX_IMAGE_SIDE} pixels are not supported"
        )));
    }
    Ok(())
}

/// Identifies image content (pixels and size) for caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentKey(pub u128);

/// Two independent 64-bit multiply–rotate lanes over 8-byte words: fast (a 1080p frame in a few ms) and, at
/// 128 bits, collisions between images in one session are not a practical concern. Not cryptographic.
fn content_hash(width: u32, height: u32, bytes: &[u8]) -> u128 {
    const P1: u64 = 0x9E37_79B9_7F4A_7C15;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let mut a: u64 = 0x243F_6A88_85A3_08D3 ^ ((width as u64) << 32 | height as u64);
    let mut b: u64 = 0x1319_8A2E_0370_7344 ^ (bytes.len() as u64);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        a = (a ^ v).wrapping_mul(P1).rotate_left(29);
        b = (b.rotate_left(17) ^ v).wrapping_mul(P2);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    let v = u64::from_le_bytes(tail) ^ 0xFF;
    a = (a ^ v).wrapping_mul(P1).rotate_left(29);
    b = (b.rotate_left(17) ^ v).wrapping_mul(P2);
    ((fmix64(a ^ b.rotate_left(7)) as u128) << 64) | fmix64(b ^ a.rotate_left(13)) as u128
}

/// The 64-bit finaliser of MurmurHash3 (Appleby's public-domain constants): spreads every input bit over the
/// whole word. Shared by the content keys of images.
pub(crate) fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// An affine map from tensor pixel (u, v) to image position: `x = m0·u + m1·v + m2`, `y = m3·u + m4·v + m5`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine(pub [f64; 6]);

impl Affine {
    /// Tensor of `out_w`×`out_h` pixels covering a rectangle of `width`×`height` image units centred on
    /// (`cx`, `cy`) and rotated by `rotation` radians (clockwise on screen, as MediaPipe's rects): the rectangle's
    /// corners land on the tensor's corners (0,0) and (out_w, out_h).
    pub fn from_rect(cx: f64, cy: f64, width: f64, height: f64, rotation: f64, out_w: u32, out_h: u32) -> Affine {
        let (s, c) = rotation.sin_cos();
        let sx = width / out_w as f64;
        let sy = height / out_h as f64;
        // image = centre + R · ((u − out_w/2)·sx, (v − out_h/2)·sy)
        let m0 = c * sx;
        let m1 = -s * sy;
        let m3 = s * sx;
        let m4 = c * sy;
        let ox = -(out_w as f64) / 2.0;
        let oy = -(out_h as f64) / 2.0;
        Affine([m0, m1, cx + m0 * ox + m1 * oy, m3, m4, cy + m3 * ox + m4 * oy])
    }

    /// Where tensor position (u, v) falls in the image.
    pub fn apply(&self, u: f64, v: f64) -> (f64, f64) {
        let m = &self.0;
        (m[0] * u + m[1] * v + m[2], m[3] * u + m[4] * v + m[5])
    }
}

/// What lies outside the image when a tensor pixel reads beyond its edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Border {
    /// Black (OpenCV's BORDER_CONSTANT with 0; MediaPipe's BORDER_ZERO).
    Zero,
    /// The nearest edge pixel (BORDER_REPLICATE).
    Replicate,
}

/// OpenCV's bilinear warps place source positions on a 1/32 pixel grid (INTER_BITS = 5).
const SUBPIXEL_STEPS: f64 = 32.0;

/// Resamples `img` into an `out_w`×`out_h` RGB tensor image through `map` (tensor pixel → image position),
/// bilinearly, like OpenCV's `warpPerspective` with INTER_LINEAR on 8-bit data. Returns RGB bytes.
pub fn warp_rgb(img: &FaceImage, map: &Affine, out_w: u32, out_h: u32, border: Border) -> Vec<u8> {
    let m = &map.0;
    if m[1] == 0.0 && m[3] == 0.0 {
        warp_axis_aligned(img, map, out_w, out_h, border)
    } else {
        warp_general(img, map, out_w, out_h, border)
    }
}

/// Where one tensor column (or row) reads the image: the two neighbouring pixels (clamped into the image),
/// whether each is really inside, and the weight of the second.
#[derive(Clone, Copy)]
struct AxisSample {
    lo: usize,
    hi: usize,
    lo_inside: bool,
    hi_inside: bool,
    frac: f32,
}

/// The samples of one axis of an axis-aligned map (`position = scale·i + offset`), quantised as in
/// `warp_general`; `None` where the position is not finite or absurd (the tensor pixel stays black).
fn axis_samples(scale: f64, offset: f64, n: u32, len: u32) -> Vec<Option<AxisSample>> {
    let len = len as i64;
    (0..n)
        .map(|i| {
            let q = ((scale * i as f64 + offset) * SUBPIXEL_STEPS).round();
            if !q.is_finite() || q.abs() > 1e15 {
                return None;
            }
            let q = q as i64;
            let lo = q.div_euclid(32);
            let inside = |k: i64| k >= 0 && k < len;
            Some(AxisSample {
                lo: lo.clamp(0, len - 1) as usize,
                hi: (lo + 1).clamp(0, len - 1) as usize,
                lo_inside: inside(lo),
                hi_inside: inside(lo + 1),
                frac: q.rem_euclid(32) as f32 / 32.0,
            })
        })
        .collect()
}

/// `warp_general` for a map without rotation or shear (tiles, letterboxes), with the per-column and per-row
/// work done once: the same bytes, several times faster.
fn warp_axis_aligned(img: &FaceImage, map: &Affine, out_w: u32, out_h: u32, border: Border) -> Vec<u8> {
    let m = &map.0;
    let cols = axis_samples(m[0], m[2], out_w, img.width);
    let rows = axis_samples(m[4], m[5], out_h, img.height);
    let mut out = vec![0u8; out_w as usize * out_h as usize * 3];
    let w = img.width as usize;
    let zero = border == Border::Zero;
    for (v, row) in rows.iter().enumerate() {
        let Some(ys) = row else { continue };
        let line = &mut out[v * out_w as usize * 3..(v + 1) * out_w as usize * 3];
        for (xs, px) in cols.iter().zip(line.chunks_exact_mut(3)) {
            let Some(xs) = xs else { continue };
            if zero && !((xs.lo_inside || xs.hi_inside) && (ys.lo_inside || ys.hi_inside)) {
                continue;
            }
            let fetch = |x: usize, x_in: bool, y: usize, y_in: bool| -> [u8; 3] {
                if zero && !(x_in && y_in) {
                    return [0, 0, 0];
                }
                let i = (y * w + x) * 3;
                [img.rgb[i], img.rgb[i + 1], img.rgb[i + 2]]
            };
            let p00 = fetch(xs.lo, xs.lo_inside, ys.lo, ys.lo_inside);
            let p10 = fetch(xs.hi, xs.hi_inside, ys.lo, ys.lo_inside);
            let p01 = fetch(xs.lo, xs.lo_inside, ys.hi, ys.hi_inside);
            let p11 = fetch(xs.hi, xs.hi_inside, ys.hi, ys.hi_inside);
            let (fx, fy) = (xs.frac, ys.frac);
            let w00 = (1.0 - fx) * (1.0 - fy);
            let w10 = fx * (1.0 - fy);
            let w01 = (1.0 - fx) * fy;
            let w11 = fx * fy;
            for c in 0..3 {
                let value = w00 * p00[c] as f32 + w10 * p10[c] as f32 + w01 * p01[c] as f32 + w11 * p11[c] as f32;
                px[c] = round_to_u8(value);
            }
        }
    }
    out
}

/// The resampling for any affine map, pixel by pixel.
fn warp_general(img: &FaceImage, map: &Affine, out_w: u32, out_h: u32, border: Border) -> Vec<u8> {
    let mut out = vec![0u8; out_w as usize * out_h as usize * 3];
    let (w, h) = (img.width as i64, img.height as i64);
    for v in 0..out_h as usize {
        for u in 0..out_w as usize {
            let (x, y) = map.apply(u as f64, v as f64);
            // Quantise like OpenCV: round to 1/32 pixel, split into whole pixel and fraction.
            let xq = (x * SUBPIXEL_STEPS).round();
            let yq = (y * SUBPIXEL_STEPS).round();
            if !xq.is_finite() || !yq.is_finite() || xq.abs() > 1e15 || yq.abs() > 1e15 {
                continue;
            }
            let (xq, yq) = (xq as i64, yq as i64);
            let (x0, y0) = (xq.div_euclid(32), yq.div_euclid(32));
            let fx = xq.rem_euclid(32) as f32 / 32.0;
            let fy = yq.rem_euclid(32) as f32 / 32.0;
            let inside = |xx: i64, yy: i64| xx >= 0 && yy >= 0 && xx < w && yy < h;
            let fetch = |xx: i64, yy: i64| match border {
                Border::Replicate => img.pixel_clamped(xx, yy),
                Border::Zero if inside(xx, yy) => img.pixel_clamped(xx, yy),
                Border::Zero => [0, 0, 0],
            };
            if border == Border::Zero
                && !inside(x0, y0)
                && !inside(x0 + 1, y0 + 1)
                && !inside(x0 + 1, y0)
                && !inside(x0, y0 + 1)
            {
                continue;
            }
            let p00 = fetch(x0, y0);
            let p10 = fetch(x0 + 1, y0);
            let p01 = fetch(x0, y0 + 1);
            let p11 = fetch(x0 + 1, y0 + 1);
            let w00 = (1.0 - fx) * (1.0 - fy);
            let w10 = fx * (1.0 - fy);
            let w01 = (1.0 - fx) * fy;
            let w11 = fx * fy;
            let o = (v * out_w as usize + u) * 3;
            for c in 0..3 {
                let value = w00 * p00[c] as f32 + w10 * p10[c] as f32 + w01 * p01[c] as f32 + w11 * p11[c] as f32;
                out[o + c] = round_to_u8(value);
            }
        }
    }
    out
}

/// `value.round().clamp(0.0, 255.0) as u8` (halves away from zero), without the library call that `round`
/// becomes on x86-64 without SSE4.1: truncation is one instruction and, below 2²³, the fraction it leaves is
/// exact.
#[inline]
fn round_to_u8(value: f32) -> u8 {
    if !(value > -1.0 && value < 256.0) {
        return if value >= 256.0 { 255 } else { 0 };
    }
    let whole = value as i32;
    let rounded = if (value - whole as f32).abs() >= 0.5 { whole + value.signum() as i32 } else { whole };
    rounded.clamp(0, 255) as u8
}

/// RGB bytes → f32 tensor data with `scale`·value + `offset` per channel (NHWC order is kept).
pub fn to_tensor(rgb: &[u8], scale: f32, offset: f32) -> Vec<f32> {
    rgb.iter().map(|&b| b as f32 * scale + offset).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG with an EXIF APP1 segment whose only tag is Orientation = `orientation`, right after SOI.
    fn jpeg_with_orientation(img: &image::RgbImage, orientation: u16) -> Vec<u8> {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95).encode_image(img).unwrap();
        // TIFF header (little-endian, IFD at 8), one IFD entry: tag 0x0112, SHORT, count 1, value; no next IFD.
        let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&(app1.len() as u16 + 2).to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn opens_jpeg_upright_tiff_webp_and_16_bit_png() {
        let dir = std::env::temp_dir().join(format!("lp-image-formats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // 32×16: left half black, right half white.
        let img = image::RgbImage::from_fn(32, 16, |x, _| image::Rgb(if x < 16 { [0; 3] } else { [255; 3] }));
        let path = dir.join("portrait.jpg");
        std::fs::write(&path, jpeg_with_orientation(&img, 1)).unwrap();
        let upright = FaceImage::open(&path).unwrap();
        assert_eq!((upright.width, upright.height), (32, 16));
        // Orientation 6: the stored pixels are turned 90° clockwise for display, so the white half is at the bottom.
        std::fs::write(&path, jpeg_with_orientation(&img, 6)).unwrap();
        let turned = FaceImage::open(&path).unwrap();
        assert_eq!((turned.width, turned.height), (16, 32));
        assert!(turned.pixel_clamped(8, 2)[0] < 40 && turned.pixel_clamped(8, 29)[0] > 215);
        for (name, format) in [("p.tif", image::ImageFormat::Tiff), ("p.webp", image::ImageFormat::WebP)] {
            image::DynamicImage::ImageRgb8(img.clone()).save_with_format(dir.join(name), format).unwrap();
            let back = FaceImage::open(&dir.join(name)).unwrap();
            assert_eq!((back.width, back.height, back.pixel_clamped(20, 3)), (32, 16, [255; 3]), "{name}");
        }
        let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(4, 2, |_, _| image::Rgb([65535, 0, 32896]));
        deep.save(dir.join("p16.png")).unwrap();
        assert_eq!(FaceImage::open(&dir.join("p16.png")).unwrap().pixel_clamped(1, 1), [255, 0, 128]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let img = FaceImage::new(4, 3, rgb.clone()).unwrap();
        let map = Affine::from_rect(2.0, 1.5, 4.0, 3.0, 0.0, 4, 3);
        assert_eq!(warp_rgb(&img, &map, 4, 3, Border::Zero), rgb);
    }

    #[test]
    fn downscale_samples_every_fourth_pixel() {
        // A 512-wide image into 128: tensor pixel u reads image pixel 4u exactly (no blending), as OpenCV does.
        let rgb: Vec<u8> = (0..8 * 8).flat_map(|i| [(i % 8) as u8 * 10, 0, 0]).collect();
        let img = FaceImage::new(8, 8, rgb).unwrap();
        let map = Affine::from_rect(4.0, 4.0, 8.0, 8.0, 0.0, 2, 2);
        let out = warp_rgb(&img, &map, 2, 2, Border::Zero);
        assert_eq!(out[0], 0);
        assert_eq!(out[3], 40);
    }

    #[test]
    fn rotation_and_borders() {
        let img = FaceImage::filled(10, 10, [200, 100, 50]).unwrap();
        let map = Affine::from_rect(5.0, 5.0, 40.0, 40.0, 0.3, 8, 8);
        let zero = warp_rgb(&img, &map, 8, 8, Border::Zero);
        let rep = warp_rgb(&img, &map, 8, 8, Border::Replicate);
        assert_eq!(&zero[..3], &[0, 0, 0]);
        assert!(rep.chunks(3).all(|p| p == [200, 100, 50]));
        // A rotation by +90° maps the tensor's x axis onto the image's y axis.
        let m = Affine::from_rect(0.0, 0.0, 2.0, 2.0, std::f64::consts::FRAC_PI_2, 2, 2);
        let (x, y) = m.apply(2.0, 1.0);
        assert!((x - 0.0).abs() < 1e-9 && (y - 1.0).abs() < 1e-9, "{x} {y}");
    }

    #[test]
    fn axis_aligned_fast_path_gives_the_general_bytes() {
        let rgb: Vec<u8> = (0..37u32 * 23 * 3).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
        let img = FaceImage::new(37, 23, rgb).unwrap();
        for (cx, cy, w, h, ow, oh) in [
            (18.5, 11.5, 37.0, 37.0, 16, 16),
            (10.3, 4.7, 13.1, 9.9, 19, 7),
            (-3.0, 30.0, 20.0, 20.0, 12, 12),
            (18.0, 12.0, 200.0, 5.0, 9, 40),
            (0.0, 0.0, 0.5, 0.5, 8, 8),
        ] {
            let map = Affine::from_rect(cx, cy, w, h, 0.0, ow, oh);
            for border in [Border::Zero, Border::Replicate] {
                assert_eq!(warp_rgb(&img, &map, ow, oh, border), warp_general(&img, &map, ow, oh, border));
            }
        }
    }

    #[test]
    fn rounding_matches_the_library() {
        let mut x = -3.0f32;
        while x < 260.0 {
            for v in [x, x - f32::EPSILON * x.abs(), x + f32::EPSILON * x.abs(), x + 0.5, x + 0.49999997] {
                assert_eq!(round_to_u8(v), v.round().clamp(0.0, 255.0) as u8, "{v}");
            }
            x += 0.03125;
        }
        for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.5, -0.49999997, 0.5, 254.5, 255.49, 255.5, 1e9] {
            assert_eq!(round_to_u8(v), v.round().clamp(0.0, 255.0) as u8, "{v}");
        }
    }

    #[test]
    fn content_keys_differ_by_content_and_size() {
        let a = FaceImage::filled(4, 2, [1, 2, 3]).unwrap();
        let b = FaceImage::filled(2, 4, [1, 2, 3]).unwrap();
        let mut c = a.clone();
        c.rgb[5] ^= 1;
        assert_ne!(a.content_key(), b.content_key());
        assert_ne!(a.content_key(), c.content_key());
        assert_eq!(a.content_key(), a.clone().content_key());
    }
}
