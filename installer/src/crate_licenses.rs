//! Licence notices of the Rust crates compiled into the plugin binary. Most are MIT, BSD or Apache-2.0, which
//! all require their notices to travel with binary copies, so the bundle gets
//! `Resources/licenses/rust-crates/`: a `CRATES.txt` list (name, version, declared licence) from
//! `cargo tree -p living-portrait -e normal`, and each crate's own LICENSE/COPYING/NOTICE files copied from
//! cargo's registry sources. Done at bundle time so the list follows whatever the plugin depends on today.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::copy_file;
use crate::InstallError;

/// Writes the notices into `dest`; returns how many crates were listed.
pub fn collect_crate_licenses(workspace: &Path, dest: &Path) -> Result<usize, InstallError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(workspace)
        .args([
            "tree",
            "-p",
            "living-portrait",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}|{l}"])
        .output()
        .map_err(|e| {
            InstallError::msg(format!(
                "could not run cargo tree to list the plugin's crates: {e}"
            ))
        })?;
    if !out.status.success() {
        return Err(InstallError::msg(format!(
            "cargo tree could not list the plugin's crates: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    // Lines look like `image v0.25.10|MIT OR Apache-2.0`, with ` (*)` on repeats and `(/path)` on
    // workspace members (covered by our own LICENSE) and `(proc-macro)` on compile-time-only crates.
    let mut crates = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((pkg, license)) = line.split_once('|') else {
            continue;
        };
        let license = license.trim_end_matches(" (*)").trim();
        let pkg = pkg.trim_end_matches(" (*)").trim();
        if pkg.contains("(/") || pkg.contains("(proc-macro)") || pkg.contains(":\\") {
            continue;
        }
        let mut parts = pkg.split_whitespace();
        let (Some(name), Some(version)) = (parts.next(), parts.next()) else {
            continue;
        };
        crates.insert((
            name.to_string(),
            version.trim_start_matches('v').to_string(),
            license.to_string(),
        ));
    }

    let sources = registry_sources();
    let mut list = String::from(
        "Rust crates compiled into LivingPortrait.ofx (cargo tree -p living-portrait -e normal).\n\
         Each crate's licence and notice files are in the folder of the same name.\n\n",
    );
    for (name, version, license) in &crates {
        let folder = format!("{name}-{version}");
        let src = sources.iter().map(|s| s.join(&folder)).find(|p| p.is_dir());
        let mut copied = 0;
        if let Some(src) = &src {
            let mut entries: Vec<_> = fs::read_dir(src)
                .map(|d| d.flatten().collect())
                .unwrap_or_default();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let file_name = e.file_name().to_string_lossy().to_uppercase();
                let is_notice = [
                    "LICENSE",
                    "LICENCE",
                    "COPYING",
                    "NOTICE",
                    "COPYRIGHT",
                    "UNLICENSE",
                ]
                .iter()
                .any(|p| file_name.starts_with(p));
                if is_notice && e.path().is_file() {
                    copy_file(&e.path(), &dest.join(&folder).join(e.file_name())).map_err(
                        |err| InstallError::io(format!("copy {}", e.path().display()), err),
                    )?;
                    copied += 1;
                }
            }
        }
        let mut note = "";
        if copied == 0 {
            // Some crates publish no licence file; record what their manifest declares (licence, authors,
            // repository) so the notice at least names the licence and its holders.
            note = "  (the crate ships no licence file; DECLARED.txt has its manifest's licence and authors)";
            let manifest = src
                .as_ref()
                .and_then(|s| fs::read_to_string(s.join("Cargo.toml")).ok())
                .unwrap_or_default();
            let keys = ["name", "version", "authors", "license", "repository"];
            let mut seen = BTreeSet::new();
            let declared: String = manifest
                .lines()
                .filter(|l| {
                    let key = l.split('=').next().map(str::trim).unwrap_or("");
                    keys.contains(&key) && seen.insert(key.to_string())
                })
                .map(|l| format!("{l}\n"))
                .collect();
            let text = format!(
                "{name} {version}: declared licence {license}\n\nFrom its Cargo.toml:\n{declared}"
            );
            let path = dest.join(&folder).join("DECLARED.txt");
            fs::create_dir_all(path.parent().expect("has a parent"))
                .and_then(|_| fs::write(&path, text))
                .map_err(|e| InstallError::io(format!("write {}", path.display()), e))?;
        }
        list.push_str(&format!("{name} {version}  {license}{note}\n"));
    }
    fs::create_dir_all(dest)
        .map_err(|e| InstallError::io(format!("create {}", dest.display()), e))?;
    fs::write(dest.join("CRATES.txt"), list)
        .map_err(|e| InstallError::io("write CRATES.txt", e))?;
    Ok(crates.len())
}

/// `$CARGO_HOME/registry/src/*/`, where cargo unpacks the crates it builds.
fn registry_sources() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os(if cfg!(windows) { "USERPROFILE" } else { "HOME" })
                .map(|h| PathBuf::from(h).join(".cargo"))
        });
    let Some(home) = home else { return Vec::new() };
    fs::read_dir(home.join("registry").join("src"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}
