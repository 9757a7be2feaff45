//! Arenas and the global allocator: zero heap calls per scope once warm, and a thread's arenas
//! are given back to the allocator when the thread exits.
//!
//! The allocator counts calls per thread (so parallel tests cannot disturb each other) and live
//! bytes globally (for the thread-exit test, which therefore runs alone: see `SERIAL`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Mutex;

use hotpool::arena;

struct CountingAlloc;

thread_local! {
    // `const` and without a destructor: usable from the allocator, even during thread teardown.
    static CALLS: Cell<usize> = const { Cell::new(0) };
}
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
/// Tests that read `LIVE_BYTES` hold this, and so does every other test, so none overlap.
static SERIAL: Mutex<()> = Mutex::new(());

fn record(bytes: isize) {
    let _ = CALLS.try_with(|c| c.set(c.get() + 1));
    LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed);
}

fn size(layout: Layout) -> isize {
    isize::try_from(layout.size()).expect("a layout's size fits isize")
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so it upholds
// `GlobalAlloc`'s contract exactly as `System` does; counting touches a thread-local `Cell` and
// an atomic, neither of which allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(size(layout));
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s preconditions.
        unsafe { System.alloc(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(isize::try_from(new_size).expect("fits isize") - size(layout));
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s preconditions.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(-size(layout));
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s preconditions.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

fn calls_on_this_thread(f: impl FnOnce()) -> usize {
    let before = CALLS.with(Cell::get);
    f();
    CALLS.with(Cell::get) - before
}

const SCOPES: usize = if cfg!(miri) { 20 } else { 10_000 };

/// A scope's worth of typical scratch work: plain values, values with destructors (whose own
/// heap data is made outside the measured region), strings, slices, a growing `Vec`.
fn work(s: &arena::Scope<'_>, strings: &mut Vec<String>) {
    for i in 0..32u64 {
        s.alloc((i, i));
    }
    s.alloc_slice_fill_iter(strings.drain(..)); // dropped (freed) at scope end
    s.alloc_str("a string that lives in the arena");
    s.alloc_slice_copy(&[0u32; 64]);
    let mut v = s.vec();
    v.extend(0..200u32);
}

#[test]
fn the_counter_sees_allocations() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let calls = calls_on_this_thread(|| drop(std::hint::black_box(Box::new(1u8))));
    assert_eq!(calls, 2, "one allocation and one free");
}

#[test]
fn a_warm_scope_never_calls_the_allocator() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut strings = Vec::with_capacity(4);
    // Warm-up: the thread's arena state, the arena's chunk (grown to its steady size), stats.
    for _ in 0..3 {
        arena::scope(|s| work(s, &mut strings));
    }
    let created = arena::stats().arenas_created;
    for _ in 0..SCOPES {
        strings.extend((0..4).map(|i| i.to_string())); // outside the measured region
        let calls = calls_on_this_thread(|| {
            arena::scope(|s| {
                work(s, &mut strings);
            })
        });
        // The four strings' frees are their destructors running, not the arena.
        assert_eq!(
            calls, 4,
            "only the arena values' own destructors free memory"
        );
    }
    assert_eq!(arena::stats().arenas_created, created);
}

#[test]
fn nested_warm_scopes_never_call_the_allocator() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let nest = || {
        arena::scope(|a| {
            a.alloc_slice_copy(&[1u8; 300]);
            arena::scope(|b| {
                b.alloc_slice_copy(&[2u8; 300]);
                arena::scope(|c| {
                    c.alloc_str("deep");
                });
            });
        })
    };
    nest();
    for _ in 0..SCOPES {
        assert_eq!(calls_on_this_thread(nest), 0);
    }
}

#[test]
fn a_thread_frees_its_arenas_when_it_exits() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const SPIKE: usize = if cfg!(miri) { 16 * 1024 } else { 512 * 1024 };
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    std::thread::spawn(|| {
        arena::scope(|outer| {
            reserve(outer, SPIKE);
            arena::scope(|inner| reserve(inner, SPIKE));
        });
        let stats = arena::stats();
        assert_eq!(stats.idle_arenas, 2);
        assert!(
            stats.retained_bytes >= 2 * SPIKE,
            "kept warm while the thread lives"
        );
    })
    .join()
    .unwrap();
    let leaked = LIVE_BYTES.load(Ordering::Relaxed) - before;
    // Slack for the registry's list, which keeps its capacity; the arenas were 2 × SPIKE.
    assert!(
        leaked < 4096,
        "{leaked} bytes still held after the thread exited"
    );
}

/// Reserves `bytes` in the arena without writing them (cheap under miri).
fn reserve(s: &arena::Scope<'_>, bytes: usize) {
    s.bump()
        .alloc_layout(Layout::from_size_align(bytes, 8).unwrap());
}
