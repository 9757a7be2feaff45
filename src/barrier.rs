//! Asymmetric memory barriers: a free one for the hot side, an expensive one for the rare side.
//!
//! One of the crate's few files with `unsafe` code (a system call). A store-then-load handshake
//! between two threads (Dekker's pattern) needs a full fence on both sides, which costs a locked
//! instruction on x86-64 and, worse, waits for every store still in flight, such as a store to an
//! object whose cache line another core holds. When one side runs per object and the other once
//! in a pool's life, Linux's `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` lets the rare side
//! pay for both: it makes every running thread of the process execute a full barrier, so the hot
//! side only has to keep the compiler from reordering. This is the technique of Folly's
//! `asymmetricHeavyBarrier` and liburcu's `urcu-memb` flavour.
//!
//! Where `membarrier` is unavailable (another OS, an old kernel, a seccomp filter, valgrind,
//! miri, loom), both sides fall back to a real `SeqCst` fence: slower, equally correct. If the
//! command starts failing after it was registered (a seccomp filter installed later), the heavy
//! side switches every later light barrier to a real fence and covers the ones in flight with an
//! `mprotect` TLB shootdown: no panic, no lost handshake.

use crate::sync::{fence, Ordering};

/// The hot side: orders this thread's earlier memory accesses before its later ones, as seen
/// by a thread that calls [`heavy`] in between.
#[inline(always)]
pub(crate) fn light() {
    if expedited::available() {
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The rare side: a full barrier in every running thread of the process (and in this one).
pub(crate) fn heavy() {
    if !expedited::barrier() {
        fence(Ordering::SeqCst);
    }
}

/// Registers the process for expedited barriers; call before any [`light`] can pair with a
/// [`heavy`] (when the first pool is built). Idempotent.
pub(crate) fn init() {
    expedited::init();
}

#[cfg(all(target_os = "linux", not(hotpool_loom), not(miri)))]
mod expedited {
    use crate::sync::{AtomicBool, Once, Ordering};

    // From <linux/membarrier.h>.
    const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    /// Set once registration succeeded; cleared if the command fails later. Read on every
    /// [`super::light`].
    static AVAILABLE: AtomicBool = AtomicBool::new(false);
    /// Set once registration succeeded; never cleared: light barriers may have been compiler
    /// fences only, so every heavy barrier from then on must cover them.
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    static INIT: Once = Once::new();

    fn membarrier(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: `membarrier` takes two integers (command, flags) and, with flags 0, no pointer:
        // - the arguments match the system call's signature;
        // - it reads or writes no user memory, so it cannot break any Rust invariant.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long) }
    }

    pub(super) fn init() {
        INIT.call_once(|| {
            let supported = membarrier(MEMBARRIER_CMD_QUERY);
            let wanted =
                MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
            if supported >= 0
                && supported & wanted == wanted
                && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
            {
                // Release: a thread that sees `true` uses compiler fences only; whoever built the
                // pool it uses published it after this store.
                REGISTERED.store(true, Ordering::Release);
                AVAILABLE.store(true, Ordering::Release);
            }
        });
    }

    #[inline(always)]
    pub(super) fn available() -> bool {
        AVAILABLE.load(Ordering::Acquire)
    }

    pub(super) fn barrier() -> bool {
        if !REGISTERED.load(Ordering::Acquire) {
            return false; // light barriers have always been real fences
        }
        if available() && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0 && !simulated_failure()
        {
            return true;
        }
        // After a successful registration the command fails only if something outside the
        // process took it away (a seccomp filter installed after the first pool was built).
        // From now on light barriers are real fences; the ones already past their `available()`
        // check were compiler fences only, so every thread running one must still pass a full
        // barrier: the TLB shootdown of an `mprotect` interrupts every CPU that runs a thread of
        // this process (Folly's `asymmetric_thread_fence_heavy` falls back the same way).
        // SeqCst: the flag is cleared before the shootdown, so a thread interrupted after it
        // reads `false` in its next light barrier. Every later heavy barrier comes here too
        // (`AVAILABLE` is false, `REGISTERED` true) and runs its own shootdown: one that starts
        // while another is between the store and its shootdown must not rely on a fence alone,
        // as light barriers of that moment may still be compiler fences.
        AVAILABLE.store(false, Ordering::SeqCst);
        shootdown::run();
        // Whatever the shootdown did, this side's own fence.
        crate::sync::fence(Ordering::SeqCst);
        true
    }

    /// Makes the next [`barrier`] behave as if the kernel refused the command (unit tests).
    #[cfg(test)]
    pub(super) fn simulate_failure() {
        SIMULATE_FAILURE.store(true, Ordering::SeqCst);
    }

    #[cfg(test)]
    static SIMULATE_FAILURE: AtomicBool = AtomicBool::new(false);

    fn simulated_failure() -> bool {
        #[cfg(test)]
        return SIMULATE_FAILURE.swap(false, Ordering::SeqCst);
        #[cfg(not(test))]
        false
    }

    /// A process-wide barrier without `membarrier`: an `mprotect` that takes write access away
    /// from a page this process has dirtied makes the kernel invalidate the page's TLB entries on
    /// every CPU that may hold them, which are the CPUs running this process's threads; the
    /// interrupt serializes each of them.
    mod shootdown {
        use crate::sync::ProcessMutex;

        struct Page(*mut libc::c_void);
        // SAFETY: the page is only written and re-protected under `PAGE`'s lock.
        unsafe impl Send for Page {}

        static PAGE: ProcessMutex<Option<Page>> = ProcessMutex::new(None);

        pub(super) fn run() {
            let mut page = PAGE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let size = page_size();
            if page.is_none() {
                // SAFETY: an anonymous private mapping of one page at an address of the
                // kernel's choosing: no existing memory is touched.
                let addr = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        size,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                if addr == libc::MAP_FAILED {
                    // No page: the fence of the caller is all that is left.
                    return;
                }
                *page = Some(Page(addr));
            }
            let Some(Page(addr)) = *page else { return };
            // SAFETY: `addr` is our own mapping of `size` bytes; making it writable changes no
            // memory Rust code can see.
            if unsafe { libc::mprotect(addr, size, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
                return;
            }
            // SAFETY: the page is mapped writable (above) and only ever touched here, under the
            // lock; a volatile write so that the store is not elided: the page must be dirty in
            // the TLB for the next `mprotect` to shoot it down.
            unsafe { std::ptr::write_volatile(addr.cast::<u8>(), 1) };
            // SAFETY: as above; read-only again, which forces the shootdown.
            unsafe { libc::mprotect(addr, size, libc::PROT_READ) };
        }

        fn page_size() -> usize {
            // SAFETY: `sysconf` reads a system setting and touches no memory of ours.
            let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            usize::try_from(size).unwrap_or(4096)
        }
    }
}

#[cfg(not(all(target_os = "linux", not(hotpool_loom), not(miri))))]
mod expedited {
    pub(super) fn init() {}

    #[inline(always)]
    pub(super) fn available() -> bool {
        false
    }

    pub(super) fn barrier() -> bool {
        false
    }
}

#[cfg(all(test, target_os = "linux", not(hotpool_loom), not(miri)))]
mod tests {
    use super::{expedited, heavy, init, light};

    #[test]
    fn a_failing_membarrier_falls_back_to_fences_instead_of_panicking() {
        init();
        let registered = expedited::available();
        expedited::simulate_failure();
        heavy(); // panicked before ("membarrier(PRIVATE_EXPEDITED) failed after registration")
        assert!(
            !expedited::available(),
            "after a failure light barriers are real fences (registered: {registered})"
        );
        // Both sides keep working, as fences.
        light();
        heavy();
    }
}
