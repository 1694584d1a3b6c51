//! The interact suite V1 and the recording Draw Suite V1 of the headless host.
//! Interact handles and draw contexts are looked up in the registries of
//! `host::interact` (an unknown handle is `kOfxStatErrBadHandle`; a draw
//! context whose draw action has returned is `kOfxStatFailed`, as
//! `ofxDrawSuite.h` asks for calls outside the draw action). The interact
//! suite counts redraw and swap requests; the Draw Suite records every call
//! as a [`DrawCommand`].

use std::os::raw::{c_char, c_int};
use std::sync::atomic::Ordering;

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::draw_suite::*;
use openfx::sys::image_effect_v1::interact::*;
use openfx::sys::image_effect_v1::pixels::OfxRGBAColourF;

use super::{cstr, guard, put};
use crate::host::interact::{live_draw_context, live_interact, DrawCommand, DrawPrimitive, InteractObj};

pub(crate) static SUITE: OfxInteractSuiteV1 = OfxInteractSuiteV1 {
    interactSwapBuffers: Some(swap_buffers),
    interactRedraw: Some(redraw),
    interactGetPropertySet: Some(get_property_set),
};

pub(crate) static DRAW_SUITE: OfxDrawSuiteV1 = OfxDrawSuiteV1 {
    getColour: Some(get_colour),
    setColour: Some(set_colour),
    setLineWidth: Some(set_line_width),
    setLineStipple: Some(set_line_stipple),
    draw: Some(draw),
    drawText: Some(draw_text),
};

fn with_interact(h: OfxInteractHandle, f: impl FnOnce(&InteractObj) -> OfxStatus) -> OfxStatus {
    guard(kOfxStatErrUnknown, || match live_interact(h as usize) {
        Some(i) => f(&i),
        None => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn swap_buffers(h: OfxInteractHandle) -> OfxStatus {
    with_interact(h, |i| {
        i.swaps.fetch_add(1, Ordering::Relaxed);
        kOfxStatOK
    })
}

unsafe extern "C" fn redraw(h: OfxInteractHandle) -> OfxStatus {
    with_interact(h, |i| {
        i.redraws.fetch_add(1, Ordering::Relaxed);
        kOfxStatOK
    })
}

unsafe extern "C" fn get_property_set(h: OfxInteractHandle, props: *mut OfxPropertySetHandle) -> OfxStatus {
    with_interact(h, |i| {
        if props.is_null() {
            return kOfxStatErrValue;
        }
        // SAFETY: non-NULL out pointer supplied by the plugin.
        unsafe { put(props, i.props.handle()) };
        kOfxStatOK
    })
}

/// Records `cmd` in the live draw context `ctx`.
fn record(ctx: OfxDrawContextHandle, cmd: impl FnOnce() -> Result<DrawCommand, OfxStatus>) -> OfxStatus {
    guard(kOfxStatErrUnknown, || {
        let Some(c) = live_draw_context(ctx as usize) else {
            return kOfxStatFailed;
        };
        match cmd() {
            Ok(cmd) => {
                c.commands.lock().push(cmd);
                kOfxStatOK
            }
            Err(st) => st,
        }
    })
}

/// The host's colour for each `kOfxStandardColour*`.
fn standard_colour(c: OfxStandardColour) -> Option<[f32; 4]> {
    Some(match c {
        kOfxStandardColourOverlayBackground => [0.0, 0.0, 0.0, 1.0],
        kOfxStandardColourOverlayActive => [1.0, 1.0, 1.0, 1.0],
        kOfxStandardColourOverlaySelected => [1.0, 1.0, 0.0, 1.0],
        kOfxStandardColourOverlayDeselected => [0.5, 0.5, 0.5, 1.0],
        kOfxStandardColourOverlayMarqueeFG => [1.0, 1.0, 1.0, 1.0],
        kOfxStandardColourOverlayMarqueeBG => [0.0, 0.0, 0.0, 0.5],
        kOfxStandardColourOverlayText => [1.0, 1.0, 1.0, 1.0],
        _ => return None,
    })
}

unsafe extern "C" fn get_colour(ctx: OfxDrawContextHandle, which: OfxStandardColour, out: *mut OfxRGBAColourF) -> OfxStatus {
    guard(kOfxStatErrUnknown, || {
        if live_draw_context(ctx as usize).is_none() {
            return kOfxStatFailed;
        }
        match (standard_colour(which), out.is_null()) {
            (Some([r, g, b, a]), false) => {
                // SAFETY: non-NULL out pointer supplied by the plugin.
                unsafe { put(out, OfxRGBAColourF { r, g, b, a }) };
                kOfxStatOK
            }
            _ => kOfxStatErrValue,
        }
    })
}

unsafe extern "C" fn set_colour(ctx: OfxDrawContextHandle, colour: *const OfxRGBAColourF) -> OfxStatus {
    record(ctx, || {
        if colour.is_null() {
            return Err(kOfxStatErrValue);
        }
        // SAFETY: non-NULL colour supplied by the plugin.
        let c = unsafe { colour.read() };
        Ok(DrawCommand::Colour([c.r, c.g, c.b, c.a]))
    })
}

unsafe extern "C" fn set_line_width(ctx: OfxDrawContextHandle, width: f32) -> OfxStatus {
    record(ctx, || if width.is_finite() && width >= 0.0 { Ok(DrawCommand::LineWidth(width)) } else { Err(kOfxStatErrValue) })
}

unsafe extern "C" fn set_line_stipple(ctx: OfxDrawContextHandle, pattern: OfxDrawLineStipplePattern) -> OfxStatus {
    record(ctx, || if pattern <= kOfxDrawLineStipplePatternDotDash { Ok(DrawCommand::LineStipple(pattern)) } else { Err(kOfxStatErrValue) })
}

/// Largest point count accepted in one primitive (guards against garbage).
const MAX_POINTS: c_int = 1 << 20;

unsafe extern "C" fn draw(ctx: OfxDrawContextHandle, primitive: OfxDrawPrimitive, points: *const OfxPointD, count: c_int) -> OfxStatus {
    record(ctx, || {
        let kind = DrawPrimitive::from_ofx(primitive).ok_or(kOfxStatErrValue)?;
        if points.is_null() || !(0..=MAX_POINTS).contains(&count) || !kind.accepts(count as usize) {
            return Err(kOfxStatErrValue);
        }
        // SAFETY: the plugin passes `count` points.
        let pts = unsafe { std::slice::from_raw_parts(points, count as usize) };
        Ok(DrawCommand::Primitive {
            kind,
            points: pts.iter().map(|p| (p.x, p.y)).collect(),
        })
    })
}

unsafe extern "C" fn draw_text(ctx: OfxDrawContextHandle, text: *const c_char, pos: *const OfxPointD, alignment: c_int) -> OfxStatus {
    record(ctx, || {
        // SAFETY: NULL or a NUL-terminated string from the plugin.
        let Some(text) = (unsafe { cstr(text) }) else {
            return Err(kOfxStatErrValue);
        };
        if pos.is_null() {
            return Err(kOfxStatErrValue);
        }
        // SAFETY: non-NULL position supplied by the plugin.
        let p = unsafe { pos.read() };
        Ok(DrawCommand::Text {
            text: text.to_string(),
            position: (p.x, p.y),
            alignment,
        })
    })
}
