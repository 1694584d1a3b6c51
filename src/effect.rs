//! The "Living Portrait" effect: description, clips, instance, render.
//!
//! At this stage the render copies `Source` to `Output` exactly, honouring the
//! render window, the action's render scale, output bounds that differ from the
//! region of definition, negative row strides, and every depth/component pair.
//! Every render is a pure function of (time, inputs): no state is carried
//! between render calls, so frames can be rendered in any order or at once.

use ofx::plugin::*;
use ofx::{Error, Result};

use crate::pixels;

/// The stable OFX identifier (saved scenes refer to it).
pub const PLUGIN_ID: &str = "org.livingportrait.LivingPortrait";

/// Clip names (stable).
pub mod clips {
    /// The portrait (a still or a few reference frames).
    pub const SOURCE: &str = "Source";
    /// A video of a performing face (general context only).
    pub const DRIVER: &str = "Driver";
    /// The result.
    pub const OUTPUT: &str = "Output";
}

/// The effect instance.
pub struct LivingPortrait {
    context: Context,
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
        Ok(())
    }

    fn describe_in_context(desc: &EffectDescriptor, context: Context) -> Result<()> {
        let comps = [Components::Rgba, Components::Rgb];
        desc.define_clip(clips::SOURCE, &comps, false)?;
        if context == Context::General {
            desc.define_clip(clips::DRIVER, &comps, true)?;
        }
        desc.define_clip(clips::OUTPUT, &comps, false)?;
        Ok(())
    }

    fn create_instance(effect: &EffectHandle) -> Result<Self> {
        Ok(LivingPortrait { context: effect.context() })
    }

    fn render(&self, effect: &EffectHandle, args: &RenderArgs) -> Result<()> {
        Self::injected_fault()?;
        let _ = self.context;
        let out_clip = effect.clip(clips::OUTPUT)?;
        let mut out = out_clip
            .image(args.time, None)?
            .ok_or_else(|| Error::Failed(format!("the host gave no output image at frame {}", args.time)))?;
        let src = effect.clip(clips::SOURCE)?.image(args.time, None)?;
        copy_window(src.as_ref(), &mut out, args.window, effect)
    }
}

/// Copy the render window of `src` into `out`, converting formats; pixels the
/// source does not cover are transparent black.
fn copy_window(src: Option<&Image>, out: &mut Image, window: RectI, effect: &EffectHandle) -> Result<()> {
    let dst_layout = out.layout();
    let win = window.intersect(&dst_layout.bounds);
    if win.is_empty() {
        return Ok(());
    }
    let src_layout = src.map(|s| s.layout());
    let mut scratch = Vec::new();
    let zero = vec![[0.0f32; 4]; win.width()];
    for (y, row) in out.rows_mut() {
        if y < win.y1 || y >= win.y2 {
            continue;
        }
        if (y - win.y1) % 64 == 0 && effect.aborted() {
            return Err(Error::Aborted);
        }
        let dpb = dst_layout.pixel_bytes();
        let dst_off = (win.x1 - dst_layout.bounds.x1) as usize * dpb;
        let dst = &mut row[dst_off..dst_off + win.width() * dpb];
        pixels::rgba_to_row(&zero, &dst_layout, dst);
        let (Some(s), Some(sl)) = (src, src_layout) else { continue };
        let Some(srow) = s.row(y) else { continue };
        let span = win.intersect(&RectI { x1: sl.bounds.x1, y1: y, x2: sl.bounds.x2, y2: y + 1 });
        if span.is_empty() {
            continue;
        }
        let spb = sl.pixel_bytes();
        let s_off = (span.x1 - sl.bounds.x1) as usize * spb;
        let d_off = (span.x1 - win.x1) as usize * dpb;
        pixels::convert_row(&srow[s_off..], &sl, &mut dst[d_off..], &dst_layout, &mut scratch, span.width());
    }
    Ok(())
}
