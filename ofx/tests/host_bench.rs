//! `ofx-render --bench` bookkeeping: statistics, `/proc/self/status` parsing,
//! the report (table and JSON, read back with serde_json), the new command-line options, input resizing,
//! and one end-to-end run of `ofx-render --bench` against the real plugin when
//! it has been built (`target/<profile>/libliving_portrait.so`; skipped with a
//! note otherwise).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ofx::host::bench::{memory_status, parse_proc_status, reset_peak};
use ofx::host::cli::{parse_size, resize_input, run, CliArgs};
use ofx::host::{BenchFile, BenchReport, ClipInput, Components, HostImage, MemoryStatus, Stats};
use serde_json::{json, Value};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

// ---------------------------------------------------------------- statistics

#[test]
fn stats_of_odd_and_even_counts() {
    let odd = Stats::of(&[5.0, 1.0, 3.0]).unwrap();
    assert_eq!(odd, Stats { count: 3, mean: 3.0, median: 3.0, min: 1.0, max: 5.0 });
    let even = Stats::of(&[4.0, 1.0, 10.0, 2.0]).unwrap();
    assert_eq!(even.median, 3.0);
    assert_eq!(even.mean, 4.25);
    assert_eq!((even.min, even.max, even.count), (1.0, 10.0, 4));
    let one = Stats::of(&[7.5]).unwrap();
    assert_eq!((one.mean, one.median, one.min, one.max), (7.5, 7.5, 7.5, 7.5));
    assert_eq!(Stats::of(&[]), None);
    assert_eq!(Stats::of(&[1.0, f64::NAN]), None);
    assert_eq!(Stats::of(&[1.0, f64::INFINITY]), None);
}

// ---------------------------------------------------------------- memory

const STATUS: &str = "Name:\tofx-render\nUmask:\t0022\nState:\tR (running)\nVmPeak:\t  912344 kB\n\
VmSize:\t  912340 kB\nVmLck:\t       0 kB\nVmHWM:\t  158204 kB\nVmRSS:\t  150000 kB\nRssAnon:\t  120000 kB\nThreads:\t3\n";

#[test]
fn proc_status_is_parsed() {
    assert_eq!(parse_proc_status(STATUS), Some(MemoryStatus { rss_kib: 150000, peak_kib: 158204 }));
    // Missing fields (kernel threads, other systems) give None.
    assert_eq!(parse_proc_status("Name:\tx\nVmRSS:\t 12 kB\n"), None);
    assert_eq!(parse_proc_status(""), None);
    assert_eq!(parse_proc_status("VmRSS:\t lots kB\nVmHWM:\t 3 kB\n"), None);
    // "RssAnon" and "VmPeak" must not be mistaken for the fields asked.
    let shuffled = "RssAnon:\t 1 kB\nVmPeak:\t 2 kB\nVmHWM:\t 30 kB\nVmRSS:\t 20 kB\n";
    assert_eq!(parse_proc_status(shuffled), Some(MemoryStatus { rss_kib: 20, peak_kib: 30 }));
}

#[test]
fn own_memory_is_read_and_the_peak_can_be_reset() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("note: no /proc/self/status here; memory checks skipped");
        assert_eq!(memory_status(), None);
        return;
    }
    let m = memory_status().expect("VmRSS and VmHWM in /proc/self/status");
    assert!(m.rss_kib > 0 && m.peak_kib >= m.rss_kib, "{m:?}");
    // Touch 96 MiB, free it, reset the peak: the new peak is well below.
    let mut big = vec![0u8; 96 << 20];
    for page in big.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&big);
    let high = memory_status().unwrap();
    drop(big);
    if reset_peak() {
        let low = memory_status().unwrap();
        assert!(low.peak_kib + (48 << 10) <= high.peak_kib, "{high:?} then {low:?}");
    } else {
        eprintln!("note: /proc/self/clear_refs cannot be written here; peak reset not checked");
    }
}

// ---------------------------------------------------------------- report

fn report() -> BenchReport {
    BenchReport {
        plugin: "org.example.\"Quoted\"".into(),
        version: (1, 2),
        binary: PathBuf::from("/tmp/x/Example.ofx"),
        width: 1920,
        height: 1080,
        depth: "float".into(),
        components: "rgba".into(),
        frame_count: 20,
        repeat: 2,
        frame_threads: 1,
        cpu_threads: 2,
        load_ms: 12.5,
        setup_ms: 0.25,
        first_frame_ms: 800.0,
        steady: Stats::of(&[10.0, 20.0, 30.0]),
        plugin_steady: Stats::of(&[4.0, 5.0, 6.0]),
        steady_wall_ms: 60.0,
        steady_wall_frames: 3,
        before: Some(MemoryStatus { rss_kib: 100 << 10, peak_kib: 120 << 10 }),
        after: Some(MemoryStatus { rss_kib: 300 << 10, peak_kib: 350 << 10 }),
        peak_reset: true,
        host_buffers_kib: 96 << 10,
        saved: false,
    }
}

#[test]
fn report_figures_and_table() {
    let r = report();
    assert_eq!(r.frames_per_second(), Some(50.0));
    assert_eq!(r.plugin_above_host_kib(), Some(250 << 10));
    let t = r.table();
    for needle in [
        "load plugin (load, describe, create instance)",
        "12.50 ms",
        "800.00 ms",
        "mean (3 frames)",
        "20.00 ms",
        "50.00 frames/s",
        "resident before loading the plugin",
        "100.0 MiB",
        "350.0 MiB",
        "plugin resident above host",
        "250.0 MiB",
        "1920x1080 float rgba",
    ] {
        assert!(t.contains(needle), "'{needle}' missing from\n{t}");
    }
    // Values line up in one column.
    let ends: Vec<usize> = t.lines().skip(3).map(|l| l.len()).collect();
    assert!(ends.windows(2).all(|w| w[0] == w[1]), "{t}");

    let mut none = r.clone();
    none.steady = None;
    none.steady_wall_frames = 0;
    none.steady_wall_ms = 0.0;
    none.after = None;
    assert_eq!(none.frames_per_second(), None);
    assert_eq!(none.plugin_above_host_kib(), None);
    let t = none.table();
    assert!(t.contains("n/a (one frame rendered)") && t.contains("n/a (no /proc/self/status)"), "{t}");
}

#[test]
fn report_json_parses_with_every_figure() {
    let text = report().to_json();
    let j: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(j["plugin"], "org.example.\"Quoted\"");
    assert_eq!(j["version"], json!([1, 2]));
    assert_eq!(j["output"]["width"], 1920);
    assert_eq!(j["output"]["depth"], "float");
    assert_eq!(j["repeat"], 2);
    assert_eq!(j["load_ms"], 12.5);
    assert_eq!(j["first_frame_ms"], 800.0);
    let st = &j["steady"];
    assert_eq!(st["samples"], 3);
    assert_eq!(st["median_ms"], 20.0);
    assert_eq!(st["min_ms"], 10.0);
    assert_eq!(st["max_ms"], 30.0);
    assert_eq!(st["frames_per_second"], 50.0);
    let m = &j["memory"];
    assert_eq!(m["rss_before_plugin_kib"], 100 << 10);
    assert_eq!(m["peak_after_render_kib"], 350 << 10);
    assert_eq!(m["plugin_above_host_kib"], 250 << 10);
    assert_eq!(m["peak_reset"], true);
    // The typed document reads back what was written.
    assert_eq!(serde_json::from_str::<BenchFile>(&text).unwrap(), report().to_file());

    let mut none = report();
    none.steady = None;
    none.before = None;
    none.load_ms = f64::NAN;
    let j: Value = serde_json::from_str(&none.to_json()).unwrap();
    assert_eq!(j["steady"], Value::Null);
    assert_eq!(j["memory"], Value::Null);
    assert_eq!(j["load_ms"], Value::Null);
}

// ---------------------------------------------------------------- command line

#[test]
fn bench_options_parse() {
    let a = CliArgs::parse(&s(&[
        "--plugin-path", "/x", "--plugin", "a.b", "--input", "Source=in.png", "--input-resize", "Source=1920x1080",
        "--frames", "1-20", "--bench", "--repeat", "3",
    ]))
    .unwrap();
    assert!(a.bench && a.bench_json.is_none() && a.out.is_none());
    assert_eq!(a.repeat, 3);
    assert_eq!(a.input_resize, vec![("Source".to_string(), 1920, 1080)]);
    let a = CliArgs::parse(&s(&["--bench-json=/tmp/b.json", "--repeat", "0"])).unwrap();
    assert!(a.bench);
    assert_eq!(a.bench_json, Some(PathBuf::from("/tmp/b.json")));
    assert_eq!(a.repeat, 1);
    assert_eq!(CliArgs::parse(&s(&[])).unwrap().repeat, 1);
    for bad in [&["--input-resize", "Source"][..], &["--input-resize", "Source=0x10"], &["--input-resize", "S=10"], &["--repeat", "x"]] {
        assert!(CliArgs::parse(&s(bad)).is_err(), "{bad:?}");
    }
    assert_eq!(parse_size("640x360"), Some((640, 360)));
    assert_eq!(parse_size(" 7X9 "), Some((7, 9)));
    assert_eq!(parse_size("640*360"), None);
    assert_eq!(parse_size("99999x1"), None);
}

#[test]
fn bench_needs_no_out_but_resize_needs_an_input() {
    let base = ["--plugin-path", "/nonexistent-ofx-dir", "--plugin", "a.b", "--frames", "1-2"];
    // Without --bench the missing --out is a usage error...
    let err = run(&CliArgs::parse(&s(&base)).unwrap()).unwrap_err().to_string();
    assert!(err.contains("--out"), "{err}");
    // ...with it the run goes on (and fails later, on the missing plugin).
    let mut args = s(&base);
    args.push("--bench".into());
    let err = run(&CliArgs::parse(&args).unwrap()).unwrap_err().to_string();
    assert!(!err.contains("--out"), "{err}");
    args.extend(s(&["--input-resize", "Other=4x4"]));
    let err = run(&CliArgs::parse(&args).unwrap()).unwrap_err().to_string();
    assert!(err.contains("Other"), "{err}");
}

#[test]
fn inputs_resize_stills_and_sequences() {
    let still = ClipInput::Still(HostImage::filled(2, 2, [0.5, 0.5, 0.5, 1.0]));
    match resize_input(still, 8, 3) {
        ClipInput::Still(img) => assert_eq!((img.width, img.height, img.pixels.len()), (8, 3, 96)),
        other => panic!("{other:?}"),
    }
    let mut frames = BTreeMap::new();
    frames.insert(1, HostImage::new(4, 4, Components::Rgb));
    frames.insert(2, HostImage::new(5, 3, Components::Rgb));
    match resize_input(ClipInput::Sequence(frames), 6, 2) {
        ClipInput::Sequence(f) => {
            assert_eq!(f.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
            assert!(f.values().all(|i| (i.width, i.height, i.components) == (6, 2, Components::Rgb)));
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- end to end with the real plugin

/// `target/<profile>` of this build (where `ofx-render` is).
fn profile_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_ofx-render")).parent().unwrap().to_path_buf()
}

#[test]
fn bench_runs_the_real_plugin_when_built() {
    let so = profile_dir().join("libliving_portrait.so");
    if !so.is_file() {
        eprintln!("note: {} is not built; the end-to-end ofx-render --bench test is skipped", so.display());
        return;
    }
    let root = std::env::temp_dir().join(format!("ofx-host-bench-{}", std::process::id()));
    let arch = root.join("LivingPortrait.ofx.bundle").join("Contents").join("Linux-x86-64");
    std::fs::create_dir_all(&arch).unwrap();
    std::fs::copy(&so, arch.join("LivingPortrait.ofx")).unwrap();
    let input = root.join("in.png");
    HostImage::filled(64, 48, [0.3, 0.5, 0.7, 1.0]).save(&input, ofx::host::Depth::Byte).unwrap();
    let json = root.join("bench.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ofx-render"))
        .args(["--plugin-path", root.to_str().unwrap(), "--plugin", "org.livingportrait.LivingPortrait"])
        .args(["--input", &format!("Source={}", input.display()), "--input-resize", "Source=160x90"])
        .args(["--depth", "float", "--frames", "1-3", "--repeat", "2", "--bench-json", json.to_str().unwrap()])
        .args(["--timeout", "300"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ofx-render --bench failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("steady state per frame, mean (5 frames)"), "{stdout}");
    assert!(stdout.contains("output 160x90 float rgba"), "{stdout}");
    let j: BenchFile = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j.output.width, 160);
    assert_eq!(j.steady.unwrap().samples, 5);
    assert!(j.first_frame_ms.unwrap() > 0.0);
    if Path::new("/proc/self/status").exists() {
        assert!(j.memory.unwrap().rss_before_plugin_kib > 0);
    }
    let _ = std::fs::remove_dir_all(&root);
}
