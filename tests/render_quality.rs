//! Quality of the render, with real inference on the CPU through the headless
//! host and the plugin's C entry points: identity drive reproduces the portrait,
//! a scripted track (jaw open, blink, smile, head roll ±8°) moves the face where
//! the track says — checked by running the shipped landmark detector on the
//! rendered frames — static tracks give identical frames, pixels outside the
//! matte are untouched, and there are no NaNs and no seams.
//! Figures are printed (`cargo test --test render_quality -- --nocapture`).

#[path = "support/common.rs"]
mod common;

use std::path::{Path, PathBuf};

use common::*;
use living_portrait::track::{LandmarkTrack, TrackFrame};
use living_portrait::face::Landmarks68;
use ofx::host::*;

/// Point both this process's ONNX Runtime and the plugin's at the cached runtime.
fn runtime() {
    test_env();
}



fn source_landmarks() -> Landmarks68 {
    let a = analyzer().analyze(&to_face_image(&astronaut())).unwrap();
    a.face.as_ref().expect("a face on the astronaut").landmarks68
}

fn write_track(name: &str, frames: Vec<Landmarks68>) -> PathBuf {
    let dir = installer::target_dir().join("test-output").join("render_quality");
    std::fs::create_dir_all(&dir).unwrap();
    let frames = frames.into_iter().enumerate().map(|(i, l)| TrackFrame { frame: i as u32 + 1, landmarks: Some(l) }).collect();
    let t = LandmarkTrack::new([512, 512], Some(24.0), frames).unwrap();
    let p = dir.join(format!("{name}.json"));
    t.write(&p).unwrap();
    p
}

fn render_track(track: &Path, frames: &[i32], extra: &[(&str, ParamValue)]) -> Vec<(i32, HostImage)> {
    render_track_of(astronaut(), track, frames, extra)
}

/// Drive an instance with a track file.
fn drive_by_track(inst: &mut Instance, track: &Path) {
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    inst.set_param("trackFile", ParamValue::String(track.display().to_string())).unwrap();
}

/// The portrait's landmarks with the chin and the lower lips dropped by
/// `amount` eye distances.
fn jaw_dropped(lm: &Landmarks68, amount: f32) -> Landmarks68 {
    let mut open = *lm;
    for i in (5..12).chain(55..60).chain(65..68) {
        open[i][1] += amount * iod(lm);
    }
    open
}

fn render_track_of(portrait: HostImage, track: &Path, frames: &[i32], extra: &[(&str, ParamValue)]) -> Vec<(i32, HostImage)> {
    runtime();
    let (_h, plugin) = load(HostOptions { threads: 2, ..HostOptions::default() });
    let mut inst = instance_with(&plugin, portrait);
    drive_by_track(&mut inst, track);
    for (k, v) in extra {
        inst.set_param(k, v.clone()).unwrap();
    }
    let out = inst.render_sequence(frames, 2, &RenderRequest::default()).unwrap_or_else(|e| panic!("render: {e}; {:?}", inst.messages()));
    assert_eq!(inst.leaked_images(), 0);
    out
}

fn psnr(a: &HostImage, b: &HostImage, mask: impl Fn(usize) -> bool) -> f64 {
    let mut se = 0.0f64;
    let mut n = 0usize;
    for (i, (p, q)) in a.pixels.chunks_exact(4).zip(b.pixels.chunks_exact(4)).enumerate() {
        if mask(i) {
            for c in 0..3 {
                se += ((p[c] - q[c]) as f64).powi(2);
            }
            n += 3;
        }
    }
    if se == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (1.0 / (se / n as f64)).log10()
}

#[test]
fn identity_drive_reproduces_the_portrait() {
    let src = astronaut();
    let lm = source_landmarks();
    // Relative motion with a static track: exactly the portrait's landmarks.
    let track = write_track("static", vec![lm; 4]);
    let frames = render_track(&track, &[1, 2, 3, 4], &[]);
    for (f, img) in &frames {
        assert_eq!(max_diff(&src, img), (0.0, true), "relative static track, frame {f}: bit-exact");
    }
    // Absolute motion with MediaPipe's reference landmarks (a hair off ours).
    let reference: Vec<[f32; 2]> = {
        let t = std::fs::read_to_string(installer::workspace_root().join("tests/data/astronaut_reference.json")).unwrap();
        let root = living_portrait::json::Json::parse(&t).unwrap();
        let pts = root.get("ibug68").unwrap().get("points_xy").unwrap().as_array().unwrap().to_vec();
        pts.iter().map(|p| {
            let a = p.as_array().unwrap();
            [a[0].as_f64().unwrap() as f32, a[1].as_f64().unwrap() as f32]
        }).collect()
    };
    let track = write_track("absolute", vec![reference.try_into().unwrap()]);
    let out = render_track(&track, &[1], &[("motion", ParamValue::ChoiceByOption("absolute".into()))]);
    let matte = render_matte(&track, &[("motion", ParamValue::ChoiceByOption("absolute".into()))]);
    let inside = |i: usize| matte.pixels[i * 4] > 0.0;
    let p = psnr(&src, &out[0].1, inside);
    println!("absolute drive with MediaPipe's landmarks: PSNR inside the matte {p:.1} dB");
    assert!(p >= 40.0, "PSNR {p:.1} dB inside the matte");
    let outside_diff = src.pixels.chunks_exact(4).zip(out[0].1.pixels.chunks_exact(4)).enumerate()
        .filter(|(i, _)| !inside(*i)).map(|(_, (a, b))| (0..4).map(|c| (a[c] - b[c]).abs()).fold(0.0f32, f32::max)).fold(0.0f32, f32::max);
    assert_eq!(outside_diff, 0.0, "bit-exact outside the matte");
}

fn render_matte(track: &Path, extra: &[(&str, ParamValue)]) -> HostImage {
    let mut e: Vec<(&str, ParamValue)> = extra.to_vec();
    e.push(("outputMode", ParamValue::ChoiceByOption("matte".into())));
    render_track(track, &[1], &e).remove(0).1
}

/// Scripted edits of the portrait's own landmarks: (name, moved points, edit).
fn scripted(lm: &Landmarks68) -> Vec<(&'static str, Vec<usize>, Landmarks68)> {
    let d = iod(lm);
    let mut out = Vec::new();
    let mut jaw = *lm;
    let jaw_pts: Vec<usize> = (5..12).chain(55..60).chain(65..68).collect();
    for &i in &jaw_pts {
        let w = if (5..12).contains(&i) { 1.0 - (i as f32 - 8.0).abs() / 5.0 } else { 1.0 };
        jaw[i][1] += 0.3 * d * w;
    }
    out.push(("jaw open", jaw_pts, jaw));
    let mut blink = *lm;
    let lid_pts = vec![37, 38, 43, 44];
    for (u, l) in [(37, 41), (38, 40), (43, 47), (44, 46)] {
        blink[u][1] += (lm[l][1] - lm[u][1]) * 0.9;
    }
    out.push(("blink", lid_pts, blink));
    let mut smile = *lm;
    for (i, s) in [(48, -1.0), (54, 1.0)] {
        smile[i][0] += s * 0.08 * d;
        smile[i][1] -= 0.08 * d;
    }
    out.push(("smile", vec![48, 54], smile));
    for deg in [8.0f32, -8.0] {
        let mut roll = *lm;
        let (cx, cy) = (lm[30][0], lm[30][1]);
        let (s, c) = deg.to_radians().sin_cos();
        for p in roll.iter_mut() {
            let (x, y) = (p[0] - cx, p[1] - cy);
            *p = [cx + c * x - s * y, cy + s * x + c * y];
        }
        out.push((if deg > 0.0 { "roll +8°" } else { "roll -8°" }, (17..68).collect(), roll));
    }
    out
}

#[test]
fn scripted_track_moves_the_face_where_the_track_says() {
    let src_lm = source_landmarks();
    let cases = scripted(&src_lm);
    let mut frames = vec![src_lm];
    frames.extend(cases.iter().map(|c| c.2));
    let track = write_track("scripted", frames);
    let n = cases.len() as i32 + 1;
    let out = render_track(&track, &(1..=n).collect::<Vec<_>>(), &[]);
    let a = analyzer();
    let d = iod(&src_lm);
    let save_dir = installer::target_dir().join("test-output").join("render_quality");
    println!("case         | motion gain | mean error / IOD");
    let mut failures = Vec::new();
    for (k, (name, moved, target)) in cases.iter().enumerate() {
        let (f, img) = &out[k + 1];
        assert!(img.pixels.iter().all(|v| v.is_finite()), "{name}: NaN or Inf in the output");
        img.save(&save_dir.join(format!("scripted_{f:02}.png")), Depth::Byte).unwrap();
        let found = a.analyze(&to_face_image(img)).unwrap();
        let got = found.face.as_ref().unwrap_or_else(|| panic!("{name}: no face found on the rendered frame")).landmarks68;
        let (mut num, mut den, mut err) = (0.0f32, 0.0f32, 0.0f32);
        for &i in moved {
            let want = [target[i][0] - src_lm[i][0], target[i][1] - src_lm[i][1]];
            let have = [got[i][0] - src_lm[i][0], got[i][1] - src_lm[i][1]];
            num += want[0] * have[0] + want[1] * have[1];
            den += want[0] * want[0] + want[1] * want[1];
            err += (got[i][0] - target[i][0]).hypot(got[i][1] - target[i][1]);
        }
        let gain = num / den.max(1e-9);
        let err = err / moved.len() as f32 / d;
        println!("{name:12} | {gain:11.2} | {err:.3}");
        for &i in moved.iter().take(12) {
            println!("   pt {i}: src {:?} target {:?} got {:?}", src_lm[i], target[i], got[i]);
        }
        // What the shipped detector (MediaPipe's attention mesh) reports on the
        // rendered frame. Measured (generator v2): jaw 0.73 / 0.089 (0.76 with
        // an empty cavity: the tongue lowers what it reads), blink 0.44 / 0.072,
        // smile 0.57 / 0.051, roll ±8° 1.06 / 0.008–0.009 (gain / mean error in
        // eye distances). The warp itself puts the chin within 0.02 eye
        // distances of its target (`packs_generators`, `check_warp.py`); the
        // detector's face prior under-reads a jaw drop, a blink and a smile
        // that are plainly visible in the frames (it reads 48 % of a plain
        // stretch of the chin: `the_detector_itself_reads_about_half_of_a_chin_drop`,
        // and 0.55 of the upper lids' motion when the eyes are closed 90 % by a plain
        // transform: `the_detector_itself_reads_part_of_a_blink`). The blink bar was
        // 0.55 while the lid shut fully from 80 % closure on (it read 0.68); the lid
        // now covers what is asked, and its lash line closes onto a lower lid that
        // rises, as a real one does, so the upper points travel less than scripted.
        // A broken warp gives a gain near 0.
        let (min_gain, max_err) = match *name {
            "jaw open" => (0.65, 0.12),
            "blink" => (0.35, 0.085),
            "smile" => (0.45, 0.07),
            _ => (0.85, 0.02),
        };
        if gain < min_gain || err > max_err {
            failures.push(format!("{name}: gain {gain:.2}, mean error {err:.3} of the eye distance"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn the_detector_itself_reads_about_half_of_a_chin_drop() {
    // Calibration of the measuring instrument: stretch everything below the
    // lower lip of the portrait by 30 % (a plain image transform whose
    // landmark motion is known exactly) and let the shipped detector find the
    // chin. It follows only about half of it (measured: gain 0.48), as it
    // follows only part of the rendered jaw drop above. If this starts to
    // fail, the detector got better: raise the bars of
    // `scripted_track_moves_the_face_where_the_track_says`.
    let src = astronaut();
    let src_lm = source_landmarks();
    let (w, h) = (src.width as usize, src.height as usize);
    let (k, lip) = (1.3f32, src_lm[57][1]);
    let mut stretched = src.clone();
    for t in 0..h {
        // Top-down row t, centre t + 0.5, samples the source at ts (a stretch below the lip).
        let yc = t as f32 + 0.5;
        let ts = if yc > lip { lip + (yc - lip) / k } else { yc } - 0.5;
        let (t0, f) = (ts.floor().max(0.0) as usize, ts - ts.floor().max(0.0));
        let t1 = (t0 + 1).min(h - 1);
        for x in 0..w {
            for c in 0..4 {
                let at = |tt: usize| src.pixels[((h - 1 - tt) * w + x) * 4 + c];
                stretched.pixels[((h - 1 - t) * w + x) * 4 + c] = at(t0) + (at(t1) - at(t0)) * f;
            }
        }
    }
    let a = analyzer();
    let got = a.analyze(&to_face_image(&stretched)).unwrap().face.as_ref().expect("a face on the stretched portrait").landmarks68;
    let chin = [6, 7, 8, 9, 10];
    let (mut num, mut den) = (0.0f32, 0.0f32);
    for &i in &chin {
        let want = (src_lm[i][1] - lip) * (k - 1.0);
        num += want * (got[i][1] - src_lm[i][1]);
        den += want * want;
    }
    let gain = num / den;
    println!("detector on a 30 % stretch below the lower lip: chin motion gain {gain:.2}");
    assert!(gain > 0.2, "the detector does follow the chin ({gain:.2})");
    assert!(gain < 0.8, "the detector now follows a chin drop ({gain:.2}): raise the jaw bars of the scripted test");
}

#[test]
fn the_detector_itself_reads_part_of_a_blink() {
    // Calibration of the measuring instrument for blinks, as for the chin
    // above: close both eyes of the portrait by a plain image transform with
    // exactly known landmark motion and let the shipped detector find the
    // lids. Per image column across an eye, the upper lid's line (the
    // polyline 36-37-38-39) moves 90 % of the way down to the lower lid's
    // (36-41-40-39), as in the scripted blink above; the band of one eye width
    // above it stretches down with it and the rows of the opening it now
    // covers are hidden. Measured: lid gap gain 0.63 (upper lid points alone 0.55) of
    // the motion; `resources/demo/measure.py`'s `blink_calibration` reads
    // 62 / 48 / 51 % over a 0-1 blink of the three demo portraits). If this
    // starts to fail high, the detector got better: raise the blink bar of
    // `scripted_track_moves_the_face_where_the_track_says`.
    let src = astronaut();
    let lm = source_landmarks();
    let (w, h) = (src.width as usize, src.height as usize);
    let k = 0.9f32;
    let mut closed = src.clone();
    let interp = |xs: &[f32], ys: &[f32], x: f32| -> f32 {
        let j = (1..xs.len()).find(|&j| x <= xs[j]).unwrap_or(xs.len() - 1);
        let f = ((x - xs[j - 1]) / (xs[j] - xs[j - 1]).max(1e-6)).clamp(0.0, 1.0);
        ys[j - 1] + (ys[j] - ys[j - 1]) * f
    };
    for (up, lo) in [([36, 37, 38, 39], [36, 41, 40, 39]), ([42, 43, 44, 45], [42, 47, 46, 45])] {
        let (xu, yu): (Vec<f32>, Vec<f32>) = up.iter().map(|&i| (lm[i][0], lm[i][1])).unzip();
        let (xl, yl): (Vec<f32>, Vec<f32>) = lo.iter().map(|&i| (lm[i][0], lm[i][1])).unzip();
        let band = xu[3] - xu[0];
        for x in (xu[0].floor() as usize)..=(xu[3].ceil() as usize).min(w - 1) {
            let xc = x as f32 + 0.5;
            let (y_u, y_l) = (interp(&xu, &yu, xc), interp(&xl, &yl, xc));
            if y_l <= y_u {
                continue;
            }
            let (y_e, top) = (y_u + k * (y_l - y_u), y_u - band);
            for t in 0..h {
                let yc = t as f32 + 0.5;
                if yc <= top || yc >= y_e {
                    continue;
                }
                let ts = top + (yc - top) * (y_u - top) / (y_e - top) - 0.5;
                let (t0, f) = (ts.floor().max(0.0) as usize, ts - ts.floor().max(0.0));
                let t1 = (t0 + 1).min(h - 1);
                for c in 0..4 {
                    let at = |tt: usize| src.pixels[((h - 1 - tt) * w + x) * 4 + c];
                    closed.pixels[((h - 1 - t) * w + x) * 4 + c] = at(t0) + (at(t1) - at(t0)) * f;
                }
            }
        }
    }
    let got = analyzer().analyze(&to_face_image(&closed)).unwrap().face.as_ref().expect("a face with closed eyes").landmarks68;
    let (mut num, mut den, mut num_up) = (0.0f32, 0.0f32, 0.0f32);
    for (u, l) in [(37, 41), (38, 40), (43, 47), (44, 46)] {
        let want = k * (lm[l][1] - lm[u][1]);
        num += want * ((got[u][1] - got[l][1]) - (lm[u][1] - lm[l][1]));
        num_up += want * (got[u][1] - lm[u][1]);
        den += want * want;
    }
    let (gain, gain_up) = (num / den, num_up / den);
    // (gain_up is the scripted test's measure: the upper lid points' motion alone)
    println!("detector on eyes closed 90 % by a plain transform: lid gap gain {gain:.2}, upper lid points {gain_up:.2}");
    assert!(gain > 0.3, "the detector does follow closing lids ({gain:.2})");
    assert!(gain < 0.92, "the detector now follows a blink ({gain:.2}): raise the blink bar of the scripted test");
}

#[test]
fn static_track_gives_identical_frames_and_untouched_background() {
    let src_lm = source_landmarks();
    let mut open = src_lm;
    for i in (5..12).chain(55..60).chain(64..68) {
        open[i][1] += 0.25 * iod(&src_lm);
    }
    let track = write_track("held", vec![src_lm, open, open, open]);
    let out = render_track(&track, &[4, 2, 3], &[]);
    for (f, img) in &out[1..] {
        assert_eq!(max_diff(&out[0].1, img), (0.0, true), "frame {f} equals frame {}", out[0].0);
    }
    // Outside the matte: exactly the source. At the matte's edge: no seam.
    let src = astronaut();
    let matte = render_matte(&track, &[("trackFrameOffset", ParamValue::Int(1))]);
    let img = &out[0].1;
    let (w, h) = (img.width as usize, img.height as usize);
    let mut border_out: Vec<f64> = Vec::new();
    let mut border_src: Vec<f64> = Vec::new();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            let m = matte.pixels[i * 4];
            if m == 0.0 {
                for c in 0..4 {
                    assert_eq!(img.pixels[i * 4 + c], src.pixels[i * 4 + c], "pixel {x},{y} outside the matte changed");
                }
            }
            if m > 0.02 && m < 0.98 {
                // Horizontal + vertical gradient magnitude, luminance.
                let lum = |im: &HostImage, j: usize| (im.pixels[j * 4] + im.pixels[j * 4 + 1] + im.pixels[j * 4 + 2]) as f64 / 3.0;
                let g = |im: &HostImage| (lum(im, i + 1) - lum(im, i - 1)).abs() + (lum(im, i + w) - lum(im, i - w)).abs();
                border_out.push(g(img));
                border_src.push(g(&src));
            }
        }
    }
    assert!(border_out.len() > 100, "the matte has a feathered edge");
    // A seam is a line of strong gradients where the matte ramps; compare the
    // strongest gradients (99th percentile) in the ramp with the source's.
    let p99 = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[(v.len() - 1) * 99 / 100]
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mo, ms) = (mean(&border_out), mean(&border_src));
    let (go, gs) = (p99(&mut border_out), p99(&mut border_src));
    println!("gradient across the matte edge: mean output {mo:.4} / source {ms:.4}; 99th percentile output {go:.4} / source {gs:.4}");
    assert!(go <= gs * 1.1 + 1e-3, "a seam: the strongest edge gradients grew from {gs:.4} to {go:.4}");
}

#[test]
fn a_source_that_changes_after_holding_still_is_rendered_from_its_new_content() {
    // A still Source is not re-hashed before the generator starts once two
    // renders found the same content; the check runs beside it. When the
    // content then changes, the render must still use the new image.
    let src_lm = source_landmarks();
    let open = jaw_dropped(&src_lm, 0.2);
    let track = write_track("changing", vec![src_lm, open, open, open, open, open, open]);
    let a = astronaut();
    let mut b = a.clone();
    let w = a.width as usize;
    for (i, p) in b.pixels.chunks_exact_mut(4).enumerate() {
        let x = (i % w).saturating_sub(9);
        let j = (i / w) * w + x;
        p.copy_from_slice(&a.pixels[j * 4..j * 4 + 4]);
    }
    runtime();
    let (_h, plugin) = load(HostOptions { threads: 2, ..HostOptions::default() });
    let setup = |input: ClipInput| {
        let mut inst = plugin.create_instance(Context::Filter).expect("create instance");
        inst.set_input("Source", input).unwrap();
        drive_by_track(&mut inst, &track);
        inst
    };
    let frames: std::collections::BTreeMap<i32, HostImage> =
        (1..=7).map(|f| (f, if f <= 4 { a.clone() } else { b.clone() })).collect();
    let mut moving = setup(ClipInput::Sequence(frames));
    let mut still_b = setup(ClipInput::Still(b.clone()));
    let req = RenderRequest::default();
    let seq = moving.render_sequence(&[2, 3, 4, 5, 6, 7], 1, &req).unwrap();
    for (f, img) in &seq {
        if *f >= 5 {
            let fresh = still_b.render_frame(*f as f64, &req).unwrap();
            assert_eq!(max_diff(img, &fresh), (0.0, true), "frame {f} is rendered from the new Source image");
        }
    }
    assert!(max_diff(&seq[2].1, &seq[3].1).0 > 0.05, "the two Source images give different frames");
    assert_eq!(moving.leaked_images(), 0);
}

#[test]
fn held_still_frames_match_under_padded_outputs_negative_strides_and_split_windows() {
    // From the third render of an unchanged still the content check runs
    // beside the generator and copies the frame as it reads it: the output
    // must not depend on how the host lays out or splits its images.
    let src_lm = source_landmarks();
    let open = jaw_dropped(&src_lm, 0.2);
    let track = write_track("layouts", vec![src_lm, open, open, open, open, open]);
    runtime();
    let frames = [2, 3, 4, 5];
    let render = |options: HostOptions, bands: usize| {
        let (_h, plugin) = load(options);
        let mut inst = instance_with(&plugin, astronaut());
        drive_by_track(&mut inst, &track);
        let req = RenderRequest { split_bands: bands, ..RenderRequest::default() };
        let out = inst.render_sequence(&frames, 1, &req).unwrap_or_else(|e| panic!("render: {e}; {:?}", inst.messages()));
        assert_eq!(inst.leaked_images(), 0);
        out
    };
    let reference = render(HostOptions { threads: 2, ..HostOptions::default() }, 1);
    for (options, bands) in [
        (HostOptions { threads: 2, negative_row_bytes: true, pad_output_bounds: 7, ..HostOptions::default() }, 1),
        (HostOptions { threads: 2, ..HostOptions::default() }, 3),
        (HostOptions { threads: 1, negative_row_bytes: true, ..HostOptions::default() }, 2),
    ] {
        let what = format!("negative rowBytes {}, padding {}, {bands} bands", options.negative_row_bytes, options.pad_output_bounds);
        for ((f, a), (_, b)) in reference.iter().zip(render(options, bands)) {
            assert_eq!(max_diff(a, &b), (0.0, true), "frame {f}, {what}");
        }
    }
}

#[test]
fn rgba_source_keeps_its_alpha_and_short_depth_works() {
    // The portrait with a radial alpha, rendered at 16 bits: the face moves,
    // the alpha channel comes through untouched.
    let mut src = astronaut();
    src.components = Components::Rgba;
    let (w, h) = (src.width as i32, src.height as i32);
    for y in 0..h {
        for x in 0..w {
            let mut p = src.pixel(x, y).unwrap();
            let r = (((x - w / 2) as f32).hypot((y - h / 2) as f32) / w as f32).min(1.0);
            p[3] = ((1.0 - r) * 65535.0).round() / 65535.0;
            src.set_pixel(x, y, p);
        }
    }
    let src_lm = source_landmarks();
    let mut open = src_lm;
    for i in (5..12).chain(55..60).chain(64..68) {
        open[i][1] += 0.25 * iod(&src_lm);
    }
    let track = write_track("rgba", vec![src_lm, open]);
    runtime();
    let (_h, plugin) = load(HostOptions::default());
    let mut inst = instance_with(&plugin, src.clone());
    drive_by_track(&mut inst, &track);
    let req = RenderRequest { depth: Depth::Short, components: Components::Rgba, ..RenderRequest::default() };
    let out = inst.render_frame(2.0, &req).expect("render");
    let mut moved = 0usize;
    for (p, q) in src.pixels.chunks_exact(4).zip(out.pixels.chunks_exact(4)) {
        assert_eq!(p[3], q[3], "alpha is preserved");
        if (p[0] - q[0]).abs() > 0.01 {
            moved += 1;
        }
    }
    assert!(moved > 200, "the face moved ({moved} pixels changed)");
}

#[test]
fn the_reference_still_that_matches_the_mouth_is_chosen() {
    // Reference 2 is the portrait with its mouth open (rendered by the node
    // itself) and tinted red, so the output shows which reference was warped.
    let src = astronaut();
    let src_lm = source_landmarks();
    let mut open = src_lm;
    for i in (5..12).chain(55..60).chain(64..68) {
        open[i][1] += 0.3 * iod(&src_lm);
    }
    let track = write_track("fewshot", vec![src_lm, open]);
    let opened = render_track(&track, &[2], &[]).remove(0).1;
    let mut tinted = opened.clone();
    for p in tinted.pixels.chunks_exact_mut(4) {
        p[0] = (p[0] + 0.25).min(1.0);
    }
    runtime();
    let (_h, plugin) = load(HostOptions::default());
    let mut inst = plugin.create_instance(Context::Filter).unwrap();
    let seq: std::collections::BTreeMap<i32, HostImage> = [(1, src.clone()), (2, tinted)].into_iter().collect();
    inst.set_input("Source", ClipInput::Sequence(seq)).unwrap();
    drive_by_track(&mut inst, &track);
    inst.set_param("referenceFirst", ParamValue::Int(1)).unwrap();
    inst.set_param("referenceLast", ParamValue::Int(2)).unwrap();
    // Mouth region (image pixels, origin top-left → HostImage rows bottom-up).
    let (mx, my) = ((src_lm[48][0] + src_lm[54][0]) / 2.0, (src_lm[51][1] + src_lm[57][1]) / 2.0);
    let red_shift = |img: &HostImage| {
        let mut s = 0.0f32;
        let mut n = 0;
        for dy in -6..=6 {
            for dx in -12..=12 {
                let (x, y) = (mx as i32 + dx, 511 - (my as i32 + dy));
                let (a, b) = (img.pixel(x, y).unwrap(), src.pixel(x, y).unwrap());
                s += (a[0] - b[0]) - (a[1] - b[1]);
                n += 1;
            }
        }
        s / n as f32
    };
    let closed = inst.render_frame(1.0, &RenderRequest::default()).unwrap();
    let opened = inst.render_frame(2.0, &RenderRequest::default()).unwrap();
    let (c, o) = (red_shift(&closed), red_shift(&opened));
    println!("red shift around the mouth: closed target {c:.3}, open target {o:.3}");
    assert!(c.abs() < 0.02, "a closed mouth uses the closed-mouth reference");
    assert!(o > 0.1, "an open mouth uses the open-mouth reference");
    // Background from the first reference, untouched.
    let corner = |img: &HostImage| img.pixel(5, 5).unwrap();
    assert_eq!(corner(&opened), corner(&src));
}

#[test]
fn a_small_face_in_a_4k_still_is_animated_and_the_rest_is_untouched() {
    // A 3840×2160 grey frame with the portrait scaled 2× (a ~300 px face) off
    // centre; the relative demo track (made on the 512 px portrait) drives it.
    runtime();
    let src = astronaut();
    let (w, h) = (3840u32, 2160u32);
    // Byte-exact values, so the 8-bit output can be compared exactly.
    let mut big = HostImage::filled(w, h, [115.0 / 255.0, 120.0 / 255.0, 128.0 / 255.0, 1.0]);
    big.components = Components::Rgb;
    let (ox, oy) = (2500i32, 700i32);
    for y in 0..1024 {
        for x in 0..1024 {
            let p = src.pixel(x / 2, y / 2).unwrap();
            big.set_pixel(ox + x, oy + y, p);
        }
    }
    let (_h, plugin) = load(HostOptions::default());
    let mut inst = instance_with(&plugin, big.clone());
    let track = installer::workspace_root().join("resources/demo/track.json");
    drive_by_track(&mut inst, &track);
    let req = RenderRequest { depth: Depth::Byte, components: Components::Rgb, ..RenderRequest::default() };
    let out = inst.render_frame(30.0, &req).unwrap_or_else(|e| panic!("{e}: {:?}", inst.messages()));
    assert_eq!((out.width, out.height), (w, h));
    let (mut changed, mut outside) = (0usize, 0usize);
    for y in 0..h as i32 {
        for x in 0..w as i32 {
            let (a, b) = (out.pixel(x, y).unwrap(), big.pixel(x, y).unwrap());
            let d = (0..3).map(|c| (a[c] - b[c]).abs()).fold(0.0f32, f32::max);
            if d > 0.0 {
                if x < ox || x >= ox + 1024 || y < oy || y >= oy + 1024 {
                    outside += 1;
                }
                changed += 1;
            }
        }
    }
    println!("4K still, 300 px face: {changed} pixels animated, {outside} outside the portrait's square");
    assert!(changed > 5_000, "the face moves");
    assert_eq!(outside, 0, "nothing outside the portrait changes");
}

#[test]
fn anamorphic_pixels_render_like_square_ones() {
    // The portrait squeezed 2:1 (pixel aspect 2) must animate like the square
    // portrait, squeezed: the face is analysed unsqueezed, the warp works in
    // canonical (square) coordinates, the paste-back maps back to pixels.
    runtime();
    let src = astronaut();
    let squeeze = |img: &HostImage| {
        let mut out = HostImage::new(img.width / 2, img.height, img.components);
        for y in 0..img.height as i32 {
            for x in 0..(img.width / 2) as i32 {
                let (a, b) = (img.pixel(2 * x, y).unwrap(), img.pixel(2 * x + 1, y).unwrap());
                out.set_pixel(x, y, [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0, (a[2] + b[2]) / 2.0, (a[3] + b[3]) / 2.0]);
            }
        }
        out
    };
    let track = installer::workspace_root().join("resources/demo/track.json");
    let render = |img: HostImage, par: f64, frame: f64| {
        let (_h, plugin) = load(HostOptions { pixel_aspect: par, ..HostOptions::default() });
        let mut inst = instance_with(&plugin, img);
        drive_by_track(&mut inst, &track);
        inst.render_frame(frame, &RenderRequest::default()).unwrap_or_else(|e| panic!("{e}: {:?}", inst.messages()))
    };
    let thin = squeeze(&src);
    assert_eq!(max_diff(&render(thin.clone(), 2.0, 1.0), &thin), (0.0, true), "frame 1: the squeezed portrait itself");
    let square = squeeze(&render(src.clone(), 1.0, 30.0));
    let anamorphic = render(thin.clone(), 2.0, 30.0);
    assert_eq!((anamorphic.width, anamorphic.height), (256, 512));
    let (mut sum, mut moved) = (0.0f64, 0usize);
    for ((a, b), t) in anamorphic.pixels.chunks_exact(4).zip(square.pixels.chunks_exact(4)).zip(thin.pixels.chunks_exact(4)) {
        if (0..3).any(|c| (b[c] - t[c]).abs() > 0.02) {
            sum += (0..3).map(|c| (a[c] - b[c]).abs() as f64).sum::<f64>() / 3.0;
            moved += 1;
        }
    }
    let mean = sum / moved.max(1) as f64;
    println!("pixel aspect 2: {moved} animated pixels, mean difference to the squeezed square render {mean:.4}");
    assert!(moved > 500 && mean < 0.04, "anamorphic render differs from the square one by {mean:.4} on {moved} pixels");
}

/// The warp resamples the full-resolution portrait once: a track that moves
/// the whole face by whole pixels gives the portrait's own pixels, moved, not
/// a blurred copy (a render through the working-resolution crop would resample
/// three times: into the crop, the warp, and back into the frame; measured
/// with that path: mean difference 0.0055, 69 % of the detail kept; with the
/// single resampling: 0.0020 and 92 %).
#[test]
fn a_whole_pixel_head_move_keeps_the_portrait_sharp() {
    let src_lm = source_landmarks();
    let (sx, sy) = (3.0f32, -2.0f32);
    let mut moved = src_lm;
    for p in moved.iter_mut() {
        *p = [p[0] + sx, p[1] + sy];
    }
    let track = write_track("shift", vec![src_lm, moved]);
    let src = astronaut();
    let out = render_track(&track, &[2], &[]).remove(0).1;
    // Around the nose, well inside the matte: output(x, y) == source(x - 3, y + 2) (image rows top-down;
    // HostImage rows are bottom-up).
    let d = iod(&src_lm);
    let (cx, cy) = (src_lm[30][0], src_lm[30][1]);
    let (w, h) = (src.width as i32, src.height as i32);
    let (mut sum, mut count) = (0.0f64, 0);
    // Detail: the mean |Laplacian| of the green channel, on the output and on the portrait at the same spots.
    let (mut detail_out, mut detail_src) = (0.0f64, 0.0f64);
    let at = |img: &HostImage, x: i32, y_down: i32| img.pixels[(((h - 1 - y_down) * w + x) * 4 + 1) as usize] as f64;
    let lap = |img: &HostImage, x: i32, y: i32| {
        (4.0 * at(img, x, y) - at(img, x - 1, y) - at(img, x + 1, y) - at(img, x, y - 1) - at(img, x, y + 1)).abs()
    };
    for ty in (cy - 0.4 * d) as i32..(cy + 0.2 * d) as i32 {
        for tx in (cx - 0.4 * d) as i32..(cx + 0.4 * d) as i32 {
            let (px, py) = (tx - sx as i32, ty - sy as i32);
            assert!(px >= 1 && px < w - 1 && py >= 1 && py < h - 1);
            for c in 0..3 {
                let a = out.pixels[(((h - 1 - ty) * w + tx) * 4 + c) as usize];
                let b = src.pixels[(((h - 1 - py) * w + px) * 4 + c) as usize];
                sum += (a - b).abs() as f64;
            }
            detail_out += lap(&out, tx, ty);
            detail_src += lap(&src, px, py);
            count += 1;
        }
    }
    let mean = sum / (3 * count) as f64;
    let kept = detail_out / detail_src;
    println!(
        "whole-pixel move: {count} pixels around the nose, mean difference to the moved portrait {mean:.5}, detail kept {:.1} %",
        kept * 100.0
    );
    assert!(count > 500);
    assert!(mean < 1.0 / 255.0, "the moved face differs from the portrait's own pixels: {mean}");
    assert!(kept > 0.85, "the moved face lost detail: {:.1} % of the portrait's", kept * 100.0);
}

/// Float plates keep their highlights: the face is resampled from the
/// portrait's own float values, not from a crop clipped to [0, 1].
#[test]
fn hdr_values_survive_the_warp() {
    let src_lm = source_landmarks();
    let mut hdr = astronaut();
    // A 6×6 highlight of 4.0 on the nose (the face analysis sees it clipped, as white).
    let (w, h) = (hdr.width as i32, hdr.height as i32);
    let (nx, ny) = (src_lm[30][0] as i32, src_lm[30][1] as i32);
    for ty in ny - 3..ny + 3 {
        for tx in nx - 3..nx + 3 {
            for c in 0..3 {
                hdr.pixels[(((h - 1 - ty) * w + tx) * 4 + c) as usize] = 4.0;
            }
        }
    }
    let mut moved = src_lm;
    for p in moved.iter_mut() {
        *p = [p[0] + 3.0, p[1] - 2.0];
    }
    let track = write_track("hdr", vec![src_lm, moved]);
    let out = render_track_of(hdr, &track, &[2], &[]).remove(0).1;
    assert!(out.pixels.iter().all(|v| v.is_finite()));
    // The highlight moved with the face and kept its value.
    let (cx, cy) = (nx + 3, ny - 2);
    let peak = (cy - 2..cy + 2)
        .flat_map(|ty| (cx - 2..cx + 2).map(move |tx| (tx, ty)))
        .map(|(tx, ty)| out.pixels[(((h - 1 - ty) * w + tx) * 4 + 1) as usize])
        .fold(0.0f32, f32::max);
    println!("HDR highlight after the warp: {peak:.3} (4.0 in the portrait)");
    assert!(peak > 3.5, "the highlight was clipped or lost: {peak}");
}

#[test]
fn non_finite_pixels_stay_where_they_are() {
    let src_lm = source_landmarks();
    let mut plate = astronaut();
    let (w, h) = (plate.width as i32, plate.height as i32);
    let mut poison = |cx: i32, cy: i32, v: f32, channels: std::ops::Range<usize>| {
        for ty in cy - 6..cy + 6 {
            for tx in cx - 6..cx + 6 {
                for c in channels.clone() {
                    plate.pixels[(((h - 1 - ty) * w + tx) * 4 + c as i32) as usize] = v;
                }
            }
        }
    };
    // On the cheek and the chin (inside the face, where the jaw drop resamples), and in the background.
    let (cheek, chin) = (src_lm[3], src_lm[8]);
    poison(cheek[0] as i32 + 25, cheek[1] as i32, f32::NAN, 0..3);
    poison(chin[0] as i32, chin[1] as i32 - 15, f32::INFINITY, 0..1);
    poison(src_lm[57][0] as i32 + 20, src_lm[57][1] as i32 + 8, f32::NEG_INFINITY, 1..3);
    // (RGB: the demo portrait has no alpha channel.)
    poison(40, 40, f32::NAN, 0..3);
    let track = write_track("non_finite", vec![src_lm, jaw_dropped(&src_lm, 0.3)]);
    let out = render_track_of(plate.clone(), &track, &[2], &[]).remove(0).1;
    let bad = |img: &HostImage| img.pixels.iter().filter(|v| !v.is_finite()).count();
    let mut spread = 0;
    let mut changed_outside = 0;
    let face_box = |i: usize| {
        let (x, y) = ((i / 4) as i32 % w, h - 1 - (i / 4) as i32 / w);
        let xs = src_lm.iter().map(|p| p[0] as i32);
        let ys = src_lm.iter().map(|p| p[1] as i32);
        let (x1, x2) = (xs.clone().min().unwrap() - 60, xs.max().unwrap() + 60);
        let (y1, y2) = (ys.clone().min().unwrap() - 120, ys.max().unwrap() + 120);
        x >= x1 && x < x2 && y >= y1 && y < y2
    };
    for (i, (o, s)) in out.pixels.iter().zip(&plate.pixels).enumerate() {
        if !o.is_finite() && s.is_finite() {
            spread += 1;
        }
        if !face_box(i) && o.to_bits() != s.to_bits() {
            changed_outside += 1;
        }
    }
    println!("non-finite values: {} in the plate, {} in the frame; {spread} where the plate was finite", bad(&plate), bad(&out));
    assert_eq!(changed_outside, 0, "values outside the face changed (the background NaNs must pass through bit for bit)");
    assert_eq!(spread, 0, "non-finite values spread to pixels that were finite");
    // The face did move (the test is not vacuous).
    let moved = out.pixels.iter().zip(&astronaut().pixels).filter(|(o, s)| o.is_finite() && (*o - *s).abs() > 0.05).count();
    assert!(moved > 500, "the jaw drop changed only {moved} values");
}

/// "No face was found" says why when it can: non-finite pixels, and the
/// smallest face the detector's search finds at the image's size.
#[test]
fn no_face_says_why() {
    runtime();
    let render_error = |img: HostImage| {
        let (_h, plugin) = load(HostOptions { threads: 2, ..HostOptions::default() });
        let mut inst = instance_with(&plugin, img);
        inst.set_param("driveMode", ParamValue::ChoiceByOption("expressions".into())).unwrap();
        inst.set_param("jawOpen", ParamValue::Double(0.5)).unwrap();
        let err = inst.render_sequence(&[1], 1, &RenderRequest::default()).expect_err("no face: the render fails");
        let text = inst.messages().into_iter().map(|m| m.text).collect::<Vec<_>>().join(" | ");
        format!("{err} | {text}")
    };
    let mut plain = HostImage::new(640, 480, Components::Rgba);
    plain.pixels.iter_mut().for_each(|v| *v = 0.5);
    let said = render_error(plain.clone());
    println!("{said}");
    assert!(said.contains("no face was found on the Source image: in a 640×480 image the detector finds faces from about"), "{said}");
    assert!(!said.contains("not finite"), "{said}");
    for v in plain.pixels.iter_mut().take(4 * 640 * 10) {
        *v = f32::NAN;
    }
    let said = render_error(plain);
    assert!(said.contains("6400 of its pixels are not finite numbers (NaN or infinity; they are read as black)"), "{said}");
}
