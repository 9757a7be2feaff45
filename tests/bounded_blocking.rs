//! Bounded pools (`max_live`) with blocking and timed acquisitions: more threads than objects all
//! finish and the cap holds (counted by the objects themselves, see `support::Census`); a timed
//! wait fails at the cap and succeeds when an object comes back; `try_get` never waits or
//! creates; what ends an object (detach, a refusing policy, trim) frees its place for a waiter.
//!
//! No timing is asserted: a test only waits until something happens, and "the thread is
//! waiting" is read from `stats().waits`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use hotpool::{OwnedPooled, Pool, Pooled, Recycler, Timeout};
use support::pool::bounded;
use support::{rounds, Census, Counted};

/// Long enough that a timed wait that must succeed never times out first.
const LONG: Duration = Duration::from_secs(60);
/// A timed wait that must fail.
const SHORT: Duration = Duration::from_millis(5);

/// Waits until `pool` has counted `waits` acquisitions that waited: a thread is queued.
fn until_waits<R: Recycler<Counted> + Send + Sync + 'static>(pool: &Pool<Counted, R>, waits: u64) {
    while pool.stats().waits < waits {
        thread::yield_now();
    }
}

#[test]
fn more_threads_than_objects_all_finish_and_the_cap_holds() {
    let census = Census::new();
    let max_live = 3;
    let pool = bounded(&census, max_live);
    assert_eq!(pool.max_live(), Some(max_live));
    let timed_out = AtomicUsize::new(0);
    thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (pool, timed_out) = (&pool, &timed_out);
                s.spawn(move || {
                    for i in 0..rounds(2_000, 10) {
                        // Each thread mixes every blocking way to acquire.
                        match (t + i) % 4 {
                            0 => pool.get().data.push(1),
                            1 => pool.get_owned().data.push(2),
                            2 => pool.get_timeout(LONG).expect("a long wait").data.push(3),
                            _ => match pool.get_owned_timeout(Duration::from_micros(50)) {
                                Ok(mut held) => {
                                    held.data.push(4);
                                    thread::yield_now(); // hold it a little longer
                                }
                                Err(Timeout) => {
                                    timed_out.fetch_add(1, Ordering::Relaxed);
                                }
                            },
                        }
                    }
                })
            })
            .collect();
        // A join, unlike the scope's own wait, also waits for the threads' exit flushes: after
        // it, no thread cache holds a reference to the pool.
        for t in threads {
            t.join().unwrap();
        }
    });
    assert!(census.most() <= max_live, "{} alive at once", census.most());
    let stats = pool.stats();
    assert_eq!(stats.in_use, 0, "{stats}");
    assert!(stats.created as usize <= max_live, "{stats}");
    assert_eq!(stats.created as usize, census.made());
    // A timed-out acquisition counted as a wait, and changed nothing else.
    assert!(
        stats.waits >= timed_out.load(Ordering::Relaxed) as u64,
        "{stats}"
    );
    drop(pool);
    assert_eq!(census.alive(), 0);
}

#[test]
fn a_timed_wait_fails_at_the_cap_and_succeeds_when_an_object_comes_back() {
    let census = Census::new();
    let pool = bounded(&census, 2);
    let (a, b) = (pool.get(), pool.get());
    thread::scope(|s| {
        let short = s.spawn(|| pool.get_timeout(SHORT).map(drop));
        assert_eq!(short.join().unwrap(), Err(Timeout));
        let owned = s.spawn(|| pool.get_owned_timeout(SHORT).map(drop));
        assert_eq!(owned.join().unwrap(), Err(Timeout));
    });
    // The failed waits changed nothing but the count of waits.
    let stats = pool.stats();
    assert_eq!(
        (stats.created, stats.in_use, stats.waits),
        (2, 2, 2),
        "{stats}"
    );

    thread::scope(|s| {
        let long = s.spawn(|| pool.get_timeout(LONG).map(|g| g.data.capacity()));
        until_waits(&pool, 3);
        let mut a = a;
        a.data.reserve(100);
        drop(a); // handed to the waiting thread: reset, capacity kept
        assert!(long.join().unwrap().expect("an object came back") >= 100);
    });
    drop(b);
    let stats = pool.stats();
    assert_eq!(
        (stats.created, stats.in_use, stats.waits),
        (2, 0, 3),
        "{stats}"
    );
    assert_eq!(census.made(), 2);
}

#[test]
fn a_blocked_get_is_served_by_a_return_from_another_thread() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let held: OwnedPooled<Counted> = pool.get_owned();
    thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().data.len());
        until_waits(&pool, 1);
        // Returned from a third thread, neither the taker's nor the waiter's.
        s.spawn(move || drop(held)).join().unwrap();
        assert_eq!(waiter.join().unwrap(), 0);
    });
    assert_eq!((census.made(), census.most()), (1, 1));
}

#[test]
fn try_get_at_the_cap_returns_none_and_never_creates() {
    let census = Census::new();
    let pool = bounded(&census, 2);
    let a = pool.get();
    // Below the cap with nothing idle: still no factory run.
    assert!(pool.try_get().is_none());
    assert!(pool.try_get_owned().is_none());
    let b = pool.get();
    assert!(pool.try_get().is_none());
    assert!(pool.try_get_owned().is_none());
    let stats = pool.stats();
    assert_eq!(
        (stats.created, stats.in_use, stats.waits),
        (2, 2, 0),
        "{stats}"
    );
    assert_eq!(census.made(), 2);
    // An idle object is what it hands out.
    drop(a);
    assert!(pool.try_get().is_some());
    drop(b);
    assert_eq!(census.made(), 2);
}

#[test]
fn detach_frees_a_place_for_a_waiter() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let held = pool.get();
    let detached = thread::scope(|s| {
        let waiter = s.spawn(|| drop(pool.get()));
        until_waits(&pool, 1);
        // The object leaves the pool for good: its place goes to the waiter, which gets a new
        // object from the factory.
        let detached: Counted = Pooled::detach(held);
        waiter.join().unwrap();
        detached
    });
    let stats = pool.stats();
    assert_eq!(
        (stats.created, stats.detached, stats.idle),
        (2, 1, 1),
        "{stats}"
    );
    assert_eq!(census.made(), 2);
    // The detached object is not the pool's any more; the pool still has its one place full.
    assert!(pool.try_get().is_some());
    assert_eq!(pool.get_timeout(SHORT).map(drop), Ok(()));
    drop(detached);
    assert_eq!(census.alive(), 1);
}

#[test]
fn an_owned_detach_frees_a_place_too() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let detached: Counted = OwnedPooled::detach(pool.get_owned());
    let fresh = pool
        .get_timeout(SHORT)
        .expect("the detached object's place is free");
    assert_eq!((census.made(), census.alive()), (2, 2));
    drop((fresh, detached));
}

#[test]
fn a_return_the_policy_refuses_frees_a_place_for_a_waiter() {
    let census = Census::new();
    let pool = Pool::builder(census.factory())
        .keep_if(|c: &Counted| c.data.capacity() < 1024) // a grown buffer is dropped
        .max_live(1)
        .build()
        .expect("a valid configuration");
    let mut held = pool.get();
    held.data.reserve(4096);
    thread::scope(|s| {
        let waiter = s.spawn(|| pool.get().data.capacity());
        until_waits(&pool, 1);
        drop(held); // refused: dropped, and its place goes to the waiter
        assert!(waiter.join().unwrap() < 1024, "a new object");
    });
    let stats = pool.stats();
    assert_eq!(
        (stats.created, stats.discarded, stats.idle),
        (2, 1, 1),
        "{stats}"
    );
    // The refused object was dropped before its place was given away.
    assert_eq!((census.made(), census.most()), (2, 1));
}

#[test]
fn trim_frees_places() {
    let census = Census::new();
    let pool = bounded(&census, 2);
    let held = pool.get();
    drop(pool.get()); // idle in this thread's cache
    assert!(pool.get_timeout(SHORT).is_ok()); // reused, not a third object
    assert_eq!(census.made(), 2);
    assert_eq!(pool.trim(), 1);
    assert_eq!(census.alive(), 1);
    // The trimmed object's place is free: a new object fits, and then the pool is full again.
    let fresh = pool.get_timeout(SHORT).expect("a free place");
    assert_eq!(census.made(), 3);
    assert_eq!(pool.get_timeout(SHORT).map(drop), Err(Timeout));
    assert!(census.most() <= 2);
    drop((held, fresh));
}

#[test]
fn prefill_up_to_the_cap_fills_every_place() {
    let census = Census::new();
    let pool = Pool::builder(census.factory())
        .max_live(3)
        .prefill(3)
        .build()
        .expect("prefill may equal max_live");
    let held: Vec<_> = (0..3).map(|_| pool.get()).collect();
    assert_eq!(pool.get_timeout(SHORT).map(drop), Err(Timeout));
    assert_eq!(census.made(), 3);
    drop(held);
}

/// `peak_in_use` is documented as accurate to within `thread_cache` per thread. Objects that a
/// producer takes and a consumer returns, with waits between them, must not push it further.
#[test]
fn peak_in_use_stays_within_its_tolerance_when_objects_cross_threads() {
    let census = Census::new();
    let (max_live, thread_cache) = (8, 32);
    let pool = Pool::builder(census.factory())
        .max_live(max_live)
        .thread_cache(thread_cache)
        .build()
        .expect("a valid configuration");
    let (send, receive) = std::sync::mpsc::sync_channel(4);
    let pool = &pool;
    thread::scope(|s| {
        let producer = s.spawn(move || {
            for _ in 0..rounds(2_000, 10) * 10 {
                send.send(pool.get_owned()).unwrap();
            }
        });
        let consumer = s.spawn(move || receive.into_iter().for_each(drop));
        producer.join().unwrap();
        consumer.join().unwrap();
    });
    let stats = pool.stats();
    // This thread, the producer and the consumer: `thread_cache` each, over the cap.
    assert!(stats.peak_in_use <= max_live + 3 * thread_cache, "{stats}");
    assert!(census.most() <= max_live);
}
