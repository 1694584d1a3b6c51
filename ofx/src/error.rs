//! Errors of the plugin layer and the one table that maps them to OFX statuses.
//!
//! Effects return [`Error`] from every action; the entry point turns it into an
//! `OfxStatus` with [`Error::status`] and nowhere else, so the mapping is
//! consistent across actions (the shape of the OFX C++ Support library's
//! exception table).

use std::fmt;

use crate::sys::*;

/// A failure inside an action, with a sentence for the user where there is one.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The action failed; the text says why (shown to the user).
    Failed(String),
    /// The host lacks a suite, a function or a property we need.
    MissingHostFeature(String),
    /// Memory could not be allocated.
    OutOfMemory,
    /// A handle given by the host was null or invalid.
    BadHandle(String),
    /// A property index was out of range.
    BadIndex(String),
    /// A value was invalid (bad param value, bad property value).
    Value(String),
    /// The combination asked for is not supported (e.g. a pixel depth).
    Unsupported(String),
    /// An image came in a format we do not handle.
    ImageFormat(String),
    /// The host asked us to stop (render abort).
    Aborted,
    /// The action is not handled: the host should do its default.
    ReplyDefault,
    /// A status returned by a host function, with the function's name.
    Host {
        /// The host function that failed.
        function: &'static str,
        /// Its raw status.
        status: OfxStatus,
    },
}

/// Result of everything in this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The one table: which OFX status each failure is reported as.
    pub fn status(&self) -> OfxStatus {
        match self {
            Error::Failed(_) | Error::Aborted => kOfxStatFailed,
            Error::MissingHostFeature(_) => kOfxStatErrMissingHostFeature,
            Error::OutOfMemory => kOfxStatErrMemory,
            Error::BadHandle(_) => kOfxStatErrBadHandle,
            Error::BadIndex(_) => kOfxStatErrBadIndex,
            Error::Value(_) => kOfxStatErrValue,
            Error::Unsupported(_) => kOfxStatErrUnsupported,
            Error::ImageFormat(_) => kOfxStatErrImageFormat,
            Error::ReplyDefault => kOfxStatReplyDefault,
            Error::Host { status, .. } => match *status {
                // A host function's own failure is our action's failure.
                kOfxStatOK | kOfxStatReplyDefault => kOfxStatFailed,
                s => s,
            },
        }
    }

    /// Convert a host function's status into a result.
    pub fn check(function: &'static str, status: OfxStatus) -> Result<()> {
        match status {
            kOfxStatOK | kOfxStatReplyYes | kOfxStatReplyNo | kOfxStatReplyDefault => Ok(()),
            kOfxStatErrMemory => Err(Error::OutOfMemory),
            status => Err(Error::Host { function, status }),
        }
    }
}

/// The symbolic name of an OFX status, for messages.
pub fn status_name(status: OfxStatus) -> &'static str {
    match status {
        kOfxStatOK => "kOfxStatOK",
        kOfxStatFailed => "kOfxStatFailed",
        kOfxStatErrFatal => "kOfxStatErrFatal",
        kOfxStatErrUnknown => "kOfxStatErrUnknown",
        kOfxStatErrMissingHostFeature => "kOfxStatErrMissingHostFeature",
        kOfxStatErrUnsupported => "kOfxStatErrUnsupported",
        kOfxStatErrExists => "kOfxStatErrExists",
        kOfxStatErrFormat => "kOfxStatErrFormat",
        kOfxStatErrMemory => "kOfxStatErrMemory",
        kOfxStatErrBadHandle => "kOfxStatErrBadHandle",
        kOfxStatErrBadIndex => "kOfxStatErrBadIndex",
        kOfxStatErrValue => "kOfxStatErrValue",
        kOfxStatReplyYes => "kOfxStatReplyYes",
        kOfxStatReplyNo => "kOfxStatReplyNo",
        kOfxStatReplyDefault => "kOfxStatReplyDefault",
        kOfxStatUnlicensed => "kOfxStatUnlicensed",
        kOfxStatErrImageFormat => "kOfxStatErrImageFormat",
        _ => "an unknown status",
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Failed(s) => write!(f, "{s}"),
            Error::MissingHostFeature(s) => write!(f, "the host lacks {s}"),
            Error::OutOfMemory => write!(f, "out of memory"),
            Error::BadHandle(s) => write!(f, "invalid handle: {s}"),
            Error::BadIndex(s) => write!(f, "index out of range: {s}"),
            Error::Value(s) => write!(f, "invalid value: {s}"),
            Error::Unsupported(s) => write!(f, "unsupported: {s}"),
            Error::ImageFormat(s) => write!(f, "unsupported image format: {s}"),
            Error::Aborted => write!(f, "aborted by the host"),
            Error::ReplyDefault => write!(f, "not handled"),
            Error::Host { function, status } => {
                write!(f, "host function {function} returned {}", status_name(*status))
            }
        }
    }
}

impl std::error::Error for Error {}
