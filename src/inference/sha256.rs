//! SHA-256 for verifying model files against their `SHA256SUMS` and pack
//! manifests, on the `sha2` crate.

use sha2::{Digest, Sha256};

/// SHA-256 of `data`.
pub fn digest(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 of `data` as lower-case hex (the form `sha256sum` writes).
pub fn hex_digest(data: &[u8]) -> String {
    digest(data).iter().map(|b| format!("{b:02x}")).collect()
}
