//! `living-portrait`: the face analysis of the plugin on the command line, for making landmark tracks from image
//! sequences, checking what the plugin will see in a portrait, writing mattes, and measuring speed. It uses the
//! same library code as the plugin (the `face` and `inference` modules), so its answers are the plugin's answers.
//! ONNX Runtime is looked for in `LIVING_PORTRAIT_ORT_LIB`, then beside this executable, then in the runtime
//! cache the installer fills under the workspace's `target/`. The command line is clap's (`--help` on every command);
//! failures print one sentence and exit with 1; `track` shows its progress when stderr is a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use living_portrait::json;
use living_portrait::face::{
    FaceAnalyzer, FaceDetection, FaceError, FaceImage, DETECTOR_MODEL, MATTE_MODEL, MESH_MODEL,
};
use living_portrait::track::{LandmarkTrack, TrackFrame};
use living_portrait::inference::{
    self, Device, InferenceError, SessionPool, ORT_LIB_ENV, ORT_RUNTIME_FILE, ORT_RUNTIME_VERSION,
};

/// The environment the commands read, shown under every `--help`.
const ENVIRONMENT: &str = "\
ONNX Runtime: $LIVING_PORTRAIT_ORT_LIB, else beside this program, else target/onnxruntime-cache (made by
`cargo run --release -p installer -- bundle`). Models: $LIVING_PORTRAIT_MODELS_DIR, else the source tree's.
Portraits: JPEG (EXIF orientation honoured), PNG 8/16-bit, TIFF, WebP, OpenEXR, GIF.";

/// `living-portrait`'s command line.
#[derive(Parser)]
#[command(
    name = "living-portrait",
    about = "living-portrait — face analysis of the Living Portrait plugin",
    after_help = ENVIRONMENT,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Where inference runs: auto, gpu or cpu
    #[arg(long, global = true, value_name = "auto|gpu|cpu", default_value = "cpu", value_parser = parse_device)]
    device: Device,
    /// Intra-op threads per session, 1 to 64 (default 1)
    #[arg(long, global = true, value_name = "N", value_parser = parse_threads)]
    threads: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Faces, scores and 68 landmarks (image pixels, top-left origin)
    #[command(after_help = ENVIRONMENT)]
    Detect {
        /// The portrait
        #[arg(value_name = "IMAGE")]
        image: Option<String>,
        /// Also give the 468-point mesh
        #[arg(long)]
        mesh: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// A landmark track from an image sequence, e.g. frames/f_%04d.png
    #[command(after_help = ENVIRONMENT)]
    Track {
        /// The frames: a path with %d or %0Nd for the frame number
        #[arg(value_name = "PATTERN")]
        pattern: Option<String>,
        /// The track file to write
        #[arg(long, short, value_name = "TRACK.json")]
        out: Option<PathBuf>,
        /// Frames per second of the sequence, recorded in the track
        #[arg(long, value_name = "N", value_parser = parse_fps, allow_negative_numbers = true)]
        fps: Option<f64>,
    },
    /// The person matte (8-bit grey)
    #[command(after_help = ENVIRONMENT)]
    Matte {
        /// The portrait
        #[arg(value_name = "IMAGE")]
        image: Option<String>,
        /// The matte file to write
        #[arg(long, short, value_name = "MATTE.png")]
        out: Option<PathBuf>,
    },
    /// Timings per call (default 50 runs on the demo portrait)
    #[command(after_help = ENVIRONMENT)]
    Bench {
        /// Runs per measurement
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = parse_runs)]
        runs: usize,
        /// The portrait (default: the demo astronaut)
        #[arg(long, value_name = "IMAGE")]
        image: Option<PathBuf>,
    },
    /// Which ONNX Runtime, models folder and device are used
    #[command(after_help = ENVIRONMENT)]
    Info,
}

fn parse_device(v: &str) -> Result<Device, String> {
    match v.to_ascii_lowercase().as_str() {
        "auto" => Ok(Device::Auto),
        "gpu" | "cuda" => Ok(Device::Gpu),
        "cpu" => Ok(Device::Cpu),
        _ => Err(format!("--device must be auto, gpu or cpu, not \"{v}\"")),
    }
}

fn parse_threads(v: &str) -> Result<usize, String> {
    v.parse()
        .ok()
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(|| format!("--threads must be a whole number from 1 to 64, not \"{v}\""))
}

fn parse_fps(v: &str) -> Result<f64, String> {
    v.parse()
        .ok()
        .filter(|f: &f64| f.is_finite() && *f > 0.0)
        .ok_or_else(|| format!("--fps must be a positive number, not \"{v}\""))
}

fn parse_runs(v: &str) -> Result<usize, String> {
    v.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("--runs must be a positive whole number, not \"{v}\""))
}

/// A failure to report: one sentence on stderr, exit code 1.
struct CliError(String);

impl From<FaceError> for CliError {
    fn from(e: FaceError) -> Self {
        CliError(e.to_string())
    }
}

impl From<InferenceError> for CliError {
    fn from(e: InferenceError) -> Self {
        CliError(e.to_string())
    }
}

fn fail<T>(msg: impl Into<String>) -> Result<T, CliError> {
    Err(CliError(msg.into()))
}

/// What a command reads from the command line.
struct Args {
    command: &'static str,
    positional: Option<String>,
    out: Option<PathBuf>,
    json: bool,
    mesh: bool,
    fps: Option<f64>,
    runs: usize,
    image: Option<PathBuf>,
    device: Device,
}

impl Args {
    fn new(command: &'static str, device: Device) -> Args {
        Args { command, positional: None, out: None, json: false, mesh: false, fps: None, runs: 50, image: None, device }
    }
}

/// A clap error as our one sentence (or help, to print as it is).
fn clap_failure(e: clap::Error) -> CliError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if let Some(source) = std::error::Error::source(&e) {
        return CliError(source.to_string());
    }
    if e.kind() == ErrorKind::InvalidSubcommand {
        if let Some(ContextValue::String(name)) = e.get(ContextKind::InvalidSubcommand) {
            return CliError(format!(
                "unknown command \"{name}\"; the commands are detect, track, matte, bench, info"
            ));
        }
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim_start_matches("error: ");
    CliError(format!("{first}; see --help"))
}

/// Finds the runtime for the CLI and tells the library to use it (the library then loads it on first use).
fn choose_runtime() -> Result<(), CliError> {
    if std::env::var_os(ORT_LIB_ENV).is_some_and(|v| !v.is_empty()) {
        return Ok(()); // the library honours the override itself
    }
    let mut looked = Vec::new();
    if let Some(dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        let beside = dir.join(ORT_RUNTIME_FILE);
        if beside.is_file() {
            inference::set_runtime_library(beside);
            return Ok(());
        }
        looked.push(beside);
    }
    let mut caches = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("onnxruntime-cache")];
    // A CLI built under another target folder (CARGO_TARGET_DIR) sits in <target>/<profile>/.
    if let Some(target) = std::env::current_exe().ok().and_then(|p| p.parent()?.parent().map(Path::to_path_buf)) {
        caches.push(target.join("onnxruntime-cache"));
    }
    for cache in caches {
        let dir = cache.join(format!("cpu-{ORT_RUNTIME_VERSION}"));
        if let Some(found) = find_file(&dir, ORT_RUNTIME_FILE, 3) {
            inference::set_runtime_library(found);
            return Ok(());
        }
        looked.push(dir.join(ORT_RUNTIME_FILE));
    }
    let list: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
    fail(format!(
        "ONNX Runtime {ORT_RUNTIME_VERSION} ({ORT_RUNTIME_FILE}) was not found (looked for {}); fetch it with \
         `cargo run --release -p installer -- bundle`, or set {ORT_LIB_ENV} to the library's path",
        list.join(", ")
    ))
}

/// `name` in `dir` or its subfolders, up to `depth` levels down.
fn find_file(dir: &Path, name: &str, depth: usize) -> Option<PathBuf> {
    let direct = dir.join(name);
    if direct.is_file() {
        return Some(direct);
    }
    if depth == 0 {
        return None;
    }
    let mut subdirs: Vec<PathBuf> =
        living_portrait::files::list_dir(dir).ok()?.into_iter().filter(|p| p.is_dir()).collect();
    subdirs.sort();
    subdirs.iter().find_map(|d| find_file(d, name, depth - 1))
}

fn main() -> ExitCode {
    let result = match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) if matches!(
            e.kind(),
            clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) =>
        {
            // Help asked for (or nothing given): it goes to stdout, and that is success.
            print!("{}", e.render());
            return ExitCode::SUCCESS;
        }
        Err(e) => Err(clap_failure(e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(msg)) => {
            let msg = msg.trim_end();
            let end = if msg.ends_with(['.', '!', '?']) { "" } else { "." };
            eprintln!("living-portrait: {}{end}", capitalise(msg));
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    if let Some(n) = cli.threads {
        let mut s = inference::inference_settings();
        s.intra_op_threads = n;
        inference::set_inference_settings(s);
    }
    choose_runtime()?;
    let device = cli.device;
    match cli.command {
        Command::Detect { image, mesh, json } => {
            cmd_detect(&Args { positional: image, mesh, json, ..Args::new("detect", device) })
        }
        Command::Track { pattern, out, fps } => {
            cmd_track(&Args { positional: pattern, out, fps, ..Args::new("track", device) })
        }
        Command::Matte { image, out } => cmd_matte(&Args { positional: image, out, ..Args::new("matte", device) }),
        Command::Bench { runs, image } => cmd_bench(&Args { runs, image, ..Args::new("bench", device) }),
        Command::Info => cmd_info(&Args::new("info", device)),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn one_positional<'a>(args: &'a Args, what: &str) -> Result<&'a str, CliError> {
    match &args.positional {
        Some(one) => Ok(one),
        None => fail(format!("{} needs {what}; see --help", args.command)),
    }
}

fn cmd_detect(args: &Args) -> Result<(), CliError> {
    let path = PathBuf::from(one_positional(args, "an IMAGE")?);
    let img = FaceImage::open(&path)?;
    let analyzer = FaceAnalyzer::new(args.device);
    let detections = analyzer.detect_faces(&img)?;
    if detections.is_empty() {
        return fail(format!("no face was found in {}", path.display()));
    }
    let mut faces = Vec::new();
    for det in &detections {
        let mesh = analyzer.face_landmarks(&img, det)?;
        let l68 = living_portrait::face::landmarks68(&mesh)?;
        faces.push((det, mesh, l68));
    }
    if args.json {
        let report = DetectReport {
            image: path.display().to_string(),
            image_size: [img.width, img.height],
            coordinates: "image-pixels-top-left",
            faces: faces
                .iter()
                .map(|(det, mesh, l68)| FaceReport {
                    bbox: [det.bbox.x, det.bbox.y, det.bbox.w, det.bbox.h],
                    score: det.score,
                    presence: mesh.presence,
                    keypoints: &det.keypoints,
                    landmarks68: l68,
                    irises: &mesh.irises,
                    iris_radii: &mesh.iris_radii,
                    mesh468: args.mesh.then_some(&mesh.points468),
                })
                .collect(),
        };
        println!("{}", json::to_string_lines(&report, 2));
    } else {
        println!("{}: {}×{}, {} face(s)", path.display(), img.width, img.height, faces.len());
        for (i, (det, mesh, l68)) in faces.iter().enumerate() {
            let b = det.bbox;
            println!(
                "face {i}: box x {:.2} y {:.2} w {:.2} h {:.2}, score {:.4}, mesh presence {:.4}",
                b.x, b.y, b.w, b.h, det.score, mesh.presence
            );
            let pts: Vec<String> = l68.iter().map(|p| format!("[{:.2}, {:.2}]", p[0], p[1])).collect();
            println!("  landmarks68: {}", pts.join(" "));
            if args.mesh {
                let pts: Vec<String> =
                    mesh.points468.iter().map(|p| format!("[{:.2}, {:.2}, {:.2}]", p[0], p[1], p[2])).collect();
                println!("  mesh468: {}", pts.join(" "));
            }
        }
    }
    Ok(())
}

/// What `detect --json` prints.
#[derive(Serialize)]
struct DetectReport<'a> {
    image: String,
    image_size: [u32; 2],
    coordinates: &'static str,
    faces: Vec<FaceReport<'a>>,
}

/// One face of `detect --json`, in image pixels.
#[derive(Serialize)]
struct FaceReport<'a> {
    /// `[x, y, width, height]`.
    #[serde(rename = "box")]
    bbox: [f32; 4],
    score: f32,
    presence: f32,
    keypoints: &'a [[f32; 2]],
    landmarks68: &'a [[f32; 2]],
    /// Iris centres from the mesh model's refined iris points: the subject's right eye (iBUG 36–41) first.
    irises: &'a [[f32; 2]; 2],
    /// Iris radii, same order.
    iris_radii: &'a [f32; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    mesh468: Option<&'a Vec<[f32; 3]>>,
}

/// The frames a printf-style pattern (`dir/f_%04d.png`, `%d`) matches, as (frame number, path), sorted.
fn expand_pattern(pattern: &str) -> Result<Vec<(u32, PathBuf)>, CliError> {
    let pattern_path = Path::new(pattern);
    let name = pattern_path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(pct) = name.find('%') else {
        return fail(format!("the pattern {pattern} has no %d or %0Nd for the frame number"));
    };
    let rest = &name[pct + 1..];
    let spec_len = rest.find('d').filter(|&i| rest[..i].bytes().all(|b| b.is_ascii_digit()));
    let Some(spec_len) = spec_len else {
        return fail(format!("the pattern {pattern} must use %d or %0Nd (e.g. f_%04d.png) for the frame number"));
    };
    let (prefix, suffix) = (&name[..pct], &rest[spec_len + 1..]);
    if suffix.contains('%') {
        return fail(format!("the pattern {pattern} has more than one %"));
    }
    let dir = match pattern_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = living_portrait::files::list_dir(&dir).map_err(|e| CliError(format!("cannot list the folder: {e}")))?;
    let mut frames: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries {
        let Some(file) = entry.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(digits) = file.strip_prefix(prefix).and_then(|r| r.strip_suffix(suffix)) else { continue };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(number) = digits.parse::<u32>() else { continue };
        if let Some((_, other)) = frames.iter().find(|(n, _)| *n == number) {
            return fail(format!("frame {number} matches both {} and {}", other.display(), entry.display()));
        }
        frames.push((number, entry));
    }
    frames.sort();
    if frames.is_empty() {
        return fail(format!("no file matches the pattern {pattern}"));
    }
    Ok(frames)
}

fn cmd_track(args: &Args) -> Result<(), CliError> {
    let pattern = one_positional(args, "a PATTERN such as frames/f_%04d.png")?;
    let Some(out) = &args.out else { return fail("track needs --out TRACK.json") };
    let frames = expand_pattern(pattern)?;
    let analyzer = FaceAnalyzer::new(args.device);
    let mut track_frames = Vec::with_capacity(frames.len());
    let mut image_size: Option<[u32; 2]> = None;
    let mut found = 0usize;
    let mut irises = Vec::new();
    let started = Instant::now();
    // Progress only for a person watching: a terminal on stderr (a log or a pipe gets the summary line alone).
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(frames.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("tracking {msg} [{bar:30}] {pos}/{len} frames, {per_sec}, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for (number, path) in &frames {
        let img = FaceImage::open(path)?;
        let size = [img.width, img.height];
        match image_size {
            None => image_size = Some(size),
            Some(first) if first != size => {
                return fail(format!(
                    "{} is {}×{} but the sequence started at {}×{}; a track needs frames of one size",
                    path.display(),
                    size[0],
                    size[1],
                    first[0],
                    first[1]
                ))
            }
            Some(_) => {}
        }
        let analysis = analyzer.analyze(&img)?;
        let landmarks = analysis.face.as_ref().map(|f| f.landmarks68);
        // The face mesh model's iris centres ride along, so `gazeFromTrack` can follow the eyes.
        if let Some(f) = &analysis.face {
            irises.push((*number, f.mesh.irises));
        }
        found += landmarks.is_some() as usize;
        bar.set_message(format!("frame {number}, face in {found}"));
        bar.inc(1);
        track_frames.push(TrackFrame { frame: *number, landmarks });
        // The cache is for stills; a sequence has new pixels every frame.
        analyzer.clear_cache();
    }
    bar.finish_and_clear();
    let mut track = LandmarkTrack::new(image_size.unwrap_or([1, 1]), args.fps, track_frames)
        .map_err(|e| CliError(e.to_string()))?;
    track.irises = irises;
    track.write(out).map_err(|e| CliError(e.to_string()))?;
    eprintln!(
        "wrote {} ({} frames, {} without a face) in {:.1} s",
        out.display(),
        frames.len(),
        frames.len() - found,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn cmd_matte(args: &Args) -> Result<(), CliError> {
    let path = PathBuf::from(one_positional(args, "an IMAGE")?);
    let Some(out) = &args.out else { return fail("matte needs --out MATTE.png") };
    let img = FaceImage::open(&path)?;
    let matte = FaceAnalyzer::new(args.device).portrait_matte(&img)?;
    matte.to_luma8().save(out).map_err(|e| CliError(format!("could not write {}: {e}", out.display())))?;
    Ok(())
}

fn cmd_info(args: &Args) -> Result<(), CliError> {
    let analyzer = FaceAnalyzer::new(args.device);
    let report = analyzer.device_report()?;
    let rt = inference::runtime()?;
    println!("onnxruntime: {} (version {})", rt.path.display(), rt.version);
    println!("models:      {}", analyzer.models_dir().display());
    println!("device:      requested {}, used {}", report.requested, report.used);
    if let Some(reason) = &report.reason {
        println!("reason:      {reason}");
    }
    let s = inference::inference_settings();
    println!(
        "threads:     {} intra-op per session, up to {} sessions per model",
        s.intra_op_threads, s.max_sessions_per_model
    );
    Ok(())
}

/// Mean, median and min of some durations, in milliseconds.
fn stats(samples: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
    (mean, ms.get(ms.len() / 2).copied().unwrap_or(0.0), ms.first().copied().unwrap_or(0.0))
}

fn time_runs<T>(
    runs: usize,
    warmup: usize,
    mut f: impl FnMut() -> Result<T, FaceError>,
) -> Result<Vec<Duration>, CliError> {
    for _ in 0..warmup {
        f()?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        samples.push(t.elapsed());
    }
    Ok(samples)
}

fn cmd_bench(args: &Args) -> Result<(), CliError> {
    let image_path = args
        .image
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("resources").join("demo").join("astronaut.png"));
    let img = FaceImage::open(&image_path)?;
    let models = inference::models_dir();

    // Cold start, in the order a first render meets it.
    let t0 = Instant::now();
    let rt = inference::runtime()?;
    let t_runtime = t0.elapsed();
    let t1 = Instant::now();
    let detector = SessionPool::get(&models, DETECTOR_MODEL, args.device)?;
    let t_detector = t1.elapsed();
    let t2 = Instant::now();
    SessionPool::get(&models, MESH_MODEL, args.device)?;
    let t_mesh = t2.elapsed();
    let t3 = Instant::now();
    SessionPool::get(&models, MATTE_MODEL, args.device)?;
    let t_matte = t3.elapsed();

    let analyzer = FaceAnalyzer::with_models_dir(models.clone(), args.device);
    let t4 = Instant::now();
    let first = analyzer.analyze(&img)?;
    let t_first_analysis = t4.elapsed();
    let face = first.require_face()?;
    let det: FaceDetection = face.detection.clone();

    let warmup = 5;
    let runs = args.runs;
    let detect = time_runs(runs, warmup, || analyzer.detect_faces(&img))?;
    let landmarks = time_runs(runs, warmup, || analyzer.face_landmarks(&img, &det))?;
    let both = time_runs(runs, warmup, || {
        let d = analyzer.detect_faces(&img)?;
        match d.first() {
            Some(d) => analyzer.face_landmarks(&img, d).map(|_| ()),
            None => Err(FaceError::NoFace),
        }
    })?;
    let matte = time_runs(runs, warmup, || analyzer.portrait_matte(&img))?;
    let cached = time_runs(runs, warmup, || analyzer.analyze(&img))?;

    let settings = inference::inference_settings();
    println!("living-portrait bench — {} ({}×{})", image_path.display(), img.width, img.height);
    println!(
        "onnxruntime {} from {}; device {}; {} intra-op thread(s); {} cores available",
        rt.version,
        rt.path.display(),
        detector.device_report().summary(),
        settings.intra_op_threads,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!();
    println!("cold start (once per process)                 ms");
    println!("  runtime load (init_from + environment)  {:>8.1}", ms(t_runtime));
    println!("  detector: verify + first session        {:>8.1}", ms(t_detector));
    println!("  mesh: verify + first session            {:>8.1}", ms(t_mesh));
    println!("  matte: verify + first session           {:>8.1}", ms(t_matte));
    println!("  runtime load + first (detector) session {:>8.1}", ms(t_runtime + t_detector));
    println!("  first analysis (detect + mesh + 68)     {:>8.1}", ms(t_first_analysis));
    println!();
    println!("per call, {runs} runs after {warmup} warm-up   mean   median      min (ms)");
    for (label, samples) in [
        ("detection (letterbox + run + decode)", &detect),
        ("landmarks (crop + run + project)", &landmarks),
        ("detection + landmarks", &both),
        ("matte (256² + run + resize)", &matte),
        ("cached analysis (hash + lookup)", &cached),
    ] {
        let (mean, median, min) = stats(samples);
        println!("  {label:<38} {mean:>7.2} {median:>8.2} {min:>8.2}");
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
