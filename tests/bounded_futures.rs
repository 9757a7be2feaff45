//! A bounded pool's futures (`get_async`, `get_owned_async`) polled by hand, with no runtime:
//! when they are pending, whom a return wakes, and what a dropped future passes on. Without tokio
//! these run everywhere, miri and the sanitizer builds included (tests/bounded_tokio.rs runs the
//! same futures on a real runtime, but not under miri).

mod support;

use std::future::Future;

use hotpool::{GetFuture, GetOwnedFuture, OwnedPooled, Pool, Pooled};
use support::pool::bounded;
use support::waker::Polled;
use support::{Census, Counted};

#[test]
fn the_futures_are_send_and_the_owned_one_is_static() {
    fn send<F: Future + Send>(_: &F) {}
    fn spawnable<F: Future + Send + 'static>(_: &F) {}
    let census = Census::new();
    let pool = bounded(&census, 1);
    let borrowed: GetFuture<'_, Counted> = pool.get_async();
    send(&borrowed);
    let owned: GetOwnedFuture<Counted> = pool.get_owned_async();
    spawnable(&owned);
    drop((borrowed, owned));
    assert_eq!(census.made(), 0, "a future does nothing until polled");
}

#[test]
fn below_the_cap_the_first_poll_is_ready() {
    let census = Census::new();
    let pool = bounded(&census, 2);
    let a: Pooled<'_, Counted> = Polled::new(pool.get_async()).ready();
    let b: OwnedPooled<Counted> = Polled::new(pool.get_owned_async()).ready();
    let stats = pool.stats();
    assert_eq!(
        (stats.created, stats.in_use, stats.waits),
        (2, 2, 0),
        "{stats}"
    );
    drop((a, b));
}

#[test]
fn at_the_cap_with_objects_idle_in_another_threads_cache_the_first_poll_is_ready() {
    // The first waiter takes the objects out of every thread's cache while it queues, and is
    // served by one of them in the same step: its first poll is ready (it used to return
    // `Pending` and wake itself).
    let census = Census::new();
    let pool = Pool::builder(census.factory())
        .max_live(2)
        .thread_cache(4)
        .build()
        .unwrap();
    let (cached, keep_alive) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
    let (ready, stats) = std::thread::scope(|s| {
        s.spawn(|| {
            drop((pool.get(), pool.get())); // both objects idle in this thread's cache
            cached.wait();
            keep_alive.wait();
        });
        cached.wait();
        let mut first = Polled::new(pool.get_async());
        let polled = first.poll();
        let stats = pool.stats();
        let ready = polled.is_ready();
        drop((polled, first));
        keep_alive.wait(); // the other thread stays alive (its cache full) until here
        (ready, stats)
    });
    assert!(
        ready,
        "pending although an object was idle in another cache"
    );
    assert_eq!(
        (stats.created, stats.in_use, stats.waits),
        (2, 1, 1),
        "{stats}"
    );
    assert_eq!(census.made(), 2, "nothing made beyond the cap");
}

#[test]
fn at_the_cap_a_future_waits_and_a_return_wakes_it_with_that_object() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let mut held = pool.get();
    held.data.reserve(64);
    let mut waiting = Polled::new(pool.get_async());
    assert!(waiting.poll().is_pending());
    assert!(waiting.poll().is_pending(), "a second poll keeps its place");
    assert_eq!((waiting.wakes(), pool.stats().waits), (0, 1));
    drop(held);
    assert_eq!(waiting.wakes(), 1);
    let got = waiting.ready();
    assert!(
        got.data.is_empty() && got.data.capacity() >= 64,
        "reset, same object"
    );
    assert_eq!(census.made(), 1);
}

#[test]
fn waiting_futures_are_served_first_come_first_served() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let held = pool.get();
    let mut first = Polled::new(pool.get_owned_async());
    let mut second = Polled::new(pool.get_async());
    assert!(first.poll().is_pending() && second.poll().is_pending());
    drop(held);
    assert_eq!((first.wakes(), second.wakes()), (1, 0));
    // The second is not served while the first holds the object.
    assert!(second.poll().is_pending());
    let got = first.ready();
    assert!(second.poll().is_pending());
    drop(got);
    assert_eq!(second.wakes(), 1);
    drop(second.ready());
    assert_eq!(census.made(), 1);
}

#[test]
fn a_pending_future_dropped_leaves_the_queue() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let held = pool.get();
    let mut cancelled = Polled::new(pool.get_async());
    let mut next = Polled::new(pool.get_owned_async());
    assert!(cancelled.poll().is_pending() && next.poll().is_pending());
    drop(cancelled);
    drop(held); // goes to `next`, the only one left waiting
    assert_eq!(next.wakes(), 1);
    drop(next.ready());
    // Nothing is held: the object is idle and is what `try_get` finds.
    assert!(pool.try_get().is_some());
    let stats = pool.stats();
    assert_eq!(
        (stats.created, stats.in_use, stats.waits),
        (1, 0, 2),
        "{stats}"
    );
}

#[test]
fn a_future_dropped_after_it_was_handed_an_object_passes_it_on() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let held = pool.get_owned();
    let mut served = Polled::new(pool.get_async());
    let mut next = Polled::new(pool.get_async());
    assert!(served.poll().is_pending() && next.poll().is_pending());
    drop(held); // handed to `served`, which is woken...
    assert_eq!((served.wakes(), next.wakes()), (1, 0));
    drop(served); // ...and dropped before it took it: on to `next`
    assert_eq!(next.wakes(), 1);
    let got = next.ready();
    assert_eq!((census.made(), census.alive()), (1, 1));
    drop(got);
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn a_future_handed_a_place_and_dropped_passes_the_place_on() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let held = pool.get();
    let mut served = Polled::new(pool.get_owned_async());
    let mut next = Polled::new(pool.get_owned_async());
    assert!(served.poll().is_pending() && next.poll().is_pending());
    let _detached: Counted = Pooled::detach(held); // frees the place: `served` gets it
    assert_eq!(served.wakes(), 1);
    drop(served); // never made its object: the place goes on to `next`
    assert_eq!(next.wakes(), 1);
    let got = next.ready();
    assert_eq!(census.made(), 2, "one new object, for `next`");
    drop(got);
}

#[test]
fn a_dropped_future_with_nobody_else_waiting_gives_the_place_back() {
    let census = Census::new();
    let pool = bounded(&census, 2);
    let (a, b) = (pool.get(), pool.get());
    let mut served = Polled::new(pool.get_async());
    assert!(served.poll().is_pending());
    drop(a);
    drop(served); // handed `a`'s object, dropped: it goes back to the pool as a return would
    drop(b);
    // Both places are usable at once again.
    let all: Vec<_> = (0..2)
        .map(|_| Polled::new(pool.get_async()).ready())
        .collect();
    assert_eq!(census.made(), 2);
    drop(all);
    assert_eq!(pool.stats().in_use, 0);
}
