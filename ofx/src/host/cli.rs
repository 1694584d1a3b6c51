//! The `ofx-render` command line: argument parsing with clap's derive
//! ([`CliArgs::parse`], `--help` text from the option docs), frame-range and file-pattern helpers, and [`run`],
//! which loads inputs, hosts the plugin and writes the rendered frames, or with
//! `--bench` times the plugin's load and renders and measures its memory (see
//! [`bench`](super::bench)). Every failure ends as one sentence on stderr and
//! a non-zero exit status; a watchdog ends the process if a plugin hangs. A
//! progress bar shows long renders when stderr is a terminal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};

use super::bench::{self, BenchReport, Stats};
use super::effect::{ClipInput, Context};
use super::error::{HostError, HostResult};
use super::host::{Host, HostOptions, HostQuirks, MultiThreadMode};
use super::image::{Components, Depth, HostImage};
use super::imageio::{self, Compression};
use super::instance::Instance;
use super::plugin::Plugin;
use super::progress::FrameProgress;
use super::render::RenderRequest;
use super::writer::{FrameWriter, OutputSpec};

/// The usage lines shown by `--help` and after a usage error.
const USAGE_LINES: &str = "\
ofx-render --plugin-path DIR --plugin ID --input CLIP=FILE_OR_PATTERN ... --frames A-B --out PATTERN [options]
       ofx-render --plugin-path DIR --plugin ID --input CLIP=FILE ... --frames A-B --bench [--repeat N] [options]
       ofx-render --plugin-path DIR --list";

/// What `--help` adds after the options: how `--bench` measures.
const BENCH_NOTES: &str = "\
Benchmark (--bench; --out optional, figures on stdout): with --bench, --threads N renders N frames at a time and
offers the plugin N CPUs; without it frames render one at a time and the plugin is offered every CPU. Inputs are
decoded and resized before the resident size is taken; the throughput line leaves out saving.

Exit status: 0 on success, 1 with one sentence on stderr when anything fails, 2 on usage errors, 124 when the
--timeout watchdog gives up.";

/// The command line as clap reads it. [`CliArgs::parse`] turns it into
/// [`CliArgs`] (defaults applied, `OFX_PLUGIN_PATH` consulted), so that the
/// rest of the host never sees clap's types. Every option takes the next
/// argument as its value even when it starts with '-' (`--frames -3--1`), and
/// a later occurrence of a single-valued option replaces an earlier one.
#[derive(Parser, Debug)]
#[command(
    name = "ofx-render",
    about = "Renders frames with an OpenFX image-effect plugin through a headless host, or benchmarks it.",
    override_usage = USAGE_LINES,
    after_help = BENCH_NOTES,
    disable_help_flag = true,
    args_override_self = true
)]
struct CommandLine {
    /// Print this help and exit.
    #[arg(short = 'h', long)]
    help: bool,
    /// Where to look for *.ofx.bundle (or a bundle / .ofx file); a path list, repeatable; default $OFX_PLUGIN_PATH.
    #[arg(long = "plugin-path", value_name = "DIR", allow_hyphen_values = true)]
    plugin_path: Vec<std::ffi::OsString>,
    /// Plugin identifier, e.g. org.livingportrait.LivingPortrait.
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    plugin: Option<String>,
    /// Print the plugin identifiers found under the plugin path and exit.
    #[arg(long)]
    list: bool,
    /// A still image, or a sequence when FILE contains %04d (frames from the names); repeatable, one per clip.
    #[arg(long = "input", value_name = "CLIP=FILE", value_parser = parse_input_arg, allow_hyphen_values = true)]
    inputs: Vec<(String, String)>,
    /// Stretch that input to W x H pixels after loading (bilinear, aspect ratio not kept), e.g. Source=1920x1080
    /// to benchmark HD frames with a 512x512 image.
    #[arg(long = "input-resize", value_name = "CLIP=WxH", value_parser = parse_input_resize_arg, allow_hyphen_values = true)]
    input_resize: Vec<(String, u32, u32)>,
    /// Frames to render (B < A renders in reverse); a single N renders one frame.
    #[arg(long, value_name = "A-B", value_parser = parse_frames_arg, allow_hyphen_values = true)]
    frames: Option<FrameList>,
    /// Output file; %04d is replaced by the frame number; .png, .tif, .exr or .jpg (PNG 8/16 bit by depth, TIFF
    /// 16 bit or float, EXR float, JPEG 8 bit without alpha); frames are written on background threads while the
    /// next ones render.
    #[arg(long, value_name = "PATTERN", allow_hyphen_values = true)]
    out: Option<String>,
    /// Output files quick to write (fast, the default) or smaller and slower to write (small).
    #[arg(long, value_name = "fast|small", value_parser = parse_compression, default_value = "fast")]
    compression: Compression,
    /// Set a parameter (double 1.5, 2D x,y, int, bool true/false, choice index, option label or its script name:
    /// trackFile selects 'Track file'); NAME@FRAME=VALUE sets a key; repeatable, applied in order.
    #[arg(long = "param", value_name = "NAME[@FRAME]=VALUE", value_parser = parse_param_arg, allow_hyphen_values = true)]
    params: Vec<ParamArg>,
    /// Press a push button (after the parameters are set); repeatable.
    #[arg(long = "press", value_name = "BUTTON", allow_hyphen_values = true)]
    presses: Vec<String>,
    /// Output depth asked of the plugin: byte, short or float (also 8, 16, 32); PNG stores 8/16 bit.
    #[arg(long, value_name = "DEPTH", value_parser = parse_depth, default_value = "float", allow_hyphen_values = true)]
    depth: Depth,
    /// Output components: rgba or rgb.
    #[arg(long, value_name = "rgba|rgb", value_parser = parse_components, default_value = "rgba", allow_hyphen_values = true)]
    components: Components,
    /// Render scale, in (0, 16].
    #[arg(long, value_name = "S", value_parser = parse_scale, default_value = "1", allow_hyphen_values = true)]
    scale: f64,
    /// Render threads, up to 4096 (default: the CPU count; with --bench, see below).
    #[arg(long, value_name = "N", value_parser = parse_thread_count, allow_hyphen_values = true)]
    threads: Option<usize>,
    /// Split every frame into N bands rendered concurrently.
    #[arg(long, value_name = "N", value_parser = parse_band_count, default_value = "1", allow_hyphen_values = true)]
    bands: usize,
    /// Effect context: filter or general (default: filter when the plugin supports it).
    #[arg(long, value_name = "filter|general", value_parser = parse_context, allow_hyphen_values = true)]
    context: Option<Context>,
    /// Host to imitate: standard, resolve or natron.
    #[arg(long = "host", value_name = "HOST", value_parser = parse_host, default_value = "standard", allow_hyphen_values = true)]
    quirks: HostQuirks,
    /// The multithread suite: threads (every thread asked for), one-cpu (one CPU reported) or single (OFX
    /// HostSupport's default: one CPU, the function run once as thread 0 of 1).
    #[arg(long, value_name = "MODE", value_parser = parse_multithread, default_value = "threads", allow_hyphen_values = true)]
    multithread: MultiThreadMode,
    /// Give the plugin images with negative row bytes.
    #[arg(long = "negative-row-bytes")]
    negative_row_bytes: bool,
    /// Make the output image bounds larger than the render window by N pixels.
    #[arg(long = "pad-output", value_name = "N", value_parser = parse_padding, default_value = "0", allow_hyphen_values = true)]
    pad_output: u32,
    /// Pixel aspect ratio of the inputs and output, in [0.1, 10] (2 = anamorphic 2:1).
    #[arg(long = "pixel-aspect", value_name = "R", value_parser = parse_pixel_aspect, default_value = "1", allow_hyphen_values = true)]
    pixel_aspect: f64,
    /// Write every parameter (value, keys, and a choice's option name) as JSON after rendering.
    #[arg(long = "save-params", value_name = "FILE.json", allow_hyphen_values = true)]
    save_params: Option<PathBuf>,
    /// Give up after SECS seconds with exit status 124.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout, default_value = "3600", allow_hyphen_values = true)]
    timeout: Duration,
    /// Time loading the plugin (load, describe, create instance), the first frame (clip preferences, begin/end
    /// sequence, render) and each later frame (the host's render call only: no input decoding, no output
    /// saving), and measure resident memory before loading the plugin and its peak after rendering.
    #[arg(long)]
    bench: bool,
    /// Also write the benchmark figures as JSON (implies --bench).
    #[arg(long = "bench-json", value_name = "FILE", allow_hyphen_values = true)]
    bench_json: Option<PathBuf>,
    /// Render the frame list N times (the steady state is every frame but the first, so N > 1 gives more
    /// samples; outputs are saved on the first pass only).
    #[arg(long, value_name = "N", value_parser = parse_repeat, default_value = "1", allow_hyphen_values = true)]
    repeat: usize,
}

/// The frames of one `--frames` value, in render order (a newtype so that
/// clap takes the option once rather than as a repeated list).
#[derive(Clone, Debug)]
struct FrameList(Vec<i32>);

fn parse_frames_arg(v: &str) -> Result<FrameList, String> {
    parse_frames(v).map(FrameList).map_err(|e| e.to_string())
}

fn parse_input_arg(v: &str) -> Result<(String, String), String> {
    v.split_once('=')
        .map(|(clip, file)| (clip.to_string(), file.to_string()))
        .ok_or_else(|| format!("The input '{v}' is not of the form CLIP=FILE."))
}

fn parse_input_resize_arg(v: &str) -> Result<(String, u32, u32), String> {
    v.split_once('=')
        .and_then(|(clip, size)| parse_size(size).map(|(w, h)| (clip.to_string(), w, h)))
        .ok_or_else(|| format!("The input size '{v}' is not of the form CLIP=WIDTHxHEIGHT."))
}

fn parse_param_arg(v: &str) -> Result<ParamArg, String> {
    let (lhs, value) =
        v.split_once('=').ok_or_else(|| format!("The parameter setting '{v}' is not of the form NAME=VALUE."))?;
    let (name, frame) = match lhs.split_once('@') {
        Some((name, frame)) => {
            let frame =
                frame.trim().parse::<f64>().map_err(|_| format!("The key frame '{frame}' in '{v}' is not a number."))?;
            (name.to_string(), Some(frame))
        }
        None => (lhs.to_string(), None),
    };
    Ok(ParamArg {
        name,
        frame,
        value: value.to_string(),
    })
}

fn parse_depth(v: &str) -> Result<Depth, String> {
    match v.to_ascii_lowercase().as_str() {
        "byte" | "8" => Ok(Depth::Byte),
        "short" | "16" => Ok(Depth::Short),
        "float" | "32" => Ok(Depth::Float),
        _ => Err(format!("The depth '{v}' is not byte, short or float.")),
    }
}

fn parse_components(v: &str) -> Result<Components, String> {
    match v.to_ascii_lowercase().as_str() {
        "rgba" => Ok(Components::Rgba),
        "rgb" => Ok(Components::Rgb),
        _ => Err(format!("The components '{v}' are not rgba or rgb.")),
    }
}

fn parse_context(v: &str) -> Result<Context, String> {
    match v.to_ascii_lowercase().as_str() {
        "filter" => Ok(Context::Filter),
        "general" => Ok(Context::General),
        _ => Err(format!("The context '{v}' is not filter or general.")),
    }
}

fn parse_host(v: &str) -> Result<HostQuirks, String> {
    HostQuirks::parse(v).ok_or_else(|| format!("The host '{v}' is not standard, resolve or natron."))
}

fn parse_compression(v: &str) -> Result<Compression, String> {
    Compression::parse(v).ok_or_else(|| format!("The compression '{v}' is not fast or small."))
}

fn parse_multithread(v: &str) -> Result<MultiThreadMode, String> {
    MultiThreadMode::parse(v).ok_or_else(|| format!("The multithread mode '{v}' is not threads, one-cpu or single."))
}

fn parse_scale(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 16.0)
        .ok_or_else(|| format!("The scale '{v}' is not a number in (0, 16]."))
}

fn parse_pixel_aspect(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && (0.1..=10.0).contains(r))
        .ok_or_else(|| format!("The pixel aspect ratio '{v}' is not a number in [0.1, 10]."))
}

fn parse_timeout(v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(1e9)))
        .ok_or_else(|| format!("The timeout '{v}' is not a positive number of seconds."))
}

/// A whole number up to 4096 (threads, bands, repeats, padding).
fn parse_count(v: &str, what: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n <= 4096)
        .ok_or_else(|| format!("The {what} '{v}' is not a whole number up to 4096."))
}

fn parse_thread_count(v: &str) -> Result<usize, String> {
    parse_count(v, "thread count")
}

/// Bands: 0 is taken as 1 (the whole frame at once).
fn parse_band_count(v: &str) -> Result<usize, String> {
    parse_count(v, "band count").map(|n| n.max(1))
}

/// Repeats: 0 is taken as 1 (the frame list once).
fn parse_repeat(v: &str) -> Result<usize, String> {
    parse_count(v, "repeat count").map(|n| n.max(1))
}

fn parse_padding(v: &str) -> Result<u32, String> {
    parse_count(v, "padding").map(|n| n as u32)
}

/// The full `--help` text.
pub fn help_text() -> String {
    CommandLine::command().render_help().to_string()
}

/// The usage lines and a pointer to `--help`, printed after a usage error.
fn usage_hint() -> String {
    format!("usage: {USAGE_LINES}\n\nRun ofx-render --help for every option.")
}

/// One sentence from a clap error: "Unknown option '--bogus' (see --help)",
/// otherwise its first line without clap's "error: " prefix, capitalised.
fn clap_sentence(e: &clap::Error) -> String {
    if e.kind() == clap::error::ErrorKind::UnknownArgument {
        if let Some(arg) = e.get(clap::error::ContextKind::InvalidArg) {
            return format!("Unknown option '{arg}' (see --help)");
        }
    }
    let text = e.render().to_string();
    let line = text.lines().next().unwrap_or_default();
    let line = line.strip_prefix("error: ").unwrap_or(line).trim();
    let mut chars = line.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "The command line could not be read".to_string(),
    }
}

/// One `--param` argument.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamArg {
    /// Parameter name.
    pub name: String,
    /// Some(frame) for `NAME@FRAME=VALUE`.
    pub frame: Option<f64>,
    /// Value text, parsed by the parameter's type.
    pub value: String,
}

/// Parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub struct CliArgs {
    /// `--plugin-path` entries (or `OFX_PLUGIN_PATH`).
    pub plugin_path: Vec<PathBuf>,
    /// `--plugin`.
    pub plugin: Option<String>,
    /// `--list`.
    pub list: bool,
    /// `--input` (clip, file or pattern).
    pub inputs: Vec<(String, String)>,
    /// `--input-resize` (clip, width, height).
    pub input_resize: Vec<(String, u32, u32)>,
    /// `--frames`, in render order.
    pub frames: Vec<i32>,
    /// `--out` pattern.
    pub out: Option<String>,
    /// `--param` settings in order.
    pub params: Vec<ParamArg>,
    /// `--press` buttons in order.
    pub presses: Vec<String>,
    /// `--depth`.
    pub depth: Depth,
    /// `--components`.
    pub components: Components,
    /// `--scale`.
    pub scale: f64,
    /// `--threads` (0 = CPU count).
    pub threads: usize,
    /// `--bands`.
    pub bands: usize,
    /// `--context` (None = filter when supported).
    pub context: Option<Context>,
    /// `--host`.
    pub quirks: HostQuirks,
    /// `--multithread`.
    pub multithread: MultiThreadMode,
    /// `--negative-row-bytes`.
    pub negative_row_bytes: bool,
    /// `--pad-output`.
    pub pad_output: u32,
    /// `--pixel-aspect R`: pixel aspect ratio of every image.
    pub pixel_aspect: f64,
    /// `--save-params`.
    pub save_params: Option<PathBuf>,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--help`.
    pub help: bool,
    /// `--bench` (or `--bench-json`).
    pub bench: bool,
    /// `--bench-json`.
    pub bench_json: Option<PathBuf>,
    /// `--repeat` (at least 1).
    pub repeat: usize,
    /// `--compression`.
    pub compression: Compression,
}

fn usage_err(msg: impl Into<String>) -> HostError {
    HostError::Other(msg.into())
}

/// Parses "A-B", "A" (negative numbers allowed: "-3--1").
pub fn parse_frames(s: &str) -> HostResult<Vec<i32>> {
    let s = s.trim();
    let bad = || usage_err(format!("The frame range '{s}' is not of the form A-B or N"));
    let split = s.char_indices().skip(1).find(|(_, c)| *c == '-').map(|(i, _)| i);
    let (a, b) = match split {
        Some(i) => (s[..i].trim().parse::<i32>().map_err(|_| bad())?, s[i + 1..].trim().parse::<i32>().map_err(|_| bad())?),
        None => {
            let n = s.parse::<i32>().map_err(|_| bad())?;
            (n, n)
        }
    };
    if (a as i64 - b as i64).abs() > 10_000_000 {
        return Err(usage_err(format!("The frame range '{s}' is too long")));
    }
    Ok(if a <= b { (a..=b).collect() } else { (b..=a).rev().collect() })
}

/// A printf-style frame pattern: `prefix%0Nd suffix` split in three parts.
#[derive(Clone, Debug, PartialEq)]
pub struct FramePattern {
    /// Text before the frame number.
    pub prefix: String,
    /// Zero-padded width (0 = no padding).
    pub width: usize,
    /// Text after the frame number.
    pub suffix: String,
}

impl FramePattern {
    /// Finds `%d`, `%4d` or `%04d` in `s`; None when there is no pattern.
    pub fn parse(s: &str) -> Option<FramePattern> {
        let start = s.find('%')?;
        let rest = &s[start + 1..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !rest[digits.len()..].starts_with('d') {
            return None;
        }
        Some(FramePattern {
            prefix: s[..start].to_string(),
            width: digits.trim_start_matches('0').parse().unwrap_or(0),
            suffix: rest[digits.len() + 1..].to_string(),
        })
    }

    /// The file name of a frame.
    pub fn format(&self, frame: i32) -> String {
        let n = if frame < 0 {
            format!("-{:0w$}", frame.unsigned_abs(), w = self.width.saturating_sub(1))
        } else {
            format!("{:0w$}", frame, w = self.width)
        };
        format!("{}{}{}", self.prefix, n, self.suffix)
    }

    /// Every existing file matching the pattern, by frame number.
    pub fn scan(&self) -> HostResult<BTreeMap<i32, PathBuf>> {
        let full = PathBuf::from(&self.prefix);
        let (dir, name_prefix) = if self.prefix.ends_with('/') {
            (full.clone(), String::new())
        } else {
            (
                full.parent().map(Path::to_path_buf).unwrap_or_default(),
                full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            )
        };
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let entries = std::fs::read_dir(&dir).map_err(|e| HostError::Image {
            path: dir.clone(),
            reason: format!("the folder cannot be read ({e})"),
        })?;
        let mut out = BTreeMap::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(mid) = name.strip_prefix(&name_prefix).and_then(|r| r.strip_suffix(&self.suffix)) else {
                continue;
            };
            let digits = mid.strip_prefix('-').unwrap_or(mid);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            if let Ok(f) = mid.parse::<i32>() {
                out.insert(f, e.path());
            }
        }
        Ok(out)
    }
}

impl CliArgs {
    /// Parses the arguments (without the program name). A usage error is one
    /// sentence; `--help` sets [`help`](Self::help) rather than failing.
    pub fn parse(args: &[String]) -> HostResult<CliArgs> {
        let line = CommandLine::try_parse_from(std::iter::once("ofx-render").chain(args.iter().map(String::as_str)))
            .map_err(|e| usage_err(clap_sentence(&e)))?;
        let mut plugin_path: Vec<PathBuf> = line.plugin_path.iter().flat_map(std::env::split_paths).collect();
        if plugin_path.is_empty() {
            if let Some(p) = std::env::var_os("OFX_PLUGIN_PATH") {
                plugin_path = std::env::split_paths(&p).filter(|p| !p.as_os_str().is_empty()).collect();
            }
        }
        // A later --input-resize of the same clip replaces the earlier one.
        let mut input_resize: Vec<(String, u32, u32)> = Vec::new();
        for (clip, w, h) in line.input_resize {
            input_resize.retain(|(c, _, _)| *c != clip);
            input_resize.push((clip, w, h));
        }
        Ok(CliArgs {
            plugin_path,
            plugin: line.plugin,
            list: line.list,
            inputs: line.inputs,
            input_resize,
            frames: line.frames.map(|f| f.0).unwrap_or_default(),
            out: line.out,
            params: line.params,
            presses: line.presses,
            depth: line.depth,
            components: line.components,
            scale: line.scale,
            threads: line.threads.unwrap_or(0),
            bands: line.bands,
            context: line.context,
            quirks: line.quirks,
            multithread: line.multithread,
            compression: line.compression,
            negative_row_bytes: line.negative_row_bytes,
            pad_output: line.pad_output,
            pixel_aspect: line.pixel_aspect,
            save_params: line.save_params,
            timeout: line.timeout,
            help: line.help,
            bench: line.bench || line.bench_json.is_some(),
            bench_json: line.bench_json,
            repeat: line.repeat,
        })
    }

    /// Checks the options needed for a render.
    fn check_render(&self) -> HostResult<()> {
        if self.plugin_path.is_empty() {
            return Err(usage_err("No plugin path: give --plugin-path DIR or set OFX_PLUGIN_PATH"));
        }
        if self.plugin.is_none() {
            return Err(usage_err("No plugin: give --plugin ID (use --list to see the identifiers)"));
        }
        if self.frames.is_empty() {
            return Err(usage_err("No frames: give --frames A-B"));
        }
        for (clip, _, _) in &self.input_resize {
            if !self.inputs.iter().any(|(c, _)| c == clip) {
                return Err(usage_err(format!("--input-resize names the clip '{clip}', which has no --input")));
            }
        }
        match &self.out {
            None if self.bench => Ok(()),
            None => Err(usage_err("No output: give --out PATTERN")),
            Some(o) if self.frames.len() > 1 && FramePattern::parse(o).is_none() => Err(usage_err(format!(
                "The output '{o}' has no frame number pattern such as %04d, but {} frames are rendered",
                self.frames.len()
            ))),
            _ => Ok(()),
        }
    }
}

/// Parses "WIDTHxHEIGHT" (each 1 to 32768).
pub fn parse_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.trim().split_once(['x', 'X'])?;
    let dim = |v: &str| v.trim().parse::<u32>().ok().filter(|n| (1..=32768).contains(n));
    Some((dim(w)?, dim(h)?))
}

/// Loads one `--input` value: a still or a sequence.
pub fn load_input(spec: &str) -> HostResult<ClipInput> {
    match FramePattern::parse(spec) {
        None => HostImage::load(Path::new(spec)).map(ClipInput::Still),
        Some(p) => {
            let files = p.scan()?;
            if files.is_empty() {
                return Err(HostError::Image {
                    path: PathBuf::from(spec),
                    reason: "no file matches this frame pattern".into(),
                });
            }
            let mut frames = BTreeMap::new();
            for (f, path) in files {
                frames.insert(f, HostImage::load(&path)?);
            }
            Ok(ClipInput::Sequence(frames))
        }
    }
}

/// Lists plugin identifiers (one per line) under the plugin path.
fn list(args: &CliArgs) -> HostResult<()> {
    if args.plugin_path.is_empty() {
        return Err(usage_err("No plugin path: give --plugin-path DIR or set OFX_PLUGIN_PATH"));
    }
    let host = Host::new(HostOptions::default());
    for info in host.list(&args.plugin_path)? {
        println!("{}\t{}.{}\t{}", info.id, info.version.0, info.version.1, info.binary.display());
    }
    Ok(())
}

/// Stretches every frame of an input to `width` × `height` (`--input-resize`).
pub fn resize_input(input: ClipInput, width: u32, height: u32) -> ClipInput {
    match input {
        ClipInput::Still(img) => ClipInput::Still(img.resized(width, height)),
        ClipInput::Sequence(frames) => {
            ClipInput::Sequence(frames.into_iter().map(|(f, img)| (f, img.resized(width, height))).collect())
        }
    }
}

/// Loads every `--input`, resized as `--input-resize` asks.
pub fn load_inputs(args: &CliArgs) -> HostResult<Vec<(String, ClipInput)>> {
    let mut inputs = Vec::new();
    for (clip, spec) in &args.inputs {
        let mut input = load_input(spec)?;
        if let Some((_, w, h)) = args.input_resize.iter().find(|(c, _, _)| c == clip) {
            input = resize_input(input, *w, *h);
        }
        inputs.push((clip.clone(), input));
    }
    Ok(inputs)
}

/// The host for a render or benchmark; `threads` is offered to the plugin.
fn make_host(args: &CliArgs, inputs: &[(String, ClipInput)], threads: usize) -> Host {
    // The first input defines the project size (used for normalised defaults).
    let project_size = inputs
        .first()
        .and_then(|(_, i)| i.at(0.0).map(|(img, _)| (img.width as f64, img.height as f64)))
        .unwrap_or((1920.0, 1080.0));
    Host::new(HostOptions {
        quirks: args.quirks,
        multithread: args.multithread,
        threads,
        negative_row_bytes: args.negative_row_bytes,
        pad_output_bounds: args.pad_output,
        pixel_aspect: args.pixel_aspect,
        project_size,
        echo_messages: true,
        ..HostOptions::default()
    })
}

/// Finds the plugin and creates an instance in the requested context.
fn load_and_create(args: &CliArgs, host: &Host) -> HostResult<(Plugin, Instance)> {
    let id = args.plugin.clone().unwrap_or_default();
    let plugin = find_plugin(host, &args.plugin_path, &id)?;
    let context = match args.context {
        Some(c) => c,
        None if plugin.supported_contexts().iter().any(|c| c.as_str() == Context::Filter.ofx_name().to_string_lossy()) => Context::Filter,
        None => Context::General,
    };
    let inst = plugin.create_instance(context)?;
    Ok((plugin, inst))
}

/// Connects the inputs, sets the time to the first frame, the parameters and presses the buttons.
fn configure(args: &CliArgs, inst: &mut Instance, inputs: Vec<(String, ClipInput)>) -> HostResult<()> {
    for (clip, input) in inputs {
        inst.set_input(&clip, input)?;
    }
    if let Some(first) = args.frames.first() {
        inst.set_time(*first as f64);
    }
    for p in &args.params {
        let v = inst.parse_param_value(&p.name, &p.value)?;
        match p.frame {
            Some(f) => inst.set_param_key(&p.name, f, v)?,
            None => inst.set_param(&p.name, v)?,
        }
    }
    for b in &args.presses {
        inst.press(b)?;
    }
    Ok(())
}

fn render_request(args: &CliArgs) -> RenderRequest {
    RenderRequest {
        scale: args.scale,
        window: None,
        depth: args.depth,
        components: args.components,
        split_bands: args.bands,
    }
}

/// The `--out` files, if any.
fn output_spec(args: &CliArgs) -> Option<OutputSpec> {
    let pattern = args.out.clone()?;
    Some(OutputSpec { pattern, depth: args.depth, compression: args.compression })
}

/// Saves frames to the `--out` pattern on the calling thread (nothing without
/// `--out`); `--bench` uses it to time saving.
struct Saver {
    spec: Option<OutputSpec>,
}

impl Saver {
    fn new(args: &CliArgs) -> HostResult<Saver> {
        let spec = output_spec(args);
        if let Some(s) = &spec {
            s.check()?;
        }
        Ok(Saver { spec })
    }

    fn save(&self, frame: i32, img: &HostImage) -> HostResult<()> {
        let Some(spec) = &self.spec else { return Ok(()) };
        imageio::save(img, &spec.path_of(frame), spec.depth, spec.compression)
    }
}

/// Warns on stderr about images the plugin fetched and never released.
fn warn_leaks(inst: &Instance) {
    let leaks = inst.leak_details();
    if !leaks.is_empty() {
        eprintln!("ofx-render: warning: the plugin did not release {} image(s): {leaks:?}", leaks.len());
    }
}

/// Runs a parsed command line.
pub fn run(args: &CliArgs) -> HostResult<()> {
    if args.list {
        return list(args);
    }
    args.check_render()?;
    if args.bench {
        let report = run_bench(args)?;
        print!("{}", report.table());
        if let Some(path) = &args.bench_json {
            std::fs::write(path, report.to_json()).map_err(|e| {
                HostError::Other(format!("The benchmark figures cannot be written to {} ({e})", path.display()))
            })?;
        }
        return Ok(());
    }
    let inputs = load_inputs(args)?;
    let host = make_host(args, &inputs, args.threads);
    let (_plugin, mut inst) = load_and_create(args, &host)?;
    configure(args, &mut inst, inputs)?;
    let req = render_request(args);
    let threads = host.options().thread_count();
    // Frames are encoded and written on their own threads while the next ones
    // render; the queue holds one frame per writer, so memory stays bounded.
    let spec = output_spec(args).ok_or_else(|| usage_err("No output: give --out PATTERN"))?;
    let writer = FrameWriter::new(spec, threads, threads)?;
    if args.frames.len() == 1 {
        let img = inst.render_frame(args.frames[0] as f64, &req)?;
        writer.submit(args.frames[0], img)?;
    } else {
        let progress = FrameProgress::on_stderr(args.frames.len());
        inst.render_sequence_with(&args.frames, threads, &req, |f, img| {
            writer.submit(f, img)?;
            progress.frame_done();
            Ok(())
        })?;
        progress.finish();
    }
    writer.finish()?;
    if let Some(p) = &args.save_params {
        inst.save_params_json(p)?;
    }
    warn_leaks(&inst);
    Ok(())
}

/// The host's image buffers for one frame in KiB (estimate): each input as
/// handed to the plugin, the output buffer and the float result.
fn host_buffers_kib(inst: &Instance, args: &CliArgs, inputs: &[(String, (u32, u32))], width: u32, height: u32) -> u64 {
    let clip_bytes_per_pixel = |clip: &str| -> usize {
        let props = inst.clip_props(clip).unwrap_or_default();
        let text = |key: &std::ffi::CStr| match props.get(key.to_string_lossy().as_ref()) {
            Some(super::props::PropValue::String(v)) => v.first().cloned(),
            _ => None,
        };
        use openfx::sys::image_effect_v1::image_effect::{kOfxImageEffectPropComponents, kOfxImageEffectPropPixelDepth};
        let depth = text(kOfxImageEffectPropPixelDepth).and_then(|d| Depth::from_ofx(&d)).unwrap_or(args.depth);
        let comps = text(kOfxImageEffectPropComponents).and_then(|c| Components::from_ofx(&c)).unwrap_or(args.components);
        depth.bytes() * comps.count()
    };
    let mut bytes = 0usize;
    for (clip, (w, h)) in inputs {
        let (w, h) = ((*w as f64 * args.scale).ceil() as usize, (*h as f64 * args.scale).ceil() as usize);
        bytes += w * h * clip_bytes_per_pixel(clip);
    }
    let pixels = width as usize * height as usize;
    bytes += pixels * args.depth.bytes() * args.components.count() + pixels * 16;
    (bytes / 1024) as u64
}

/// Runs `--bench`: loads the inputs (untimed), then times loading the plugin,
/// the first frame and every later frame, and measures resident memory.
pub fn run_bench(args: &CliArgs) -> HostResult<BenchReport> {
    let inputs = load_inputs(args)?;
    let input_sizes: Vec<(String, (u32, u32))> = inputs
        .iter()
        .filter_map(|(c, i)| i.at(args.frames[0] as f64).map(|(img, _)| (c.clone(), (img.width, img.height))))
        .collect();
    // Frames one at a time unless --threads says otherwise.
    let frame_threads = if args.threads == 0 { 1 } else { args.threads };
    let host = make_host(args, &inputs, args.threads);
    let cpu_threads = host.options().thread_count();
    let peak_reset = bench::reset_peak();
    let before = bench::memory_status();

    let t = Instant::now();
    let (plugin, mut inst) = load_and_create(args, &host)?;
    let load_ms = ms(t.elapsed());

    let t = Instant::now();
    configure(args, &mut inst, inputs)?;
    let setup_ms = ms(t.elapsed());

    let req = render_request(args);
    let saver = Saver::new(args)?;
    let first = args.frames[0];
    let t = Instant::now();
    let img = inst.render_frame(first as f64, &req)?;
    let first_frame_ms = ms(t.elapsed());
    let (width, height) = (img.width, img.height);
    saver.save(first, &img)?;
    drop(img);

    // Steady state: the rest of the list, then the whole list again per repeat.
    // The wall clock (for throughput) leaves out saving: it counts the passes
    // that save nothing, and a saving pass only when frames render one at a
    // time (its saving time is then simply subtracted).
    let mut samples = Vec::new();
    let mut plugin_samples = Vec::new();
    let (mut steady_wall_ms, mut steady_wall_frames) = (0.0, 0);
    for pass in 0..args.repeat {
        let frames = if pass == 0 { &args.frames[1..] } else { &args.frames[..] };
        if frames.is_empty() {
            continue;
        }
        let saves = pass == 0 && args.out.is_some();
        let times = parking_lot::Mutex::new(Vec::with_capacity(frames.len()));
        let plugin_times = parking_lot::Mutex::new(Vec::with_capacity(frames.len()));
        let saving = parking_lot::Mutex::new(Duration::ZERO);
        let clock = inst.render_action_clock();
        let _ = clock.take();
        let t = Instant::now();
        inst.render_sequence_timed(frames, frame_threads, &req, |f, img, took| {
            times.lock().push(ms(took));
            // One frame at a time: the counter holds exactly this frame's render actions.
            plugin_times.lock().push(ms(clock.take()));
            if saves {
                let s = Instant::now();
                let r = saver.save(f, &img);
                *saving.lock() += s.elapsed();
                r?;
            }
            Ok(())
        })?;
        let wall = t.elapsed();
        if !saves || frame_threads == 1 {
            steady_wall_ms += ms(wall.saturating_sub(saving.into_inner()));
            steady_wall_frames += frames.len();
        }
        samples.extend(times.into_inner());
        if frame_threads == 1 {
            plugin_samples.extend(plugin_times.into_inner());
        }
    }
    let after = bench::memory_status();
    if let Some(p) = &args.save_params {
        inst.save_params_json(p)?;
    }
    warn_leaks(&inst);
    let host_buffers_kib = host_buffers_kib(&inst, args, &input_sizes, width, height);
    Ok(BenchReport {
        plugin: plugin.id().to_string(),
        version: plugin.version(),
        binary: plugin.binary().to_path_buf(),
        width,
        height,
        depth: format!("{:?}", args.depth).to_ascii_lowercase(),
        components: format!("{:?}", args.components).to_ascii_lowercase(),
        frame_count: args.frames.len(),
        repeat: args.repeat,
        frame_threads,
        cpu_threads,
        load_ms,
        setup_ms,
        first_frame_ms,
        steady: Stats::of(&samples),
        plugin_steady: Stats::of(&plugin_samples),
        steady_wall_ms,
        steady_wall_frames,
        before,
        after,
        peak_reset,
        host_buffers_kib,
        saved: args.out.is_some(),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Looks for the plugin in each plugin-path entry in turn.
fn find_plugin(host: &Host, paths: &[PathBuf], id: &str) -> HostResult<super::plugin::Plugin> {
    let mut last = None;
    for p in paths {
        match host.load(p, id) {
            Ok(plugin) => return Ok(plugin),
            // Keep looking in the other entries; report the most useful error.
            Err(e) => {
                let keep = !matches!(e, HostError::PluginNotFound { .. } | HostError::BundleNotFound(_)) || last.is_none();
                if keep {
                    last = Some(e);
                }
            }
        }
    }
    Err(last.unwrap_or(HostError::PluginNotFound {
        id: id.to_string(),
        available: Vec::new(),
    }))
}

/// Entry point of the `ofx-render` binary: returns the process exit status
/// (0 ok, 1 failure, 2 usage error; the watchdog exits with 124).
pub fn main_with_args(args: &[String]) -> i32 {
    if args.is_empty() {
        print!("{}", help_text());
        return 2;
    }
    let parsed = match CliArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ofx-render: {e}\n\n{}", usage_hint());
            return 2;
        }
    };
    if parsed.help {
        print!("{}", help_text());
        return 0;
    }
    // Watchdog: a plugin that deadlocks must not hang a render farm forever.
    let timeout = parsed.timeout;
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        eprintln!("ofx-render: Gave up after {} seconds (--timeout): the plugin did not finish.", timeout.as_secs_f64());
        std::process::exit(124);
    });
    match std::panic::catch_unwind(|| run(&parsed)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            eprintln!("ofx-render: {e}");
            1
        }
        Err(_) => {
            eprintln!("ofx-render: Internal error in the host (a panic); see the message above.");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn frames_forward_reverse_negative() {
        assert_eq!(parse_frames("1-3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_frames("3-1").unwrap(), vec![3, 2, 1]);
        assert_eq!(parse_frames("7").unwrap(), vec![7]);
        assert_eq!(parse_frames("-2-0").unwrap(), vec![-2, -1, 0]);
        assert!(parse_frames("a-b").is_err());
    }

    #[test]
    fn patterns_format_and_parse() {
        let p = FramePattern::parse("out/frame_%04d.png").unwrap();
        assert_eq!(p.format(12), "out/frame_0012.png");
        assert!(FramePattern::parse("still.png").is_none());
        assert_eq!(FramePattern::parse("a%d.exr").unwrap().format(5), "a5.exr");
    }

    #[test]
    fn arguments_parse() {
        let a = CliArgs::parse(&s(&[
            "--plugin-path", "/x", "--plugin", "a.b", "--input", "Source=in.png", "--frames", "2-1", "--out",
            "o_%03d.png", "--param", "gain=1.5", "--param", "gain@10=2", "--press", "go", "--depth", "byte",
            "--host", "natron", "--threads=3", "--multithread", "single",
        ]))
        .unwrap();
        assert_eq!(a.frames, vec![2, 1]);
        assert_eq!(a.params[1], ParamArg { name: "gain".into(), frame: Some(10.0), value: "2".into() });
        assert_eq!(a.quirks, HostQuirks::Natron);
        assert_eq!(a.threads, 3);
        assert_eq!(a.multithread, MultiThreadMode::Single);
        assert!(CliArgs::parse(&s(&["--multithread", "lots"])).is_err());
        assert_eq!(a.depth, Depth::Byte);
        assert!(CliArgs::parse(&s(&["--bogus"])).is_err());
        assert!(CliArgs::parse(&s(&["--scale", "zero"])).is_err());
        assert!(CliArgs::parse(&s(&["--param", "novalue"])).is_err());
    }

    #[test]
    fn values_may_start_with_a_dash_and_later_options_win() {
        let a = CliArgs::parse(&s(&["--frames", "-3--1", "--depth", "8", "--depth=short", "--list", "--list"])).unwrap();
        assert_eq!(a.frames, vec![-3, -2, -1]);
        assert_eq!(a.depth, Depth::Short);
        assert!(a.list && !a.help);
        assert!(CliArgs::parse(&s(&["-h"])).unwrap().help);
        let err = CliArgs::parse(&s(&["--timeout", "-1"])).unwrap_err().to_string();
        assert!(err.contains("The timeout '-1' is not a positive number of seconds"), "{err}");
    }

    #[test]
    fn help_documents_every_option() {
        let help = help_text();
        for option in CommandLine::command().get_arguments() {
            let long = option.get_long().unwrap();
            assert!(option.get_help().is_some(), "--{long} has no help text");
            assert!(help.contains(&format!("--{long}")), "--{long} missing from\n{help}");
        }
    }
}
