//! Model packs the user brings (`bundle --pack DIR`, `install --pack DIR`): a pack folder is checked before a
//! byte is copied (its `manifest.json` is a Living Portrait pack manifest, every model it names is a plain file
//! inside the folder with the size and SHA-256 the manifest gives), then its manifest, models and notices are
//! copied into the bundle's `Resources/models/<folder name>/`, where the node's `modelPack` parameter finds it
//! by that name. The plugin checks the pack again, fully (tensor names and shapes against the models), when the
//! node first uses it; this early check keeps a damaged download out of a bundle.

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::sha256::file_hex_digest;
use crate::InstallError;

/// The manifest's `format`.
const PACK_FORMAT: &str = "living-portrait-pack";
/// The manifest versions the plugin reads.
const PACK_VERSIONS: std::ops::RangeInclusive<u64> = 1..=2;
/// The largest manifest accepted.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// Names the plugin's own model folders use; a pack may not take them.
const RESERVED: [&str; 4] = ["warp", "fewshot_test", "liveportrait", "liveportrait_test"];

/// A pack folder that passed the installer's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPack {
    /// The folder's name: the name `modelPack` selects it by.
    pub name: String,
    /// The manifest's `kind`.
    pub kind: String,
    /// Random-weight test models (`test_only`): the plugin refuses them unless told otherwise.
    pub test_only: bool,
    /// The files to copy, relative to the folder: the manifest, the models, the notices.
    pub files: Vec<PathBuf>,
}

fn refuse(dir: &Path, why: impl std::fmt::Display) -> InstallError {
    InstallError::msg(format!("the model pack {} cannot be installed: {why}", dir.display()))
}

/// Checks the pack folder `dir` (see the module doc).
pub fn check_pack(dir: &Path) -> Result<CheckedPack, InstallError> {
    let canonical = fs::canonicalize(dir).map_err(|e| refuse(dir, format!("the folder cannot be read ({e})")))?;
    let name = canonical.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.is_empty() || name.starts_with('.') || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(refuse(dir, format!("its folder name \"{name}\" is the pack's name and may hold only letters, digits, '.', '_' and '-'")));
    }
    if RESERVED.contains(&name.as_str()) {
        return Err(refuse(dir, format!("\"{name}\" is the name of one of the plugin's own model folders; rename the folder")));
    }
    let manifest_path = canonical.join("manifest.json");
    let meta = fs::metadata(&manifest_path).map_err(|_| refuse(dir, "it has no manifest.json"))?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(refuse(dir, format!("its manifest.json is {} bytes, more than a manifest may be", meta.len())));
    }
    let text = fs::read_to_string(&manifest_path).map_err(|e| refuse(dir, format!("manifest.json cannot be read ({e})")))?;
    let root: serde_json::Value = serde_json::from_str(&text).map_err(|e| refuse(dir, format!("manifest.json is not valid JSON ({e})")))?;
    let obj = root.as_object().ok_or_else(|| refuse(dir, "manifest.json is not a JSON object"))?;
    if obj.get("format").and_then(|v| v.as_str()) != Some(PACK_FORMAT) {
        return Err(refuse(dir, format!("manifest.json's \"format\" is not \"{PACK_FORMAT}\"")));
    }
    match obj.get("version").and_then(|v| v.as_u64()) {
        Some(v) if PACK_VERSIONS.contains(&v) => {}
        _ => return Err(refuse(dir, "manifest.json's \"version\" is not 1 or 2, the versions this plugin reads")),
    }
    let kind = obj.get("kind").and_then(|v| v.as_str()).ok_or_else(|| refuse(dir, "manifest.json has no \"kind\""))?.to_string();
    let test_only = obj.get("test_only").and_then(|v| v.as_bool()).unwrap_or(false);
    let mut files = vec![PathBuf::from("manifest.json")];
    for (role, entry) in obj {
        let Some(file) = entry.get("file").and_then(|f| f.as_str()) else { continue };
        let rel = Path::new(file);
        if file.contains('\\') || file.contains(':') || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(refuse(dir, format!("\"{role}.file\" names \"{file}\", not a plain relative path inside the folder")));
        }
        let path = fs::canonicalize(canonical.join(rel)).map_err(|_| refuse(dir, format!("{file} (the \"{role}\" model) does not exist")))?;
        if !path.starts_with(&canonical) || !path.is_file() {
            return Err(refuse(dir, format!("{file} (the \"{role}\" model) is not a file inside the folder")));
        }
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if let Some(bytes) = entry.get("bytes").and_then(|b| b.as_u64()) {
            if bytes != size {
                return Err(refuse(dir, format!("{file} has {size} bytes, but the manifest gives {bytes} (an incomplete download?)")));
            }
        }
        let want = entry.get("sha256").and_then(|s| s.as_str()).unwrap_or("").to_ascii_lowercase();
        let have = file_hex_digest(&path).map_err(|e| InstallError::io(format!("read {}", path.display()), e))?;
        if want != have {
            return Err(refuse(dir, format!("{file} has the SHA-256 {have}, but the manifest gives \"{want}\" (damaged or replaced)")));
        }
        files.push(rel.to_path_buf());
    }
    if files.len() == 1 {
        return Err(refuse(dir, "its manifest names no model file"));
    }
    // Notices and the pack's README travel with it.
    for entry in fs::read_dir(&canonical).map_err(|e| InstallError::io(format!("list {}", dir.display()), e))? {
        let entry = entry.map_err(|e| InstallError::io(format!("list {}", dir.display()), e))?;
        let upper = entry.file_name().to_string_lossy().to_ascii_uppercase();
        let notice = ["LICENSE", "LICENCE", "NOTICE", "COPYING", "README"].iter().any(|p| upper.starts_with(p));
        if notice && entry.path().is_file() {
            files.push(PathBuf::from(entry.file_name()));
        }
    }
    files.sort();
    files.dedup();
    Ok(CheckedPack { name, kind, test_only, files })
}

/// Checks the pack in `dir` and copies it into `<models>/<its name>/`; returns the folder made.
pub fn copy_pack_into(dir: &Path, models: &Path) -> Result<(CheckedPack, PathBuf), InstallError> {
    let pack = check_pack(dir)?;
    let dest = models.join(&pack.name);
    if dest.exists() {
        return Err(refuse(dir, format!("the bundle already holds a model folder named \"{}\"", pack.name)));
    }
    for rel in &pack.files {
        let to = dest.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| InstallError::io(format!("create {}", parent.display()), e))?;
        }
        crate::util::copy_file(&dir.join(rel), &to).map_err(|e| InstallError::io(format!("copy {} into the bundle", rel.display()), e))?;
    }
    Ok((pack, dest))
}
