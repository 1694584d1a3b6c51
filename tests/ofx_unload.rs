//! Regression: a host that unloads the plugin while threads that called it
//! live on. The Rust standard library inside the plugin registers thread-exit
//! destructors (pthread keys) in the plugin's own code, e.g. when threads race
//! to initialise the face models; if the library were really unmapped at
//! unload, those threads would crash the host when they exit (seen as a
//! SIGSEGV in `__nptl_deallocate_tsd` in about one run in six of
//! `tests/overlay.rs`, whose two hosts load and unload the plugin on their own
//! threads). The plugin pins itself in memory at load, so they exit cleanly.
//! The race is not forced here, so this test reproduces the crash only
//! sometimes without the pin; `tests/overlay.rs` run in a loop is the
//! reliable reproduction.

mod common;

use common::*;
use ofx::host::*;

#[test]
fn threads_that_used_an_unloaded_plugin_exit_cleanly() {
    test_env();
    let track = installer::workspace_root().join("resources/demo/track.json");
    for round in 0..6 {
        let track = track.clone();
        let worker = std::thread::spawn(move || {
            // Load, render three frames at once (the first uses of the face
            // models race, which makes the plugin's standard library set up
            // thread-exit bookkeeping on these threads), then unload — all
            // before this thread exits.
            let (host, plugin) = load(HostOptions { threads: 3, ..HostOptions::default() });
            let mut inst = instance_with(&plugin, astronaut());
            inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
            inst.set_param("trackFile", ParamValue::String(track.display().to_string())).unwrap();
            let req = RenderRequest { split_bands: 3, ..RenderRequest::default() };
            inst.render_sequence(&[1, 9, 16], 3, &req).unwrap();
            drop(inst);
            drop(plugin);
            drop(host);
        });
        worker.join().unwrap_or_else(|_| panic!("round {round}: the worker panicked"));
    }
}
