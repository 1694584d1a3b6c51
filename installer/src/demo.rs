//! The demo: renders the bundled demo portrait through an installed (or freshly assembled) bundle with the
//! headless host `ofx-render`, exactly as a host would load it, writes the frames to `./demo/frame_%04d.png`
//! and an animated `./demo/preview.gif` from them, with a frame counter on a terminal. Missing inputs are
//! reported as sentences, never panics, so the command is safe to run before the demo assets exist.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame};

use crate::{progress, InstallError, BUNDLE_NAME, PLUGIN_ID};

/// The frame range rendered for the demo (two seconds at 24 fps: the length of `resources/demo/track.json`).
pub const DEMO_FRAMES: (u32, u32) = (1, 48);

/// Where the demo renders from and to.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The plugin folder that holds `LivingPortrait.ofx.bundle` (passed to `ofx-render --plugin-path`).
    pub plugin_dir: PathBuf,
    /// The `ofx-render` executable.
    pub renderer: PathBuf,
    /// The source tree that holds `resources/demo/`.
    pub workspace: PathBuf,
    /// Output folder for `frame_%04d.png` and `preview.gif` (the CLI uses `./demo`).
    pub out_dir: PathBuf,
}

/// Keys the demo adds on top of its track (the expression controls add to every drive mode): a 3-D head turn
/// to either side, then the eyes looking to the subject's left and right. (control, frame, value)
const DEMO_KEYS: &[(&str, u32, f64)] = &[
    ("headYaw", 1, 0.0),
    ("headYaw", 14, 0.0),
    ("headYaw", 22, 18.0),
    ("headYaw", 30, -12.0),
    ("headYaw", 38, 0.0),
    ("gazeX", 1, 0.0),
    ("gazeX", 34, 0.0),
    ("gazeX", 39, 22.0),
    ("gazeX", 44, -18.0),
    ("gazeX", 48, 0.0),
];

/// Extra `ofx-render` arguments that drive the demo: the demo track
/// (`resources/demo/track.json`, made by `resources/demo/make_track.py`: speech, a blink, a smile, a head roll)
/// animates the portrait through the plugin's "Track file" drive mode, and keyed expression controls add a head
/// turn and a gaze ([`DEMO_KEYS`]).
pub fn demo_extra_args(workspace: &Path) -> Vec<String> {
    let track = workspace.join("resources").join("demo").join("track.json");
    if track.is_file() {
        let track = std::path::absolute(&track).unwrap_or(track);
        let mut args = vec![
            "--param".into(),
            "driveMode=trackFile".into(),
            "--param".into(),
            format!("trackFile={}", track.display()),
        ];
        for (name, frame, value) in DEMO_KEYS {
            args.push("--param".into());
            args.push(format!("{name}@{frame}={value}"));
        }
        args
    } else {
        Vec::new()
    }
}

/// Renders the demo frames and the preview GIF; returns the GIF's path.
pub fn render_demo(opts: &DemoOptions) -> Result<PathBuf, InstallError> {
    let portrait = opts
        .workspace
        .join("resources")
        .join("demo")
        .join("astronaut.png");
    if !portrait.is_file() {
        return Err(InstallError::msg(format!(
            "the demo portrait {} does not exist yet; it is produced by the demo-assets script under resources/demo \
             (skip --demo until it is there)",
            portrait.display()
        )));
    }
    let portrait = std::path::absolute(&portrait).unwrap_or(portrait);
    if !opts.renderer.is_file() {
        return Err(InstallError::msg(format!(
            "the headless renderer {} does not exist; build it with `cargo build --release -p ofx`",
            opts.renderer.display()
        )));
    }
    if !opts.plugin_dir.join(BUNDLE_NAME).is_dir() {
        return Err(InstallError::msg(format!(
            "there is no {BUNDLE_NAME} in {}; run `installer bundle` or `installer install` first",
            opts.plugin_dir.display()
        )));
    }
    let out_dir = std::path::absolute(&opts.out_dir).unwrap_or_else(|_| opts.out_dir.clone());
    fs::create_dir_all(&out_dir)
        .map_err(|e| InstallError::io(format!("create {}", out_dir.display()), e))?;
    // Frames from an earlier, longer run would otherwise end up in the GIF.
    if let Ok(entries) = fs::read_dir(&out_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if (name.starts_with("frame_") && name.ends_with(".png")) || name == "preview.gif" {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    let (first, last) = DEMO_FRAMES;
    let pattern = out_dir.join("frame_%04d.png");
    let mut cmd = Command::new(&opts.renderer);
    cmd.arg("--plugin-path")
        .arg(&opts.plugin_dir)
        .args(["--plugin", PLUGIN_ID])
        .arg("--input")
        .arg(format!("Source={}", portrait.display()))
        .args(["--frames", &format!("{first}-{last}")])
        .arg("--out")
        .arg(&pattern)
        .args(demo_extra_args(&opts.workspace));
    eprintln!(
        "installer: rendering the demo through {}",
        opts.plugin_dir.join(BUNDLE_NAME).display()
    );
    let mut child = cmd.spawn().map_err(|e| {
        InstallError::msg(format!("could not run {}: {e}", opts.renderer.display()))
    })?;
    // The bar counts the frames on disk while ofx-render works (drawn only when stderr is a terminal).
    let bar = progress::frames(u64::from(last - first + 1));
    let status = loop {
        bar.set_position(progress::count_frames(&out_dir, DEMO_FRAMES));
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                bar.abandon();
                return Err(InstallError::msg(format!(
                    "could not wait for {}: {e}",
                    opts.renderer.display()
                )));
            }
        }
    };
    bar.finish_and_clear();
    if !status.success() {
        return Err(InstallError::msg(format!(
            "ofx-render failed to render the demo ({status}); its messages are printed above"
        )));
    }
    let frames: Vec<PathBuf> = (first..=last)
        .map(|f| out_dir.join(format!("frame_{f:04}.png")))
        .collect();
    if let Some(missing) = frames.iter().find(|f| !f.is_file()) {
        return Err(InstallError::msg(format!(
            "ofx-render reported success but did not write {}",
            missing.display()
        )));
    }
    let gif = out_dir.join("preview.gif");
    make_gif(&frames, &gif, 24)?;
    Ok(gif)
}

/// Writes an endlessly looping animated GIF of `frames` (any format the `image` crate reads) at `fps`,
/// scaled down to at most 512 pixels wide so the preview stays small.
pub fn make_gif(frames: &[PathBuf], gif: &Path, fps: u32) -> Result<(), InstallError> {
    if frames.is_empty() {
        return Err(InstallError::msg(
            "there are no frames to put into the preview GIF",
        ));
    }
    let file = fs::File::create(gif)
        .map_err(|e| InstallError::io(format!("create {}", gif.display()), e))?;
    let mut encoder = GifEncoder::new_with_speed(std::io::BufWriter::new(file), 10);
    encoder
        .set_repeat(Repeat::Infinite)
        .map_err(|e| InstallError::msg(format!("could not write {}: {e}", gif.display())))?;
    let delay = Delay::from_numer_denom_ms(1000, fps.max(1));
    for path in frames {
        let img = image::open(path)
            .map_err(|e| InstallError::msg(format!("could not read {}: {e}", path.display())))?;
        let img = if img.width() > 512 {
            let h = (img.height() as u64 * 512 / img.width() as u64).max(1) as u32;
            img.resize_exact(512, h, image::imageops::FilterType::Triangle)
        } else {
            img
        };
        encoder
            .encode_frame(Frame::from_parts(img.to_rgba8(), 0, 0, delay))
            .map_err(|e| InstallError::msg(format!("could not write {}: {e}", gif.display())))?;
    }
    Ok(())
}
