//! The multithread suite V1 with real threads. `multiThread` runs the
//! plugin's function on `nThreads` scoped threads (each inheriting the
//! caller's action context, so images fetched there are attributed to the
//! right action and `paramGetValue` sees the right time); called from a thread
//! it spawned itself, it runs the indices one after another on that thread, as
//! the specification allows, instead of spawning threads recursively. Mutexes
//! are recursive with an initial lock count, owned by the locking thread.
//!
//! Two more tables imitate smaller hosts ([`MultiThreadMode`](crate::host::MultiThreadMode)):
//! [`SUITE_ONE_CPU`] reports one CPU, and [`SUITE_SINGLE`] is the OpenFX
//! HostSupport library's default, which reports one CPU and runs the function
//! once, as thread 0 of 1, however many threads were asked for.

use parking_lot::{Condvar, Mutex};
use std::ffi::c_void;
use std::os::raw::{c_int, c_uint};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::ThreadId;

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::multi_thread::*;

use super::{guard, put};
use crate::host::context::{self, ActionCtx};

pub(crate) static SUITE: OfxMultiThreadSuiteV1 = OfxMultiThreadSuiteV1 {
    multiThread: Some(multi_thread),
    multiThreadNumCPUs: Some(num_cpus),
    multiThreadIndex: Some(thread_index),
    multiThreadIsSpawnedThread: Some(is_spawned),
    mutexCreate: Some(mutex_create),
    mutexDestroy: Some(mutex_destroy),
    mutexLock: Some(mutex_lock),
    mutexUnLock: Some(mutex_unlock),
    mutexTryLock: Some(mutex_try_lock),
};

/// One CPU reported; `multiThread` as in [`SUITE`].
pub(crate) static SUITE_ONE_CPU: OfxMultiThreadSuiteV1 = OfxMultiThreadSuiteV1 {
    multiThreadNumCPUs: Some(one_cpu),
    ..SUITE
};

/// HostSupport's default suite: one CPU, and one call as thread 0 of 1.
pub(crate) static SUITE_SINGLE: OfxMultiThreadSuiteV1 = OfxMultiThreadSuiteV1 {
    multiThread: Some(multi_thread_single),
    multiThreadNumCPUs: Some(one_cpu),
    ..SUITE
};

/// Thread count reported by `multiThreadNumCPUs` (0 = CPU count); set from
/// the host options.
pub(crate) static CONFIGURED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Upper bound on threads one `multiThread` call may start.
const MAX_THREADS: u32 = 256;

/// The plugin's opaque argument, shared read-only by the threads.
#[derive(Clone, Copy)]
struct SendPtr(*mut c_void);
// SAFETY: the pointer is only passed back to the plugin, which asked for it
// to be used from several threads.
unsafe impl Send for SendPtr {}
// SAFETY: see above.
unsafe impl Sync for SendPtr {}

unsafe extern "C" fn multi_thread(func: OfxThreadFunctionV1, n: c_uint, arg: *mut c_void) -> OfxStatus {
    guard(kOfxStatFailed, || {
        let Some(func) = func else {
            return kOfxStatErrBadHandle;
        };
        let n = n.clamp(1, MAX_THREADS);
        let parent = context::current().unwrap_or_default();
        let arg = SendPtr(arg);
        let run = move |i: u32| {
            let ctx = ActionCtx {
                spawned: Some((i, n)),
                ..parent
            };
            let arg = arg;
            // SAFETY: the plugin's thread function with the index, count and
            // argument it expects.
            context::with_ctx(ctx, || unsafe { func(i, n, arg.0) });
        };
        if parent.spawned.is_some() || n == 1 {
            (0..n).for_each(run);
        } else {
            std::thread::scope(|s| {
                for i in 0..n {
                    s.spawn(move || run(i));
                }
            });
        }
        kOfxStatOK
    })
}

/// Runs `func(0, 1, arg)` once on the calling thread, whatever `n` is.
unsafe extern "C" fn multi_thread_single(func: OfxThreadFunctionV1, _n: c_uint, arg: *mut c_void) -> OfxStatus {
    guard(kOfxStatFailed, || {
        let Some(func) = func else {
            return kOfxStatErrBadHandle;
        };
        let parent = context::current().unwrap_or_default();
        let ctx = ActionCtx {
            spawned: Some((0, 1)),
            ..parent
        };
        // SAFETY: the plugin's thread function with its own argument.
        context::with_ctx(ctx, || unsafe { func(0, 1, arg) });
        kOfxStatOK
    })
}

unsafe extern "C" fn one_cpu(out: *mut c_uint) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: out pointer from the plugin.
        unsafe { put(out, 1) };
        kOfxStatOK
    })
}

unsafe extern "C" fn num_cpus(out: *mut c_uint) -> OfxStatus {
    guard(kOfxStatFailed, || {
        let n = match CONFIGURED_THREADS.load(Ordering::Relaxed) {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        };
        // SAFETY: out pointer from the plugin.
        unsafe { put(out, n as c_uint) };
        kOfxStatOK
    })
}

unsafe extern "C" fn thread_index(out: *mut c_uint) -> OfxStatus {
    guard(kOfxStatFailed, || {
        let i = context::current().and_then(|c| c.spawned).map(|(i, _)| i).unwrap_or(0);
        // SAFETY: out pointer from the plugin.
        unsafe { put(out, i) };
        kOfxStatOK
    })
}

unsafe extern "C" fn is_spawned() -> c_int {
    guard(0, || context::current().and_then(|c| c.spawned).is_some() as c_int)
}

const MUTEX_MAGIC: u64 = 0x4c50_4d55_5445_5831; // "LPMUTEX1"

/// A recursive mutex usable through lock / unlock calls (no guard objects).
#[repr(C)]
struct OfxMutexObj {
    magic: u64,
    state: Mutex<(Option<ThreadId>, u32)>,
    cv: Condvar,
}

/// Validates a mutex handle.
///
/// # Safety
/// `h` must be NULL or point to at least 8 readable bytes.
unsafe fn mutex<'a>(h: OfxMutexHandle) -> Option<&'a OfxMutexObj> {
    if h.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller; only the tag is read before trusting it.
    if unsafe { std::ptr::read(h as *const u64) } != MUTEX_MAGIC {
        return None;
    }
    // SAFETY: the tag matches a live mutex created by mutex_create.
    Some(unsafe { &*(h as *const OfxMutexObj) })
}

unsafe extern "C" fn mutex_create(out: *mut OfxMutexHandle, lock_count: c_int) -> OfxStatus {
    guard(kOfxStatFailed, || {
        if out.is_null() {
            return kOfxStatErrBadHandle;
        }
        let count = lock_count.max(0) as u32;
        let owner = (count > 0).then(|| std::thread::current().id());
        let m = Box::new(OfxMutexObj {
            magic: MUTEX_MAGIC,
            state: Mutex::new((owner, count)),
            cv: Condvar::new(),
        });
        // SAFETY: non-NULL out pointer from the plugin.
        unsafe { out.write(Box::into_raw(m) as OfxMutexHandle) };
        kOfxStatOK
    })
}

unsafe extern "C" fn mutex_destroy(h: OfxMutexHandle) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        if unsafe { mutex(h) }.is_none() {
            return kOfxStatErrBadHandle;
        }
        // SAFETY: created by Box::into_raw in mutex_create and not yet freed
        // (the tag is cleared below before the memory goes).
        let mut b = unsafe { Box::from_raw(h as *mut OfxMutexObj) };
        b.magic = 0;
        drop(b);
        kOfxStatOK
    })
}

unsafe extern "C" fn mutex_lock(h: OfxMutexHandle) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        let Some(m) = (unsafe { mutex(h) }) else {
            return kOfxStatErrBadHandle;
        };
        let me = std::thread::current().id();
        let mut st = m.state.lock();
        while st.0.is_some_and(|o| o != me) {
            m.cv.wait(&mut st);
        }
        st.0 = Some(me);
        st.1 += 1;
        kOfxStatOK
    })
}

unsafe extern "C" fn mutex_unlock(h: OfxMutexHandle) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        let Some(m) = (unsafe { mutex(h) }) else {
            return kOfxStatErrBadHandle;
        };
        let me = std::thread::current().id();
        let mut st = m.state.lock();
        if st.0 != Some(me) || st.1 == 0 {
            return kOfxStatFailed;
        }
        st.1 -= 1;
        if st.1 == 0 {
            st.0 = None;
            m.cv.notify_one();
        }
        kOfxStatOK
    })
}

unsafe extern "C" fn mutex_try_lock(h: OfxMutexHandle) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        let Some(m) = (unsafe { mutex(h) }) else {
            return kOfxStatErrBadHandle;
        };
        let me = std::thread::current().id();
        let mut st = m.state.lock();
        if st.0.is_some_and(|o| o != me) {
            return kOfxStatFailed;
        }
        st.0 = Some(me);
        st.1 += 1;
        kOfxStatOK
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    unsafe extern "C" fn count(i: c_uint, n: c_uint, arg: *mut c_void) {
        // SAFETY: the test passes a pointer to an AtomicU32.
        let c = unsafe { &*(arg as *const AtomicU32) };
        assert!(i < n);
        let mut idx = 99;
        // SAFETY: valid out pointer.
        unsafe { thread_index(&mut idx) };
        assert_eq!(idx, i);
        // SAFETY: plain call.
        assert_eq!(unsafe { is_spawned() }, 1);
        c.fetch_add(1 << i, Ordering::SeqCst);
    }

    #[test]
    fn multi_thread_runs_every_index_once() {
        let c = AtomicU32::new(0);
        // SAFETY: count is a valid thread function for this argument.
        let st = unsafe { multi_thread(Some(count), 5, &c as *const _ as *mut c_void) };
        assert_eq!(st, kOfxStatOK);
        assert_eq!(c.load(Ordering::SeqCst), 0b11111);
        // SAFETY: plain call.
        assert_eq!(unsafe { is_spawned() }, 0);
    }

    #[test]
    fn single_suite_runs_thread_zero_of_one_only() {
        let c = AtomicU32::new(0);
        let f = SUITE_SINGLE.multiThread.unwrap();
        // SAFETY: count is a valid thread function for this argument.
        let st = unsafe { f(Some(count), 5, &c as *const _ as *mut c_void) };
        assert_eq!(st, kOfxStatOK);
        assert_eq!(c.load(Ordering::SeqCst), 0b1);
        let mut n = 0;
        // SAFETY: valid out pointers.
        unsafe {
            SUITE_SINGLE.multiThreadNumCPUs.unwrap()(&mut n);
            assert_eq!(n, 1);
            n = 0;
            SUITE_ONE_CPU.multiThreadNumCPUs.unwrap()(&mut n);
            assert_eq!(n, 1);
        }
    }

    #[test]
    fn mutexes_are_recursive_and_exclusive() {
        let mut h: OfxMutexHandle = std::ptr::null_mut();
        // SAFETY: valid out pointer; the handle is used only while alive.
        unsafe {
            assert_eq!(mutex_create(&mut h, 0), kOfxStatOK);
            assert_eq!(mutex_lock(h), kOfxStatOK);
            assert_eq!(mutex_try_lock(h), kOfxStatOK);
            let hh = h as usize;
            let other = std::thread::spawn(move || mutex_try_lock(hh as OfxMutexHandle)).join().unwrap();
            assert_eq!(other, kOfxStatFailed);
            assert_eq!(mutex_unlock(h), kOfxStatOK);
            assert_eq!(mutex_unlock(h), kOfxStatOK);
            assert_eq!(mutex_unlock(h), kOfxStatFailed);
            assert_eq!(mutex_destroy(h), kOfxStatOK);
        }
    }
}
