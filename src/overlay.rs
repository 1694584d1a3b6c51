//! The viewer overlay: the 68 target landmarks and the face-part polylines at
//! the current time (keyed points highlighted), optionally the portrait's own
//! landmarks in another colour, and dragging a point in Keyframes mode (a key
//! at the current time; one undoable edit per drag).
//!
//! Drawing never runs inference: it shows the landmark parameters in Keyframes
//! mode and, in the other modes, the targets the last render of that frame
//! computed (nothing before the frame has been rendered once). Everything
//! works without the overlay too (Resolve shows overlays only when its OpenFX
//! overlay toggle is on).

use ofx::plugin::*;
use ofx::Result;

use crate::effect::LivingPortrait;
use crate::face::Mesh68Table;
use crate::params::{self, lm_name, src_lm_name};
use crate::landmarks::Landmarks68;

/// Pick radius around a point, in screen pixels.
pub const PICK_RADIUS_PX: f64 = 8.0;

/// An ongoing drag: which landmark, and where in the point the pen grabbed it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drag {
    pub index: usize,
    pub offset: (f64, f64),
}

fn keyframe_points(p: &ParamSet, time: f64, name: fn(usize) -> String) -> Result<Option<Landmarks68<f64>>> {
    let mut out = [[0.0; 2]; 68];
    let mut any = false;
    for (i, o) in out.iter_mut().enumerate() {
        let (x, y) = p.double2d(&name(i))?.value_at(time)?;
        any |= x != 0.0 || y != 0.0;
        *o = [x, y];
    }
    Ok(any.then_some(out))
}

fn draw_face(painter: &mut dyn Painter, pts: &Landmarks68<f64>, colour: [f32; 4], keyed: Option<&[bool; 68]>) {
    painter.colour(colour[0], colour[1], colour[2], colour[3]);
    painter.line_width(1.5);
    if let Ok(table) = Mesh68Table::builtin() {
        for (name, a, b) in &table.parts {
            let line: Vec<[f64; 2]> = pts[*a..=*b].to_vec();
            painter.polyline(&line, table.closed_parts.iter().any(|c| c == name));
        }
    }
    painter.point_size(5.0);
    match keyed {
        None => painter.points(pts),
        Some(k) => {
            let (on, off): (Vec<usize>, Vec<usize>) = (0..68).partition(|&i| k[i]);
            painter.points(&off.iter().map(|&i| pts[i]).collect::<Vec<_>>());
            // Keyed points: brighter and larger.
            painter.colour(1.0, 0.85, 0.2, 1.0);
            painter.point_size(7.0);
            painter.points(&on.iter().map(|&i| pts[i]).collect::<Vec<_>>());
        }
    }
}

impl Overlay for LivingPortrait {
    fn draw(&self, effect: &EffectHandle, args: &OverlayArgs, painter: &mut dyn Painter) -> Result<()> {
        let p = effect.params()?;
        if !p.boolean(params::SHOW_OVERLAY)?.value_at(args.time)? {
            return Ok(());
        }
        if p.boolean(params::SHOW_SOURCE_LANDMARKS)?.value_at(args.time)? {
            let src = if p.boolean(params::OVERRIDE_SOURCE)?.value_at(args.time)? {
                keyframe_points(&p, args.time, src_lm_name)?
            } else {
                self.renderer.last_source()
            };
            if let Some(src) = src {
                draw_face(painter, &src, [0.95, 0.3, 0.85, 0.8], None);
            }
        }
        let keyframes_mode = p.choice(params::DRIVE_MODE)?.value_at(args.time)? == 0;
        let targets = if keyframes_mode { keyframe_points(&p, args.time, lm_name)? } else { self.renderer.last_targets(args.time) };
        if let Some(t) = targets {
            let mut keyed = [false; 68];
            if keyframes_mode {
                for (i, k) in keyed.iter_mut().enumerate() {
                    *k = p.double2d(&lm_name(i))?.0.has_key_at(args.time)?;
                }
            }
            draw_face(painter, &t, [0.2, 0.9, 1.0, 1.0], keyframes_mode.then_some(&keyed));
        }
        Ok(())
    }

    fn pen_down(&self, effect: &EffectHandle, args: &PenArgs) -> Result<bool> {
        let p = effect.params()?;
        if !p.boolean(params::SHOW_OVERLAY)?.value_at(args.time)? || p.choice(params::DRIVE_MODE)?.value_at(args.time)? != 0 {
            return Ok(false);
        }
        let Some(pts) = keyframe_points(&p, args.time, lm_name)? else { return Ok(false) };
        let radius = PICK_RADIUS_PX * args.pixel_scale.0.max(args.pixel_scale.1).max(1e-9);
        let (px, py) = args.position;
        let best = (0..68)
            .map(|i| (i, (pts[i][0] - px).hypot(pts[i][1] - py)))
            .filter(|(_, d)| *d <= radius)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((index, _)) = best else { return Ok(false) };
        let mut drag = self.drag.lock();
        if drag.is_some() {
            // A drag that never saw its pen up: close its edit first.
            let _ = p.end_edit();
        }
        p.begin_edit("Move landmark")?;
        *drag = Some(Drag { index, offset: (px - pts[index][0], py - pts[index][1]) });
        Ok(true)
    }

    fn pen_motion(&self, effect: &EffectHandle, args: &PenArgs) -> Result<bool> {
        let Some(d) = *self.drag.lock() else { return Ok(false) };
        let p = effect.params()?;
        p.double2d(&lm_name(d.index))?.set_at(args.time, args.position.0 - d.offset.0, args.position.1 - d.offset.1)?;
        effect.redraw_overlays();
        Ok(true)
    }

    fn pen_up(&self, effect: &EffectHandle, args: &PenArgs) -> Result<bool> {
        let Some(d) = self.drag.lock().take() else { return Ok(false) };
        let p = effect.params()?;
        let r = p.double2d(&lm_name(d.index))?.set_at(args.time, args.position.0 - d.offset.0, args.position.1 - d.offset.1);
        p.end_edit()?;
        r?;
        effect.redraw_overlays();
        Ok(true)
    }
}
