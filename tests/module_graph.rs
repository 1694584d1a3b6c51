//! The plugin crate's modules import each other in one direction: the only
//! circle `tests/module_graph.py` may find is `effect <-> overlay` (the
//! overlay's `impl` for the effect type lives beside the overlay, and the
//! instance holds the overlay's drag state).

#[test]
fn src_has_no_import_circle_but_the_overlay_impl() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/module_graph.py");
    let out = std::process::Command::new("python3").arg(&script).output().expect("python3 runs tests/module_graph.py");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    let circles: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).map(str::trim).collect();
    assert!(circles.iter().all(|c| *c == "effect <-> overlay"), "import circles in src/: {circles:?}");
}
