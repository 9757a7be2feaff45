//! loom models of a `BufferPool`'s in-flight byte budget (`max_live_bytes`): every test is named
//! after the race it checks. Run with `ci/loom.sh`.
//!
//! Each pool is tiny (classes of 64 and 128 bytes, a budget of one or two buffers) and has no
//! thread cache, so every buffer goes through its class's depot and the state space stays small.
//! A lost wake-up shows as a deadlock (every thread parked), which loom reports; bytes lost or
//! counted twice show in `stats().live_bytes`, checked against the budget while buffers are held
//! and against 0 at the end. loom has no timed park: a deadline stands for "the timeout fires
//! now", so `get_timeout` races its timeout against everything else at each point. Futures are
//! polled by hand with wakers that log their wake-ups (plain std types: loom runs the model on
//! one OS thread, so they only observe).
#![cfg(hotpool_loom)]

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use hotpool::{BufferError, BufferPool};
use loom::thread;
// Budget models go through about 1,000 to 1,500 loom operations per execution (each buffer goes
// through its class pool's depot, and each `stats()` reads every class): more than loom's
// default branch limit.
use support::loom_bounded::model_with_more_branches as model;

/// Classes of 64 and 128 bytes, no thread cache, at most `budget` bytes in flight.
fn budget_pool(budget: usize) -> BufferPool {
    BufferPool::builder()
        .min_size(64)
        .max_size(128)
        .max_idle_bytes(256)
        .thread_cache(0)
        .max_live_bytes(budget)
        .build()
        .unwrap()
}

/// The order in which the wakers of a model were woken, by name.
type WakeLog = Arc<Mutex<Vec<&'static str>>>;

/// A waker that appends `name` to `log` on each wake-up.
struct Logged {
    name: &'static str,
    log: WakeLog,
}

impl Wake for Logged {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.name);
    }
}

fn logged_waker(name: &'static str, log: &WakeLog) -> Waker {
    Arc::new(Logged {
        name,
        log: Arc::clone(log),
    })
    .into()
}

fn wakes(log: &WakeLog) -> Vec<&'static str> {
    log.lock().unwrap().clone()
}

/// Nothing in flight and nothing lost: the whole budget can be had at once, and given back.
fn finish(pool: &BufferPool, budget: usize) {
    assert_eq!(pool.stats().live_bytes, 0);
    let whole = pool.try_get(budget).expect("the whole budget is free");
    assert_eq!(pool.stats().live_bytes, budget);
    drop(whole);
    assert_eq!(pool.stats().live_bytes, 0);
}

#[test]
fn budget_release_races_blocking_waiter() {
    model(|| {
        let pool = budget_pool(64);
        let held = pool.get_owned(64);
        assert_eq!(pool.stats().live_bytes, 64);
        let releaser = {
            let pool = pool.clone();
            thread::spawn(move || {
                drop(held);
                assert!(pool.stats().live_bytes <= 64, "budget exceeded");
            })
        };
        // Waits unless the release came first; a lost wake-up deadlocks.
        let got = pool.get(64);
        assert_eq!(got.capacity(), 64);
        assert_eq!(pool.stats().live_bytes, 64, "one buffer in flight");
        drop(got);
        releaser.join().unwrap();
        assert!(pool.stats().waits <= 1);
        finish(&pool, 64);
    });
}

#[test]
fn budget_future_cancelled_while_served_passes_bytes_on() {
    // Two futures wait, `first` ahead of `second`; `first` is dropped while a release on another
    // thread may be serving it. Whichever comes first, the bytes reach `second` (through the
    // release, or passed on by `first`'s cancel), which is woken exactly once.
    model(|| {
        let pool = budget_pool(64);
        let held = pool.get_owned(64);
        let log = WakeLog::default();
        let (first_waker, second_waker) =
            (logged_waker("first", &log), logged_waker("second", &log));
        let mut second = Box::pin(pool.get_owned_async(64));
        let mut first = Box::pin(pool.get_async(64));
        let mut cx = Context::from_waker(&first_waker);
        assert!(first.as_mut().poll(&mut cx).is_pending(), "at the budget");
        let mut cx = Context::from_waker(&second_waker);
        assert!(second.as_mut().poll(&mut cx).is_pending(), "behind `first`");
        assert_eq!(pool.stats().waits, 2);
        let releaser = thread::spawn(move || drop(held));
        drop(first); // cancels it, racing the release that may be serving it
        releaser.join().unwrap();
        let log = wakes(&log);
        let woken = log.iter().filter(|&&w| w == "second").count();
        assert_eq!(woken, 1, "`second` woken {woken} times; wakes: {log:?}");
        let mut cx = Context::from_waker(&second_waker);
        let Poll::Ready(buf) = second.as_mut().poll(&mut cx) else {
            panic!("`second` woken but not served (wakes: {log:?})");
        };
        assert_eq!(buf.capacity(), 64);
        assert_eq!(pool.stats().live_bytes, 64);
        drop((buf, second));
        finish(&pool, 64);
    });
}

#[test]
fn budget_timeout_races_release() {
    model(|| {
        let pool = budget_pool(64);
        let held = pool.get_owned(64);
        let releaser = thread::spawn(move || drop(held));
        // Either served in time or timed out; never both, and the bytes are accounted either way.
        match pool.get_timeout(64, Duration::from_millis(1)) {
            Ok(buf) => {
                assert_eq!(buf.capacity(), 64);
                assert_eq!(pool.stats().live_bytes, 64);
            }
            Err(BufferError::Timeout { requested: 64, .. }) => {
                assert_eq!(pool.stats().waits, 1, "only a wait times out");
                assert!(pool.stats().live_bytes <= 64);
            }
            Err(err) => panic!("{err}"),
        }
        releaser.join().unwrap();
        finish(&pool, 64);
    });
}

#[test]
fn budget_large_waiter_holds_back_small_until_it_fits() {
    // Budget 128, two 64-byte buffers held. A future queues first for 128 bytes; then a thread
    // asks for 64 while the two buffers are given back, one here, one on a third thread. Each
    // release frees 64, enough for the small request, but the large one is first: it is served
    // once both are back, and the small one only when the large one gives its 128 back. Served
    // out of order, the small one would hold 64 of the bytes the large one waits for: the
    // large one's poll below finds it still pending.
    model(|| {
        let pool = budget_pool(128);
        let a = pool.get(64);
        let b = pool.get_owned(64);
        let log = WakeLog::default();
        let large_waker = logged_waker("large", &log);
        let mut cx = Context::from_waker(&large_waker);
        let mut large = pin!(pool.get_async(128));
        assert!(large.as_mut().poll(&mut cx).is_pending(), "at the budget");
        let small = {
            let pool = pool.clone();
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let buf = pool.get(64); // blocks behind the large request, or at the budget
                assert_eq!(buf.capacity(), 64);
                assert!(pool.stats().live_bytes <= 128, "budget exceeded");
                log.lock().unwrap().push("small");
            })
        };
        let releaser = thread::spawn(move || drop(b));
        drop(a);
        releaser.join().unwrap();
        // Both releases done: the large request, first in line, has the whole budget.
        let Poll::Ready(buf) = large.as_mut().poll(&mut cx) else {
            panic!(
                "the large request, first in line, not served: {:?}",
                wakes(&log)
            );
        };
        assert_eq!((buf.capacity(), pool.stats().live_bytes), (128, 128));
        assert_eq!(wakes(&log), ["large"], "the small request was served first");
        drop(buf); // serves the small request
        small.join().unwrap();
        assert_eq!(wakes(&log), ["large", "small"]);
        finish(&pool, 128);
    });
}
