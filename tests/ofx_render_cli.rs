//! `ofx-render`, the headless renderer, driving the real bundle end to end: the
//! astronaut portrait through the plugin at every depth into PNG 8/16-bit and
//! OpenEXR files, read back and compared; and clear failures.

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
