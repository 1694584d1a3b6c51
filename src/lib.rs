//! Living Portrait — an OpenFX image effect that animates a still portrait from
//! a facial landmark track.
//!
//! This crate is the plugin: the effect's description, its parameters (stable
//! script names), its instance state and its render. It knows faces, not raw
//! pointers: every host interaction goes through the safe layer in the `ofx`
//! crate, and `unsafe` is denied here. The exported C entry points come from
//! `ofx::export_effect!` below; nothing else is exported from the cdylib.
#![deny(unsafe_code)]

pub mod effect;
pub mod face;
pub mod inference;
pub mod json;
pub mod packs;
pub mod pixels;

pub use effect::{LivingPortrait, PLUGIN_ID};

// The one place the plugin's C symbols are generated (`OfxGetNumberOfPlugins`,
// `OfxGetPlugin`, `OfxSetHost`); the macro and all the unsafe behind it live in
// the `ofx` crate.
mod exports {
    ofx::export_effect!(crate::LivingPortrait, "org.livingportrait.LivingPortrait", 1, 0);
}
pub mod motion;
pub mod files;
pub mod track;
/// The track readers, now in [`track::import`]; kept at this path for the render and the fuzz targets.
pub use track::import as track_import;
pub mod render;
pub mod params;
pub mod expressions;
pub mod smoothing;
pub mod browse;
pub mod overlay;
