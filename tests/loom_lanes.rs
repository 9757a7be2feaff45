//! loom models of the lanes where tasks wait at a bounded pool's cap (`pool/lanes.rs`): a task
//! queues in its thread's lane without the depot lock once `depot_may_serve` is clear (Dekker's
//! handshake with whatever makes the depot able to serve), and a return hands its object to the
//! first task of its own thread's lane under that lane's lock only. Every test is named after the
//! race it checks. Run with `ci/loom.sh`.
//!
//! Under loom a pool has two lanes, and a thread's lane is the order in which it first asked for
//! one: the model's main thread, which queues a task first, has lane 0, the next thread lane 1.
//! loom's clock stands still (`sync::now`): with the default `fair_after` the caches, once
//! closed, stay closed, so after a first task queued and left ([`quiet_lanes`]) every later task
//! at the cap takes the lock-free path into its lane.
//!
//! Tasks run with `block_on`, which parks the thread until the task's waker unparks it: a lost
//! wake-up leaves it parked, and once every thread is, loom reports a deadlock. A thread whose
//! return should serve a task stays alive until the task is done ([`spawn_staying`]), so that
//! its exit flush cannot serve the task in the return's place. A lost object or place shows at
//! the end, where `max_live` objects must be to be had at once without waiting.
#![cfg(hotpool_loom)]

mod support;

use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;

use hotpool::{Pool, Recycler};
use loom::thread;
use support::loom_bounded::{block_on, finish, spawn_staying};
use support::pool::{bounded_cached, refusing_every_return};
use support::waker::{noop_waker, Polled};
use support::{Census, Counted};

/// Brings `pool`, at its cap, to where a task queues in its lane without the depot lock: a
/// first task queues under the lock (closing the caches, and finding the depot empty, which
/// clears `depot_may_serve`), then leaves, its future dropped. Gives this thread lane 0 if it is
/// the first to queue.
fn quiet_lanes<R: Recycler<Counted> + Send + Sync + 'static>(pool: &Pool<Counted, R>) {
    let mut first = Polled::new(pool.get_async());
    assert!(first.poll().is_pending(), "at the cap");
}

/// The future polled once (with a waker that does nothing): pending or ready.
fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    let waker = noop_waker();
    std::pin::Pin::new(future).poll(&mut Context::from_waker(&waker))
}

/// `max_live` objects can be had at once, now, without waiting: none was lost, nor any place
/// (nor is one idle while a task would queue beside it).
fn all_to_be_had<R: Recycler<Counted> + Send + Sync + 'static>(
    pool: &Pool<Counted, R>,
    max_live: usize,
) {
    let all: Vec<_> = (0..max_live)
        .map(|_| Polled::new(pool.get_async()).poll())
        .collect();
    assert!(
        all.iter().all(Poll::is_ready),
        "an object or a place was lost"
    );
}

#[test]
fn first_task_to_wait_closing_the_caches_racing_a_return() {
    // No task waited yet: the caches are open, and the task that finds the pool at its cap takes
    // the locked path (`reserve_or_enqueue`): it queues in its lane, closes the caches and takes
    // what they hold, which serves the lanes (`stock`), racing a return on another thread that
    // lands in that thread's cache while they are open, or goes through the depot once they
    // are closed.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        let returner = spawn_staying(move || drop(held));
        drop(block_on(pool.get_async()));
        returner.leave();
        assert_eq!(census.made(), 1);
        all_to_be_had(&pool, 1);
        finish(pool, &census, 1);
    });
}

#[test]
fn task_queueing_in_its_lane_racing_a_return_kept_in_the_depot() {
    // Dekker's handshake: the task pushes itself into lane 0, fences, reads `depot_may_serve`;
    // the return (on lane 1's thread: its own lane is empty, so the object goes to the depot)
    // keeps the object idle, sets the flag, fences, reads the lanes. Either the task sees the
    // flag and takes the object from the depot itself, or the return sees the task and serves
    // it. Never both missed: a task asleep beside an idle object.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        quiet_lanes(&pool);
        let returner = spawn_staying(move || drop(held));
        drop(block_on(pool.get_async())); // a lost wake-up: both threads parked, a deadlock
        returner.leave();
        assert_eq!(census.made(), 1);
        all_to_be_had(&pool, 1);
        finish(pool, &census, 1);
    });
}

#[test]
fn freed_place_racing_a_task_queueing_in_its_lane() {
    // The same handshake with a place instead of an object: the return is refused by the
    // policy, its object dropped and its place freed (`free_places`), which must reach the task
    // queueing in its lane meanwhile; the task then makes a new object.
    loom::model(|| {
        let census = Census::new();
        let pool = refusing_every_return(&census);
        let held = pool.get_owned();
        quiet_lanes(&pool);
        let returner = spawn_staying(move || drop(held));
        drop(block_on(pool.get_async())); // a lost wake-up: both threads parked, a deadlock
        returner.leave();
        assert_eq!(census.made(), 2);
        all_to_be_had(&pool, 1);
        finish(pool, &census, 1);
    });
}

#[test]
fn return_handing_its_object_to_its_lane_racing_the_tasks_cancel() {
    // This thread's task waits first in this thread's lane; this thread's return hands it the
    // object under the lane's lock (`Lanes::serve_own`) while another thread drops the task's
    // future (`Lanes::withdraw`): the task leaves its lane before it is served (the object goes
    // to the depot), or takes what it was handed and passes it on. No object or place is lost.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        let mut task = Box::pin(pool.get_owned_async());
        assert!(poll_once(&mut task).is_pending(), "at the cap");
        let canceller = thread::spawn(move || drop(task));
        drop(held); // to the task if it is still first in this thread's lane
        canceller.join().unwrap();
        assert_eq!(census.made(), 1);
        all_to_be_had(&pool, 1);
        finish(pool, &census, 1);
    });
}

#[test]
fn depot_serving_a_lane_racing_the_tasks_cancel() {
    // This thread's task waits in lane 0; the other thread's return finds its own lane (1) empty
    // and goes through the depot, whose `offer_to_lanes` hands the object to lane 0 under that
    // lane's lock (`serve_next`), while this thread drops the task's future (`withdraw`): the
    // task leaves first (the object stays idle in the depot: `serve_next` finds the lane
    // emptied), or it takes what it was handed and passes it on. No object or place is lost.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        quiet_lanes(&pool); // this thread's lane is 0
        let returner = thread::spawn(move || drop(held));
        let mut task = Box::pin(pool.get_async());
        let first = poll_once(&mut task);
        drop(first); // a guard if the object came back first
        drop(task); // cancels if still queued
        returner.join().unwrap();
        assert_eq!(census.made(), 1);
        all_to_be_had(&pool, 1);
        finish(pool, &census, 1);
    });
}

#[test]
fn thread_exits_with_a_cached_object_while_a_task_waits() {
    // The other thread leaves its object in its cache and exits while this thread's task, at the
    // cap, queues in its lane (closing the caches and taking what they hold): the steal or the
    // exiting thread's flush (`stock`, which offers to the lanes) must hand the object over.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 2, 1);
        let exiting = {
            let pool = pool.clone();
            thread::spawn(move || drop(pool.get()))
        };
        drop(block_on(pool.get_async()));
        exiting.join().unwrap();
        assert_eq!(census.made(), 1);
        all_to_be_had(&pool, 1);
        finish(pool, &census, 1);
    });
}

#[test]
fn two_tasks_in_two_lanes_share_one_object() {
    // This thread's task waits in lane 0 (queued under the depot lock); the other thread's task
    // queues in lane 1 without it, racing everything below. This thread's return serves its own
    // lane (`serve_own`); the return of the object it got finds its lane empty and goes through
    // the depot, which must serve the other lane (`serve_next`), or the other task finds the
    // object idle if it looked in the depot after it came back.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        let mut mine = Box::pin(pool.get_async());
        assert!(poll_once(&mut mine).is_pending(), "at the cap");
        let other = {
            let pool = pool.clone();
            thread::spawn(move || drop(block_on(pool.get_async())))
        };
        drop(held); // to `mine`, first in this thread's lane
        drop(block_on(&mut mine)); // through the depot: to the other lane's task
        drop(mine);
        other.join().unwrap(); // a task left asleep in lane 1 deadlocks here
        assert_eq!(census.made(), 1);
        all_to_be_had(&pool, 1);
        finish(pool, &census, 1);
    });
}

#[test]
fn notified_thread_that_times_out_passes_the_object_to_a_lane() {
    // A thread's `get_timeout` at the cap waits in the depot's queue, where it is served before
    // the lanes: a return through the depot keeps the object idle and notifies it, and the lanes
    // get nothing (`offer_to_lanes` leaves them to the depot's queue). If it then times out (loom:
    // its deadline fires at every park), its cancel must offer the object to the task waiting in
    // a lane (`cancel_locked`), or the task sleeps beside it. The task queues racing all this:
    // in a lane, or behind the thread in the depot's queue.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        quiet_lanes(&pool); // this thread's lane is 0: its return finds its lane empty
        let task = {
            let pool = pool.clone();
            thread::spawn(move || drop(block_on(pool.get_async())))
        };
        let timed = {
            let pool = pool.clone();
            spawn_staying(move || drop(pool.get_timeout(Duration::from_secs(1))))
        };
        drop(held);
        task.join().unwrap(); // a task left asleep in its lane deadlocks here
        timed.leave();
        assert_eq!(census.made(), 1);
        all_to_be_had(&pool, 1);
        finish(pool, &census, 1);
    });
}
