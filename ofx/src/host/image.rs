//! Images on the host side: [`HostImage`] (what the host user feeds and gets
//! back: float RGBA, rows bottom-up as in OFX, placed at a pixel origin), the
//! OFX pixel buffers handed to the plugin ([`PixelBuffer`]: byte / short /
//! float × RGBA / RGB / Alpha, positive or negative row bytes, 64-byte aligned)
//! and the conversions between the two, including the render-scale resampling
//! of inputs and the conversion to and from the `image` crate's images (file
//! I/O itself is in [`imageio`](super::imageio)).

use std::path::Path;

use image::{DynamicImage, ImageBuffer};

use super::error::HostResult;

/// Sample type and channels of an OFX image: the same types the plugin side
/// uses (`ofx::plugin::BitDepth` is the host's `Depth`).
pub use crate::plugin::image::{BitDepth as Depth, Components};

/// The pixel rectangle both halves of the crate use.
pub use crate::rect::RectI;

/// A host-side image: float RGBA samples, rows bottom-up (row 0 is `y1`), at
/// pixel origin (`x1`, `y1`). `components` records what the pixels mean: RGB
/// images keep alpha at 1, alpha-only images keep it in the A channel.
#[derive(Clone, Debug, PartialEq)]
pub struct HostImage {
    /// Pixel x of the first column.
    pub x1: i32,
    /// Pixel y of the first (bottom) row.
    pub y1: i32,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// What the channels mean.
    pub components: Components,
    /// `width * height * 4` samples, RGBA, bottom row first.
    pub pixels: Vec<f32>,
}

impl HostImage {
    /// A transparent black image at origin (0, 0).
    pub fn new(width: u32, height: u32, components: Components) -> HostImage {
        HostImage {
            x1: 0,
            y1: 0,
            width,
            height,
            components,
            pixels: vec![0.0; width as usize * height as usize * 4],
        }
    }

    /// An image filled with one colour.
    pub fn filled(width: u32, height: u32, rgba: [f32; 4]) -> HostImage {
        let mut img = HostImage::new(width, height, Components::Rgba);
        for px in img.pixels.chunks_exact_mut(4) {
            px.copy_from_slice(&rgba);
        }
        img
    }

    /// True for RGB images and images whose alpha is 1 everywhere.
    pub fn is_opaque(&self) -> bool {
        self.components == Components::Rgb || self.pixels.chunks_exact(4).all(|p| p[3] >= 1.0)
    }

    /// Pixel bounds.
    pub fn bounds(&self) -> RectI {
        RectI::new(self.x1, self.y1, self.x1 + self.width as i32, self.y1 + self.height as i32)
    }

    /// The RGBA value at absolute pixel (x, y), None outside.
    pub fn pixel(&self, x: i32, y: i32) -> Option<[f32; 4]> {
        let i = self.index(x, y)?;
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2], self.pixels[i + 3]])
    }

    /// Sets the RGBA value at absolute pixel (x, y); ignored outside.
    pub fn set_pixel(&mut self, x: i32, y: i32, v: [f32; 4]) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i..i + 4].copy_from_slice(&v);
        }
    }

    fn index(&self, x: i32, y: i32) -> Option<usize> {
        let (dx, dy) = (x.checked_sub(self.x1)?, y.checked_sub(self.y1)?);
        if dx < 0 || dy < 0 || dx as u32 >= self.width || dy as u32 >= self.height {
            return None;
        }
        Some((dy as usize * self.width as usize + dx as usize) * 4)
    }

    /// From a decoded file image (top-down rows) to OFX order (bottom-up).
    pub fn from_dynamic_image(img: &DynamicImage) -> HostImage {
        let components = if img.color().has_alpha() { Components::Rgba } else { Components::Rgb };
        let rgba = img.to_rgba32f();
        let (w, h) = (rgba.width(), rgba.height());
        let raw = rgba.into_raw();
        let mut pixels = Vec::with_capacity(raw.len());
        for row in (0..h as usize).rev() {
            pixels.extend_from_slice(&raw[row * w as usize * 4..(row + 1) * w as usize * 4]);
        }
        HostImage { x1: 0, y1: 0, width: w, height: h, components, pixels }
    }

    /// The samples top-down (file order), `N` per pixel (4 RGBA, 3 RGB, 1
    /// alpha), each converted by `q`: one pass over the pixels, into a buffer
    /// allocated once (this runs for every saved frame).
    fn top_down<const N: usize, T: Copy + Default>(&self, q: impl Fn(f32) -> T) -> Vec<T> {
        let w = self.width as usize;
        let mut out = vec![T::default(); w * self.height as usize * N];
        if out.is_empty() {
            return out;
        }
        for (dst, src) in out.chunks_exact_mut(w * N).zip(self.pixels.chunks_exact(w * 4).rev()) {
            for (d, px) in dst.chunks_exact_mut(N).zip(src.chunks_exact(4)) {
                if N == 1 {
                    d[0] = q(px[3]);
                } else {
                    for (dv, sv) in d.iter_mut().zip(px) {
                        *dv = q(*sv);
                    }
                }
            }
        }
        out
    }

    /// To a file image (top-down rows). Byte → 8 bit, Short → 16 bit, Float →
    /// 32-bit float; RGB images drop alpha, alpha images become grey.
    pub fn to_dynamic_image(&self, depth: Depth) -> DynamicImage {
        let (w, h) = (self.width, self.height);
        let ch = match self.components {
            Components::Rgba => 4,
            Components::Rgb => 3,
            // Float has no one-channel image type: grey RGB.
            Components::Alpha if depth == Depth::Float => 0,
            Components::Alpha => 1,
        };
        // Rounding as `+ 0.5` then truncation (the values are not negative):
        // `f32::round` is a library call, and this runs for every saved sample.
        let q8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        let q16 = |v: f32| (v.clamp(0.0, 1.0) * 65535.0 + 0.5) as u16;
        // from_raw only fails on a size mismatch, which top_down rules out;
        // fall back to an empty image rather than panicking.
        match (depth, ch) {
            (Depth::Byte, 4) => ImageBuffer::from_raw(w, h, self.top_down::<4, _>(q8)).map(DynamicImage::ImageRgba8),
            (Depth::Byte, 3) => ImageBuffer::from_raw(w, h, self.top_down::<3, _>(q8)).map(DynamicImage::ImageRgb8),
            (Depth::Byte, _) => ImageBuffer::from_raw(w, h, self.top_down::<1, _>(q8)).map(DynamicImage::ImageLuma8),
            (Depth::Short, 4) => ImageBuffer::from_raw(w, h, self.top_down::<4, _>(q16)).map(DynamicImage::ImageRgba16),
            (Depth::Short, 3) => ImageBuffer::from_raw(w, h, self.top_down::<3, _>(q16)).map(DynamicImage::ImageRgb16),
            (Depth::Short, _) => ImageBuffer::from_raw(w, h, self.top_down::<1, _>(q16)).map(DynamicImage::ImageLuma16),
            (Depth::Float, 4) => ImageBuffer::from_raw(w, h, self.top_down::<4, _>(|v| v)).map(DynamicImage::ImageRgba32F),
            (Depth::Float, 3) => ImageBuffer::from_raw(w, h, self.top_down::<3, _>(|v| v)).map(DynamicImage::ImageRgb32F),
            (Depth::Float, _) => {
                let rgb: Vec<f32> = self.top_down::<1, _>(|v| v).into_iter().flat_map(|a| [a, a, a]).collect();
                ImageBuffer::from_raw(w, h, rgb).map(DynamicImage::ImageRgb32F)
            }
        }
        .unwrap_or_else(|| DynamicImage::new_rgba8(0, 0))
    }

    /// Reads an image file (JPEG, PNG, TIFF, WebP, OpenEXR, GIF; EXIF
    /// orientation applied); see [`imageio::load`](super::imageio::load).
    pub fn load(path: &Path) -> HostResult<HostImage> {
        super::imageio::load(path)
    }

    /// Writes a file, fast compression; the extension picks the format (PNG,
    /// TIFF, EXR, JPEG) and the format the stored depth: see
    /// [`imageio::save`](super::imageio::save).
    pub fn save(&self, path: &Path, depth: Depth) -> HostResult<()> {
        super::imageio::save(self, path, depth, super::imageio::Compression::Fast)
    }

    /// Resampled to `scale` (pixel coordinates are multiplied by it): an exact
    /// area-weighted box filter when shrinking, bilinear when enlarging.
    /// Pixels outside the image count as transparent black.
    pub fn scaled(&self, scale: f64) -> HostImage {
        if (scale - 1.0).abs() < 1e-9 || scale <= 0.0 {
            return self.clone();
        }
        let b = self.bounds();
        let nb = RectI::from_canonical(&b.to_canonical(1.0), scale);
        let mut out = HostImage {
            x1: nb.x1,
            y1: nb.y1,
            width: nb.width() as u32,
            height: nb.height() as u32,
            components: self.components,
            pixels: vec![0.0; nb.width() * nb.height() * 4],
        };
        let inv = 1.0 / scale;
        for ty in nb.y1..nb.y2 {
            for tx in nb.x1..nb.x2 {
                let v = if scale < 1.0 {
                    self.box_average(tx as f64 * inv, ty as f64 * inv, (tx + 1) as f64 * inv, (ty + 1) as f64 * inv)
                } else {
                    self.bilinear((tx as f64 + 0.5) * inv - 0.5, (ty as f64 + 0.5) * inv - 0.5)
                };
                out.set_pixel(tx, ty, v);
            }
        }
        out
    }

    /// Stretched to exactly `width` × `height` pixels (aspect ratio not kept),
    /// origin (0, 0), by bilinear interpolation between pixel centres with the
    /// edges clamped. Meant for enlarging (benchmark inputs); shrinking by
    /// more than 2 skips pixels (no prefilter). A 0 size gives an empty image.
    pub fn resized(&self, width: u32, height: u32) -> HostImage {
        let mut out = HostImage::new(width, height, self.components);
        if self.width == 0 || self.height == 0 {
            return out;
        }
        let (sx, sy) = (self.width as f64 / width.max(1) as f64, self.height as f64 / height.max(1) as f64);
        let row = width as usize * 4;
        for (ty, line) in out.pixels.chunks_exact_mut(row.max(1)).enumerate().take(height as usize) {
            let y = self.y1 as f64 + (ty as f64 + 0.5) * sy - 0.5;
            for (tx, px) in line.chunks_exact_mut(4).enumerate() {
                let x = self.x1 as f64 + (tx as f64 + 0.5) * sx - 0.5;
                px.copy_from_slice(&self.bilinear(x, y));
            }
        }
        out
    }

    fn box_average(&self, x0: f64, y0: f64, x1: f64, y1: f64) -> [f32; 4] {
        let mut acc = [0.0f64; 4];
        for sy in y0.floor() as i32..y1.ceil() as i32 {
            let wy = (y1.min(sy as f64 + 1.0) - y0.max(sy as f64)).max(0.0);
            for sx in x0.floor() as i32..x1.ceil() as i32 {
                let wx = (x1.min(sx as f64 + 1.0) - x0.max(sx as f64)).max(0.0);
                if let Some(p) = self.pixel(sx, sy) {
                    for c in 0..4 {
                        acc[c] += p[c] as f64 * wx * wy;
                    }
                }
            }
        }
        let area = (x1 - x0) * (y1 - y0);
        acc.map(|v| (v / area) as f32)
    }

    fn bilinear(&self, x: f64, y: f64) -> [f32; 4] {
        let (fx, fy) = (x.floor(), y.floor());
        let (ax, ay) = ((x - fx) as f32, (y - fy) as f32);
        let (ix, iy) = (fx as i32, fy as i32);
        // Clamp to the edge so enlarging does not darken the border.
        let b = self.bounds();
        let get = |x: i32, y: i32| self.pixel(x.clamp(b.x1, b.x2 - 1), y.clamp(b.y1, b.y2 - 1)).unwrap_or([0.0; 4]);
        let (p00, p10, p01, p11) = (get(ix, iy), get(ix + 1, iy), get(ix, iy + 1), get(ix + 1, iy + 1));
        std::array::from_fn(|c| {
            let top = p00[c] * (1.0 - ax) + p10[c] * ax;
            let bot = p01[c] * (1.0 - ax) + p11[c] * ax;
            top * (1.0 - ay) + bot * ay
        })
    }
}

/// A 64-byte aligned, zeroed byte buffer whose address never changes, so raw
/// pointers into it can be handed to the plugin.
pub struct AlignedBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the buffer is plain bytes owned by this value; concurrent access is
// coordinated by the host (plugins write disjoint render windows).
unsafe impl Send for AlignedBuf {}
// SAFETY: see above.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    const ALIGN: usize = 64;

    /// A zeroed buffer of `len` bytes (at least one byte is allocated).
    pub fn zeroed(len: usize) -> Option<AlignedBuf> {
        let layout = std::alloc::Layout::from_size_align(len.max(1), Self::ALIGN).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            return None;
        }
        Some(AlignedBuf { ptr, len })
    }

    /// Start address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-length buffer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: ptr is valid for len bytes for the life of self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes, mutably.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr is valid for len bytes and we hold &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if let Ok(layout) = std::alloc::Layout::from_size_align(self.len.max(1), Self::ALIGN) {
            // SAFETY: allocated in `zeroed` with this very layout.
            unsafe { std::alloc::dealloc(self.ptr, layout) };
        }
    }
}

/// An image in OFX memory layout.
pub struct PixelBuffer {
    /// The bytes.
    pub buf: AlignedBuf,
    /// Pixel bounds.
    pub bounds: RectI,
    /// Sample type.
    pub depth: Depth,
    /// Channels.
    pub components: Components,
    /// Bytes from one row to the next one up; negative when rows go downward in memory.
    pub row_bytes: isize,
}

impl PixelBuffer {
    /// A zeroed buffer; `negative_row_bytes` stores the top row first.
    pub fn new(bounds: RectI, depth: Depth, components: Components, negative_row_bytes: bool) -> Option<PixelBuffer> {
        let stride = bounds.width() * components.count() * depth.bytes();
        let buf = AlignedBuf::zeroed(stride.checked_mul(bounds.height())?)?;
        let row_bytes = if negative_row_bytes { -(stride as isize) } else { stride as isize };
        Some(PixelBuffer { buf, bounds, depth, components, row_bytes })
    }

    /// Byte offset of row `y` from the start of the allocation.
    fn row_offset(&self, y: i32) -> usize {
        let stride = self.row_bytes.unsigned_abs();
        let r = (y - self.bounds.y1) as usize;
        if self.row_bytes >= 0 {
            r * stride
        } else {
            (self.bounds.height() - 1 - r) * stride
        }
    }

    /// `kOfxImagePropData`: the address of pixel (x1, y1).
    pub fn data_ptr(&self) -> *mut u8 {
        if self.bounds.is_empty() {
            return self.buf.as_ptr();
        }
        // SAFETY: row_offset(y1) is within the allocation for a non-empty buffer.
        unsafe { self.buf.as_ptr().add(self.row_offset(self.bounds.y1)) }
    }

    /// Writes the part of `img` inside the buffer (converting depth and
    /// components); the rest stays zero.
    pub fn fill_from(&mut self, img: &HostImage) {
        let area = self.bounds.intersect(&img.bounds());
        let (nc, bytes) = (self.components.count(), self.depth.bytes());
        for y in area.y1..area.y2 {
            let off = self.row_offset(y);
            for x in area.x1..area.x2 {
                let Some(p) = img.pixel(x, y) else { continue };
                let chans: [f32; 4] = match self.components {
                    Components::Alpha => [p[3], 0.0, 0.0, 0.0],
                    _ => p,
                };
                let at = off + (x - self.bounds.x1) as usize * nc * bytes;
                let dst = &mut self.buf.bytes_mut()[at..at + nc * bytes];
                for (c, v) in chans.iter().take(nc).enumerate() {
                    write_sample(&mut dst[c * bytes..(c + 1) * bytes], self.depth, *v);
                }
            }
        }
    }

    /// Reads `window` (clipped to the buffer) back into a float RGBA host
    /// image; pixels of the window outside the buffer are transparent black.
    pub fn to_host_image(&self, window: RectI) -> HostImage {
        let mut out = HostImage {
            x1: window.x1,
            y1: window.y1,
            width: window.width() as u32,
            height: window.height() as u32,
            components: self.components,
            pixels: vec![0.0; window.width() * window.height() * 4],
        };
        let area = self.bounds.intersect(&window);
        let (nc, bytes) = (self.components.count(), self.depth.bytes());
        let data = self.buf.bytes();
        for y in area.y1..area.y2 {
            let off = self.row_offset(y);
            for x in area.x1..area.x2 {
                let at = off + (x - self.bounds.x1) as usize * nc * bytes;
                let mut s = [0.0f32; 4];
                for (c, v) in s.iter_mut().enumerate().take(nc) {
                    *v = read_sample(&data[at + c * bytes..at + (c + 1) * bytes], self.depth);
                }
                let px = match self.components {
                    Components::Rgba => s,
                    Components::Rgb => [s[0], s[1], s[2], 1.0],
                    Components::Alpha => [0.0, 0.0, 0.0, s[0]],
                };
                out.set_pixel(x, y, px);
            }
        }
        out
    }
}

fn write_sample(dst: &mut [u8], depth: Depth, v: f32) {
    match depth {
        Depth::Byte => dst[0] = (v.clamp(0.0, 1.0) * 255.0).round() as u8,
        Depth::Short => dst.copy_from_slice(&((v.clamp(0.0, 1.0) * 65535.0).round() as u16).to_ne_bytes()),
        Depth::Float => dst.copy_from_slice(&v.to_ne_bytes()),
    }
}

fn read_sample(src: &[u8], depth: Depth) -> f32 {
    match depth {
        Depth::Byte => src[0] as f32 / 255.0,
        Depth::Short => u16::from_ne_bytes([src[0], src[1]]) as f32 / 65535.0,
        Depth::Float => f32::from_ne_bytes([src[0], src[1], src[2], src[3]]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: u32, h: u32) -> HostImage {
        let mut img = HostImage::new(w, h, Components::Rgba);
        for y in 0..h as i32 {
            for x in 0..w as i32 {
                img.set_pixel(x, y, [x as f32 / w as f32, y as f32 / h as f32, 0.5, 1.0]);
            }
        }
        img
    }

    #[test]
    fn pixel_buffers_round_trip_every_layout() {
        let img = ramp(7, 5);
        for depth in [Depth::Byte, Depth::Short, Depth::Float] {
            for comps in [Components::Rgba, Components::Rgb] {
                for neg in [false, true] {
                    let mut pb = PixelBuffer::new(img.bounds().padded(2), depth, comps, neg).unwrap();
                    pb.fill_from(&img);
                    let back = pb.to_host_image(img.bounds());
                    let tol = if depth == Depth::Byte { 1.0 / 255.0 } else { 1e-4 };
                    for (a, b) in back.pixels.iter().zip(&img.pixels) {
                        assert!((a - b).abs() <= tol, "{depth:?} {comps:?} {neg}");
                    }
                    assert_eq!(pb.row_bytes < 0, neg);
                }
            }
        }
    }

    #[test]
    fn negative_row_bytes_points_at_bottom_row() {
        let pb = PixelBuffer::new(RectI::new(0, 0, 2, 3), Depth::Byte, Components::Rgba, true).unwrap();
        let offset = pb.data_ptr() as usize - pb.buf.as_ptr() as usize;
        assert_eq!(offset, 2 * 8);
        assert_eq!(pb.row_bytes, -8);
    }

    #[test]
    fn downscale_averages_and_scales_bounds() {
        let img = HostImage::filled(10, 6, [1.0, 0.5, 0.25, 1.0]);
        let half = img.scaled(0.5);
        assert_eq!(half.bounds(), RectI::new(0, 0, 5, 3));
        assert_eq!(half.pixel(2, 1), Some([1.0, 0.5, 0.25, 1.0]));
        let third = img.scaled(1.0 / 3.0);
        assert_eq!(third.bounds(), RectI::new(0, 0, 4, 2));
        // The last column only partly covers the image: partial coverage.
        let edge = third.pixel(3, 0).unwrap();
        assert!((edge[3] - 1.0 / 3.0).abs() < 1e-5, "{edge:?}");
    }

    #[test]
    fn resize_stretches_to_the_exact_size() {
        // A 2×2 image stretched to 4×3: corners keep their colours (edge
        // clamping), the inside interpolates, the origin moves to (0, 0).
        let mut img = HostImage::new(2, 2, Components::Rgb);
        img.x1 = 5;
        img.y1 = -3;
        img.set_pixel(5, -3, [0.0, 0.0, 0.0, 1.0]);
        img.set_pixel(6, -3, [1.0, 0.0, 0.0, 1.0]);
        img.set_pixel(5, -2, [0.0, 1.0, 0.0, 1.0]);
        img.set_pixel(6, -2, [1.0, 1.0, 0.0, 1.0]);
        let big = img.resized(4, 3);
        assert_eq!(big.bounds(), RectI::new(0, 0, 4, 3));
        assert_eq!(big.components, Components::Rgb);
        assert_eq!(big.pixel(0, 0), Some([0.0, 0.0, 0.0, 1.0]));
        assert_eq!(big.pixel(3, 2), Some([1.0, 1.0, 0.0, 1.0]));
        // Centre row of three samples the middle of the source: g = 0.5;
        // column 1 sits at source x = 0.25: r = 0.25.
        let mid = big.pixel(1, 1).unwrap();
        assert!((mid[0] - 0.25).abs() < 1e-6 && (mid[1] - 0.5).abs() < 1e-6, "{mid:?}");
        // Flat images stay flat, whatever the size.
        let flat = HostImage::filled(3, 5, [0.2, 0.4, 0.6, 1.0]).resized(1920, 1080);
        assert_eq!((flat.width, flat.height), (1920, 1080));
        assert!(flat.pixels.chunks_exact(4).all(|p| p.iter().zip([0.2, 0.4, 0.6, 1.0]).all(|(a, b)| (a - b).abs() < 1e-6)));
        assert!(flat.resized(0, 7).pixels.is_empty());
        assert_eq!(HostImage::new(0, 0, Components::Rgba).resized(2, 2).pixels, vec![0.0; 16]);
    }

    #[test]
    fn dynamic_image_flips_rows() {
        let img = ramp(4, 3);
        let dynimg = img.to_dynamic_image(Depth::Float);
        // Top row of the file is the last OFX row.
        let top = dynimg.to_rgba32f().get_pixel(0, 0).0;
        assert_eq!(top[1], img.pixel(0, 2).unwrap()[1]);
        let back = HostImage::from_dynamic_image(&dynimg);
        assert_eq!(back, img);
    }
}
