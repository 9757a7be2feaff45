//! `BufferPool`'s in-flight byte budget (`max_live_bytes`): the bytes of buffers in use never
//! exceed it (sampled by the holders themselves, and through `stats()`), blocking, timed, async
//! and `try_` acquisitions each do what their docs say at the budget, requests over the whole
//! budget fail at once, waiters are served first come first served by their whole charge, and
//! nothing is lost when waits are cancelled, buffers are detached or frozen.

mod support;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hotpool::{BufferError, BufferPool};
use support::pool::budgeted;
use support::waker::noop_waker;

const BUDGET: usize = 16 * 1024;

/// Bytes the holders say they hold, and the most they ever held at once.
#[derive(Default)]
struct Held {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Held {
    fn take(&self, bytes: usize) {
        let now = self.now.fetch_add(bytes, Ordering::SeqCst) + bytes;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    fn give(&self, bytes: usize) {
        self.now.fetch_sub(bytes, Ordering::SeqCst);
    }
}

/// The sizes a worker asks for, mixed and all within the budget (xorshift, per worker).
fn sizes(seed: u64, n: usize) -> impl Iterator<Item = usize> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n).map(move |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        [1, 100, 1500, 4096, 5000][(state % 5) as usize]
    })
}

fn rounds() -> usize {
    support::rounds(2_000, 20)
}

#[test]
fn threads_never_hold_more_than_the_budget() {
    let pool = budgeted(BUDGET);
    let held = Held::default();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (pool, held) = (&pool, &held);
            s.spawn(move || {
                for n in sizes(t + 1, rounds()) {
                    let mut buf = pool.get(n);
                    held.take(buf.capacity());
                    assert!(pool.stats().live_bytes <= BUDGET);
                    buf.extend_from_slice(&[7; 64]);
                    std::thread::yield_now();
                    held.give(buf.capacity());
                }
            });
        }
    });
    let peak = held.peak.load(Ordering::SeqCst);
    assert!(peak <= BUDGET, "held {peak} bytes at once, over {BUDGET}");
    let stats = pool.stats();
    assert_eq!((stats.live_bytes, stats.in_use), (0, 0), "{stats:?}");
    assert_eq!(stats.max_live_bytes, Some(BUDGET));
}

#[cfg(not(miri))]
#[test]
fn tokio_tasks_never_hold_more_than_the_budget_and_all_finish() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let pool = Arc::new(budgeted(BUDGET));
    let held = Arc::new(Held::default());
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..32 {
            let (pool, held) = (Arc::clone(&pool), Arc::clone(&held));
            tasks.spawn(async move {
                for (i, n) in sizes(t + 1, 200).enumerate() {
                    let buf = if i % 2 == 0 {
                        pool.get_owned_async(n).await
                    } else {
                        let buf = pool.get_async(n).await;
                        // A borrowed guard cannot cross the await below; take its bytes to an
                        // owned one instead.
                        drop(buf);
                        pool.get_owned_async(n).await
                    };
                    held.take(buf.capacity());
                    tokio::task::yield_now().await; // holding the bytes
                    held.give(buf.capacity());
                }
            });
        }
        support::tasks::join_all(tasks, "the tasks hung: bytes were lost").await;
    });
    let peak = held.peak.load(Ordering::SeqCst);
    assert!(peak <= BUDGET, "held {peak} bytes at once, over {BUDGET}");
    let stats = pool.stats();
    assert_eq!((stats.live_bytes, stats.in_use), (0, 0), "{stats:?}");
    assert!(
        stats.waits > 0,
        "the budget never filled: the test checked nothing"
    );
}

#[test]
fn at_the_budget_try_get_refuses_get_timeout_gives_up_and_both_leave_it_unchanged() {
    let pool = budgeted(8192);
    let _a = pool.get(4096);
    let _b = pool.get(4000); // charged 4096
    let err = pool.try_get(1).unwrap_err();
    assert_eq!(
        err,
        pool.try_get(1).unwrap_err(),
        "the same refusal each time"
    );
    assert!(matches!(
        err,
        BufferError::AtBudget {
            requested: 1,
            charge: 64,
            max_live_bytes: 8192,
            ..
        }
    ));
    let err = pool.get_timeout(1, Duration::from_millis(2)).unwrap_err();
    match err {
        BufferError::Timeout {
            requested, waited, ..
        } => {
            assert_eq!(requested, 1);
            assert!(
                waited >= Duration::from_millis(2),
                "gave up early: {waited:?}"
            );
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(err
        .to_string()
        .starts_with("buffer request of 1 bytes refused"));
    let stats = pool.stats();
    assert_eq!((stats.live_bytes, stats.in_use, stats.waits), (8192, 2, 1));
    assert_eq!(
        stats.refused, 2,
        "try_get's refusals; a timeout is a wait, not a refusal"
    );
}

#[test]
fn a_request_over_the_whole_budget_fails_at_once_in_every_form() {
    let pool = budgeted(4096);
    // 4097 bytes: above the largest class (4096), a plain allocation that would be charged
    // 4097 bytes: more than the budget.
    let over = |err: BufferError| {
        assert!(
            matches!(
                err,
                BufferError::OverBudget {
                    requested: 4097,
                    charge: 4097,
                    max_live_bytes: 4096,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "buffer request of 4097 bytes refused: its 4097 bytes are more than max_live_bytes = 4096"
        );
    };
    over(pool.try_get(4097).unwrap_err());
    over(pool.try_get_owned(4097).unwrap_err());
    // Never waits, even with a long timeout and nothing else held.
    over(
        pool.get_timeout(4097, Duration::from_secs(3600))
            .unwrap_err(),
    );
    let panicked = catch_unwind(AssertUnwindSafe(|| drop(pool.get(4097)))).unwrap_err();
    assert_eq!(
        panicked.downcast_ref::<String>().unwrap(),
        "buffer request of 4097 bytes refused: its 4097 bytes are more than max_live_bytes = 4096"
    );
    let mut future = pin!(pool.get_async(4097));
    let polled = catch_unwind(AssertUnwindSafe(|| {
        let _ = future
            .as_mut()
            .poll(&mut Context::from_waker(&noop_waker()));
    }));
    assert!(
        polled.is_err(),
        "get_async panics at its first poll, as get does"
    );
    let stats = pool.stats();
    assert_eq!(
        (stats.live_bytes, stats.created, stats.waits),
        (0, 0, 0),
        "{stats:?}"
    );
}

#[test]
fn budget_errors_below_the_smallest_class_are_configuration_errors() {
    let err = BufferPool::builder()
        .max_live_bytes(63)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: max_live_bytes = 63 is below the minimum of 64"
    );
    assert!(BufferPool::builder().max_live_bytes(64).build().is_ok());
}

#[test]
fn a_large_waiter_is_served_before_a_smaller_one_behind_it() {
    let pool = budgeted(4096);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let a = pool.get(2048);
    let b = pool.get(2048);
    let mut large = pin!(pool.get_async(4096));
    assert!(large.as_mut().poll(&mut cx).is_pending());
    let mut small = pin!(pool.get_async(64));
    assert!(
        small.as_mut().poll(&mut cx).is_pending(),
        "it may not overtake the large one"
    );
    drop(a); // 2048 free: not enough for the first waiter, and the second waits behind it
    assert!(small.as_mut().poll(&mut cx).is_pending());
    assert!(pool.try_get(64).is_err(), "nor does a newcomer overtake");
    drop(b);
    let Poll::Ready(large) = large.as_mut().poll(&mut cx) else {
        panic!("the large waiter fits now");
    };
    assert_eq!(large.capacity(), 4096);
    assert!(small.as_mut().poll(&mut cx).is_pending());
    drop(large);
    assert!(matches!(small.as_mut().poll(&mut cx), Poll::Ready(buf) if buf.capacity() == 64));
    assert_eq!(pool.stats().waits, 2);
}

#[test]
fn a_dropped_waiting_future_lets_the_ones_behind_it_through_and_passes_on_what_it_was_handed() {
    let pool = budgeted(4096);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let a = pool.get(2048);
    let b = pool.get(2048);
    {
        // Boxed, not `pin!`ed: dropping the future itself is the point.
        let mut large = Box::pin(pool.get_async(4096));
        assert!(large.as_mut().poll(&mut cx).is_pending());
        let mut small = pin!(pool.get_async(1024));
        assert!(small.as_mut().poll(&mut cx).is_pending());
        drop(a);
        assert!(
            small.as_mut().poll(&mut cx).is_pending(),
            "behind the large one"
        );
        // The large one gives up: the small one fits in the 2048 bytes free.
        drop(large);
        let Poll::Ready(small) = small.as_mut().poll(&mut cx) else {
            panic!("the waiter behind a cancelled one is served");
        };
        assert_eq!((small.capacity(), pool.stats().live_bytes), (1024, 3072));
    }
    // Served, then dropped before its poll: the bytes go on, not lost.
    {
        let mut waiting = Box::pin(pool.get_async(4096));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        drop(b); // serves the waiter, which never polls again
        drop(waiting);
    }
    assert_eq!(pool.stats().live_bytes, 0);
    assert!(pool.try_get(4096).is_ok(), "the whole budget is free again");
}

#[test]
fn detached_and_grown_buffers_give_back_what_they_were_charged() {
    let pool = budgeted(8192);
    let mut grown = pool.get(100); // charged 128
    grown.extend_from_slice(&[1; 5000]); // grows past the largest class while in use
    assert_eq!(pool.stats().live_bytes, 128, "growth in use is not charged");
    let detached = hotpool::Buffer::detach(pool.get(1000)); // charged 1024, then leaves
    assert_eq!(detached.capacity(), 1024);
    assert_eq!(pool.stats().live_bytes, 128);
    drop(grown);
    let stats = pool.stats();
    assert_eq!((stats.live_bytes, stats.in_use), (0, 0), "{stats:?}");
}

#[cfg(feature = "bytes")]
#[test]
fn a_frozen_buffer_holds_its_bytes_until_the_last_bytes_clone_drops() {
    let pool = budgeted(4096);
    let mut buf = pool.get_owned(4096);
    buf.extend_from_slice(b"payload");
    let frozen = buf.freeze();
    let slice = frozen.slice(1..4);
    drop(frozen);
    assert!(matches!(
        pool.try_get(64),
        Err(BufferError::AtBudget { .. })
    ));
    assert_eq!(&slice[..], b"ayl");
    drop(slice);
    assert_eq!(pool.stats().live_bytes, 0);
    assert_eq!(pool.try_get(4096).unwrap().capacity(), 4096);
}

#[test]
fn without_a_budget_nothing_is_charged_and_nothing_waits() {
    let pool = BufferPool::new();
    let bufs: Vec<_> = (0..100).map(|_| pool.get(64 * 1024)).collect();
    let stats = pool.stats();
    assert_eq!(
        (stats.live_bytes, stats.max_live_bytes, stats.waits),
        (0, None, 0)
    );
    assert!(pool.get_timeout(1, Duration::ZERO).is_ok());
    let mut future = pin!(pool.get_async(10));
    assert!(future
        .as_mut()
        .poll(&mut Context::from_waker(&noop_waker()))
        .is_ready());
    drop(bufs);
}
