//! `ofx` — the only crate of Living Portrait that touches raw pointers.
//!
//! It has two halves that share nothing but the OpenFX 1.5 C API (taken from the
//! raw bindings of the `openfx` 0.6 crate):
//!
//! * [`plugin`]: a safe layer for writing an OFX image-effect plugin in Rust. The
//!   effect implements the [`plugin::Effect`] trait (every action has a default) and
//!   [`export_effect!`] generates the two exported C symbols. Every call from the
//!   host goes through one guarded path (null checks, `catch_unwind`, one table
//!   that maps [`Error`] to OFX statuses).
//! * `host` (cargo feature `host`, on by default): a headless OFX host that loads
//!   `*.ofx.bundle`s, used by the tests, by `ofx-render` and by render farms. A
//!   plugin depends on this crate with `default-features = false`, so that its
//!   build compiles neither the host nor the host's crates (clap,
//!   serde, image, indicatif).
//!
//! # OFX action order (what the host calls, and what an effect may do in each)
//! 1. `OfxSetHost` (1.5, optional) / `setHost`: the host pointer is remembered.
//! 2. `kOfxActionLoad`: suites are fetched once and checked ([`plugin::Suites`]).
//! 3. `kOfxActionDescribe`: [`plugin::Effect::describe`] sets labels, depths, contexts.
//! 4. `kOfxImageEffectActionDescribeInContext`: clips and parameters are defined.
//! 5. `kOfxActionCreateInstance`: [`plugin::Effect::create_instance`] builds the
//!    instance state, stored in the instance's `kOfxPropInstanceData`.
//! 6. `kOfxActionInstanceChanged` (user edits, button presses), clip preferences,
//!    region of definition / of interest, identity.
//! 7. `kOfxImageEffectActionBeginSequenceRender`, then `kOfxImageEffectActionRender`
//!    — possibly on many threads at once and for parts of one frame — then
//!    `kOfxImageEffectActionEndSequenceRender`.
//! 8. `kOfxActionDestroyInstance` drops the instance state; `kOfxActionUnload`.
//!
//! Unknown actions answer `kOfxStatReplyDefault`.
#![warn(missing_docs)]
#![allow(non_upper_case_globals)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod error;
mod rect;
pub mod plugin;
#[cfg(feature = "host")]
pub mod host;

pub use error::{status_name, Error, Result};

/// The folder inside a bundle's `Contents/` that holds the binary for the
/// platform this crate is built for (OFX packaging: `Linux-x86-64`, `MacOS`,
/// `Win64`, ...; `Linux-arm64` is the name hosts that support ARM Linux use).
pub const ARCH_DIR: &str = if cfg!(target_os = "macos") {
    "MacOS"
} else if cfg!(target_os = "windows") {
    if cfg!(target_pointer_width = "64") {
        "Win64"
    } else {
        "Win32"
    }
} else if cfg!(target_arch = "x86_64") {
    "Linux-x86-64"
} else if cfg!(target_arch = "aarch64") {
    "Linux-arm64"
} else {
    "Linux-x86"
};

/// The raw OFX C bindings this crate is written against (re-exported for the
/// export macro and for tests; effects never need them).
#[doc(hidden)]
pub mod sys {
    pub use openfx::sys::generic::core::*;
    pub use openfx::sys::generic::property::*;
    pub use openfx::sys::image_effect_v1::image_effect::*;
    pub use openfx::sys::image_effect_v1::memory::*;
    pub use openfx::sys::image_effect_v1::message::*;
    pub use openfx::sys::image_effect_v1::multi_thread::*;
    pub use openfx::sys::image_effect_v1::param::*;
    pub use openfx::sys::image_effect_v1::progress::*;
    pub use openfx::sys::image_effect_v1::time_line::*;
}
