//! Model integrity: before a model reaches ONNX Runtime its bytes are read once (refusing anything larger than a
//! model we could ship), hashed with SHA-256 and compared with the line for that file in the `SHA256SUMS` that
//! sits in the same folder (the format `sha256sum` writes). The verified bytes are what the sessions are built
//! from, so the file cannot change between the check and the load. A damaged, truncated or swapped file gives an
//! error naming it instead of a crash or, worse, plausible-looking wrong landmarks.

use std::path::Path;

use super::sha256::hex_digest;
use super::InferenceError;

/// The largest model file accepted (512 MiB). Our face models are under 3 MB and the generator packs far below
/// this; the bound keeps a wrong path (a video, a disk image) from being read into memory.
pub const MAX_MODEL_BYTES: u64 = 512 * 1024 * 1024;

/// Name of the checksum list beside the models.
const SUMS_FILE: &str = "SHA256SUMS";
/// The checksum list is a few lines; anything much larger is not one.
const MAX_SUMS_BYTES: u64 = 1024 * 1024;

/// Reads `path`, checks its size and its SHA-256 against `SHA256SUMS` in the same folder, and returns the bytes.
pub fn verify_model_file(path: &Path) -> Result<Vec<u8>, InferenceError> {
    check_model_file(path)?;
    let expected = expected_digest(path)?;
    let bytes = read_model(path)?;
    let actual = hex_digest(&bytes);
    if actual != expected {
        return Err(InferenceError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected,
            actual,
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// Reads `path`, checks its size and that its SHA-256 is `expected` (64 hex digits, either case), and returns the
/// bytes. For models whose digest comes from elsewhere than a `SHA256SUMS` beside them (a generator pack's
/// manifest); the bytes returned are the ones hashed, as with `verify_model_file`.
pub fn verify_model_digest(path: &Path, expected: &str) -> Result<Vec<u8>, InferenceError> {
    let expected = expected.trim().to_ascii_lowercase();
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(InferenceError::ChecksumUnknown {
            path: path.to_path_buf(),
            reason: format!("the expected digest '{expected}' is not 64 hexadecimal digits"),
        });
    }
    check_model_file(path)?;
    let bytes = read_model(path)?;
    let actual = hex_digest(&bytes);
    if actual != expected {
        return Err(InferenceError::DigestMismatch {
            path: path.to_path_buf(),
            expected,
            actual,
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// The model file exists, is a file, and is not larger than any model we could ship.
fn check_model_file(path: &Path) -> Result<(), InferenceError> {
    use crate::files::FileError;
    let meta = match crate::files::regular_file_metadata(path) {
        Ok(m) => m,
        Err(FileError::Missing { .. }) => return Err(InferenceError::ModelMissing { path: path.to_path_buf() }),
        Err(e) => {
            return Err(InferenceError::ModelUnreadable { path: path.to_path_buf(), reason: format!("it {}", e.reason()) })
        }
    };
    if meta.len() > MAX_MODEL_BYTES {
        return Err(InferenceError::ModelTooLarge { path: path.to_path_buf(), size: meta.len() });
    }
    Ok(())
}

/// The model's bytes, bounded (the file could grow between the check and the read).
fn read_model(path: &Path) -> Result<Vec<u8>, InferenceError> {
    read_bounded(path, MAX_MODEL_BYTES).map_err(|reason| InferenceError::ModelUnreadable { path: path.to_path_buf(), reason })
}

/// The digest `SHA256SUMS` lists for the file's name.
fn expected_digest(path: &Path) -> Result<String, InferenceError> {
    let unknown = |reason: String| InferenceError::ChecksumUnknown { path: path.to_path_buf(), reason };
    let dir = path.parent().unwrap_or(Path::new("."));
    let sums_path = dir.join(SUMS_FILE);
    let name =
        path.file_name().and_then(|n| n.to_str()).ok_or_else(|| unknown("its name is not valid UTF-8".into()))?;
    let bytes = read_bounded(&sums_path, MAX_SUMS_BYTES)
        .map_err(|e| unknown(format!("{} could not be read ({e})", sums_path.display())))?;
    let text = String::from_utf8(bytes).map_err(|_| unknown(format!("{} is not text", sums_path.display())))?;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // "<64 hex>  name" (text mode) or "<64 hex> *name" (binary mode).
        let Some((digest, rest)) = line.split_once(char::is_whitespace) else { continue };
        let listed = rest.trim_start().trim_start_matches('*');
        if listed == name {
            let digest = digest.to_ascii_lowercase();
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(unknown(format!("its line in {} is not a SHA-256 digest", sums_path.display())));
            }
            return Ok(digest);
        }
    }
    Err(unknown(format!("{} does not list {name}", sums_path.display())))
}

/// Reads a whole file through the one bounded reader (`crate::files`): links resolved, only regular files, at
/// most `limit` bytes actually read.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    crate::files::read_bounded(path, limit).map_err(|e| format!("it {}", e.reason()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("lp-integrity-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn good_bad_and_unlisted_files() {
        let dir = temp_dir("basic");
        std::fs::write(dir.join("a.onnx"), b"abc").unwrap();
        std::fs::write(dir.join("b.onnx"), b"abd").unwrap();
        std::fs::write(dir.join("c.onnx"), b"x").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        std::fs::write(dir.join(SUMS_FILE), format!("{abc}  a.onnx\n{abc} *b.onnx\n")).unwrap();
        assert_eq!(verify_model_file(&dir.join("a.onnx")).unwrap(), b"abc");
        let err = verify_model_file(&dir.join("b.onnx")).unwrap_err();
        assert!(matches!(err, InferenceError::ChecksumMismatch { .. }), "{err}");
        assert!(err.to_string().contains("b.onnx"));
        let err = verify_model_file(&dir.join("c.onnx")).unwrap_err();
        assert!(err.to_string().contains("does not list c.onnx"), "{err}");
        let err = verify_model_file(&dir.join("d.onnx")).unwrap_err();
        assert!(matches!(err, InferenceError::ModelMissing { .. }), "{err}");
        assert_eq!(verify_model_digest(&dir.join("a.onnx"), &abc.to_uppercase()).unwrap(), b"abc");
        let err = verify_model_digest(&dir.join("b.onnx"), abc).unwrap_err();
        assert!(matches!(err, InferenceError::DigestMismatch { .. }), "{err}");
        let err = verify_model_digest(&dir.join("a.onnx"), "abc").unwrap_err();
        assert!(matches!(err, InferenceError::ChecksumUnknown { .. }), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
