//! Keeps the plugin's own library mapped until the process exits.
//!
//! The Rust standard library inside a cdylib registers `pthread` keys with
//! destructors in that library (thread-local bookkeeping of host threads that
//! call us). If the host unloads the plugin (`dlclose`) and one of those
//! threads exits later, the C library calls a destructor whose code is gone
//! and the host crashes. So at `kOfxActionLoad` the library opens itself
//! again with `RTLD_NODELETE`: `dlclose` then never unmaps it. Hosts keep
//! plugins loaded for the whole session anyway; this only removes the crash
//! for hosts (and test harnesses) that unload and go on.

use std::path::PathBuf;

/// The file of the shared object that contains `addr`, from the process's
/// memory map (Linux).
#[cfg(target_os = "linux")]
fn mapped_file_containing(addr: usize) -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let range = parts.next()?;
        let (a, b) = range.split_once('-')?;
        let (a, b) = (usize::from_str_radix(a, 16).ok()?, usize::from_str_radix(b, 16).ok()?);
        if addr >= a && addr < b {
            // perms, offset, dev, inode, then the path (may contain spaces).
            let path: Vec<&str> = parts.skip(4).collect();
            let path = path.join(" ");
            return (!path.is_empty() && path.starts_with('/')).then(|| PathBuf::from(path));
        }
    }
    None
}

/// Pin this library in memory (once per process). Best effort: on failure the
/// plugin works as before.
pub(crate) fn pin_self() {
    static PINNED: std::sync::Once = std::sync::Once::new();
    PINNED.call_once(|| {
        #[cfg(target_os = "linux")]
        {
            // glibc's RTLD_NODELETE (dlfcn.h); libloading does not name it.
            const RTLD_NODELETE: std::ffi::c_int = 0x01000;
            let here = pin_self as *const () as usize;
            if let Some(path) = mapped_file_containing(here) {
                let flags = libloading::os::unix::RTLD_NOW | RTLD_NODELETE;
                // SAFETY: the file is this very library, already loaded and
                // initialised; opening it again only takes a reference (no
                // initialisers run twice).
                if let Ok(lib) = unsafe { libloading::os::unix::Library::open(Some(&path), flags) } {
                    // Never closed: the reference is what keeps it mapped.
                    std::mem::forget(lib);
                }
            }
        }
    });
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn finds_the_file_that_holds_this_code() {
        let p = mapped_file_containing(mapped_file_containing as *const () as usize).expect("mapped");
        assert!(p.exists());
    }
}
