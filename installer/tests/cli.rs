//! The `installer` binary's command line, run as a user runs it: `--help` on the program and on every
//! subcommand, the exit codes (0 done, 1 a failure with one sentence, 2 a usage error), the `--system` /
//! `--prefix` exclusion, both `--prefix DIR` and `--prefix=DIR`, and the commands that need no build
//! (`paths`, `uninstall` and `install --from` in temporary folders).

use std::process::{Command, Output};

use installer::util::TempDir;

fn installer<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_installer"))
        .args(args)
        .output()
        .expect("the installer binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_is_on_every_subcommand() {
    let top = installer(&["--help"]);
    assert_eq!(top.status.code(), Some(0));
    let top_text = text(&top.stdout);
    for sub in ["bundle", "install", "uninstall", "demo", "paths"] {
        assert!(top_text.contains(sub), "{sub} is not listed:\n{top_text}");
        let out = installer(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{sub} --help");
        assert!(text(&out.stdout).contains("Usage: installer"), "{sub}");
        // `help <command>` says the same.
        assert_eq!(installer(&["help", sub]).stdout, out.stdout, "help {sub}");
    }
    for env in [
        "LIVING_PORTRAIT_ORT_WHEEL",
        "LIVING_PORTRAIT_PYTHON",
        "CARGO_TARGET_DIR",
    ] {
        assert!(
            top_text.contains(env),
            "{env} is not documented:\n{top_text}"
        );
    }
    let install = text(&installer(&["install", "--help"]).stdout);
    for flag in [
        "--system",
        "--prefix <DIR>",
        "--gpu",
        "--debug",
        "--no-build",
        "--from <B>",
        "--demo",
    ] {
        assert!(
            install.contains(flag),
            "install --help lacks {flag}:\n{install}"
        );
    }
    let bundle = text(&installer(&["bundle", "--help"]).stdout);
    for flag in ["--gpu", "--debug", "--no-build", "--out <DIR>"] {
        assert!(
            bundle.contains(flag),
            "bundle --help lacks {flag}:\n{bundle}"
        );
    }
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [
        &[][..] as &[&str],
        &["frob"],
        &["bundle", "--bogus"],
        &["uninstall", "--gpu"],
        &["paths", "--prefix", "x"],
        &["install", "--prefix"],
        &["uninstall", "--system", "--prefix", "x"],
    ] {
        let out = installer(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        // clap's message: the usage, or where to find it.
        let err = text(&out.stderr);
        assert!(
            err.contains("Usage:") || err.contains("try '--help'"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn uninstall_of_nothing_succeeds_with_either_prefix_form() {
    let tmp = TempDir::new("lp-cli-uninstall").unwrap();
    let dir = tmp.path().display().to_string();
    for args in [
        vec!["uninstall".to_string(), "--prefix".into(), dir.clone()],
        vec!["uninstall".to_string(), format!("--prefix={dir}")],
    ] {
        let out = installer(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with("nothing to uninstall"),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn failure_is_one_sentence_and_exit_1() {
    let tmp = TempDir::new("lp-cli-fail").unwrap();
    let from = tmp.path().join("nope");
    let prefix = tmp.path().join("plugins");
    let out = installer(&[
        "install",
        "--from",
        &from.display().to_string(),
        "--prefix",
        &prefix.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("installer: ") && err.contains("is not a plugin bundle"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn paths_lists_the_three_platforms() {
    let out = installer(&["paths"]);
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out.stdout);
    for os in ["Linux", "macOS", "Windows", "ONNX Runtime cache"] {
        assert!(s.contains(os), "{s}");
    }
}
