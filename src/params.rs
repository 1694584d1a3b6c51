//! The node's clips and parameters: stable clip and script names,
//! descriptions, and the values a render reads at its time.
//!
//! Saved Natron and Resolve projects refer to these names and to the index of
//! each choice option: never rename a parameter, never reorder options (new
//! options go at the end). `tests/params_stable.rs` pins them.

use ofx::plugin::*;
use ofx::Result;

/// Clip names (stable: saved scenes connect inputs by them).
pub mod clips {
    /// The portrait (a still or a few reference frames).
    pub const SOURCE: &str = "Source";
    /// A video of a performing face (general context only).
    pub const DRIVER: &str = "Driver";
    /// The result.
    pub const OUTPUT: &str = "Output";
}

/// Drive mode (`driveMode`).
pub const DRIVE_MODE: &str = "driveMode";
/// Track file path (`trackFile`).
pub const TRACK_FILE: &str = "trackFile";
/// Frame offset between the timeline and the track (`trackFrameOffset`).
pub const TRACK_FRAME_OFFSET: &str = "trackFrameOffset";
/// Relative or absolute motion (`motion`).
pub const MOTION: &str = "motion";
/// The track frame relative motion is measured from (`motionReferenceFrame`).
pub const MOTION_REFERENCE_FRAME: &str = "motionReferenceFrame";
/// Crop resolution of the generator (`workingResolution`).
pub const WORKING_RESOLUTION: &str = "workingResolution";
/// Full frame, aligned crop or matte (`outputMode`).
pub const OUTPUT_MODE: &str = "outputMode";
/// Matte softness (`feather`).
pub const FEATHER: &str = "feather";
/// Use the portrait segmentation to keep the background out of the matte (`useSegmentation`).
pub const USE_SEGMENTATION: &str = "useSegmentation";
/// Inference device (`device`).
pub const DEVICE: &str = "device";
/// Read-only line: the device actually used (`deviceInfo`).
pub const DEVICE_INFO: &str = "deviceInfo";
/// First reference frame of `Source` (`referenceFirst`).
pub const REFERENCE_FIRST: &str = "referenceFirst";
/// Last reference frame of `Source` (`referenceLast`).
pub const REFERENCE_LAST: &str = "referenceLast";
/// Use `srcLm00…srcLm67` instead of the detected portrait landmarks (`overrideSource`).
pub const OVERRIDE_SOURCE: &str = "overrideSource";
/// Track frames without a face: hold or interpolate (`missingFrames`).
pub const MISSING_FRAMES: &str = "missingFrames";
/// Take the gaze a track carries (`gazeFromTrack`).
pub const GAZE_FROM_TRACK: &str = "gazeFromTrack";
/// Smooth the driving landmarks (`smooth`).
pub const SMOOTH: &str = "smooth";
/// One Euro minimum cut-off, Hz (`smoothMinCutoff`).
pub const SMOOTH_MIN_CUTOFF: &str = "smoothMinCutoff";
/// One Euro speed coefficient (`smoothBeta`).
pub const SMOOTH_BETA: &str = "smoothBeta";
/// Button: write the current track into lm00…lm67 (`bakeKeys`).
pub const BAKE_KEYS: &str = "bakeKeys";
/// Button: remove the keys of lm00…lm67 (`clearKeys`).
pub const CLEAR_KEYS: &str = "clearKeys";
/// Which face of the portrait to animate: 0 the largest, n the n-th from the left (`faceIndex`).
pub const FACE_INDEX: &str = "faceIndex";
/// Read-only line: how many faces the portrait has and which is animated (`facesFound`).
pub const FACES_FOUND: &str = "facesFound";
/// Most faces `faceIndex` can name.
pub const MAX_FACE_INDEX: i32 = 32;
/// Button: detect the portrait's landmarks into srcLm00…srcLm67 (`detectSource`).
pub const DETECT_SOURCE: &str = "detectSource";
/// Button: choose the track file with a file dialog (`browseTrack`).
pub const BROWSE_TRACK: &str = "browseTrack";
/// Generator model pack: a folder, or the name of a pack installed beside the built-in one (`installer install
/// --pack`); empty: the built-in warp (`modelPack`).
pub const MODEL_PACK: &str = "modelPack";
/// Overlay: draw the landmarks in the viewer (`showOverlay`).
pub const SHOW_OVERLAY: &str = "showOverlay";
/// Overlay: also draw the portrait's own landmarks (`showSourceLandmarks`).
pub const SHOW_SOURCE_LANDMARKS: &str = "showSourceLandmarks";

// Choice options: (script name, label). Labels are the script names in words,
// so that hosts and scripts that match options by label (ofx-render, Natron's
// Python) accept the script name: "trackFile" matches "Track file".
/// Drive mode options, in their stable order.
pub const DRIVE_MODES: [(&str, &str); 4] =
    [("keyframes", "Keyframes"), ("trackFile", "Track file"), ("driver", "Driver"), ("expressions", "Expressions")];
/// What to do at track frames without a face.
pub const MISSING_FRAME_MODES: [(&str, &str); 2] = [("hold", "Hold"), ("interpolate", "Interpolate")];
/// Motion options.
pub const MOTIONS: [(&str, &str); 2] = [("relative", "Relative"), ("absolute", "Absolute")];
/// Working resolutions.
pub const RESOLUTIONS: [(&str, &str); 3] = [("256", "256"), ("512", "512"), ("1024", "1024")];
/// Output modes.
pub const OUTPUT_MODES: [(&str, &str); 3] = [("full", "Full"), ("crop", "Crop"), ("matte", "Matte")];
/// Device options.
pub const DEVICES: [(&str, &str); 3] = [("auto", "Auto"), ("gpu", "GPU"), ("cpu", "CPU")];

/// Name of target landmark `i` (`lm00` … `lm67`).
pub fn lm_name(i: usize) -> String {
    format!("lm{i:02}")
}
/// Name of source landmark override `i` (`srcLm00` … `srcLm67`).
pub fn src_lm_name(i: usize) -> String {
    format!("srcLm{i:02}")
}

/// How the target landmarks are produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveMode {
    /// The animated `lm00…lm67` params.
    Keyframes,
    /// A track file.
    TrackFile,
    /// The `Driver` clip, tracked frame by frame.
    Driver,
    /// Only the expression controls move the portrait's own landmarks.
    Expressions,
}

/// What the node outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// The portrait with the animated face pasted back.
    Full,
    /// The aligned face crop at working resolution.
    Crop,
    /// The paste-back matte.
    Matte,
}

fn labels<'a>(options: &[(&'a str, &'a str)]) -> Vec<&'a str> {
    options.iter().map(|(_, l)| *l).collect()
}

fn choice(p: &ParamSetDescriptor, name: &str, label: &str, options: &[(&str, &str)], default: i32, hint: &str, parent: &str) -> Result<()> {
    let d = p.define(ParamKind::Choice, name)?;
    d.label(label)?.hint(hint)?.options(&labels(options))?.default_int(default)?.animates(false)?;
    if !parent.is_empty() {
        d.parent(parent)?;
    }
    Ok(())
}

/// Define every parameter (describe-in-context).
pub fn describe(desc: &EffectDescriptor) -> Result<()> {
    let p = desc.params()?;
    // Pages in the order hosts show them.
    describe_drive(&p)?;
    describe_expressions(&p)?;
    describe_portrait(&p)?;
    describe_output(&p)?;
    describe_inference(&p)?;
    describe_keyframes(&p)?;
    Ok(())
}

/// The Drive group: how the face moves, and the track's options.
fn describe_drive(p: &ParamSetDescriptor) -> Result<()> {
    p.define(ParamKind::Group, "driveGroup")?.label("Drive")?;
    choice(p, DRIVE_MODE, "Drive mode", &DRIVE_MODES, 0,
        "What moves the face. Keyframes: the keyframed landmarks lm00…lm67 (while none is keyed the node passes the portrait through untouched). Track file: a landmark track (Living Portrait JSON, OpenFace 2.x CSV, iBUG .pts files, MediaPipe 468-point JSON). Driver: the Driver clip (general context), tracked frame by frame. Expressions: only the expression controls, which also add on top of every other mode.", "driveGroup")?;
    p.define(ParamKind::String, TRACK_FILE)?
        .label("Track file")?
        .hint("Path of a landmark track: the JSON that `living-portrait track` writes, or an OpenFace 2.x CSV (x_0…x_67, y_0…y_67 in image pixels, frame counted from 1).")?
        .file_path(true)?
        .default_string("")?
        .animates(false)?
        .parent("driveGroup")?;
    p.define(ParamKind::PushButton, BROWSE_TRACK)?
        .label("Browse…")?
        .hint("Choose the track file with a file dialog (zenity or kdialog on Linux, the system dialog on macOS and Windows). Hosts without a file widget, such as Resolve, need this.")?
        .parent("driveGroup")?;
    p.define(ParamKind::Int, TRACK_FRAME_OFFSET)?
        .label("Track frame offset")?
        .hint("Track frame = timeline frame + offset.")?
        .default_int(0)?
        .range_int(-1_000_000, 1_000_000)?
        .animates(false)?
        .parent("driveGroup")?;
    choice(p, MOTION, "Motion", &MOTIONS, 0,
        "Relative: the track's motion since its reference frame, normalised for the face's size and pose, moves the portrait's own landmarks (the portrait keeps its face shape). Absolute: the track's points are used as they are (portrait pixels).", "driveGroup")?;
    p.define(ParamKind::Int, MOTION_REFERENCE_FRAME)?
        .label("Motion reference frame")?
        .hint("The track frame relative motion is measured from: the driving face at this frame maps onto the portrait as it is. -1: the track's first frame with a face.")?
        .default_int(-1)?
        .range_int(-1, 10_000_000)?
        .animates(false)?
        .parent("driveGroup")?;

    choice(p, MISSING_FRAMES, "Missing frames", &MISSING_FRAME_MODES, 0,
        "Track frames without a face: Hold keeps the nearest earlier face; Interpolate blends linearly between the faces before and after.", "driveGroup")?;
    p.define(ParamKind::Bool, GAZE_FROM_TRACK)?
        .label("Gaze from the drive")?
        .hint("Move the irises by the gaze the track carries (an OpenFace 2.x CSV's gaze_angle_x / gaze_angle_y, less its head rotation pose_R*, or its eye_lmk_* iris points; the iris points 468 and 473 of MediaPipe 478-point JSON; a Living Portrait track's irises or gaze), or the Driver clip's irises (the face mesh model's); relative motion takes the gaze since the motion reference frame). Off by default, so projects saved before it existed render as they did; gazeX / gazeY add to it.")?
        .default_int(0)?
        .animates(false)?
        .parent("driveGroup")?;
    p.define(ParamKind::Bool, SMOOTH)?
        .label("Smooth")?
        .hint("Smooth the driving landmarks with a One Euro filter (computed from the track alone, so any render order gives the same frames).")?
        .default_int(0)?
        .animates(false)?
        .parent("driveGroup")?;
    p.define(ParamKind::Double, SMOOTH_MIN_CUTOFF)?
        .label("Smooth min cut-off")?
        .hint("One Euro minimum cut-off frequency in Hz: lower removes more jitter at rest, with more lag.")?
        .default_doubles(&[1.0])?
        .range_doubles(&[0.01], &[30.0])?
        .display_range_doubles(&[0.05], &[10.0])?
        .animates(false)?
        .parent("driveGroup")?;
    p.define(ParamKind::Double, SMOOTH_BETA)?
        .label("Smooth speed")?
        .hint("One Euro speed coefficient (beta): higher reduces lag in fast motion.")?
        .default_doubles(&[0.0])?
        .range_doubles(&[0.0], &[10.0])?
        .display_range_doubles(&[0.0], &[1.0])?
        .animates(false)?
        .parent("driveGroup")?;
    p.define(ParamKind::PushButton, BAKE_KEYS)?
        .label("Bake to keyframes")?
        .hint("Write the current track (file or Driver clip, after motion transfer and smoothing) into lm00…lm67 as a key at every tracked frame, in one undoable edit, then switch Drive mode to Keyframes.")?
        .parent("driveGroup")?;
    p.define(ParamKind::PushButton, CLEAR_KEYS)?
        .label("Clear keys")?
        .hint("Remove every key of lm00…lm67 (one undoable edit).")?
        .parent("driveGroup")?;
    Ok(())
}

/// The Expressions group: one keyframable control per expression.
fn describe_expressions(p: &ParamSetDescriptor) -> Result<()> {
    p.define(ParamKind::Group, "expressionGroup")?.label("Expressions")?;
    for (name, (label, lo, hi, hint)) in crate::expressions::NAMES.iter().zip(EXPRESSION_UI) {
        p.define(ParamKind::Double, name)?
            .label(label)?
            .hint(hint)?
            .default_doubles(&[0.0])?
            .range_doubles(&[lo], &[hi])?
            .display_range_doubles(&[lo], &[hi])?
            .animates(true)?
            .parent("expressionGroup")?;
    }
    Ok(())
}

/// The Portrait group: reference stills, the face chosen, the portrait's landmarks.
fn describe_portrait(p: &ParamSetDescriptor) -> Result<()> {
    p.define(ParamKind::Group, "sourceGroup")?.label("Portrait")?;
    p.define(ParamKind::Int, REFERENCE_FIRST)?
        .label("Reference first frame")?
        .hint("First frame of Source used as a reference still (the background comes from this frame). Up to 32 frames from first to last are used: for each output frame the reference whose mouth and eyes best match the target is warped, so an open-mouth still gives real teeth.")?
        .default_int(1)?
        .range_int(-1_000_000, 10_000_000)?
        .animates(false)?
        .parent("sourceGroup")?;
    p.define(ParamKind::Int, REFERENCE_LAST)?
        .label("Reference last frame")?
        .hint("Last frame of Source used as a reference still (at most 32 frames are used).")?
        .default_int(1)?
        .range_int(-1_000_000, 10_000_000)?
        .animates(false)?
        .parent("sourceGroup")?;
    p.define(ParamKind::Int, FACE_INDEX)?
        .label("Face")?
        .hint("Which face of the portrait to animate when it has several: 0 = the largest (the default); 1, 2, … = the first, second, … face counted from the left of the image (by the centre of each face). \"Faces found\" says how many there are; a number beyond them is an error.")?
        .default_int(0)?
        .range_int(0, MAX_FACE_INDEX)?
        .animates(false)?
        .parent("sourceGroup")?;
    p.define(ParamKind::String, FACES_FOUND)?
        .label("Faces found")?
        .hint("How many faces were found on the portrait, and which one is animated (faces counted from the left).")?
        .label_string()?
        .default_string("not analysed yet")?
        .animates(false)?
        .persistent(false)?
        .parent("sourceGroup")?;
    p.define(ParamKind::Bool, OVERRIDE_SOURCE)?
        .label("Override portrait landmarks")?
        .hint("Use srcLm00…srcLm67 instead of the landmarks detected on the portrait.")?
        .default_int(0)?
        .animates(false)?
        .parent("sourceGroup")?;
    p.define(ParamKind::PushButton, DETECT_SOURCE)?
        .label("Detect")?
        .hint("Detect the portrait's landmarks now and fill srcLm00…srcLm67 (one undoable edit), as a start for placing them by hand.")?
        .parent("sourceGroup")?;
    p.define(ParamKind::Group, "sourceLandmarks")?.label("Portrait landmarks")?.parent("sourceGroup")?;
    for i in 0..68 {
        let d = p.define(ParamKind::Double2D, &src_lm_name(i))?;
        d.label(&format!("Portrait landmark {i}"))?
            .xy_absolute_canonical()?
            .default_doubles(&[0.0, 0.0])?
            .animates(false)?
            .parent("sourceLandmarks")?;
    }
    Ok(())
}

/// The Output group: output mode, working resolution, matte, overlay.
fn describe_output(p: &ParamSetDescriptor) -> Result<()> {
    p.define(ParamKind::Group, "outputGroup")?.label("Output")?;
    choice(p, OUTPUT_MODE, "Output", &OUTPUT_MODES, 0,
        "Full: the portrait with the animated face pasted back through the feathered matte. Crop: the generator's similarity-aligned face crop at working resolution. Matte: the paste-back matte (where the face may change).", "outputGroup")?;
    choice(p, WORKING_RESOLUTION, "Working resolution", &RESOLUTIONS, 1,
        "Side of the aligned face crop the generator works at.", "outputGroup")?;
    p.define(ParamKind::Double, FEATHER)?
        .label("Feather")?
        .hint("Softness of the paste-back matte's edge, as a fraction of the distance between the eyes.")?
        .default_doubles(&[0.35])?
        .range_doubles(&[0.0], &[2.0])?
        .display_range_doubles(&[0.0], &[1.0])?
        .parent("outputGroup")?;
    p.define(ParamKind::Bool, USE_SEGMENTATION)?
        .label("Use portrait segmentation")?
        .hint("Multiply the matte by the portrait's person segmentation, so that the background next to the face is never touched.")?
        .default_int(0)?
        .animates(false)?
        .parent("outputGroup")?;

    p.define(ParamKind::Bool, SHOW_OVERLAY)?
        .label("Show landmarks")?
        .hint("Draw the 68 target landmarks and the face parts in the viewer; drag a point to key it at the current time. (In Resolve, turn on the OpenFX overlay.)")?
        .default_int(1)?
        .animates(false)?
        .evaluate_on_change(false)?
        .parent("outputGroup")?;
    p.define(ParamKind::Bool, SHOW_SOURCE_LANDMARKS)?
        .label("Show portrait landmarks")?
        .hint("Also draw the portrait's own landmarks, in another colour.")?
        .default_int(0)?
        .animates(false)?
        .evaluate_on_change(false)?
        .parent("outputGroup")?;
    Ok(())
}

/// The Inference group: model pack and device.
fn describe_inference(p: &ParamSetDescriptor) -> Result<()> {
    p.define(ParamKind::Group, "inferenceGroup")?.label("Inference")?;
    p.define(ParamKind::String, MODEL_PACK)?
        .label("Model pack")?
        .hint("Folder of a generator model pack (manifest.json + ONNX files, see resources/models/README.md), or the name of a pack installed with `installer install --pack`. Empty: the built-in landmark warp.")?
        .file_path(true)?
        .default_string("")?
        .animates(false)?
        .parent("inferenceGroup")?;
    choice(p, DEVICE, "Device", &DEVICES, 0,
        "Where ONNX inference runs. Auto and GPU use CUDA when this machine's runtime has it; when GPU was asked and cannot run, the node says why and renders on the CPU.", "inferenceGroup")?;
    p.define(ParamKind::String, DEVICE_INFO)?
        .label("Running on")?
        .hint("The device inference actually runs on.")?
        .label_string()?
        .default_string("not started")?
        .animates(false)?
        .persistent(false)?
        .parent("inferenceGroup")?;
    Ok(())
}

/// The Landmark keyframes group: lm00…lm67.
fn describe_keyframes(p: &ParamSetDescriptor) -> Result<()> {
    p.define(ParamKind::Group, "targetLandmarks")?.label("Landmark keyframes")?;
    for i in 0..68 {
        let d = p.define(ParamKind::Double2D, &lm_name(i))?;
        d.label(&format!("Landmark {i}"))?
            .hint("Target landmark (iBUG 300-W order), canonical coordinates: full-resolution pixels, origin bottom-left. Used when Drive mode is Keyframes; a landmark left at (0, 0) follows the portrait's own, so only the points that move need keys.")?
            .xy_absolute_canonical()?
            .default_doubles(&[0.0, 0.0])?
            .animates(true)?
            .parent("targetLandmarks")?;
    }
    Ok(())
}

/// Label, range and hint of each expression control, in the order of
/// [`crate::expressions::NAMES`].
const EXPRESSION_UI: [(&str, f64, f64, &str); crate::expressions::COUNT] = [
    ("Jaw open", 0.0, 1.0, "0…1: 1 drops the chin by half the eye distance, the lower lip with it."),
    ("Smile", -1.0, 1.0, "−1…1: 1 lifts the mouth corners by 0.12 and moves them out by 0.10 eye distances; negative turns them down."),
    ("Mouth wide", -1.0, 1.0, "−1…1: 1 moves each mouth corner out by 0.15 eye distances; negative narrows."),
    ("Pucker", 0.0, 1.0, "0…1: draws the lips towards the mouth centre (35 % across, 20 % up and down)."),
    ("Blink left", 0.0, 1.0, "0…1: the subject's left upper lid onto the lower lid (1: closed)."),
    ("Blink right", 0.0, 1.0, "0…1: the subject's right upper lid onto the lower lid (1: closed)."),
    ("Brow raise left", -1.0, 1.0, "−1…1: the subject's left brow up by 0.15 eye distances (negative: down)."),
    ("Brow raise right", -1.0, 1.0, "−1…1: the subject's right brow up by 0.15 eye distances (negative: down)."),
    ("Brow furrow", 0.0, 1.0, "0…1: inner brow ends together by 0.08 and down by 0.06 eye distances."),
    ("Head yaw", -30.0, 30.0, "Degrees: turn towards the subject's left (positive) or right (a 2-D approximation with a generic face depth)."),
    ("Head pitch", -30.0, 30.0, "Degrees: nod down (positive) or up (a 2-D approximation)."),
    ("Head roll", -45.0, 45.0, "Degrees: tilt counter-clockwise on screen (positive) or clockwise."),
    ("Gaze X", -40.0, 40.0, "Degrees: the eyes look towards the subject's own left (positive; the image's right in a frontal portrait) or right (negative). The iris moves inside the eye opening, the lids stay; added to the gaze a track or the Driver carries."),
    ("Gaze Y", -30.0, 30.0, "Degrees: the eyes look up (positive) or down (negative). Added to the gaze a track or the Driver carries."),
    ("Eye wide left", 0.0, 1.0, "0…1: the subject's left upper lid raised by up to 40 % of the eye's opening (more of the eyeball shows; the iris keeps its size)."),
    ("Eye wide right", 0.0, 1.0, "0…1: the subject's right upper lid raised by up to 40 % of the eye's opening."),
];

/// The `outputMode` option at `time`.
pub fn output_mode(p: &ParamSet, time: f64) -> Result<OutputMode> {
    Ok(match p.choice(OUTPUT_MODE)?.value_at(time)? {
        1 => OutputMode::Crop,
        2 => OutputMode::Matte,
        _ => OutputMode::Full,
    })
}

/// The `workingResolution` option at `time`, in pixels.
pub fn working_resolution(p: &ParamSet, time: f64) -> Result<usize> {
    Ok(match p.choice(WORKING_RESOLUTION)?.value_at(time)? {
        0 => 256,
        2 => 1024,
        _ => 512,
    })
}

/// The `device` option at `time`.
pub fn device(p: &ParamSet, time: f64) -> Result<crate::inference::Device> {
    Ok(match p.choice(DEVICE)?.value_at(time)? {
        1 => crate::inference::Device::Gpu,
        2 => crate::inference::Device::Cpu,
        _ => crate::inference::Device::Auto,
    })
}

/// Everything a render reads from the parameters at its time.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub drive: DriveMode,
    pub track_file: String,
    pub track_frame_offset: i32,
    pub relative: bool,
    pub motion_reference_frame: i32,
    pub resolution: usize,
    pub output: OutputMode,
    pub feather: f64,
    pub use_segmentation: bool,
    pub device: crate::inference::Device,
    pub reference_first: i32,
    pub reference_last: i32,
    /// Which face to animate: 0 the largest, n the n-th from the left.
    pub face_index: u32,
    /// Override of the portrait's landmarks (canonical, y up), when on.
    pub source_override: Option<[[f64; 2]; 68]>,
    /// Keyframed targets at this time (canonical, y up), when any is set.
    pub keyframes: Option<[[f64; 2]; 68]>,
    /// Interpolate over track frames without a face (else hold).
    pub interpolate_missing: bool,
    /// One Euro smoothing, when on.
    pub smoothing: Option<crate::smoothing::OneEuro>,
    /// The expression controls at this time.
    pub expressions: crate::expressions::Expressions,
    /// Generator pack folder (None: the built-in warp).
    pub model_pack: Option<std::path::PathBuf>,
    /// Take the gaze a track carries.
    pub gaze_from_track: bool,
}

fn points(set: &ParamSet, name: fn(usize) -> String, time: f64) -> Result<Option<[[f64; 2]; 68]>> {
    let mut out = [[0.0; 2]; 68];
    let mut any = false;
    for (i, o) in out.iter_mut().enumerate() {
        let (x, y) = set.double2d(&name(i))?.value_at(time)?;
        any |= x != 0.0 || y != 0.0;
        *o = [x, y];
    }
    Ok(any.then_some(out))
}

impl Settings {
    /// Read the parameters at `time`.
    pub fn read(effect: &EffectHandle, time: f64) -> Result<Settings> {
        let p = effect.params()?;
        let drive = match p.choice(DRIVE_MODE)?.value_at(time)? {
            0 => DriveMode::Keyframes,
            2 => DriveMode::Driver,
            3 => DriveMode::Expressions,
            _ => DriveMode::TrackFile,
        };
        let mut ex = [0.0; crate::expressions::COUNT];
        for (v, name) in ex.iter_mut().zip(crate::expressions::NAMES) {
            *v = p.double(name)?.value_at(time)?;
        }
        let smoothing = if p.boolean(SMOOTH)?.value_at(time)? {
            Some(crate::smoothing::OneEuro {
                min_cutoff: p.double(SMOOTH_MIN_CUTOFF)?.value_at(time)?,
                beta: p.double(SMOOTH_BETA)?.value_at(time)?,
                d_cutoff: 1.0,
            })
        } else {
            None
        };
        let output = output_mode(&p, time)?;
        let resolution = working_resolution(&p, time)?;
        let device = device(&p, time)?;
        let override_on = p.boolean(OVERRIDE_SOURCE)?.value_at(time)?;
        Ok(Settings {
            drive,
            track_file: p.string(TRACK_FILE)?.value_at(time)?,
            track_frame_offset: p.int(TRACK_FRAME_OFFSET)?.value_at(time)?,
            relative: p.choice(MOTION)?.value_at(time)? == 0,
            motion_reference_frame: p.int(MOTION_REFERENCE_FRAME)?.value_at(time)?,
            resolution,
            output,
            feather: p.double(FEATHER)?.value_at(time)?.max(0.0),
            use_segmentation: p.boolean(USE_SEGMENTATION)?.value_at(time)?,
            device,
            reference_first: p.int(REFERENCE_FIRST)?.value_at(time)?,
            reference_last: p.int(REFERENCE_LAST)?.value_at(time)?,
            face_index: p.int(FACE_INDEX)?.value_at(time)?.clamp(0, MAX_FACE_INDEX) as u32,
            source_override: if override_on { points(&p, src_lm_name, time)? } else { None },
            keyframes: if drive == DriveMode::Keyframes { points(&p, lm_name, time)? } else { None },
            interpolate_missing: p.choice(MISSING_FRAMES)?.value_at(time)? == 1,
            gaze_from_track: p.boolean(GAZE_FROM_TRACK)?.value_at(time)?,
            smoothing,
            expressions: crate::expressions::Expressions::from_values(ex),
            model_pack: Some(p.string(MODEL_PACK)?.value_at(time)?).filter(|s| !s.trim().is_empty()).map(|s| s.trim().into()),
        })
    }
}
