//! Panics anywhere leave a `Pool` consistent: in the factory, in the recycle policy, in `T::drop`
//! when the pool discards an object (over the cap, refused, trimmed), and in user code while
//! guards are held (the guards return their objects while unwinding).
//!
//! After each panic: no object dropped twice or leaked (drop counters), the stats are exact, and
//! the pool still works.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hotpool::{Policy, Pool};
use support::pool::{finish, quiet_expected_panics, retaining_pool, tracked_pool, NoPeak};
use support::{assert_stats, expect_panic, Tracked, Tracker, DROP_PANIC, RESET_PANIC};

const FACTORY_PANIC: &str = "factory failed on purpose";
const RECYCLE_PANIC: &str = "recycle failed on purpose";

/// A pool whose factory panics while the returned flag is set.
fn flaky_pool(tracker: &Arc<Tracker>, thread_cache: usize) -> (Pool<Tracked>, Arc<AtomicBool>) {
    let fail = Arc::new(AtomicBool::new(false));
    let (tracker, f) = (Arc::clone(tracker), Arc::clone(&fail));
    let pool = Pool::builder(move || {
        assert!(!f.load(Ordering::Relaxed), "{FACTORY_PANIC}");
        tracker.make()
    })
    .max_idle(4)
    .thread_cache(thread_cache)
    .build()
    .unwrap();
    (pool, fail)
}

#[test]
fn a_panicking_factory_leaves_the_pool_as_it_was() {
    quiet_expected_panics();
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let (pool, fail) = flaky_pool(&tracker, thread_cache);
        let held = pool.get();
        drop(pool.get());
        let expected =
            assert_stats!(NoPeak(&pool), { created: 2, returned: 1, idle: 1, in_use: 1 });

        fail.store(true, Ordering::Relaxed);
        let idle = pool.get(); // served without the factory
        expect_panic(FACTORY_PANIC, || pool.get());
        expect_panic(FACTORY_PANIC, || pool.get_owned());
        assert!(pool.try_get().is_none());
        drop(idle);
        assert_stats!(NoPeak(&pool), { reused: 1, returned: 2, ..expected });

        fail.store(false, Ordering::Relaxed);
        drop((pool.get(), pool.get(), held));
        assert_stats!(NoPeak(&pool), { created: 3, reused: 2, returned: 5, idle: 3 });
        finish(pool, &tracker);
    }
}

#[test]
fn a_factory_panic_during_prefill_drops_what_was_made() {
    quiet_expected_panics();
    let tracker = Tracker::new();
    let factory = {
        let tracker = Arc::clone(&tracker);
        move || {
            assert!(tracker.created() < 3, "{FACTORY_PANIC}");
            tracker.make()
        }
    };
    expect_panic(FACTORY_PANIC, || {
        Pool::builder(factory).prefill(5).build().unwrap()
    });
    assert_eq!(tracker.created(), 3);
    tracker.assert_all_dropped_once();
}

/// A pool whose recycle policy panics on objects holding `[0xff]`.
fn pool_with_panicking_policy(
    tracker: &Arc<Tracker>,
    thread_cache: usize,
) -> Pool<Tracked, Policy<Tracked>> {
    Pool::builder(tracker.factory())
        .thread_cache(thread_cache)
        .recycle_with(|o: &mut Tracked| {
            assert!(o.data != [0xff], "{RECYCLE_PANIC}");
            o.data.clear();
            true
        })
        .build()
        .unwrap()
}

#[test]
fn a_panicking_recycle_policy_drops_the_object_once_and_counts_it() {
    quiet_expected_panics();
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let pool = pool_with_panicking_policy(&tracker, thread_cache);
        let (mut bad, good) = (pool.get(), pool.get());
        bad.data.push(0xff);
        let bad_id = bad.id;
        expect_panic(RECYCLE_PANIC, || drop(bad));
        assert!(!tracker.is_live(bad_id), "dropped while unwinding");
        assert_stats!(NoPeak(&pool), { created: 2, discarded: 1, in_use: 1 });
        drop(good);

        // `put`: the value never entered the pool, so nothing is counted.
        let mut value = tracker.make();
        value.data.push(0xff);
        expect_panic(RECYCLE_PANIC, || pool.put(value));
        assert_eq!(
            tracker.live(),
            1,
            "the put value was dropped while unwinding"
        );
        let expected =
            assert_stats!(NoPeak(&pool), { created: 2, returned: 1, discarded: 1, idle: 1 });

        drop(pool.get());
        assert_stats!(NoPeak(&pool), { reused: 1, returned: 2, ..expected });
        finish(pool, &tracker);
    }
}

/// Returns one object prepared by `spoil` to make the pool discard it with a panic `message`;
/// checks the counts, then that the pool still works.
fn discard_with_panic(thread_cache: usize, message: &str, spoil: impl FnOnce(&mut Tracked)) {
    let tracker = Tracker::new();
    let pool = retaining_pool(&tracker, 4, thread_cache, 16);
    let mut g = pool.get();
    spoil(&mut g);
    expect_panic(message, || drop(g));
    assert_stats!(NoPeak(&pool), { created: 1, discarded: 1 });
    drop(pool.get());
    assert_stats!(NoPeak(&pool), { created: 2, returned: 1, discarded: 1, idle: 1 });
    finish(pool, &tracker);
}

#[test]
fn a_panicking_reset_under_the_default_policy_is_counted() {
    quiet_expected_panics();
    for thread_cache in [0, 4] {
        discard_with_panic(thread_cache, RESET_PANIC, |o| o.panic_in_reset = true);
    }
}

#[test]
fn a_panicking_drop_of_an_object_over_the_idle_cap() {
    quiet_expected_panics();
    for thread_cache in [0, 1] {
        let tracker = Tracker::new();
        let pool = tracked_pool(&tracker, 1, thread_cache);
        let guards: Vec<_> = (0..3).map(|_| pool.get()).collect();
        let mut guards = guards.into_iter();
        for g in guards.by_ref().take(1 + thread_cache) {
            drop(g); // fills the depot and the cache
        }
        let mut over = guards.next().unwrap();
        over.panic_on_drop = true;
        let id = over.id;
        expect_panic(DROP_PANIC, || drop(over));
        assert!(!tracker.is_live(id));
        let kept = 1 + thread_cache as u64;
        assert_stats!(NoPeak(&pool), {
            created: 3,
            returned: kept,
            discarded: 1,
            idle: kept as usize,
            in_use: 2 - kept as usize,
        });
        drop(guards);
        drop(pool.get());
        tracker.assert_no_double_drop();
        finish(pool, &tracker);
    }
}

#[test]
fn a_panicking_drop_of_an_object_the_policy_refused() {
    quiet_expected_panics();
    for thread_cache in [0, 4] {
        discard_with_panic(thread_cache, DROP_PANIC, |o| {
            o.data.reserve(64);
            o.panic_on_drop = true;
        });
    }
}

/// Returns `n` objects to the pool, the middle one set to panic when dropped.
fn idle_objects_one_panicking(pool: &Pool<Tracked>, n: usize) {
    let mut guards: Vec<_> = (0..n).map(|_| pool.get()).collect();
    guards[n / 2].panic_on_drop = true;
    drop(guards);
}

#[test]
fn a_panicking_drop_during_trim_drops_every_other_object() {
    quiet_expected_panics();
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let pool = tracked_pool(&tracker, 16, thread_cache);
        idle_objects_one_panicking(&pool, 9);
        assert_stats!(NoPeak(&pool), { created: 9, returned: 9, idle: 9 });
        expect_panic(DROP_PANIC, || pool.trim());
        assert_eq!(tracker.live(), 0, "the others were still dropped");
        tracker.assert_all_dropped_once();
        assert_stats!(NoPeak(&pool), { created: 9, returned: 9, discarded: 9 });
        drop(pool.get());
        assert_stats!(NoPeak(&pool), { created: 10, returned: 10, discarded: 9, idle: 1 });
        finish(pool, &tracker);
    }
}

#[test]
fn a_panicking_drop_during_trim_unused_drops_every_other_object() {
    quiet_expected_panics();
    let tracker = Tracker::new();
    let pool = tracked_pool(&tracker, 16, 0);
    idle_objects_one_panicking(&pool, 9);
    assert_eq!(pool.trim_unused(), 0, "starts the period");
    expect_panic(DROP_PANIC, || pool.trim_unused());
    tracker.assert_all_dropped_once();
    assert_stats!(NoPeak(&pool), { created: 9, returned: 9, discarded: 9 });
    finish(pool, &tracker);
}

#[test]
fn guards_held_by_panicking_user_code_return_their_objects() {
    quiet_expected_panics();
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let pool = Arc::new(tracked_pool(&tracker, 8, thread_cache));
        expect_panic("user code failed on purpose", || {
            let mut a = pool.get();
            let mut b = pool.get_owned();
            a.data.push(1);
            b.data.push(2);
            let _c = pool.get();
            panic!("user code failed on purpose");
        });
        assert_stats!(NoPeak(&pool), { created: 3, returned: 3, idle: 3 });
        let guards: Vec<_> = (0..3).map(|_| pool.get()).collect();
        assert!(
            guards.iter().all(|g| g.data.is_empty()),
            "reset on the way back"
        );
        drop(guards);
        assert_stats!(NoPeak(&pool), { created: 3, reused: 3, returned: 6, idle: 3 });
        finish(Arc::try_unwrap(pool).unwrap(), &tracker);
    }
}

#[test]
fn a_thread_that_panics_holding_guards_returns_them_and_flushes_its_cache() {
    quiet_expected_panics();
    let tracker = Tracker::new();
    let pool = Arc::new(tracked_pool(&tracker, 8, 4));
    let worker = {
        let pool = Arc::clone(&pool);
        std::thread::spawn(move || {
            let _guards: Vec<_> = (0..3).map(|_| pool.get()).collect();
            panic!("worker failed on purpose");
        })
    };
    assert!(worker.join().is_err());
    assert_stats!(NoPeak(&pool), { created: 3, returned: 3, idle: 3 });
    assert_eq!(
        pool.trim(),
        3,
        "the exiting thread flushed its cache to the depot"
    );
    assert_stats!(NoPeak(&pool), { created: 3, returned: 3, discarded: 3 });
    finish(Arc::try_unwrap(pool).unwrap(), &tracker);
}
