//! `ofx-render`, the headless renderer, driving the real bundle end to end: the
//! astronaut portrait through the plugin at every depth into PNG 8/16-bit and
//! OpenEXR files, read back and compared; TIFF and JPEG chosen by the output
//! extension; and clear failures (an unwritable output names its file).

#[path = "support/common.rs"]
mod common;

use std::process::Command;

use common::*;
use ofx::host::*;

#[test]
fn renders_the_portrait_at_every_depth_and_reads_back_identically() {
    let out_dir = installer::target_dir().join("test-output").join("ofx_render_cli");
    let _ = std::fs::remove_dir_all(&out_dir);
    let src_path = installer::workspace_root().join("resources/demo/astronaut.png");
    let src = astronaut();
    for (depth, ext) in [("byte", "png"), ("short", "png"), ("float", "exr")] {
        let pattern = out_dir.join(format!("{depth}_%04d.{ext}"));
        let o = Command::new(ofx_render())
            .arg("--plugin-path")
            .arg(plugin_dir())
            .args(["--plugin", ID, "--frames", "3-1", "--depth", depth, "--threads", "2"])
            .arg("--input")
            .arg(format!("Source={}", src_path.display()))
            .arg("--out")
            .arg(&pattern)
            .output()
            .expect("run ofx-render");
        assert!(o.status.success(), "{depth}: {}", String::from_utf8_lossy(&o.stderr));
        // stderr is a pipe here, not a terminal: no progress bar.
        assert!(!String::from_utf8_lossy(&o.stderr).contains("frames/s"), "{depth}: progress on a pipe");
        for f in 1..=3 {
            let file = out_dir.join(format!("{depth}_{f:04}.{ext}"));
            let img = HostImage::load(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let (d, same) = max_diff(&src, &img);
            assert!(same, "{depth}: size");
            assert_eq!(d, 0.0, "{depth} frame {f}: the 8-bit portrait survives every depth exactly");
        }
    }
}

#[test]
fn unknown_plugin_and_missing_bundle_fail_with_a_sentence() {
    let o = Command::new(ofx_render())
        .args(["--plugin-path", "/nonexistent/plugins", "--plugin", ID, "--frames", "1-1", "--out", "/tmp/x_%04d.png"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.len() > 20, "a sentence on stderr, got {err:?}");

    let o = Command::new(ofx_render())
        .arg("--plugin-path")
        .arg(plugin_dir())
        .args(["--plugin", "org.example.DoesNotExist", "--frames", "1-1", "--out", "/tmp/x_%04d.png"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("org.example.DoesNotExist"));
}

#[test]
fn exit_status_is_two_on_usage_errors_and_124_on_the_watchdog() {
    let help = Command::new(ofx_render()).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--multithread"));
    for bad in [&["--bogus"][..], &["--frames", "a-b"], &["--param", "novalue"], &[]] {
        let o = Command::new(ofx_render()).args(bad).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
    let o = Command::new(ofx_render()).args(["--multithread", "lots"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("The multithread mode 'lots' is not threads, one-cpu or single."));

    // A render that cannot finish in a millisecond: the watchdog ends it.
    let src_path = installer::workspace_root().join("resources/demo/astronaut.png");
    let o = Command::new(ofx_render())
        .arg("--plugin-path")
        .arg(plugin_dir())
        .args(["--plugin", ID, "--frames", "1-50", "--timeout", "0.001", "--multithread", "single"])
        .arg("--input")
        .arg(format!("Source={}", src_path.display()))
        .args(["--param", "feather@1=0", "--param", "feather@50=2"])
        .arg("--out")
        .arg(std::env::temp_dir().join("ofx_render_cli_watchdog_%04d.png"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(124), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--timeout"));
}

#[test]
fn writes_tiff_and_jpeg_by_extension_and_names_the_file_it_cannot_write() {
    let out_dir = installer::target_dir().join("test-output").join("ofx_render_cli_formats");
    let _ = std::fs::remove_dir_all(&out_dir);
    let src_path = installer::workspace_root().join("resources/demo/astronaut.png");
    let src = astronaut();
    let render = |out: &std::path::Path, extra: &[&str]| {
        Command::new(ofx_render())
            .arg("--plugin-path")
            .arg(plugin_dir())
            .args(["--plugin", ID, "--frames", "1-4", "--threads", "2"])
            .args(extra)
            .arg("--input")
            .arg(format!("Source={}", src_path.display()))
            .arg("--out")
            .arg(out)
            .output()
            .expect("run ofx-render")
    };
    // (extension, largest difference from the 8-bit portrait)
    for (ext, tol) in [("tif", 0.0), ("jpg", 0.2)] {
        let o = render(&out_dir.join(format!("f_%04d.{ext}")), &["--compression", "small"]);
        assert!(o.status.success(), "{ext}: {}", String::from_utf8_lossy(&o.stderr));
        for f in 1..=4 {
            let img = HostImage::load(&out_dir.join(format!("f_{f:04}.{ext}"))).unwrap();
            let (d, same) = max_diff(&src, &img);
            assert!(same && d <= tol, "{ext} frame {f}: differs by {d}");
        }
    }
    // Every frame a file, and no temporary file left.
    let names: Vec<String> = std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 8, "{names:?}");
    // A folder that is a file: exit 1 and a sentence naming the frame file.
    std::fs::write(out_dir.join("blocker"), b"x").unwrap();
    let o = render(&out_dir.join("blocker/g_%04d.png"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("blocker/g_000") && err.trim_end().ends_with('.'), "{err}");
    // An extension no format matches is refused by name.
    let o = render(&out_dir.join("h_%04d.bmp"), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("h_%04d.bmp"));
}
