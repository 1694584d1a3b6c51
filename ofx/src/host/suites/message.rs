//! The message suite, V1 and V2. `message` and `setPersistentMessage` are the C
//! shim's variadic functions, which format the text and call [`cb_message`];
//! `clearPersistentMessage` is plain Rust. In Resolve quirk mode V2 is served
//! with NULL persistent-message functions, as DaVinci Resolve does, so plugins
//! must check the pointers. In Natron quirk mode `message` and
//! `setPersistentMessage` drop their variadic arguments, as Natron does (it
//! forwards them into a second variadic formatter): the text shown is the
//! format alone, `%%` as `%` and any other conversion as nothing, so a plugin
//! that sends `"%s"` with its text shows a blank message. Messages are attached to the effect whose handle
//! comes with them (descriptor or instance); handle-less messages are printed
//! to stderr and kept in a process-wide list.

use parking_lot::Mutex;
use std::ffi::c_void;
use std::os::raw::{c_char, c_int};

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::message::*;

use super::{cstr, guard};
use crate::host::effect::EffectObj;
use crate::host::host::{HostMessage, MessageKind};

extern "C" {
    fn lp_ofxhost_message(h: *mut c_void, t: *const c_char, id: *const c_char, fmt: *const c_char, ...) -> OfxStatus;
    fn lp_ofxhost_setPersistentMessage(h: *mut c_void, t: *const c_char, id: *const c_char, fmt: *const c_char, ...) -> OfxStatus;
    fn lp_ofxhost_message_natron(h: *mut c_void, t: *const c_char, id: *const c_char, fmt: *const c_char, ...) -> OfxStatus;
    fn lp_ofxhost_setPersistentMessage_natron(h: *mut c_void, t: *const c_char, id: *const c_char, fmt: *const c_char, ...) -> OfxStatus;
}

pub(crate) static SUITE_V1: OfxMessageSuiteV1 = OfxMessageSuiteV1 {
    message: Some(lp_ofxhost_message),
};

pub(crate) static SUITE_V2: OfxMessageSuiteV2 = OfxMessageSuiteV2 {
    message: Some(lp_ofxhost_message),
    setPersistentMessage: Some(lp_ofxhost_setPersistentMessage),
    clearPersistentMessage: Some(clear_persistent_message),
};

pub(crate) static SUITE_V2_RESOLVE: OfxMessageSuiteV2 = OfxMessageSuiteV2 {
    message: Some(lp_ofxhost_message),
    setPersistentMessage: None,
    clearPersistentMessage: None,
};

pub(crate) static SUITE_V1_NATRON: OfxMessageSuiteV1 = OfxMessageSuiteV1 {
    message: Some(lp_ofxhost_message_natron),
};

pub(crate) static SUITE_V2_NATRON: OfxMessageSuiteV2 = OfxMessageSuiteV2 {
    message: Some(lp_ofxhost_message_natron),
    setPersistentMessage: Some(lp_ofxhost_setPersistentMessage_natron),
    clearPersistentMessage: Some(clear_persistent_message),
};

/// Flag the C shim adds to `persistent` when it passes the unformatted
/// format (Natron mode).
const RAW_FORMAT: c_int = 2;

/// A printf format shown without its arguments, as Natron shows it: `%%` is
/// `%`, every other conversion (`%s`, `%5.2f`, ...) is nothing.
pub(crate) fn format_without_arguments(fmt: &str) -> String {
    let mut out = String::with_capacity(fmt.len());
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // Flags, width, precision and length up to the conversion letter.
        for d in chars.by_ref() {
            if d == '%' {
                out.push('%');
                break;
            }
            if d.is_ascii_alphabetic() && !"hlLqjzt".contains(d) {
                break;
            }
        }
    }
    out
}

/// Messages posted without an effect handle.
static ORPHAN_MESSAGES: Mutex<Vec<HostMessage>> = parking_lot::const_mutex(Vec::new());

/// Messages posted by any plugin with a NULL (or unknown) handle.
pub fn orphan_messages() -> Vec<HostMessage> {
    ORPHAN_MESSAGES.lock().clone()
}

/// Called by the C shim with the formatted text.
pub(crate) unsafe extern "C" fn cb_message(h: *mut c_void, kind: *const c_char, id: *const c_char, text: *const c_char, persistent: c_int) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: NUL-terminated strings (or NULL) from the plugin / shim.
        let kind = MessageKind::from_ofx(unsafe { cstr(kind) }.unwrap_or(""));
        // SAFETY: as above.
        let id = unsafe { cstr(id) }.unwrap_or("").to_string();
        let mut text = if text.is_null() {
            String::new()
        } else {
            // SAFETY: the shim passes a NUL-terminated buffer.
            unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy().into_owned()
        };
        if persistent & RAW_FORMAT != 0 {
            text = format_without_arguments(&text);
        }
        let persistent = persistent & 1;
        // SAFETY: plugin-supplied handle, validated by its tag.
        let effect = unsafe { EffectObj::from_handle(h) };
        let msg = HostMessage {
            kind,
            id,
            text,
            persistent: persistent != 0,
            effect: effect.map(|e| e.id).unwrap_or(0),
        };
        match effect {
            Some(e) => e.host.post_message(msg),
            None => {
                eprintln!("[plugin {:?}] {}", msg.kind, msg.text);
                ORPHAN_MESSAGES.lock().push(msg);
            }
        }
        // A headless host cannot ask: questions are answered "yes".
        if kind == MessageKind::Question {
            kOfxStatReplyYes
        } else {
            kOfxStatOK
        }
    })
}

unsafe extern "C" fn clear_persistent_message(h: *mut c_void) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        match unsafe { EffectObj::from_handle(h) } {
            Some(e) => {
                e.host.persistent.lock().remove(&e.id);
                kOfxStatOK
            }
            None => kOfxStatErrBadHandle,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::format_without_arguments as f;

    #[test]
    fn natron_shows_the_format_without_its_arguments() {
        assert_eq!(f("%s"), "");
        assert_eq!(f("Error: %s (%d%%)"), "Error:  (%)");
        assert_eq!(f("100%% of /tmp/a%%20b.json"), "100% of /tmp/a%20b.json");
        assert_eq!(f("%-5.2lf|%zu|%%"), "||%");
    }
}
