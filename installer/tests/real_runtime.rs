//! Checks the real pinned CPU wheel when it is already in the cache (no network in tests): extraction gives
//! the exact versioned runtime and the provider library, both from the ready cache and extracted afresh into a
//! temporary one. Skipped (with a note) when the wheel is not cached.

#[test]
fn cached_cpu_wheel_extracts_runtime() {
    let Ok(pin) = installer::pinned_wheel(false) else {
        return;
    };
    let cache = installer::target_dir().join("onnxruntime-cache");
    if !cache.join(pin.filename).is_file() {
        eprintln!("skipped: {} is not cached", pin.filename);
        return;
    }
    let t = std::time::Instant::now();
    let files = installer::ensure_runtime_from(pin, &cache, None).unwrap();
    eprintln!("first call {:?}", t.elapsed());
    assert!(files.runtime.ends_with(if cfg!(target_os = "linux") {
        "libonnxruntime.so.1.31.1"
    } else {
        ""
    }));
    assert!(files.runtime.is_file());
    assert!(files.providers.iter().all(|p| p.is_file()));
    assert!(files.licenses.iter().all(|p| p.is_file()));
    let t = std::time::Instant::now();
    installer::ensure_runtime_from(pin, &cache, None).unwrap();
    assert!(t.elapsed().as_millis() < 500, "cached call should be fast");
}

/// The cached pinned wheel, extracted afresh into a temporary cache (the real cache above is usually already
/// extracted, so that test takes the fast path): every member passes the zip crate's CRC check and our limits.
#[test]
fn cached_cpu_wheel_extracts_afresh() {
    let Ok(pin) = installer::pinned_wheel(false) else {
        return;
    };
    let wheel = installer::target_dir()
        .join("onnxruntime-cache")
        .join(pin.filename);
    if !wheel.is_file() {
        eprintln!("skipped: {} is not cached", pin.filename);
        return;
    }
    let tmp = installer::util::TempDir::new("lp-real-wheel").unwrap();
    let files = installer::ensure_runtime_from(pin, tmp.path(), Some(&wheel)).unwrap();
    assert!(files.dir.starts_with(tmp.path()));
    let runtime = std::fs::metadata(&files.runtime).unwrap();
    assert!(
        runtime.len() > 1 << 20,
        "{} is too small",
        files.runtime.display()
    );
    assert!(files
        .providers
        .iter()
        .chain(&files.licenses)
        .all(|p| p.is_file()));
}
