//! Host images as strided views, released on every path (RAII).
//!
//! An OFX image is a block of rows: the data pointer addresses pixel
//! `(bounds.x1, bounds.y1)` and row `y` starts `(y - y1) * rowBytes` bytes after
//! it. `rowBytes` may be negative (rows going down in memory) and bounds may be
//! larger than the render window. [`Image`] reads in place without copying;
//! dropping it calls `clipReleaseImage`, so an image fetched on an error path is
//! still released (Natron keeps a write lock on an output image that is never
//! released).

use super::props::PropertySet;
use crate::error::{Error, Result};
use crate::sys::*;

pub use crate::rect::{RectD, RectI};

/// Bits per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitDepth {
    /// 8-bit unsigned.
    Byte,
    /// 16-bit unsigned.
    Short,
    /// 32-bit float.
    Float,
}

impl BitDepth {
    /// Bytes per channel.
    pub fn bytes(self) -> usize {
        match self {
            BitDepth::Byte => 1,
            BitDepth::Short => 2,
            BitDepth::Float => 4,
        }
    }
    /// The OFX name.
    pub fn ofx_name(self) -> &'static std::ffi::CStr {
        match self {
            BitDepth::Byte => kOfxBitDepthByte,
            BitDepth::Short => kOfxBitDepthShort,
            BitDepth::Float => kOfxBitDepthFloat,
        }
    }
    /// Parse the OFX name.
    pub fn from_ofx(s: &str) -> Option<Self> {
        [BitDepth::Byte, BitDepth::Short, BitDepth::Float]
            .into_iter()
            .find(|d| d.ofx_name().to_str() == Ok(s))
    }
}

/// Channels per pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Components {
    /// Red, green, blue, alpha.
    Rgba,
    /// Red, green, blue.
    Rgb,
    /// Alpha only.
    Alpha,
}

impl Components {
    /// Channel count.
    pub fn count(self) -> usize {
        match self {
            Components::Rgba => 4,
            Components::Rgb => 3,
            Components::Alpha => 1,
        }
    }
    /// The OFX name.
    pub fn ofx_name(self) -> &'static std::ffi::CStr {
        match self {
            Components::Rgba => kOfxImageComponentRGBA,
            Components::Rgb => kOfxImageComponentRGB,
            Components::Alpha => kOfxImageComponentAlpha,
        }
    }
    /// Parse the OFX name.
    pub fn from_ofx(s: &str) -> Option<Self> {
        [Components::Rgba, Components::Rgb, Components::Alpha]
            .into_iter()
            .find(|c| c.ofx_name().to_str() == Ok(s))
    }
}

/// The layout of one image: where its rows are and what a pixel is.
#[derive(Debug, Clone, Copy)]
pub struct ImageLayout {
    /// Pixel bounds of the data.
    pub bounds: RectI,
    /// Bytes from one row to the next (may be negative).
    pub row_bytes: isize,
    /// Channel type.
    pub depth: BitDepth,
    /// Channels.
    pub components: Components,
}

impl ImageLayout {
    /// Bytes of one pixel.
    pub fn pixel_bytes(&self) -> usize {
        self.depth.bytes() * self.components.count()
    }
}

/// An image fetched from a clip; released when dropped.
pub struct Image {
    props: PropertySet,
    data: *mut u8,
    layout: ImageLayout,
    render_scale: (f64, f64),
    pixel_aspect: f64,
}

// SAFETY: the image memory belongs to the host until release; OFX allows images
// to be read from the render thread that fetched them and from threads it
// spawns during that render (the multithread suite). Rows are only handed out
// as shared slices (`Image`) or, for output images, through `&mut self`.
unsafe impl Send for Image {}
// SAFETY: shared access only reads.
unsafe impl Sync for Image {}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image").field("layout", &self.layout).finish()
    }
}

impl Image {
    /// Wrap an image property set returned by `clipGetImage`. Takes ownership: the
    /// image is released on drop even if reading its properties fails here.
    pub(crate) fn from_handle(props: PropertySet) -> Result<Image> {
        let mut img = Image {
            props,
            data: std::ptr::null_mut(),
            layout: ImageLayout {
                bounds: RectI::default(),
                row_bytes: 0,
                depth: BitDepth::Byte,
                components: Components::Rgba,
            },
            render_scale: (1.0, 1.0),
            pixel_aspect: 1.0,
        };
        let data = props.get_pointer(kOfxImagePropData, 0)? as *mut u8;
        let b = props.get_ints::<4>(kOfxImagePropBounds)?;
        let row_bytes = props.get_int(kOfxImagePropRowBytes, 0)? as isize;
        let depth_name = props.get_string(kOfxImageEffectPropPixelDepth, 0)?;
        let comp_name = props.get_string(kOfxImageEffectPropComponents, 0)?;
        let depth = BitDepth::from_ofx(&depth_name)
            .ok_or_else(|| Error::ImageFormat(format!("pixel depth {depth_name}")))?;
        let components = Components::from_ofx(&comp_name)
            .ok_or_else(|| Error::ImageFormat(format!("components {comp_name}")))?;
        let bounds = RectI { x1: b[0], y1: b[1], x2: b[2], y2: b[3] };
        let layout = ImageLayout { bounds, row_bytes, depth, components };
        if !bounds.is_empty() {
            if data.is_null() {
                return Err(Error::BadHandle("image with a null data pointer".into()));
            }
            if row_bytes.unsigned_abs() < bounds.width() * layout.pixel_bytes() {
                return Err(Error::ImageFormat(format!(
                    "rowBytes {row_bytes} is smaller than a row of {} pixels",
                    bounds.width()
                )));
            }
        }
        img.data = data;
        img.layout = layout;
        img.render_scale = props
            .get_doubles::<2>(kOfxImageEffectPropRenderScale)
            .map(|s| (s[0], s[1]))
            .unwrap_or((1.0, 1.0));
        img.pixel_aspect = props.get_double(kOfxImagePropPixelAspectRatio, 0).unwrap_or(1.0);
        Ok(img)
    }

    /// Layout of the data.
    pub fn layout(&self) -> ImageLayout {
        self.layout
    }
    /// Pixel bounds.
    pub fn bounds(&self) -> RectI {
        self.layout.bounds
    }
    /// Channel type.
    pub fn depth(&self) -> BitDepth {
        self.layout.depth
    }
    /// Channels.
    pub fn components(&self) -> Components {
        self.layout.components
    }
    /// The render scale the image says it has (Resolve always reports 1: prefer
    /// the render action's scale).
    pub fn render_scale(&self) -> (f64, f64) {
        self.render_scale
    }
    /// Pixel aspect ratio.
    pub fn pixel_aspect(&self) -> f64 {
        self.pixel_aspect
    }
    /// The image's property set (for properties not wrapped here).
    pub fn properties(&self) -> PropertySet {
        self.props
    }

    fn row_ptr(&self, y: i32) -> Option<*mut u8> {
        let b = self.layout.bounds;
        if y < b.y1 || y >= b.y2 || b.is_empty() {
            return None;
        }
        let offset = (y - b.y1) as isize * self.layout.row_bytes;
        // SAFETY: y is inside the bounds, so the row start is inside the host's
        // allocation (the host guarantees `height` rows of `rowBytes`).
        Some(unsafe { self.data.offset(offset) })
    }

    /// The bytes of row `y` covering `x1..x2` of the bounds, or `None` outside.
    pub fn row(&self, y: i32) -> Option<&[u8]> {
        let p = self.row_ptr(y)?;
        let len = self.layout.bounds.width() * self.layout.pixel_bytes();
        // SAFETY: the row has at least `width * pixel_bytes` bytes (checked against
        // rowBytes at construction) and lives until the image is released.
        Some(unsafe { std::slice::from_raw_parts(p, len) })
    }

    /// Row `y` as a mutable byte slice. Only for output images: concurrent
    /// renders of the same frame each fetch their own handle and write disjoint
    /// render windows.
    pub fn row_mut(&mut self, y: i32) -> Option<&mut [u8]> {
        let p = self.row_ptr(y)?;
        let len = self.layout.bounds.width() * self.layout.pixel_bytes();
        // SAFETY: as in `row`, and `&mut self` gives exclusive access through this
        // handle.
        Some(unsafe { std::slice::from_raw_parts_mut(p, len) })
    }

    /// Every row of the bounds as a disjoint mutable slice, bottom row first, so
    /// that the rows can be shared out among threads (each `&mut` is exclusive:
    /// rows never overlap because `|rowBytes|` is at least one row long).
    pub fn rows_mut(&mut self) -> Vec<(i32, &mut [u8])> {
        let b = self.layout.bounds;
        let len = b.width() * self.layout.pixel_bytes();
        (b.y1..b.y2)
            .filter_map(|y| {
                let p = self.row_ptr(y)?;
                // SAFETY: each row lies inside the host allocation, rows are
                // disjoint (checked |rowBytes| >= len), and `&mut self` is held
                // for the lifetime of all the slices.
                Some((y, unsafe { std::slice::from_raw_parts_mut(p, len) }))
            })
            .collect()
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        if let Some(f) = self.props.suites.effect.clipReleaseImage {
            // SAFETY: the handle was returned by clipGetImage and is released once.
            unsafe {
                f(self.props.handle);
            }
        }
    }
}

