//! Licence notices of the Rust crates compiled into the shipped binaries, the plugin (`living-portrait`) and
//! the headless host `ofx-render` (package `ofx`). Most are MIT, BSD or Apache-2.0, which all require their
//! notices to travel with binary copies, so the bundle gets `Resources/licenses/rust-crates/`: a `CRATES.txt`
//! list (name, version, declared licence) and each crate's own LICENSE/COPYING/NOTICE files copied from its
//! source folder. The crates come from Cargo's resolved dependency graph (`cargo metadata` for this platform),
//! walked from the two shipped packages along normal dependencies only; build dependencies, dev-dependencies,
//! proc macros (which run in the compiler and ship nothing) and our own workspace members (covered by our
//! LICENSE) are left out. Cargo resolves features once for the whole workspace, so the list may hold a few
//! crates that only another package's features pull in: an extra notice is harmless, a missing one is not.
//! Done at bundle time, so the list follows whatever the binaries depend on today.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, Package, PackageId, TargetKind};

use crate::util::copy_file;
use crate::InstallError;

/// The workspace packages whose binaries ship: the plugin and the package of `ofx-render`.
pub const SHIPPED_PACKAGES: [&str; 2] = ["living-portrait", "ofx"];

/// One crate compiled into a shipped binary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShippedCrate {
    pub name: String,
    pub version: String,
    /// The manifest's licence expression (or `license-file` note, or "unknown").
    pub license: String,
    /// The folder holding the crate's sources (and its licence files).
    pub source_dir: std::path::PathBuf,
    /// The manifest's `license-file`, when it names one.
    pub license_file: Option<std::path::PathBuf>,
    pub authors: Vec<String>,
    pub repository: Option<String>,
}

impl ShippedCrate {
    /// The crate's folder name in the bundle, `<name>-<version>`.
    pub fn folder(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }
}

/// The host's target triple from `rustc -vV`, so that the graph holds only this platform's dependencies.
fn host_triple() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|t| t.trim().to_string())
}

/// Runs `cargo metadata` in `workspace` for this platform and returns the crates the shipped binaries contain.
pub fn shipped_crates_of_workspace(workspace: &Path) -> Result<Vec<ShippedCrate>, InstallError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = MetadataCommand::new();
    cmd.cargo_path(cargo).current_dir(workspace);
    cmd.manifest_path(workspace.join("Cargo.toml"));
    if let Some(triple) = host_triple() {
        cmd.other_options(vec!["--filter-platform".to_string(), triple]);
    }
    let metadata = cmd.exec().map_err(|e| {
        InstallError::msg(format!(
            "could not run cargo metadata to list the crates in the plugin and ofx-render: {e}"
        ))
    })?;
    shipped_crates(&metadata, &SHIPPED_PACKAGES)
}

/// The crates reachable from the workspace packages named in `roots` along normal (not build, not dev)
/// dependencies, without proc macros (and what only they use) and without workspace members, sorted.
pub fn shipped_crates(
    metadata: &Metadata,
    roots: &[&str],
) -> Result<Vec<ShippedCrate>, InstallError> {
    let resolve = metadata.resolve.as_ref().ok_or_else(|| {
        InstallError::msg(
            "cargo metadata returned no dependency graph (was it run with --no-deps?)",
        )
    })?;
    let packages: BTreeMap<&PackageId, &Package> =
        metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let nodes: BTreeMap<&PackageId, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let is_proc_macro = |p: &Package| p.targets.iter().any(|t| t.is_kind(TargetKind::ProcMacro));
    let mut stack = Vec::new();
    for root in roots {
        let id = metadata
            .workspace_members
            .iter()
            .find(|id| packages.get(id).is_some_and(|p| p.name.as_str() == *root))
            .ok_or_else(|| {
                InstallError::msg(format!("the workspace has no package named {root}"))
            })?;
        stack.push(id);
    }
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(node) = nodes.get(id) else { continue };
        for dep in &node.deps {
            let normal = dep.dep_kinds.is_empty()
                || dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind == DependencyKind::Normal);
            if normal && packages.get(&dep.pkg).is_some_and(|p| !is_proc_macro(p)) {
                stack.push(&dep.pkg);
            }
        }
    }
    let mut crates: Vec<ShippedCrate> = seen
        .into_iter()
        .filter(|id| !metadata.workspace_members.contains(id))
        .filter_map(|id| packages.get(id))
        .map(|p| {
            let source_dir = p
                .manifest_path
                .parent()
                .map(|d| d.as_std_path().to_path_buf())
                .unwrap_or_default();
            ShippedCrate {
                name: p.name.to_string(),
                version: p.version.to_string(),
                license: match (&p.license, &p.license_file) {
                    (Some(l), _) => l.clone(),
                    (None, Some(f)) => format!("see {f}"),
                    (None, None) => "unknown".into(),
                },
                license_file: p
                    .license_file
                    .as_ref()
                    .map(|f| source_dir.join(f.as_std_path())),
                source_dir,
                authors: p.authors.clone(),
                repository: p.repository.clone(),
            }
        })
        .collect();
    crates.sort();
    Ok(crates)
}

/// Whether a file name is a licence or notice file (LICENSE*, LICENCE*, COPYING*, NOTICE*, COPYRIGHT*,
/// UNLICENSE*), in any case.
pub fn is_notice_file(name: &str) -> bool {
    let upper = name.to_uppercase();
    [
        "LICENSE",
        "LICENCE",
        "COPYING",
        "NOTICE",
        "COPYRIGHT",
        "UNLICENSE",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
}

/// Writes the notices into `dest`; returns how many crates were listed.
pub fn collect_crate_licenses(workspace: &Path, dest: &Path) -> Result<usize, InstallError> {
    let crates = shipped_crates_of_workspace(workspace)?;
    let mut list = String::from(
        "Rust crates compiled into LivingPortrait.ofx and ofx-render (cargo metadata: their normal dependencies,\n\
         without proc macros; features are resolved for the whole workspace, so a few may be unused).\n\
         Each crate's licence and notice files are in the folder of the same name.\n\n",
    );
    for krate in &crates {
        let folder = dest.join(krate.folder());
        let mut files: Vec<_> = fs::read_dir(&krate.source_dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files.retain(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| is_notice_file(&n.to_string_lossy()))
        });
        // A `license-file` with another name (e.g. `docs/legal.txt`) counts too.
        if let Some(f) = krate
            .license_file
            .as_ref()
            .filter(|f| f.is_file() && !files.contains(f))
        {
            files.push(f.clone());
        }
        for f in &files {
            let name = f.file_name().expect("listed files have names");
            copy_file(f, &folder.join(name))
                .map_err(|e| InstallError::io(format!("copy {}", f.display()), e))?;
        }
        let mut note = "";
        if files.is_empty() {
            // Some crates publish no licence file; record what their manifest declares (licence, authors,
            // repository) so the notice at least names the licence and its holders.
            note = "  (the crate ships no licence file; DECLARED.txt has its manifest's licence and authors)";
            let text = format!(
                "{} {}: declared licence {}\nauthors: {}\nrepository: {}\n",
                krate.name,
                krate.version,
                krate.license,
                if krate.authors.is_empty() {
                    "(none declared)".to_string()
                } else {
                    krate.authors.join(", ")
                },
                krate.repository.as_deref().unwrap_or("(none declared)")
            );
            let path = folder.join("DECLARED.txt");
            fs::create_dir_all(&folder)
                .and_then(|_| fs::write(&path, text))
                .map_err(|e| InstallError::io(format!("write {}", path.display()), e))?;
        }
        list.push_str(&format!(
            "{} {}  {}{note}\n",
            krate.name, krate.version, krate.license
        ));
    }
    fs::create_dir_all(dest)
        .map_err(|e| InstallError::io(format!("create {}", dest.display()), e))?;
    fs::write(dest.join("CRATES.txt"), list)
        .map_err(|e| InstallError::io("write CRATES.txt", e))?;
    Ok(crates.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::TempDir;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// A crate outside the workspace folder (so not a member) with `extra` manifest lines and files.
    fn dep_crate(root: &Path, name: &str, extra: &str, files: &[(&str, &str)]) {
        let dir = root.join("deps").join(name);
        write(
            &dir.join("Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n{extra}"),
        );
        write(&dir.join("src/lib.rs"), "");
        for (f, text) in files {
            write(&dir.join(f), text);
        }
    }

    /// The graph walk on a workspace of its own (path dependencies only, so cargo needs no network):
    /// plugin -> a -> c, plugin -> pm (proc macro) -> f, plugin builds with b, tests with d; ofx -> e.
    #[test]
    fn only_normal_non_proc_macro_dependencies_of_the_shipped_packages_are_listed() {
        let tmp = TempDir::new("crate-licenses").unwrap();
        let root = tmp.path();
        dep_crate(
            root,
            "a",
            "[dependencies]\nc = { path = \"../c\" }\n",
            &[("LICENSE-MIT", "a's MIT")],
        );
        dep_crate(
            root,
            "c",
            "",
            &[("COPYING", "c's notice"), ("README.md", "not a licence")],
        );
        dep_crate(
            root,
            "e",
            "license-file = \"legal/terms.txt\"\n",
            &[("legal/terms.txt", "e's terms")],
        );
        dep_crate(root, "b", "", &[]);
        dep_crate(root, "d", "", &[]);
        dep_crate(root, "f", "", &[]);
        dep_crate(
            root,
            "pm",
            "[lib]\nproc-macro = true\n[dependencies]\nf = { path = \"../f\" }\n",
            &[],
        );
        dep_crate(root, "z", "", &[]);
        let ws = root.join("ws");
        write(
            &ws.join("Cargo.toml"),
            "[workspace]\nmembers = [\"plugin\", \"ofx\", \"tool\"]\nresolver = \"2\"\n",
        );
        write(
            &ws.join("plugin/Cargo.toml"),
            "[package]\nname = \"living-portrait\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\
             [dependencies]\na = { path = \"../../deps/a\" }\npm = { path = \"../../deps/pm\" }\n\
             [build-dependencies]\nb = { path = \"../../deps/b\" }\n\
             [dev-dependencies]\nd = { path = \"../../deps/d\" }\n",
        );
        write(&ws.join("plugin/src/lib.rs"), "");
        write(
            &ws.join("ofx/Cargo.toml"),
            "[package]\nname = \"ofx\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\
             [dependencies]\ne = { path = \"../../deps/e\" }\nliving-portrait = { path = \"../plugin\" }\n",
        );
        write(&ws.join("ofx/src/lib.rs"), "");
        // A workspace member that ships nothing: its dependency z must not be listed.
        write(
            &ws.join("tool/Cargo.toml"),
            "[package]\nname = \"tool\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\
             [dependencies]\nz = { path = \"../../deps/z\" }\n",
        );
        write(&ws.join("tool/src/lib.rs"), "");

        let crates = shipped_crates_of_workspace(&ws).unwrap();
        let names: Vec<&str> = crates.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "e"]);

        let dest = root.join("out");
        assert_eq!(collect_crate_licenses(&ws, &dest).unwrap(), 3);
        assert_eq!(
            fs::read_to_string(dest.join("a-0.1.0/LICENSE-MIT")).unwrap(),
            "a's MIT"
        );
        assert_eq!(
            fs::read_to_string(dest.join("c-0.1.0/COPYING")).unwrap(),
            "c's notice"
        );
        assert!(!dest.join("c-0.1.0/README.md").exists());
        assert_eq!(
            fs::read_to_string(dest.join("e-0.1.0/terms.txt")).unwrap(),
            "e's terms"
        );
        let list = fs::read_to_string(dest.join("CRATES.txt")).unwrap();
        assert!(
            list.contains("a 0.1.0  MIT\n") && !list.contains("living-portrait"),
            "{list}"
        );
    }

    #[test]
    fn notice_files_are_recognised_by_name() {
        for (name, is) in [
            ("LICENSE", true),
            ("license-apache", true),
            ("LICENCE.md", true),
            ("COPYING", true),
            ("NOTICE", true),
            ("UNLICENSE", true),
            ("README.md", false),
            ("Cargo.toml", false),
        ] {
            assert_eq!(is_notice_file(name), is, "{name}");
        }
    }
}
