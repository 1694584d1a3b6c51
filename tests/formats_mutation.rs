//! Every file format the plugin reads, mutated: valid samples of the project's JSON track, OpenFace 2.x CSV, iBUG
//! `.pts`, MediaPipe 468-point JSON and the pack manifest are damaged by a small seeded PRNG (byte flips,
//! truncation, duplicated ranges, huge numbers, NaN, deep nesting, stray bytes) and each parse must return `Ok` or
//! a clean `Err` — no panic, and quickly. Fixed seeds, so a failure names a reproducible case. The long,
//! coverage-guided runs are the `cargo fuzz` targets in `tests/fuzz/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use living_portrait::json::Json;
use living_portrait::track::{LandmarkTrack, TrackFrame};
use living_portrait::packs::manifest::Manifest;
use living_portrait::track_import::{parse_mediapipe_json, parse_openface_csv, parse_pts, parse_track_bytes};

/// xorshift64*: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Splices that have broken parsers before: huge and odd numbers, NaN, deep nesting, lone quotes and escapes.
const SPLICES: &[&str] = &[
    "1e308",
    "-1e309",
    "99999999999999999999999999999999",
    "4294967296",
    "-0",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1.5",
    "\"",
    "\\u",
    "\\ud800",
    "{}",
    "[]",
    ",",
    ":",
    "\n",
    "%",
    "\u{0}",
    "é",
    "n_points: 68",
    "{",
    "}",
];

fn mutate(rng: &mut Rng, sample: &[u8]) -> Vec<u8> {
    let mut b = sample.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len().max(1);
        match rng.below(8) {
            0 => {
                let i = rng.below(len);
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << rng.below(8);
                }
            }
            1 => b.truncate(rng.below(len)),
            2 => {
                let (s, n) = (rng.below(len), 1 + rng.below(64));
                let part: Vec<u8> = b.iter().skip(s).take(n).copied().collect();
                let at = rng.below(len).min(b.len());
                b.splice(at..at, part);
            }
            3 | 4 => {
                let splice = SPLICES[rng.below(SPLICES.len())].as_bytes();
                let at = rng.below(len).min(b.len());
                let cut = (at + rng.below(8)).min(b.len());
                b.splice(at..cut, splice.iter().copied());
            }
            5 => {
                let depth = 1 + rng.below(5000);
                let at = rng.below(len).min(b.len());
                let open = if rng.below(2) == 0 { b'[' } else { b'{' };
                b.splice(at..at, std::iter::repeat_n(open, depth));
            }
            6 => {
                let at = rng.below(len).min(b.len());
                let cut = (at + rng.below(32)).min(b.len());
                b.drain(at..cut);
            }
            _ => {
                let at = rng.below(len).min(b.len());
                b.insert(at, rng.next() as u8);
            }
        }
    }
    b
}

fn points(seed: f32) -> [[f32; 2]; 68] {
    std::array::from_fn(|i| [seed + i as f32 * 1.25, 200.0 - i as f32 / 3.0])
}

fn track_json() -> String {
    let frames = vec![
        TrackFrame { frame: 1, landmarks: Some(points(3.0)) },
        TrackFrame { frame: 2, landmarks: None },
        TrackFrame { frame: 4, landmarks: Some(points(1.5)) },
    ];
    let mut track = LandmarkTrack::new([640, 480], Some(25.0), frames).unwrap();
    track.irises = vec![(1, [[20.5, 190.0], [60.0, 189.5]]), (4, [[21.0, 190.5], [61.0, 190.0]])];
    track.gaze = vec![(4, [10.0, -5.5])];
    track.to_json()
}

fn openface_csv() -> String {
    let mut h = vec!["frame".to_string(), " face_id".into(), " timestamp".into(), " confidence".into(), " success".into()];
    h.extend((0..68).map(|i| format!(" x_{i}")));
    h.extend((0..68).map(|i| format!(" y_{i}")));
    h.extend([" pose_Rx", " pose_Ry", " pose_Rz", " gaze_angle_x", " gaze_angle_y"].map(String::from));
    h.extend((0..56).map(|i| format!(" eye_lmk_x_{i}")));
    h.extend((0..56).map(|i| format!(" eye_lmk_y_{i}")));
    let mut s = h.join(",") + "\n";
    for frame in 1..=3 {
        let mut r = vec![frame.to_string(), "0".into(), "0.04".into(), "0.98".into(), "1".into()];
        r.extend((0..68).map(|i| format!("{}", 100.0 + i as f64 + frame as f64)));
        r.extend((0..68).map(|i| format!("{}", 200.0 + i as f64)));
        r.extend(["0.1", "-0.2", "0.05", "0.3", "-0.1"].map(String::from));
        r.extend((0..112).map(|i| format!("{}", 130.0 + (i % 56) as f64 * 0.5)));
        s += &(r.join(", ") + "\n");
    }
    s
}

fn pts() -> String {
    let mut s = String::from("version: 1\nn_points: 68\n{\n");
    for p in points(7.0) {
        s += &format!("{} {}\n", p[0], p[1]);
    }
    s + "}\n"
}

fn mediapipe_json() -> String {
    let mesh: Vec<String> = (0..468).map(|i| format!("[{}, {}, 0.0]", (i % 20) as f64 / 40.0, (i / 20) as f64 / 60.0)).collect();
    format!(
        "{{\"image_size\": [200, 100], \"normalized\": true, \"frames\": [{{\"frame\": 5, \"landmarks\": [{}]}}, {{\"frame\": 6, \"missing\": true}}]}}",
        mesh.join(", ")
    )
}

fn fewshot_pack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/models/fewshot_test")
}

/// Runs `parse` on `iterations` mutations of `sample` per seed; every call must return and do so quickly.
fn run(name: &str, sample: &str, iterations: usize, parse: &dyn Fn(&[u8])) {
    parse(sample.as_bytes());
    let mut slowest = Duration::ZERO;
    for seed in [0x9E37_79B9_7F4A_7C15u64, 0xD1B5_4A32_D192_ED03] {
        let mut rng = Rng(seed);
        for i in 0..iterations {
            let input = mutate(&mut rng, sample.as_bytes());
            let started = Instant::now();
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&input))).is_err() {
                panic!("{name}: seed {seed:#x} mutation {i} panicked on {:?}", String::from_utf8_lossy(&input));
            }
            let took = started.elapsed();
            slowest = slowest.max(took);
            assert!(took < Duration::from_secs(1), "{name}: seed {seed:#x} mutation {i} took {took:?}");
        }
    }
    eprintln!("{name}: {} mutations, slowest parse {slowest:?}", 2 * iterations);
}

/// Each format through its own parser, through the content-detecting entry the node uses, and as JSON.
fn track_parsers(bytes: &[u8]) {
    let _ = parse_track_bytes(bytes, [640, 480]);
    let _ = Json::parse(&String::from_utf8_lossy(bytes));
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = LandmarkTrack::parse(text);
        let _ = parse_openface_csv(text, [640, 480]);
        let _ = parse_pts(text);
        let _ = parse_mediapipe_json(text, [640, 480]);
    }
}

#[test]
fn mutated_tracks_parse_or_fail_cleanly() {
    run("JSON track", &track_json(), 3000, &track_parsers);
    run("OpenFace CSV", &openface_csv(), 2000, &track_parsers);
    run("iBUG .pts", &pts(), 4000, &track_parsers);
    run("MediaPipe JSON", &mediapipe_json(), 1000, &track_parsers);
}

#[test]
fn mutated_pack_manifests_parse_or_fail_cleanly() {
    let dir = fewshot_pack();
    let canonical = std::fs::canonicalize(&dir).unwrap();
    let sample = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(Manifest::parse_in(&dir, &canonical, sample.as_bytes()).is_ok(), "the sample manifest is valid");
    run("pack manifest", &sample, 4000, &|bytes: &[u8]| {
        let _ = Manifest::parse_in(&dir, &canonical, bytes);
    });
}
