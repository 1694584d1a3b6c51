//! 3-D head turns: yaw and pitch through the headless host and the plugin's C entry points move the
//! portrait's nose more than its cheeks, in the right direction, the far cheek narrowing; no NaN; a turned head
//! held still renders identical frames; the identity is still the portrait bit for bit. The warp stays one-to-one:
//! the Jacobian of its sampling grid outside the eye and mouth layers, with the head path's control points for
//! yaw ±20° and pitch ±20°, stays positive; at yaw ±30° the expression controls' own 68 targets nearly fold
//! (the far jaw line reaches the eye corner) and the points must keep it positive, not much worse than that
//! (figures printed: `cargo test --test head_turns -- --nocapture`).

#[path = "support/common.rs"]
mod common;

use common::*;
use living_portrait::expressions::Expressions;
use living_portrait::inference::Device;
use living_portrait::face::Landmarks68;
use living_portrait::landmarks::to_f64;
use living_portrait::packs::generator::{CropPixels, Reference, Target};
use living_portrait::render::geometry::FaceCrop;
use living_portrait::render::head::{control_points, HeadGeometry};
use living_portrait::track::{LandmarkTrack, TrackFrame};
use ofx::host::*;



fn detect(img: &HostImage) -> Landmarks68 {
    analyzer().analyze(&to_face_image(img)).unwrap().face.as_ref().expect("a face").landmarks68
}

fn render(params: &[(&str, f64)]) -> HostImage {
    test_env();
    let (_h, plugin) = load(HostOptions { threads: 2, ..HostOptions::default() });
    let mut inst = instance_with(&plugin, astronaut());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("expressions".into())).unwrap();
    for (k, v) in params {
        inst.set_param(k, ParamValue::Double(*v)).unwrap();
    }
    inst.render_frame(1.0, &RenderRequest::default()).unwrap_or_else(|e| panic!("render: {e}; {:?}", inst.messages()))
}

#[test]
fn yaw_and_pitch_move_the_nose_more_than_the_cheeks() {
    let base = detect(&astronaut());
    let d = iod(&base);
    // Cheeks: the jaw points at mouth height on each side.
    let (right_cheek, left_cheek, nose) = (2usize, 14usize, 30usize);
    for yaw in [20.0, -20.0] {
        let img = render(&[("headYaw", yaw)]);
        assert!(img.pixels.iter().all(|v| v.is_finite()), "no NaN at yaw {yaw}");
        let l = detect(&img);
        let dx = |i: usize| (l[i][0] - base[i][0]) / d;
        println!(
            "yaw {yaw:+}: nose tip {:+.3}, cheeks {:+.3} / {:+.3} IOD; nose to cheeks {:.3} / {:.3} (portrait {:.3} / {:.3})",
            dx(nose),
            dx(right_cheek),
            dx(left_cheek),
            (l[nose][0] - l[right_cheek][0]) / d,
            (l[left_cheek][0] - l[nose][0]) / d,
            (base[nose][0] - base[right_cheek][0]) / d,
            (base[left_cheek][0] - base[nose][0]) / d
        );
        let s = yaw.signum() as f32;
        // Towards the subject's left (+) the nose goes to the image's right, further than either cheek.
        assert!(s * dx(nose) > 0.08, "yaw {yaw}: the nose moves {:.3}", dx(nose));
        assert!(s * dx(nose) > s * dx(right_cheek) + 0.04 && s * dx(nose) > s * dx(left_cheek) + 0.04, "yaw {yaw}");
        // The far cheek narrows: the side the nose turns towards.
        let (near, far) = if yaw > 0.0 { (right_cheek, left_cheek) } else { (left_cheek, right_cheek) };
        let width = |l: &Landmarks68, i: usize| (l[i][0] - l[nose][0]).abs();
        assert!(width(&l, far) < width(&base, far) - 0.04 * d, "yaw {yaw}: the far cheek narrows");
        assert!(width(&l, near) > width(&base, near) + 0.04 * d, "yaw {yaw}: the near cheek widens");
    }
    for pitch in [15.0, -15.0] {
        let img = render(&[("headPitch", pitch)]);
        assert!(img.pixels.iter().all(|v| v.is_finite()), "no NaN at pitch {pitch}");
        let l = detect(&img);
        let dy = |i: usize| (l[i][1] - base[i][1]) / d;
        let brows = ((17..27).map(dy).sum::<f32>()) / 10.0;
        println!("pitch {pitch:+}: nose tip {:+.3}, brows {:+.3} IOD (image y down)", dy(nose), brows);
        let s = pitch.signum() as f32;
        // Nodding down (+) the nose tip goes down the image, more than the brows.
        assert!(s * dy(nose) > 0.04 && s * dy(nose) > s * brows + 0.02, "pitch {pitch}");
    }
}

#[test]
fn a_turned_head_held_still_gives_identical_frames_and_the_identity_stays_exact() {
    test_env();
    let base = detect(&astronaut());
    // The portrait's landmarks turned by the expression maths (canonical is y up: flip, apply, flip back).
    let flip = |l: &Landmarks68| -> [[f64; 2]; 68] { to_f64(l).map(|p| [p[0], -p[1]]) };
    let turned = Expressions { head_yaw: 20.0, head_pitch: 10.0, ..Default::default() }.apply(&flip(&base));
    let turned: Landmarks68 = turned.map(|p| [p[0] as f32, -p[1] as f32]);
    let dir = installer::target_dir().join("test-output").join("head_turns");
    std::fs::create_dir_all(&dir).unwrap();
    let frames = [base, turned, turned, turned];
    let frames = frames.iter().enumerate().map(|(i, l)| TrackFrame { frame: i as u32 + 1, landmarks: Some(*l) }).collect();
    let path = dir.join("held_turn.json");
    LandmarkTrack::new([512, 512], Some(24.0), frames).unwrap().write(&path).unwrap();
    let (_h, plugin) = load(HostOptions { threads: 2, ..HostOptions::default() });
    let mut inst = instance_with(&plugin, astronaut());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    inst.set_param("trackFile", ParamValue::String(path.display().to_string())).unwrap();
    let out = inst.render_sequence(&[4, 1, 2, 3], 2, &RenderRequest::default()).unwrap();
    let by = |f: i32| &out.iter().find(|(g, _)| *g == f).unwrap().1;
    assert_eq!(max_diff(by(1), &astronaut()), (0.0, true), "frame 1 is the portrait itself");
    assert!(max_diff(by(2), &astronaut()).0 > 0.05, "the turn moves the face");
    for f in [3, 4] {
        assert_eq!(max_diff(by(2), by(f)), (0.0, true), "frame {f} equals frame 2");
    }
    assert!(by(2).pixels.iter().all(|v| v.is_finite()));
    by(2).save(&dir.join("held_turn.png"), Depth::Byte).unwrap();
}

/// The smallest Jacobian determinant of grid A over the crop, relative to the identity's (1: no change, ≤ 0: a
/// fold), by central differences between pixel centres, and where it is; pixels for which `skip` (normalised
/// coordinates) holds are left out.
fn min_jacobian_at(grid: &[f32], size: usize, skip: impl Fn([f32; 2]) -> bool) -> (f64, [usize; 2]) {
    let n = size * size;
    let at = |c: usize, u: usize, v: usize| grid[c * n + v * size + u] as f64;
    let unit = 2.0 / size as f64;
    let mut min = (f64::MAX, [0, 0]);
    for v in 1..size - 1 {
        for u in 1..size - 1 {
            if skip([(2 * u + 1) as f32 / size as f32 - 1.0, (2 * v + 1) as f32 / size as f32 - 1.0]) {
                continue;
            }
            let dxu = (at(0, u + 1, v) - at(0, u - 1, v)) / (2.0 * unit);
            let dyu = (at(1, u + 1, v) - at(1, u - 1, v)) / (2.0 * unit);
            let dxv = (at(0, u, v + 1) - at(0, u, v - 1)) / (2.0 * unit);
            let dyv = (at(1, u, v + 1) - at(1, u, v - 1)) / (2.0 * unit);
            let det = dxu * dyv - dxv * dyu;
            if det < min.0 {
                min = (det, [u, v]);
            }
        }
    }
    min
}

#[test]
fn turns_of_20_degrees_do_not_fold_the_warp_and_30_no_worse_than_v1() {
    test_env();
    let img = astronaut();
    let analysis = analyzer().analyze(&to_face_image(&img)).unwrap();
    let face = analysis.face.as_ref().unwrap();
    let h = img.height as f64;
    // Image pixels (origin top-left) to canonical (y up), as the render sees a 512² Source at scale 1.
    let canonical = |p: [f32; 2]| [p[0] as f64 + 0.5, h - (p[1] as f64 + 0.5)];
    let base: [[f64; 2]; 68] = face.landmarks68.map(canonical);
    let crop = FaceCrop::from_landmarks(&base);
    let mesh: Vec<[f32; 3]> = face.mesh.points468.iter().map(|p| {
        let c = canonical([p[0], p[1]]);
        [c[0] as f32, c[1] as f32, p[2]]
    }).collect();
    let head = HeadGeometry::from_mesh(&mesh, |c| crop.to_normalised([c[0] as f64, c[1] as f64]), 2.0 / crop.side).expect("a head");
    let size = 512;
    let generator = living_portrait::packs::load_generator(None, Device::Cpu).unwrap();
    let pixels = vec![0.5f32; 3 * size * size];
    let source = crop.normalise_points(&base);
    let reference = [Reference { crop: &pixels, landmarks: &source, key: 1 }];
    let mut results = Vec::new();
    for (yaw, pitch) in [(30.0, 0.0), (-30.0, 0.0), (20.0, 0.0), (-20.0, 0.0), (0.0, 20.0), (0.0, -20.0), (20.0, 15.0)] {
        let turned = Expressions { head_yaw: yaw, head_pitch: pitch, ..Default::default() }.apply(&base);
        let target = crop.normalise_points(&turned);
        let points = control_points(&head, &source, &target);
        assert!(points.source.len() >= 60, "{} control points", points.source.len());
        let t = Target { source_points: &points.source, target_points: &points.target, ..Target::new(&target) };
        let out = generator.generate(size, &reference, 0, &t, None).unwrap();
        let CropPixels::Resample { grid, .. } = &out.pixels else { panic!("the built-in warp resamples") };
        assert!(grid.iter().all(|v| v.is_finite()));
        // The eye and mouth layers replace the smooth map near the eyes and lips with two-sided maps that meet
        // at the lid and lip lines (by design: a blink, an opening mouth); the map the control points shape is
        // the rest. Left out: within 0.3 eye distances of an eye point, 0.25 of a lip point.
        let iod_n = {
            let c = |r: std::ops::Range<usize>| r.clone().fold([0.0f32; 2], |a, i| [a[0] + target[i][0] / 6.0, a[1] + target[i][1] / 6.0]);
            let (a, b) = (c(36..42), c(42..48));
            (a[0] - b[0]).hypot(a[1] - b[1])
        };
        let near = |p: [f32; 2], r: std::ops::Range<usize>, d: f32| r.clone().any(|i| (target[i][0] - p[0]).hypot(target[i][1] - p[1]) < d * iod_n);
        let layers = |p: [f32; 2]| near(p, 36..48, 0.3) || near(p, 48..68, 0.25);
        let (det, at) = min_jacobian_at(grid, size, layers);
        let (det_all, _) = min_jacobian_at(grid, size, |_| false);
        let v1 = generator.generate(size, &reference, 0, &Target::new(&target), None).unwrap();
        let CropPixels::Resample { grid: g1, .. } = &v1.pixels else { panic!("the built-in warp resamples") };
        let (det_v1, _) = min_jacobian_at(g1, size, layers);
        let norm = |p: [usize; 2]| [(2 * p[0] + 1) as f32 / size as f32 - 1.0, (2 * p[1] + 1) as f32 / size as f32 - 1.0];
        println!(
            "yaw {yaw:+} pitch {pitch:+}: {} control points, Jacobian min det {det:.3} at {:?} (v1 without points {det_v1:.3}; with the layers' seams {det_all:.3})",
            points.source.len(),
            norm(at)
        );
        if std::env::var("HEAD_TURNS_DUMP").is_ok() {
            let near = |p: &[f32; 2]| (p[0] - norm(at)[0]).hypot(p[1] - norm(at)[1]) < 0.15;
            for (i, (s, t)) in points.source.iter().zip(&points.target).enumerate().filter(|(_, (_, t))| near(t)) {
                println!("  point {i}: {s:?} -> {t:?}");
            }
            for (i, (s, t)) in source.iter().zip(&target).enumerate().filter(|(_, (_, t))| near(t)) {
                println!("  landmark {i}: {s:?} -> {t:?}");
            }
        }
        results.push((yaw, pitch, det, det_v1));
    }
    for (yaw, pitch, det, det_v1) in results {
        if f64::abs(yaw) > 25.0 {
            // At 30° the map is close to folding even with the 68 targets alone (version 1's map at 0.07 there):
            // the control points (the head shell following the widening jaw line) keep it unfolded, with a margin,
            // and not much worse than that (0.052 / 0.064 when this was written).
            assert!(det > 0.03 && det > det_v1 - 0.03, "yaw {yaw} pitch {pitch}: min det {det:.3}, v1 {det_v1:.3}");
            continue;
        }
        assert!(det > 0.1, "yaw {yaw} pitch {pitch}: the warp folds (min det {det:.3}, v1 {det_v1:.3})");
    }
}

/// Bilinear sample of grid A (channels 0, 1) at a normalised crop point.
fn grid_at(grid: &[f32], size: usize, p: [f64; 2]) -> [f64; 2] {
    let n = size * size;
    let fx = ((p[0] + 1.0) * size as f64 / 2.0 - 0.5).clamp(0.0, (size - 1) as f64);
    let fy = ((p[1] + 1.0) * size as f64 / 2.0 - 0.5).clamp(0.0, (size - 1) as f64);
    let (x0, y0) = ((fx as usize).min(size - 2), (fy as usize).min(size - 2));
    let (tx, ty) = (fx - x0 as f64, fy - y0 as f64);
    [0, 1].map(|c| {
        let at = |x: usize, y: usize| grid[c * n + y * size + x] as f64;
        let a = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * tx;
        let b = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * tx;
        a + (b - a) * ty
    })
}

#[test]
fn the_warp_follows_the_portraits_own_turned_mesh_better_than_version_1() {
    // The head-turn measure without a detector in between: the portrait's 468-point mesh turned by ±20°
    // about its centre and projected; only its 68 points drive the warp. At every one of the 468 turned points,
    // grid A must point back at that point's place in the portrait. Mean error in eye distances, v1 (no control
    // points) against v2.
    test_env();
    let img = astronaut();
    let analysis = analyzer().analyze(&to_face_image(&img)).unwrap();
    let face = analysis.face.as_ref().unwrap();
    let h = img.height as f64;
    let canonical = |p: [f64; 2]| [p[0] + 0.5, h - (p[1] + 0.5)];
    let base: [[f64; 2]; 68] = face.landmarks68.map(|p| canonical([p[0] as f64, p[1] as f64]));
    let crop = FaceCrop::from_landmarks(&base);
    let mesh: Vec<[f32; 3]> = face.mesh.points468.iter().map(|p| {
        let c = canonical([p[0] as f64, p[1] as f64]);
        [c[0] as f32, c[1] as f32, p[2]]
    }).collect();
    let head = HeadGeometry::from_mesh(&mesh, |c| crop.to_normalised([c[0] as f64, c[1] as f64]), 2.0 / crop.side).unwrap();
    let table = living_portrait::face::Mesh68Table::builtin().unwrap();
    // The mesh in image pixels with z towards the camera, and its centre.
    let xyz: Vec<[f64; 3]> = face.mesh.points468.iter().map(|p| [p[0] as f64, p[1] as f64, -(p[2] as f64)]).collect();
    let c = xyz.iter().fold([0.0; 3], |a, p| [0, 1, 2].map(|k| a[k] + p[k] / xyz.len() as f64));
    let size = 512;
    let generator = living_portrait::packs::load_generator(None, Device::Cpu).unwrap();
    let pixels = vec![0.5f32; 3 * size * size];
    let source = crop.normalise_points(&base);
    let reference = [Reference { crop: &pixels, landmarks: &source, key: 1 }];
    let iod_n = {
        let m = |r: std::ops::Range<usize>| r.clone().fold([0.0f32; 2], |a, i| [a[0] + source[i][0] / 6.0, a[1] + source[i][1] / 6.0]);
        let (a, b) = (m(36..42), m(42..48));
        ((a[0] - b[0]).hypot(a[1] - b[1])) as f64
    };
    let mut ratios = Vec::new();
    for (yaw, pitch) in [(20.0, 0.0), (-20.0, 0.0), (0.0, 20.0), (0.0, -20.0)] {
        let r = living_portrait::face::pose::rotation(yaw, pitch, 0.0);
        let turned: Vec<[f64; 2]> = xyz.iter().map(|p| {
            let d = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
            [c[0] + r[0][0] * d[0] + r[0][1] * d[1] + r[0][2] * d[2], c[1] + r[1][0] * d[0] + r[1][1] * d[1] + r[1][2] * d[2]]
        }).collect();
        let norm = |p: [f64; 2]| crop.to_normalised(canonical(p));
        let mut t68 = [[0.0f64; 2]; 68];
        for (o, idx) in t68.iter_mut().zip(&table.mesh_indices) {
            let s = idx.iter().fold([0.0; 2], |a, &i| [a[0] + turned[i][0], a[1] + turned[i][1]]);
            *o = canonical([s[0] / idx.len() as f64, s[1] / idx.len() as f64]);
        }
        let target = crop.normalise_points(&t68);
        let points = control_points(&head, &source, &target);
        let error = |t: &Target<'_>| {
            let out = generator.generate(size, &reference, 0, t, None).unwrap();
            let CropPixels::Resample { grid, .. } = &out.pixels else { panic!("the built-in warp resamples") };
            let sum: f64 = turned.iter().zip(&xyz).map(|(t, s)| {
                let g = grid_at(grid, size, norm(*t));
                let want = norm([s[0], s[1]]);
                (g[0] - want[0]).hypot(g[1] - want[1])
            }).sum();
            if std::env::var("HEAD_TURNS_DUMP").is_ok() {
                let errs: Vec<f64> = turned.iter().zip(&xyz).map(|(t, s)| {
                    let g = grid_at(grid, size, norm(*t));
                    let want = norm([s[0], s[1]]);
                    (g[0] - want[0]).hypot(g[1] - want[1]) / iod_n
                }).collect();
                let thin = living_portrait::render::head::THIN_MESH;
                let m = |f: &dyn Fn(usize) -> bool| { let v: Vec<f64> = (0..468).filter(|&i| f(i)).map(|i| errs[i]).collect(); (v.iter().sum::<f64>() / v.len().max(1) as f64, v.len()) };
                let in68: Vec<usize> = table.mesh_indices.iter().flatten().copied().collect();
                println!("  thin {:?} landmarks' {:?} rest {:?}", m(&|i| thin.contains(&(i as u16))), m(&|i| in68.contains(&i)), m(&|i| !thin.contains(&(i as u16)) && !in68.contains(&i)));
                let mut worst: Vec<(usize, f64)> = errs.iter().copied().enumerate().collect();
                worst.sort_by(|a, b| b.1.total_cmp(&a.1));
                println!("  worst {:?}", &worst[..8]);
                let cp: Vec<f64> = t.source_points.iter().zip(t.target_points).map(|(s, q)| {
                    let g = grid_at(grid, size, [q[0] as f64, q[1] as f64]);
                    (g[0] - s[0] as f64).hypot(g[1] - s[1] as f64) / iod_n
                }).collect();
                if !cp.is_empty() {
                    println!("  at the control points: mean {:.3} max {:.3} IOD ({} points)", cp.iter().sum::<f64>() / cp.len() as f64, cp.iter().fold(0.0f64, |a, &b| a.max(b)), cp.len());
                }
            }
            sum / turned.len() as f64 / iod_n
        };
        let v1 = error(&Target::new(&target));
        let v2 = error(&Target { source_points: &points.source, target_points: &points.target, ..Target::new(&target) });
        let still = turned.iter().zip(&xyz).map(|(t, s)| (t[0] - s[0]).hypot(t[1] - s[1])).sum::<f64>() / turned.len() as f64 / (iod_n * crop.side / 2.0);
        println!("yaw {yaw:+} pitch {pitch:+}: 468-point error of the warp, unmoved {still:.3}, v1 {v1:.3}, v2 {v2:.3} IOD (v2/v1 {:.2}, {} points)", v2 / v1, points.source.len());
        ratios.push(v2 / v1);
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    println!("mean v2/v1 {mean:.2}");
    assert!(mean < 0.9, "the turned mesh is followed better with the control points ({mean:.2})");
}
