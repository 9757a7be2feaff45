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
//! miri, loom), both sides fall back to a real `SeqCst` fence: slower, equally correct.

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

    /// Set once registration succeeded; never cleared. Read on every [`super::light`].
    static AVAILABLE: AtomicBool = AtomicBool::new(false);
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
                AVAILABLE.store(true, Ordering::Release);
            }
        });
    }

    #[inline(always)]
    pub(super) fn available() -> bool {
        AVAILABLE.load(Ordering::Acquire)
    }

    pub(super) fn barrier() -> bool {
        if !available() {
            return false;
        }
        let result = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
        // After a successful registration the command cannot fail; if the kernel ever says
        // otherwise, light barriers have been compiler fences and nothing can make up for it.
        assert_eq!(
            result, 0,
            "membarrier(PRIVATE_EXPEDITED) failed after registration"
        );
        true
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
