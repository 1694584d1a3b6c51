//! Bookkeeping of `ofx-render --bench`: per-frame statistics, the process's
//! resident memory (Linux `/proc/self/status`), and the report printed as a
//! table or written as JSON. The benchmark itself is driven by
//! [`cli::run`](super::cli::run); times are in milliseconds, memory in KiB.

use std::fmt::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Summary of a list of samples (milliseconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Number of samples.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (the mean of the two middle samples for an even count).
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
}

impl Stats {
    /// The statistics of `samples`; None when there are none or one is not finite.
    pub fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() || samples.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        Some(Stats {
            count: n,
            mean: sorted.iter().sum::<f64>() / n as f64,
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

/// Resident memory of the process, in KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryStatus {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size (`VmHWM`, the "high water mark").
    pub peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` from the text of `/proc/<pid>/status` (values
/// in kB, which the kernel means as KiB). None when either is missing.
pub fn parse_proc_status(text: &str) -> Option<MemoryStatus> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?;
        let mut parts = line.split_whitespace();
        let value = parts.next()?.parse::<u64>().ok()?;
        matches!(parts.next(), None | Some("kB")).then_some(value)
    };
    Some(MemoryStatus {
        rss_kib: field("VmRSS")?,
        peak_kib: field("VmHWM")?,
    })
}

/// Bytes the C allocator has handed out and not taken back (glibc's
/// `mallinfo2`: in-use heap chunks of every arena plus mmapped ones). Exact
/// to the byte where resident size moves by pages, so a test can see a small
/// leak repeated; None off glibc.
pub fn heap_in_use() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's `struct mallinfo2` (malloc.h, glibc 2.33+).
        #[repr(C)]
        struct Mallinfo2 {
            arena: usize,
            ordblks: usize,
            smblks: usize,
            hblks: usize,
            hblkhd: usize,
            usmblks: usize,
            fsmblks: usize,
            uordblks: usize,
            fordblks: usize,
            keepcost: usize,
        }
        extern "C" {
            fn mallinfo2() -> Mallinfo2;
        }
        // SAFETY: a query without arguments that returns the struct by value.
        let m = unsafe { mallinfo2() };
        Some((m.uordblks + m.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// This process's resident memory (None where `/proc/self/status` does not exist).
pub fn memory_status() -> Option<MemoryStatus> {
    parse_proc_status(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Resets the peak resident size (`VmHWM`) to the current one by writing 5 to
/// `/proc/self/clear_refs` (Linux 4.0 and later); false when that is not possible.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

/// Everything `--bench` measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// Plugin identifier.
    pub plugin: String,
    /// Plugin version (major, minor).
    pub version: (u32, u32),
    /// The plugin binary.
    pub binary: PathBuf,
    /// Output size in pixels of the first frame.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Requested output depth ("byte", "short", "float").
    pub depth: String,
    /// Requested output components ("rgba", "rgb").
    pub components: String,
    /// Frames in the `--frames` list.
    pub frame_count: usize,
    /// `--repeat`.
    pub repeat: usize,
    /// Frames rendered at the same time in the steady state.
    pub frame_threads: usize,
    /// CPUs offered to the plugin through the multithread suite.
    pub cpu_threads: usize,
    /// Load, describe and create instance.
    pub load_ms: f64,
    /// Setting the inputs, parameters and button presses.
    pub setup_ms: f64,
    /// The first frame: clip preferences, begin sequence, render, end sequence.
    pub first_frame_ms: f64,
    /// Per-frame render times after the first frame (None without such frames).
    pub steady: Option<Stats>,
    /// Of those, the time inside the plugin's render actions (frames rendered
    /// one at a time only): the rest is the host's image handling.
    pub plugin_steady: Option<Stats>,
    /// Wall-clock time of the steady-state passes, saving excluded (see `frames_per_second`).
    pub steady_wall_ms: f64,
    /// Frames rendered in `steady_wall_ms` (passes that saved frames on
    /// several threads are left out: their saving cannot be told apart).
    pub steady_wall_frames: usize,
    /// Resident memory before loading the plugin (inputs already decoded).
    pub before: Option<MemoryStatus>,
    /// Resident memory after rendering (its `peak_kib` is the peak since the plugin was loaded
    /// when `peak_reset`, since the process started otherwise).
    pub after: Option<MemoryStatus>,
    /// Whether the peak was reset just before loading the plugin.
    pub peak_reset: bool,
    /// The host's own image buffers for one frame (input copies handed to the
    /// plugin, output buffer, rendered result), an estimate in KiB; they count
    /// in the resident size above the host.
    pub host_buffers_kib: u64,
    /// Whether outputs were saved (`--out`): encoding then adds to the peak.
    pub saved: bool,
}

impl BenchReport {
    /// Steady-state frames per second from the wall-clock time.
    pub fn frames_per_second(&self) -> Option<f64> {
        (self.steady_wall_ms > 0.0 && self.steady_wall_frames > 0)
            .then(|| self.steady_wall_frames as f64 * 1000.0 / self.steady_wall_ms)
    }

    /// The peak resident size after rendering minus the resident size before loading.
    pub fn plugin_above_host_kib(&self) -> Option<i64> {
        Some(self.after?.peak_kib as i64 - self.before?.rss_kib as i64)
    }

    /// The human-readable table printed on stdout.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = Vec::new();
        let ms = |v: f64| format!("{v:.2} ms");
        let mib = |kib: i64| format!("{:.1} MiB", kib as f64 / 1024.0);
        rows.push(("load plugin (load, describe, create instance)".into(), ms(self.load_ms)));
        rows.push(("set inputs and parameters".into(), ms(self.setup_ms)));
        rows.push(("first frame (clip preferences, sequence, render)".into(), ms(self.first_frame_ms)));
        match &self.steady {
            Some(s) => {
                rows.push((format!("steady state per frame, mean ({} frames)", s.count), ms(s.mean)));
                rows.push(("steady state per frame, median".into(), ms(s.median)));
                rows.push(("steady state per frame, min".into(), ms(s.min)));
                rows.push(("steady state per frame, max".into(), ms(s.max)));
                if let Some(fps) = self.frames_per_second() {
                    rows.push(("steady state throughput (wall clock)".into(), format!("{fps:.2} frames/s")));
                }
                if let Some(p) = &self.plugin_steady {
                    rows.push(("  inside the plugin's render action, mean".into(), ms(p.mean)));
                    rows.push(("  inside the plugin's render action, median".into(), ms(p.median)));
                }
            }
            None => rows.push(("steady state per frame".into(), "n/a (one frame rendered)".into())),
        }
        match (self.before, self.after) {
            (Some(b), Some(a)) => {
                rows.push(("resident before loading the plugin".into(), mib(b.rss_kib as i64)));
                let peak_label = if self.peak_reset {
                    "peak resident after rendering"
                } else {
                    "peak resident after rendering (since start)"
                };
                rows.push((peak_label.into(), mib(a.peak_kib as i64)));
                rows.push(("resident after rendering".into(), mib(a.rss_kib as i64)));
                if let Some(d) = self.plugin_above_host_kib() {
                    let label = if self.saved {
                        "plugin resident above host (incl. saving)"
                    } else {
                        "plugin resident above host"
                    };
                    rows.push((label.into(), mib(d)));
                }
                rows.push(("  of which host image buffers (estimate)".into(), mib(self.host_buffers_kib as i64)));
            }
            _ => rows.push(("memory".into(), "n/a (no /proc/self/status)".into())),
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "ofx-render bench: {} {}.{} ({})",
            self.plugin,
            self.version.0,
            self.version.1,
            self.binary.display()
        );
        let _ = writeln!(
            out,
            "output {}x{} {} {}, {} frame(s) x {} pass(es), {} frame(s) at a time, {} CPU(s) offered to the plugin",
            self.width,
            self.height,
            self.depth,
            self.components,
            self.frame_count,
            self.repeat,
            self.frame_threads,
            self.cpu_threads
        );
        let w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let vw = rows.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        let _ = writeln!(out, "{:-<1$}", "", w + vw + 3);
        for (label, value) in &rows {
            let _ = writeln!(out, "{label:<w$}   {value:>vw$}");
        }
        out
    }

    /// The same figures as a JSON document (`--bench-json`): times rounded
    /// to the microsecond, figures that could not be measured `null`.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.to_file()).expect("a benchmark report always serialises");
        text.push('\n');
        text
    }

    /// The figures in the layout of the JSON document.
    pub fn to_file(&self) -> BenchFile {
        BenchFile {
            plugin: self.plugin.clone(),
            version: self.version,
            binary: self.binary.to_string_lossy().into_owned(),
            output: BenchOutput {
                width: self.width,
                height: self.height,
                depth: self.depth.clone(),
                components: self.components.clone(),
            },
            frame_count: self.frame_count,
            repeat: self.repeat,
            frame_threads: self.frame_threads,
            cpu_threads: self.cpu_threads,
            load_ms: millis(self.load_ms),
            setup_ms: millis(self.setup_ms),
            first_frame_ms: millis(self.first_frame_ms),
            steady: self.steady.map(|s| BenchSteady {
                samples: s.count,
                mean_ms: millis(s.mean),
                median_ms: millis(s.median),
                min_ms: millis(s.min),
                max_ms: millis(s.max),
                wall_ms: millis(self.steady_wall_ms),
                wall_frames: self.steady_wall_frames,
                frames_per_second: self.frames_per_second().and_then(millis),
            }),
            plugin_render_action: self.plugin_steady.map(|p| BenchPluginRender {
                samples: p.count,
                mean_ms: millis(p.mean),
                median_ms: millis(p.median),
            }),
            memory: match (self.before, self.after) {
                (Some(b), Some(a)) => Some(BenchMemory {
                    rss_before_plugin_kib: b.rss_kib,
                    peak_after_render_kib: a.peak_kib,
                    rss_after_render_kib: a.rss_kib,
                    plugin_above_host_kib: a.peak_kib as i64 - b.rss_kib as i64,
                    host_buffers_kib_estimate: self.host_buffers_kib,
                    peak_reset: self.peak_reset,
                    includes_saving: self.saved,
                }),
                _ => None,
            },
        }
    }
}

/// A time rounded to three decimals (a microsecond, in milliseconds); None when not finite.
fn millis(v: f64) -> Option<f64> {
    v.is_finite().then(|| (v * 1000.0).round() / 1000.0)
}

/// The `--bench-json` document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchFile {
    /// Plugin identifier.
    pub plugin: String,
    /// Plugin version `[major, minor]`.
    pub version: (u32, u32),
    /// The plugin binary.
    pub binary: String,
    /// The output of the first frame.
    pub output: BenchOutput,
    /// Frames in the `--frames` list.
    pub frame_count: usize,
    /// `--repeat`.
    pub repeat: usize,
    /// Frames rendered at the same time in the steady state.
    pub frame_threads: usize,
    /// CPUs offered to the plugin.
    pub cpu_threads: usize,
    /// Load, describe and create instance.
    pub load_ms: Option<f64>,
    /// Setting inputs, parameters and button presses.
    pub setup_ms: Option<f64>,
    /// The first frame.
    pub first_frame_ms: Option<f64>,
    /// Later frames (null when only one frame was rendered).
    pub steady: Option<BenchSteady>,
    /// Time inside the plugin's render actions (null unless frames rendered one at a time).
    pub plugin_render_action: Option<BenchPluginRender>,
    /// Resident memory (null without `/proc/self/status`).
    pub memory: Option<BenchMemory>,
}

/// Size and format of the output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchOutput {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// "byte", "short" or "float".
    pub depth: String,
    /// "rgba" or "rgb".
    pub components: String,
}

/// Steady-state figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchSteady {
    /// Number of frames timed.
    pub samples: usize,
    /// Mean per frame.
    pub mean_ms: Option<f64>,
    /// Median per frame.
    pub median_ms: Option<f64>,
    /// Fastest frame.
    pub min_ms: Option<f64>,
    /// Slowest frame.
    pub max_ms: Option<f64>,
    /// Wall-clock time of the steady-state passes, saving excluded.
    pub wall_ms: Option<f64>,
    /// Frames rendered in `wall_ms`.
    pub wall_frames: usize,
    /// Throughput from the wall clock.
    pub frames_per_second: Option<f64>,
}

/// Time inside the plugin's render action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchPluginRender {
    /// Number of frames timed.
    pub samples: usize,
    /// Mean per frame.
    pub mean_ms: Option<f64>,
    /// Median per frame.
    pub median_ms: Option<f64>,
}

/// Resident memory, in KiB.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchMemory {
    /// Before loading the plugin.
    pub rss_before_plugin_kib: u64,
    /// Peak after rendering.
    pub peak_after_render_kib: u64,
    /// After rendering.
    pub rss_after_render_kib: u64,
    /// The peak less the size before loading.
    pub plugin_above_host_kib: i64,
    /// The host's own image buffers for one frame (estimate).
    pub host_buffers_kib_estimate: u64,
    /// Whether the peak was reset before loading the plugin.
    pub peak_reset: bool,
    /// Whether saving outputs counts in the peak.
    pub includes_saving: bool,
}
