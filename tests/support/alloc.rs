//! A counting global allocator shared by the allocation test binaries (`tests/*_alloc.rs`).
//!
//! [`CountingAlloc`] forwards every call to [`System`] and records it three ways, for each binary
//! to read the one it needs:
//!
//! - per thread ([`calls_on_this_thread`]): tests running in parallel (and the test harness)
//!   cannot disturb each other's counts;
//! - on threads that opted in ([`measured`], read with [`measured_calls`]), into one global
//!   counter: for phases that span several threads;
//! - live bytes, globally ([`live_bytes`]): for memory given back by exiting threads;
//! - the largest size asked for on this thread ([`largest_on_this_thread`]): for what a call
//!   must not allocate (a request that is refused).
//!
//! [`Refusing`] forwards to [`System`] too, but returns null above [`REFUSED_ABOVE`] bytes, as an
//! allocator with a memory limit does (tests/buffer_refused_alloc.rs,
//! tests/buffer_budget_attack.rs).
//!
//! The `#[global_allocator]` static must be declared by each binary:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: support::alloc::CountingAlloc = support::alloc::CountingAlloc;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The system allocator, counting every call that allocates, reallocates or frees.
pub struct CountingAlloc;

thread_local! {
    // `const` and free of destructors: touching them never allocates, so the allocator may.
    /// Allocator calls made on this thread.
    static CALLS: Cell<usize> = const { Cell::new(0) };
    /// Whether this thread's calls go to [`MEASURED_CALLS`] (inside [`measured`]).
    static MEASURED: Cell<bool> = const { Cell::new(false) };
    /// The most bytes an allocation on this thread asked for (a reallocation: how many more).
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// Allocator calls made on threads while inside [`measured`].
static MEASURED_CALLS: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated and not yet freed, by every thread.
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
/// Serializes the phases read by [`measured_calls`] (they share [`MEASURED_CALLS`]).
static MEASURING: Mutex<()> = Mutex::new(());

/// Records one allocator call that changes the live bytes by `bytes`.
fn record(bytes: isize) {
    // `try_with`: the slots are gone during thread teardown, when there is nothing to measure.
    let _ = CALLS.try_with(|c| c.set(c.get() + 1));
    if let Ok(asked) = usize::try_from(bytes) {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(asked)));
    }
    if MEASURED.try_with(Cell::get).unwrap_or(false) {
        MEASURED_CALLS.fetch_add(1, Ordering::Relaxed);
    }
    LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed);
}

fn size(bytes: usize) -> isize {
    isize::try_from(bytes).expect("a layout's size fits isize")
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so it upholds
// `GlobalAlloc`'s contract exactly as `System` does; counting touches thread-local `Cell`s and
// atomics, none of which allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(size(layout.size()));
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s preconditions.
        let ptr = unsafe { System.alloc(layout) };
        refused_if_null(ptr, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(size(layout.size()));
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s preconditions.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        refused_if_null(ptr, layout.size())
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(size(new_size) - size(layout.size()));
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s preconditions.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(-size(layout.size()));
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s preconditions.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// An allocation `System` refused (null) holds no bytes: takes back what [`record`] added.
fn refused_if_null(ptr: *mut u8, asked: usize) -> *mut u8 {
    if ptr.is_null() {
        LIVE_BYTES.fetch_sub(size(asked), Ordering::Relaxed);
    }
    ptr
}

/// The most bytes an allocation (a reallocation: how many more) asked for on this thread while
/// running `f` (0 if none did), and `f`'s result.
pub fn largest_on_this_thread<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = LARGEST.with(|l| l.replace(0));
    let result = f();
    let largest = LARGEST.with(|l| l.replace(before.max(l.get())));
    (result, largest)
}

/// Allocator calls made on this thread while running `f`.
pub fn calls_on_this_thread(f: impl FnOnce()) -> usize {
    let before = CALLS.with(Cell::get);
    f();
    CALLS.with(Cell::get) - before
}

/// Counts allocator calls on the calling thread while it runs `f`, for [`measured_calls`].
pub fn measured<R>(f: impl FnOnce() -> R) -> R {
    MEASURED.with(|m| m.set(true));
    let result = f();
    MEASURED.with(|m| m.set(false));
    result
}

/// Allocator calls made by threads inside [`measured`] while `f` runs. Calls of this function
/// run one at a time, so concurrent tests cannot add to each other's counts.
pub fn measured_calls(f: impl FnOnce()) -> usize {
    let _serial = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let before = MEASURED_CALLS.load(Ordering::SeqCst);
    f();
    MEASURED_CALLS.load(Ordering::SeqCst) - before
}

/// Bytes allocated and not yet freed, by every thread: compare two readings taken while no
/// other thread allocates.
pub fn live_bytes() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// The largest allocation [`Refusing`] serves.
pub const REFUSED_ABOVE: usize = 64 << 20;

/// The system allocator, refusing (null) every allocation above [`REFUSED_ABOVE`] bytes.
pub struct Refusing;

// SAFETY: allocations up to `REFUSED_ABOVE` are forwarded unchanged to `System`, which upholds the
// contract; above it `alloc` returns null, which `GlobalAlloc` allows ("the allocator could not
// allocate"); `dealloc` only sees pointers `System` allocated.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > REFUSED_ABOVE {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s preconditions.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from `System` (above).
        unsafe { System.dealloc(ptr, layout) }
    }
}
