//! The output stage of `ofx-render`: a [`FrameWriter`] takes rendered frames
//! and encodes and writes them on its own threads while the next frames
//! render. Frames wait in a bounded queue, so at most a fixed number are in
//! memory at once and a renderer faster than the disk simply waits. Each file
//! is written through [`imageio::save`] (temporary name, then rename). The
//! first failure (bad folder, full disk) is kept: the next [`submit`] returns
//! it, which stops the render, and [`finish`] returns it after every queued
//! frame has been dealt with, so a run either writes every frame or ends with
//! an error sentence naming the file that failed.
//!
//! [`submit`]: FrameWriter::submit
//! [`finish`]: FrameWriter::finish

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::error::{HostError, HostResult};
use super::image::{Depth, HostImage};
use super::imageio::{self, Compression, FileFormat};

/// Where and how frames are written.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSpec {
    /// A file name, or a pattern with `%04d` (see [`FramePattern`](super::cli::FramePattern)).
    pub pattern: String,
    /// The depth the plugin renders (the format decides what is stored).
    pub depth: Depth,
    /// Fast or small files.
    pub compression: Compression,
}

impl OutputSpec {
    /// The file of `frame`.
    pub fn path_of(&self, frame: i32) -> PathBuf {
        match super::cli::FramePattern::parse(&self.pattern) {
            Some(p) => PathBuf::from(p.format(frame)),
            None => PathBuf::from(&self.pattern),
        }
    }

    /// Checks that the extension names a format that can be written.
    pub fn check(&self) -> HostResult<FileFormat> {
        FileFormat::from_path(std::path::Path::new(&self.pattern))
    }
}

/// State shared by the writer threads.
struct Shared {
    spec: OutputSpec,
    queue: Mutex<Receiver<(i32, HostImage)>>,
    failure: Mutex<Option<HostError>>,
    written: AtomicUsize,
}

/// Writes frames on background threads; see the module documentation.
pub struct FrameWriter {
    sender: Option<SyncSender<(i32, HostImage)>>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl FrameWriter {
    /// Starts `threads` writer threads (at least one) behind a queue of
    /// `queued` frames; an output whose extension no format matches is
    /// refused here, before anything renders.
    pub fn new(spec: OutputSpec, threads: usize, queued: usize) -> HostResult<FrameWriter> {
        spec.check()?;
        let (sender, receiver) = sync_channel(queued);
        let shared = Arc::new(Shared {
            spec,
            queue: Mutex::new(receiver),
            failure: Mutex::new(None),
            written: AtomicUsize::new(0),
        });
        let threads = (0..threads.max(1))
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || write_frames(&shared))
            })
            .collect();
        Ok(FrameWriter { sender: Some(sender), shared, threads })
    }

    /// Queues a frame, waiting while the queue is full. Returns the first
    /// failure of a writer thread so far, if any, without queueing.
    pub fn submit(&self, frame: i32, img: HostImage) -> HostResult<()> {
        if let Some(e) = self.shared.failure.lock().clone() {
            return Err(e);
        }
        let sender = self.sender.as_ref().ok_or_else(stopped)?;
        sender.send((frame, img)).map_err(|_| stopped())
    }

    /// Waits until every queued frame is written; returns how many files were
    /// written, or the first failure.
    pub fn finish(mut self) -> HostResult<usize> {
        self.join()?;
        if let Some(e) = self.shared.failure.lock().take() {
            return Err(e);
        }
        Ok(self.shared.written.load(Ordering::SeqCst))
    }

    /// Closes the queue and waits for the threads.
    fn join(&mut self) -> HostResult<()> {
        drop(self.sender.take());
        let mut panicked = false;
        for t in self.threads.drain(..) {
            panicked |= t.join().is_err();
        }
        if panicked {
            return Err(stopped());
        }
        Ok(())
    }
}

impl Drop for FrameWriter {
    /// Frames already queued are still written when a render stops early.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

fn stopped() -> HostError {
    HostError::Other("A frame writer thread stopped on an internal error (a panic); see the message above".into())
}

/// One writer thread: takes frames until the queue closes. After a failure
/// the remaining frames are taken and dropped, so the renderer never blocks.
fn write_frames(shared: &Shared) {
    loop {
        // The lock is held only while waiting for the next frame, not while writing.
        let Ok((frame, img)) = shared.queue.lock().recv() else { return };
        if shared.failure.lock().is_some() {
            continue;
        }
        let spec = &shared.spec;
        match imageio::save(&img, &spec.path_of(frame), spec.depth, spec.compression) {
            Ok(()) => {
                shared.written.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                shared.failure.lock().get_or_insert(e);
            }
        }
    }
}
