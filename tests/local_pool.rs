//! Behaviour of `LocalPool` and its guards: returning, detaching, caps, trimming, panics
//! anywhere (factory, recycle, `T::drop`, user code) and re-entrant use of the pool.
//!
//! Every test ends with the pool dropped and `Tracker::assert_all_dropped_once`, and checks the
//! full stats after each step.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use hotpool::{LocalOwnedPooled, LocalPolicy, LocalPool, LocalPooled, Recycle};
use support::{assert_stats, expect_panic, Retains, Tracked, Tracker, DROP_PANIC, RESET_PANIC};

fn pool(tracker: &Arc<Tracker>, max_idle: usize) -> LocalPool<Tracked> {
    LocalPool::builder(tracker.factory())
        .max_idle(max_idle)
        .build()
        .unwrap()
}

/// Drops the pool and checks that every object the tracker made was dropped exactly once.
fn finish<T, R>(pool: LocalPool<T, R>, tracker: &Tracker) {
    drop(pool);
    tracker.assert_all_dropped_once();
}

/// [`finish`] for a pool in an `Rc`, which must be its last handle.
fn finish_rc<T, R>(pool: Rc<LocalPool<T, R>>, tracker: &Tracker) {
    let pool = Rc::try_unwrap(pool).unwrap_or_else(|_| panic!("a handle of the pool is left"));
    finish(pool, tracker);
}

/// A factory that counts its calls and panics with "factory failed" while `fail` is set.
fn flaky_factory(
    tracker: &Arc<Tracker>,
) -> (
    impl Fn() -> Tracked + 'static,
    Rc<Cell<usize>>,
    Rc<Cell<bool>>,
) {
    let (calls, fail) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)));
    let (tracker, c, f) = (Arc::clone(tracker), Rc::clone(&calls), Rc::clone(&fail));
    let factory = move || {
        c.set(c.get() + 1);
        assert!(!f.get(), "factory failed");
        tracker.make()
    };
    (factory, calls, fail)
}

#[test]
fn guard_returns_object_on_drop_reset_with_capacity_kept() {
    let tracker = Tracker::new();
    let pool = pool(&tracker, 4);
    let id = {
        let mut g = pool.get();
        g.data.extend_from_slice(b"dirty");
        assert_eq!(
            format!("{:?}", g),
            format!("{:?}", *g),
            "Debug shows the object"
        );
        assert_stats!(pool, { created: 1, in_use: 1, peak_in_use: 1 });
        g.id
    };
    assert_stats!(pool, { created: 1, returned: 1, idle: 1, peak_in_use: 1 });
    assert!(tracker.is_live(id), "an idle object stays alive");

    let g = pool.get();
    assert_eq!(g.id, id, "the idle object is reused");
    assert!(g.data.is_empty(), "reset on return");
    assert!(g.data.capacity() >= 5, "capacity kept");
    drop(g);
    assert_stats!(pool, { created: 1, reused: 1, returned: 2, idle: 1, peak_in_use: 1 });
    finish(pool, &tracker);
}

#[test]
fn guards_return_objects_on_unwind() {
    let tracker = Tracker::new();
    let pool = pool(&tracker, 4);
    expect_panic("user code failed", || {
        let mut a = pool.get();
        let _b = pool.get();
        a.data.push(1);
        panic!("user code failed");
    });
    let expected = assert_stats!(pool, { created: 2, returned: 2, idle: 2, peak_in_use: 2 });

    // Still usable, and what came back was reset.
    let (a, b) = (pool.get(), pool.get());
    assert!(a.data.is_empty() && b.data.is_empty());
    assert_ne!(a.id, b.id);
    drop((a, b));
    assert_stats!(pool, { reused: 2, returned: 4, ..expected });
    finish(pool, &tracker);
}

#[test]
fn detach_takes_the_object_out_of_the_pool_for_good() {
    let tracker = Tracker::new();
    let pool = pool(&tracker, 4);
    let mut g = pool.get();
    g.data.push(7);
    let value: Tracked = LocalPooled::detach(g);
    assert_eq!(value.data, [7], "a detached object is not recycled");
    let expected = assert_stats!(pool, { created: 1, detached: 1, peak_in_use: 1 });

    // The next get makes a new object: the detached one is gone from the pool.
    let g = pool.get();
    assert_ne!(g.id, value.id);
    drop(g);
    assert_stats!(pool, { created: 2, returned: 1, idle: 1, ..expected });

    drop(pool);
    assert!(
        tracker.is_live(value.id),
        "the pool never drops a detached object"
    );
    assert_eq!(tracker.live(), 1);
    drop(value);
    tracker.assert_all_dropped_once();
}

fn assert_static<T: 'static>(_: &T) {}

#[test]
fn owned_guards_keep_the_pool_alive() {
    let tracker = Tracker::new();
    let pool = Rc::new(pool(&tracker, 4));
    let weak = Rc::downgrade(&pool);
    assert!(pool.try_get_owned().is_none(), "nothing idle yet");

    let mut a = pool.get_owned();
    let b = pool.get_owned();
    assert_static(&a);
    assert_eq!(
        Rc::strong_count(&pool),
        3,
        "each owned guard holds the pool"
    );
    a.data.push(1);
    drop(pool); // the last handle outside the guards

    assert!(weak.upgrade().is_some());
    assert_eq!(a.data, [1]);
    let expected =
        assert_stats!(weak.upgrade().unwrap(), { created: 2, in_use: 2, peak_in_use: 2 });

    let kept = LocalOwnedPooled::detach(b);
    assert_stats!(weak.upgrade().unwrap(), { detached: 1, in_use: 1, ..expected });
    let a_id = a.id;
    drop(a); // returns to the pool, which then drops with its idle object
    assert!(weak.upgrade().is_none(), "the last guard dropped the pool");
    assert!(!tracker.is_live(a_id));
    assert!(tracker.is_live(kept.id));
    drop(kept);
    tracker.assert_all_dropped_once();
}

#[test]
fn try_get_owned_hands_out_idle_objects_only() {
    let tracker = Tracker::new();
    let pool = Rc::new(pool(&tracker, 4));
    let id = pool.get_owned().id;
    let g = pool.try_get_owned().expect("one idle object");
    assert_eq!(g.id, id);
    assert!(pool.try_get_owned().is_none());
    drop(g);
    assert_stats!(pool, { created: 1, reused: 1, returned: 2, idle: 1, peak_in_use: 1 });
    finish_rc(pool, &tracker);
}

#[test]
fn try_get_never_runs_the_factory() {
    let tracker = Tracker::new();
    let (factory, calls, _) = flaky_factory(&tracker);
    let pool = LocalPool::new(factory);
    assert!(pool.try_get().is_none());
    assert_eq!(calls.get(), 0);
    assert_stats!(pool, {});

    let id = pool.get().id;
    assert_eq!(calls.get(), 1);
    let g = pool.try_get().expect("one idle object");
    assert_eq!(g.id, id);
    assert!(pool.try_get().is_none(), "the only object is in use");
    assert_eq!(calls.get(), 1);
    assert_stats!(pool, { created: 1, reused: 1, returned: 1, in_use: 1, peak_in_use: 1 });
    drop(g);
    finish(pool, &tracker);
}

#[test]
fn put_keeps_the_value_or_hands_it_back() {
    let tracker = Tracker::new();
    let pool = LocalPool::builder(tracker.factory())
        .max_idle(2)
        .max_retained_bytes(16)
        .build()
        .unwrap();

    let mut a = tracker.make();
    a.data.extend_from_slice(b"abc");
    let a_id = a.id;
    assert!(pool.put(a).is_ok());
    assert_stats!(pool, { returned: 1, idle: 1 }); // put is counted as returned, not created
    let g = pool.get();
    assert_eq!(g.id, a_id, "a put value is handed out");
    assert!(g.data.is_empty(), "put resets the value");
    drop(g);
    assert!(pool.put(tracker.make()).is_ok());

    // Full: handed back, reset, not counted as discarded (the pool did not drop it).
    let mut c = tracker.make();
    c.data.push(1);
    let c_id = c.id;
    let back = pool.put(c).unwrap_err();
    assert_eq!(back.id, c_id);
    assert!(back.data.is_empty());
    let expected =
        assert_stats!(pool, { reused: 1, returned: 3, idle: 2, in_use: 0, peak_in_use: 1 });

    // Refused by the recycle policy (retains too much): handed back even with room to spare.
    assert_eq!(pool.trim(), 2);
    let mut big = back;
    big.data.reserve(17);
    let back = pool.put(big).unwrap_err();
    assert_eq!(back.id, c_id);
    assert!(back.data.capacity() > 16);
    assert_stats!(pool, { discarded: 2, idle: 0, ..expected });
    drop(back);
    finish(pool, &tracker);
}

#[test]
fn max_idle_caps_idle_objects_and_counts_the_rest_as_discarded() {
    let tracker = Tracker::new();
    let pool = pool(&tracker, 2);
    assert_eq!(pool.max_idle(), 2);
    let guards: Vec<_> = (0..5).map(|_| pool.get()).collect();
    drop(guards);
    let expected =
        assert_stats!(pool, { created: 5, returned: 2, discarded: 3, idle: 2, peak_in_use: 5 });
    assert_eq!(tracker.live(), 2, "the extra returns were dropped at once");

    for round in 1..=3u64 {
        drop((pool.get(), pool.get(), pool.get()));
        assert!(pool.stats().idle <= 2);
        assert_stats!(pool, {
            created: 5 + round, reused: 2 * round, returned: 2 + 2 * round,
            discarded: 3 + round, ..expected
        });
    }
    finish(pool, &tracker);
}

#[test]
fn max_retained_bytes_drops_objects_that_grew() {
    let tracker = Tracker::new();
    let pool = LocalPool::builder(tracker.factory())
        .max_retained_bytes(64)
        .build()
        .unwrap();
    let (mut small, mut big) = (pool.get(), pool.get());
    small.data.extend_from_slice(&[0; 8]);
    big.data.reserve(1000);
    let (small_id, big_id) = (small.id, big.id);
    drop(big);
    assert!(!tracker.is_live(big_id), "dropped on return");
    drop(small);
    assert!(tracker.is_live(small_id));
    assert_stats!(pool, { created: 2, returned: 1, discarded: 1, idle: 1, peak_in_use: 2 });
    finish(pool, &tracker);
}

#[test]
fn max_retained_bytes_is_inclusive() {
    let pool = LocalPool::builder(Retains::default)
        .max_retained_bytes(100)
        .build()
        .unwrap();
    let (mut at_cap, mut above) = (pool.get(), pool.get());
    at_cap.retained = 100;
    at_cap.value = 1;
    above.retained = 101;
    drop((at_cap, above));
    assert_stats!(pool, { created: 2, returned: 1, discarded: 1, idle: 1, peak_in_use: 2 });
    let kept = pool.get();
    assert_eq!(
        *kept,
        Retains {
            retained: 100,
            value: 0
        }
    );
}

#[test]
fn recycle_with_closure_replaces_recycle_reset() {
    let tracker = Tracker::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&seen);
    let pool = LocalPool::builder(tracker.factory())
        .recycle_with(move |t: &mut Tracked| {
            log.borrow_mut().push(t.id);
            t.data.push(b'!'); // not cleared: proves `Recycle::reset` is not used
            t.id % 2 == 0
        })
        .build()
        .unwrap();
    let (a, b) = (pool.get(), pool.get());
    let (a_id, b_id) = (a.id, b.id);
    assert_eq!((a_id % 2, b_id % 2), (0, 1));
    drop(a);
    drop(b);
    assert_eq!(*seen.borrow(), [a_id, b_id]);
    assert!(!tracker.is_live(b_id), "refused by the closure: dropped");
    let g = pool.get();
    assert_eq!((g.id, &g.data[..]), (a_id, &b"!"[..]));
    drop(g);
    assert_stats!(pool, {
        created: 2, reused: 1, returned: 2, discarded: 1, idle: 1, peak_in_use: 2
    });
    finish(pool, &tracker);
}

#[test]
fn trim_drops_every_idle_object_and_returns_the_count() {
    let tracker = Tracker::new();
    let pool = LocalPool::builder(tracker.factory())
        .prefill(3)
        .build()
        .unwrap();
    let held = pool.get();
    assert_eq!(pool.trim(), 2);
    assert_eq!(tracker.live(), 1, "only the object in use is left");
    assert!(tracker.is_live(held.id));
    assert_eq!(pool.trim(), 0);
    let expected =
        assert_stats!(pool, { created: 3, reused: 1, discarded: 2, in_use: 1, peak_in_use: 1 });
    drop(held);
    assert_stats!(pool, {
        returned: 1, idle: 1, in_use: 0, ..expected
    }); // trim does not stop later returns
    finish(pool, &tracker);
}

#[test]
fn prefill_creates_objects_up_front() {
    let tracker = Tracker::new();
    let (factory, calls, _) = flaky_factory(&tracker);
    let pool = LocalPool::builder(factory)
        .max_idle(4)
        .prefill(4)
        .build()
        .unwrap();
    assert_eq!(calls.get(), 4);
    assert_stats!(pool, { created: 4, idle: 4 });
    let guards: Vec<_> = (0..4).map(|_| pool.get()).collect();
    assert_eq!(calls.get(), 4, "prefilled objects are handed out first");
    let fifth = pool.get();
    assert_eq!(calls.get(), 5);
    drop((guards, fifth));
    assert_stats!(pool, {
        created: 5, reused: 4, returned: 4, discarded: 1, idle: 4, peak_in_use: 5
    });
    finish(pool, &tracker);
}

#[test]
fn factory_panic_leaves_the_pool_usable() {
    let tracker = Tracker::new();
    let (factory, _, fail) = flaky_factory(&tracker);
    let pool = Rc::new(LocalPool::new(factory));
    fail.set(true);
    expect_panic("factory failed", || pool.get());
    expect_panic("factory failed", || pool.get_owned());
    assert_eq!(
        Rc::strong_count(&pool),
        1,
        "the failed owned guard let go of the pool"
    );
    assert_stats!(pool, {});

    fail.set(false);
    drop(pool.get());
    fail.set(true);
    let held = pool.get(); // served from idle: the factory is not called
    expect_panic("factory failed", || pool.get());
    assert_stats!(pool, { created: 1, reused: 1, returned: 1, in_use: 1, peak_in_use: 1 });
    drop(held);
    finish_rc(pool, &tracker);
}

#[test]
fn factory_panic_during_prefill_drops_what_was_made() {
    let tracker = Tracker::new();
    let made = Arc::clone(&tracker);
    let factory = move || {
        assert!(made.created() < 2, "factory failed");
        made.make()
    };
    expect_panic("factory failed", || {
        LocalPool::builder(factory).prefill(5).build()
    });
    assert_eq!(tracker.created(), 2);
    tracker.assert_all_dropped_once();
}

#[test]
fn recycle_panic_discards_the_object_and_keeps_counts() {
    let tracker = Tracker::new();
    let pool = pool(&tracker, 4);
    let mut g = pool.get();
    g.panic_in_reset = true;
    let id = g.id;
    expect_panic(RESET_PANIC, || drop(g));
    assert!(!tracker.is_live(id), "dropped during the unwind");
    let expected = assert_stats!(pool, { created: 1, discarded: 1, peak_in_use: 1 });

    drop(pool.get());
    assert_stats!(pool, { created: 2, returned: 1, idle: 1, ..expected }); // still usable
    finish(pool, &tracker);
}

#[test]
fn recycle_panic_in_put_drops_the_value_and_changes_nothing() {
    let tracker = Tracker::new();
    let pool = pool(&tracker, 4);
    let mut value = tracker.make();
    value.panic_in_reset = true;
    expect_panic(RESET_PANIC, || pool.put(value));
    assert_stats!(pool, {});
    finish(pool, &tracker);
}

#[test]
fn drop_panic_when_the_pool_is_full_keeps_counts() {
    let tracker = Tracker::new();
    let pool = pool(&tracker, 1);
    let (a, mut b) = (pool.get(), pool.get());
    b.panic_on_drop = true;
    let (a_id, b_id) = (a.id, b.id);
    drop(a);
    expect_panic(DROP_PANIC, || drop(b));
    assert!(!tracker.is_live(b_id));
    assert_stats!(pool, { created: 2, returned: 1, discarded: 1, idle: 1, peak_in_use: 2 });
    assert_eq!(pool.get().id, a_id, "still usable");
    finish(pool, &tracker);
}

#[test]
fn drop_panic_when_the_policy_refuses_keeps_counts() {
    let tracker = Tracker::new();
    let pool = LocalPool::builder(tracker.factory())
        .max_retained_bytes(8)
        .build()
        .unwrap();
    let mut g = pool.get();
    g.panic_on_drop = true;
    g.data.reserve(9);
    expect_panic(DROP_PANIC, || drop(g));
    assert_stats!(pool, { created: 1, discarded: 1, peak_in_use: 1 });
    finish(pool, &tracker);
}

#[test]
fn drop_panic_in_trim_still_drops_every_idle_object() {
    let tracker = Tracker::new();
    let pool = pool(&tracker, 4);
    let mut guards: Vec<_> = (0..3).map(|_| pool.get()).collect();
    guards[1].panic_on_drop = true; // `reset` keeps the flag
    drop(guards);
    expect_panic(DROP_PANIC, || pool.trim());
    assert_eq!(tracker.live(), 0);
    assert_stats!(pool, { created: 3, returned: 3, discarded: 3, peak_in_use: 3 });
    drop(pool.get());
    assert_eq!(pool.stats().idle, 1, "still usable");
    finish(pool, &tracker);
}

#[test]
fn factory_may_use_its_own_pool() {
    let tracker = Tracker::new();
    let spares = Arc::clone(&tracker);
    let pool = Rc::new_cyclic(|weak: &Weak<LocalPool<Tracked>>| {
        let weak = weak.clone();
        let make = tracker.factory();
        LocalPool::new(move || {
            let pool = weak
                .upgrade()
                .expect("the pool is alive while it runs its factory");
            let _ = pool.stats();
            assert!(
                pool.try_get().is_none(),
                "the factory runs only when nothing is idle"
            );
            assert_eq!(pool.trim(), 0);
            pool.put(spares.make()).expect("room for a spare");
            make()
        })
    });
    let g = pool.get();
    let expected =
        assert_stats!(pool, { created: 1, returned: 1, idle: 1, in_use: 1, peak_in_use: 1 });
    let spare = pool.get(); // the spare the factory put: no second factory call
    assert_eq!(tracker.created(), 2);
    drop((g, spare));
    assert_stats!(pool, { reused: 1, returned: 3, idle: 2, in_use: 0, peak_in_use: 2, ..expected });
    finish_rc(pool, &tracker);
}

type BoxedRecycle = Box<dyn Fn(&mut Tracked) -> bool>;

#[test]
fn recycle_closure_may_use_its_own_pool() {
    let tracker = Tracker::new();
    let pool = Rc::new_cyclic(|weak: &Weak<LocalPool<Tracked, LocalPolicy<Tracked>>>| {
        let weak = weak.clone();
        let recycle: BoxedRecycle = Box::new(move |t: &mut Tracked| {
            t.data.clear();
            let pool = weak.upgrade().expect("the pool is alive while it recycles");
            let _ = pool.stats();
            if t.id == 0 {
                drop(pool.get()); // makes object 1 and returns it, inside this return
                assert_eq!(pool.trim(), 1); // drops object 1
                let spare = LocalPooled::detach(pool.get()); // makes object 2
                pool.put(spare).expect("room to put");
            }
            true
        });
        LocalPool::builder(tracker.factory())
            .recycle_with(recycle)
            .build()
            .unwrap()
    });
    drop(pool.get());
    assert_eq!(tracker.created(), 3);
    assert!(!tracker.is_live(1));
    // Object 0 counts as in use until it is back on the idle stack, so while its policy runs
    // and object 1 is out, two are in use.
    assert_stats!(pool, {
        created: 3, returned: 3, discarded: 1, detached: 1, idle: 2, peak_in_use: 2
    });
    finish_rc(pool, &tracker);
}

/// What a [`Reentrant`] does with its own pool.
type Hook = fn(&LocalPool<Reentrant>);

fn no_hook(_: &LocalPool<Reentrant>) {}

/// An object that uses the pool it belongs to from `Recycle::reset` (once) and from `drop`.
struct Reentrant {
    tracked: Tracked,
    pool: Weak<LocalPool<Reentrant>>,
    on_reset: Hook,
    on_drop: Hook,
}

impl Recycle for Reentrant {
    fn reset(&mut self) {
        let hook = std::mem::replace(&mut self.on_reset, no_hook);
        if let Some(pool) = self.pool.upgrade() {
            hook(&pool);
        }
        self.tracked.reset();
    }

    fn retained_bytes(&self) -> usize {
        self.tracked.retained_bytes()
    }
}

impl Drop for Reentrant {
    fn drop(&mut self) {
        // No upgrade while the pool itself is being dropped.
        if let Some(pool) = self.pool.upgrade() {
            (self.on_drop)(&pool);
        }
    }
}

fn reentrant_pool(tracker: &Arc<Tracker>, max_idle: usize) -> Rc<LocalPool<Reentrant>> {
    Rc::new_cyclic(|weak| {
        let (weak, make) = (weak.clone(), tracker.factory());
        LocalPool::builder(move || Reentrant {
            tracked: make(),
            pool: weak.clone(),
            on_reset: no_hook,
            on_drop: no_hook,
        })
        .max_idle(max_idle)
        .max_retained_bytes(64)
        .build()
        .unwrap()
    })
}

/// Gets and returns, detaches and puts back, and trims: every entry point, nested.
fn use_every_entry_point(pool: &LocalPool<Reentrant>) {
    let _ = pool.stats();
    drop(pool.get());
    let value = LocalPooled::detach(pool.get());
    let _ = pool.put(value);
    pool.trim();
}

#[test]
fn recycle_reset_may_use_its_own_pool() {
    let tracker = Tracker::new();
    let pool = reentrant_pool(&tracker, 4);
    let mut g = pool.get(); // object 0
    g.on_reset = use_every_entry_point;
    drop(g);
    // Inside the return of 0: get makes 1 and returns it; get reuses 1, detach, put it back;
    // trim drops 1. Then 0 is kept. Object 0 counts as in use until it is back on the idle
    // stack, so with 1 out at the same time the peak is 2.
    assert_stats!(pool, {
        created: 2, reused: 1, returned: 3, discarded: 1, detached: 1, idle: 1, peak_in_use: 2
    });
    assert!(tracker.is_live(0) && !tracker.is_live(1));
    finish_rc(pool, &tracker);
}

#[test]
fn drop_of_an_object_discarded_when_full_may_use_its_own_pool() {
    let tracker = Tracker::new();
    let pool = reentrant_pool(&tracker, 1);
    let (a, mut b) = (pool.get(), pool.get());
    b.on_drop = use_every_entry_point;
    drop(a); // kept: the pool is now full
    drop(b); // discarded; its drop gets 0 and returns it, detaches 0 and puts it back, trims 0
    assert_stats!(pool, {
        created: 2, reused: 2, returned: 3, discarded: 2, detached: 1, peak_in_use: 2
    });
    assert_eq!(tracker.live(), 0);
    finish_rc(pool, &tracker);
}

#[test]
fn drop_of_an_object_refused_by_the_policy_may_use_its_own_pool() {
    let tracker = Tracker::new();
    let pool = reentrant_pool(&tracker, 4);
    let mut g = pool.get(); // object 0
    g.on_drop = use_every_entry_point;
    g.tracked.data.reserve(65); // above max_retained_bytes
    drop(g); // discarded; its drop makes 1, returns it, detaches and puts 1 back, trims 1
    assert_stats!(pool, {
        created: 2, reused: 1, returned: 2, discarded: 2, detached: 1, peak_in_use: 1
    });
    assert_eq!(tracker.live(), 0);
    finish_rc(pool, &tracker);
}

#[test]
fn drop_of_a_trimmed_object_may_use_its_own_pool() {
    let tracker = Tracker::new();
    let pool = reentrant_pool(&tracker, 4);
    let mut g = pool.get(); // object 0
    g.on_drop = use_every_entry_point;
    drop(g);
    // Trim drops 0; its drop makes 1, returns it, detaches and puts 1 back, trims 1.
    assert_eq!(pool.trim(), 1);
    assert_stats!(pool, {
        created: 2, reused: 1, returned: 3, discarded: 2, detached: 1, peak_in_use: 1
    });
    assert_eq!(tracker.live(), 0);
    finish_rc(pool, &tracker);
}
