//! Painters: how an overlay draws, whatever the host offers.
//!
//! An [`Overlay`](super::Overlay) draws through the [`Painter`] trait, in
//! canonical coordinates. The entry point picks the implementation per draw
//! action:
//!
//! * the OFX 1.5 Draw Suite (`DrawSuitePainter`) when the action carries a
//!   `kOfxInteractPropDrawContext` and the host served `OfxDrawSuiteV1`
//!   (the suite has no point primitive: a point is a filled square of the point
//!   size in screen pixels, sized through the pixel scale);
//! * legacy OpenGL immediate mode (`GlPainter`) otherwise, which is the OFX
//!   contract for overlay interacts V1: the host has made its GL context current.
//!   The GL functions are loaded at run time from the system's GL library
//!   (`libGL.so.1`, the macOS OpenGL framework, `opengl32.dll`), never linked,
//!   so the plugin loads on machines without GL. When the library, a symbol or a
//!   current context is missing, drawing is skipped silently: an overlay must
//!   never take the host down.
//!
//! [`RecordingPainter`] keeps the calls, for testing an effect's drawing
//! without a host.

use std::ffi::c_void;

use once_cell::sync::OnceCell;
use openfx::sys::generic::core::OfxPointD;
use openfx::sys::image_effect_v1::draw_suite::*;
use openfx::sys::image_effect_v1::pixels::OfxRGBAColourF;

/// What an overlay draws with. Coordinates are canonical (full-resolution
/// pixels of the project); sizes (line width, point size) are screen pixels.
pub trait Painter {
    /// Colour of what follows (straight RGBA, 0..1).
    fn colour(&mut self, r: f32, g: f32, b: f32, a: f32);
    /// Width of the lines that follow, in screen pixels.
    fn line_width(&mut self, w: f32);
    /// Size of the points that follow, in screen pixels.
    fn point_size(&mut self, s: f32);
    /// Draw points.
    fn points(&mut self, pts: &[[f64; 2]]);
    /// Draw a line through `pts`; `closed` joins the last point to the first.
    fn polyline(&mut self, pts: &[[f64; 2]], closed: bool);
}

/// One call recorded by [`RecordingPainter`].
#[derive(Debug, Clone, PartialEq)]
pub enum PaintCommand {
    /// [`Painter::colour`].
    Colour([f32; 4]),
    /// [`Painter::line_width`].
    LineWidth(f32),
    /// [`Painter::point_size`].
    PointSize(f32),
    /// [`Painter::points`].
    Points(Vec<[f64; 2]>),
    /// [`Painter::polyline`].
    Polyline {
        /// The points.
        points: Vec<[f64; 2]>,
        /// Whether the line is closed.
        closed: bool,
    },
}

/// A painter that records every call (for tests of an effect's drawing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordingPainter {
    /// The calls, in order.
    pub commands: Vec<PaintCommand>,
}

impl Painter for RecordingPainter {
    fn colour(&mut self, r: f32, g: f32, b: f32, a: f32) {
        self.commands.push(PaintCommand::Colour([r, g, b, a]));
    }
    fn line_width(&mut self, w: f32) {
        self.commands.push(PaintCommand::LineWidth(w));
    }
    fn point_size(&mut self, s: f32) {
        self.commands.push(PaintCommand::PointSize(s));
    }
    fn points(&mut self, pts: &[[f64; 2]]) {
        self.commands.push(PaintCommand::Points(pts.to_vec()));
    }
    fn polyline(&mut self, pts: &[[f64; 2]], closed: bool) {
        self.commands.push(PaintCommand::Polyline { points: pts.to_vec(), closed });
    }
}

/// A painter that draws nothing (no draw context and no usable OpenGL).
pub(crate) struct NullPainter;

impl Painter for NullPainter {
    fn colour(&mut self, _: f32, _: f32, _: f32, _: f32) {}
    fn line_width(&mut self, _: f32) {}
    fn point_size(&mut self, _: f32) {}
    fn points(&mut self, _: &[[f64; 2]]) {}
    fn polyline(&mut self, _: &[[f64; 2]], _: bool) {}
}

/// Draws through the host's `OfxDrawSuiteV1` into one draw context.
pub(crate) struct DrawSuitePainter {
    suite: &'static OfxDrawSuiteV1,
    context: OfxDrawContextHandle,
    /// Canonical units per screen pixel, to size points.
    pixel_scale: (f64, f64),
    point_size: f32,
}

impl DrawSuitePainter {
    /// A painter on `context`, valid during the draw action that gave it.
    pub(crate) fn new(suite: &'static OfxDrawSuiteV1, context: OfxDrawContextHandle, pixel_scale: (f64, f64)) -> Self {
        DrawSuitePainter { suite, context, pixel_scale, point_size: 1.0 }
    }

    fn primitive(&self, kind: OfxDrawPrimitive, pts: &[OfxPointD]) {
        let Some(draw) = self.suite.draw else { return };
        if pts.is_empty() || pts.len() > i32::MAX as usize {
            return;
        }
        // SAFETY: `draw` is the host's function for the context it handed to
        // this draw action; `pts` is a live array of `pts.len()` points. A
        // failure status only means nothing was drawn.
        let _ = unsafe { draw(self.context, kind, pts.as_ptr(), pts.len() as i32) };
    }
}

impl Painter for DrawSuitePainter {
    fn colour(&mut self, r: f32, g: f32, b: f32, a: f32) {
        if let Some(f) = self.suite.setColour {
            let c = OfxRGBAColourF { r, g, b, a };
            // SAFETY: host function and context of this draw action; `c` lives
            // for the call.
            let _ = unsafe { f(self.context, &c) };
        }
    }
    fn line_width(&mut self, w: f32) {
        if let Some(f) = self.suite.setLineWidth {
            // SAFETY: host function and context of this draw action.
            let _ = unsafe { f(self.context, w) };
        }
    }
    fn point_size(&mut self, s: f32) {
        self.point_size = s;
    }
    fn points(&mut self, pts: &[[f64; 2]]) {
        // The suite has no points: a filled square of `point_size` screen pixels.
        let size = f64::from(self.point_size.max(1.0));
        let (hx, hy) = (0.5 * size * self.pixel_scale.0, 0.5 * size * self.pixel_scale.1);
        for p in pts {
            let corners = [OfxPointD { x: p[0] - hx, y: p[1] - hy }, OfxPointD { x: p[0] + hx, y: p[1] + hy }];
            self.primitive(kOfxDrawPrimitiveRectangle, &corners);
        }
    }
    fn polyline(&mut self, pts: &[[f64; 2]], closed: bool) {
        if pts.len() < 2 {
            return;
        }
        let v: Vec<OfxPointD> = pts.iter().map(|p| OfxPointD { x: p[0], y: p[1] }).collect();
        self.primitive(if closed { kOfxDrawPrimitiveLineLoop } else { kOfxDrawPrimitiveLineStrip }, &v);
    }
}

// --- OpenGL, loaded at run time ---

const GL_POINTS: u32 = 0x0000;
const GL_LINE_LOOP: u32 = 0x0002;
const GL_LINE_STRIP: u32 = 0x0003;
const GL_CURRENT_BIT: u32 = 0x0001;
const GL_POINT_BIT: u32 = 0x0002;
const GL_LINE_BIT: u32 = 0x0004;

// GL functions use the platform's "system" ABI (stdcall on 32-bit Windows).
type GlColor4f = unsafe extern "system" fn(f32, f32, f32, f32);
type GlFloat = unsafe extern "system" fn(f32);
type GlEnum = unsafe extern "system" fn(u32);
type GlVoid = unsafe extern "system" fn();
type GlVertex2d = unsafe extern "system" fn(f64, f64);
type CurrentContext = unsafe extern "system" fn() -> *mut c_void;

/// The GL library and the context query to use with it.
#[cfg(target_os = "macos")]
const GL_LIBRARIES: &[(&str, &str)] = &[("/System/Library/Frameworks/OpenGL.framework/OpenGL", "CGLGetCurrentContext")];
#[cfg(windows)]
const GL_LIBRARIES: &[(&str, &str)] = &[("opengl32.dll", "wglGetCurrentContext")];
// GLX hosts, then EGL hosts (Wayland, some Qt builds): either context works
// with libGL's dispatch.
#[cfg(all(unix, not(target_os = "macos")))]
const GL_LIBRARIES: &[(&str, &str)] = &[("libGL.so.1", "glXGetCurrentContext"), ("libEGL.so.1", "eglGetCurrentContext")];

/// The few GL 1.1 functions an overlay uses, resolved once per process.
struct Gl {
    color4f: GlColor4f,
    line_width: GlFloat,
    point_size: GlFloat,
    begin: GlEnum,
    end: GlVoid,
    vertex2d: GlVertex2d,
    push_attrib: Option<GlEnum>,
    pop_attrib: Option<GlVoid>,
    current_context: Vec<CurrentContext>,
    // Kept loaded for the life of the process: the pointers above point into them.
    _libraries: Vec<libloading::Library>,
}

static GL: OnceCell<Option<Gl>> = OnceCell::new();

/// Resolve `name` in `lib` as a function of type `T` (a fn pointer type).
///
/// # Safety
/// `T` must be the C signature of the symbol `name`.
unsafe fn symbol<T: Copy>(lib: &libloading::Library, name: &str) -> Option<T> {
    // SAFETY: guaranteed by the caller; the library outlives every use because
    // `Gl` keeps it loaded.
    unsafe { lib.get::<T>(name.as_bytes()).ok().map(|s| *s) }
}

fn load_gl() -> Option<Gl> {
    let mut libraries = Vec::new();
    let mut current_context = Vec::new();
    for (path, query) in GL_LIBRARIES {
        // SAFETY: loading the system GL (or EGL) library runs its initialisers,
        // which only set up dispatch tables.
        let Ok(lib) = (unsafe { libloading::Library::new(*path) }) else { continue };
        // SAFETY: the context queries take nothing and return a pointer.
        if let Some(q) = unsafe { symbol::<CurrentContext>(&lib, query) } {
            current_context.push(q);
        }
        libraries.push(lib);
    }
    let gl = libraries.first()?;
    // SAFETY: each type alias is the GL 1.1 signature of the symbol named.
    let gl = unsafe {
        Gl {
            color4f: symbol(gl, "glColor4f")?,
            line_width: symbol(gl, "glLineWidth")?,
            point_size: symbol(gl, "glPointSize")?,
            begin: symbol(gl, "glBegin")?,
            end: symbol(gl, "glEnd")?,
            vertex2d: symbol(gl, "glVertex2d")?,
            push_attrib: symbol(gl, "glPushAttrib"),
            pop_attrib: symbol(gl, "glPopAttrib"),
            current_context,
            _libraries: Vec::new(),
        }
    };
    if gl.current_context.is_empty() {
        // Without a way to see a current context, GL calls could crash (macOS).
        return None;
    }
    Some(Gl { _libraries: libraries, ..gl })
}

/// Draws with OpenGL immediate mode into the host's current context.
/// Created only when GL is loaded and a context is current; restores the GL
/// state it changes (colour, line width, point size) when dropped.
pub(crate) struct GlPainter {
    gl: &'static Gl,
}

impl GlPainter {
    /// A painter when a GL context is current on this thread, else `None`.
    pub(crate) fn begin() -> Option<GlPainter> {
        let gl = GL.get_or_init(load_gl).as_ref()?;
        // SAFETY: the context queries take no argument and only read
        // thread-local state.
        let current = gl.current_context.iter().any(|q| !unsafe { q() }.is_null());
        if !current {
            return None;
        }
        if let Some(push) = gl.push_attrib {
            // SAFETY: a GL context is current on this thread.
            unsafe { push(GL_CURRENT_BIT | GL_LINE_BIT | GL_POINT_BIT) };
        }
        Some(GlPainter { gl })
    }

    fn vertices(&self, mode: u32, pts: &[[f64; 2]]) {
        // SAFETY: a GL context is current (checked in `begin`); begin/end are
        // balanced and only vertices are given between them.
        unsafe {
            (self.gl.begin)(mode);
            for p in pts {
                (self.gl.vertex2d)(p[0], p[1]);
            }
            (self.gl.end)();
        }
    }
}

impl Drop for GlPainter {
    fn drop(&mut self) {
        if let (Some(_), Some(pop)) = (self.gl.push_attrib, self.gl.pop_attrib) {
            // SAFETY: balances the push in `begin`, in the same context.
            unsafe { pop() };
        }
    }
}

impl Painter for GlPainter {
    fn colour(&mut self, r: f32, g: f32, b: f32, a: f32) {
        // SAFETY: a GL context is current (checked in `begin`).
        unsafe { (self.gl.color4f)(r, g, b, a) };
    }
    fn line_width(&mut self, w: f32) {
        // SAFETY: as above.
        unsafe { (self.gl.line_width)(w.max(0.1)) };
    }
    fn point_size(&mut self, s: f32) {
        // SAFETY: as above.
        unsafe { (self.gl.point_size)(s.max(0.1)) };
    }
    fn points(&mut self, pts: &[[f64; 2]]) {
        if !pts.is_empty() {
            self.vertices(GL_POINTS, pts);
        }
    }
    fn polyline(&mut self, pts: &[[f64; 2]], closed: bool) {
        if pts.len() >= 2 {
            self.vertices(if closed { GL_LINE_LOOP } else { GL_LINE_STRIP }, pts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_painter_keeps_calls_in_order() {
        let mut p = RecordingPainter::default();
        p.colour(1.0, 0.0, 0.0, 1.0);
        p.points(&[[1.0, 2.0]]);
        p.polyline(&[[0.0, 0.0], [1.0, 1.0]], true);
        assert_eq!(
            p.commands,
            vec![
                PaintCommand::Colour([1.0, 0.0, 0.0, 1.0]),
                PaintCommand::Points(vec![[1.0, 2.0]]),
                PaintCommand::Polyline { points: vec![[0.0, 0.0], [1.0, 1.0]], closed: true },
            ]
        );
    }

    #[test]
    fn without_a_current_context_opengl_is_skipped() {
        // No GL context exists in a test process (and maybe no GL library).
        assert!(GlPainter::begin().is_none());
        // The loader ran (once) whether or not it found a library.
        assert!(GL.get().is_some());
    }
}
