//! The "Living Portrait" effect: description, clips, instance, actions.
//!
//! The render itself lives in [`crate::render`]; this module wires it to the
//! OFX actions: the region of definition (the Source's, or the crop square in
//! crop mode), clip preferences, the device line, and messages. Every render
//! is a pure function of (time, parameters, inputs): the instance holds only
//! caches keyed by content, so frames can be rendered in any order or at once.

use ofx::plugin::*;
use ofx::{Error, Result};

use crate::params::{self, clips, OutputMode, Settings};
use crate::render::Renderer;

/// The stable OFX identifier (saved scenes refer to it).
pub const PLUGIN_ID: &str = "org.livingportrait.LivingPortrait";

/// The effect instance.
pub struct LivingPortrait {
    context: Context,
    pub(crate) renderer: Renderer,
    /// The overlay's drag in progress (UI thread only).
    pub(crate) drag: parking_lot::Mutex<Option<crate::overlay::Drag>>,
}

impl LivingPortrait {
    /// Test-only fault injection (debug builds only), so the tests can check that
    /// a failing or panicking render comes back as a failed status while the
    /// host keeps running. `LIVING_PORTRAIT_INJECT_FAULT=render-error|render-panic`.
    fn injected_fault() -> Result<()> {
        if cfg!(debug_assertions) {
            match std::env::var("LIVING_PORTRAIT_INJECT_FAULT").as_deref() {
                Ok("render-error") => return Err(Error::Failed("injected render fault (test build)".into())),
                Ok("render-panic") => panic!("injected render panic (test build)"),
                _ => {}
            }
        }
        Ok(())
    }
}

impl Effect for LivingPortrait {
    fn describe(desc: &EffectDescriptor) -> Result<()> {
        desc.set_labels(
            "Living Portrait",
            "Transform/Face",
            "Animates a still portrait (photo or painting) from a facial landmark track with ONNX inference.",
        )?;
        desc.set_contexts(&[Context::Filter, Context::General])?;
        desc.set_depths(&[BitDepth::Byte, BitDepth::Short, BitDepth::Float])?;
        desc.set_render_capabilities(ThreadSafety::FullySafe, true, true, true, true)?;
        desc.set_overlay::<Self>()?;
        // The bundle path, so the runtime and models are found beside the
        // binary even when the host loaded it through a symlink.
        if let Ok(path) = desc.properties().get_string(c"OfxPluginPropFilePath", 0) {
            if !path.is_empty() {
                crate::inference::set_bundle_binary_dir(path.into());
            }
        }
        Ok(())
    }

    fn describe_in_context(desc: &EffectDescriptor, context: Context) -> Result<()> {
        let comps = [Components::Rgba, Components::Rgb];
        desc.define_clip(clips::SOURCE, &comps, false)?;
        if context == Context::General {
            desc.define_clip(clips::DRIVER, &comps, true)?;
        }
        desc.define_clip(clips::OUTPUT, &comps, false)?;
        params::describe(desc)
    }

    fn create_instance(effect: &EffectHandle) -> Result<Self> {
        let me = LivingPortrait { context: effect.context(), renderer: Renderer::default(), drag: Default::default() };
        me.update_device_line(effect, 0.0);
        Ok(me)
    }

    fn instance_changed(&self, effect: &EffectHandle, args: &InstanceChangedArgs) -> Result<()> {
        if !args.is_param {
            if args.name == clips::SOURCE {
                self.update_faces_line(effect, args);
            }
            return Ok(());
        }
        match args.name.as_str() {
            params::FACE_INDEX | params::REFERENCE_FIRST => self.update_faces_line(effect, args),
            params::DEVICE => self.update_device_line(effect, args.time),
            params::BAKE_KEYS => self.bake_keys(effect, args)?,
            params::CLEAR_KEYS => self.clear_keys(effect)?,
            params::DETECT_SOURCE => {
                self.update_faces_line(effect, args);
                self.detect_source(effect, args)?
            }
            params::BROWSE_TRACK => self.browse_track(effect)?,
            _ => {}
        }
        Ok(())
    }

    fn clip_preferences(&self, effect: &EffectHandle, prefs: &ClipPreferences) -> Result<()> {
        // The output follows the Source's components; it changes over time even
        // for a still Source.
        if let Some(c) = effect.clip(clips::SOURCE)?.components() {
            prefs.set_components(clips::OUTPUT, c)?;
        }
        prefs.set_frame_varying(true)
    }

    fn region_of_definition(&self, effect: &EffectHandle, args: &RegionOfDefinitionArgs) -> Result<RectD> {
        let p = effect.params()?;
        if params::output_mode(&p, args.time)? == OutputMode::Crop {
            let side = params::working_resolution(&p, args.time)? as f64;
            return Ok(RectD { x1: 0.0, y1: 0.0, x2: side, y2: side });
        }
        // Not the union with the Driver: the output is the portrait's frame.
        effect.clip(clips::SOURCE)?.region_of_definition(args.time)
    }

    fn render(&self, effect: &EffectHandle, args: &RenderArgs) -> Result<()> {
        Self::injected_fault()?;
        let started = std::time::Instant::now();
        let settings = Settings::read(effect, args.time)?;
        if crate::profile::profiling() {
            eprintln!("living-portrait profile frame {}: parameters {:.2} ms", args.time, started.elapsed().as_secs_f64() * 1e3);
        }
        if settings.drive == params::DriveMode::Driver && self.context != Context::General {
            return Err(Error::Failed(
                "Drive mode is \"Driver clip\", but this node was created in the filter context, which has no Driver input; create it in the general context".into(),
            ));
        }
        self.renderer.render(effect, args, &settings).map_err(|e| match e {
            Error::Failed(m) => Error::Failed(format!("frame {}: {m}", args.time)),
            other => other,
        })
    }
}

impl LivingPortrait {
    /// "Bake to keyframes": the current track's targets become keys of
    /// lm00…lm67 at every tracked frame, in one undoable edit; then the drive
    /// mode switches to Keyframes.
    fn bake_keys(&self, effect: &EffectHandle, args: &InstanceChangedArgs) -> Result<()> {
        let settings = Settings::read(effect, args.time)?;
        let progress_on = effect.progress_start("Living Portrait: baking landmark keys");
        let result = self.renderer.bake(effect, args.time, args.render_scale.0.max(1e-6), &settings, &|done, total| {
            !progress_on || effect.progress_update(done as f64 / total.max(1) as f64)
        });
        if progress_on {
            effect.progress_end();
        }
        let keys = result?;
        if keys.is_empty() {
            return Err(Error::Failed("the track has no frames to bake".into()));
        }
        let p = effect.params()?;
        let handles: Vec<Double2DParam> = (0..68).map(|i| p.double2d(&params::lm_name(i))).collect::<Result<_>>()?;
        p.edit_block("Bake landmark keys", || {
            for h in &handles {
                h.0.delete_all_keys()?;
            }
            for (t, pts) in &keys {
                for (h, q) in handles.iter().zip(pts.iter()) {
                    h.set_at(*t, q[0], q[1])?;
                }
            }
            p.choice(params::DRIVE_MODE)?.set(0)
        })?;
        effect.message(MessageLevel::Message, &format!("Living Portrait: baked {} frames into lm00…lm67; Drive mode is now Keyframes.", keys.len())).ok();
        Ok(())
    }

    /// "Clear keys": remove every key of lm00…lm67 and reset them, in one edit
    /// (the node then passes the portrait through in Keyframes mode).
    fn clear_keys(&self, effect: &EffectHandle) -> Result<()> {
        let p = effect.params()?;
        p.edit_block("Clear landmark keys", || {
            for i in 0..68 {
                let h = p.double2d(&params::lm_name(i))?;
                h.0.delete_all_keys()?;
                h.set(0.0, 0.0)?;
            }
            Ok(())
        })
    }

    /// "Detect": the portrait's detected landmarks into srcLm00…srcLm67.
    fn detect_source(&self, effect: &EffectHandle, args: &InstanceChangedArgs) -> Result<()> {
        let settings = Settings::read(effect, args.time)?;
        let pts = self.renderer.source_landmarks(effect, args.time, args.render_scale.0.max(1e-6), &settings)?;
        let p = effect.params()?;
        p.edit_block("Detect portrait landmarks", || {
            for (i, q) in pts.iter().enumerate() {
                p.double2d(&params::src_lm_name(i))?.set(q[0], q[1])?;
            }
            Ok(())
        })
    }

    /// "Browse…": a file dialog for the track file. OFX has no file dialog, so
    /// this runs the platform's own (zenity or kdialog on Linux, osascript on
    /// macOS, PowerShell on Windows); `LIVING_PORTRAIT_BROWSE_COMMAND` replaces
    /// it (a command whose first output line is the path).
    fn browse_track(&self, effect: &EffectHandle) -> Result<()> {
        match crate::browse::choose_file("Choose a landmark track") {
            Ok(Some(path)) => effect.params()?.string(params::TRACK_FILE)?.set(&path),
            Ok(None) => Ok(()),
            Err(e) => {
                effect.message(MessageLevel::Warning, &format!("Living Portrait: {e}. Type the track file's path into Track file instead.")).ok();
                Ok(())
            }
        }
    }

    /// Analyse the portrait (cached by content, so the render that follows
    /// finds it done) and say in the read-only "Faces found" line how many
    /// faces it has and which is animated. Parameters may be set from
    /// instance changed (not from a render), as the device line is.
    fn update_faces_line(&self, effect: &EffectHandle, args: &InstanceChangedArgs) {
        let line = Settings::read(effect, args.time)
            .and_then(|s| self.renderer.faces_line(effect, args.time, args.render_scale.0.max(1e-6), &s))
            .unwrap_or_else(|e| format!("not analysed: {e}"));
        if let Ok(sp) = effect.params().and_then(|p| p.string(params::FACES_FOUND)) {
            let _ = sp.set(&line);
        }
    }

    /// Load the runtime for the chosen device and show what runs in the
    /// read-only device line; warn once (persistently) when GPU was asked for
    /// and cannot run.
    fn update_device_line(&self, effect: &EffectHandle, time: f64) {
        let Ok(p) = effect.params() else { return };
        let device = params::device(&p, time).unwrap_or_default();
        let line = match self.renderer.device_report(device) {
            Ok(r) => {
                if let Some(warning) = r.fallback_warning() {
                    let _ = effect.set_persistent_message(MessageLevel::Warning, &warning);
                }
                r.summary()
            }
            Err(e) => format!("unavailable: {e}"),
        };
        if let Ok(sp) = p.string(params::DEVICE_INFO) {
            let _ = sp.set(&line);
        }
    }
}
