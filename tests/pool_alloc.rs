//! Zero heap allocations in steady state: once warm, `Pool::get` and dropping the guard never
//! touch the allocator, whether objects stay in the thread cache, go through the shared depot
//! (`thread_cache(0)`), or cross threads in batches larger than the thread cache.
//!
//! The tests read the counting allocator's opt-in count (`tests/support/alloc.rs`): calls made on
//! threads inside `measured`, into one global counter. Every thread taking part in a measured
//! phase opts in, while other tests running in parallel in this binary (and the test harness)
//! cannot disturb the count.

mod support;

use std::sync::{Barrier, Mutex};

use hotpool::Pool;
use support::alloc::{measured, measured_calls, CountingAlloc};

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Under miri (milliseconds per pool operation) 10: every cycle of more objects than the thread
/// cache holds already trades with the depot.
const ITERATIONS: usize = if cfg!(miri) { 10 } else { 10_000 };

fn buffers(thread_cache: usize) -> Pool<Vec<u8>> {
    Pool::builder(|| Vec::with_capacity(256))
        .thread_cache(thread_cache)
        .max_idle(64)
        .build()
        .unwrap()
}

/// Gets `n` objects at once, writes into them within their capacity, and returns them.
fn cycle<'p>(pool: &'p Pool<Vec<u8>>, n: usize, guards: &mut Vec<hotpool::Pooled<'p, Vec<u8>>>) {
    guards.extend((0..n).map(|_| pool.get()));
    for (i, g) in guards.iter_mut().enumerate() {
        g.extend_from_slice(&i.to_le_bytes());
    }
    guards.clear();
}

#[test]
fn the_counter_sees_allocations() {
    let calls = measured_calls(|| {
        measured(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(16))));
    });
    assert_eq!(calls, 2, "one allocation and one free");
}

/// `(thread_cache, objects in use at once)`: within the cache, past it (trading with the depot),
/// and without a thread cache (every operation goes to the depot).
const SINGLE_THREAD: [(usize, usize); 3] = [(32, 3), (4, 10), (0, 5)];

#[test]
fn get_and_drop_never_allocate_once_warm_on_one_thread() {
    for (thread_cache, n) in SINGLE_THREAD {
        let pool = buffers(thread_cache);
        let mut guards = Vec::with_capacity(n);
        for _ in 0..3 {
            cycle(&pool, n, &mut guards); // warm-up: objects, cache and magazines
        }
        let calls = measured_calls(|| {
            measured(|| (0..ITERATIONS).for_each(|_| cycle(&pool, n, &mut guards)));
        });
        assert_eq!(calls, 0, "thread_cache {thread_cache}, {n} at once");
        let stats = pool.stats();
        assert_eq!(stats.created, n as u64, "no object made after warm-up");
        assert_eq!(stats.reused, (n * (ITERATIONS + 3) - n) as u64);
    }
}

#[test]
fn try_get_and_owned_guards_never_allocate_once_warm() {
    for thread_cache in [0, 8] {
        let pool = buffers(thread_cache);
        // Warm-up: make the object, and take it back from the depot once (which sets up the
        // depot's list of empty magazines).
        drop(pool.get());
        drop(pool.get());
        let calls = measured_calls(|| {
            measured(|| {
                for _ in 0..ITERATIONS {
                    let mut g = pool.get_owned();
                    g.push(7);
                    drop(g);
                    drop(std::hint::black_box(
                        pool.try_get().expect("one idle object"),
                    ));
                }
            });
        });
        assert_eq!(calls, 0, "thread_cache {thread_cache}");
        assert_eq!(pool.stats().created, 1);
    }
}

/// Runs `f(round)` for `warm_up + rounds` rounds on this thread, counting allocator calls in the
/// last `rounds` only.
fn after_warm_up(warm_up: usize, rounds: usize, mut f: impl FnMut(usize)) {
    (0..warm_up).for_each(&mut f);
    measured(|| (warm_up..warm_up + rounds).for_each(f));
}

#[test]
fn producer_and_consumer_threads_never_allocate_once_warm() {
    const THREAD_CACHE: usize = 4;
    const BATCH: usize = 3 * THREAD_CACHE; // past the cache: every batch trades with the depot
    const WARM_UP: usize = 4;
    let rounds = if cfg!(miri) { 6 } else { 2_000 };
    let pool = buffers(THREAD_CACHE);
    // The hand-off: a preallocated vector, so moving guards through it never allocates.
    let handoff = Mutex::new(Vec::with_capacity(BATCH));
    let (filled, emptied) = (Barrier::new(2), Barrier::new(2));
    let calls = measured_calls(|| {
        std::thread::scope(|s| {
            let producer = s.spawn(|| {
                after_warm_up(WARM_UP, rounds, |round| {
                    let mut batch = handoff.lock().unwrap();
                    for _ in 0..BATCH {
                        let mut g = pool.get();
                        assert!(g.is_empty(), "reset by the consumer");
                        g.push(round as u8);
                        batch.push(g);
                    }
                    drop(batch);
                    filled.wait();
                    emptied.wait();
                });
            });
            let consumer = s.spawn(|| {
                after_warm_up(WARM_UP, rounds, |round| {
                    filled.wait();
                    for g in handoff.lock().unwrap().drain(..) {
                        assert_eq!(*g, [round as u8]);
                    }
                    emptied.wait();
                });
            });
            producer.join().unwrap();
            consumer.join().unwrap();
        });
    });
    assert_eq!(
        calls, 0,
        "allocator calls on the producer and consumer after warm-up"
    );
    let stats = pool.stats();
    assert_eq!(
        stats.created + stats.reused,
        ((WARM_UP + rounds) * BATCH) as u64
    );
    assert!(
        stats.created <= (2 * BATCH) as u64,
        "objects are reused: {stats:?}"
    );
}
