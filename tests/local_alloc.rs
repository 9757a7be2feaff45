//! Zero heap allocations in steady state: once warm, `LocalPool::get` and dropping the guard
//! never touch the allocator.
//!
//! The counting allocator counts per thread, so tests running in parallel (and the test
//! harness) cannot disturb each other's counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::rc::Rc;

use hotpool::LocalPool;

/// The system allocator, counting every call that allocates, reallocates or frees on the
/// current thread.
struct CountingAlloc;

thread_local! {
    // `const` and free of destructors: touching it never allocates, so the allocator may.
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the slot is gone during thread teardown, when there is nothing to measure.
    let _ = CALLS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so it upholds
// `GlobalAlloc`'s contract exactly as `System` does; counting touches only a thread-local `Cell`.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s preconditions.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s preconditions.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s preconditions.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s preconditions.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Allocator calls made on this thread while running `f`.
fn allocator_calls(f: impl FnOnce()) -> usize {
    let before = CALLS.with(Cell::get);
    f();
    CALLS.with(Cell::get) - before
}

const ITERATIONS: usize = if cfg!(miri) { 50 } else { 10_000 };

#[test]
fn the_counter_sees_allocations() {
    let calls = allocator_calls(|| {
        let v: Vec<u8> = Vec::with_capacity(16);
        std::hint::black_box(&v);
    });
    assert_eq!(calls, 2, "one allocation and one free");
}

#[test]
fn get_and_drop_never_allocate_once_warm() {
    let pool = LocalPool::new(|| Vec::<u8>::with_capacity(256));
    // Warm-up: make the objects and grow the idle list to hold them.
    drop((pool.get(), pool.get(), pool.get()));

    let calls = allocator_calls(|| {
        for i in 0..ITERATIONS {
            let mut a = pool.get();
            a.extend_from_slice(&i.to_le_bytes()); // within the kept capacity
            let mut b = pool.get();
            b.push(1);
            drop(a);
            std::hint::black_box(&b);
        }
    });
    assert_eq!(calls, 0);
    let stats = pool.stats();
    assert_eq!(stats.created, 3, "no object was made after warm-up");
    assert_eq!(stats.reused, 2 * ITERATIONS as u64);
}

#[test]
fn owned_guards_and_try_get_never_allocate_once_warm() {
    let pool = Rc::new(LocalPool::new(|| Vec::<u8>::with_capacity(64)));
    drop(pool.get_owned());

    let calls = allocator_calls(|| {
        for _ in 0..ITERATIONS {
            let mut g = pool.get_owned();
            g.push(7);
            drop(g);
            let g = pool.try_get().expect("one idle object");
            std::hint::black_box(&g);
        }
    });
    assert_eq!(calls, 0);
    assert_eq!(pool.stats().created, 1);
}
