//! Progress display for the installer's two long waits, the `pip download` of ONNX Runtime (a spinner that
//! shows pip's latest line) and the demo render (a bar counting the frames `ofx-render` has written). Both are
//! drawn with `indicatif` on stderr only when stderr is a terminal; otherwise the bars are hidden, so logs,
//! pipes and tests see exactly the plain messages they saw before. The same code runs either way: a hidden
//! bar still counts.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress is drawn: only for a person watching a terminal.
pub fn enabled() -> bool {
    std::io::stderr().is_terminal()
}

fn target() -> ProgressDrawTarget {
    if enabled() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A spinner with the elapsed time and a message (pip's latest line).
pub fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {wide_msg}")
            .expect("the template is valid"),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A bar counting `total` frames.
pub fn frames(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target());
    bar.set_style(
        ProgressStyle::with_template(
            "rendering the demo [{elapsed}] {wide_bar} {pos}/{len} frames",
        )
        .expect("the template is valid"),
    );
    bar
}

/// How many of the frames `first..=last` named `frame_%04d.png` exist in `dir`.
pub fn count_frames(dir: &Path, (first, last): (u32, u32)) -> u64 {
    (first..=last)
        .filter(|f| dir.join(format!("frame_{f:04}.png")).is_file())
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::TempDir;

    #[test]
    fn frames_are_counted_in_the_range_only() {
        let tmp = TempDir::new("progress").unwrap();
        for f in [1, 2, 5, 49] {
            std::fs::write(tmp.path().join(format!("frame_{f:04}.png")), b"").unwrap();
        }
        std::fs::write(tmp.path().join("frame_0003.txt"), b"").unwrap();
        assert_eq!(count_frames(tmp.path(), (1, 48)), 3);
        assert_eq!(count_frames(tmp.path(), (2, 2)), 1);
    }

    #[test]
    fn hidden_bars_still_count() {
        // What the installer relies on when stderr is not a terminal: the same calls, nothing drawn.
        let bar = ProgressBar::with_draw_target(Some(48), ProgressDrawTarget::hidden());
        bar.set_position(12);
        assert_eq!((bar.position(), bar.length()), (12, Some(48)));
        bar.finish_and_clear();
    }
}
