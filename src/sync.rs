//! The one door to concurrency primitives.
//!
//! Every atomic, `Mutex`, `UnsafeCell` and `thread_local!` the crate uses comes from here, so
//! that building with `RUSTFLAGS="--cfg hotpool_loom"` swaps them all for [loom]'s model-checked
//! versions at once. Nothing else in the crate may import them from `std` or `core`.
//!
//! [loom]: https://docs.rs/loom

#[cfg(hotpool_loom)]
pub(crate) use loom::{
    sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicUsize, Ordering},
    thread_local,
};

#[cfg(not(hotpool_loom))]
pub(crate) use std::{
    sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicUsize, Ordering},
    thread_local,
};

/// Process-wide one-time initialisation outside loom's models (`barrier.rs` registers the
/// process once; loom never sees it).
#[cfg(all(target_os = "linux", not(hotpool_loom), not(miri)))]
pub(crate) use std::sync::Once;

/// A lock that lives in a `static` outside loom's models (`barrier.rs`'s fallback page, used
/// only where `membarrier` exists, which loom builds never use).
#[cfg(all(target_os = "linux", not(hotpool_loom), not(miri)))]
pub(crate) use std::sync::Mutex as ProcessMutex;

/// Ids of slot tables for the thread's last-slot cache (`pool/thread.rs`), which loom builds
/// do not have (as the constant thread-local pointer beside it).
#[cfg(all(not(hotpool_loom), target_has_atomic = "64"))]
pub(crate) use std::sync::atomic::AtomicU64;

/// `Arc` and `Weak` are std's in both builds: loom 0.7 has no `Weak`, which the thread-exit
/// hooks need so that a thread does not keep a dropped pool alive. std's reference counting is
/// not ours to verify; everything the pool itself synchronizes (depot lock, slot tables,
/// counters) still goes through loom.
pub(crate) use std::sync::{Arc, Weak};

/// Makes the synchronization std's `Arc` performs on its last drop, and the destruction itself,
/// visible to loom.
///
/// std's `Arc` orders every use of the value before its destruction (a release decrement and an
/// acquire fence), but loom cannot see inside it. Under loom, each holder calls
/// [`before_release`](ArcDropSync::before_release) just before dropping its `Arc`, and the
/// value's `Drop` calls [`before_destroy`](ArcDropSync::before_destroy): a release/acquire pair
/// loom does see.
///
/// loom cannot see memory freed through std's `Arc` either, so an access after the free would
/// pass a model unnoticed. Under loom the value's accesses that may race its destruction call
/// [`touch`](ArcDropSync::touch), a read of a loom cell that `before_destroy` writes: an access
/// that does not happen before the destruction fails the model ("causality violation"). In
/// normal builds all three are empty and the type has no size.
#[derive(Default)]
pub(crate) struct ArcDropSync {
    #[cfg(hotpool_loom)]
    releases: AtomicUsize,
    #[cfg(hotpool_loom)]
    alive: UnsafeCell<()>,
}

// SAFETY: loom's cell holds `()`, so no data is shared through it; what its accesses record is
// loom's own bookkeeping, which loom synchronizes. Without loom the type has no fields.
#[cfg(hotpool_loom)]
unsafe impl Sync for ArcDropSync {}

impl std::fmt::Debug for ArcDropSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArcDropSync").finish_non_exhaustive()
    }
}

impl ArcDropSync {
    #[inline(always)]
    pub(crate) fn before_release(&self) {
        #[cfg(hotpool_loom)]
        self.releases.fetch_add(1, Ordering::Release);
    }

    /// The value is being destroyed. A read-modify-write, not a load: it reads the last of every
    /// holder's `before_release` (a load could read an older one under loom and miss the
    /// ordering std's fence gives), then marks the value freed for [`ArcDropSync::touch`].
    #[inline(always)]
    pub(crate) fn before_destroy(&self) {
        #[cfg(hotpool_loom)]
        {
            self.releases.fetch_add(0, Ordering::Acquire);
            self.alive.with_mut(|_| ());
        }
    }

    /// An access to the value: under loom, fails the model unless it happens before the
    /// value's destruction.
    #[inline(always)]
    pub(crate) fn touch(&self) {
        #[cfg(hotpool_loom)]
        self.alive.with(|_| ());
    }
}

/// Declares a lazily initialised global: `once_cell::sync::Lazy` normally, loom's per-execution
/// `lazy_static!` under loom (a plain static would leak loom objects from one model run into the
/// next).
#[cfg(hotpool_loom)]
macro_rules! global {
    ($(#[$attr:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        loom::lazy_static! { $(#[$attr])* static ref $name: $ty = $init; }
    };
}

/// Declares a lazily initialised global: `once_cell::sync::Lazy` normally, loom's per-execution
/// `lazy_static!` under loom (a plain static would leak loom objects from one model run into the
/// next).
#[cfg(not(hotpool_loom))]
macro_rules! global {
    ($(#[$attr:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        $(#[$attr])*
        static $name: once_cell::sync::Lazy<$ty> = once_cell::sync::Lazy::new(|| $init);
    };
}
pub(crate) use global;

/// Reads an atomic through exclusive access, without an atomic operation (and, under loom,
/// without a scheduling point).
pub(crate) fn atomic_get_mut<A: AtomicGetMut>(atomic: &mut A) -> A::Value {
    atomic.read_exclusive()
}

/// Atomics that can be read through `&mut` (std's `get_mut`, loom's `with_mut`).
pub(crate) trait AtomicGetMut {
    type Value;
    fn read_exclusive(&mut self) -> Self::Value;
}

impl<T> AtomicGetMut for AtomicPtr<T> {
    type Value = *mut T;
    fn read_exclusive(&mut self) -> *mut T {
        #[cfg(hotpool_loom)]
        return self.with_mut(|p| *p);
        #[cfg(not(hotpool_loom))]
        return *self.get_mut();
    }
}

impl AtomicGetMut for AtomicUsize {
    type Value = usize;
    fn read_exclusive(&mut self) -> usize {
        #[cfg(hotpool_loom)]
        return self.with_mut(|v| *v);
        #[cfg(not(hotpool_loom))]
        return *self.get_mut();
    }
}

/// A mutex whose `lock` ignores poisoning.
///
/// The crate never runs user code (factories, recycle closures, `Drop` of `T`) while holding one
/// of its locks, so a panic can never leave the protected state half-updated and poisoning carries
/// no information worth failing on.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(hotpool_loom)]
    inner: loom::sync::Mutex<T>,
    #[cfg(not(hotpool_loom))]
    inner: std::sync::Mutex<T>,
}

/// Guard of [`Mutex`].
#[cfg(hotpool_loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;
/// Guard of [`Mutex`].
#[cfg(not(hotpool_loom))]
pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            #[cfg(hotpool_loom)]
            inner: loom::sync::Mutex::new(value),
            #[cfg(not(hotpool_loom))]
            inner: std::sync::Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `UnsafeCell` with loom's closure-based API, so loom can track every access.
#[cfg(hotpool_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `UnsafeCell` with loom's closure-based API, so loom can track every access.
#[cfg(not(hotpool_loom))]
#[derive(Debug, Default)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(hotpool_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a mutable pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// A counter written by one thread and read by any.
///
/// The owner bumps it with a plain load + store (no read-modify-write), which compiles to an
/// ordinary `add` on x86-64 and ARM: statistics stay on in release builds without a locked
/// instruction on the hot path. Readers may see a slightly stale value, never a torn one.
#[derive(Debug, Default)]
pub(crate) struct OwnedCounter(AtomicUsize);

impl OwnedCounter {
    /// Adds `n`. Only the owning thread may call this (or callers that hold `&mut` of the owner).
    ///
    /// The store is a release (a plain `mov` on x86-64): a reader that sees it with
    /// [`OwnedCounter::get`] also sees every counter the owner wrote before, so a snapshot that
    /// reads the counters in the right order never sees an effect without its cause.
    #[inline(always)]
    pub(crate) fn add(&self, n: usize) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Release);
    }

    /// Subtracts `n` (wrapping). Same rule as [`OwnedCounter::add`].
    #[inline(always)]
    pub(crate) fn sub(&self, n: usize) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_sub(n), Ordering::Release);
    }

    /// Reads the value from any thread (acquire: see [`OwnedCounter::add`]).
    #[inline(always)]
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// A level (current or peak value) written by one thread and read by any; the companion of
/// [`OwnedCounter`] for values that go down as well as up. Only the owning thread stores, but
/// unlike [`OwnedCounter`] with a relaxed store and a relaxed load: a level is read on its own,
/// and nothing read with it depends on it (see
/// [Memory orderings](crate::implementation#memory-orderings)).
#[derive(Debug, Default)]
pub(crate) struct OwnedGauge(AtomicUsize);

impl OwnedGauge {
    /// Sets the value. Only the owning thread may call this.
    #[inline(always)]
    pub(crate) fn set(&self, n: usize) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// Reads the value from any thread.
    #[inline(always)]
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// A handle to a parked thread (blocking waits of bounded pools, `pool/limiter.rs`).
#[cfg(hotpool_loom)]
pub(crate) use loom::thread::{current as current_thread, Thread};
/// A handle to a parked thread (blocking waits of bounded pools, `pool/limiter.rs`).
#[cfg(not(hotpool_loom))]
pub(crate) use std::thread::{current as current_thread, Thread};

/// Parks the calling thread until it is unparked (perhaps spuriously) or `deadline` passes;
/// `false` if the deadline had passed.
///
/// loom has no timed park: there a deadline stands for "the timeout fires now", so a model
/// explores a timeout at every point a waiter can observe it.
pub(crate) fn park_until(deadline: Option<std::time::Instant>) -> bool {
    #[cfg(hotpool_loom)]
    {
        if deadline.is_some() {
            return false;
        }
        loom::thread::park();
        true
    }
    #[cfg(not(hotpool_loom))]
    {
        match deadline {
            None => std::thread::park(),
            Some(deadline) => {
                let now = std::time::Instant::now();
                if now >= deadline {
                    return false;
                }
                std::thread::park_timeout(deadline - now);
            }
        }
        true
    }
}

/// One round of a spin-wait for another thread to finish a short step (a few pointer moves):
/// a CPU hint first, then yielding the core in case that thread was preempted.
pub(crate) fn spin_wait(round: &mut u32) {
    #[cfg(hotpool_loom)]
    {
        let _ = round;
        loom::thread::yield_now();
    }
    #[cfg(not(hotpool_loom))]
    {
        if *round < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
        *round = round.saturating_add(1);
    }
}

/// The time now, for a bounded pool's eventual fairness (`pool/limiter.rs`).
///
/// loom explores interleavings, not durations, and a model must behave the same in every run
/// of an interleaving: under loom the clock stands still, so a waiter is never overdue and closed
/// caches never reopen by time (models of those paths use `fair_after(Duration::ZERO)`, which
/// reads no clock).
pub(crate) fn now() -> std::time::Instant {
    #[cfg(hotpool_loom)]
    {
        static FROZEN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        *FROZEN.get_or_init(std::time::Instant::now)
    }
    #[cfg(not(hotpool_loom))]
    std::time::Instant::now()
}
