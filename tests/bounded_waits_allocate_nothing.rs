//! Waiting at a bounded pool's cap allocates nothing in steady state: waiter nodes of ended
//! waits are reused and wake-ups are collected without a `Vec` (`pool/places.rs`,
//! `pool/waiter.rs`). Counted with a counting global allocator.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::{mpsc, Barrier, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use hotpool::{OwnedPooled, Pool};
use support::alloc::{calls_on_this_thread, measured, measured_calls, CountingAlloc};
use support::waker::noop_waker;

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Rounds before counting: the queue and the spare nodes reach their steady-state size.
const WARM_UP: usize = 100;
const ROUNDS: usize = 1_000;

/// Held by each test for its whole run: the tests here run one at a time. A test that spins its
/// threads (the cross-thread one polls with `yield_now`) slows the others' threads enough that a
/// bounded pool's caches reopen between waits, and each reopening's steal allocates, which the
/// blocking test counts (it failed 6 runs in 30 beside the cross-thread test, none in 40 alone).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One task-style wait: a future queues behind the held object, which is then given back and
/// handed to it. Returns the new holder.
fn hand_over_to_a_waiting_future<'p>(
    pool: &'p Pool<Vec<u8>>,
    held: hotpool::Pooled<'p, Vec<u8>>,
    waker: &Waker,
) -> hotpool::Pooled<'p, Vec<u8>> {
    let mut cx = Context::from_waker(waker);
    let mut future = pin!(pool.get_async());
    assert!(future.as_mut().poll(&mut cx).is_pending(), "at the cap");
    drop(held);
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("the object given back was not handed to the waiting future"),
    }
}

#[test]
fn an_async_wait_allocates_nothing_in_steady_state() {
    let _alone = one_at_a_time();
    for fair_after in [Duration::ZERO, hotpool::builder::DEFAULT_FAIR_AFTER] {
        let pool = Pool::builder(|| Vec::<u8>::with_capacity(64))
            .max_live(1)
            .fair_after(fair_after)
            .build()
            .unwrap();
        // Made once: its clone in the pool (a reference count) allocates nothing.
        let waker = noop_waker();
        let mut held = pool.get();
        for _ in 0..WARM_UP {
            held = hand_over_to_a_waiting_future(&pool, held, &waker);
        }
        let mut holder = Some(held);
        let calls = calls_on_this_thread(|| {
            for _ in 0..ROUNDS {
                let held = holder.take().expect("held");
                holder = Some(hand_over_to_a_waiting_future(&pool, held, &waker));
            }
        });
        drop(holder);
        let stats = pool.stats();
        assert_eq!(stats.waits as usize, WARM_UP + ROUNDS, "{stats}");
        assert_eq!(
            calls, 0,
            "allocator calls in {ROUNDS} waits (fair_after {fair_after:?})"
        );
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "under miri a wait takes milliseconds: the caches reopen between waits (the hold is \
              at most 1 ms) and each reopening's steal allocates, which this test counts"
)]
fn blocking_waits_allocate_nothing_in_steady_state() {
    let _alone = one_at_a_time();
    const THREADS: usize = 3;
    // The default order only: in strict order the caches reopen whenever the queue empties,
    // and the next wait's steal gathers their objects into a `Vec` (a few per thousand waits).
    {
        let fair_after = hotpool::builder::DEFAULT_FAIR_AFTER;
        let pool = Pool::builder(|| Vec::<u8>::with_capacity(64))
            .max_live(1)
            .fair_after(fair_after)
            .build()
            .unwrap();
        let rounds = |n| {
            for _ in 0..n {
                let mut obj = pool.get();
                obj.push(1);
                thread::yield_now(); // holding it: the others wait
            }
        };
        let warmed = Barrier::new(THREADS);
        let calls = measured_calls(|| {
            thread::scope(|s| {
                for _ in 0..THREADS {
                    s.spawn(|| {
                        rounds(WARM_UP);
                        warmed.wait();
                        measured(|| rounds(ROUNDS));
                    });
                }
            });
        });
        let stats = pool.stats();
        assert_eq!(stats.created, 1, "{stats}");
        assert!(stats.waits > 0, "nobody waited: {stats}");
        // Not exactly 0 with threads racing: a node is reused only once its waiter dropped its
        // handle, so a wait that queues just then gets a new one (kept after: the nodes grow
        // to the most waits alive at once, at most 64), and when the queue stays empty for the
        // hold (a stalled or slowed machine: sanitizers) the caches reopen and the next wait
        // steals into a `Vec`. A few per hundred waits at most; the old code allocated a node
        // on every wait.
        assert!(
            (calls as u64) * 20 < stats.waits,
            "{calls} allocator calls in waits (fair_after {fair_after:?}): {stats}"
        );
    }
}

#[test]
fn async_waits_served_on_another_thread_allocate_nothing_in_steady_state() {
    let _alone = one_at_a_time();
    // Each thread keeps the nodes of the waits it served (`pool/spare_nodes.rs`); here one
    // thread only waits and another only serves, so the waiting thread keeps none of its own and
    // must find the serving thread's surplus in a shared list: the pool's in strict order, the
    // waiting thread's lane's otherwise (`pool/lanes.rs`).
    for fair_after in [Duration::ZERO, hotpool::builder::DEFAULT_FAIR_AFTER] {
        waits_served_on_another_thread(fair_after);
    }
}

fn waits_served_on_another_thread(fair_after: Duration) {
    let pool = Pool::builder(|| Vec::<u8>::with_capacity(64))
        .max_live(1)
        .fair_after(fair_after)
        .build()
        .unwrap();
    // Room for one guard in flight: a send allocates nothing.
    let (to_server, received) = mpsc::sync_channel::<OwnedPooled<Vec<u8>>>(1);
    thread::scope(|s| {
        // The server gives back every guard it receives, which serves the waiting future.
        s.spawn(move || received.into_iter().for_each(drop));
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut held = Some(pool.get_owned());
        let mut wait = || {
            let mut future = pin!(pool.get_owned_async());
            assert!(future.as_mut().poll(&mut cx).is_pending(), "at the cap");
            let guard = held.take().expect("held between waits");
            to_server
                .send(guard)
                .expect("the server runs until the channel closes");
            held = Some(loop {
                match future.as_mut().poll(&mut cx) {
                    Poll::Ready(guard) => break guard,
                    Poll::Pending => thread::yield_now(),
                }
            });
        };
        for _ in 0..WARM_UP {
            wait();
        }
        // Under miri each round is a few hundred thread switches: fewer of them show the same.
        let rounds = if cfg!(miri) { 100 } else { ROUNDS };
        let calls = calls_on_this_thread(|| (0..rounds).for_each(|_| wait()));
        assert_eq!(
            calls, 0,
            "allocator calls on the waiting thread in {rounds} waits (fair_after {fair_after:?})"
        );
        drop(held);
        drop(to_server);
    });
    let rounds = if cfg!(miri) { 100 } else { ROUNDS };
    assert_eq!(pool.stats().waits as usize, WARM_UP + rounds);
}
