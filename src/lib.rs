//! Living Portrait — an OpenFX image effect that animates a still portrait from
//! a facial landmark track.
//!
//! This crate is the plugin: the effect's description, its parameters (stable
//! script names), its instance state and its render. It knows faces, not raw
//! pointers: every host interaction goes through the safe layer in the `ofx`
//! crate, and `unsafe` is denied here. The exported C entry points come from
//! `ofx::export_effect!` below; nothing else is exported from the cdylib.
//!
//! # Reading guide
//!
//! * A frame enters at `render` in `effect.rs`: the parameters are read once
//!   into [`params::Settings`], then [`render::Renderer::render`] runs.
//! * `render/mod.rs` lists the stages in order, a file each: `source.rs`
//!   (reference stills analysed, cached), `drive.rs` (target landmarks from
//!   keys, a track or the Driver clip, then the expression controls),
//!   `generate.rs` and `matte.rs` (the pack's generator, the paste matte),
//!   `paste.rs` and `output.rs` (the face into the frame; crop, matte, copies).
//! * A parameter: its stable name, its widget in `describe` and its
//!   `Settings` field, all in `params.rs`; `tests/params_stable.rs` pins names.
//! * An expression control: a name in `expressions::NAMES`, its effect in
//!   `expressions.rs` (its slider is made from that list in `params.rs`).
//! * A track format: a reader beside the others in `track_import.rs` (the
//!   project's own JSON is `face/track.rs`).
//! * A model pack: a folder with `manifest.json` (`packs/manifest.rs`); a new
//!   kind implements [`packs::generator::Generator`] and is built in `packs/mod.rs`.
//! * Shared words: [`landmarks`] (the 68 points) and [`profile`] (stage
//!   timers); `python3 tests/module_graph.py` shows who imports whom (`tests/module_graph.rs` pins it).
#![deny(unsafe_code)]

pub mod effect;
pub mod face;
pub mod inference;
pub mod landmarks;
pub mod json;
pub mod packs;
pub mod pixels;
pub mod profile;

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
