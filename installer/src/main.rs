//! The `installer` command line (`cargo run --release -p installer -- <command>`): `bundle`, `install`,
//! `uninstall`, `demo` and `paths`, each a thin layer over the `installer` library. Arguments are parsed by
//! hand because there are few of them; every failure prints one sentence from the library and exits with 1,
//! usage errors exit with 2.

use std::path::PathBuf;
use std::process::ExitCode;

use installer::{
    build_bundle, cargo_build, check_writable, exe_suffix, install, render_demo, system_plugin_dir,
    target_dir, uninstall, workspace_root, BundleOptions, DemoOptions, InstallError, Profile,
    ALL_PLATFORMS, BUNDLE_NAME, ORT_WHEEL_ENV,
};

const USAGE: &str = "\
usage: installer <command> [options]

commands:
  bundle [--gpu] [--debug] [--no-build] [--out DIR]
        build the plugin and assemble DIR/LivingPortrait.ofx.bundle (DIR defaults to the target folder)
  install [--system | --prefix DIR] [--gpu] [--debug] [--no-build] [--from BUNDLE] [--demo]
        bundle, then install into the system OFX folder (default) or into DIR; --from installs an
        existing bundle as it is (no build, no assembly); --demo renders the demo through the
        installed bundle afterwards
  uninstall [--system | --prefix DIR]
        remove exactly what install put there (as listed in its install manifest)
  demo [--system | --prefix DIR] [--debug] [--no-build]
        render the demo into ./demo with an installed bundle (or the target folder's bundle when no
        folder is named and it exists)
  paths
        print the standard OFX plugin folders of Linux, macOS and Windows

options:
  --gpu        ship the CUDA build of ONNX Runtime (onnxruntime-gpu) instead of the CPU one
  --debug      use the debug profile instead of release
  --no-build   do not run cargo build; use the binaries already in the target folder
  --system     the platform's system plugin folder (the default for install/uninstall)
  --prefix DIR a plugin folder of your own; hosts find it when DIR is in OFX_PLUGIN_PATH
  --from B     install the bundle folder B (e.g. target/LivingPortrait.ofx.bundle) instead of building one

environment:
  LIVING_PORTRAIT_ORT_WHEEL  the pinned ONNX Runtime wheel (or a folder holding it) for offline machines
  LIVING_PORTRAIT_PYTHON     the Python used for `pip download` (default python3, then python)
  CARGO_TARGET_DIR           cargo's target folder (bundle output, binaries, ONNX Runtime cache)
  CARGO                      the cargo used to build (default: cargo)";

#[derive(Default)]
struct Args {
    gpu: bool,
    debug: bool,
    no_build: bool,
    system: bool,
    demo: bool,
    prefix: Option<PathBuf>,
    out: Option<PathBuf>,
    from: Option<PathBuf>,
}

fn parse(command: &str, rest: &[String]) -> Result<Args, String> {
    let allowed: &[&str] = match command {
        "bundle" => &["--gpu", "--debug", "--no-build", "--out"],
        "install" => &[
            "--system",
            "--prefix",
            "--gpu",
            "--debug",
            "--no-build",
            "--demo",
            "--from",
        ],
        "uninstall" => &["--system", "--prefix"],
        "demo" => &["--system", "--prefix", "--debug", "--no-build"],
        "paths" => &[],
        _ => return Err(format!("unknown command {command:?}")),
    };
    let mut args = Args::default();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        // Accept both `--prefix DIR` and `--prefix=DIR`.
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        if !allowed.contains(&flag) {
            return Err(format!("{command} does not take {a:?}"));
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--gpu" => args.gpu = true,
            "--debug" => args.debug = true,
            "--no-build" => args.no_build = true,
            "--system" => args.system = true,
            "--demo" => args.demo = true,
            "--prefix" => args.prefix = Some(PathBuf::from(value()?)),
            "--out" => args.out = Some(PathBuf::from(value()?)),
            "--from" => args.from = Some(PathBuf::from(value()?)),
            _ => unreachable!(),
        }
    }
    if args.system && args.prefix.is_some() {
        return Err("--system and --prefix exclude each other".into());
    }
    Ok(args)
}

fn profile(args: &Args) -> Profile {
    if args.debug {
        Profile::Debug
    } else {
        Profile::Release
    }
}

fn bundle_opts(args: &Args) -> BundleOptions {
    BundleOptions {
        profile: profile(args),
        gpu: args.gpu,
        out_dir: args.out.clone().unwrap_or_else(target_dir),
        build: !args.no_build,
        ..Default::default()
    }
}

fn renderer(args: &Args) -> PathBuf {
    target_dir()
        .join(profile(args).dir_name())
        .join(format!("ofx-render{}", exe_suffix()))
}

fn demo(plugin_dir: PathBuf, args: &Args) -> Result<(), InstallError> {
    let opts = DemoOptions {
        plugin_dir,
        renderer: renderer(args),
        workspace: workspace_root(),
        out_dir: PathBuf::from("demo"),
    };
    let gif = render_demo(&opts)?;
    let frames = gif
        .parent()
        .map(|d| d.join("frame_%04d.png"))
        .unwrap_or_default();
    println!("demo frames: {}", frames.display());
    println!("preview:     {}", gif.display());
    Ok(())
}

fn run(command: &str, args: &Args) -> Result<(), InstallError> {
    match command {
        "bundle" => {
            let bundle = build_bundle(&bundle_opts(args))?;
            println!("bundle: {}", bundle.display());
            println!(
                "(try it without installing: OFX_PLUGIN_PATH={} <host>)",
                bundle.parent().unwrap_or(&bundle).display()
            );
        }
        "install" => {
            let prefix = args.prefix.clone().unwrap_or_else(system_plugin_dir);
            // Fail before a long build when the destination cannot be written.
            check_writable(&prefix)?;
            let bundle = match &args.from {
                Some(b) => b.clone(),
                None => build_bundle(&bundle_opts(args))?,
            };
            let report = install(&bundle, &prefix)?;
            println!(
                "{} {} ({} files); manifest: {}",
                if report.replaced {
                    "replaced the earlier installation at"
                } else {
                    "installed"
                },
                report.bundle.display(),
                report.files,
                report.manifest.display()
            );
            if args.prefix.is_some() {
                println!(
                    "hosts find it when {} is in OFX_PLUGIN_PATH",
                    prefix.display()
                );
            }
            if args.demo {
                demo(prefix, args)?;
            }
        }
        "uninstall" => {
            let prefix = args.prefix.clone().unwrap_or_else(system_plugin_dir);
            let report = uninstall(&prefix)?;
            if !report.was_installed {
                println!(
                    "nothing to uninstall: there is no {BUNDLE_NAME} in {}",
                    prefix.display()
                );
            } else {
                println!(
                    "removed {} files and {} folders from {}",
                    report.removed_files,
                    report.removed_dirs,
                    prefix.join(BUNDLE_NAME).display()
                );
                if !report.left.is_empty() {
                    println!("left in place (not installed by us):");
                    for f in &report.left {
                        println!("  {}", f.display());
                    }
                }
            }
        }
        "demo" => {
            if !args.no_build {
                cargo_build(profile(args), &["ofx"])?;
            }
            let plugin_dir = match (&args.prefix, args.system) {
                (Some(p), _) => p.clone(),
                (None, true) => system_plugin_dir(),
                (None, false) if target_dir().join(BUNDLE_NAME).is_dir() => target_dir(),
                (None, false) => system_plugin_dir(),
            };
            demo(plugin_dir, args)?;
        }
        "paths" => {
            println!("standard OFX plugin folders (bundle: {BUNDLE_NAME}/Contents/<arch>/LivingPortrait.ofx):");
            for p in &ALL_PLATFORMS {
                println!(
                    "  {:8} {:45} arch folder {:13} (binary built as {})",
                    p.os, p.system_dir, p.arch_dir, p.binary_from
                );
            }
            println!(
                "this platform: {} (arch folder {})",
                system_plugin_dir().display(),
                installer::arch_dir()
            );
            match std::env::var_os("OFX_PLUGIN_PATH") {
                Some(v) => println!("OFX_PLUGIN_PATH: {}", v.to_string_lossy()),
                None => println!("OFX_PLUGIN_PATH: (not set) extra folders hosts search, separated by ':' (';' on Windows)"),
            }
            println!(
                "ONNX Runtime cache: {} (offline: set {ORT_WHEEL_ENV})",
                target_dir().join("onnxruntime-cache").display()
            );
        }
        _ => unreachable!("checked by parse"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = argv.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if matches!(command.as_str(), "help" | "--help" | "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse(command, &argv[1..]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("installer: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(command, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("installer: {e}");
            ExitCode::FAILURE
        }
    }
}
