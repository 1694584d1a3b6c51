//! SHA-256 digests as lower-case hex (the form `sha256sum` prints and the wheel
//! pins are written in), on the `sha2` crate, whose digests print themselves as hex.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use sha2::{Digest, Sha256};

/// SHA-256 of a byte slice, as lower-case hex.
pub fn hex_digest(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

/// SHA-256 of a file's contents, as lower-case hex, streamed (the hasher is an `io::Write`).
pub fn file_hex_digest(path: &Path) -> io::Result<String> {
    let mut h = Sha256::new();
    io::copy(&mut BufReader::new(File::open(path)?), &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // FIPS 180-4 examples.
        assert_eq!(hex_digest(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex_digest(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let dir = crate::util::TempDir::new("sha256").unwrap();
        let file = dir.path().join("abc");
        std::fs::write(&file, b"abc").unwrap();
        assert_eq!(file_hex_digest(&file).unwrap(), hex_digest(b"abc"));
    }
}
