//! loom models of the per-thread spare waiter nodes (`pool/spare_nodes.rs`) and of an async
//! waiter that is not re-read right after it queued: every test is named after the race it
//! checks. A lost wake-up shows as a deadlock (every thread parked), which loom reports.
#![cfg(hotpool_loom)]

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use hotpool::Pool;
use loom::thread;
use support::loom_bounded::finish;
use support::pool::{bounded_cached, bounded_strict};
use support::{Census, Counted};

/// Wakes a loom thread parked in [`block_on`].
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this loom thread until ready, parking between polls: a wake-up that never
/// comes deadlocks the model.
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => thread::park(),
        }
    }
}

#[test]
fn async_waiter_queued_without_a_steal_racing_a_return_is_woken() {
    // A first wait closes the caches (loom's time is frozen: they stay closed), so this
    // waiter queues without gathering them and is not looked at again before `Pending`: the
    // return racing its queueing must wake it.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 1, 1);
        let held = pool.get_owned();
        assert!(
            pool.get_timeout(Duration::from_millis(1)).is_err(),
            "timed out"
        );
        let returner = thread::spawn(move || drop(held));
        drop(block_on(pool.get_async()));
        returner.join().unwrap();
        finish(pool, &census, 1);
    });
}

#[test]
fn node_kept_by_an_exiting_thread_while_its_waiter_still_holds_it() {
    // The returning thread serves the waiting future, keeps its node in its own list and exits
    // (the list is freed) while the future may not have looked yet; this thread then waits
    // again, reusing whatever node is free.
    loom::model(|| {
        let census = Census::new();
        let pool: Pool<Counted> = bounded_strict(&census, 1, 1);
        let held = pool.get_owned();
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut queued = Box::pin(pool.get_async());
        assert!(queued.as_mut().poll(&mut cx).is_pending(), "at the cap");
        let returner = thread::spawn(move || drop(held));
        let guard = loop {
            match queued.as_mut().poll(&mut cx) {
                Poll::Ready(guard) => break guard,
                Poll::Pending => thread::park(),
            }
        };
        returner.join().unwrap();
        drop(queued);
        let again = {
            let pool = pool.clone();
            thread::spawn(move || drop(pool.get()))
        };
        drop(guard);
        again.join().unwrap();
        assert_eq!(census.made(), 1);
        finish(pool, &census, 1);
    });
}
