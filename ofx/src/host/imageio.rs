//! Image files of the headless host: [`load`] reads JPEG (its EXIF orientation
//! applied), PNG (8 and 16 bit), TIFF, WebP, OpenEXR and GIF through the
//! `image` crate's codecs into a [`HostImage`]; [`save`] writes PNG, TIFF,
//! OpenEXR or JPEG, the [`FileFormat`] chosen by the file's extension and the
//! stored sample type by the format ([`FileFormat::stored_depth`]), with fast
//! or small [`Compression`]. A saved file appears complete or not at all: it
//! is written under a temporary name in the same folder and then renamed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::tiff::TiffEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader};

use super::error::{HostError, HostResult};
use super::image::{Components, Depth, HostImage};

/// The file formats [`save`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// `.png`: 8 bit for byte output, 16 bit otherwise.
    Png,
    /// `.jpg` / `.jpeg`: 8 bit, alpha dropped.
    Jpeg,
    /// `.tif` / `.tiff`: 16 bit, or 32-bit float for float output.
    Tiff,
    /// `.exr`: 32-bit float.
    Exr,
}

impl FileFormat {
    /// The format named by the extension of `path`; an error sentence names
    /// the file and the formats on offer otherwise.
    pub fn from_path(path: &Path) -> HostResult<FileFormat> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "png" => Ok(FileFormat::Png),
            "jpg" | "jpeg" => Ok(FileFormat::Jpeg),
            "tif" | "tiff" => Ok(FileFormat::Tiff),
            "exr" => Ok(FileFormat::Exr),
            _ => Err(HostError::Image {
                path: path.to_path_buf(),
                reason: format!(
                    "the extension '{ext}' names no format that can be written (use .png, .tif, .exr or .jpg)"
                ),
            }),
        }
    }

    /// The sample type stored for output of `depth`.
    pub fn stored_depth(self, depth: Depth) -> Depth {
        match (self, depth) {
            (FileFormat::Png, Depth::Byte) => Depth::Byte,
            (FileFormat::Png, _) => Depth::Short,
            (FileFormat::Jpeg, _) => Depth::Byte,
            (FileFormat::Tiff, Depth::Float) => Depth::Float,
            (FileFormat::Tiff, _) => Depth::Short,
            (FileFormat::Exr, _) => Depth::Float,
        }
    }
}

/// How hard [`save`] compresses (lossless formats only; JPEG always uses
/// quality 95).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// Quick to write: PNG fast deflate, EXR uncompressed, TIFF uncompressed.
    #[default]
    Fast,
    /// Smaller files, slower: PNG best deflate with adaptive filters, EXR ZIP.
    Small,
}

impl Compression {
    /// `fast` or `small`.
    pub fn parse(s: &str) -> Option<Compression> {
        match s.to_ascii_lowercase().as_str() {
            "fast" => Some(Compression::Fast),
            "small" => Some(Compression::Small),
            _ => None,
        }
    }
}

fn image_error(path: &Path, reason: impl ToString) -> HostError {
    HostError::Image { path: path.to_path_buf(), reason: reason.to_string() }
}

/// Reads an image file; the format is told by the file's content. JPEG, TIFF
/// and WebP images are turned upright as their EXIF orientation says.
pub fn load(path: &Path) -> HostResult<HostImage> {
    let reader = ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| image_error(path, e))?;
    if reader.format().is_none() {
        return Err(image_error(path, "its content is not an image format that can be read (JPEG, PNG, TIFF, WebP, OpenEXR, GIF)"));
    }
    let mut decoder = reader.into_decoder().map_err(|e| image_error(path, e))?;
    // A broken orientation tag is no reason to refuse the pixels.
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| image_error(path, e))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(HostImage::from_dynamic_image(&img))
}

/// Writes `img` to `path` in the format its extension names, storing
/// [`FileFormat::stored_depth`] of `depth`; creates missing folders. The file
/// is written to a temporary name beside it and renamed when complete, so a
/// reader never sees half a frame; on failure nothing is left behind.
pub fn save(img: &HostImage, path: &Path, depth: Depth, compression: Compression) -> HostResult<()> {
    let format = FileFormat::from_path(path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| image_error(path, format!("its folder cannot be created ({e})")))?;
    }
    let temp = temp_path(path);
    let written = File::create(&temp)
        .map_err(|e| e.to_string())
        .and_then(|file| {
            let mut out = BufWriter::with_capacity(1 << 20, file);
            encode(img, format, format.stored_depth(depth), compression, &mut out)?;
            out.flush().map_err(|e| e.to_string())
        })
        .and_then(|()| std::fs::rename(&temp, path).map_err(|e| e.to_string()));
    written.map_err(|reason| {
        let _ = std::fs::remove_file(&temp);
        image_error(path, reason)
    })
}

/// `dir/.name.part-PID` beside `path`: hidden, and no match for the frame
/// pattern that `path` came from.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.part-{}", std::process::id()))
}

/// Encodes `img` as `format` with samples of `depth` into `out`.
fn encode<W: Write + std::io::Seek>(
    img: &HostImage,
    format: FileFormat,
    depth: Depth,
    compression: Compression,
    out: &mut W,
) -> Result<(), String> {
    match format {
        FileFormat::Exr => return write_exr(img, compression, out),
        FileFormat::Jpeg => {
            // JPEG has no alpha: RGBA output keeps its colours, alpha-only output is grey.
            let opaque = HostImage {
                components: if img.components == Components::Alpha { Components::Alpha } else { Components::Rgb },
                ..img.clone()
            };
            let encoder = JpegEncoder::new_with_quality(out, 95);
            return opaque.to_dynamic_image(Depth::Byte).write_with_encoder(encoder).map_err(|e| e.to_string());
        }
        FileFormat::Png | FileFormat::Tiff => {}
    }
    let dynimg = img.to_dynamic_image(depth);
    let result = match format {
        FileFormat::Png => {
            let encoder = match compression {
                Compression::Fast => PngEncoder::new_with_quality(out, CompressionType::Fast, FilterType::Up),
                Compression::Small => PngEncoder::new_with_quality(out, CompressionType::Best, FilterType::Adaptive),
            };
            dynimg.write_with_encoder(encoder)
        }
        _ => dynimg.write_with_encoder(TiffEncoder::new(out)),
    };
    result.map_err(|e| e.to_string())
}

/// OpenEXR straight from the host image's float samples (no intermediate
/// copy): RGBA, RGB, or alpha stored as grey RGB.
fn write_exr<W: Write + std::io::Seek>(img: &HostImage, compression: Compression, out: &mut W) -> Result<(), String> {
    use exr::prelude::{Encoding, Image, SpecificChannels, Vec2, WritableImage};
    let (w, h) = (img.width as usize, img.height as usize);
    let encoding = match compression {
        Compression::Fast => Encoding::UNCOMPRESSED,
        Compression::Small => Encoding::SMALL_LOSSLESS,
    };
    // File rows go top-down; the host image's go bottom-up.
    let at = move |p: Vec2<usize>| ((h - 1 - p.y()) * w + p.x()) * 4;
    let px = &img.pixels;
    let written = match img.components {
        Components::Rgba => Image::from_encoded_channels(
            (w, h),
            encoding,
            SpecificChannels::rgba(|p: Vec2<usize>| {
                let i = at(p);
                (px[i], px[i + 1], px[i + 2], px[i + 3])
            }),
        )
        .write()
        .non_parallel()
        .to_buffered(out),
        Components::Rgb => Image::from_encoded_channels(
            (w, h),
            encoding,
            SpecificChannels::rgb(|p: Vec2<usize>| {
                let i = at(p);
                (px[i], px[i + 1], px[i + 2])
            }),
        )
        .write()
        .non_parallel()
        .to_buffered(out),
        Components::Alpha => Image::from_encoded_channels(
            (w, h),
            encoding,
            SpecificChannels::rgb(|p: Vec2<usize>| {
                let a = px[at(p) + 3];
                (a, a, a)
            }),
        )
        .write()
        .non_parallel()
        .to_buffered(out),
    };
    written.map_err(|e| e.to_string())
}
