//! loom models of bounded pools (`max_live`): every test is named after the race it checks. Run
//! with `ci/loom.sh`.
//!
//! A lost wake-up shows as a deadlock (every thread parked), which loom reports; a cap exceeded
//! shows in the objects' own census. loom has no timed park: a deadline stands for "the timeout
//! fires now", so `get_timeout` races its timeout against everything else at each point.
//! As in `loom_pool.rs`, loom's `join` can return before the joined thread's exit flush ran, so
//! end-of-model checks wait for it with `eventually`.
#![cfg(hotpool_loom)]

mod support;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hotpool::Pool;
use loom::thread;
use support::loom_bounded::{finish, spawn_get};
use support::pool::{bounded_cached, bounded_strict, refusing_every_return};
use support::waker::noop_waker;
use support::{Census, Counted};

#[test]
fn return_racing_waiter_registration_loses_no_wakeup() {
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 2, 1);
        let held = pool.get_owned();
        let returner = thread::spawn(move || drop(held));
        drop(pool.get()); // waits unless the return came first; a lost wake-up deadlocks
        returner.join().unwrap();
        finish(pool, &census, 1);
    });
}

#[test]
fn hit_path_racing_a_thief() {
    // The other thread's gets and returns hit its cache (the announced door) while this one,
    // at the cap, queues and takes every cache's objects.
    loom::model(|| hit_path_racing_a_thief_on(bounded_cached));
}

#[test]
fn hit_path_racing_a_thief_while_caches_reopen() {
    // Strict order: the caches reopen as soon as nobody waits (a release store under the depot
    // lock), and a hit path that sees them open must see what the thief did to its cache.
    loom::model(|| hit_path_racing_a_thief_on(bounded_strict));
}

/// Two threads, two gets each, on a pool of two made by `make(census, thread_cache, max_live)`.
fn hit_path_racing_a_thief_on(make: fn(&std::sync::Arc<Census>, usize, usize) -> Pool<Counted>) {
    let census = Census::new();
    let pool = make(&census, 2, 2);
    let other = {
        let pool = pool.clone();
        thread::spawn(move || {
            drop(pool.get());
            drop(pool.get());
        })
    };
    let a = pool.get();
    let b = pool.get();
    drop((a, b));
    other.join().unwrap();
    finish(pool, &census, 2);
}

#[test]
fn node_reused_by_the_serving_thread_racing_its_waiter() {
    // The thread that serves a waiter keeps the waiter's node (`pool/spare_nodes.rs`), and its
    // own next wait reuses it once free, while the waiter may still be taking what it was handed
    // or may not have queued yet. Nothing may be lost, nobody may sleep, the cap holds.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_strict(&census, 1, 1);
        let held = pool.get();
        let waiter = spawn_get(&pool);
        drop(held); // serves the waiter if it queued; its node stays with this thread
        drop(pool.get()); // this thread's wait reuses that node if the waiter dropped its handle
        waiter.join().unwrap();
        finish(pool, &census, 1);
    });
}

#[test]
fn future_cancelled_while_being_handed_an_object() {
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        {
            let mut queued = pin!(pool.get_async());
            assert!(queued.as_mut().poll(&mut cx).is_pending(), "at the cap");
            let returner = thread::spawn(move || drop(held));
            // Dropped while the return may be handing it the object: it must pass it on.
            returner.join().unwrap();
        }
        // Not lost: the one object (or its place) can be had again.
        drop(pool.get());
        assert_eq!(census.made(), 1);
        finish(pool, &census, 1);
    });
}

#[test]
fn future_cancelled_racing_a_return() {
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut queued = Box::pin(pool.get_async());
        assert!(queued.as_mut().poll(&mut cx).is_pending(), "at the cap");
        let returner = thread::spawn(move || drop(held));
        let resolved = matches!(queued.as_mut().poll(&mut cx), Poll::Ready(_));
        drop(queued); // cancels if still queued (or drops the guard it resolved to)
        returner.join().unwrap();
        drop(pool.get());
        assert_eq!(census.made(), 1, "resolved: {resolved}");
        finish(pool, &census, 1);
    });
}

#[test]
fn timeout_racing_a_return() {
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        let returner = thread::spawn(move || drop(held));
        // Either served in time or timed out; never both, and nothing is lost either way.
        let _ = pool.get_timeout(Duration::from_millis(1)).map(drop);
        returner.join().unwrap();
        drop(pool.get());
        assert_eq!(census.made(), 1);
        finish(pool, &census, 1);
    });
}

#[test]
fn thread_exits_with_waiters() {
    // The other thread leaves its object in its cache and exits while this one waits for it:
    // the thief or the exit flush must hand it over.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 2, 1);
        let exiting = spawn_get(&pool);
        drop(pool.get());
        exiting.join().unwrap();
        finish(pool, &census, 1);
    });
}

#[test]
fn discarded_object_frees_a_place_for_a_waiter() {
    loom::model(|| {
        let census = Census::new();
        let pool = refusing_every_return(&census);
        let held = pool.get_owned();
        let returner = thread::spawn(move || drop(held));
        drop(pool.get()); // a new object, made once the refused one is gone
        returner.join().unwrap();
        assert_eq!(census.made(), 2);
        finish(pool, &census, 1);
    });
}
