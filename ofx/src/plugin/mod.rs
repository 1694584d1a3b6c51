//! The plugin side: a safe layer for writing an OFX image effect.
//!
//! Implement [`Effect`] and call [`crate::export_effect!`]; for an on-screen
//! overlay also implement [`Overlay`] and call [`EffectDescriptor::set_overlay`]
//! in `describe` (see [`interact`]). Only this module and [`crate::host`]
//! contain `unsafe`; effects built on it need none.

pub mod draw;
pub mod effect;
pub mod entry;
pub mod image;
pub mod interact;
pub mod params;
mod pin;
pub mod props;
pub mod suites;

pub use draw::{PaintCommand, Painter, RecordingPainter};
pub use effect::*;
pub use image::{BitDepth, Components, Image, ImageLayout, RectD, RectI};
pub use interact::{KeyArgs, Overlay, OverlayArgs, PenArgs};
pub use params::*;
pub use props::PropertySet;
pub use suites::{host_info, suites, HostInfo, Suites};
