//! The `ofx-render` command line: hand-written argument parsing
//! ([`CliArgs::parse`]), frame-range and file-pattern helpers, and [`run`],
//! which loads inputs, hosts the plugin and writes the rendered frames, or with
//! `--bench` times the plugin's load and renders and measures its memory (see
//! [`bench`](super::bench)). Every failure ends as one sentence on stderr and
//! a non-zero exit status; a watchdog ends the process if a plugin hangs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::bench::{self, BenchReport, Stats};
use super::effect::{ClipInput, Context};
use super::error::{HostError, HostResult};
use super::host::{Host, HostOptions, HostQuirks, MultiThreadMode};
use super::image::{Components, Depth, HostImage};
use super::imageio::{self, Compression};
use super::instance::Instance;
use super::plugin::Plugin;
use super::render::RenderRequest;
use super::writer::{FrameWriter, OutputSpec};

/// Usage text printed by `--help` and on usage errors.
pub const USAGE: &str = "\
usage: ofx-render --plugin-path DIR --plugin ID --input CLIP=FILE_OR_PATTERN ... --frames A-B --out PATTERN [options]
       ofx-render --plugin-path DIR --plugin ID --input CLIP=FILE ... --frames A-B --bench [--repeat N] [options]
       ofx-render --plugin-path DIR --list

  --plugin-path DIR        where to look for *.ofx.bundle (or a bundle / .ofx file); default $OFX_PLUGIN_PATH
  --plugin ID              plugin identifier, e.g. org.livingportrait.LivingPortrait
  --list                   print the plugin identifiers found and exit
  --input CLIP=FILE        a still image, or a sequence when FILE contains %04d (frames from the names)
  --input-resize CLIP=WxH  stretch that input to W x H pixels after loading (bilinear, aspect ratio not
                           kept), e.g. Source=1920x1080 to benchmark HD frames with a 512x512 image
  --frames A-B             frames to render (B < A renders in reverse); a single N renders one frame
  --out PATTERN            output file, %04d is replaced by the frame; .png, .tif, .exr or .jpg (PNG 8/16
                           bit by depth, TIFF 16 bit or float, EXR float, JPEG 8 bit without alpha); frames
                           are written on background threads while the next ones render
  --compression fast|small output files quick to write (default) or smaller (slower)
  --param NAME=VALUE       set a parameter (double 1.5, 2D x,y, int, bool true/false, choice index, option
                           label or its script name: trackFile selects 'Track file')
  --param NAME@FRAME=VALUE set a key
  --press BUTTON           press a push button (after the parameters)
  --depth byte|short|float output depth asked of the plugin (default float; PNG stores 8/16 bit)
  --components rgba|rgb    output components (default rgba)
  --scale S                render scale (default 1)
  --threads N              render threads (default: CPU count)
  --bands N                split every frame into N bands rendered concurrently
  --context filter|general effect context (default: filter when supported)
  --host standard|resolve|natron  host to imitate (default standard)
  --multithread threads|one-cpu|single  the multithread suite: every thread asked for (default), one CPU
                           reported, or OFX HostSupport's default (one CPU, the function run once as thread 0 of 1)
  --negative-row-bytes     give the plugin images with negative row bytes
  --pad-output N           output image bounds larger than the render window by N pixels
  --pixel-aspect R         pixel aspect ratio of the inputs and output (default 1; 2 = anamorphic 2:1)
  --save-params FILE.json  write every parameter (value and keys) after rendering
  --timeout SECS           give up after SECS seconds (default 3600)

benchmark (--out optional; figures on stdout):
  --bench                  time loading the plugin (load, describe, create instance), the first frame (clip
                           preferences, begin/end sequence, render) and each later frame (the host's render
                           call only: no input decoding, no output saving), and measure resident memory before
                           loading the plugin and its peak after rendering (Linux /proc/self/status)
  --bench-json FILE        also write the figures as JSON (implies --bench)
  --repeat N               render the frame list N times (default 1); the steady state is every frame but
                           the first, so N > 1 gives more samples (outputs are saved on the first pass only)
  With --bench, --threads N renders N frames at a time and offers the plugin N CPUs; without it frames
  render one at a time and the plugin is offered every CPU. Inputs are decoded and resized before the
  resident size is taken; the throughput line leaves out saving.
";

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
    /// Parses the arguments (without the program name).
    pub fn parse(args: &[String]) -> HostResult<CliArgs> {
        let mut a = CliArgs {
            plugin_path: Vec::new(),
            plugin: None,
            list: false,
            inputs: Vec::new(),
            input_resize: Vec::new(),
            frames: Vec::new(),
            out: None,
            params: Vec::new(),
            presses: Vec::new(),
            depth: Depth::Float,
            components: Components::Rgba,
            scale: 1.0,
            threads: 0,
            bands: 1,
            context: None,
            quirks: HostQuirks::Standard,
            multithread: MultiThreadMode::Threads,
            negative_row_bytes: false,
            pad_output: 0,
            pixel_aspect: 1.0,
            save_params: None,
            timeout: Duration::from_secs(3600),
            help: false,
            bench: false,
            bench_json: None,
            repeat: 1,
            compression: Compression::Fast,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            // Accept both "--opt value" and "--opt=value".
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| -> HostResult<String> {
                match inline.clone().or_else(|| it.next().cloned()) {
                    Some(v) => Ok(v),
                    None => Err(usage_err(format!("The option {name} needs a value"))),
                }
            };
            match flag.as_str() {
                "--help" | "-h" => a.help = true,
                "--list" => a.list = true,
                "--negative-row-bytes" => a.negative_row_bytes = true,
                "--plugin-path" => a.plugin_path.extend(std::env::split_paths(&value(&flag)?)),
                "--plugin" => a.plugin = Some(value(&flag)?),
                "--input" => {
                    let v = value(&flag)?;
                    let (clip, file) = v
                        .split_once('=')
                        .ok_or_else(|| usage_err(format!("The input '{v}' is not of the form CLIP=FILE")))?;
                    a.inputs.push((clip.to_string(), file.to_string()));
                }
                "--input-resize" => {
                    let v = value(&flag)?;
                    let (clip, (w, h)) = v
                        .split_once('=')
                        .and_then(|(c, size)| Some((c, parse_size(size)?)))
                        .ok_or_else(|| usage_err(format!("The input size '{v}' is not of the form CLIP=WIDTHxHEIGHT")))?;
                    a.input_resize.retain(|(c, _, _)| c != clip);
                    a.input_resize.push((clip.to_string(), w, h));
                }
                "--bench" => a.bench = true,
                "--bench-json" => {
                    a.bench = true;
                    a.bench_json = Some(PathBuf::from(value(&flag)?));
                }
                "--repeat" => a.repeat = parse_count(&value(&flag)?, "repeat count")?.max(1),
                "--frames" => a.frames = parse_frames(&value(&flag)?)?,
                "--out" => a.out = Some(value(&flag)?),
                "--compression" => {
                    let v = value(&flag)?;
                    a.compression = Compression::parse(&v)
                        .ok_or_else(|| usage_err(format!("The compression '{v}' is not fast or small")))?;
                }
                "--param" => {
                    let v = value(&flag)?;
                    let (lhs, val) = v
                        .split_once('=')
                        .ok_or_else(|| usage_err(format!("The parameter setting '{v}' is not of the form NAME=VALUE")))?;
                    let (name, frame) = match lhs.split_once('@') {
                        Some((n, f)) => {
                            let f = f
                                .trim()
                                .parse::<f64>()
                                .map_err(|_| usage_err(format!("The key frame '{f}' in '{v}' is not a number")))?;
                            (n.to_string(), Some(f))
                        }
                        None => (lhs.to_string(), None),
                    };
                    a.params.push(ParamArg {
                        name,
                        frame,
                        value: val.to_string(),
                    });
                }
                "--press" => a.presses.push(value(&flag)?),
                "--depth" => {
                    a.depth = match value(&flag)?.to_ascii_lowercase().as_str() {
                        "byte" | "8" => Depth::Byte,
                        "short" | "16" => Depth::Short,
                        "float" | "32" => Depth::Float,
                        v => return Err(usage_err(format!("The depth '{v}' is not byte, short or float"))),
                    }
                }
                "--components" => {
                    a.components = match value(&flag)?.to_ascii_lowercase().as_str() {
                        "rgba" => Components::Rgba,
                        "rgb" => Components::Rgb,
                        v => return Err(usage_err(format!("The components '{v}' are not rgba or rgb"))),
                    }
                }
                "--scale" => {
                    let v = value(&flag)?;
                    a.scale = v
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 16.0)
                        .ok_or_else(|| usage_err(format!("The scale '{v}' is not a number in (0, 16]")))?;
                }
                "--threads" => a.threads = parse_count(&value(&flag)?, "thread count")?,
                "--bands" => a.bands = parse_count(&value(&flag)?, "band count")?.max(1),
                "--pad-output" => a.pad_output = parse_count(&value(&flag)?, "padding")? as u32,
                "--pixel-aspect" => {
                    let v = value(&flag)?;
                    a.pixel_aspect = v
                        .parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite() && (0.1..=10.0).contains(r))
                        .ok_or_else(|| usage_err(format!("The pixel aspect ratio '{v}' is not a number in [0.1, 10]")))?;
                }
                "--context" => {
                    a.context = Some(match value(&flag)?.to_ascii_lowercase().as_str() {
                        "filter" => Context::Filter,
                        "general" => Context::General,
                        v => return Err(usage_err(format!("The context '{v}' is not filter or general"))),
                    })
                }
                "--host" => {
                    let v = value(&flag)?;
                    a.quirks = HostQuirks::parse(&v)
                        .ok_or_else(|| usage_err(format!("The host '{v}' is not standard, resolve or natron")))?;
                }
                "--multithread" => {
                    let v = value(&flag)?;
                    a.multithread = MultiThreadMode::parse(&v)
                        .ok_or_else(|| usage_err(format!("The multithread mode '{v}' is not threads, one-cpu or single")))?;
                }
                "--save-params" => a.save_params = Some(PathBuf::from(value(&flag)?)),
                "--timeout" => {
                    let v = value(&flag)?;
                    let s = v
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0)
                        .ok_or_else(|| usage_err(format!("The timeout '{v}' is not a positive number of seconds")))?;
                    a.timeout = Duration::from_secs_f64(s.min(1e9));
                }
                other => return Err(usage_err(format!("Unknown option '{other}' (see --help)"))),
            }
        }
        if a.plugin_path.is_empty() {
            if let Some(p) = std::env::var_os("OFX_PLUGIN_PATH") {
                a.plugin_path = std::env::split_paths(&p).filter(|p| !p.as_os_str().is_empty()).collect();
            }
        }
        Ok(a)
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

fn parse_count(v: &str, what: &str) -> HostResult<usize> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n <= 4096)
        .ok_or_else(|| usage_err(format!("The {what} '{v}' is not a whole number up to 4096")))
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
        inst.render_sequence_with(&args.frames, threads, &req, |f, img| writer.submit(f, img))?;
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

/// Entry point of the `ofx-render` binary: returns the process exit status.
pub fn main_with_args(args: &[String]) -> i32 {
    let parsed = match CliArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ofx-render: {e}\n\n{USAGE}");
            return 2;
        }
    };
    if parsed.help || args.is_empty() {
        print!("{USAGE}");
        return if args.is_empty() { 2 } else { 0 };
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
}
