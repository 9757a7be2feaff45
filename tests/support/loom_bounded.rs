//! Steps the bounded-pool loom models share (`tests/loom_bounded.rs`, `tests/loom_fairness*.rs`,
//! `tests/loom_budget.rs`, `tests/loom_lanes.rs`).

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use hotpool::{Pool, Recycler};
use loom::thread;

use super::{eventually, Census, Counted};

/// A loom thread that takes an object from `pool` (waiting at the cap) and gives it back.
pub fn spawn_get(pool: &Pool<Counted>) -> thread::JoinHandle<()> {
    let pool = pool.clone();
    thread::spawn(move || drop(pool.get()))
}

/// The end of a model: the cap held all along and every guard is back; after the pool drops,
/// every object is gone.
pub fn finish<R: Recycler<Counted> + Send + Sync + 'static>(
    pool: Pool<Counted, R>,
    census: &Census,
    max_live: usize,
) {
    assert!(census.most() <= max_live, "cap exceeded");
    assert_eq!(pool.stats().in_use, 0);
    drop(pool);
    eventually(|| census.alive() == 0);
}

/// Explores `f` as `loom::model` does (LOOM_MAX_PREEMPTIONS and the other settings from the
/// environment), allowing up to 10,000 branches per execution instead of loom's default 1,000:
/// for models whose executions go through many loom operations without spinning (a budget's
/// class pools; a bounded pool's depot paths, which also hand the lanes their turn and read
/// their lengths). The count stays bounded, so an execution that would spin forever still
/// fails.
pub fn model_with_more_branches(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = builder.max_branches.max(10_000);
    builder.check(f);
}

/// Runs `future` to completion on this loom thread, as an executor would: polls it, and parks
/// the thread until its waker is woken. A lost wake-up leaves the thread parked for good, which
/// loom reports as a deadlock once every thread is.
///
/// The wake-up is a flag as well as an unpark: loom forgets an unpark that comes while the
/// thread runs if the thread then blocks on a lock before it parks (std keeps it), so a wake
/// during a poll could otherwise look lost. The flag is std's: not a point where loom switches
/// threads, so nothing comes between its check and the park, and loom has nothing to explore
/// in it (the pool's own synchronization is what the models check).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        while !unpark.woken.swap(false, Ordering::SeqCst) {
            thread::park();
        }
    }
}

/// A waker that unparks one loom thread.
struct Unpark {
    thread: thread::Thread,
    /// Set by a wake, taken by the thread before it polls again.
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// A loom thread that runs `f`, then stays until [`Staying::leave`]: what `f` did must be enough
/// for the others, without the thread's exit (whose flush offers the thread's cached objects
/// to the waiters) coming to the rescue. Whoever waits for it meanwhile in vain leaves every
/// thread parked, which loom reports as a deadlock.
pub fn spawn_staying(f: impl FnOnce() + Send + 'static) -> Staying {
    let leave = Arc::new(AtomicBool::new(false));
    let thread = {
        let leave = Arc::clone(&leave);
        thread::spawn(move || {
            f();
            while !leave.load(Ordering::SeqCst) {
                thread::park();
            }
        })
    };
    Staying { thread, leave }
}

/// A thread of [`spawn_staying`].
pub struct Staying {
    thread: thread::JoinHandle<()>,
    leave: Arc<AtomicBool>,
}

impl Staying {
    /// Lets the thread exit, and joins it.
    pub fn leave(self) {
        self.leave.store(true, Ordering::SeqCst);
        self.thread.thread().unpark();
        self.thread.join().unwrap();
    }
}
