//! The landmark sketch: eyes and both lip rings are closed (the segment from the last point back to the first is
//! drawn) while open parts are not; the inside of an eye stays black; each part has its own colour; lines are
//! 2 px thick; points outside the crop or not finite do no harm.

#[path = "support/face_common.rs"]
mod face_common;
#[path = "support/packs.rs"]
mod support;

use living_portrait::packs::sketch::{self, LINE_WIDTH, PARTS};
use support::face;

/// The RGB of the pixel under normalised point `p`.
fn pixel(rgb: &[f32], size: usize, p: [f32; 2]) -> [f32; 3] {
    let u = (((p[0] + 1.0) * 0.5 * size as f32) as usize).min(size - 1);
    let v = (((p[1] + 1.0) * 0.5 * size as f32) as usize).min(size - 1);
    let at = v * size + u;
    let plane = size * size;
    [rgb[at], rgb[plane + at], rgb[2 * plane + at]]
}

fn midpoint(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [(a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5]
}

fn colour_of(name: &str) -> [f32; 3] {
    PARTS.iter().find(|p| p.name == name).unwrap().colour
}

fn close_to(got: [f32; 3], want: [f32; 3], tol: f32) -> bool {
    got.iter().zip(want).all(|(g, w)| (g - w).abs() <= tol)
}

#[test]
fn rings_are_closed_and_eyes_are_dark_inside() {
    let lm = face();
    for size in [256, 512] {
        let rgb = sketch::draw(&lm, size);
        assert_eq!(rgb.len(), 3 * size * size);
        // The closing segments, last point back to the first.
        for (name, last, first) in
            [("right eye", 41, 36), ("left eye", 47, 42), ("outer lips", 59, 48), ("inner lips", 67, 60)]
        {
            let got = pixel(&rgb, size, midpoint(lm[last], lm[first]));
            assert!(close_to(got, colour_of(name), 0.25), "{name} at {size}: {got:?}");
        }
        // Every eye pixel of the ring (at the landmarks themselves) is lit in the eye's colour.
        for (name, range) in [("right eye", 36..42), ("left eye", 42..48)] {
            for i in range.clone() {
                let got = pixel(&rgb, size, lm[i]);
                assert!(close_to(got, colour_of(name), 0.25), "{name} point {i} at {size}: {got:?}");
            }
            // The centre of the eye is black.
            let centre = midpoint(lm[range.start], lm[range.start + 3]);
            assert_eq!(pixel(&rgb, size, centre), [0.0; 3], "{name} interior at {size}");
        }
        // Open parts are not closed: the chord from the last brow point to the first is dark.
        let chord = pixel(&rgb, size, midpoint(lm[21], lm[17]));
        assert_eq!(chord, [0.0; 3], "the brow is an open polyline");
        // The background is black.
        assert_eq!(pixel(&rgb, size, [-0.95, -0.95]), [0.0; 3]);
    }
}

#[test]
fn each_part_has_its_own_colour() {
    let mut colours: Vec<[f32; 3]> = PARTS.iter().map(|p| p.colour).collect();
    colours.dedup();
    assert_eq!(colours.len(), 9, "nine parts: jaw, two brows, nose bridge and base, two eyes, two lip rings");
    for (i, a) in colours.iter().enumerate() {
        for b in &colours[i + 1..] {
            assert!(!close_to(*a, *b, 0.3), "{a:?} and {b:?} are too alike");
        }
    }
    let lm = face();
    let size = 256;
    let rgb = sketch::draw(&lm, size);
    // A point in the middle of each open part's polyline carries that part's colour.
    for (name, a, b) in
        [("jaw", 8, 9), ("right brow", 19, 20), ("left brow", 24, 25), ("nose bridge", 28, 29), ("nose base", 32, 33)]
    {
        let got = pixel(&rgb, size, midpoint(lm[a], lm[b]));
        assert!(close_to(got, colour_of(name), 0.25), "{name}: {got:?}");
    }
}

#[test]
fn lines_are_two_pixels_thick() {
    // Only the jaw, laid out as a horizontal line through the crop centre; every other part is not finite and
    // skipped.
    let mut lm = [[f32::NAN; 2]; 68];
    for (i, p) in lm[0..17].iter_mut().enumerate() {
        *p = [-0.5 + i as f32 / 16.0, 0.01];
    }
    let size = 128;
    let rgb = sketch::draw(&lm, size);
    let red = &rgb[..size * size];
    for x in [40, 64, 80] {
        let column: f32 = (0..size).map(|y| red[y * size + x]).sum();
        assert!((column - LINE_WIDTH).abs() < 0.05, "column {x}: {column}");
    }
    // Nothing but the jaw was drawn.
    assert!(rgb[2 * size * size..].iter().all(|&b| b == 0.0), "no blue anywhere");
}

#[test]
fn sub_pixel_motion_moves_the_sketch_smoothly() {
    let lm = face();
    let mut moved = lm;
    for p in moved.iter_mut() {
        p[0] += 0.25 / 128.0; // a quarter pixel at 256
    }
    let a = sketch::draw(&lm, 256);
    let b = sketch::draw(&moved, 256);
    let diff = support::max_diff(&a, &b);
    assert!(diff > 0.0 && diff < 0.5, "anti-aliased lines change gradually: {diff}");
}

#[test]
fn points_off_the_crop_are_clipped() {
    let mut lm = face();
    for p in lm.iter_mut() {
        p[0] *= 3.0;
        p[1] = p[1] * 3.0 + 1.0;
    }
    let rgb = sketch::draw(&lm, 64);
    assert_eq!(rgb.len(), 3 * 64 * 64);
    assert!(rgb.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(sketch::draw(&face(), 0).is_empty());
}
