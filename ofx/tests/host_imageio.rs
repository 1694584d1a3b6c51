//! Image files of the headless host: every input format `HostImage::load`
//! reads (JPEG with an EXIF orientation, PNG 8 and 16 bit, TIFF, WebP,
//! OpenEXR), made here with the `image` crate; a round trip through each
//! format `imageio::save` writes, with the depth each format stores; clear
//! failures; and the `FrameWriter` pipeline writing every frame or reporting
//! the file that failed, with no partial file left behind.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb, Rgba};
use ofx::host::imageio::{self, Compression};
use ofx::host::writer::{FrameWriter, OutputSpec};
use ofx::host::{Components, Depth, HostError, HostImage};

/// A fresh empty directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ofx_host_imageio_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// A 16×8 file image: left half red, right half blue (big flat areas, so
/// JPEG keeps them recognisable).
fn halves() -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(16, 8, |x, _| if x < 8 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) }))
}

/// A host image with distinct values everywhere: a ramp, half-transparent in one corner.
fn ramp(w: u32, h: u32) -> HostImage {
    let mut img = HostImage::new(w, h, Components::Rgba);
    for y in 0..h as i32 {
        for x in 0..w as i32 {
            let a = if x < 2 && y < 2 { 0.5 } else { 1.0 };
            img.set_pixel(x, y, [x as f32 / w as f32, y as f32 / h as f32, 0.25, a]);
        }
    }
    img
}

fn is_red(p: [f32; 4]) -> bool {
    p[0] > 0.8 && p[2] < 0.2
}

fn is_blue(p: [f32; 4]) -> bool {
    p[2] > 0.8 && p[0] < 0.2
}

/// Largest difference of colour (and alpha when `alpha`) between two images of the same size.
fn max_diff(a: &HostImage, b: &HostImage, alpha: bool) -> f32 {
    assert_eq!((a.width, a.height), (b.width, b.height), "sizes");
    let n = if alpha { 4 } else { 3 };
    a.pixels.chunks_exact(4).zip(b.pixels.chunks_exact(4)).flat_map(|(p, q)| (0..n).map(move |c| (p[c] - q[c]).abs())).fold(0.0, f32::max)
}

/// An APP1 segment holding a big-endian EXIF block with one tag: orientation.
fn exif_orientation_segment(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big endian, first IFD at offset 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut seg = vec![0xff, 0xe1];
    seg.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

#[test]
fn jpeg_loads_turned_upright_by_its_exif_orientation() {
    let dir = temp_dir("jpeg");
    let mut jpeg = Vec::new();
    halves().write_to(&mut std::io::Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
    assert_eq!(&jpeg[..2], &[0xff, 0xd8], "a JPEG starts with SOI");

    // Without EXIF: as stored, 16 wide, red on the left.
    let plain = dir.join("plain.jpg");
    std::fs::write(&plain, &jpeg).unwrap();
    let img = HostImage::load(&plain).unwrap();
    assert_eq!((img.width, img.height, img.components), (16, 8, Components::Rgb));
    assert!(is_red(img.pixel(1, 4).unwrap()) && is_blue(img.pixel(14, 4).unwrap()));

    // Orientation 6 (the camera was turned clockwise): shown rotated 90° clockwise,
    // so the left (red) half becomes the top half. Host rows go bottom-up.
    let mut tagged = jpeg[..2].to_vec();
    tagged.extend(exif_orientation_segment(6));
    tagged.extend_from_slice(&jpeg[2..]);
    let rotated = dir.join("rotated.jpg");
    std::fs::write(&rotated, &tagged).unwrap();
    let img = HostImage::load(&rotated).unwrap();
    assert_eq!((img.width, img.height), (8, 16), "orientation 6 swaps width and height");
    assert!(is_red(img.pixel(4, 14).unwrap()), "top is red: {:?}", img.pixel(4, 14));
    assert!(is_blue(img.pixel(4, 1).unwrap()), "bottom is blue: {:?}", img.pixel(4, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn png_8_and_16_bit_tiff_webp_and_exr_files_load() {
    let dir = temp_dir("inputs");
    let rgba8 = ImageBuffer::from_fn(5, 3, |x, y| Rgba([x as u8 * 50, y as u8 * 100, 7, if x == 0 { 128 } else { 255 }]));
    let rgb16 = ImageBuffer::from_fn(5, 3, |x, y| Rgb([x as u16 * 13_000, y as u16 * 30_000 + 1, 65_535]));
    let rgbaf = ImageBuffer::from_fn(5, 3, |x, y| Rgba([x as f32 * 0.25, y as f32 * 2.5, -0.5, 1.0]));
    let cases: [(&str, DynamicImage); 6] = [
        ("a.png", DynamicImage::ImageRgba8(rgba8.clone())),
        ("b.png", DynamicImage::ImageRgb16(rgb16.clone())),
        ("c.tif", DynamicImage::ImageRgb16(rgb16)),
        ("d.tiff", DynamicImage::ImageRgba8(rgba8.clone())),
        ("e.webp", DynamicImage::ImageRgba8(rgba8)),
        ("f.exr", DynamicImage::ImageRgba32F(rgbaf)),
    ];
    for (name, file_img) in cases {
        let path = dir.join(name);
        file_img.save(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let img = HostImage::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = HostImage::from_dynamic_image(&file_img);
        assert_eq!(img.components, want.components, "{name}");
        assert_eq!(max_diff(&img, &want, true), 0.0, "{name}: every sample as written");
        // File row 0 is the top: the host's last row.
        let top_left = file_img.to_rgba32f().get_pixel(0, 0).0;
        assert_eq!(img.pixel(0, 2).unwrap(), top_left, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_written_format_reads_back_at_the_depth_it_stores() {
    let dir = temp_dir("round_trip");
    let src = ramp(9, 6);
    // (file, depth asked, colour type stored, largest error, alpha kept)
    let cases = [
        ("byte.png", Depth::Byte, image::ColorType::Rgba8, 0.5 / 255.0 + 1e-6, true),
        ("short.png", Depth::Short, image::ColorType::Rgba16, 0.5 / 65535.0 + 1e-6, true),
        ("float.png", Depth::Float, image::ColorType::Rgba16, 0.5 / 65535.0 + 1e-6, true),
        ("short.tif", Depth::Short, image::ColorType::Rgba16, 0.5 / 65535.0 + 1e-6, true),
        ("byte.tiff", Depth::Byte, image::ColorType::Rgba16, 0.5 / 65535.0 + 1e-6, true),
        ("float.tif", Depth::Float, image::ColorType::Rgba32F, 0.0, true),
        ("byte.exr", Depth::Byte, image::ColorType::Rgba32F, 0.0, true),
        ("float.exr", Depth::Float, image::ColorType::Rgba32F, 0.0, true),
        ("float.jpg", Depth::Float, image::ColorType::Rgb8, 0.04, false),
        ("byte.jpeg", Depth::Byte, image::ColorType::Rgb8, 0.04, false),
    ];
    for (name, depth, stored, tol, alpha) in cases {
        let path = dir.join(name);
        imageio::save(&src, &path, depth, Compression::Fast).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(image::open(&path).unwrap().color(), stored, "{name}");
        let back = HostImage::load(&path).unwrap();
        let d = max_diff(&src, &back, alpha);
        assert!(d <= tol, "{name}: differs by {d}");
        if !alpha {
            assert!(back.pixels.chunks_exact(4).all(|p| p[3] == 1.0), "{name}: JPEG has no alpha");
        }
    }
    // An RGB image stays RGB; smaller files decode to the same samples.
    let rgb = HostImage { components: Components::Rgb, ..ramp(64, 48) };
    for ext in ["png", "exr", "tif"] {
        let (fast, small) = (dir.join(format!("fast.{ext}")), dir.join(format!("small.{ext}")));
        imageio::save(&rgb, &fast, Depth::Float, Compression::Fast).unwrap();
        imageio::save(&rgb, &small, Depth::Float, Compression::Small).unwrap();
        let (a, b) = (HostImage::load(&fast).unwrap(), HostImage::load(&small).unwrap());
        assert_eq!(a, b, "{ext}: compression is lossless");
        assert_eq!(a.components, Components::Rgb, "{ext}");
        let size = |p: &Path| std::fs::metadata(p).unwrap().len();
        assert!(size(&small) <= size(&fast), "{ext}: small {} > fast {}", size(&small), size(&fast));
    }
    assert!(listing(&dir).iter().all(|n| !n.starts_with('.')), "no temporary file left: {:?}", listing(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unwritable_outputs_fail_with_a_sentence_naming_the_file() {
    let dir = temp_dir("failures");
    let img = ramp(4, 4);
    // An extension no format matches.
    let bmp = dir.join("out.bmp");
    let e = imageio::save(&img, &bmp, Depth::Byte, Compression::Fast).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("out.bmp") && text.contains(".png") && text.ends_with('.'), "{text}");
    // A folder that is a file.
    std::fs::write(dir.join("blocker"), b"x").unwrap();
    let inside = dir.join("blocker").join("f.png");
    let e = imageio::save(&img, &inside, Depth::Byte, Compression::Fast).unwrap_err();
    assert!(matches!(&e, HostError::Image { path, .. } if path == &inside), "{e}");
    // An unreadable input.
    std::fs::write(dir.join("text.png"), b"not an image at all").unwrap();
    let e = HostImage::load(&dir.join("text.png")).unwrap_err();
    assert!(e.to_string().contains("text.png"), "{e}");
    assert_eq!(listing(&dir), vec!["blocker", "text.png"], "no temporary or partial file left");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn frame_writer_writes_every_frame_and_reports_the_file_that_failed() {
    let dir = temp_dir("writer");
    let spec = |pattern: PathBuf| OutputSpec {
        pattern: pattern.to_string_lossy().into_owned(),
        depth: Depth::Short,
        compression: Compression::Fast,
    };
    // More frames than the queue holds: submit waits instead of dropping any.
    let writer = FrameWriter::new(spec(dir.join("f_%04d.png")), 2, 1).unwrap();
    for f in 1..=12 {
        let mut img = ramp(32, 16);
        img.set_pixel(0, 0, [f as f32 / 100.0, 0.0, 0.0, 1.0]);
        writer.submit(f, img).unwrap();
    }
    assert_eq!(writer.finish().unwrap(), 12);
    let names = listing(&dir);
    assert_eq!(names, (1..=12).map(|f| format!("f_{f:04}.png")).collect::<Vec<_>>());
    for f in 1..=12 {
        let img = HostImage::load(&dir.join(format!("f_{f:04}.png"))).unwrap();
        assert!((img.pixel(0, 0).unwrap()[0] - f as f32 / 100.0).abs() < 1e-4, "frame {f} holds its own pixels");
    }

    // Outputs inside a file: the first failure stops later submits and is
    // returned by finish, naming the file.
    std::fs::write(dir.join("blocker"), b"x").unwrap();
    let writer = FrameWriter::new(spec(dir.join("blocker/g_%04d.exr")), 2, 1).unwrap();
    let mut submitted = Ok(());
    for f in 1..=50 {
        submitted = writer.submit(f, ramp(8, 8));
        if submitted.is_err() {
            break;
        }
    }
    let e = writer.finish().unwrap_err();
    assert!(e.to_string().contains("blocker/g_"), "{e}");
    if let Err(s) = submitted {
        assert!(matches!(s, HostError::Image { .. }), "{s}");
    }

    // An extension no format matches is refused before any frame.
    let e = FrameWriter::new(spec(dir.join("h_%04d.gif")), 1, 1).err().expect("refused");
    assert!(e.to_string().contains("h_%04d.gif"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
