//! Stage timings for benchmarks: with `LIVING_PORTRAIT_PROFILE=1` in the
//! environment a render prints how long each of its stages took, and face
//! analysis prints its own; otherwise the timers cost a branch. The switch is
//! read once per process, because renders must not read the environment (a
//! host may change it on another thread). A leaf: it imports nothing of ours.

use std::time::Instant;

/// Whether `LIVING_PORTRAIT_PROFILE=1`, read once per process.
pub fn profiling() -> bool {
    static ON: once_cell::sync::Lazy<bool> =
        once_cell::sync::Lazy::new(|| std::env::var_os("LIVING_PORTRAIT_PROFILE").is_some_and(|v| v == "1"));
    *ON
}

/// Per-stage timings of one frame, printed on stderr when [`profiling`].
pub struct StageTimer {
    on: bool,
    start: Instant,
    last: Instant,
    parts: Vec<(&'static str, f64)>,
}

impl StageTimer {
    /// A timer started now.
    pub fn new() -> Self {
        let now = Instant::now();
        StageTimer { on: profiling(), start: now, last: now, parts: Vec::new() }
    }

    /// The stage `name` ended now (it began at the previous mark).
    pub fn mark(&mut self, name: &'static str) {
        if self.on {
            let now = Instant::now();
            self.parts.push((name, (now - self.last).as_secs_f64() * 1e3));
            self.last = now;
        }
    }

    /// Print the frame's stages.
    pub fn report(&self, time: f64) {
        if self.on {
            let parts: Vec<String> = self.parts.iter().map(|(n, t)| format!("{n} {t:.2}")).collect();
            eprintln!("living-portrait profile frame {time}: total {:.2} ms: {}", self.start.elapsed().as_secs_f64() * 1e3, parts.join(", "));
        }
    }
}

impl Default for StageTimer {
    fn default() -> Self {
        StageTimer::new()
    }
}
