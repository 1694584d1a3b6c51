//! File-system helpers shared by bundling and installing: a self-cleaning temporary folder, recursive copies
//! that refuse to follow links out of a tree, and the "build beside, then rename into place" step that keeps a
//! failed run from ever leaving half a bundle where a host would look for one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique within this process and across concurrent processes (pid + counter + time).
pub fn unique_suffix() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{}-{:x}", std::process::id(), n, t)
}

/// A temporary folder removed on drop. Tests use it, and so does assembly (for the staging folder) so that an
/// early return through `?` cleans up after itself.
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// A new folder under the system temporary directory.
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        Self::new_in(&std::env::temp_dir(), prefix)
    }

    /// A new folder inside `parent`; staging folders live beside their destination so the final rename stays
    /// on one file system and is atomic.
    pub fn new_in(parent: &Path, prefix: &str) -> io::Result<TempDir> {
        let path = parent.join(format!("{prefix}-{}", unique_suffix()));
        fs::create_dir_all(&path)?;
        Ok(TempDir { path, keep: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the drop from deleting the folder (after it was renamed into place, the path is gone anyway).
    pub fn disarm(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Copies a regular file, creating the parent folders, and keeps the permission bits (libraries stay
/// executable).
pub fn copy_file(from: &Path, to: &Path) -> io::Result<u64> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::copy(from, to)
}

/// Hard-links `from` at `to` (replacing a file there), or copies it where the file system cannot link.
pub fn link_or_copy_file(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    let _ = fs::remove_file(to);
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(_) => fs::copy(from, to).map(|_| ()),
    }
}

/// Recursively copies the contents of `from` into `to`. Symbolic links are refused rather than followed:
/// a resource folder must not smuggle files from elsewhere into a bundle. Hidden files (`.gitkeep`,
/// `.DS_Store`) are skipped.
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    let mut entries: Vec<_> = fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let src = entry.path();
        let meta = fs::symlink_metadata(&src)?;
        let dst = to.join(&name);
        if meta.file_type().is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; resource folders must hold real files",
                    src.display()
                ),
            ));
        } else if meta.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            copy_file(&src, &dst)?;
        }
    }
    Ok(())
}

/// Like [`copy_tree`], but only the files for which `keep(relative path)` is
/// true (folders are created as needed; folders with nothing kept are not).
pub fn copy_tree_filtered(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) -> io::Result<()> {
    for rel in list_files(from)? {
        if rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')) || !keep(&rel) {
            continue;
        }
        let src = from.join(&rel);
        if fs::symlink_metadata(&src)?.file_type().is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is a symbolic link; resource folders must hold real files", src.display()),
            ));
        }
        let dst = to.join(&rel);
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent)?;
        }
        copy_file(&src, &dst)?;
    }
    Ok(())
}

/// Every file (not folder) under `root`, as paths relative to `root`, sorted; links are reported as files.
pub fn list_files(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        let mut entries: Vec<_> = fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let r = rel.join(e.file_name());
            if e.file_type()?.is_dir() {
                walk(root, &r, out)?;
            } else {
                out.push(r);
            }
        }
        Ok(())
    }
    walk(root, Path::new(""), &mut out)?;
    Ok(out)
}

/// Every folder under `root` (not `root` itself), relative to `root`, parents before children.
pub fn list_dirs(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        let mut entries: Vec<_> = fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_type()?.is_dir() {
                let r = rel.join(e.file_name());
                out.push(r.clone());
                walk(root, &r, out)?;
            }
        }
        Ok(())
    }
    walk(root, Path::new(""), &mut out)?;
    Ok(out)
}

/// Moves a fully assembled `staged` folder to `dest`. An existing `dest` is first renamed aside and only
/// deleted once the new one is in place, so at every moment `dest` is either the old or the new complete
/// folder (two renames on one file system; there is no portable atomic exchange).
pub fn replace_dir(staged: &Path, dest: &Path) -> io::Result<()> {
    if fs::symlink_metadata(dest).is_ok() {
        let parent = dest.parent().unwrap_or(Path::new("."));
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let old = parent.join(format!(".{name}.old-{}", unique_suffix()));
        fs::rename(dest, &old)?;
        if let Err(e) = fs::rename(staged, dest) {
            // Put the old one back rather than leave nothing.
            let _ = fs::rename(&old, dest);
            return Err(e);
        }
        let _ = fs::remove_dir_all(&old);
        Ok(())
    } else {
        fs::rename(staged, dest)
    }
}
