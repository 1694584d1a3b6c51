//! Per-thread "what action is running here" record of the headless host.
//! Suite functions called back by the plugin only receive handles, yet some
//! answers depend on the action in flight: `paramGetValue` returns the value at
//! the time of the action running on this thread (so concurrent renders of
//! different frames each see their own frame), fetched images are attributed to
//! the action that fetched them (leak checks), and the multithread suite must
//! know whether it runs on one of its own spawned threads. The host sets this
//! record around every call into the plugin, and the multithread suite copies it
//! into the threads it spawns.

use std::cell::Cell;

/// The context of the plugin call running on the current thread.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ActionCtx {
    /// Identifier of the instance the action runs on (0 = none / plugin level).
    pub instance: u64,
    /// Unique number of the action call (0 = none), used to attribute images.
    pub action: u64,
    /// Time of the action if it has one (render, RoD, instance changed...).
    pub time: Option<f64>,
    /// `(index, count)` when on a thread spawned by the multithread suite.
    pub spawned: Option<(u32, u32)>,
    /// Render scale of the action (render, RoD, RoI...) when it has one; input
    /// images fetched on this thread are resampled to it.
    pub render_scale: Option<f64>,
}

impl ActionCtx {
    /// The context of a new action on `instance` (a fresh action number),
    /// not on a spawned thread.
    pub fn action_on(instance: u64, time: Option<f64>, render_scale: Option<f64>) -> ActionCtx {
        ActionCtx { instance, action: next_action_id(), time, spawned: None, render_scale }
    }
}

thread_local! {
    static CTX: Cell<Option<ActionCtx>> = const { Cell::new(None) };
}

/// The context of the current thread, if a plugin call is in progress on it.
pub fn current() -> Option<ActionCtx> {
    CTX.with(|c| c.get())
}

/// Runs `f` with `ctx` installed as this thread's context, restoring the
/// previous one afterwards (also when `f` unwinds).
pub fn with_ctx<R>(ctx: ActionCtx, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<ActionCtx>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0;
            CTX.with(|c| c.set(prev));
        }
    }
    let _restore = Restore(CTX.with(|c| c.replace(Some(ctx))));
    f()
}

/// A fresh unique action number.
fn next_action_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
