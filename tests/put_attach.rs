//! Getting objects in: `put_all` hands over many objects and returns every one it refused;
//! `LocalPool::attach` wraps an outside object in a guard of the pool (the inverse of
//! `detach`), counted as a `put` followed by a `get` served by it.

mod support;

use std::rc::Rc;

use hotpool::{LocalOwnedPooled, LocalPool, LocalPooled, Pool};
use support::{assert_stats, Tracked, Tracker};

#[test]
fn local_put_all_keeps_up_to_max_idle_and_returns_the_rest_in_order() {
    let pool = LocalPool::builder(String::new).max_idle(3).build().unwrap();
    let leftovers = pool.put_all((0..5).map(|i| format!("s{i}")));
    assert_eq!(leftovers, ["", ""]); // reset, as `put` hands them back
    assert_stats!(pool, { returned: 3, idle: 3 });
    assert!(pool.put_all(Vec::new()).is_empty());
}

#[test]
fn local_put_all_returns_what_the_policy_refused() {
    let pool = LocalPool::builder(Vec::<u8>::new)
        .max_retained_bytes(16)
        .build()
        .unwrap();
    let leftovers = pool.put_all([8, 32, 16, 64].map(Vec::<u8>::with_capacity));
    let caps: Vec<usize> = leftovers.iter().map(Vec::capacity).collect();
    assert_eq!(caps, [32, 64]);
    assert_stats!(pool, { returned: 2, idle: 2 });
}

#[test]
fn shared_put_all_loses_nothing() {
    let tracker = Tracker::new();
    let pool = Pool::builder(tracker.factory())
        .max_idle(2)
        .thread_cache(1)
        .build()
        .unwrap();
    let objects: Vec<Tracked> = (0..6).map(|_| tracker.make()).collect();
    let leftovers = pool.put_all(objects);
    assert_eq!(leftovers.len(), 3); // 2 in the depot, 1 in this thread's cache
    assert_eq!(pool.stats().idle, 3);
    drop(leftovers);
    drop(pool);
    tracker.assert_all_dropped_once();
}

#[test]
fn attach_wraps_without_reset_and_counts_put_plus_reuse() {
    let tracker = Tracker::new();
    let pool = LocalPool::builder(tracker.factory()).build().unwrap();
    let mut outside = tracker.make();
    outside.data.extend_from_slice(b"kept as is");
    let id = outside.id;
    let guard: LocalPooled<'_, Tracked> = pool.attach(outside);
    assert_eq!((guard.id, &guard.data[..]), (id, &b"kept as is"[..]));
    let expected = assert_stats!(pool, { returned: 1, reused: 1, in_use: 1, peak_in_use: 1 });
    drop(guard); // recycled like any object of the pool
    let expected = assert_stats!(pool, { returned: 2, idle: 1, in_use: 0, ..expected });
    let again = pool.get();
    assert_eq!((again.id, again.data.len()), (id, 0)); // reset on its way back
    assert_stats!(pool, { reused: 2, idle: 0, in_use: 1, ..expected });
    assert_eq!(tracker.created(), 1, "the factory never ran");
    drop(again);
    drop(pool);
    tracker.assert_all_dropped_once();
}

#[test]
fn attach_is_the_inverse_of_detach() {
    let pool = LocalPool::new(Vec::<u8>::new);
    let mut g = pool.get();
    g.push(1);
    let v = LocalPooled::detach(g);
    let g = pool.attach(v);
    assert_eq!(&g[..], [1]);
    drop(g);
    let s = pool.stats();
    assert_eq!((s.created, s.detached, s.in_use, s.idle), (1, 1, 0, 1));
}

#[test]
fn attached_objects_count_in_the_peak_and_obey_the_policy() {
    let pool = LocalPool::builder(Vec::<u8>::new)
        .max_retained_bytes(8)
        .build()
        .unwrap();
    let a = pool.attach(Vec::with_capacity(64));
    let b = pool.get();
    assert_eq!(pool.stats().peak_in_use, 2);
    drop((a, b)); // `a` retains too much: discarded on return
    let s = pool.stats();
    assert_eq!((s.discarded, s.idle, s.in_use), (1, 1, 0));
}

#[test]
fn attach_owned_keeps_the_pool_alive() {
    let pool = Rc::new(LocalPool::new(String::new));
    let guard: LocalOwnedPooled<String> = pool.attach_owned("x".repeat(3));
    assert_eq!(Rc::strong_count(&pool), 2);
    assert_eq!(*guard, "xxx");
    drop(guard);
    assert_eq!((Rc::strong_count(&pool), pool.stats().idle), (1, 1));
}

#[test]
fn pool_attach_counts_as_local_pool_attach_does() {
    for thread_cache in [0, 4] {
        let tracker = Tracker::new();
        let pool = Pool::builder(tracker.factory())
            .thread_cache(thread_cache)
            .build()
            .unwrap();
        let mut outside = tracker.make();
        outside.data.extend_from_slice(b"kept as is");
        let id = outside.id;
        let guard = pool.attach(outside);
        assert_eq!((guard.id, &guard.data[..]), (id, &b"kept as is"[..]));
        let s = pool.stats();
        assert_eq!(
            (s.created, s.returned, s.reused, s.in_use, s.idle),
            (0, 1, 1, 1, 0)
        );
        drop(guard); // recycled like any object of the pool
        let s = pool.stats();
        assert_eq!((s.returned, s.in_use, s.idle), (2, 0, 1));
        let again = pool.get();
        assert_eq!((again.id, again.data.len()), (id, 0)); // reset on its way back
        let s = pool.stats();
        assert_eq!((s.reused, s.in_use, s.idle), (2, 1, 0));
        assert_eq!(tracker.created(), 1, "the factory never ran");
        let detached = hotpool::Pooled::detach(again);
        let back = pool.attach(detached); // and in again
        drop(back);
        let s = pool.stats();
        assert_eq!(
            (s.detached, s.in_use, s.idle),
            (1, 0, 1),
            "thread_cache {thread_cache}"
        );
        drop(pool);
        tracker.assert_all_dropped_once();
    }
}
