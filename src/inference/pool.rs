//! Session pools. `Session::run` takes `&mut self`, so one session behind one mutex would serialise every
//! render thread of every node; instead each (model file, device) pair has a pool that lends out sessions and
//! creates new ones lazily up to a bound, and the pools live in one process-wide registry so every instance of
//! the node that uses the same model shares them. A session is lent as a `PooledSession` guard that puts it back
//! when dropped, on every path (errors and panics included). The model is verified and its tensor names and
//! shapes checked when the pool is made; the verified bytes are kept to build further sessions from. A model is
//! described either in code (`ModelSpec`, checked against `SHA256SUMS`) or at run time (`DescribedModel`: owned
//! tensor names and shapes and the expected SHA-256, as a generator pack's manifest gives them); the pool also
//! exposes the tensors the model itself declares, so such a caller can bind its own free dimensions.
//! Host aborts: a run is refused when the host has already aborted, and a run that finishes after an abort is
//! discarded. The abort check is the host's, callable only on the render thread, so nothing watches it during a
//! run; our runs are milliseconds long. Each run has its own `RunOptions`, so a later `terminate` (a generator
//! run long enough to need it) would stop that run only.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use once_cell::sync::{Lazy, OnceCell};
use ort::session::{RunOptions, Session, SessionInputValue};
use ort::value::{DynValue, TensorRef};
use parking_lot::{Condvar, Mutex};

use super::device::{build_session, Device, DeviceReport};
use super::integrity::{verify_model_digest, verify_model_file};
use super::runtime::inference_settings;
use super::InferenceError;

/// One tensor a model must have: its name and shape (-1 for a free dimension).
#[derive(Clone, Copy, Debug)]
pub struct TensorSpec {
    pub name: &'static str,
    pub shape: &'static [i64],
}

/// What the code expects of a model file: its name in the models folder and its float tensors.
#[derive(Clone, Copy, Debug)]
pub struct ModelSpec {
    pub file: &'static str,
    pub inputs: &'static [TensorSpec],
    pub outputs: &'static [TensorSpec],
}

/// A tensor of a model described at run time: its name and shape (-1 for a free dimension).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DescribedTensor {
    pub name: String,
    pub shape: Vec<i64>,
}

/// A model described at run time rather than in code (a generator pack's manifest): its file, the SHA-256 its
/// bytes must have, and the float tensors it must have. Only the listed outputs are returned by a run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DescribedModel {
    pub path: PathBuf,
    pub sha256: String,
    pub inputs: Vec<DescribedTensor>,
    pub outputs: Vec<DescribedTensor>,
}

/// A tensor as the model file itself declares it, read from the first session built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelTensor {
    pub name: String,
    /// The declared shape; -1 for a dynamic dimension.
    pub shape: Vec<i64>,
    /// The name of each dynamic dimension ("" when it has none, or for a fixed dimension).
    pub symbols: Vec<String>,
    /// True for float32, the only element type our runs feed and read.
    pub is_float32: bool,
    /// The element type in words, for messages ("Float32", "Int64", or "not a tensor").
    pub element: String,
}

/// An input for a run: a name, a shape and row-major f32 data borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub struct TensorInput<'a> {
    pub name: &'a str,
    pub shape: &'a [usize],
    pub data: &'a [f32],
}

/// An output of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorOutput {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: OutputData,
}

/// The float values of a tensor: ONNX Runtime's own output buffer, kept
/// without a copy (a generator's outputs are some ten megabytes a frame), or
/// a vector. Both read and write as a slice.
pub enum OutputData {
    /// A float tensor in CPU memory, checked when it was taken.
    Runtime(DynValue),
    Owned(Vec<f32>),
}

impl OutputData {
    /// The values as a vector (a copy for a runtime buffer).
    pub fn into_vec(self) -> Vec<f32> {
        match self {
            OutputData::Owned(v) => v,
            OutputData::Runtime(_) => self.to_vec(),
        }
    }
}

impl Default for OutputData {
    fn default() -> Self {
        OutputData::Owned(Vec::new())
    }
}

impl From<Vec<f32>> for OutputData {
    fn from(v: Vec<f32>) -> Self {
        OutputData::Owned(v)
    }
}

impl Deref for OutputData {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            OutputData::Owned(v) => v,
            // Checked to be a CPU float tensor when taken; empty otherwise.
            OutputData::Runtime(v) => v.try_extract_tensor::<f32>().map(|(_, d)| d).unwrap_or(&[]),
        }
    }
}

impl DerefMut for OutputData {
    fn deref_mut(&mut self) -> &mut [f32] {
        match self {
            OutputData::Owned(v) => v,
            OutputData::Runtime(v) => v.try_extract_tensor_mut::<f32>().map(|(_, d)| d).unwrap_or(&mut []),
        }
    }
}

impl Clone for OutputData {
    fn clone(&self) -> Self {
        OutputData::Owned(self.to_vec())
    }
}

impl std::fmt::Debug for OutputData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for OutputData {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

/// What a pool is for: a model checked against `SHA256SUMS`, or a described one. A described model is keyed by its
/// whole description, so a file listed with another digest or other tensors never reuses a pool checked for
/// something else.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum PoolKey {
    Listed(PathBuf, Device),
    Described(DescribedModel, Device),
}

/// The registry: one pool per (model, requested device). The cell lets concurrent first users of a model
/// wait for one pool to be built instead of each building its own; a failed build leaves the cell empty so the
/// next call tries again (after the user has reinstalled a model, say).
static REGISTRY: Lazy<Mutex<HashMap<PoolKey, PoolCell>>> = Lazy::new(Default::default);

/// A pool once built; shared so a caller can wait for it without holding the registry lock.
type PoolCell = Arc<OnceCell<Arc<SessionPool>>>;

struct PoolState {
    idle: Vec<Session>,
    /// Sessions in existence (idle + lent + being built).
    created: usize,
}

/// Sessions of one model on one device, shared process-wide.
pub struct SessionPool {
    path: PathBuf,
    label: String,
    /// The outputs a run returns, in this order.
    output_names: Vec<String>,
    /// The model's own declaration of its inputs and outputs.
    model_inputs: Vec<ModelTensor>,
    model_outputs: Vec<ModelTensor>,
    model_bytes: Arc<[u8]>,
    requested: Device,
    report: DeviceReport,
    max_sessions: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

impl std::fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPool").field("path", &self.path).field("report", &self.report).finish()
    }
}

impl SessionPool {
    /// The shared pool for `spec.file` in `models_dir` on `device`, made (verified, checked, first session
    /// built) on first use.
    pub fn get(models_dir: &Path, spec: ModelSpec, device: Device) -> Result<Arc<SessionPool>, InferenceError> {
        let path = models_dir.join(spec.file);
        // Canonical paths make "models/x.onnx" and "./models/x.onnx" one pool; a missing file keeps its name
        // and fails in verification with that name.
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let cell = REGISTRY.lock().entry(PoolKey::Listed(path.clone(), device)).or_default().clone();
        cell.get_or_try_init(|| {
            let bytes = verify_model_file(&path)?;
            let expected = Expected { inputs: described(spec.inputs), outputs: described(spec.outputs) };
            SessionPool::create(path, bytes, &expected, device).map(Arc::new)
        })
        .cloned()
    }

    /// The shared pool for a model described at run time, made on first use: the file's size is bounded, its
    /// SHA-256 must be `model.sha256`, and the model must have every tensor listed (float32, same rank, equal
    /// wherever both the description and the model fix a dimension). `model_inputs`/`model_outputs` then tell
    /// the caller what the model fixes where the description left a dimension free.
    pub fn get_described(model: &DescribedModel, device: Device) -> Result<Arc<SessionPool>, InferenceError> {
        let mut model = model.clone();
        model.path = std::fs::canonicalize(&model.path).unwrap_or(model.path);
        model.sha256 = model.sha256.trim().to_ascii_lowercase();
        let cell = REGISTRY.lock().entry(PoolKey::Described(model.clone(), device)).or_default().clone();
        cell.get_or_try_init(|| {
            let bytes = verify_model_digest(&model.path, &model.sha256)?;
            let expected = Expected { inputs: model.inputs.clone(), outputs: model.outputs.clone() };
            SessionPool::create(model.path.clone(), bytes, &expected, device).map(Arc::new)
        })
        .cloned()
    }

    fn create(
        path: PathBuf,
        bytes: Vec<u8>,
        expected: &Expected,
        requested: Device,
    ) -> Result<SessionPool, InferenceError> {
        let (session, report) = build_session(&bytes, &path, requested)?;
        let model_inputs: Vec<ModelTensor> = session.inputs().iter().map(model_tensor).collect();
        let model_outputs: Vec<ModelTensor> = session.outputs().iter().map(model_tensor).collect();
        check_tensors(&path, expected, &model_inputs, &model_outputs)?;
        let label = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(SessionPool {
            path,
            label,
            output_names: expected.outputs.iter().map(|t| t.name.clone()).collect(),
            model_inputs,
            model_outputs,
            model_bytes: bytes.into(),
            requested,
            report,
            max_sessions: inference_settings().max_sessions_per_model,
            state: Mutex::new(PoolState { idle: vec![session], created: 1 }),
            returned: Condvar::new(),
        })
    }

    /// What runs this model, for the node's device line.
    pub fn device_report(&self) -> &DeviceReport {
        &self.report
    }

    /// The model file this pool was built from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The inputs as the model file declares them.
    pub fn model_inputs(&self) -> &[ModelTensor] {
        &self.model_inputs
    }

    /// The outputs as the model file declares them.
    pub fn model_outputs(&self) -> &[ModelTensor] {
        &self.model_outputs
    }

    /// Lends a session: an idle one, a new one while fewer than the bound exist, or the next one returned.
    pub fn checkout(&self) -> Result<PooledSession<'_>, InferenceError> {
        let mut state = self.state.lock();
        loop {
            if let Some(session) = state.idle.pop() {
                return Ok(PooledSession { pool: self, session: Some(session) });
            }
            if state.created < self.max_sessions {
                state.created += 1;
                break;
            }
            self.returned.wait(&mut state);
        }
        drop(state);
        // The slot taken above is given back if building fails or panics, so the pool never shrinks for good.
        let reservation = Reservation { pool: self };
        // Built outside the lock: other threads keep borrowing and returning sessions meanwhile. The device
        // was settled by the first session; later ones follow it rather than retrying a failed GPU.
        let device = if self.report.used == "CPU" { Device::Cpu } else { self.requested };
        let (session, _) = build_session(&self.model_bytes, &self.path, device)?;
        std::mem::forget(reservation);
        Ok(PooledSession { pool: self, session: Some(session) })
    }

    /// Runs the model once on a lent session. `abort` is the host's abort check: a run is not started when it
    /// already says stop, and a result that arrives after it does is dropped.
    pub fn run(
        &self,
        inputs: &[TensorInput<'_>],
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<Vec<TensorOutput>, InferenceError> {
        let mut session = self.checkout()?;
        session.run(inputs, abort)
    }

    fn give_back(&self, session: Session) {
        self.state.lock().idle.push(session);
        self.returned.notify_one();
    }
}

/// A session slot taken while its session is being built; dropped (on error or panic), it frees the slot.
struct Reservation<'p> {
    pool: &'p SessionPool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.pool.state.lock().created -= 1;
        self.pool.returned.notify_one();
    }
}

/// A session lent by a pool; it goes back to the pool when this guard is dropped.
pub struct PooledSession<'p> {
    pool: &'p SessionPool,
    session: Option<Session>,
}

impl PooledSession<'_> {
    /// Runs the model with the given inputs and returns every output the pool's spec names, in that order.
    pub fn run(
        &mut self,
        inputs: &[TensorInput<'_>],
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<Vec<TensorOutput>, InferenceError> {
        let aborted = || abort.is_some_and(|f| f());
        if aborted() {
            return Err(InferenceError::Aborted);
        }
        let label = self.pool.label.clone();
        let failed = |reason: String| InferenceError::RunFailed { model: label.clone(), reason };
        let mut values: Vec<(String, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len());
        for input in inputs {
            let expected: usize = input.shape.iter().product();
            if expected != input.data.len() {
                return Err(failed(format!(
                    "input '{}' has {} values for shape {:?}",
                    input.name,
                    input.data.len(),
                    input.shape
                )));
            }
            let tensor = TensorRef::from_array_view((input.shape.to_vec(), input.data))
                .map_err(|e| failed(format!("input '{}': {e}", input.name)))?;
            values.push((input.name.to_string(), tensor.into()));
        }
        let options = RunOptions::new().map_err(|e| failed(e.to_string()))?;
        let output_names = &self.pool.output_names;
        let outputs = self
            .deref_mut()
            .run_with_options(values, &options)
            .map_err(|e| failed(super::device::tidy_ort_message(&e.to_string())))?;
        let mut outputs = outputs;
        let mut result = Vec::with_capacity(output_names.len());
        for name in output_names {
            let value = outputs.remove(name.as_str()).ok_or_else(|| failed(format!("no output '{name}'")))?;
            let (shape, _) = value.try_extract_tensor::<f32>().map_err(|e| failed(format!("output '{name}': {e}")))?;
            let shape = shape.iter().map(|&d| d.max(0) as usize).collect();
            result.push(TensorOutput { name: name.clone(), shape, data: OutputData::Runtime(value) });
        }
        drop(outputs);
        if aborted() {
            return Err(InferenceError::Aborted);
        }
        Ok(result)
    }
}

impl Deref for PooledSession<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        // Present from construction until drop.
        self.session.as_ref().expect("a lent session is present until it is returned")
    }
}

impl DerefMut for PooledSession<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.session.as_mut().expect("a lent session is present until it is returned")
    }
}

impl Drop for PooledSession<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.pool.give_back(session);
        }
    }
}

/// The tensors a pool's model must have, whichever way it was described.
struct Expected {
    inputs: Vec<DescribedTensor>,
    outputs: Vec<DescribedTensor>,
}

fn described(specs: &[TensorSpec]) -> Vec<DescribedTensor> {
    specs.iter().map(|t| DescribedTensor { name: t.name.to_string(), shape: t.shape.to_vec() }).collect()
}

/// What the model declares for one of its inputs or outputs.
fn model_tensor(outlet: &ort::value::Outlet) -> ModelTensor {
    let dtype = outlet.dtype();
    let (shape, symbols) = match dtype {
        ort::value::ValueType::Tensor { shape, dimension_symbols, .. } => {
            (shape.to_vec(), dimension_symbols.iter().map(|s| s.to_string()).collect())
        }
        _ => (Vec::new(), Vec::new()),
    };
    let element = match dtype.tensor_type() {
        Some(t) => format!("{t:?}"),
        None => "not a tensor".to_string(),
    };
    ModelTensor {
        name: outlet.name().to_string(),
        shape,
        symbols,
        is_float32: dtype.tensor_type() == Some(ort::value::TensorElementType::Float32),
        element,
    }
}

/// Checks that the model has every tensor expected, as f32 with compatible shapes (same rank; equal wherever
/// both sides fix a dimension).
fn check_tensors(
    path: &Path,
    expected: &Expected,
    inputs: &[ModelTensor],
    outputs: &[ModelTensor],
) -> Result<(), InferenceError> {
    let mismatch = |tensor: &str, expected: String, found: String| InferenceError::TensorMismatch {
        path: path.to_path_buf(),
        tensor: tensor.to_string(),
        expected,
        found,
    };
    let groups = [("input", &expected.inputs, inputs), ("output", &expected.outputs, outputs)];
    for (kind, wanted, have) in groups {
        for want in wanted {
            let expected = format!("a float32 {kind} of shape {:?}", want.shape);
            let Some(tensor) = have.iter().find(|t| t.name == want.name) else {
                let names: Vec<&str> = have.iter().map(|t| t.name.as_str()).collect();
                return Err(mismatch(&want.name, expected, format!("absent (the model's {kind}s are {names:?})")));
            };
            let shape_ok = tensor.shape.len() == want.shape.len()
                && tensor.shape.iter().zip(&want.shape).all(|(&have, &want)| have < 0 || want < 0 || have == want);
            if !tensor.is_float32 || !shape_ok {
                let element = if tensor.is_float32 { "float32".to_string() } else { tensor.element.clone() };
                let found = format!("{element} of shape {:?}", tensor.shape);
                return Err(mismatch(&want.name, expected, found));
            }
        }
    }
    Ok(())
}
