//! Rendering on an instance, in the order real hosts use: clip preferences →
//! (begin sequence) → per frame: region of definition → regions of interest →
//! is identity → render (the window possibly split into horizontal bands
//! rendered concurrently, and frames possibly rendered concurrently) → (end
//! sequence). Concurrency is bounded by the plugin's declared render thread
//! safety and sequential-render flag. The output buffer of a frame is allocated
//! by the host (optionally padded and with negative row bytes) and converted
//! back to a float [`HostImage`] of the render window.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::image_effect::*;

use super::effect::FrameTarget;
use super::error::{HostError, HostResult};
use super::host::HostQuirks;
use super::image::{Components, Depth, HostImage, PixelBuffer, RectI};
use super::instance::Instance;
use super::plugin::GLOBAL_RENDER_LOCK;
use super::props::*;

/// What to render.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderRequest {
    /// Render scale (same in x and y); 0.5 renders at half resolution.
    pub scale: f64,
    /// Render window in pixels at that scale; None = the whole region of definition.
    pub window: Option<RectI>,
    /// Output depth asked of the plugin (it may pick another in clip preferences).
    pub depth: Depth,
    /// Output components asked of the plugin.
    pub components: Components,
    /// Split the window into this many horizontal bands rendered concurrently
    /// (1 = whole window in one call). In Natron mode at least `threads` bands.
    pub split_bands: usize,
}

impl Default for RenderRequest {
    fn default() -> Self {
        RenderRequest {
            scale: 1.0,
            window: None,
            depth: Depth::Float,
            components: Components::Rgba,
            split_bands: 1,
        }
    }
}

/// The plugin's declared render thread safety.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Safety {
    Unsafe,
    InstanceSafe,
    FullySafe,
}

impl Instance {
    fn safety(&self) -> Safety {
        let s = self.effect.props.string(kOfxImageEffectPluginRenderThreadSafety, 0).unwrap_or_default();
        if s == kOfxImageEffectRenderUnsafe.to_string_lossy() {
            Safety::Unsafe
        } else if s == kOfxImageEffectRenderFullySafe.to_string_lossy() {
            Safety::FullySafe
        } else {
            Safety::InstanceSafe
        }
    }

    /// True when the plugin requires frames in order on one thread.
    fn needs_sequential(&self) -> bool {
        self.effect.props.int(kOfxImageEffectInstancePropSequentialRender, 0) == Some(1)
    }

    fn check_request(req: &RenderRequest) -> HostResult<()> {
        if !(req.scale.is_finite() && req.scale > 0.0) {
            return Err(HostError::Other(format!("The render scale {} is not a positive number", req.scale)));
        }
        Ok(())
    }

    /// Renders one frame: begin sequence, render, end sequence.
    pub fn render_frame(&mut self, time: f64, req: &RenderRequest) -> HostResult<HostImage> {
        Self::check_request(req)?;
        self.clip_preferences(req.depth, req.components)?;
        self.sequence_action(kOfxImageEffectActionBeginSequenceRender, time, time, req, false)?;
        let result = self.render_one(time, req, false);
        let end = self.sequence_action(kOfxImageEffectActionEndSequenceRender, time, time, req, false);
        self.collect_leaks("render (image fetched on a thread the host did not start)", Some(0));
        let img = result?;
        end?;
        Ok(img)
    }

    /// Renders `frames` (in that order of priority; a reversed list renders
    /// backwards) between one begin/end sequence pair, on up to `threads`
    /// threads when the plugin allows (one thread, in order, when it asks for
    /// sequential rendering). Results come back in the order of `frames`.
    pub fn render_sequence(&mut self, frames: &[i32], threads: usize, req: &RenderRequest) -> HostResult<Vec<(i32, HostImage)>> {
        let results: Mutex<Vec<(usize, i32, HostImage)>> = Mutex::new(Vec::new());
        let order: std::collections::HashMap<i32, usize> = frames.iter().enumerate().map(|(i, f)| (*f, i)).collect();
        self.render_sequence_with(frames, threads, req, |f, img| {
            results.lock().push((order.get(&f).copied().unwrap_or(usize::MAX), f, img));
            Ok(())
        })?;
        let mut r = results.into_inner();
        r.sort_by_key(|(i, _, _)| *i);
        Ok(r.into_iter().map(|(_, f, img)| (f, img)).collect())
    }

    /// Like [`render_sequence`](Self::render_sequence) but hands each frame
    /// to `sink` as soon as it is rendered (from the rendering thread), so long
    /// sequences need not be held in memory. The first error (from the plugin
    /// or from `sink`) stops the remaining frames; end sequence is still sent.
    pub fn render_sequence_with<F>(&mut self, frames: &[i32], threads: usize, req: &RenderRequest, sink: F) -> HostResult<()>
    where
        F: Fn(i32, HostImage) -> HostResult<()> + Sync,
    {
        self.render_sequence_timed(frames, threads, req, |f, img, _| sink(f, img))
    }

    /// Like [`render_sequence_with`](Self::render_sequence_with), and also
    /// hands `sink` the time the host's render of that frame took (region of
    /// definition, regions of interest, is identity, the render action and the
    /// conversion of the output to a [`HostImage`]; not the begin and end
    /// sequence actions, and not the sink itself). Used by benchmarks.
    pub fn render_sequence_timed<F>(&mut self, frames: &[i32], threads: usize, req: &RenderRequest, sink: F) -> HostResult<()>
    where
        F: Fn(i32, HostImage, Duration) -> HostResult<()> + Sync,
    {
        Self::check_request(req)?;
        if frames.is_empty() {
            return Ok(());
        }
        self.clip_preferences(req.depth, req.components)?;
        let sequential = self.needs_sequential();
        let threads = if sequential { 1 } else { threads.max(1).min(frames.len()) };
        let (first, last) = (
            *frames.iter().min().unwrap_or(&0) as f64,
            *frames.iter().max().unwrap_or(&0) as f64,
        );
        self.sequence_action(kOfxImageEffectActionBeginSequenceRender, first, last, req, sequential)?;
        let error: Mutex<Option<HostError>> = Mutex::new(None);
        let next = AtomicUsize::new(0);
        let this: &Instance = self;
        let worker = || loop {
            if error.lock().is_some() {
                break;
            }
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(&f) = frames.get(i) else { break };
            let start = Instant::now();
            let rendered = this.render_one(f as f64, req, sequential);
            let took = start.elapsed();
            if let Err(e) = rendered.and_then(|img| sink(f, img, took)) {
                error.lock().get_or_insert(e);
            }
        };
        if threads == 1 {
            worker();
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(worker);
                }
            });
        }
        let end = self.sequence_action(kOfxImageEffectActionEndSequenceRender, first, last, req, sequential);
        self.collect_leaks("render (image fetched on a thread the host did not start)", Some(0));
        if let Some(e) = error.into_inner() {
            return Err(e);
        }
        end
    }

    fn sequence_action(&self, action: &std::ffi::CStr, first: f64, last: f64, req: &RenderRequest, sequential: bool) -> HostResult<()> {
        let a = PropertySet::new_read_only("sequence render inArgs");
        a.define(kOfxImageEffectPropFrameRange, PropValue::Double(vec![first, last]));
        a.define(kOfxImageEffectPropFrameStep, pdbl(1.0));
        a.define(kOfxPropIsInteractive, pint(0));
        a.define(kOfxImageEffectPropRenderScale, PropValue::Double(vec![req.scale, req.scale]));
        a.define(kOfxImageEffectPropSequentialRenderStatus, pint(sequential as i32));
        a.define(kOfxImageEffectPropInteractiveRenderStatus, pint(0));
        *self.rt().scale.lock() = req.scale;
        self.action(action, Some(&a), None, Some(first), Some(req.scale)).map(|_| ())
    }

    /// Default region of definition: union of the connected inputs, or the
    /// project extent without any.
    fn default_rod(&self, time: f64) -> OfxRectD {
        let mut rod: Option<OfxRectD> = None;
        for c in self.effect.clips.read().iter().filter(|c| !c.is_output) {
            if let Some(r) = c.input_rod(time) {
                rod = Some(match rod {
                    None => r,
                    Some(u) => OfxRectD {
                        x1: u.x1.min(r.x1),
                        y1: u.y1.min(r.y1),
                        x2: u.x2.max(r.x2),
                        y2: u.y2.max(r.y2),
                    },
                });
            }
        }
        let (w, h) = self.plugin.host.options.project_size;
        rod.unwrap_or(OfxRectD { x1: 0.0, y1: 0.0, x2: w, y2: h })
    }

    /// kOfxImageEffectActionGetRegionOfDefinition (canonical).
    pub fn region_of_definition(&self, time: f64, scale: f64) -> HostResult<OfxRectD> {
        let default = self.default_rod(time);
        let a = PropertySet::new_read_only("region of definition inArgs");
        a.define(kOfxPropTime, pdbl(time));
        a.define(kOfxImageEffectPropRenderScale, PropValue::Double(vec![scale, scale]));
        let out = PropertySet::new("region of definition outArgs", true);
        out.define(kOfxImageEffectPropRegionOfDefinition, PropValue::Double(vec![default.x1, default.y1, default.x2, default.y2]));
        let st = self.action(kOfxImageEffectActionGetRegionOfDefinition, Some(&a), Some(&out), Some(time), Some(scale))?;
        let rod = match (st, out.doubles(kOfxImageEffectPropRegionOfDefinition)) {
            (kOfxStatOK, Some(v)) if v.len() == 4 && v.iter().all(|x| x.is_finite()) => OfxRectD {
                x1: v[0],
                y1: v[1],
                x2: v[2],
                y2: v[3],
            },
            _ => default,
        };
        self.rt().rod_cache.lock().insert(time.to_bits(), rod);
        Ok(rod)
    }

    /// Renders one frame (no begin/end sequence).
    fn render_one(&self, time: f64, req: &RenderRequest, sequential: bool) -> HostResult<HostImage> {
        let s = req.scale;
        if (s - 1.0).abs() > 1e-9 && self.effect.props.int(kOfxImageEffectPropSupportsMultiResolution, 0) == Some(0) {
            return Err(HostError::Other(format!(
                "The plugin does not support render scales other than 1 (kOfxImageEffectPropSupportsMultiResolution is 0), so it cannot render at scale {s}"
            )));
        }
        let rod = self.clamp_infinite(self.region_of_definition(time, s)?);
        // Pixels are `pixel_aspect` canonical units wide.
        let par = self.effect.host.options.pixel_aspect;
        let rod_px = RectI::from_canonical(&OfxRectD { x1: rod.x1 / par, y1: rod.y1, x2: rod.x2 / par, y2: rod.y2 }, s);
        let wanted = req.window.unwrap_or(rod_px);
        // Without tile support the plugin must get whole frames: render the
        // full region of definition and crop to the window afterwards.
        let tiles = self.effect.props.int(kOfxImageEffectPropSupportsTiles, 0) != Some(0);
        let window = if tiles { wanted } else { rod_px };
        if window.is_empty() || wanted.is_empty() {
            return Err(HostError::Other(format!(
                "Nothing to render at time {time}: the render window {:?} is empty",
                window.to_ofx()
            )));
        }
        self.regions_of_interest(time, s, window)?;
        let out_clip = self
            .effect
            .clip(&kOfxImageEffectOutputClipName.to_string_lossy())
            .ok_or_else(|| HostError::UnknownClip("Output".into()))?;
        let (depth, comps) = (out_clip.depth(), out_clip.components());
        if self.plugin.host.options.call_is_identity {
            if let Some(img) = self.identity(time, s, wanted, depth, comps)? {
                return Ok(img);
            }
        }
        let opts = &self.plugin.host.options;
        let bounds = window.padded(opts.pad_output_bounds as i32);
        let buffer = PixelBuffer::new(bounds, depth, comps, opts.negative_row_bytes)
            .ok_or_else(|| HostError::Other(format!("Could not allocate an output image of {}x{} pixels", bounds.width(), bounds.height())))?;
        let target = Arc::new(FrameTarget { buffer, rod: rod_px, scale: s });
        self.rt().targets.lock().insert(time.to_bits(), target.clone());
        let bands = if tiles { self.bands(window, req) } else { vec![window] };
        let result = if bands.len() == 1 {
            self.render_action(time, s, bands[0], sequential)
        } else {
            let errors: Mutex<Vec<HostError>> = Mutex::new(Vec::new());
            std::thread::scope(|sc| {
                for band in &bands {
                    let errors = &errors;
                    sc.spawn(move || {
                        if let Err(e) = self.render_action(time, s, *band, sequential) {
                            errors.lock().push(e);
                        }
                    });
                }
            });
            match errors.into_inner().into_iter().next() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        };
        self.rt().targets.lock().remove(&time.to_bits());
        result?;
        Ok(target.buffer.to_host_image(wanted))
    }

    /// An infinite region of definition (`kOfxFlagInfinite*`, or anything
    /// absurdly large) is clipped to the project extent so that it can be
    /// allocated.
    fn clamp_infinite(&self, r: OfxRectD) -> OfxRectD {
        const HUGE: f64 = 1e7;
        let (w, h) = self.plugin.host.options.project_size;
        OfxRectD {
            x1: if r.x1 <= -HUGE { 0.0 } else { r.x1 },
            y1: if r.y1 <= -HUGE { 0.0 } else { r.y1 },
            x2: if r.x2 >= HUGE { w } else { r.x2 },
            y2: if r.y2 >= HUGE { h } else { r.y2 },
        }
    }

    /// The horizontal bands of a window.
    fn bands(&self, window: RectI, req: &RenderRequest) -> Vec<RectI> {
        let opts = &self.plugin.host.options;
        let mut n = req.split_bands.max(1);
        if opts.quirks == HostQuirks::Natron {
            n = n.max(opts.thread_count());
        }
        let h = window.height();
        let n = n.min(h.max(1));
        (0..n)
            .map(|i| {
                let y1 = window.y1 + (h * i / n) as i32;
                let y2 = window.y1 + (h * (i + 1) / n) as i32;
                RectI::new(window.x1, y1, window.x2, y2)
            })
            .collect()
    }

    /// One kOfxImageEffectActionRender call under the plugin's thread-safety lock.
    fn render_action(&self, time: f64, s: f64, window: RectI, sequential: bool) -> HostResult<()> {
        let a = PropertySet::new_read_only("render inArgs");
        a.define(kOfxPropTime, pdbl(time));
        a.define(kOfxImageEffectPropFieldToRender, pstr(kOfxImageFieldNone));
        a.define(kOfxImageEffectPropRenderWindow, PropValue::Int(window.to_ofx().to_vec()));
        a.define(kOfxImageEffectPropRenderScale, PropValue::Double(vec![s, s]));
        a.define(kOfxImageEffectPropSequentialRenderStatus, pint(sequential as i32));
        a.define(kOfxImageEffectPropInteractiveRenderStatus, pint(0));
        a.define(kOfxImageEffectPropRenderQualityDraft, pint(0));
        let call = || {
            let started = Instant::now();
            let r = self.action(kOfxImageEffectActionRender, Some(&a), None, Some(time), Some(s)).map(|_| ());
            self.rt().render_action_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            r
        };
        match self.safety() {
            Safety::Unsafe => {
                let _g = GLOBAL_RENDER_LOCK.lock();
                call()
            }
            Safety::InstanceSafe => {
                let _g = self.render_lock.lock();
                call()
            }
            Safety::FullySafe => call(),
        }
    }

    /// kOfxImageEffectActionGetRegionsOfInterest; the answers are recorded.
    fn regions_of_interest(&self, time: f64, s: f64, window: RectI) -> HostResult<()> {
        let par = self.effect.host.options.pixel_aspect;
        let roi = window.to_canonical(s);
        let roi = OfxRectD { x1: roi.x1 * par, y1: roi.y1, x2: roi.x2 * par, y2: roi.y2 };
        let rect = |r: &OfxRectD| PropValue::Double(vec![r.x1, r.y1, r.x2, r.y2]);
        let a = PropertySet::new_read_only("regions of interest inArgs");
        a.define(kOfxPropTime, pdbl(time));
        a.define(kOfxImageEffectPropRenderScale, PropValue::Double(vec![s, s]));
        a.define(kOfxImageEffectPropRegionOfInterest, rect(&roi));
        let out = PropertySet::new("regions of interest outArgs", true);
        let inputs: Vec<String> = self.effect.clips.read().iter().filter(|c| !c.is_output).map(|c| c.name.clone()).collect();
        for name in &inputs {
            out.define_str(&format!("OfxImageClipPropRoI_{name}"), rect(&roi));
        }
        self.action(kOfxImageEffectActionGetRegionsOfInterest, Some(&a), Some(&out), Some(time), Some(s))?;
        let mut rois = self.last_rois.lock();
        rois.clear();
        for name in inputs {
            if let Some(PropValue::Double(v)) = out.get_str(&format!("OfxImageClipPropRoI_{name}")) {
                if v.len() == 4 {
                    rois.insert(name, OfxRectD { x1: v[0], y1: v[1], x2: v[2], y2: v[3] });
                }
            }
        }
        Ok(())
    }

    /// kOfxImageEffectActionIsIdentity: Some(image) when the plugin names an
    /// input to pass through.
    fn identity(&self, time: f64, s: f64, window: RectI, depth: Depth, comps: Components) -> HostResult<Option<HostImage>> {
        let a = PropertySet::new_read_only("is identity inArgs");
        a.define(kOfxPropTime, pdbl(time));
        a.define(kOfxImageEffectPropFieldToRender, pstr(kOfxImageFieldNone));
        a.define(kOfxImageEffectPropRenderWindow, PropValue::Int(window.to_ofx().to_vec()));
        a.define(kOfxImageEffectPropRenderScale, PropValue::Double(vec![s, s]));
        let out = PropertySet::new("is identity outArgs", true);
        out.define(kOfxPropName, pstring(""));
        out.define(kOfxPropTime, pdbl(time));
        let st = self.action(kOfxImageEffectActionIsIdentity, Some(&a), Some(&out), Some(time), Some(s))?;
        let name = out.string(kOfxPropName, 0).unwrap_or_default();
        if st != kOfxStatOK || name.is_empty() {
            return Ok(None);
        }
        let clip = self.effect.clip(&name).filter(|c| !c.is_output).ok_or_else(|| HostError::UnknownClip(name.clone()))?;
        let src_time = out.double(kOfxPropTime, 0).unwrap_or(time);
        let input = clip.input.read().clone();
        let Some(input) = input else {
            // Identity on an unconnected input: transparent black.
            return Ok(Some(HostImage {
                components: comps,
                ..empty_window(window)
            }));
        };
        let Some((img, _)) = input.at(src_time) else {
            return Err(HostError::Other(format!("The plugin asked for clip '{name}' at time {src_time}, which has no image")));
        };
        let mut pb = PixelBuffer::new(window, depth, comps, false)
            .ok_or_else(|| HostError::Other("Could not allocate the identity output image".into()))?;
        pb.fill_from(&img.scaled(s));
        Ok(Some(pb.to_host_image(window)))
    }
}

fn empty_window(window: RectI) -> HostImage {
    HostImage {
        x1: window.x1,
        y1: window.y1,
        width: window.width() as u32,
        height: window.height() as u32,
        components: Components::Rgba,
        pixels: vec![0.0; window.width() * window.height() * 4],
    }
}
