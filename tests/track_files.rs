//! Track files through the node: the project's JSON and OpenFace 2.x CSV drive
//! the same animation; malformed files of each kind give a persistent message
//! naming the problem and a failed render — never a panic or a hang.

#[path = "support/common.rs"]
mod common;

use std::path::PathBuf;

use common::*;
use ofx::host::*;

fn out_dir() -> PathBuf {
    let d = installer::target_dir().join("test-output").join("track_files");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn demo_track() -> PathBuf {
    installer::workspace_root().join("resources/demo/track.json")
}

fn instance(plugin: &Plugin, track: &std::path::Path) -> Instance {
    let mut inst = instance_with(plugin, astronaut());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    inst.set_param("trackFile", ParamValue::String(track.display().to_string())).unwrap();
    inst
}

/// The demo track written as OpenFace 2.x CSV (frame, face_id, timestamp,
/// confidence, success, x_0..x_67, y_0..y_67).
fn as_openface_csv(path: &std::path::Path) -> PathBuf {
    let t = living_portrait::track::LandmarkTrack::read(path).unwrap();
    let mut s = String::from("frame, face_id, timestamp, confidence, success");
    for i in 0..68 {
        s += &format!(", x_{i}");
    }
    for i in 0..68 {
        s += &format!(", y_{i}");
    }
    s.push('\n');
    for f in &t.frames {
        let l = f.landmarks.unwrap();
        s += &format!("{}, 0, {:.3}, 0.98, 1", f.frame, f.frame as f64 / 24.0);
        for p in l.iter() {
            s += &format!(", {}", p[0]);
        }
        for p in l.iter() {
            s += &format!(", {}", p[1]);
        }
        s.push('\n');
    }
    let out = out_dir().join("demo_openface.csv");
    std::fs::write(&out, s).unwrap();
    out
}

fn runtime() {
    test_env();
}

#[test]
fn openface_csv_drives_the_same_frames_as_the_json_track() {
    runtime();
    let (_h, plugin) = load(HostOptions { threads: 2, ..HostOptions::default() });
    let frames = [1, 9, 30];
    let mut a = instance(&plugin, &demo_track());
    let json = a.render_sequence(&frames, 2, &RenderRequest::default()).expect("JSON track");
    let mut b = instance(&plugin, &as_openface_csv(&demo_track()));
    let csv = b.render_sequence(&frames, 2, &RenderRequest::default()).expect("OpenFace track");
    for ((f, x), (_, y)) in json.iter().zip(csv.iter()) {
        let (d, same) = max_diff(x, y);
        assert!(same && d < 1e-6, "frame {f}: JSON and CSV renders differ by {d}");
    }
    // The animation really moves something at frame 9 (speech) but not at 1.
    let (d1, _) = max_diff(&json[0].1, &astronaut());
    let (d9, _) = max_diff(&json[1].1, &astronaut());
    assert_eq!(d1, 0.0, "frame 1 is the reference frame: the portrait itself");
    assert!(d9 > 0.1, "frame 9 is animated");
}

#[test]
fn malformed_track_files_fail_with_a_message() {
    runtime();
    let dir = out_dir();
    let good = std::fs::read_to_string(demo_track()).unwrap();
    let csv = std::fs::read_to_string(as_openface_csv(&demo_track())).unwrap();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.json", good.as_bytes()[..good.len() / 2].to_vec(), "not usable"),
        ("nan.json", good.replacen("[[", "[[NaN,", 1).into_bytes(), "not usable"),
        ("wrong_version.json", good.replacen("\"version\":1", "\"version\":7", 1).into_bytes(), "version"),
        ("duplicate.json", good.replacen("{\"frame\":2,", "{\"frame\":1,", 1).into_bytes(), "more than once"),
        ("negative.json", good.replacen("{\"frame\":2,", "{\"frame\":-2,", 1).into_bytes(), "not usable"),
        ("columns.csv", {
            let mut c = csv.clone();
            c.push_str("49, 0, 2.0\n");
            c.into_bytes()
        }, "columns"),
        ("nan.csv", csv.replacen(", 0.98, 1, ", ", 0.98, 1, nan, ", 1).into_bytes(), "not usable"),
        ("negative.csv", csv.replacen("\n1, ", "\n-1, ", 1).into_bytes(), "not a non-negative"),
        ("duplicate.csv", csv.replacen("\n2, ", "\n1, ", 1).into_bytes(), "twice"),
        ("binary.dat", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(), "not"),
        ("empty.json", Vec::new(), "not usable"),
    ];
    // 100 MB of junk: refused by size before it is read.
    let big = dir.join("junk_100mb.json");
    {
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(100 * 1024 * 1024).unwrap();
    }
    let (_h, plugin) = load(HostOptions::default());
    let mut paths: Vec<(PathBuf, &str)> = cases
        .drain(..)
        .map(|(name, bytes, want)| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            (p, want)
        })
        .collect();
    paths.push((big.clone(), "larger than"));
    paths.push((dir.join("does_not_exist.json"), "does not exist"));
    for (path, want) in &paths {
        let started = std::time::Instant::now();
        let mut inst = instance(&plugin, path);
        let err = inst.render_frame(2.0, &RenderRequest::default()).expect_err("a bad track fails the render");
        assert!(err.to_string().contains("kOfxStatFailed"), "{}: {err}", path.display());
        let msg = inst.persistent_message().unwrap_or_else(|| panic!("{}: no message", path.display()));
        assert!(msg.text.contains(want) && msg.text.contains("frame 2"), "{}: message {:?} lacks {want:?}", path.display(), msg.text);
        assert!(started.elapsed().as_secs() < 10, "{} took {:?}", path.display(), started.elapsed());
        assert_eq!(inst.leaked_images(), 0);
        // The parameters are intact after the failure.
        assert_eq!(inst.param_value("trackFile", 2.0).unwrap(), ParamValue::String(path.display().to_string()));
    }
    std::fs::remove_file(&big).ok();
}

/// Makes a named pipe with the system's `mkfifo`.
fn mkfifo(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    let ok = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(ok.success(), "mkfifo {}", path.display());
}

/// Watches a named pipe while a render runs: if anything opens it for reading (a reader waiting for a writer,
/// which would hang a render for good), the watchdog opens the write end after a while so that reader gets
/// end-of-file, and records that it happened. Returns the flag and a stop switch.
fn watch_fifo(
    fifo: PathBuf,
) -> (std::sync::Arc<std::sync::atomic::AtomicBool>, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let opened = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (o, s) = (opened.clone(), stop.clone());
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        while !s.load(Ordering::SeqCst) {
            // A non-blocking open of the write end succeeds only while a reader has the pipe open.
            if started.elapsed().as_secs() >= 2 {
                if let Ok(w) = std::fs::OpenOptions::new().write(true).custom_flags(0o4000).open(&fifo) {
                    o.store(true, Ordering::SeqCst);
                    drop(w);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    (opened, stop)
}

#[test]
fn fifos_and_devices_as_pts_tracks_fail_at_once_with_a_message() {
    runtime();
    let dir = out_dir().join("special_files");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("folder")).unwrap();
    // A FIFO named as the track, a FIFO among good .pts files of a folder, /dev/zero through a link.
    let fifo = dir.join("face_0001.pts");
    mkfifo(&fifo);
    let t = living_portrait::track::LandmarkTrack::read(&demo_track()).unwrap();
    let pts = |l: &[[f32; 2]; 68]| {
        let mut s = String::from("version: 1\nn_points: 68\n{\n");
        for p in l {
            s += &format!("{} {}\n", p[0], p[1]);
        }
        s + "}\n"
    };
    for f in &t.frames[..3] {
        std::fs::write(dir.join("folder").join(format!("face_{:04}.pts", f.frame)), pts(&f.landmarks.unwrap())).unwrap();
    }
    let fifo_in_folder = dir.join("folder").join("face_0004.pts");
    mkfifo(&fifo_in_folder);
    let zero = dir.join("zero.pts");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let cases = [
        (fifo.clone(), fifo.clone(), format!("{} is a named pipe (FIFO), not a regular file", fifo.display())),
        (dir.join("folder"), fifo_in_folder.clone(), format!("the track {} is not usable: {} is a named pipe (FIFO), not a regular file", dir.join("folder").display(), fifo_in_folder.display())),
        (zero.clone(), fifo.clone(), format!("{} is a device, not a regular file", zero.display())),
    ];
    let (_h, plugin) = load(HostOptions::default());
    for (track, watched, want) in cases {
        let (opened, stop) = watch_fifo(watched);
        let started = std::time::Instant::now();
        let mut inst = instance(&plugin, &track);
        let err = inst.render_frame(2.0, &RenderRequest::default()).expect_err("a FIFO or device track fails the render");
        let took = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(err.to_string().contains("kOfxStatFailed"), "{}: {err}", track.display());
        assert!(!opened.load(std::sync::atomic::Ordering::SeqCst), "{}: the render opened the FIFO and waited on it", track.display());
        let msg = inst.persistent_message().unwrap_or_else(|| panic!("{}: no message", track.display()));
        assert!(msg.text.contains(&want), "{}: message {:?} lacks {want:?}", track.display(), msg.text);
        assert!(took.as_secs() < 2, "{} took {took:?}", track.display());
        assert_eq!(inst.leaked_images(), 0);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_percent_04d_pattern_of_pts_files_drives_the_render() {
    runtime();
    let dir = out_dir().join("pts_pattern");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The demo track as one iBUG .pts file per frame, written as the points were stored (f32 text round-trips).
    let t = living_portrait::track::LandmarkTrack::read(&demo_track()).unwrap();
    for f in &t.frames {
        let mut s = String::from("version: 1\nn_points: 68\n{\n");
        for p in f.landmarks.unwrap().iter() {
            s += &format!("{} {}\n", p[0], p[1]);
        }
        std::fs::write(dir.join(format!("face_{:04}.pts", f.frame)), s + "}\n").unwrap();
    }
    let (_h, plugin) = load(HostOptions { threads: 2, ..HostOptions::default() });
    let frames = [1, 9];
    let mut a = instance(&plugin, &demo_track());
    let json = a.render_sequence(&frames, 2, &RenderRequest::default()).expect("JSON track");
    // The demo track records its image size; .pts files do not, and relative motion does not need it.
    let mut b = instance(&plugin, &dir.join("face_%04d.pts"));
    let pts = b.render_sequence(&frames, 2, &RenderRequest::default()).expect("the %04d pattern of .pts files renders");
    for ((f, x), (_, y)) in json.iter().zip(pts.iter()) {
        let (d, same) = max_diff(x, y);
        assert!(same && d < 1e-6, "frame {f}: JSON and .pts renders differ by {d}");
    }
    let (d9, _) = max_diff(&pts[1].1, &astronaut());
    assert!(d9 > 0.1, "frame 9 is animated");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_json_object_with_400000_keys_is_handled_in_linear_time() {
    let dir = out_dir();
    let mut s = String::with_capacity(400_000 * 16);
    s.push('{');
    for i in 0..400_000 {
        if i > 0 {
            s.push(',');
        }
        s += &format!("\"k{i}\":{i}");
    }
    s.push('}');
    let path = dir.join("keys_400k.json");
    std::fs::write(&path, &s).unwrap();
    let started = std::time::Instant::now();
    let err = living_portrait::track_import::load_track(&path, [100, 100]).unwrap_err();
    let took = started.elapsed();
    eprintln!("400,000-key JSON object: refused in {took:?}");
    assert!(err.0.contains("\"format\" is missing"), "{}", err.0);
    assert!(took.as_secs_f64() < 5.0, "400,000 keys took {took:?}");
    // A duplicate among them is still found, with its position.
    std::fs::write(&path, s.replacen("}", ",\"k399999\":0}", 1)).unwrap();
    let err = living_portrait::track_import::load_track(&path, [100, 100]).unwrap_err();
    assert!(err.0.contains("duplicate key \"k399999\""), "{}", err.0);
    std::fs::remove_file(&path).ok();
}

#[test]
fn track_messages_read_as_one_sentence_with_the_users_numbers() {
    let dir = out_dir().join("messages");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(demo_track()).unwrap();
    let csv = std::fs::read_to_string(as_openface_csv(&demo_track())).unwrap();
    let pts5 = "version: 1\nn_points: 5\n{\n1 2\n}\n";
    let cases: [(&str, String, String); 4] = [
        // No Rust debug text ("Some(5)"), and the .pts file named once.
        ("five.pts", pts5.to_string(), "is not usable: n_points is 5; only the 68-point iBUG layout is supported".into()),
        // One prefix: not "is not usable: The track is not valid: …".
        (
            "v7.json",
            good.replacen("\"version\":1", "\"version\":7", 1),
            "is not usable: it has version 7; this reader knows only version 1 (a newer Living Portrait may read it)".into(),
        ),
        // The number as the user wrote it, not re-formatted ("1.50", not "1.5").
        ("frame.csv", csv.replacen("\n2, ", "\n1.50, ", 1), "is not usable: line 3: frame 1.50 is not a non-negative whole number".into()),
        ("nan.csv", csv.replacen("\n2, 0, ", "\n2, NaN, ", 1), "is not usable: line 3: face_id \"NaN\" is not a finite number".into()),
    ];
    let (_h, plugin) = load(HostOptions::default());
    for (name, text, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let kind = if name.ends_with(".pts") { "track" } else { "track file" };
        let expected = format!("the {kind} {} {want}", path.display());
        let err = living_portrait::track_import::load_track(&path, [100, 100]).unwrap_err();
        assert_eq!(err.0, expected);
        // Through the node, the same sentence (after the frame it failed on), once.
        let mut inst = instance(&plugin, &path);
        inst.render_frame(2.0, &RenderRequest::default()).expect_err("a bad track fails the render");
        let msg = inst.persistent_message().expect("a message").text;
        assert!(msg.contains(&expected) && msg.matches("not usable").count() == 1, "{msg}");
        assert!(!msg.contains("not valid") && !msg.contains("Some("), "{msg}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
