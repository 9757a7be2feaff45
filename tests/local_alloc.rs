//! Zero heap allocations in steady state: once warm, `LocalPool::get` and dropping the guard
//! never touch the allocator.
//!
//! The tests read the counting allocator's per-thread count (`tests/support/alloc.rs`), so tests
//! running in parallel (and the test harness) cannot disturb each other's counts.

mod support;

use std::rc::Rc;

use hotpool::LocalPool;
use support::alloc::{calls_on_this_thread, CountingAlloc};

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

const ITERATIONS: usize = if cfg!(miri) { 50 } else { 10_000 };

#[test]
fn the_counter_sees_allocations() {
    let calls = calls_on_this_thread(|| {
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

    let calls = calls_on_this_thread(|| {
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

    let calls = calls_on_this_thread(|| {
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
