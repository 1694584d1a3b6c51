//! A headless OpenFX 1.5 image-effect host, used to test and run OFX plugins
//! without a GUI application (the `ofx-render` command is built on it). It
//! talks to plugins only through the C API: it loads `*.ofx.bundle` binaries,
//! serves the property, parameter, image effect, memory, multithread, message
//! (V1, V2), progress (V1, V2), timeline, interact and draw suites, and drives
//! the actions in the order real hosts use (overlay interacts included, see
//! [`interact`]). Quirk modes imitate DaVinci Resolve and Natron.
//!
//! ```no_run
//! use ofx::host::*;
//! # fn main() -> Result<(), HostError> {
//! let host = Host::new(HostOptions::default());
//! let plugin = host.load("LivingPortrait.ofx.bundle".as_ref(), "org.livingportrait.LivingPortrait")?;
//! let mut inst = plugin.create_instance(Context::Filter)?;
//! inst.set_input("Source", ClipInput::Still(HostImage::load("face.png".as_ref())?))?;
//! inst.set_param("amount", ParamValue::Double(0.5))?;
//! let out = inst.render_frame(0.0, &RenderRequest::default())?;
//! out.save("out.png".as_ref(), Depth::Byte)?;
//! assert_eq!(inst.leaked_images(), 0);
//! # Ok(()) }
//! ```
//!
//! Threading: renders may run concurrently (frames over threads, bands of a
//! frame over threads) within the limits the plugin declares. The host never
//! holds one of its own locks while the plugin runs, except the render
//! serialisation locks that implement the plugin's declared thread safety.

pub mod animation;
pub mod bench;
pub mod cli;
pub mod context;
pub mod effect;
pub mod error;
#[allow(clippy::module_inception)]
pub mod host;
pub mod image;
pub mod imageio;
pub mod instance;
pub mod interact;
pub mod loader;
pub mod param_defaults;
pub mod params;
pub mod params_file;
pub mod plugin;
pub mod progress;
pub mod props;
pub mod render;
pub mod suites;
pub mod writer;

pub use animation::Interpolation;
pub use bench::{heap_in_use, BenchFile, BenchReport, MemoryStatus, Stats};
pub use effect::{ClipInput, Context};
pub use error::{HostError, HostResult};
pub use host::{Host, HostMessage, HostOptions, HostQuirks, MessageKind, MultiThreadMode, PluginInfo};
pub use image::{Components, Depth, HostImage, RectI};
pub use imageio::{Compression, FileFormat};
pub use instance::Instance;
pub use interact::{DrawCommand, DrawPrimitive, Overlay, OverlayView};
pub use loader::Bundle;
pub use params::{ParamType, ParamValue};
pub use params_file::{ParamsFile, SavedKey, SavedParam, SavedValue};
pub use plugin::{DescriptorProps, Plugin};
pub use props::PropValue;
pub use render::RenderRequest;
pub use suites::message::orphan_messages;
