//! The `fewshot` pack kind, the seed's architecture (Zakharov et al. 2019): an embedder turns K reference crops,
//! each stacked with its landmark sketch (6 channels), into one embedding, the mean over the references; a
//! generator turns the target's landmark sketch and that embedding into the crop. The embedding depends only on
//! the reference set, so it is computed once per set and kept in a small LRU shared by every render thread (the
//! first thread to need a set computes it, the others wait for it rather than repeating the work). Because the
//! embedding is a mean over references, a large set is embedded in chunks whose means are combined by weight,
//! which bounds the batch's memory (32 references at 1024 px would otherwise be an 800 MB tensor). The models
//! run at the pack's own crop side and crops are resized to it and back. A neural generator repaints the whole
//! crop, so `changed` is all ones and the paste-back's hull matte alone limits what changes in the frame.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use crate::inference::{DeviceReport, SessionPool, TensorInput};
use super::generator::{CropPixels, GenerateError, GeneratedCrop, Generator, Reference, Target};

use super::manifest::{Bindings, DimBounds, Manifest, SYMBOL_REFERENCES};
use super::resample::resize_planar;
use super::{sketch, PackError};

/// Reference sets whose embedding is kept. A set is one node's frame range of stills; a few nodes, or a user
/// trying ranges back and forth, fit.
pub const EMBEDDING_CACHE_ENTRIES: usize = 16;

/// The most input values one embedder run is given (64 MB of floats): large sets at large sides go in chunks.
const MAX_BATCH_VALUES: usize = 16 * 1024 * 1024;

/// A `fewshot` pack's generator.
pub struct FewShotGenerator {
    embedder: Arc<SessionPool>,
    generator: Arc<SessionPool>,
    fixed_side: Option<usize>,
    sides: Option<Vec<usize>>,
    /// The embedder takes exactly one reference per run (its `K` is fixed to 1).
    one_per_run: bool,
    references: DimBounds,
    embedding_len: Option<usize>,
    cache: Mutex<EmbeddingCache>,
    embedder_runs: AtomicU64,
    generator_runs: AtomicU64,
}

impl FewShotGenerator {
    pub(super) fn new(
        manifest: &Manifest,
        bindings: Bindings,
        embedder: Arc<SessionPool>,
        generator: Arc<SessionPool>,
    ) -> Result<FewShotGenerator, PackError> {
        let one_per_run = match bindings.references {
            None => false,
            Some(1) => true,
            Some(k) => {
                let file = manifest.model("embedder").map(|m| m.file.clone()).unwrap_or_default();
                return Err(PackError::Unsupported {
                    dir: manifest.dir.clone(),
                    file,
                    reason: format!(
                        "fixes the number of references \"K\" to {k}; a few-shot embedder must take any number \
                         (\"K\") or exactly 1"
                    ),
                });
            }
        };
        Ok(FewShotGenerator {
            embedder,
            generator,
            fixed_side: bindings.size,
            sides: manifest.sides().map(<[usize]>::to_vec),
            one_per_run,
            references: manifest.bounds(SYMBOL_REFERENCES).cloned().unwrap_or(DimBounds {
                min: 1,
                max: usize::MAX,
                values: None,
            }),
            embedding_len: bindings.embedding,
            cache: Mutex::new(EmbeddingCache::new(EMBEDDING_CACHE_ENTRIES)),
            embedder_runs: AtomicU64::new(0),
            generator_runs: AtomicU64::new(0),
        })
    }

    /// The crop side the models run at for a working size.
    pub fn model_side(&self, size: usize) -> usize {
        super::model_side(self.fixed_side, self.sides.as_deref(), size)
    }

    /// How many times the embedder model has run (for tests of the embedding cache).
    pub fn embedder_runs(&self) -> u64 {
        self.embedder_runs.load(Ordering::Relaxed)
    }

    /// How many times the generator model has run.
    pub fn generator_runs(&self) -> u64 {
        self.generator_runs.load(Ordering::Relaxed)
    }

    /// Reference sets whose embedding is cached now.
    pub fn cached_embeddings(&self) -> usize {
        self.cache.lock().entries.iter().filter(|(_, cell)| cell.get().is_some()).count()
    }

    /// The embedding of a reference set at the working `size`, from the cache or computed.
    pub fn embedding(
        &self,
        size: usize,
        references: &[Reference<'_>],
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<Arc<[f32]>, GenerateError> {
        let n = references.len();
        if n == 0 {
            return Err(GenerateError::References("no reference still to animate".into()));
        }
        if !self.references.allows(n) {
            return Err(GenerateError::References(format!(
                "the few-shot pack cannot take {n} reference stills: its manifest allows {} (dims.K)",
                self.references
            )));
        }
        for (i, r) in references.iter().enumerate() {
            if r.crop.len() != 3 * size * size {
                return Err(GenerateError::References(format!("reference still {i} has {} values, not 3×{size}×{size}", r.crop.len())));
            }
        }
        let side = self.model_side(size);
        let key = EmbeddingKey {
            references: references.iter().map(|r| (r.key, landmarks_hash(r.landmarks))).collect(),
            side,
            size,
        };
        let cell = self.cache.lock().cell(key);
        // Computed outside the cache lock: other sets stay available meanwhile. A failed computation (an abort)
        // leaves the cell empty for the next caller.
        cell.get_or_try_init(|| self.embed(size, side, references, abort)).cloned()
    }

    fn embed(
        &self,
        size: usize,
        side: usize,
        references: &[Reference<'_>],
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<Arc<[f32]>, GenerateError> {
        let plane = side * side;
        let per_reference = 6 * plane;
        let chunk = if self.one_per_run { 1 } else { (MAX_BATCH_VALUES / per_reference).max(1) };
        let mut sum: Vec<f64> = Vec::new();
        for group in references.chunks(chunk) {
            let mut batch = Vec::with_capacity(group.len() * per_reference);
            for r in group {
                if side == size {
                    batch.extend_from_slice(r.crop);
                } else {
                    batch.extend(resize_planar(r.crop, 3, size, side));
                }
                batch.extend(sketch::draw(r.landmarks, side));
            }
            let shape = [group.len(), 6, side, side];
            let inputs = [TensorInput { name: "reference", shape: &shape, data: &batch }];
            let outputs = self.embedder.run(&inputs, abort)?;
            self.embedder_runs.fetch_add(1, Ordering::Relaxed);
            let embedding = outputs.into_iter().find(|o| o.name == "embedding").map(|o| o.data).unwrap_or_default();
            let expected = self.embedding_len.unwrap_or(embedding.len());
            if embedding.is_empty() || embedding.len() != expected || (!sum.is_empty() && sum.len() != expected) {
                return Err(GenerateError::ModelOutput(format!("the few-shot embedder returned {} values, not one embedding", embedding.len())));
            }
            sum.resize(embedding.len(), 0.0);
            // The chunk's mean, weighted by its share of the set.
            for (s, v) in sum.iter_mut().zip(embedding.iter()) {
                *s += *v as f64 * group.len() as f64;
            }
        }
        let n = references.len() as f64;
        Ok(sum.iter().map(|s| (s / n) as f32).collect())
    }
}

impl Generator for FewShotGenerator {
    fn generate(
        &self,
        size: usize,
        references: &[Reference<'_>],
        _chosen: usize,
        target: &Target<'_>,
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, GenerateError> {
        let embedding = self.embedding(size, references, abort)?;
        let side = self.model_side(size);
        let sketch = sketch::draw(target.landmarks, side);
        let sketch_shape = [1, 3, side, side];
        let embedding_shape = [1, embedding.len()];
        let inputs = [
            TensorInput { name: "sketch", shape: &sketch_shape, data: &sketch },
            TensorInput { name: "embedding", shape: &embedding_shape, data: &embedding },
        ];
        let outputs = self.generator.run(&inputs, abort)?;
        self.generator_runs.fetch_add(1, Ordering::Relaxed);
        let Some(mut rgb) = outputs.into_iter().find(|o| o.name == "output" && o.data.len() == 3 * side * side) else {
            return Err(GenerateError::ModelOutput(format!("the few-shot generator did not return a {side}×{side} RGB crop")));
        };
        // The contract is RGB in [0, 1]; a value outside (or NaN) would carry into the composite unchecked.
        for v in rgb.data.iter_mut() {
            *v = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
        }
        let rgb = if side == size { rgb.data } else { resize_planar(&rgb.data, 3, side, size).into() };
        Ok(GeneratedCrop { size, pixels: CropPixels::Rgb(rgb), changed: vec![1.0; size * size].into(), reference: 0 })
    }

    fn device_report(&self) -> &DeviceReport {
        self.generator.device_report()
    }
}

/// What an embedding depends on: each reference's content key and landmarks, in order, and the sides. The
/// landmarks are part of the key because the sketch is made from them: a landmark override on the same still
/// must give a new embedding even when the caller's content key covers only the image.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EmbeddingKey {
    references: Vec<(u128, u64)>,
    side: usize,
    size: usize,
}

/// FNV-1a of the landmarks' bit patterns: exact equality is what matters, not closeness.
fn landmarks_hash(points: &[[f32; 2]; 68]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in points.iter().flatten() {
        for b in v.to_bits().to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// An embedding once computed; shared so a thread can wait for another's computation without the cache lock.
type EmbeddingCell = Arc<OnceCell<Arc<[f32]>>>;

/// The embedding cells of recent reference sets, least recently used evicted.
struct EmbeddingCache {
    entries: lru::LruCache<EmbeddingKey, EmbeddingCell>,
}

impl EmbeddingCache {
    /// An empty cache of `capacity` sets (at least one).
    fn new(capacity: usize) -> EmbeddingCache {
        EmbeddingCache { entries: lru::LruCache::new(std::num::NonZeroUsize::new(capacity).unwrap_or(std::num::NonZeroUsize::MIN)) }
    }

    /// The cell for `key`, made if absent; marks it most recently used and evicts the least recently used.
    fn cell(&mut self, key: EmbeddingKey) -> EmbeddingCell {
        self.entries.get_or_insert(key, || Arc::new(OnceCell::new())).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u128) -> EmbeddingKey {
        EmbeddingKey { references: vec![(n, 0)], side: 256, size: 256 }
    }

    #[test]
    fn the_cache_keeps_the_most_recently_used() {
        let mut cache = EmbeddingCache::new(2);
        let a = cache.cell(key(1));
        a.set(Arc::from(vec![1.0f32])).unwrap();
        let b = cache.cell(key(2));
        b.set(Arc::from(vec![2.0f32])).unwrap();
        // Using 1 again makes 2 the oldest, so 3 evicts 2.
        assert!(cache.cell(key(1)).get().is_some());
        let _ = cache.cell(key(3));
        assert!(cache.cell(key(1)).get().is_some());
        assert!(cache.cell(key(2)).get().is_none());
        assert_eq!(cache.entries.len(), 2);
    }

    #[test]
    fn landmark_changes_change_the_key() {
        let mut p = [[0.0f32; 2]; 68];
        let h0 = landmarks_hash(&p);
        p[40][1] = 1e-6;
        assert_ne!(h0, landmarks_hash(&p));
    }
}
