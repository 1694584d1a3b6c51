//! The `installer` command line (`cargo run --release -p installer -- <command>`): `bundle`, `install`,
//! `uninstall`, `demo` and `paths`, each a thin layer over the `installer` library. Arguments are parsed by
//! clap from the structs below (so every subcommand has `--help`); every failure prints one sentence from the
//! library and exits with 1, usage errors exit with 2 (clap's code for them).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args as ClapArgs, Parser, Subcommand};
use installer::{
    build_bundle, cargo_build, check_writable, exe_suffix, install, render_demo, system_plugin_dir,
    target_dir, uninstall, workspace_root, BundleOptions, DemoOptions, InstallError, Profile,
    ALL_PLATFORMS, BUNDLE_NAME, ORT_WHEEL_ENV,
};

const ENVIRONMENT: &str = "\
environment:
  LIVING_PORTRAIT_ORT_WHEEL  the pinned ONNX Runtime wheel (or a folder holding it) for offline machines
  LIVING_PORTRAIT_PYTHON     the Python used for `pip download` (default python3, then python)
  CARGO_TARGET_DIR           cargo's target folder (bundle output, binaries, ONNX Runtime cache)
  CARGO                      the cargo used to build (default: cargo)";

/// Bundles, installs and uninstalls the Living Portrait OFX plugin, and renders its demo.
#[derive(Parser)]
#[command(name = "installer", after_help = ENVIRONMENT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the plugin and assemble DIR/LivingPortrait.ofx.bundle (DIR defaults to the target folder).
    #[command(after_help = ENVIRONMENT)]
    Bundle {
        /// Ship the CUDA build of ONNX Runtime (onnxruntime-gpu) instead of the CPU one.
        #[arg(long)]
        gpu: bool,
        #[command(flatten)]
        build: Build,
        /// The folder to create the bundle in.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Check the model pack folder P and copy it beside the built-in one, under its folder name (the name the
        /// node's Model pack parameter selects it by); repeatable.
        #[arg(long = "pack", value_name = "P")]
        packs: Vec<PathBuf>,
    },
    /// Bundle, then install into the system OFX folder (default) or into DIR.
    ///
    /// --from installs an existing bundle as it is (no build, no assembly); --demo renders the demo through
    /// the installed bundle afterwards.
    #[command(after_help = ENVIRONMENT)]
    Install {
        #[command(flatten)]
        place: Place,
        /// Ship the CUDA build of ONNX Runtime (onnxruntime-gpu) instead of the CPU one.
        #[arg(long)]
        gpu: bool,
        #[command(flatten)]
        build: Build,
        /// Install the bundle folder B (e.g. target/LivingPortrait.ofx.bundle) instead of building one.
        #[arg(long, value_name = "B")]
        from: Option<PathBuf>,
        /// Render the demo through the installed bundle afterwards.
        #[arg(long)]
        demo: bool,
        /// Check the model pack folder P and install it beside the built-in one, under its folder name (the name
        /// the node's Model pack parameter selects it by); repeatable. Builds a new bundle (not with --from).
        #[arg(long = "pack", value_name = "P", conflicts_with = "from")]
        packs: Vec<PathBuf>,
    },
    /// Remove exactly what install put there (as listed in its install manifest).
    Uninstall {
        #[command(flatten)]
        place: Place,
    },
    /// Render the demo into ./demo with an installed bundle.
    ///
    /// Without --system or --prefix, the target folder's bundle is used when it exists, else the system one.
    Demo {
        #[command(flatten)]
        place: Place,
        #[command(flatten)]
        build: Build,
    },
    /// Print the standard OFX plugin folders of Linux, macOS and Windows.
    Paths,
}

/// Where the bundle is installed: the system folder or a prefix of the user's own.
#[derive(ClapArgs)]
struct Place {
    /// The platform's system plugin folder (the default for install/uninstall).
    #[arg(long, conflicts_with = "prefix")]
    system: bool,
    /// A plugin folder of your own; hosts find it when DIR is in OFX_PLUGIN_PATH.
    #[arg(long, value_name = "DIR")]
    prefix: Option<PathBuf>,
}

/// Which binaries to use and whether to build them first.
#[derive(ClapArgs)]
struct Build {
    /// Use the debug profile instead of release.
    #[arg(long)]
    debug: bool,
    /// Do not run cargo build; use the binaries already in the target folder.
    #[arg(long)]
    no_build: bool,
}

impl Build {
    fn profile(&self) -> Profile {
        if self.debug {
            Profile::Debug
        } else {
            Profile::Release
        }
    }
}

fn bundle_opts(gpu: bool, build: &Build, out: Option<PathBuf>, packs: Vec<PathBuf>) -> BundleOptions {
    BundleOptions {
        packs,
        profile: build.profile(),
        gpu,
        out_dir: out.unwrap_or_else(target_dir),
        build: !build.no_build,
        ..Default::default()
    }
}

fn demo(plugin_dir: PathBuf, profile: Profile) -> Result<(), InstallError> {
    let opts = DemoOptions {
        plugin_dir,
        renderer: target_dir()
            .join(profile.dir_name())
            .join(format!("ofx-render{}", exe_suffix())),
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

fn run(command: Command) -> Result<(), InstallError> {
    match command {
        Command::Bundle { gpu, build, out, packs } => {
            let bundle = build_bundle(&bundle_opts(gpu, &build, out, packs))?;
            println!("bundle: {}", bundle.display());
            println!(
                "(try it without installing: OFX_PLUGIN_PATH={} <host>)",
                bundle.parent().unwrap_or(&bundle).display()
            );
        }
        Command::Install {
            place,
            gpu,
            build,
            from,
            demo: with_demo,
            packs,
        } => {
            let prefix = place.prefix.clone().unwrap_or_else(system_plugin_dir);
            // Fail before a long build when the destination cannot be written.
            check_writable(&prefix)?;
            let bundle = match from {
                Some(b) => b,
                None => build_bundle(&bundle_opts(gpu, &build, None, packs))?,
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
            if place.prefix.is_some() {
                println!(
                    "hosts find it when {} is in OFX_PLUGIN_PATH",
                    prefix.display()
                );
            }
            if with_demo {
                demo(prefix, build.profile())?;
            }
        }
        Command::Uninstall { place } => {
            let prefix = place.prefix.unwrap_or_else(system_plugin_dir);
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
        Command::Demo { place, build } => {
            if !build.no_build {
                cargo_build(build.profile(), &["ofx"])?;
            }
            let plugin_dir = match (place.prefix, place.system) {
                (Some(p), _) => p,
                (None, true) => system_plugin_dir(),
                (None, false) if target_dir().join(BUNDLE_NAME).is_dir() => target_dir(),
                (None, false) => system_plugin_dir(),
            };
            demo(plugin_dir, build.profile())?;
        }
        Command::Paths => {
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
    }
    Ok(())
}

fn main() -> ExitCode {
    // Usage errors (and a missing command) print clap's message with the usage and exit with 2; `--help`
    // and `help` print to stdout and exit with 0.
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("installer: {e}");
            ExitCode::FAILURE
        }
    }
}
