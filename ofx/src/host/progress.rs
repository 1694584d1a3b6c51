//! Progress of a long `ofx-render` run on stderr: frames done of the total,
//! the rate and the time left, drawn by `indicatif`. Drawn only when stderr is
//! a terminal and there is more than one frame: tests, CI logs and pipes see
//! nothing, so the one-sentence error contract on stderr holds.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The progress bar of one render run (hidden when nobody can see it).
pub struct FrameProgress {
    bar: ProgressBar,
}

impl FrameProgress {
    /// A bar for `total` frames on stderr, drawn only when stderr is a terminal.
    pub fn on_stderr(total: usize) -> FrameProgress {
        FrameProgress::new(total, std::io::stderr().is_terminal())
    }

    /// A bar for `total` frames, drawn on stderr when `visible` and there is
    /// more than one frame (one frame has nothing to report until it is done).
    pub fn new(total: usize, visible: bool) -> FrameProgress {
        if !visible || total < 2 {
            return FrameProgress { bar: ProgressBar::hidden() };
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} frames, {rate}, {eta} left")
            .expect("the progress template is valid")
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.2} frames/s", state.per_sec());
            })
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix("ofx-render");
        FrameProgress { bar }
    }

    /// Whether nothing is drawn.
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// One more frame is rendered and saved (callable from any render thread).
    pub fn frame_done(&self) {
        self.bar.inc(1);
    }

    /// Frames counted so far.
    pub fn frames_done(&self) -> u64 {
        self.bar.position()
    }

    /// Leaves the final line on the terminal (after the last frame).
    pub fn finish(&self) {
        self.bar.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_without_a_terminal_or_with_one_frame_and_counting_either_way() {
        let p = FrameProgress::new(10, false);
        assert!(p.is_hidden());
        p.frame_done();
        p.frame_done();
        assert_eq!(p.frames_done(), 2);
        assert!(FrameProgress::new(1, true).is_hidden());
    }
}
