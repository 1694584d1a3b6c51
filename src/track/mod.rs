//! Landmark tracks in one place: the motion that drives a portrait, 68 iBUG points per frame. `format` is the
//! project's own versioned JSON track (`LandmarkTrack`, its schema and its reader and writer); `import` reads the
//! other tools' formats (OpenFace 2.x CSV, iBUG `.pts` files, MediaPipe 468-point JSON), detects which one a file
//! holds by its content, and turns each into a `LandmarkTrack`. Sampling a track at a frame (holding or
//! interpolating over frames without a face) belongs to the render, which owns those settings.

pub mod format;
pub mod import;

pub use format::{LandmarkTrack, TrackError, TrackFrame, MAX_TRACK_BYTES};
pub use import::{load_track, parse_track_bytes, track_stamp, TrackLoadError};
