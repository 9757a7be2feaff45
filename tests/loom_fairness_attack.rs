//! loom attacks on a bounded pool's eventual fairness (`pool/limiter.rs`): the notice that an
//! object is idle, passed on or lost when the notified waiter is served, cancelled or beaten to
//! the object; places freed while a waiter is notified; `put`, `try_get`, `trim` and a full
//! depot while the caches are closed. Every test is named after the race it checks. Run with
//! `ci/loom.sh`.
//!
//! loom's clock stands still (`sync::now`): with the default `fair_after` a thread waiter is never
//! overdue, and a task waits in a lane unless the pool is strict. A lost wake-up shows as a
//! deadlock (every thread parked, `block_on` included), which loom reports; a cap exceeded shows
//! in the objects' own census.
#![cfg(hotpool_loom)]

mod support;

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Wake, Waker};

use hotpool::{OwnedPooled, Pool};
use loom::thread;
use support::loom_bounded::{finish, model_with_more_branches, spawn_get};
use support::pool::{bounded_cached, bounded_strict};
use support::waker::noop_waker;
use support::Census;

/// Wakes a loom thread parked in [`block_on`].
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` until it is ready, parking the loom thread in between: a wake-up that never
/// comes leaves every thread parked, which loom reports as a deadlock.
fn block_on<F: Future>(mut future: Pin<&mut F>) -> F::Output {
    let waker = Waker::from(std::sync::Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => thread::park(),
        }
    }
}

#[test]
fn notified_waiter_handed_another_object_passes_the_notice_on() {
    // A thread waiter (never overdue here) may be first: both objects come back, it is notified
    // and takes one, and seeing the other idle it notifies the first task. Its own object then
    // comes back to that task, overdue: handed over, while the other object is still idle. The
    // second task must be notified of it, or `block_on` parks forever.
    model_with_more_branches(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 2);
        let a = pool.get_owned();
        let b = pool.get_owned();
        let thread_waiter = spawn_get(&pool);
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut t1 = Box::pin(pool.get_owned_async());
        let mut t2 = Box::pin(pool.get_owned_async());
        let first = t1.as_mut().poll(&mut cx);
        let second = t2.as_mut().poll(&mut cx);
        drop(a);
        drop(b);
        let first = match first {
            Poll::Ready(guard) => guard,
            Poll::Pending => block_on(t1.as_mut()),
        };
        // Held: the object T1 got must not be what serves T2 (the other one is idle or held by
        // the thread waiter, which gives it back).
        let second = match second {
            Poll::Ready(guard) => guard,
            Poll::Pending => block_on(t2.as_mut()),
        };
        drop((first, second));
        drop((t1, t2));
        thread_waiter.join().unwrap();
        finish(pool, &census, 2);
    });
}

#[test]
fn place_freed_while_the_first_waiter_is_notified() {
    // One object comes back idle (a waiter is notified of it) and the other is refused on its
    // way back (it retains too much): dropped, its place frees and goes to the first waiter,
    // perhaps the notified one. The idle one must still find a taker, and the cap hold.
    model_with_more_branches(|| {
        let census = Census::new();
        let pool = Pool::builder(census.factory())
            .thread_cache(1)
            .max_retained_bytes(4)
            .max_live(2)
            .build()
            .expect("a valid configuration");
        let a = pool.get_owned();
        let mut b = pool.get_owned();
        b.data.reserve(64); // refused when it comes back
        let waiters: Vec<_> = (0..2).map(|_| spawn_get(&pool)).collect();
        drop(a);
        drop(b);
        for waiter in waiters {
            waiter.join().unwrap();
        }
        finish(pool, &census, 2);
    });
}

#[test]
fn put_and_try_get_while_a_waiter_is_notified() {
    // While a thread waits (caches closed), an object comes back (the waiter is notified), a
    // place frees (detach) and a `put` tries to take one: it may only if nobody queues, and the
    // pool never holds more than its cap. A `try_get` may barge for the returned object: the
    // waiter then queues again and is served when that guard comes back.
    model_with_more_branches(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 2);
        let a = pool.get_owned();
        let b = pool.get_owned();
        let waiter = spawn_get(&pool);
        drop(a);
        drop(OwnedPooled::detach(b));
        let refused = pool.put(census.make()).err();
        drop(pool.try_get());
        waiter.join().unwrap();
        let stats = pool.stats();
        assert!(stats.idle + stats.in_use <= 2, "{stats:?}");
        assert_eq!(stats.in_use, 0);
        drop(refused);
        finish(pool, &census, 3);
    });
}

#[test]
fn full_depot_while_a_waiter_is_notified() {
    // Room for one idle object in the depot: the first object that comes back while a thread
    // waits stays idle (the waiter notified of it), the second is discarded and its place
    // handed to the waiter, notified or not.
    model_with_more_branches(|| {
        let census = Census::new();
        let pool = Pool::builder(census.factory())
            .thread_cache(1)
            .max_idle(1)
            .max_live(2)
            .build()
            .expect("a valid configuration");
        let a = pool.get_owned();
        let b = pool.get_owned();
        let waiter = spawn_get(&pool);
        drop(a);
        drop(b);
        drop(pool.get());
        waiter.join().unwrap();
        finish(pool, &census, 2);
    });
}

#[test]
fn trim_while_a_waiter_is_notified() {
    // The returned object is trimmed before the notified waiter looks: its place frees and
    // goes to the waiter.
    model_with_more_branches(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        let waiter = spawn_get(&pool);
        drop(held);
        pool.trim();
        waiter.join().unwrap();
        finish(pool, &census, 1);
    });
}

#[test]
fn notified_task_cancelled_passes_the_notice_on() {
    // A thread and a task queue, in either order; the object comes back (idle, the thread
    // notified, or handed to the task, which is overdue at once) while the task's future is
    // dropped: whatever it was handed or notified of must reach the thread.
    model_with_more_branches(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        let waiter = spawn_get(&pool);
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        {
            let mut task = pin!(pool.get_async());
            let polled = task.as_mut().poll(&mut cx);
            drop(held);
            drop(polled);
        }
        waiter.join().unwrap();
        finish(pool, &census, 1);
    });
}

#[test]
fn strict_hand_off_racing_a_thread_exit() {
    // Strict order: a thread with a cached object exits while another thread queues and steals:
    // the object reaches the waiter one way or the other.
    model_with_more_branches(|| {
        let census = Census::new();
        let pool = bounded_strict(&census, 1, 1);
        let cacher = spawn_get(&pool);
        let waiter = spawn_get(&pool);
        cacher.join().unwrap();
        waiter.join().unwrap();
        drop(pool.get());
        finish(pool, &census, 1);
    });
}
