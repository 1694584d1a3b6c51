//! A still body: a jaw drop, a nod (pitch ±20°) and a turn move the chin and the jaw line, but the
//! neck below, the collar, the clothes and the background stay: no pixel more than half an eye distance below the
//! chin line (jaw points 4–12, the lower of the portrait's and the target's) changes by more than 2/255, with
//! `useSegmentation` off and on. Rendered through the headless host and the plugin's C entry points; the largest
//! change below the line and in the band above it are printed (`-- --nocapture`).

#[path = "support/common.rs"]
mod common;

use common::*;
use living_portrait::expressions::Expressions;
use living_portrait::face::Landmarks68;
use ofx::host::*;

fn portrait_landmarks(img: &HostImage) -> Landmarks68 {
    analyzer().analyze(&to_face_image(img)).unwrap().face.as_ref().expect("a face").landmarks68
}

/// The y (image rows, down) of the polyline through jaw points 4–12 at x, flat beyond its ends.
fn chin_y(l: &Landmarks68, x: f32) -> f32 {
    let mut v: Vec<[f32; 2]> = (4..=12).map(|j| l[j]).collect();
    v.sort_by(|a, b| a[0].total_cmp(&b[0]));
    if x <= v[0][0] {
        return v[0][1];
    }
    for w in v.windows(2) {
        if x <= w[1][0] {
            let t = if w[1][0] > w[0][0] { (x - w[0][0]) / (w[1][0] - w[0][0]) } else { 1.0 };
            return w[0][1] + t * (w[1][1] - w[0][1]);
        }
    }
    v[v.len() - 1][1]
}

/// The expression controls' targets for the portrait (image coordinates, as the render computes them in its
/// y-up frame).
fn targets(base: &Landmarks68, e: Expressions) -> Landmarks68 {
    let up = base.map(|p| [p[0] as f64, -(p[1] as f64)]);
    e.apply(&up).map(|p| [p[0] as f32, -p[1] as f32])
}

#[test]
fn jaw_drops_nods_and_turns_leave_the_body_below_the_chin_untouched() {
    test_env();
    let src = astronaut();
    let base = portrait_landmarks(&src);
    let d = iod(&base);
    let (_h, plugin) = load(HostOptions { threads: 2, ..HostOptions::default() });
    let dir = installer::target_dir().join("test-output").join("body_still");
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, Expressions); 5] = [
        ("jawOpen 1", Expressions { jaw_open: 1.0, ..Default::default() }),
        ("headPitch +20", Expressions { head_pitch: 20.0, ..Default::default() }),
        ("headPitch -20", Expressions { head_pitch: -20.0, ..Default::default() }),
        ("headYaw +20", Expressions { head_yaw: 20.0, ..Default::default() }),
        ("jawOpen 0.6 + headPitch 15 + headRoll 8", Expressions { jaw_open: 0.6, head_pitch: 15.0, head_roll: 8.0, ..Default::default() }),
    ];
    for segmentation in [false, true] {
        for (name, e) in &cases {
            let mut inst = instance_with(&plugin, src.clone());
            inst.set_param("driveMode", ParamValue::ChoiceByOption("expressions".into())).unwrap();
            inst.set_param("useSegmentation", ParamValue::Bool(segmentation)).unwrap();
            for (param, v) in [("jawOpen", e.jaw_open), ("headPitch", e.head_pitch), ("headYaw", e.head_yaw), ("headRoll", e.head_roll)] {
                if v != 0.0 {
                    inst.set_param(param, ParamValue::Double(v)).unwrap();
                }
            }
            let out = inst.render_frame(1.0, &RenderRequest::default()).unwrap_or_else(|err| panic!("{name}: {err}; {:?}", inst.messages()));
            let target = targets(&base, *e);
            let (w, h) = (src.width as i32, src.height as i32);
            let (mut below, mut above, mut counted) = (0.0f32, 0.0f32, 0usize);
            for y in 0..h {
                for x in 0..w {
                    // Pixel centres in image rows (top-down); HostImage's pixel() counts rows from the bottom.
                    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                    let line = chin_y(&base, px).max(chin_y(&target, px));
                    let (a, b) = (src.pixel(x, h - 1 - y).unwrap(), out.pixel(x, h - 1 - y).unwrap());
                    let diff = (0..3).map(|c| (a[c] - b[c]).abs()).fold(0.0f32, f32::max);
                    if py > line + 0.5 * d {
                        below = below.max(diff);
                        counted += 1;
                    } else if py > line - 0.5 * d {
                        above = above.max(diff);
                    }
                }
            }
            println!("{name}, segmentation {segmentation}: largest change below the line + 0.5 IOD {:.4} ({counted} pixels); in the band above it {above:.4}", below);
            if !segmentation {
                out.save(&dir.join(format!("{}.png", name.replace([' ', '+'], "_"))), Depth::Byte).unwrap();
            }
            assert!(counted > 10_000, "{name}: the test looks at the body");
            assert!(below <= 2.0 / 255.0, "{name}, segmentation {segmentation}: the body moved by {below}");
            assert!(above > 0.05, "{name}: the chin and jaw still move");
        }
    }
}
