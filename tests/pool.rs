//! Behaviour of the thread-safe `Pool` and its guards: getting and returning, detaching, `put`,
//! the idle and retained-size caps, trimming, prefill, owned guards outliving the pool, a lazy
//! global pool, and `Debug`.
//!
//! Every scenario checks the stats after each step and ends by dropping the pool and checking
//! that every object made was dropped exactly once. `thread_cache(0)` (depot only) and a small
//! thread cache are both covered where their behaviour differs.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use hotpool::{OwnedPooled, Pool, Pooled};
use once_cell::sync::Lazy;
use support::pool::{
    assert_idle_bound, assert_peak, assert_peak_within, counting_factory, finish, retaining_pool,
    tracked_pool, NoPeak,
};
use support::{assert_stats, Tracked, Tracker};

#[test]
fn get_hands_out_a_reset_object_and_reuses_it() {
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let pool = tracked_pool(&tracker, 4, thread_cache);
        let id = {
            let mut g = pool.get();
            g.data.extend_from_slice(b"dirty");
            assert_stats!(NoPeak(&pool), { created: 1, in_use: 1 });
            g.id
        };
        assert_stats!(NoPeak(&pool), { created: 1, returned: 1, idle: 1 });
        assert!(tracker.is_live(id), "an idle object stays alive");

        let g = pool.get();
        assert_eq!(g.id, id, "the idle object is reused");
        assert!(g.data.is_empty(), "reset on return");
        assert!(g.data.capacity() >= 5, "capacity kept");
        drop(g);
        assert_stats!(NoPeak(&pool), { created: 1, reused: 1, returned: 2, idle: 1 });
        assert_peak(&pool, 1, thread_cache, 1);
        finish(pool, &tracker);
    }
}

#[test]
fn stats_stay_exact_over_many_hits_and_trades() {
    // A hit counts itself only in its cache's fill word: pushes in the upper bits, folded into a
    // separate counter when they reach the top bit (every 2^14 pushes on 32-bit targets, which
    // this crosses several times; every 2^46 on 64-bit ones). Trades move the length only.
    let rounds: u64 = if cfg!(miri) { 300 } else { 100_000 };
    let tracker = Tracker::new();
    let pool = tracked_pool(&tracker, 8, 4);
    let mut held = Vec::new();
    for round in 0..rounds {
        drop(pool.get()); // a hit (after the first)
        if round % 97 == 0 {
            // A burst past the cache: refills, then flushes.
            held.extend((0..10).map(|_| pool.get()));
            held.clear();
        }
    }
    drop(held);
    let stats = pool.stats();
    let bursts = rounds.div_ceil(97);
    let gets = rounds + 10 * bursts;
    assert_eq!(
        (stats.in_use, stats.reused + stats.created, stats.returned),
        (0, gets, gets - stats.discarded),
        "{stats:?}"
    );
    assert_eq!(stats.created, 10, "{stats:?}");
    assert_eq!(
        stats.idle as u64,
        stats.created - stats.discarded,
        "{stats:?}"
    );
    finish(pool, &tracker);
}

#[test]
fn try_get_and_try_get_owned_never_run_the_factory() {
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let (factory, calls) = counting_factory(&tracker);
        let pool = Pool::builder(factory)
            .thread_cache(thread_cache)
            .build()
            .unwrap();
        assert!(pool.try_get().is_none());
        assert!(pool.try_get_owned().is_none());
        assert_eq!(calls.load(Ordering::Relaxed), 0);
        assert_stats!(pool, {});

        let id = pool.get().id;
        let g = pool.try_get().expect("one idle object");
        assert_eq!(g.id, id);
        assert!(pool.try_get().is_none(), "the only object is in use");
        assert!(pool.try_get_owned().is_none());
        drop(g);
        let g = pool.try_get_owned().expect("one idle object");
        assert_eq!(g.id, id);
        drop(g);
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_stats!(NoPeak(&pool), { created: 1, reused: 2, returned: 3, idle: 1 });
        finish(pool, &tracker);
    }
}

fn assert_static_send<T: Send + 'static>(_: &T) {}

#[test]
fn owned_guards_cross_threads_and_return_from_there() {
    let tracker = Tracker::new();
    let pool = Arc::new(tracked_pool(&tracker, 4, 0));
    let mut g = pool.get_owned();
    assert_static_send(&g);
    g.data.push(1);
    let id = g.id;
    std::thread::spawn(move || {
        assert_eq!(g.data, [1], "contents travel with the guard");
        drop(g);
    })
    .join()
    .unwrap();
    assert_stats!(NoPeak(&pool), { created: 1, returned: 1, idle: 1 });
    let g = pool.get();
    assert_eq!(g.id, id);
    assert!(g.data.is_empty(), "reset by the thread that returned it");
    drop(g);
    finish(Arc::try_unwrap(pool).unwrap(), &tracker);
}

#[test]
fn detach_takes_objects_out_of_the_pool_for_good() {
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let pool = Arc::new(tracked_pool(&tracker, 4, thread_cache));
        let mut a = pool.get();
        a.data.push(7);
        let a: Tracked = Pooled::detach(a);
        assert_eq!(a.data, [7], "a detached object is not recycled");
        let mut b = pool.get_owned();
        b.data.push(8);
        let b: Tracked = OwnedPooled::detach(b);
        assert_eq!(b.data, [8]);
        assert_ne!(a.id, b.id, "the detached object is gone from the pool");
        assert_stats!(NoPeak(&pool), { created: 2, detached: 2 });

        // A detached object can be handed back with `put`; the other stays the caller's.
        assert!(pool.put(a).is_ok());
        assert_stats!(NoPeak(&pool), { created: 2, detached: 2, returned: 1, idle: 1 });
        let g = pool.get();
        assert!(g.data.is_empty(), "`put` resets");
        drop(g);
        assert_stats!(NoPeak(&pool), { created: 2, detached: 2, reused: 1, returned: 2, idle: 1 });

        drop(pool);
        assert!(
            tracker.is_live(b.id),
            "the pool never drops a detached object"
        );
        assert_eq!(tracker.live(), 1);
        drop(b);
        tracker.assert_all_dropped_once();
    }
}

#[test]
fn put_hands_the_value_back_when_refused_or_full_without_thread_cache() {
    let tracker = Tracker::new();
    let pool = retaining_pool(&tracker, 2, 0, 16);
    for _ in 0..2 {
        let mut v = tracker.make();
        v.data.extend_from_slice(b"abc");
        assert!(pool.put(v).is_ok());
    }
    assert_stats!(pool, { returned: 2, idle: 2 });

    let mut full = tracker.make();
    full.data.extend_from_slice(b"xyz");
    let full = pool.put(full).expect_err("the pool is full");
    assert!(full.data.is_empty(), "handed back reset");
    assert_stats!(pool, { returned: 2, idle: 2 });

    assert_eq!(pool.trim(), 2);
    assert_stats!(pool, { returned: 2, discarded: 2 });
    let mut big = tracker.make();
    big.data.reserve(100);
    big.data.push(1);
    let big = pool.put(big).expect_err("retains more than 16 bytes");
    assert!(big.data.is_empty() && big.data.capacity() >= 100);
    assert_stats!(pool, { returned: 2, discarded: 2 });
    assert!(tracker.is_live(full.id) && tracker.is_live(big.id));
    drop((full, big));
    finish(pool, &tracker);
}

#[test]
fn put_fills_the_thread_cache_and_the_depot_then_hands_back() {
    let tracker = Tracker::new();
    let (max_idle, thread_cache) = (2, 2);
    let pool = tracked_pool(&tracker, max_idle, thread_cache);
    for _ in 0..max_idle + thread_cache {
        assert!(pool.put(tracker.make()).is_ok());
        assert_idle_bound(&pool, max_idle, thread_cache, 1);
    }
    let refused = pool
        .put(tracker.make())
        .expect_err("cache and depot are full");
    assert_stats!(pool, { returned: 4, idle: 4 });
    drop(refused);
    finish(pool, &tracker);
}

#[test]
fn returns_over_the_idle_cap_are_discarded() {
    // (max_idle, thread_cache): the pool keeps max_idle + thread_cache of one thread.
    for (max_idle, thread_cache) in [(3, 0), (3, 2), (1, 4)] {
        let tracker = Tracker::new();
        let pool = tracked_pool(&tracker, max_idle, thread_cache);
        let guards: Vec<_> = (0..8).map(|_| pool.get()).collect();
        assert_stats!(NoPeak(&pool), { created: 8, in_use: 8 });
        drop(guards);
        let kept = max_idle + thread_cache;
        assert_stats!(NoPeak(&pool), {
            created: 8,
            returned: kept as u64,
            discarded: 8 - kept as u64,
            idle: kept,
        });
        assert_eq!(tracker.live(), kept);
        assert_peak(&pool, 8, thread_cache, 1);
        finish(pool, &tracker);
    }
}

#[test]
fn objects_that_grew_past_max_retained_bytes_are_discarded() {
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let pool = retaining_pool(&tracker, 4, thread_cache, 16);
        let (mut small, mut big) = (pool.get(), pool.get());
        small.data.extend_from_slice(&[1; 8]);
        big.data.reserve(64);
        let (small_id, big_id) = (small.id, big.id);
        drop((small, big));
        assert!(tracker.is_live(small_id));
        assert!(!tracker.is_live(big_id), "dropped at once, not kept");
        assert_stats!(NoPeak(&pool), { created: 2, returned: 1, discarded: 1, idle: 1 });
        finish(pool, &tracker);
    }
}

#[test]
fn recycle_with_resets_and_decides_what_is_kept() {
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let pool = Pool::builder(tracker.factory())
            .thread_cache(thread_cache)
            .recycle_with(|o: &mut Tracked| {
                let keep = o.data.len() <= 4;
                o.data.clear();
                keep
            })
            .build()
            .unwrap();
        let (mut short, mut long) = (pool.get(), pool.get());
        short.data.extend_from_slice(b"abc");
        long.data.extend_from_slice(b"too long");
        let (short_id, long_id) = (short.id, long.id);
        drop((short, long));
        assert!(!tracker.is_live(long_id), "refused by the policy");
        assert_stats!(NoPeak(&pool), { created: 2, returned: 1, discarded: 1, idle: 1 });
        let g = pool.get();
        assert_eq!(g.id, short_id);
        assert!(g.data.is_empty(), "the policy reset it");
        drop(g);
        assert_stats!(NoPeak(&pool), { created: 2, reused: 1, returned: 2, discarded: 1, idle: 1 });
        finish(pool, &tracker);
    }
}

#[test]
fn trim_drops_the_depot_and_the_own_cache() {
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let pool = tracked_pool(&tracker, 16, thread_cache);
        drop((0..10).map(|_| pool.get()).collect::<Vec<_>>());
        assert_stats!(NoPeak(&pool), { created: 10, returned: 10, idle: 10 });
        assert_eq!(pool.trim(), 10);
        assert_stats!(NoPeak(&pool), { created: 10, returned: 10, discarded: 10 });
        assert_eq!(tracker.live(), 0);
        assert_eq!(pool.trim(), 0);
        // Still usable.
        drop(pool.get());
        assert_stats!(NoPeak(&pool), { created: 11, returned: 11, discarded: 10, idle: 1 });
        finish(pool, &tracker);
    }
}

#[test]
fn trim_leaves_other_threads_caches_until_they_exit() {
    let tracker = Tracker::new();
    let pool = Arc::new(tracked_pool(&tracker, 16, 4));
    let (filled, trimmed) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let worker = {
        let (pool, filled, trimmed) = (Arc::clone(&pool), filled.clone(), trimmed.clone());
        std::thread::spawn(move || {
            drop((pool.get(), pool.get())); // both stay in this thread's cache
            filled.wait();
            trimmed.wait();
        })
    };
    filled.wait();
    assert_eq!(pool.trim(), 0, "another thread's cache is its own");
    assert_stats!(NoPeak(&pool), { created: 2, returned: 2, idle: 2 });
    trimmed.wait();
    worker.join().unwrap();
    // The exit flushed the cache to the depot, where trim reaches it.
    assert_stats!(NoPeak(&pool), { created: 2, returned: 2, idle: 2 });
    assert_eq!(pool.trim(), 2);
    assert_stats!(NoPeak(&pool), { created: 2, returned: 2, discarded: 2 });
    finish(Arc::try_unwrap(pool).unwrap(), &tracker);
}

/// Gets `n` objects at once and returns them, `rounds` times.
fn use_steadily(pool: &Pool<Tracked>, n: usize, rounds: usize) {
    for _ in 0..rounds {
        drop((0..n).map(|_| pool.get()).collect::<Vec<_>>());
    }
}

#[test]
fn trim_unused_shrinks_to_the_working_set_after_a_burst() {
    let tracker = Tracker::new();
    let pool = tracked_pool(&tracker, 64, 0);
    use_steadily(&pool, 40, 1); // the burst
    assert_stats!(NoPeak(&pool), { created: 40, returned: 40, idle: 40 });
    assert_eq!(
        pool.trim_unused(),
        0,
        "all 40 were in use during the period"
    );
    use_steadily(&pool, 5, 3);
    assert_eq!(pool.trim_unused(), 35, "35 stayed idle all period");
    assert_stats!(NoPeak(&pool), { created: 40, reused: 15, returned: 55, discarded: 35, idle: 5 });
    for _ in 0..3 {
        use_steadily(&pool, 5, 2);
        assert_eq!(pool.trim_unused(), 0, "the working set is in use");
    }
    assert_stats!(NoPeak(&pool), { created: 40, reused: 45, returned: 85, discarded: 35, idle: 5 });
    finish(pool, &tracker);
}

#[test]
fn trim_unused_shrinks_after_a_burst_with_thread_caches() {
    let (thread_cache, working_set) = (4, 5);
    let tracker = Tracker::new();
    let pool = tracked_pool(&tracker, 64, thread_cache);
    use_steadily(&pool, 40, 1);
    assert_eq!(pool.stats().idle, 40);
    pool.trim_unused();
    use_steadily(&pool, working_set, 3);
    let trimmed = pool.trim_unused();
    let idle = pool.stats().idle;
    assert_eq!(idle, 40 - trimmed);
    assert!(
        (working_set..=working_set + thread_cache).contains(&idle),
        "shrank to the working set: {idle} idle"
    );
    for _ in 0..3 {
        use_steadily(&pool, working_set, 2);
        assert_eq!(pool.trim_unused(), 0, "the working set is in use");
    }
    assert_stats!(NoPeak(&pool), {
        created: 40,
        reused: 5 * 9,
        returned: 40 + 5 * 9,
        discarded: trimmed as u64,
        idle: idle,
    });
    finish(pool, &tracker);
}

#[test]
fn a_steadily_busy_pool_loses_nothing_to_trim_unused() {
    // The working set lives in the depot (no thread cache), or fits the thread cache.
    for thread_cache in [0, 8] {
        let tracker = Tracker::new();
        let pool = tracked_pool(&tracker, 64, thread_cache);
        for _ in 0..5 {
            use_steadily(&pool, 5, 2);
            assert_eq!(pool.trim_unused(), 0);
        }
        assert_stats!(NoPeak(&pool), { created: 5, reused: 45, returned: 50, idle: 5 });
        finish(pool, &tracker);
    }
}

#[test]
fn prefill_creates_idle_objects_up_front() {
    for (prefill, thread_cache) in [(8, 0), (4, 4)] {
        let tracker = Tracker::new();
        let (factory, calls) = counting_factory(&tracker);
        let pool = Pool::builder(factory)
            .max_idle(8)
            .thread_cache(thread_cache)
            .prefill(prefill)
            .build()
            .unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), prefill);
        assert_stats!(pool, { created: prefill as u64, idle: prefill });
        let guards: Vec<_> = (0..prefill).map(|_| pool.get()).collect();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            prefill,
            "all served from prefill"
        );
        assert_stats!(NoPeak(&pool), { created: prefill as u64, reused: prefill as u64, in_use: prefill });
        drop(guards);
        assert_stats!(NoPeak(&pool), {
            created: prefill as u64,
            reused: prefill as u64,
            returned: prefill as u64,
            idle: prefill,
        });
        finish(pool, &tracker);
    }
}

#[test]
fn prefill_larger_than_thread_cache_keeps_idle_bounded() {
    let (max_idle, thread_cache) = (32, 2);
    let tracker = Tracker::new();
    let pool = Pool::builder(tracker.factory())
        .max_idle(max_idle)
        .thread_cache(thread_cache)
        .prefill(max_idle)
        .build()
        .unwrap();
    drop(pool.get()); // takes the whole prefilled magazine (32) into this thread's cache
                      // Another thread fills the depot back up to max_idle, then exits (flushing its cache).
    std::thread::scope(|s| {
        let filler = s.spawn(|| (0..40).for_each(|_| drop(pool.put(tracker.make()))));
        filler.join().unwrap();
    });
    // Fails: 30 objects stay in this thread's cache of size 2, plus a full depot: 62 idle.
    assert_idle_bound(&pool, max_idle, thread_cache, 1);
    finish(pool, &tracker);
}

#[test]
fn peak_in_use_is_exact_without_thread_cache() {
    let tracker = Tracker::new();
    let pool = tracked_pool(&tracker, 8, 0);
    drop((pool.get(), pool.get(), pool.get()));
    // The documented slack is thread_cache per thread: 0 here.
    assert_peak_within(&pool, 3, 0);
    finish(pool, &tracker);
}

#[test]
fn owned_guards_outlive_every_pool_handle() {
    let tracker = Tracker::new();
    let pool = tracked_pool(&tracker, 4, 4);
    drop(pool.get()); // one idle object, in this thread's cache
    let mut guards: Vec<OwnedPooled<Tracked>> = (0..3).map(|_| pool.get_owned()).collect();
    for (i, g) in guards.iter_mut().enumerate() {
        g.data.push(i as u8);
    }
    let kept = OwnedPooled::detach(guards.pop().unwrap());
    assert_stats!(NoPeak(&pool), { created: 3, reused: 1, returned: 1, detached: 1, in_use: 2 });
    drop(pool);
    assert_eq!(
        tracker.live(),
        3,
        "the guards keep the pool and its objects alive"
    );

    std::thread::spawn(move || {
        for (i, g) in guards.iter().enumerate() {
            assert_eq!(g.data, [i as u8]);
        }
        drop(guards); // the last one drops the pool, on this thread
    })
    .join()
    .unwrap();
    assert_eq!(tracker.live(), 1, "only the detached object is left");
    assert!(tracker.is_live(kept.id));
    drop(kept);
    tracker.assert_all_dropped_once();
}

static FACTORY_CALLS: AtomicUsize = AtomicUsize::new(0);
static GLOBAL: Lazy<Pool<Vec<u8>>> = Lazy::new(|| {
    Pool::new(|| {
        FACTORY_CALLS.fetch_add(1, Ordering::SeqCst);
        Vec::with_capacity(16)
    })
});

#[test]
fn a_global_lazy_pool_creates_nothing_before_first_use() {
    assert!(Lazy::get(&GLOBAL).is_none(), "not built before first use");
    assert_eq!(GLOBAL.stats(), hotpool::PoolStats::default());
    assert_eq!(
        FACTORY_CALLS.load(Ordering::SeqCst),
        0,
        "building made nothing"
    );
    {
        let mut buf = GLOBAL.get();
        buf.extend_from_slice(b"hello");
        assert_eq!(FACTORY_CALLS.load(Ordering::SeqCst), 1);
    }
    let buf = GLOBAL.get();
    assert!(buf.is_empty());
    drop(buf);
    std::thread::spawn(|| drop(GLOBAL.get())).join().unwrap();
    assert_eq!(FACTORY_CALLS.load(Ordering::SeqCst), 2, "one per thread");
    let stats = GLOBAL.stats();
    assert_eq!((stats.created, stats.reused, stats.in_use), (2, 1, 0));
}

#[test]
fn debug_shows_the_depot_and_the_objects() {
    let pool = Pool::builder(|| vec![1u8, 2])
        .thread_cache(0)
        .recycle_with(|_: &mut Vec<u8>| true)
        .build()
        .unwrap();
    assert_eq!(format!("{pool:?}"), "Pool { depot_idle: 0, .. }");
    let g = pool.get();
    let owned = pool.get_owned();
    assert_eq!(format!("{g:?}"), "[1, 2]");
    assert_eq!(format!("{owned:?}"), "[1, 2]");
    drop((g, owned));
    assert_eq!(format!("{pool:?}"), "Pool { depot_idle: 2, .. }");
}
