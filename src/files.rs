//! Reading user-named files without letting one hang or exhaust the plugin. Every file the plugin and its CLI
//! read (tracks, `.pts` folders, pack manifests, ONNX models, `SHA256SUMS`, images) goes through [`read_bounded`]
//! or [`list_dir`]: symbolic links are resolved first, anything that is not a regular file (a named pipe, a
//! device such as `/dev/zero`, a socket, a folder) is refused with a sentence naming the path and what it is, the
//! file is opened non-blocking on Unix (so a path swapped for a named pipe between the check and the open cannot
//! block the render) and checked again once open, and the read stops one byte past the limit, so the bound holds
//! on the bytes actually read, whatever size the file system reports. Folder listings stop at a fixed count.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Most entries [`list_dir`] reads from one folder.
pub const MAX_DIR_ENTRIES: usize = 100_000;

/// Why a file could not be read. The `Display` text is a clause that names the path ("… is a named pipe (FIFO),
/// not a regular file"), for callers to put in their sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// Nothing exists at the path (or a symbolic link points nowhere).
    Missing { path: PathBuf },
    /// The path resolves to something other than a regular file: `what` says what ("a named pipe (FIFO)").
    NotAFile { path: PathBuf, what: &'static str },
    /// A folder was expected; `what` says what the path is ("a regular file").
    NotAFolder { path: PathBuf, what: &'static str },
    /// More bytes than the limit could be read.
    TooLarge { path: PathBuf, limit: u64 },
    /// A folder holds more than [`MAX_DIR_ENTRIES`] entries.
    TooManyEntries { path: PathBuf, limit: usize },
    /// The system refused to open or read it.
    Io { path: PathBuf, reason: String },
}

impl FileError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Missing { path }
            | FileError::NotAFile { path, .. }
            | FileError::NotAFolder { path, .. }
            | FileError::TooLarge { path, .. }
            | FileError::TooManyEntries { path, .. }
            | FileError::Io { path, .. } => path,
        }
    }
}

impl FileError {
    /// What is wrong, without the path, as the rest of a sentence about the file: "is a device, not a regular
    /// file", "does not exist".
    pub fn reason(&self) -> String {
        match self {
            FileError::Missing { .. } => "does not exist".into(),
            FileError::NotAFile { what, .. } => format!("is {what}, not a regular file"),
            FileError::NotAFolder { what, .. } => format!("is {what}, not a folder"),
            FileError::TooLarge { limit, .. } => format!("is larger than {limit} bytes, the most accepted for it"),
            FileError::TooManyEntries { limit, .. } => format!("holds more than {limit} entries"),
            FileError::Io { reason, .. } => format!("cannot be read ({reason})"),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path().display(), self.reason())
    }
}

impl std::error::Error for FileError {}

/// What a non-regular file is, in words.
fn kind_of(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a file")
}

fn io_error(path: &Path, e: std::io::Error) -> FileError {
    if e.kind() == std::io::ErrorKind::NotFound {
        FileError::Missing { path: path.to_path_buf() }
    } else {
        FileError::Io { path: path.to_path_buf(), reason: e.to_string() }
    }
}

/// Metadata of a path with links followed, refusing anything but a regular file.
pub fn regular_file_metadata(path: &Path) -> Result<Metadata, FileError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    match kind_of(&meta) {
        None => Ok(meta),
        Some(what) => Err(FileError::NotAFile { path: path.to_path_buf(), what }),
    }
}

/// Opens a regular file for reading: never blocks on a named pipe, and re-checks the type of what was opened.
fn open_regular(path: &Path) -> Result<File, FileError> {
    regular_file_metadata(path)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK on Linux: opening a FIFO then returns at once instead of waiting for a writer. It has no
        // effect on reads of a regular file, which is all this function goes on to read.
        const O_NONBLOCK: i32 = 0o4000;
        options.custom_flags(O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if let Some(what) = kind_of(&meta) {
        return Err(FileError::NotAFile { path: path.to_path_buf(), what });
    }
    Ok(file)
}

/// Reads a whole regular file of at most `limit` bytes (links followed). More bytes than `limit` is an error,
/// decided on the bytes read, never on the size the file system reports.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path)?;
    let hint = file.metadata().map(|m| m.len().min(limit)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| io_error(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { path: path.to_path_buf(), limit });
    }
    Ok(bytes)
}

/// The paths in a folder (links followed for the folder itself), unsorted; at most [`MAX_DIR_ENTRIES`].
pub fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, FileError> {
    let meta = std::fs::metadata(dir).map_err(|e| io_error(dir, e))?;
    if !meta.is_dir() {
        let what = kind_of(&meta).unwrap_or("a regular file");
        return Err(FileError::NotAFolder { path: dir.to_path_buf(), what });
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let Ok(entry) = entry else { continue };
        if out.len() == MAX_DIR_ENTRIES {
            return Err(FileError::TooManyEntries { path: dir.to_path_buf(), limit: MAX_DIR_ENTRIES });
        }
        out.push(entry.path());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_on_bytes_read_and_only_regular_files_are_read() {
        let dir = std::env::temp_dir().join(format!("lp-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.txt");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_bounded(&f, 5).unwrap(), b"12345");
        assert_eq!(read_bounded(&f, 4).unwrap_err(), FileError::TooLarge { path: f.clone(), limit: 4 });
        assert!(matches!(read_bounded(&dir, 10).unwrap_err(), FileError::NotAFile { what: "a folder", .. }));
        assert!(matches!(read_bounded(&dir.join("none"), 10).unwrap_err(), FileError::Missing { .. }));
        #[cfg(unix)]
        {
            let zero = dir.join("zero.pts");
            std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
            let e = read_bounded(&zero, 10).unwrap_err();
            assert_eq!(e.to_string(), format!("{} is a device, not a regular file", zero.display()));
        }
        assert_eq!(list_dir(&dir).unwrap().len(), if cfg!(unix) { 2 } else { 1 });
        std::fs::remove_dir_all(&dir).ok();
    }
}
