//! Benchmark (ignored by default): the built-in warp pack through `packs::load` at crop sides 256, 512 and 1024,
//! on the CPU, mean and spread of 20 runs after 3 warm-up runs, for an identity target and for an expressive one
//! (mouth open, lids lowered). Run with
//!
//! ```sh
//! cargo test -p living-portrait --release --test packs_bench -- --ignored --nocapture
//! LIVING_PORTRAIT_INTRA_THREADS=2 cargo test -p living-portrait --release --test packs_bench -- --ignored --nocapture
//! ```

#[path = "support/face_common.rs"]
mod face_common;
#[path = "support/packs.rs"]
mod support;

use std::time::Instant;

use living_portrait::inference::{inference_settings, Device};
use living_portrait::packs;
use living_portrait::packs::generator::{Reference, Target};
use support::*;

const WARM_UP: usize = 3;
const RUNS: usize = 20;

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn warp_pack_timings() {
    runtime();
    let generator = packs::load(&builtin_warp(), Device::Cpu).unwrap();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "warp pack, {} on {cores} cores, {} intra-op thread(s), {WARM_UP} warm-up + {RUNS} runs",
        generator.device_report().summary(),
        inference_settings().intra_op_threads
    );
    println!("{:>6} {:>10} {:>10} {:>10} {:>10}", "side", "target", "mean ms", "min ms", "max ms");
    for size in [256, 512, 1024] {
        let source = crop(size, 1);
        let landmarks = face();
        let refs = [Reference { crop: &source, landmarks: &landmarks, key: 1 }];
        for (label, target) in [("identity", face()), ("expressive", expressive(0.08))] {
            for _ in 0..WARM_UP {
                generator.generate(size, &refs, 0, &Target::new(&target), None).unwrap();
            }
            let mut times = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let start = Instant::now();
                let out = generator.generate(size, &refs, 0, &Target::new(&target), None).unwrap();
                times.push(start.elapsed().as_secs_f64() * 1e3);
                assert_eq!(out.size, size);
            }
            let mean = times.iter().sum::<f64>() / RUNS as f64;
            let min = times.iter().copied().fold(f64::MAX, f64::min);
            let max = times.iter().copied().fold(0.0, f64::max);
            println!("{size:>6} {label:>10} {mean:>10.2} {min:>10.2} {max:>10.2}");
        }
    }
}
