//! The error type of the headless host. Every variant renders as one complete
//! sentence that a user of `ofx-render` can act on (which file, which action,
//! which status), because these messages are printed as-is by the CLI.

use std::fmt;
use std::path::PathBuf;


/// Everything that can go wrong while hosting a plugin.
#[derive(Debug, Clone, PartialEq)]
pub enum HostError {
    /// The bundle directory or plugin file does not exist.
    BundleNotFound(PathBuf),
    /// The bundle exists but has no `Contents/Linux-x86-64/<Name>.ofx`.
    BinaryMissing {
        /// The bundle directory.
        bundle: PathBuf,
        /// Where the binary should be.
        expected: PathBuf,
    },
    /// The binary could not be opened as a shared library.
    NotLoadable {
        /// The binary.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// The library lacks `OfxGetNumberOfPlugins` / `OfxGetPlugin`.
    NoEntryPoints {
        /// The library.
        path: PathBuf,
        /// The missing symbol names.
        missing: String,
    },
    /// No plugin with that identifier in the searched binaries.
    PluginNotFound {
        /// The identifier asked for.
        id: String,
        /// Identifiers that were found instead.
        available: Vec<String>,
    },
    /// A plugin action returned an error status.
    ActionFailed {
        /// The action (or entry point) name.
        action: String,
        /// The status it returned.
        status: i32,
    },
    /// The plugin does not support the requested context.
    ContextUnsupported {
        /// The context asked for.
        context: String,
        /// The contexts the plugin declared.
        supported: Vec<String>,
    },
    /// No parameter of that name.
    UnknownParam(String),
    /// A value that does not fit the parameter.
    BadValue {
        /// The parameter.
        param: String,
        /// Why the value does not fit.
        reason: String,
    },
    /// No clip of that name.
    UnknownClip(String),
    /// An image file could not be read or written.
    Image {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Anything else (bad request, plugin misbehaviour...).
    Other(String),
}

/// The C name of an OFX status, for messages (one table for both halves of
/// the crate).
pub use crate::error::status_name;

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::BundleNotFound(p) => write!(f, "The OFX plugin bundle or file '{}' does not exist.", p.display()),
            HostError::BinaryMissing { bundle, expected } => write!(
                f,
                "The bundle '{}' has no plugin binary for this platform (expected '{}').",
                bundle.display(),
                expected.display()
            ),
            HostError::NotLoadable { path, reason } => {
                write!(f, "The plugin binary '{}' could not be loaded as a shared library: {reason}.", path.display())
            }
            HostError::NoEntryPoints { path, missing } => write!(
                f,
                "The library '{}' is not an OFX plugin: it does not export {missing}.",
                path.display()
            ),
            HostError::PluginNotFound { id, available } => {
                if available.is_empty() {
                    write!(f, "No OFX plugin with identifier '{id}' was found (no plugins were found at all).")
                } else {
                    write!(f, "No OFX plugin with identifier '{id}' was found (found: {}).", available.join(", "))
                }
            }
            HostError::ActionFailed { action, status } => write!(
                f,
                "The plugin action {action} failed with status {} ({status}).",
                status_name(*status)
            ),
            HostError::ContextUnsupported { context, supported } => write!(
                f,
                "The plugin does not support the '{context}' context (it supports: {}).",
                supported.join(", ")
            ),
            HostError::UnknownParam(n) => write!(f, "The plugin has no parameter named '{n}'."),
            HostError::BadValue { param, reason } => write!(f, "Invalid value for parameter '{param}': {reason}."),
            HostError::UnknownClip(n) => write!(f, "The plugin has no clip named '{n}'."),
            HostError::Image { path, reason } => write!(f, "The image file '{}' could not be used: {reason}.", path.display()),
            HostError::Other(s) => {
                let s = s.trim_end_matches('.');
                write!(f, "{s}.")
            }
        }
    }
}

impl std::error::Error for HostError {}

/// Result alias of the host.
pub type HostResult<T> = Result<T, HostError>;
