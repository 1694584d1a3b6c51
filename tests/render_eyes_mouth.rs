//! Eyes and mouth of generator v2, through the headless host and the plugin's C entry points with real
//! inference, read back with the shipped face analyzer: a gaze moves the iris centres where the gaze asks, wide eyes
//! raise the upper lids without growing the iris, a jaw drop on a portrait that shows teeth keeps the upper teeth
//! with the upper lip and carries the lower ones with the chin, and a project saved with the version 1 plugin
//! renders the same frames bit for bit. Figures are printed (`-- --nocapture`).

#[path = "support/common.rs"]
mod common;

use common::*;
use living_portrait::expressions::GAZE_RADIUS_IOD;
use ofx::host::*;


fn demo(name: &str) -> HostImage {
    HostImage::load(&installer::workspace_root().join("resources/demo").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}


/// What the analyzer reads on an image: 68 landmarks, iris centres and radii (image pixels, y down).
struct Read {
    lm: Vec<[f32; 2]>,
    irises: [[f32; 2]; 2],
    radii: [f32; 2],
}

impl Read {
    fn of(img: &HostImage) -> Read {
        let a = analyzer().analyze(&to_face_image(img)).unwrap();
        let f = a.face.as_ref().expect("a face");
        Read { lm: f.landmarks68.to_vec(), irises: f.mesh.irises, radii: f.mesh.iris_radii }
    }
    fn centre(&self, r: std::ops::Range<usize>) -> [f32; 2] {
        let n = r.len() as f32;
        r.fold([0.0, 0.0], |a, i| [a[0] + self.lm[i][0] / n, a[1] + self.lm[i][1] / n])
    }
    /// The eye line's unit vector (towards the subject's left eye) and the inter-ocular distance.
    fn frame(&self) -> ([f32; 2], f32) {
        let (a, b) = (self.centre(36..42), self.centre(42..48));
        let d = [b[0] - a[0], b[1] - a[1]];
        let iod = d[0].hypot(d[1]);
        ([d[0] / iod, d[1] / iod], iod)
    }
    fn lid_gap(&self) -> f32 {
        let d = |a: usize, b: usize| (self.lm[a][0] - self.lm[b][0]).hypot(self.lm[a][1] - self.lm[b][1]);
        (d(37, 41) + d(38, 40) + d(43, 47) + d(44, 46)) / 4.0
    }
}

/// One frame of `img` with the Expressions drive and the given controls.
fn render(img: HostImage, controls: &[(&str, f64)]) -> HostImage {
    let (_host, plugin) = load(HostOptions::default());
    let mut inst = instance_with(&plugin, img);
    inst.set_param("driveMode", ParamValue::ChoiceByOption("expressions".into())).unwrap();
    for (name, v) in controls {
        inst.set_param(name, ParamValue::Double(*v)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    inst.render_frame(1.0, &RenderRequest::default()).unwrap_or_else(|e| panic!("render: {e}; {:?}", inst.messages()))
}

#[test]
fn gaze_moves_the_irises_where_it_asks() {
    let src = demo("astronaut.png");
    let before = Read::of(&src);
    let (ex, iod) = before.frame();
    let ey = [-ex[1], ex[0]]; // towards the chin, image y down
    for (gx, gy) in [(25.0f64, 0.0f64), (-20.0, 0.0), (0.0, -12.0)] {
        let out = render(src.clone(), &[("gazeX", gx), ("gazeY", gy)]);
        let after = Read::of(&out);
        let (du, dv) = (GAZE_RADIUS_IOD * gx.to_radians().sin(), -GAZE_RADIUS_IOD * gy.to_radians().sin());
        let asked = (du.hypot(dv)) as f32;
        let mut worst = 0.0f32;
        let mut moved = 0.0f32;
        for k in 0..2 {
            let s = before.irises[k];
            let t = [
                s[0] + iod * (du as f32 * ex[0] + dv as f32 * ey[0]),
                s[1] + iod * (du as f32 * ex[1] + dv as f32 * ey[1]),
            ];
            let r = after.irises[k];
            worst = worst.max((r[0] - t[0]).hypot(r[1] - t[1]) / iod);
            // how far along the asked direction the iris went, as a fraction of the asked shift
            let dir = [(t[0] - s[0]) / (asked * iod), (t[1] - s[1]) / (asked * iod)];
            moved += ((r[0] - s[0]) * dir[0] + (r[1] - s[1]) * dir[1]) / (asked * iod) / 2.0;
        }
        println!("gaze ({gx}°, {gy}°): asked {asked:.4} IOD, moved {:.0} % of it, worst iris error {worst:.4} IOD", moved * 100.0);
        assert!(moved > 0.5, "gaze ({gx}, {gy}): the irises moved {:.0} % of the asked shift", moved * 100.0);
        assert!(worst < 0.04, "gaze ({gx}, {gy}): an iris is {worst:.4} IOD from its target");
        // the iris stays round: its radius as the detector reads it stays within 15 %
        for k in 0..2 {
            let ratio = after.radii[k] / before.radii[k];
            assert!((0.85..1.15).contains(&ratio), "iris {k} radius ratio {ratio:.3}");
        }
        // nothing below the nose changes for a gaze
        let y_nose = before.lm[33][1];
        let h = src.height as i32;
        for y in 0..(h - y_nose as i32 - 10) {
            for x in 0..src.width as i32 {
                assert_eq!(out.pixel(x, y).unwrap(), src.pixel(x, y).unwrap(), "pixel ({x}, {y}) below the nose changed");
            }
        }
    }
}

#[test]
fn wide_eyes_raise_the_lids_without_growing_the_iris() {
    let src = demo("astronaut.png");
    let before = Read::of(&src);
    let out = render(src.clone(), &[("eyeWideLeft", 1.0), ("eyeWideRight", 1.0)]);
    let after = Read::of(&out);
    let (g0, g1) = (before.lid_gap(), after.lid_gap());
    println!(
        "wide eyes: lid gap {g0:.2} → {g1:.2} px (+{:.0} %, asked +40 %), iris radii {:?} → {:?}",
        (g1 / g0 - 1.0) * 100.0,
        before.radii,
        after.radii
    );
    // The detector reads about a third of the raise on this small face (6 px openings): +15 % here (+14 % when
    // the revealed band was the band under the portrait's lid reflected; clean sclera now); Obama's eyes below
    // read +26 %.
    assert!(g1 > g0 * 1.08, "the lids opened from {g0:.2} to {g1:.2} px only");
    for k in 0..2 {
        // The iris stays where it was, and the same size: the pixels of its disk are the portrait's. (The
        // detector's iris radius follows the opening a little, +6–11 % here, so it is not the measure.)
        let (c, r) = (before.irises[k], before.radii[k]);
        let d = (0.7 * r).round() as i32;
        // (its lower half: the upper one was partly under the lid, which now shows more of it)
        let diff = patch_diff(&src, &out, c[0] as i32 - d, c[0] as i32 + d + 1, c[1] as i32, c[1] as i32 + d + 1, 0);
        println!("wide eyes: iris {k} disk differs by {diff:.4}");
        assert!(diff < 0.03, "iris {k}: its disk changed by {diff:.4} (stretched?)");
        let (_, iod) = before.frame();
        let moved = (after.irises[k][0] - before.irises[k][0]).hypot(after.irises[k][1] - before.irises[k][1]) / iod;
        assert!(moved < 0.03, "iris {k} moved {moved:.3} IOD with wide eyes");
    }
    // A face whose eyes the detector reads more of: Obama (teeth, narrow smiling eyes).
    let src = demo("obama.jpg");
    let (g0, g1) = (Read::of(&src).lid_gap(), Read::of(&render(src.clone(), &[("eyeWideLeft", 1.0), ("eyeWideRight", 1.0)])).lid_gap());
    println!("wide eyes, Obama: lid gap {g0:.2} → {g1:.2} px (+{:.0} %, asked +40 %)", (g1 / g0 - 1.0) * 100.0);
    assert!(g1 > g0 * 1.15, "Obama: the lids opened from {g0:.2} to {g1:.2} px only");
}

/// Mean absolute difference (0–1) of a box of two images, the second box shifted down by `dy` image pixels
/// (boxes in image pixels, y down).
fn patch_diff(a: &HostImage, b: &HostImage, x0: i32, x1: i32, y0: i32, y1: i32, dy: i32) -> f32 {
    let h = a.height as i32;
    let (mut sum, mut n) = (0.0f32, 0.0f32);
    for y in y0..y1 {
        for x in x0..x1 {
            let (p, q) = (a.pixel(x, h - 1 - y).unwrap(), b.pixel(x, h - 1 - (y + dy)).unwrap());
            sum += (0..3).map(|c| (p[c] - q[c]).abs()).sum::<f32>() / 3.0;
            n += 1.0;
        }
    }
    sum / n
}

#[test]
fn teeth_split_between_the_jaws() {
    // Both portraits show teeth: the astronaut upper and a few lower ones, Obama a row of upper teeth over a dark
    // line and his lower lip.
    for name in ["astronaut.png", "obama.jpg"] {
        let src = demo(name);
        let before = Read::of(&src);
        let (_, iod) = before.frame();
        let jaw = 0.6;
        let out = render(src.clone(), &[("jawOpen", jaw)]);
        let l = &before.lm;
        let (x0, x1) = (l[61][0].min(l[67][0]) as i32, l[63][0].max(l[65][0]) as i32);
        let (top, bottom) = (l[62][1], l[66][1]);
        let gap = bottom - top;
        assert!(gap > 4.0, "{name}: the portrait's mouth is open {gap:.1} px");
        // The upper teeth, the top third of the opening: where they were.
        let (uy0, uy1) = ((top + 1.0) as i32, (top + gap / 3.0).max(top + 3.0) as i32);
        let upper_stays = patch_diff(&src, &out, x0, x1, uy0, uy1, 0);
        // The bottom of the opening (the lower teeth or the dark under the upper ones) with the lower lip's inner
        // edge: moved down with the lower lip (0.45 IOD per unit of jawOpen).
        // (the opening's bottom rows only when it is open wide enough that they are not the upper teeth's edge)
        let from = if gap > 10.0 { bottom - gap / 8.0 } else { bottom + 1.0 };
        let (ly0, ly1) = (from as i32, (bottom + 0.07 * iod) as i32);
        let dy = (0.45 * jaw as f32 * iod).round() as i32;
        // where those rows went: the vertical shift that matches them best
        let (best, best_diff) = (0..=2 * dy).map(|d| (d, patch_diff(&src, &out, x0, x1, ly0, ly1, d))).fold((0, f32::MAX), |a, b| if b.1 < a.1 { b } else { a });
        let lower_stayed = patch_diff(&src, &out, x0, x1, ly0, ly1, 0);
        println!("{name}: upper rows in place {upper_stays:.4}; lower rows best at +{best} px ({best_diff:.4}; the lip moved {dy} px), in place {lower_stayed:.4}");
        assert!(upper_stays < 0.05, "{name}: the upper teeth changed by {upper_stays:.4}");
        assert!((best - dy).abs() as f32 <= 0.3 * dy as f32 && best_diff < 0.1, "{name}: the bottom of the opening moved {best} px, the lower lip {dy}");
    }
}

/// Applies a parameter file written by `ofx-render --save-params` (static values and keys) to an instance.
fn apply_params_file(inst: &mut Instance, file: &ofx::host::ParamsFile) {
    let value = |ty: &str, v: &SavedValue| -> Option<ParamValue> {
        Some(match (ty, v) {
            ("OfxParamTypeDouble", SavedValue::Number(Some(x))) => ParamValue::Double(*x),
            ("OfxParamTypeDouble2D", SavedValue::Numbers(x)) if x.len() == 2 => {
                ParamValue::Double2D(x[0].unwrap_or(0.0), x[1].unwrap_or(0.0))
            }
            ("OfxParamTypeInteger", SavedValue::Integer(i)) => ParamValue::Int(*i as i32),
            ("OfxParamTypeBoolean", SavedValue::Integer(i)) => ParamValue::Bool(*i != 0),
            ("OfxParamTypeChoice", SavedValue::Integer(i)) => ParamValue::Choice(*i as i32),
            ("OfxParamTypeString", SavedValue::Text(s)) => ParamValue::String(s.clone()),
            _ => return None,
        })
    };
    for p in &file.params {
        // Read-only lines the plugin writes itself.
        if ["deviceInfo", "facesFound"].contains(&p.name.as_str()) {
            continue;
        }
        let v = value(&p.ofx_type, &p.value).unwrap_or_else(|| panic!("{}: cannot read {:?}", p.name, p.value));
        inst.set_param(&p.name, v).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        for k in &p.keys {
            let v = value(&p.ofx_type, &k.value).unwrap_or_else(|| panic!("{} key: cannot read {:?}", p.name, k.value));
            inst.set_param_key(&p.name, k.time, v).unwrap_or_else(|e| panic!("{} key: {e}", p.name));
        }
    }
}

#[test]
fn a_version_1_project_renders_bit_for_bit_as_before() {
    let dir = installer::workspace_root().join("tests/data/v1_project");
    let file: ofx::host::ParamsFile =
        serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).unwrap()).expect("params.json");
    let src = astronaut();
    let (_host, plugin) = load(HostOptions::default());
    let mut inst = instance_with(&plugin, src.clone());
    apply_params_file(&mut inst, &file);
    let req = RenderRequest { depth: Depth::Byte, ..Default::default() };
    let (bx, by) = (160i32, 44i32);
    let h = src.height as i32;
    for frame in 1..=3 {
        let out = inst.render_frame(frame as f64, &req).unwrap_or_else(|e| panic!("render: {e}; {:?}", inst.messages()));
        let want = ::image::open(dir.join(format!("face_{frame:04}.png"))).unwrap().to_rgb8();
        let mut differ = 0;
        for y in 0..h {
            for x in 0..src.width as i32 {
                let p = out.pixel(x, h - 1 - y).unwrap();
                let got: [u8; 3] = [0, 1, 2].map(|c| (p[c] * 255.0).round() as u8);
                let inside = (bx..bx + want.width() as i32).contains(&x) && (by..by + want.height() as i32).contains(&y);
                let expected: [u8; 3] = if inside {
                    want.get_pixel((x - bx) as u32, (y - by) as u32).0
                } else {
                    let q = src.pixel(x, h - 1 - y).unwrap();
                    [0, 1, 2].map(|c| (q[c] * 255.0).round() as u8)
                };
                differ += usize::from(got != expected);
            }
        }
        assert_eq!(differ, 0, "frame {frame}: {differ} pixels differ from what the version 1 plugin rendered");
    }
    // Touching a new control changes the frame.
    inst.set_param("gazeX", ParamValue::Double(20.0)).unwrap();
    let touched = inst.render_frame(1.0, &req).unwrap();
    let plain = {
        inst.set_param("gazeX", ParamValue::Double(0.0)).unwrap();
        inst.render_frame(1.0, &req).unwrap()
    };
    assert!(max_diff(&touched, &plain).0 > 0.05, "gazeX changed nothing");
}

#[test]
fn gaze_comes_from_an_openface_track_when_asked() {
    // A two-frame OpenFace 2.x CSV: the astronaut's own landmarks both times, looking ahead then 0.35 rad to the
    // subject's left (gaze_angle_x > 0).
    let src = astronaut();
    let before = Read::of(&src);
    let mut header = vec!["frame".to_string(), "face_id".into(), "confidence".into(), "success".into()];
    header.extend((0..68).map(|i| format!("x_{i}")));
    header.extend((0..68).map(|i| format!("y_{i}")));
    header.extend(["gaze_angle_x".to_string(), "gaze_angle_y".into()]);
    let mut csv = header.join(",") + "\n";
    for (frame, gx) in [(1, 0.0f32), (2, 0.35)] {
        let mut row = vec![frame.to_string(), "0".into(), "0.98".into(), "1".into()];
        row.extend(before.lm.iter().map(|p| format!("{}", p[0])));
        row.extend(before.lm.iter().map(|p| format!("{}", p[1])));
        row.extend([format!("{gx}"), "0".into()]);
        csv += &(row.join(",") + "\n");
    }
    let dir = installer::target_dir().join("test-output").join("render_eyes_mouth");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gaze.csv");
    std::fs::write(&path, csv).unwrap();
    let (_host, plugin) = load(HostOptions::default());
    let mut inst = instance_with(&plugin, src.clone());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    inst.set_param("trackFile", ParamValue::String(path.display().to_string())).unwrap();
    let off = inst.render_frame(2.0, &RenderRequest::default()).unwrap_or_else(|e| panic!("render: {e}; {:?}", inst.messages()));
    inst.set_param("gazeFromTrack", ParamValue::Bool(true)).unwrap();
    let on = inst.render_frame(2.0, &RenderRequest::default()).unwrap();
    let still = inst.render_frame(1.0, &RenderRequest::default()).unwrap();
    let (ex, iod) = before.frame();
    let asked = GAZE_RADIUS_IOD as f32 * 0.35f32.to_degrees().to_radians().sin();
    let along = |img: &HostImage| {
        let r = Read::of(img);
        (0..2).map(|k| ((r.irises[k][0] - before.irises[k][0]) * ex[0] + (r.irises[k][1] - before.irises[k][1]) * ex[1]) / iod / 2.0).sum::<f32>()
    };
    let (a_off, a_on, a_still) = (along(&off), along(&on), along(&still));
    println!("OpenFace gaze 0.35 rad: irises moved {a_on:.4} IOD towards the subject's left (asked {asked:.4}); off {a_off:.4}, frame 1 {a_still:.4}");
    assert!(a_off.abs() < 0.01 && a_still.abs() < 0.01, "without the track's gaze, or at its reference frame, the irises stay");
    assert!(a_on > 0.5 * asked && a_on < 1.5 * asked, "the track's gaze moved the irises {a_on:.4} IOD, asked {asked:.4}");
}

#[test]
fn gaze_comes_from_the_driver_clip_when_asked() {
    // The Driver: the astronaut, then the astronaut looking 25° to her left (rendered by the plugin itself).
    let src = astronaut();
    let looking = render(src.clone(), &[("gazeX", 25.0)]);
    let (_host, plugin) = load(HostOptions::default());
    let mut inst = plugin.create_instance(Context::General).expect("general context");
    inst.set_input("Source", ClipInput::Still(src.clone())).unwrap();
    let frames: std::collections::BTreeMap<i32, HostImage> = [(1, src.clone()), (2, looking.clone())].into_iter().collect();
    inst.set_input("Driver", ClipInput::Sequence(frames)).unwrap();
    inst.set_param("driveMode", ParamValue::ChoiceByOption("driver".into())).unwrap();
    let off = inst.render_frame(2.0, &RenderRequest::default()).unwrap_or_else(|e| panic!("render: {e}; {:?}", inst.messages()));
    inst.set_param("gazeFromTrack", ParamValue::Bool(true)).unwrap();
    let on = inst.render_frame(2.0, &RenderRequest::default()).unwrap();
    let before = Read::of(&src);
    let (ex, iod) = before.frame();
    let along = |img: &HostImage| {
        let r = Read::of(img);
        (0..2).map(|k| ((r.irises[k][0] - before.irises[k][0]) * ex[0] + (r.irises[k][1] - before.irises[k][1]) * ex[1]) / iod / 2.0).sum::<f32>()
    };
    let (a_driver, a_off, a_on) = (along(&looking), along(&off), along(&on));
    println!("Driver gaze: the driver's irises moved {a_driver:.4} IOD; the render's {a_on:.4} with gazeFromTrack, {a_off:.4} without");
    // (without it, the Driver's eye landmarks alone move the eyes a little, as in version 1)
    assert!(a_off.abs() < 0.3 * a_driver, "without gazeFromTrack the irises moved {a_off:.4} IOD");
    assert!(a_on > 0.6 * a_driver && a_on < 1.4 * a_driver, "the Driver's gaze moved the irises {a_on:.4} IOD, the driver's {a_driver:.4}");
}

/// Renders frame `frame` of `src` driven by the track file `path`, with `gazeFromTrack` on.
fn render_track_gaze(src: &HostImage, path: &std::path::Path, frame: f64) -> HostImage {
    let (_host, plugin) = load(HostOptions::default());
    let mut inst = instance_with(&plugin, src.clone());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    inst.set_param("trackFile", ParamValue::String(path.display().to_string())).unwrap();
    inst.set_param("gazeFromTrack", ParamValue::Bool(true)).unwrap();
    inst.render_frame(frame, &RenderRequest::default()).unwrap_or_else(|e| panic!("render: {e}; {:?}", inst.messages()))
}

#[test]
fn gaze_comes_from_track_irises_and_openface_gaze_loses_the_head_turn() {
    let src = astronaut();
    let before = Read::of(&src);
    let (ex, iod) = before.frame();
    let along = |img: &HostImage| {
        let r = Read::of(img);
        (0..2).map(|k| ((r.irises[k][0] - before.irises[k][0]) * ex[0] + (r.irises[k][1] - before.irises[k][1]) * ex[1]) / iod / 2.0).sum::<f32>()
    };
    let dir = installer::target_dir().join("test-output").join("render_eyes_mouth");
    std::fs::create_dir_all(&dir).unwrap();

    // Our own JSON track, as `living-portrait track` writes it: frame 2's iris centres 0.05 IOD towards the
    // subject's left (irises are measured from the track's first frame).
    let shift = 0.05f32;
    let moved: Vec<[f32; 2]> = before.irises.iter().map(|p| [p[0] + shift * iod * ex[0], p[1] + shift * iod * ex[1]]).collect();
    let mut track = living_portrait::track::LandmarkTrack::new(
        [src.width as u32, src.height as u32],
        None,
        (1..=2).map(|f| living_portrait::track::TrackFrame { frame: f, landmarks: Some(before.lm.clone().try_into().unwrap()) }).collect(),
    )
    .unwrap();
    track.irises = vec![(1, before.irises), (2, [moved[0], moved[1]])];
    let json = dir.join("gaze_irises.json");
    track.write(&json).unwrap();
    let a_json = along(&render_track_gaze(&src, &json, 2.0));

    // An OpenFace CSV whose head is turned by pose_Ry = 0.3 rad on frame 2 (the landmarks are left alone to keep
    // the test about the eyes): gaze_angle_x = -0.3 there is eyes fixed in the head, so nothing moves; -0.65 is a
    // further 0.35 rad inside the head towards the camera's left, the subject's right.
    let csv = |gx2: f32| {
        let mut header = vec!["frame".to_string(), "face_id".into(), "confidence".into(), "success".into()];
        header.extend((0..68).map(|i| format!("x_{i}")));
        header.extend((0..68).map(|i| format!("y_{i}")));
        header.extend(["pose_Rx", "pose_Ry", "pose_Rz", "gaze_angle_x", "gaze_angle_y"].map(String::from));
        let mut text = header.join(",") + "\n";
        for (frame, ry, gx) in [(1, 0.0f32, 0.0f32), (2, 0.3, gx2)] {
            let mut row = vec![frame.to_string(), "0".into(), "0.98".into(), "1".into()];
            row.extend(before.lm.iter().map(|p| format!("{}", p[0])));
            row.extend(before.lm.iter().map(|p| format!("{}", p[1])));
            row.extend(["0".to_string(), format!("{ry}"), "0".into(), format!("{gx}"), "0".into()]);
            text += &(row.join(",") + "\n");
        }
        let path = dir.join(format!("gaze_pose_{gx2}.csv"));
        std::fs::write(&path, text).unwrap();
        path
    };
    let a_fixed = along(&render_track_gaze(&src, &csv(-0.3), 2.0));
    let a_turned = along(&render_track_gaze(&src, &csv(-0.65), 2.0));
    let asked = -GAZE_RADIUS_IOD as f32 * 0.35f32.sin();
    println!("track irises +{shift} IOD: irises moved {a_json:.4}; OpenFace eyes fixed in a turned head {a_fixed:.4}, turned 0.35 rad inside it {a_turned:.4} (asked {asked:.4})");
    assert!(a_json > 0.5 * shift && a_json < 1.5 * shift, "the track's irises moved the render's {a_json:.4} IOD, asked {shift}");
    assert!(a_fixed.abs() < 0.01, "eyes fixed in a turned head moved the irises {a_fixed:.4} IOD");
    assert!(a_turned < 0.5 * asked && a_turned > 1.5 * asked, "a gaze inside the head moved the irises {a_turned:.4} IOD, asked {asked:.4}");
}

#[test]
fn a_track_that_opens_the_eyes_wider_keeps_the_iris_round() {
    // Frame 2 of the track raises the upper lids (37, 38, 43, 44) by 40 % of the opening, as a driver widening
    // the eyes would: the eye model shows more sclera around the portrait's own iris instead of stretching it.
    let src = demo("astronaut.png");
    let before = Read::of(&src);
    let lm: [[f32; 2]; 68] = before.lm.clone().try_into().unwrap();
    let mut wide = lm;
    for (u, l) in [(37, 41), (38, 40), (43, 47), (44, 46)] {
        for c in 0..2 {
            wide[u][c] -= 0.4 * (lm[l][c] - lm[u][c]);
        }
    }
    use living_portrait::track::{LandmarkTrack, TrackFrame};
    let track = LandmarkTrack::new(
        [src.width as u32, src.height as u32],
        None,
        vec![TrackFrame { frame: 1, landmarks: Some(lm) }, TrackFrame { frame: 2, landmarks: Some(wide) }],
    )
    .unwrap();
    let dir = installer::target_dir().join("test-output").join("render_eyes_mouth");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wider_eyes.json");
    track.write(&path).unwrap();
    let (_host, plugin) = load(HostOptions::default());
    let mut inst = instance_with(&plugin, src.clone());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    inst.set_param("trackFile", ParamValue::String(path.display().to_string())).unwrap();
    let out = inst.render_frame(2.0, &RenderRequest::default()).unwrap_or_else(|e| panic!("render: {e}; {:?}", inst.messages()));
    let after = Read::of(&out);
    println!("track widening the eyes: lid gap {:.2} → {:.2} px", before.lid_gap(), after.lid_gap());
    assert!(after.lid_gap() > before.lid_gap() * 1.08, "the lids did not open");
    for k in 0..2 {
        let (c, r) = (before.irises[k], before.radii[k]);
        let d = (0.7 * r).round() as i32;
        let diff = patch_diff(&src, &out, c[0] as i32 - d, c[0] as i32 + d + 1, c[1] as i32, c[1] as i32 + d + 1, 0);
        println!("track widening the eyes: iris {k} disk differs by {diff:.4}");
        assert!(diff < 0.03, "iris {k}: its disk changed by {diff:.4} (stretched with the lids?)");
    }
}
