//! Bounded pools under thread contention: the cap holds whatever the mix of operations, every
//! object ends exactly once, and waiters are never stranded while objects are idle.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hotpool::Pool;
use support::{rounds, Census, Counted};

#[test]
fn the_cap_holds_under_every_operation_mixed_across_threads() {
    let census = Census::new();
    let max_live = 3;
    let pool = Pool::builder(census.factory())
        // Every 13th return is refused, which frees a place for a waiter's new object.
        .recycle_with({
            let returns = AtomicUsize::new(0);
            move |_: &mut Counted| returns.fetch_add(1, Ordering::Relaxed) % 13 != 0
        })
        .max_live(max_live)
        .thread_cache(2)
        .max_idle(2)
        .build()
        .unwrap();
    // Spawned and joined, not scoped: `join` also waits for the threads' exit flushes, which
    // run in thread-local destructors after a scope would have returned.
    let workers: Vec<_> = (0..4usize)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..rounds(5_000, 20) {
                    match (i + t) % 7 {
                        0 => drop(pool.get_timeout(Duration::from_micros(50))),
                        1 => drop(pool.try_get()),
                        2 => {
                            let a = pool.get();
                            let b = pool.get_owned_timeout(Duration::from_millis(1));
                            drop((a, b));
                        }
                        4 if i % 11 == 0 => {
                            pool.trim();
                        }
                        _ => drop(pool.get()),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(
        census.most() <= max_live,
        "{} objects were alive at once, over max_live = {max_live}",
        census.most()
    );
    let stats = pool.stats();
    assert_eq!(stats.in_use, 0);
    assert_eq!(stats.created as usize, census.made());
    // Everything not detached or discarded is idle and still alive.
    assert_eq!(census.alive(), stats.idle);
    // All places are free again: max_live objects at once, without waiting.
    let all: Vec<_> = (0..max_live)
        .map(|_| {
            pool.get_timeout(Duration::from_secs(60))
                .expect("a free place")
        })
        .collect();
    assert!(pool.try_get().is_none());
    drop(all);
    drop(pool);
    assert_eq!(census.alive(), 0);
}

#[test]
fn an_object_idle_in_an_idle_threads_cache_reaches_a_waiter() {
    let pool = Pool::builder(|| vec![0u8; 64]).max_live(1).build().unwrap();
    let (parked_tx, parked_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            drop(pool.get()); // the only object, now idle in this thread's cache
            parked_tx.send(()).unwrap();
            release_rx.recv().unwrap(); // alive and idle until the main thread is served
        })
    };
    parked_rx.recv().unwrap();
    // No deadline: only reaching into the idle thread's cache can serve this.
    let got = pool.get();
    assert_eq!(got.len(), 0, "reset on return");
    let stats = pool.stats();
    assert_eq!((stats.created, stats.reused, stats.waits), (1, 1, 1));
    release_tx.send(()).unwrap();
    holder.join().unwrap();
}

#[test]
fn an_object_returned_while_someone_waits_goes_to_the_waiter() {
    let pool = Pool::builder(String::new).max_live(1).build().unwrap();
    let held = pool.get();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let got = pool.get();
            got.capacity()
        });
        // Give the waiter time to queue (if it has not, it finds the object idle: same result).
        std::thread::sleep(Duration::from_millis(20));
        let mut held = held;
        held.reserve(100);
        drop(held);
        assert!(
            waiter.join().unwrap() >= 100,
            "the same object, handed over"
        );
    });
    assert_eq!(pool.stats().created, 1);
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let pool = Pool::builder(String::new).max_live(1).build().unwrap();
    let order = std::sync::Mutex::new(Vec::new());
    let held = pool.get();
    std::thread::scope(|s| {
        let mut waiters = Vec::new();
        for i in 0..4 {
            let (pool, order) = (&pool, &order);
            waiters.push(s.spawn(move || {
                let got = pool.get();
                order.lock().unwrap().push(i);
                drop(got);
            }));
            // Wait until this waiter is queued before starting the next one.
            while pool.stats().waits < i as u64 + 1 {
                std::thread::yield_now();
            }
        }
        drop(held);
        for w in waiters {
            w.join().unwrap();
        }
    });
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
}

#[test]
fn put_and_attach_respect_the_cap() {
    let pool = Pool::builder(String::new).max_live(2).build().unwrap();
    assert_eq!(pool.put("a".into()), Ok(()));
    assert_eq!(pool.put("b".into()), Ok(()));
    assert_eq!(
        pool.put("c".into()),
        Err("c".to_string()),
        "at the cap: handed back as is"
    );
    assert_eq!(pool.stats().idle, 2);
    // attach at the cap: an idle object makes room for the adopted one.
    let adopted = pool.attach("mine".into());
    assert_eq!(*adopted, "mine");
    let stats = pool.stats();
    assert_eq!((stats.idle, stats.in_use, stats.discarded), (1, 1, 1)); // one idle made room
    let other = pool.get();
    // Both places taken: a third attach must wait; a detach frees a place for it.
    std::thread::scope(|s| {
        let attacher = s.spawn(|| *pool.attach("third".into()) == "third");
        std::thread::sleep(Duration::from_millis(10));
        let _gone: String = hotpool::Pooled::detach(other);
        assert!(attacher.join().unwrap());
    });
    drop(adopted);
    assert!(pool.stats().idle <= 2);
}
