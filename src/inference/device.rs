//! Where inference runs. ONNX Runtime falls back from a GPU execution provider to the CPU without a word unless
//! the provider is registered strictly, and a silent fallback is a bug for us (a user who asked for the GPU must
//! learn why it is not used). So: `Auto` and `Gpu` first ask the loaded runtime whether it has the CUDA
//! provider at all, then register it with `error_on_failure`; when either step fails the session is built for the
//! CPU on purpose and the reason (missing provider library, the runtime's error text) travels in a
//! `DeviceReport`, which the node shows on its read-only device line and, when the GPU was asked for, once as a
//! persistent warning. The first CUDA failure is remembered for the process so each new session does not pay
//! for (and log) the same failed attempt again.

use std::fmt;

use ort::ep::ExecutionProvider;
use ort::session::builder::SessionBuilder;
use ort::session::Session;
use parking_lot::Mutex;

use super::runtime::{inference_settings, runtime, LoadedRuntime};
use super::InferenceError;

/// The user's device choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// The GPU when the runtime can use one, else the CPU (the reason is reported, not warned about).
    #[default]
    Auto,
    /// The GPU; when it cannot be used the CPU runs and the reason is reported as a warning.
    Gpu,
    /// The CPU only.
    Cpu,
}

impl Device {
    /// The label used in the node's choice parameter and in reports.
    pub fn label(self) -> &'static str {
        match self {
            Device::Auto => "Auto",
            Device::Gpu => "GPU",
            Device::Cpu => "CPU",
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What runs a model, for the node's read-only device line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceReport {
    /// What was asked for.
    pub requested: Device,
    /// What runs: "CPU" or "CUDA (GPU 0)".
    pub used: String,
    /// Why the GPU is not used although `Auto` or `Gpu` was asked for; `None` when nothing fell back.
    pub reason: Option<String>,
}

impl DeviceReport {
    /// True when the GPU was asked for explicitly and the CPU runs instead: the node shows `reason` as a warning.
    pub fn is_gpu_fallback(&self) -> bool {
        self.requested == Device::Gpu && self.reason.is_some()
    }

    /// The node's warning when the GPU was asked for and the CPU runs
    /// instead (`None` otherwise).
    pub fn fallback_warning(&self) -> Option<String> {
        self.is_gpu_fallback().then(|| format!("Living Portrait: GPU was requested but inference runs on {}: {}", self.used, self.reason.clone().unwrap_or_default()))
    }

    /// One line for the node's device label, e.g. "CPU (GPU unavailable: …)".
    pub fn summary(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{} (requested {}; {reason})", self.used, self.requested),
            None => self.used.clone(),
        }
    }
}

/// The CUDA device ordinal we use; the node has no GPU picker.
const CUDA_DEVICE_ID: i32 = 0;
const CUDA_LABEL: &str = "CUDA (GPU 0)";
const CPU_LABEL: &str = "CPU";

/// The first reason CUDA could not be used, remembered for the rest of the process.
static CUDA_FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// Why CUDA cannot be used with this runtime, or `None` if it may be tried.
fn cuda_unavailable_reason(rt: &LoadedRuntime) -> Option<String> {
    if let Some(reason) = CUDA_FAILURE.lock().clone() {
        return Some(reason);
    }
    let reason = match ort::ep::CUDA::is_available() {
        Ok(true) => {
            // The provider is compiled in, but its library must sit beside the runtime to be loadable.
            let dir = rt.path.parent().map(|d| d.to_path_buf()).unwrap_or_default();
            let provider = dir.join(CUDA_PROVIDER_FILE);
            if provider.is_file() {
                return None;
            }
            format!("the CUDA execution provider library {} is missing beside the ONNX Runtime", provider.display())
        }
        Ok(false) => format!(
            "the ONNX Runtime {} at {} has no CUDA execution provider (it is the CPU-only build; the GPU needs the \
             onnxruntime-gpu runtime with CUDA 13 and cuDNN 9)",
            rt.version,
            rt.path.display()
        ),
        Err(e) => format!("ONNX Runtime could not list its execution providers: {e}"),
    };
    *CUDA_FAILURE.lock() = Some(reason.clone());
    Some(reason)
}

/// ONNX Runtime's messages start with its source file, line, function and status code
/// ("/onnxruntime_src/…cc:2043 onnxruntime::…Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library …");
/// the user needs only the part after the code.
pub(crate) fn tidy_ort_message(message: &str) -> String {
    const MARK: &str = "[ONNXRuntimeError] : ";
    let text = match message.find(MARK) {
        Some(i) => {
            let rest = &message[i + MARK.len()..];
            // "<number> : <CODE> : <message>"
            rest.splitn(3, " : ").nth(2).unwrap_or(rest)
        }
        None => message,
    };
    text.trim().trim_end_matches('.').to_string()
}

#[cfg(windows)]
const CUDA_PROVIDER_FILE: &str = "onnxruntime_providers_cuda.dll";
#[cfg(not(windows))]
const CUDA_PROVIDER_FILE: &str = "libonnxruntime_providers_cuda.so";

/// A session builder with our threading rules: bounded intra-op threads, one inter-op thread, no spinning
/// (spinning threads burn the host's cores between our short runs).
fn base_builder(rt: &LoadedRuntime) -> Result<SessionBuilder, String> {
    let settings = inference_settings();
    let text = |e: ort::Error<SessionBuilder>| e.to_string();
    let builder = Session::builder(&rt.environment).map_err(|e| e.to_string())?;
    let builder = builder.with_intra_threads(settings.intra_op_threads).map_err(text)?;
    let builder = builder.with_inter_threads(1).map_err(text)?;
    let builder = builder.with_intra_op_spinning(false).map_err(text)?;
    builder.with_inter_op_spinning(false).map_err(text)
}

/// Builds one session for `model_bytes` on the requested device. Returns the session and the report of what runs
/// it. A CUDA failure is not an error: it becomes a CPU session with the reason in the report.
pub(crate) fn build_session(
    model_bytes: &[u8],
    model_path: &std::path::Path,
    requested: Device,
) -> Result<(Session, DeviceReport), InferenceError> {
    let rt = runtime()?;
    let invalid = |reason: String| InferenceError::ModelInvalid { path: model_path.to_path_buf(), reason };
    let mut reason = None;
    if requested != Device::Cpu {
        match cuda_unavailable_reason(rt) {
            Some(why) => reason = Some(why),
            None => {
                let cuda = ort::ep::CUDA::default().with_device_id(CUDA_DEVICE_ID).build().error_on_failure();
                let attempt = base_builder(rt)
                    .and_then(|b| b.with_execution_providers([cuda]).map_err(|e| e.to_string()))
                    .and_then(|mut b| b.commit_from_memory(model_bytes).map_err(|e| e.to_string()));
                match attempt {
                    Ok(session) => {
                        let report = DeviceReport { requested, used: CUDA_LABEL.into(), reason: None };
                        return Ok((session, report));
                    }
                    Err(e) => {
                        let why = format!("the CUDA execution provider failed to start: {}", tidy_ort_message(&e));
                        *CUDA_FAILURE.lock() = Some(why.clone());
                        reason = Some(why);
                    }
                }
            }
        }
    }
    let mut builder = base_builder(rt).map_err(invalid)?;
    let session = builder.commit_from_memory(model_bytes).map_err(|e| invalid(tidy_ort_message(&e.to_string())))?;
    Ok((session, DeviceReport { requested, used: CPU_LABEL.into(), reason }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_gpu_request_that_fell_back_is_warned_about() {
        let report = |requested| DeviceReport { requested, used: "CPU".into(), reason: Some("no CUDA".into()) };
        assert_eq!(
            report(Device::Gpu).fallback_warning().as_deref(),
            Some("Living Portrait: GPU was requested but inference runs on CPU: no CUDA")
        );
        assert_eq!(report(Device::Auto).fallback_warning(), None);
        assert_eq!(DeviceReport { requested: Device::Gpu, used: "CPU".into(), reason: None }.fallback_warning(), None);
    }

    #[test]
    fn ort_messages_are_tidied() {
        let raw = "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 onnxruntime::Provider& \
                   onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library \
                   /x/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file\n";
        assert_eq!(
            tidy_ort_message(raw),
            "Failed to load library /x/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open \
             shared object file"
        );
        assert_eq!(tidy_ort_message("plain text."), "plain text");
    }
}
