//! Installing and uninstalling a bundle in an OFX plugin folder. `install` copies the bundle into a hidden
//! staging folder inside the destination, writes `Contents/Resources/install-manifest.txt` listing every file
//! and folder it put there (with SHA-256 and size), and renames it into place; an earlier installation of
//! ours is removed first, while a same-named folder without our manifest is never touched. `uninstall` reads
//! the manifest and removes exactly those entries, leaving anything a user added, so it can be trusted even
//! in a shared system folder.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::sha256::file_hex_digest;
use crate::util::{copy_tree, list_dirs, list_files, TempDir};
use crate::{InstallError, BUNDLE_NAME, PLUGIN_ID, VERSION};

/// File name of the manifest.
pub const MANIFEST_NAME: &str = "install-manifest.txt";
/// Where the manifest lives, relative to the bundle folder. Inside the bundle, so it travels with it and an
/// installed bundle is recognisable as ours by its presence.
pub(crate) const MANIFEST_REL: &str = "Contents/Resources/install-manifest.txt";

/// What `install` did.
#[derive(Debug, Clone)]
pub struct InstallReport {
    /// The installed bundle folder.
    pub bundle: PathBuf,
    /// Its manifest.
    pub manifest: PathBuf,
    /// Number of files written (the manifest included).
    pub files: usize,
    /// An earlier installation of ours was replaced.
    pub replaced: bool,
}

/// What `uninstall` did.
#[derive(Debug, Clone, Default)]
pub struct UninstallReport {
    /// False when there was no bundle to remove.
    pub was_installed: bool,
    pub removed_files: usize,
    pub removed_dirs: usize,
    /// Files found inside the bundle folder that the manifest does not list; they were left in place (and with
    /// them the folders that hold them).
    pub left: Vec<PathBuf>,
}

fn not_writable_or_io(dir: &Path, what: String, e: io::Error) -> InstallError {
    if matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    ) {
        InstallError::NotWritable {
            dir: dir.to_path_buf(),
            source: e,
        }
    } else {
        InstallError::io(what, e)
    }
}

/// Checks, without leaving anything behind, that `prefix` can be installed into: a probe folder is created
/// and removed in `prefix`, or in its nearest existing ancestor when `prefix` does not exist yet. The CLI calls
/// it before building so that a system install without rights fails in a second, not after a build.
pub fn check_writable(prefix: &Path) -> Result<(), InstallError> {
    let prefix = absolute(prefix)?;
    let mut probe_in = prefix.as_path();
    while !probe_in.exists() {
        probe_in = probe_in.parent().unwrap_or(Path::new("/"));
    }
    if !probe_in.is_dir() {
        return Err(InstallError::NotWritable {
            dir: prefix.clone(),
            source: io::Error::other(format!("{} is not a folder", probe_in.display())),
        });
    }
    TempDir::new_in(probe_in, ".living-portrait-write-test")
        .map(drop)
        .map_err(|e| InstallError::NotWritable {
            dir: prefix.clone(),
            source: e,
        })
}

fn absolute(path: &Path) -> Result<PathBuf, InstallError> {
    std::path::absolute(path)
        .map_err(|e| InstallError::io(format!("resolve {}", path.display()), e))
}

/// Manifest paths are stored with `/`, relative to the install folder.
fn rel_to_manifest(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A manifest path is accepted only if it stays inside our bundle folder: no absolute paths, no `..`.
fn manifest_to_rel(text: &str) -> Option<PathBuf> {
    let path: PathBuf = text.split('/').collect();
    let mut comps = path.components();
    if comps.next() != Some(Component::Normal(BUNDLE_NAME.as_ref())) {
        return None;
    }
    if comps.all(|c| matches!(c, Component::Normal(_))) {
        Some(path)
    } else {
        None
    }
}

#[derive(Default)]
struct Manifest {
    created: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse_manifest(path: &Path) -> Result<Manifest, InstallError> {
    let text = fs::read_to_string(path)
        .map_err(|e| InstallError::io(format!("read {}", path.display()), e))?;
    let bad = |line: &str| {
        InstallError::msg(format!(
            "the install manifest {} has an entry that points outside the bundle ({line:?}); nothing was removed",
            path.display()
        ))
    };
    let mut m = Manifest::default();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        match kind {
            "created-dir" => m.created.push(PathBuf::from(rest)),
            "dir" => m.dirs.push(manifest_to_rel(rest).ok_or_else(|| bad(line))?),
            "file" => {
                // file <sha256> <size> <path>: the path is last so it may contain spaces.
                let path = rest.splitn(3, ' ').nth(2).ok_or_else(|| bad(line))?;
                m.files
                    .push(manifest_to_rel(path).ok_or_else(|| bad(line))?);
            }
            _ => {}
        }
    }
    Ok(m)
}

/// Installs `bundle` (a `LivingPortrait.ofx.bundle` folder) into the plugin folder `prefix`, creating it if
/// needed, and returns what was done. See the module docs for the replacement rules.
pub fn install(bundle: &Path, prefix: &Path) -> Result<InstallReport, InstallError> {
    if !bundle.join("Contents").join("Info.plist").is_file() {
        return Err(InstallError::msg(format!(
            "{} is not a plugin bundle (it has no Contents/Info.plist); build one with `installer bundle`",
            bundle.display()
        )));
    }
    let prefix = absolute(prefix)?;
    // Remember which folders above the bundle this install creates, so uninstall can remove them again.
    let mut created = Vec::new();
    let mut p = prefix.as_path();
    while !p.exists() {
        created.push(p.to_path_buf());
        match p.parent() {
            Some(parent) => p = parent,
            None => break,
        }
    }
    // Any failure to create the plugin folder is reported with the --prefix / OFX_PLUGIN_PATH advice.
    fs::create_dir_all(&prefix).map_err(|e| InstallError::NotWritable {
        dir: prefix.clone(),
        source: e,
    })?;

    let dest = prefix.join(BUNDLE_NAME);
    let existing = fs::symlink_metadata(&dest).is_ok();
    if existing && !dest.join(MANIFEST_REL).is_file() {
        return Err(InstallError::Foreign { path: dest });
    }

    let staging = TempDir::new_in(&prefix, &format!(".{BUNDLE_NAME}.installing"))
        .map_err(|e| not_writable_or_io(&prefix, format!("write into {}", prefix.display()), e))?;
    copy_tree(bundle, staging.path()).map_err(|e| {
        not_writable_or_io(
            &prefix,
            format!("copy {} into {}", bundle.display(), prefix.display()),
            e,
        )
    })?;
    // A bundle copied from another installation brings that installation's manifest; ours replaces it.
    let staged_manifest = staging.path().join(MANIFEST_REL);
    let _ = fs::remove_file(&staged_manifest);

    if existing {
        // Keep the record of folders the first installation created, so the last uninstall still removes them.
        if let Ok(old) = parse_manifest(&dest.join(MANIFEST_REL)) {
            for dir in old.created {
                if !created.contains(&dir) {
                    created.push(dir);
                }
            }
        }
    }

    let bundle_rel = Path::new(BUNDLE_NAME);
    let mut text = String::new();
    text.push_str("# Living Portrait install manifest: written by `installer install`, read by `installer uninstall`,\n");
    text.push_str("# which removes exactly the files and folders listed here and nothing else.\n");
    text.push_str("# Paths are relative to the plugin folder named by `installed-into`.\n");
    text.push_str("format 1\n");
    text.push_str(&format!("plugin {PLUGIN_ID} {VERSION}\n"));
    text.push_str(&format!("installed-into {}\n", prefix.display()));
    for dir in &created {
        text.push_str(&format!("created-dir {}\n", dir.display()));
    }
    text.push_str(&format!("dir {BUNDLE_NAME}\n"));
    let dirs =
        list_dirs(staging.path()).map_err(|e| InstallError::io("list the staged bundle", e))?;
    for dir in &dirs {
        text.push_str(&format!("dir {}\n", rel_to_manifest(&bundle_rel.join(dir))));
    }
    let files =
        list_files(staging.path()).map_err(|e| InstallError::io("list the staged bundle", e))?;
    for file in &files {
        let full = staging.path().join(file);
        let sha = file_hex_digest(&full)
            .map_err(|e| InstallError::io(format!("read {}", full.display()), e))?;
        let size = fs::metadata(&full).map(|m| m.len()).unwrap_or(0);
        text.push_str(&format!(
            "file {sha} {size} {}\n",
            rel_to_manifest(&bundle_rel.join(file))
        ));
    }
    text.push_str(&format!(
        "file - - {}\n",
        rel_to_manifest(&bundle_rel.join(MANIFEST_REL))
    ));
    fs::write(&staged_manifest, text)
        .map_err(|e| not_writable_or_io(&prefix, "write the install manifest".into(), e))?;

    if existing {
        let report = uninstall(&prefix)?;
        if fs::symlink_metadata(&dest).is_ok() {
            return Err(InstallError::msg(format!(
                "the earlier installation in {} was removed, but the folder still holds files the installer did not \
                 put there ({}); move them away and run install again",
                dest.display(),
                report.left.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let staged = staging.disarm();
    fs::rename(&staged, &dest).map_err(|e| {
        let _ = fs::remove_dir_all(&staged);
        InstallError::io(format!("move the staged bundle to {}", dest.display()), e)
    })?;
    Ok(InstallReport {
        manifest: dest.join(MANIFEST_REL),
        bundle: dest,
        files: files.len() + 1,
        replaced: existing,
    })
}

/// Removes the installation of ours from the plugin folder `prefix`: exactly the files and folders its
/// manifest lists (folders only when empty), then the folders above it that the install created, if empty.
pub fn uninstall(prefix: &Path) -> Result<UninstallReport, InstallError> {
    let prefix = absolute(prefix)?;
    let dest = prefix.join(BUNDLE_NAME);
    if fs::symlink_metadata(&dest).is_err() {
        return Ok(UninstallReport::default());
    }
    let manifest_path = dest.join(MANIFEST_REL);
    if !manifest_path.is_file() {
        return Err(InstallError::Foreign { path: dest });
    }
    let manifest = parse_manifest(&manifest_path)?;
    let mut report = UninstallReport {
        was_installed: true,
        ..Default::default()
    };
    let manifest_rel = Path::new(BUNDLE_NAME).join(MANIFEST_REL);
    // The manifest goes last, so an interrupted uninstall can be run again.
    let mut files = manifest.files.clone();
    files.sort_by_key(|f| *f == manifest_rel);
    for rel in &files {
        let path = prefix.join(rel);
        match fs::symlink_metadata(&path) {
            Ok(meta) if !meta.is_dir() => {
                fs::remove_file(&path).map_err(|e| {
                    not_writable_or_io(&prefix, format!("remove {}", path.display()), e)
                })?;
                report.removed_files += 1;
            }
            _ => {}
        }
    }
    let mut dirs = manifest.dirs.clone();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for rel in &dirs {
        if fs::remove_dir(prefix.join(rel)).is_ok() {
            report.removed_dirs += 1;
        }
    }
    if dest.exists() {
        report.left = list_files(&dest)
            .unwrap_or_default()
            .into_iter()
            .map(|f| dest.join(f))
            .collect();
    }
    // Folders above the bundle that the install created: only ancestors of (or equal to) this prefix, and
    // only when empty, deepest first.
    let mut created: Vec<_> = manifest
        .created
        .iter()
        .filter(|d| prefix.starts_with(d))
        .collect();
    created.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in created {
        let _ = fs::remove_dir(dir);
    }
    Ok(report)
}
