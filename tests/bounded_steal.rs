//! A bounded pool's first waiter takes the idle objects out of every thread's cache (a steal).
//! What it hauls must keep every limit: no cache and no magazine ever holds more than its limit,
//! and no object or place is lost, whatever the haul's size. The audit's scenario (two threads
//! with full caches that stay alive, a waiter at the cap) made one magazine of 7 that later
//! overfilled a cache of 4: in debug builds a consistency check panicked with the objects out of
//! the cache's books (7 objects and their places lost, later `get`s waited forever), in release
//! builds the cache held 8.

mod support;

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use hotpool::Pool;
use support::pool::bounded_cached;
use support::{Census, Counted};

/// Long enough never to fire on a slow machine; a lost object or place makes it fire.
const GENEROUS: Duration = Duration::from_secs(20);

/// Threads that each take `n` objects, drop them into their own caches, and stay alive until
/// the returned sender is dropped (their caches stay full meanwhile).
fn fill_caches(
    pool: &Arc<Pool<Counted>>,
    threads: usize,
    n: usize,
) -> (mpsc::Sender<()>, Vec<thread::JoinHandle<()>>) {
    let (stop, stopped) = mpsc::channel::<()>();
    let stopped = Arc::new(std::sync::Mutex::new(stopped));
    let ready = Arc::new(Barrier::new(threads + 1));
    let handles = (0..threads)
        .map(|_| {
            let (pool, ready, stopped) =
                (Arc::clone(pool), Arc::clone(&ready), Arc::clone(&stopped));
            thread::spawn(move || {
                let held: Vec<_> = (0..n)
                    .map(|_| pool.get_timeout(GENEROUS).unwrap())
                    .collect();
                drop(held);
                ready.wait();
                // Alive until told to stop (the receiver errs once the sender is dropped).
                let _ = stopped.lock().unwrap().recv();
            })
        })
        .collect();
    ready.wait();
    (stop, handles)
}

/// Takes `n` objects at once on this thread, or fails the test if they cannot all be had.
fn hold_all(pool: &Pool<Counted>, n: usize) {
    let held: Vec<_> = (0..n)
        .map(|i| {
            pool.get_timeout(GENEROUS).unwrap_or_else(|_| {
                panic!("object {i} of {n} could not be had: lost objects or places")
            })
        })
        .collect();
    assert_eq!(held.len(), n);
}

#[test]
fn the_audit_scenario_loses_no_object_and_no_place() {
    let census = Census::new();
    let pool = Arc::new(bounded_cached(&census, 4, 8));
    let (stop, threads) = fill_caches(&pool, 2, 4);
    assert_eq!(pool.stats().idle, 8, "two full caches");

    // At the cap: queues, steals all 8, keeps 1; the 7 left go to the depot.
    let first = pool.get_timeout(GENEROUS).unwrap();
    drop(first);
    let a = pool.get_timeout(GENEROUS).unwrap();
    let b = pool.get_timeout(GENEROUS).unwrap();
    drop((a, b));

    // Every object can still be had at once, and no new one was made for it.
    hold_all(&pool, 8);
    let stats = pool.stats();
    assert_eq!(stats.created, 8, "{stats:?}");
    assert_eq!(stats.in_use, 0, "{stats:?}");
    assert_eq!(stats.idle, 8, "{stats:?}");
    assert_eq!(census.made(), 8);
    assert_eq!(
        census.most(),
        8,
        "the cap, counted by the objects themselves"
    );

    drop(stop);
    threads.into_iter().for_each(|t| t.join().unwrap());
    drop(pool);
    assert_eq!(census.alive(), 0, "every object dropped with the pool");
}

#[test]
fn after_a_steal_no_cache_holds_more_than_thread_cache() {
    let census = Census::new();
    let (thread_cache, max_live) = (4, 12);
    let pool = Arc::new(bounded_cached(&census, thread_cache, max_live));
    let (stop, threads) = fill_caches(&pool, 3, 4);

    // The steal hauls 12; this thread then cycles objects through its own cache, which refills
    // from the depot: at most `thread_cache` of them may stay there.
    drop(pool.get_timeout(GENEROUS).unwrap());
    for _ in 0..3 {
        let held: Vec<_> = (0..3)
            .map(|_| pool.get_timeout(GENEROUS).unwrap())
            .collect();
        drop(held);
    }
    let idle = pool.stats().idle;
    assert_eq!(idle, max_live, "every object idle");

    // `trim` on another thread drops the depot and that thread's (empty) cache: what it leaves is
    // exactly what this thread's cache holds (the other caches were emptied by the steal).
    let trimmed = thread::scope(|s| s.spawn(|| pool.trim()).join().unwrap());
    let in_this_cache = idle - trimmed;
    assert!(
        in_this_cache <= thread_cache,
        "this thread's cache holds {in_this_cache} objects with thread_cache({thread_cache})"
    );
    assert_eq!(pool.trim(), in_this_cache, "this thread's cache, trimmed");
    assert_eq!(census.alive(), 0, "trims dropped every object");

    drop(stop);
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn a_haul_larger_than_any_cache_serves_waiters_and_keeps_the_rest_within_limits() {
    // Many threads with full caches, a small cache limit and a haul many times larger: every
    // object remains obtainable and the cap holds, counted by the objects themselves.
    let census = Census::new();
    let (thread_cache, threads_n, max_live) = (2, 8, 16);
    let pool = Arc::new(bounded_cached(&census, thread_cache, max_live));
    let (stop, threads) = fill_caches(&pool, threads_n, thread_cache);
    assert_eq!(pool.stats().idle, max_live);
    for _ in 0..4 {
        hold_all(&pool, max_live);
    }
    assert_eq!(census.made(), max_live, "nothing made beyond the cap");
    assert_eq!(census.most(), max_live);
    drop(stop);
    threads.into_iter().for_each(|t| t.join().unwrap());
    let stats = pool.stats();
    assert_eq!(
        (stats.in_use, stats.idle, stats.created),
        (0, max_live, max_live as u64),
        "{stats:?}"
    );
}
