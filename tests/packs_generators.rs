//! Pack generators on the real ONNX Runtime (CPU): the built-in warp pack reproduces its source when the target
//! is the source; the random-weight few-shot pack
//! runs end to end with one and three references at the pack's side and at others; the embedding is computed once
//! per reference set (counted through the embedder's run counter), also when threads race for it; the tiny packs
//! of `tests/data/packs` check the plumbing exactly (crop and sketch channels, the mean over references whether
//! the embedder takes K or one reference at a time, resizing to a pack's fixed side).

#[path = "support/face_common.rs"]
mod face_common;
#[path = "support/packs.rs"]
mod support;

use std::sync::Arc;

use living_portrait::inference::Device;
use living_portrait::packs::{self, sketch, FewShotGenerator, EMBEDDING_CACHE_ENTRIES};
use living_portrait::packs::generator::{Generator, Reference, Target};
use living_portrait::packs::load_generator;
use support::*;

/// Reference stills: crops, landmarks and keys kept together so `Reference`s can borrow them.
struct Stills {
    crops: Vec<Vec<f32>>,
    landmarks: Vec<[[f32; 2]; 68]>,
    keys: Vec<u128>,
}

impl Stills {
    fn new(size: usize, seeds: &[u32]) -> Stills {
        Stills {
            crops: seeds.iter().map(|&s| crop(size, s)).collect(),
            landmarks: seeds.iter().map(|&s| expressive(0.01 * s as f32)).collect(),
            keys: seeds.iter().map(|&s| 1000 + s as u128).collect(),
        }
    }

    fn refs(&self) -> Vec<Reference<'_>> {
        (0..self.crops.len())
            .map(|i| Reference { crop: &self.crops[i], landmarks: &self.landmarks[i], key: self.keys[i] })
            .collect()
    }
}

fn fewshot(dir: &std::path::Path) -> Arc<FewShotGenerator> {
    runtime();
    packs::load_pack(dir, Device::Cpu).unwrap().fewshot().expect("a few-shot pack").clone()
}

#[test]
fn builtin_warp_identity_returns_the_source() {
    runtime();
    let generator = packs::load(&builtin_warp(), Device::Cpu).unwrap();
    assert_eq!(generator.device_report().used, "CPU");
    for size in [256, 512] {
        let stills = Stills::new(size, &[0]);
        let refs = stills.refs();
        let out = generator.generate(size, &refs, 0, &Target::new(&stills.landmarks[0]), None).unwrap();
        assert_eq!(out.size, size);
        let rgb = out.rgb(&refs);
        assert_eq!(rgb.len(), 3 * size * size);
        let diff = max_diff(&rgb, &stills.crops[0]);
        assert!(diff < 1e-4, "identity at {size}: max difference {diff}");
        let changed = out.changed.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(changed < 1e-3, "identity at {size}: changed up to {changed}");
    }
}

#[test]
fn builtin_warp_animates_and_is_what_the_plugin_loads() {
    runtime();
    let size = 256;
    let stills = Stills::new(size, &[3]);
    let target = expressive(0.08);
    let ours =
        packs::load(&builtin_warp(), Device::Cpu).unwrap().generate(size, &stills.refs(), 0, &Target::new(&target), None).unwrap();
    // And the target really moved something.
    assert!(max_diff(&ours.rgb(&stills.refs()), &stills.crops[0]) > 0.01);
    assert!(ours.changed.iter().any(|&c| c > 0.5));
    // `load_generator(None)` is the built-in warp pack.
    let plugin = load_generator(None, Device::Cpu).unwrap();
    let again = plugin.generate(size, &stills.refs(), 0, &Target::new(&target), None).unwrap();
    assert_eq!(max_diff(&again.rgb(&stills.refs()), &ours.rgb(&stills.refs())), 0.0);
}

/// Bilinear sample of plane `p` (S×S) at normalised crop point `n` (pixel centres at (2i + 1)/S − 1).
fn sample_at(p: &[f32], size: usize, n: [f32; 2]) -> f32 {
    let f = |c: f32| ((c + 1.0) * size as f32 / 2.0 - 0.5).clamp(0.0, size as f32 - 1.0);
    let (fx, fy) = (f(n[0]), f(n[1]));
    let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(size - 1), (y0 + 1).min(size - 1));
    let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
    let top = p[y0 * size + x0] + (p[y0 * size + x1] - p[y0 * size + x0]) * tx;
    let bottom = p[y1 * size + x0] + (p[y1 * size + x1] - p[y1 * size + x0]) * tx;
    top + (bottom - top) * ty
}

#[test]
fn builtin_warp_puts_moved_points_where_the_target_says() {
    // The grid's point A at a moved landmark's target position must be the landmark's source position: the
    // feature lands where the track puts it. (The smooth map once fell a quarter short at an opened chin:
    // 0.07 eye distances here.)
    runtime();
    let size = 512;
    let stills = Stills::new(size, &[0]);
    let source = stills.landmarks[0];
    let eye = |r: std::ops::Range<usize>| r.clone().fold([0.0f32; 2], |a, i| [a[0] + source[i][0] / 6.0, a[1] + source[i][1] / 6.0]);
    let (l, r) = (eye(36..42), eye(42..48));
    let iod = (l[0] - r[0]).hypot(l[1] - r[1]);
    // A chin dropped by 0.3 eye distances (tapering along the jaw) with the lower lip, then the whole face
    // rolled by 5° about the nose.
    let mut target = source;
    for i in (5..12).chain(55..60) {
        let w = if i < 12 { 1.0 - (i as f32 - 8.0).abs() / 5.0 } else { 1.0 };
        target[i][1] += 0.3 * iod * w;
    }
    let (s, c) = 5f32.to_radians().sin_cos();
    let centre = source[30];
    for p in target.iter_mut() {
        let (x, y) = (p[0] - centre[0], p[1] - centre[1]);
        *p = [centre[0] + c * x - s * y, centre[1] + s * x + c * y];
    }
    let out = packs::load(&builtin_warp(), Device::Cpu).unwrap().generate(size, &stills.refs(), 0, &Target::new(&target), None).unwrap();
    let living_portrait::packs::generator::CropPixels::Resample { grid, .. } = &out.pixels else {
        panic!("the built-in warp returns a resampling")
    };
    let plane = size * size;
    // The eyelids and the lips are the eye and mouth layers' (their own tests are in check_warp.py).
    let layers = |i: usize| [37, 38, 40, 41, 43, 44, 46, 47].contains(&i) || (48..68).contains(&i);
    let mut worst = (0.0f32, 0);
    for i in (0..68).filter(|&i| !layers(i)) {
        let a = [sample_at(&grid[..plane], size, target[i]), sample_at(&grid[plane..2 * plane], size, target[i])];
        let miss = (a[0] - source[i][0]).hypot(a[1] - source[i][1]) / iod;
        if miss > worst.0 {
            worst = (miss, i);
        }
    }
    assert!(worst.0 < 0.03, "landmark {} misses its source position by {:.3} eye distances", worst.1, worst.0);
}

#[test]
fn the_plugin_refuses_test_packs() {
    runtime();
    let Err(err) = load_generator(Some(&fewshot_test()), Device::Cpu).map_err(|e| e.to_string()) else { panic!("a test pack was accepted") };
    assert!(err.contains("random weights") && err.contains(packs::ALLOW_TEST_PACKS_ENV), "{err}");
    let Err(err) = load_generator(Some(&fewshot_test().join("missing")), Device::Cpu).map_err(|e| e.to_string()) else { panic!() };
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn fewshot_test_pack_runs_with_one_and_three_references() {
    let dir = copy_pack(&fewshot_test(), "e2e");
    let generator = fewshot(dir.path());
    assert_eq!(generator.model_side(512), 256);
    let target = expressive(0.05);
    let mut outputs = Vec::new();
    for (size, seeds) in [(256, &[1][..]), (256, &[1, 2, 3][..]), (512, &[1, 2, 3][..])] {
        let stills = Stills::new(size, seeds);
        let refs = stills.refs();
        let out = generator.generate(size, &refs, 0, &Target::new(&target), None).unwrap();
        assert_eq!(out.size, size);
        assert_eq!(out.rgb(&[]).len(), 3 * size * size);
        assert!(out.rgb(&[]).iter().all(|v| (0.0..=1.0).contains(v)), "RGB in [0, 1]");
        assert!(out.changed.len() == size * size && out.changed.iter().all(|&c| c == 1.0), "changed is all ones");
        let mean = out.rgb(&[]).iter().sum::<f32>() / out.rgb(&[]).len() as f32;
        let spread = out.rgb(&[]).iter().map(|v| (v - mean).abs()).fold(0.0f32, f32::max);
        assert!(spread > 0.01, "the sketch shows in the output ({spread})");
        // Deterministic.
        let again = generator.generate(size, &refs, 0, &Target::new(&target), None).unwrap();
        assert_eq!(again.rgb(&[]), out.rgb(&[]));
        outputs.push(out);
    }
    assert!(max_diff(&outputs[0].rgb(&[]), &outputs[1].rgb(&[])) > 1e-4, "three references embed differently from one");
    // Another target, another crop.
    let stills = Stills::new(256, &[1]);
    let other = generator.generate(256, &stills.refs(), 0, &Target::new(&expressive(0.15)), None).unwrap();
    assert!(max_diff(&other.rgb(&[]), &outputs[0].rgb(&[])) > 1e-3);
    // One embedder run per reference set and side: {1} at 256, {1,2,3} at 256, {1,2,3} at 512.
    assert_eq!(generator.embedder_runs(), 3);
}

#[test]
fn embeddings_are_cached_per_reference_set() {
    let dir = copy_pack(&fewshot_test(), "cache");
    let generator = fewshot(dir.path());
    let size = 256;
    let a = Stills::new(size, &[1, 2, 3]);
    let b = Stills::new(size, &[4, 5, 6]);
    let run =
        |refs: &[Reference<'_>], amount: f32| generator.generate(size, refs, 0, &Target::new(&expressive(amount)), None).unwrap();

    run(&a.refs(), 0.0);
    run(&a.refs(), 0.1);
    assert_eq!((generator.embedder_runs(), generator.generator_runs()), (1, 2), "a second frame hits");
    run(&b.refs(), 0.0);
    assert_eq!(generator.embedder_runs(), 2);
    run(&a.refs(), 0.2);
    assert_eq!(generator.embedder_runs(), 2, "back to the first set: still cached");
    let mut reversed = a.refs();
    reversed.reverse();
    run(&reversed, 0.0);
    assert_eq!(generator.embedder_runs(), 3, "the key is the ordered list");
    let mut moved = a.landmarks.clone();
    moved[0][30][0] += 0.01;
    let moved_refs: Vec<Reference<'_>> =
        (0..3).map(|i| Reference { crop: &a.crops[i], landmarks: &moved[i], key: a.keys[i] }).collect();
    run(&moved_refs, 0.0);
    assert_eq!(generator.embedder_runs(), 4, "new reference landmarks, new sketch, new embedding");
    let a512 = Stills::new(512, &[1, 2, 3]);
    generator.generate(512, &a512.refs(), 0, &Target::new(&expressive(0.0)), None).unwrap();
    assert_eq!(generator.embedder_runs(), 5, "the working size is part of the key");
    assert_eq!(generator.cached_embeddings(), 5);

    // The cache is bounded: after as many new sets as it holds, the first set is gone.
    for i in 0..EMBEDDING_CACHE_ENTRIES as u32 {
        let s = Stills::new(size, &[100 + i]);
        run(&s.refs(), 0.0);
    }
    assert_eq!(generator.cached_embeddings(), EMBEDDING_CACHE_ENTRIES);
    let before = generator.embedder_runs();
    run(&a.refs(), 0.0);
    assert_eq!(generator.embedder_runs(), before + 1, "the least recently used set was evicted");
}

#[test]
fn racing_threads_embed_a_set_once() {
    let dir = copy_pack(&fewshot_test(), "race");
    let generator = fewshot(dir.path());
    let stills = Stills::new(256, &[7, 8, 9]);
    let results: Vec<Vec<f32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let generator = &generator;
                let stills = &stills;
                scope.spawn(move || {
                    generator.generate(256, &stills.refs(), 0, &Target::new(&expressive(0.01 * t as f32)), None).unwrap().rgb(&[]).into_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.len(), 4);
    assert_eq!(generator.embedder_runs(), 1);
    assert_eq!(generator.generator_runs(), 4);
}

#[test]
fn an_abort_is_not_cached() {
    let dir = copy_pack(&fewshot_test(), "abort");
    let generator = fewshot(dir.path());
    let stills = Stills::new(256, &[1]);
    let stop = || true;
    let err = generator.generate(256, &stills.refs(), 0, &Target::new(&face()), Some(&stop)).unwrap_err().to_string();
    assert!(err.contains("aborted"), "{err}");
    assert_eq!(generator.cached_embeddings(), 0);
    generator.generate(256, &stills.refs(), 0, &Target::new(&face()), None).unwrap();
    assert_eq!(generator.cached_embeddings(), 1);
}

#[test]
fn reference_counts_outside_the_manifest_bounds_are_refused() {
    let generator = fewshot(&fewshot_test());
    let none: Vec<Reference<'_>> = Vec::new();
    assert!(generator.generate(256, &none, 0, &Target::new(&face()), None).unwrap_err().to_string().contains("no reference"));
    let many = Stills::new(256, &(0..33).collect::<Vec<u32>>());
    let err = generator.generate(256, &many.refs(), 0, &Target::new(&face()), None).unwrap_err().to_string();
    assert!(err.contains("33") && err.contains("from 1 to 32"), "{err}");
    let wrong = Stills::new(128, &[1]);
    let err = generator.generate(256, &wrong.refs(), 0, &Target::new(&face()), None).unwrap_err().to_string();
    assert!(err.contains("3×256×256"), "{err}");
}

/// The mean of each plane of a planar image.
fn plane_means(rgb: &[f32], planes: usize) -> Vec<f32> {
    let n = rgb.len() / planes;
    (0..planes).map(|c| rgb[c * n..(c + 1) * n].iter().map(|&v| v as f64).sum::<f64>() as f32 / n as f32).collect()
}

#[test]
fn the_embedder_sees_crops_then_sketches_averaged_over_references() {
    let side = 64;
    let stills = Stills::new(side, &[1, 2, 3]);
    let refs = stills.refs();
    // What the mean embedder must return: crop channel means, then sketch channel means, averaged over references.
    let mut expected = vec![0.0f32; 6];
    for i in 0..3 {
        let crop_means = plane_means(&stills.crops[i], 3);
        let sketch_means = plane_means(&sketch::draw(&stills.landmarks[i], side), 3);
        for c in 0..3 {
            expected[c] += crop_means[c] / 3.0;
            expected[3 + c] += sketch_means[c] / 3.0;
        }
    }
    assert!(expected[3..].iter().all(|&m| m > 0.005), "the sketches are not empty: {expected:?}");
    for (pack, runs) in [("mean_fewshot", 1), ("mean_fewshot_k1", 3)] {
        let generator = fewshot(&test_pack(pack));
        let before = generator.embedder_runs();
        let embedding = generator.embedding(side, &refs, None).unwrap();
        assert_eq!(generator.embedder_runs() - before, runs, "{pack}: embedder runs");
        assert!(max_diff(&embedding, &expected) < 1e-5, "{pack}: {embedding:?} vs {expected:?}");
        // The generator paints the mean crop colour everywhere.
        let out = generator.generate(side, &refs, 0, &Target::new(&face()), None).unwrap();
        for (c, plane) in out.rgb(&[]).chunks(side * side).enumerate() {
            assert!(plane.iter().all(|v| (v - expected[c]).abs() < 1e-5), "{pack}: channel {c}");
        }
    }
}

#[test]
fn fixed_side_packs_are_fed_resized_crops() {
    // Few-shot at 64 used at 128: crops go down to 64, the output comes back at 128.
    let generator = fewshot(&test_pack("mean_fewshot"));
    let stills = Stills::new(128, &[4, 5]);
    let out = generator.generate(128, &stills.refs(), 0, &Target::new(&face()), None).unwrap();
    assert_eq!(out.rgb(&[]).len(), 3 * 128 * 128);
    let mean: Vec<f32> =
        (0..3).map(|c| stills.crops.iter().map(|crop| plane_means(crop, 3)[c]).sum::<f32>() / 2.0).collect();
    let got = plane_means(&out.rgb(&[]), 3);
    assert!(max_diff(&got, &mean) < 2e-3, "{got:?} vs {mean:?}");

    // Warp at 64 used at 64 (exact) and at 128 (resized there and back).
    runtime();
    let pack = packs::load_pack(&test_pack("identity_warp64"), Device::Cpu).unwrap();
    let warp = pack.warp().unwrap();
    assert_eq!((warp.model_side(64), warp.model_side(128), warp.model_side(1024)), (64, 64, 64));
    for size in [64, 128] {
        let stills = Stills::new(size, &[2]);
        let out = warp.generate(size, &stills.refs(), 0, &Target::new(&expressive(0.1)), None).unwrap();
        assert_eq!((out.rgb(&[]).len(), out.changed.len()), (3 * size * size, size * size));
        assert!(out.changed.iter().all(|&c| c == 0.0));
        let diff = max_diff(&out.rgb(&[]), &stills.crops[0]);
        let bound = if size == 64 { 0.0 } else { 0.03 };
        assert!(diff <= bound, "at {size}: {diff}");
    }
}
