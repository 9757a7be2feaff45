//! Attacks on a bounded pool's eventual fairness (issue 22, `pool/limiter.rs`): the notice that
//! an object is idle (one waiter notified while an object is idle in the depot and anyone
//! waits), the hand-off to overdue waiters, closed caches, and user code (`Waker`s, `T::drop`)
//! that panics in the middle of it. Each test checks what would be lost (an object, a place, a
//! wake-up) by counts, the objects' own census, or a bounded wait that fails instead of hanging;
//! none asserts on speed.
#![cfg(not(miri))]

mod support;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use hotpool::Pool;
use support::pool::bounded_cached;
use support::tasks::{join_all, HUNG};
use support::waker::{bomb_waker, Polled};
use support::{Census, Counted};
use tokio::task::JoinSet;

/// Waits (yielding) until `done` holds, failing the test after [`HUNG`].
#[track_caller]
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < HUNG, "hung: {what}");
        thread::yield_now();
    }
}

/// Waits until every object is gone after the pool dropped: a scoped thread's join returns when
/// its closure did, before its thread-locals' destructors ran, and the pool's exit flush among
/// them may hold the pool (and so its idle objects) a moment longer. Fails if they never go.
fn every_object_gone(census: &Census) {
    wait_until("every object dropped after the pool", || {
        census.alive() == 0
    });
}

/// A pool whose thread waiters are never overdue in a test (tasks always are).
fn fair_for_an_hour(census: &Arc<Census>, max_live: usize) -> Pool<Counted> {
    Pool::builder(census.factory())
        .thread_cache(1)
        .max_live(max_live)
        .fair_after(Duration::from_secs(3600))
        .build()
        .expect("a valid configuration")
}

/// The notified waiter (a task, overdue at once) is handed an object that comes back, while the
/// object it was notified of is still idle in the depot: its notice must pass on to the next
/// waiter, or that one sleeps with an object idle (until some other object comes back, which
/// here never happens: the one it would be is held by the first task).
///
/// Set-up: a thread waiter W (not overdue) first, tasks T1, T2 behind it. Both held objects come
/// back at once: W is notified, both stay idle. W takes one and, seeing another idle, notifies
/// T1. W's object comes back: T1 is overdue, so it is handed that one, and the depot still
/// holds one idle object with T2 queued. The race that sets this up (W must look only after both
/// returns) is retried until it happens.
#[test]
fn a_notified_waiter_handed_another_object_passes_its_notice_on() {
    let mut set_up = 0;
    for _ in 0..200 {
        let census = Census::new();
        let pool = fair_for_an_hour(&census, 2);
        let a = pool.get();
        let b = pool.get();
        let (got_tx, got_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let mut t1 = Polled::new(pool.get_async());
        let mut t2 = Polled::new(pool.get_async());
        let raced = thread::scope(|s| {
            let pool = &pool;
            s.spawn(move || {
                let held = pool.get();
                got_tx.send(()).unwrap();
                go_rx.recv_timeout(HUNG).expect("the test went on");
                drop(held);
            });
            wait_until("the thread waiter queues", || pool.stats().waits == 1);
            assert!(t1.poll().is_pending() && t2.poll().is_pending());
            drop(a);
            drop(b);
            got_rx.recv_timeout(HUNG).expect("W gets an object");
            // W found both idle iff one is still idle now; else b went to T1 and this round
            // tests nothing.
            let raced = pool.stats().idle == 1;
            if raced {
                assert_eq!(t1.wakes(), 1, "W saw another idle object: T1 is notified");
                assert_eq!(t2.wakes(), 0);
            }
            go_tx.send(()).unwrap();
            raced
        });
        // W is gone and its object went to T1 (overdue); nothing else runs from here on.
        let Poll::Ready(first) = t1.poll() else {
            panic!("T1 was handed W's object or found one idle");
        };
        if raced {
            set_up += 1;
            assert_eq!(pool.stats().idle, 1, "one object idle, T2 waiting");
            assert_eq!(
                t2.wakes(),
                1,
                "lost wake-up: an object is idle and T2, the only waiter, was never notified"
            );
        }
        let Poll::Ready(second) = t2.poll() else {
            panic!(
                "T2 pending with an object idle (woken {} times)",
                t2.wakes()
            );
        };
        drop((first, second));
        assert!(census.most() <= 2, "cap exceeded");
        assert_eq!(census.made(), 2);
        drop(t1);
        drop(t2);
        drop(pool);
        every_object_gone(&census);
        if set_up >= 3 {
            break;
        }
    }
    assert!(set_up > 0, "the race was never set up in 200 rounds");
}

/// A task's first poll closes the caches and steals another thread's cached object, which
/// serves the task at once; waking it (its own waker) panics. The object must not be lost in
/// the waiter's node: the pool still has its one object for the next caller.
#[test]
fn a_waker_that_panics_when_the_steal_serves_its_task_loses_no_object() {
    support::pool::quiet_expected_panics();
    let census = Census::new();
    let pool = bounded_cached(&census, 4, 1);
    let (cached_tx, cached_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let pool = &pool;
        s.spawn(move || {
            drop(pool.get()); // kept in this thread's cache
            cached_tx.send(()).unwrap();
            done_rx.recv_timeout(HUNG).expect("the test went on");
        });
        cached_rx.recv_timeout(HUNG).unwrap();
        let mut future = Box::pin(pool.get_async());
        let bomb = bomb_waker();
        let polled = catch_unwind(AssertUnwindSafe(|| {
            future
                .as_mut()
                .poll(&mut Context::from_waker(&bomb))
                .is_ready()
        }));
        assert!(polled.is_err(), "served by the steal, its wake-up panicked");
        drop(future);
        done_tx.send(()).unwrap();
    });
    let again = pool.get_timeout(Duration::from_secs(5));
    assert!(again.is_ok(), "the pool's one object was lost");
    drop(again);
    let stats = pool.stats();
    assert_eq!((stats.in_use, stats.idle), (0, 1), "{stats:?}");
    assert_eq!(census.made(), 1);
    drop(pool);
    every_object_gone(&census);
}

/// A notified task finds an idle object and, seeing another one left, notifies the next waiter,
/// whose waker panics: the object the task took must not be lost with the panic (its place
/// neither). Set-up as in [`a_notified_waiter_handed_another_object_passes_its_notice_on`]:
/// W (a thread, not overdue), T1, T2 (with the panicking waker) queued; the three held objects
/// come back at once, W takes one and notifies T1; T1 looks and finds two.
#[test]
fn a_waker_that_panics_while_a_notified_task_takes_its_object_loses_no_object() {
    support::pool::quiet_expected_panics();
    let mut set_up = 0;
    for _ in 0..200 {
        let census = Census::new();
        let pool = fair_for_an_hour(&census, 3);
        let held: Vec<_> = (0..3).map(|_| pool.get()).collect();
        let (got_tx, got_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let mut t1 = Polled::new(pool.get_async());
        let mut t2 = Box::pin(pool.get_async());
        let bomb = bomb_waker();
        let raced = thread::scope(|s| {
            let pool = &pool;
            s.spawn(move || {
                let mine = pool.get();
                got_tx.send(()).unwrap();
                go_rx.recv_timeout(HUNG).expect("the test went on");
                drop(mine);
            });
            wait_until("the thread waiter queues", || pool.stats().waits == 1);
            assert!(t1.poll().is_pending());
            assert!(t2
                .as_mut()
                .poll(&mut Context::from_waker(&bomb))
                .is_pending());
            // If W looks between two returns, one goes to T2 (overdue): its wake-up panics
            // here, and this round sets nothing up.
            let returned = catch_unwind(AssertUnwindSafe(|| drop(held)));
            got_rx.recv_timeout(HUNG).expect("W gets an object");
            let raced = returned.is_ok() && pool.stats().idle == 2 && t1.wakes() == 1;
            if raced {
                let polled = catch_unwind(AssertUnwindSafe(|| t1.poll().is_ready()));
                assert!(polled.is_err(), "T1 notified T2, whose waker panics");
            }
            go_tx.send(()).unwrap();
            raced
        });
        drop(t1);
        drop(t2);
        // Every object and place is accounted for: all 3 can be held at once.
        let all: Vec<_> = (0..3)
            .map(|_| pool.get_timeout(Duration::from_secs(2)))
            .collect();
        assert!(
            all.iter().all(Result::is_ok),
            "an object or its place was lost (set up: {raced})"
        );
        drop(all);
        assert!(census.most() <= 3, "cap exceeded");
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.idle), (0, census.alive()), "{stats:?}");
        drop(pool);
        every_object_gone(&census);
        if raced {
            set_up += 1;
            if set_up >= 3 {
                break;
            }
        }
    }
    assert!(set_up > 0, "the race was never set up in 200 rounds");
}

/// Takes every place of `pool` at once (`max_live` objects held together), which only works if
/// no object and no place was lost.
fn take_every_place(pool: &Pool<Counted>, max_live: usize) {
    let all: Vec<_> = (0..max_live)
        .map(|_| {
            pool.get_timeout(HUNG)
                .expect("an object or a place was lost")
        })
        .collect();
    assert!(pool.try_get().is_none(), "more than max_live objects");
    drop(all);
}

/// Threads and tokio tasks at the cap of a pool with a short `fair_after` (waiters become
/// overdue while notified, the hand-off and the notice race each other), some waits timing out
/// or cancelled, some objects discarded on the way back (refused by the policy: places free
/// while a waiter is notified), `try_get`s barging and `trim`s while the caches are closed. Everyone finishes,
/// the cap holds (the objects' own census) and no object or place is lost.
#[test]
fn threads_and_tasks_racing_notices_hand_offs_and_freed_places_lose_nothing() {
    const THREADS: usize = 3;
    const TASKS: usize = 24;
    let rounds = support::rounds(3000, 3);
    let max_live = 3;
    for fair_after in [Duration::from_micros(20), Duration::ZERO] {
        let census = Census::new();
        let pool = Pool::builder(census.factory())
            .thread_cache(2)
            .max_idle(2)
            .max_retained_bytes(4)
            .max_live(max_live)
            .fair_after(fair_after)
            .build()
            .expect("a valid configuration");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        thread::scope(|s| {
            for t in 0..THREADS {
                let pool = &pool;
                s.spawn(move || {
                    for round in 0..rounds {
                        match (t + round) % 5 {
                            0 => {
                                if let Ok(held) = pool.get_timeout(Duration::from_micros(50)) {
                                    drop(held);
                                }
                            }
                            1 => {
                                // Refused on its way back (it retains too much): dropped,
                                // then its place frees, perhaps while a waiter is notified.
                                let mut held = pool.get();
                                held.data.reserve(64);
                            }
                            2 => drop(pool.try_get()),
                            3 => {
                                let _held = pool.get();
                                pool.trim();
                            }
                            _ => drop(pool.get()),
                        }
                    }
                });
            }
            runtime.block_on(async {
                let mut tasks = JoinSet::new();
                for t in 0..TASKS {
                    let pool = pool.clone();
                    tasks.spawn(async move {
                        for round in 0..rounds / 10 {
                            if (t + round) % 3 == 0 {
                                // Cancelled at once or after being handed an object.
                                let waited = tokio::time::timeout(
                                    Duration::from_micros(30),
                                    pool.get_owned_async(),
                                );
                                drop(waited.await);
                            } else {
                                let held = pool.get_async().await;
                                tokio::task::yield_now().await;
                                drop(held);
                            }
                        }
                    });
                }
                join_all(
                    tasks,
                    "a task hung: an object, a place or a wake-up was lost",
                )
                .await;
            });
        });
        drop(runtime);
        assert!(census.most() <= max_live, "cap exceeded ({fair_after:?})");
        take_every_place(&pool, max_live);
        let stats = pool.stats();
        assert_eq!(stats.in_use, 0, "{stats:?}");
        assert_eq!(stats.idle, census.alive(), "{stats:?}");
        drop(pool);
        every_object_gone(&census);
    }
}
