//! Attacks on `BufferPool`'s in-flight byte budget (`max_live_bytes`) and the weighted limiter
//! behind it: every path that charges bytes and then fails (an allocation the allocator refuses
//! after the wait, a waker that panics, a refused size), buffers that change class, timed waits
//! racing the releases that serve them, and the bounded `Pool` waits that now share the
//! limiter's `serve_fitting`. Each checks that no byte is leaked or released twice
//! (`live_bytes` back to 0, the whole budget takable again) and that nobody overtakes a waiter.
//!
//! The binary installs an allocator that refuses (null) every allocation above [`LIMIT`], so that
//! an oversized request can be charged, wait, and then fail in `take_charged`.

mod support;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hotpool::{BufferError, BufferPool, Pool};
use support::pool::budgeted;
use support::waker::noop_waker;

/// The largest allocation the allocator serves.
const LIMIT: usize = support::alloc::REFUSED_ABOVE;

#[global_allocator]
static ALLOCATOR: support::alloc::Refusing = support::alloc::Refusing;

/// A request the budget admits but the allocator refuses: above the largest class and `LIMIT`.
const REFUSED: usize = 2 * LIMIT;

fn assert_all_free(pool: &BufferPool, budget: usize) {
    let stats = pool.stats();
    assert_eq!((stats.live_bytes, stats.in_use), (0, 0), "{stats:?}");
    let whole = pool.try_get(budget.min(4096));
    assert!(whole.is_ok(), "{whole:?}");
}

#[test]
fn a_served_future_whose_allocation_fails_gives_its_bytes_back_and_lets_the_next_through() {
    support::quiet_panics("buffer request of");
    let budget = REFUSED;
    let pool = budgeted(budget);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let held = pool.get(4096);
    let mut big = Box::pin(pool.get_async(REFUSED));
    assert!(
        big.as_mut().poll(&mut cx).is_pending(),
        "4096 bytes are held"
    );
    let mut small = pin!(pool.get_async(64));
    assert!(
        small.as_mut().poll(&mut cx).is_pending(),
        "behind the big one"
    );
    drop(held); // serves the big one: charged REFUSED bytes
    assert_eq!(pool.stats().live_bytes, REFUSED);
    let refused_before = pool.stats().refused;
    let panicked = catch_unwind(AssertUnwindSafe(|| big.as_mut().poll(&mut cx)));
    assert!(
        panicked.is_err(),
        "the allocator refused it: get_async panics"
    );
    assert_eq!(pool.stats().refused, refused_before + 1);
    drop(big); // dropped after the panic: nothing left to cancel
    let Poll::Ready(small) = small.as_mut().poll(&mut cx) else {
        panic!("the bytes the failed allocation gave back serve the waiter behind it");
    };
    assert_eq!((small.capacity(), pool.stats().live_bytes), (64, 64));
    drop(small);
    assert_all_free(&pool, budget);
}

#[test]
fn a_timed_wait_whose_allocation_fails_after_it_was_served_returns_alloc_failed_and_no_bytes() {
    let pool = budgeted(REFUSED);
    let held = pool.get(4096);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| pool.get_timeout(REFUSED, Duration::from_secs(60)).err());
        while pool.stats().waits == 0 {
            std::thread::yield_now();
        }
        drop(held);
        let err = waiter.join().unwrap();
        assert!(
            matches!(err, Some(BufferError::AllocFailed { requested, .. }) if requested == REFUSED),
            "{err:?}"
        );
    });
    assert_all_free(&pool, REFUSED);
}

/// A waker whose `clone` panics while `armed` is set.
fn armed_waker(armed: &Arc<AtomicBool>) -> Waker {
    // A `RawWaker` by hand: `Wake` gives no hook on clone.
    use std::task::{RawWaker, RawWakerVTable};
    const VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, drop_raw);
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is an `Arc<AtomicBool>` leaked by `armed_waker` or `clone`.
        let armed = unsafe { &*data.cast::<AtomicBool>() };
        if armed.load(Ordering::SeqCst) {
            panic!("waker clone bomb");
        }
        // SAFETY: as above; one more strong count for the new waker.
        unsafe { Arc::increment_strong_count(data.cast::<AtomicBool>()) };
        RawWaker::new(data, &VTABLE)
    }
    unsafe fn noop(_: *const ()) {}
    unsafe fn drop_raw(data: *const ()) {
        // SAFETY: every waker holds one strong count of the `Arc<AtomicBool>`.
        unsafe { Arc::decrement_strong_count(data.cast::<AtomicBool>()) };
    }
    let data = Arc::into_raw(Arc::clone(armed)).cast::<()>();
    // SAFETY: the vtable's functions uphold `RawWaker`'s contract for this data (an `Arc`).
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

#[test]
fn a_waker_that_panics_while_the_future_queues_or_re_polls_leaves_the_budget_whole() {
    support::quiet_panics("waker clone bomb");
    let pool = budgeted(4096);
    let armed = Arc::new(AtomicBool::new(true));
    let bomb = armed_waker(&armed);
    let held = pool.get(4096);
    // The first poll queues with a clone of the waker: it panics under the budget's lock.
    let mut first = Box::pin(pool.get_async(64));
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        first.as_mut().poll(&mut Context::from_waker(&bomb))
    }));
    assert!(panicked.is_err());
    drop(first);
    let stats = pool.stats();
    assert_eq!((stats.live_bytes, stats.waits), (4096, 0), "nothing queued");
    // Queued with a good waker, then re-polled with the bomb: it stays queued, then is dropped.
    armed.store(false, Ordering::SeqCst);
    let mut second = Box::pin(pool.get_async(64));
    let good = armed_waker(&armed);
    assert!(second
        .as_mut()
        .poll(&mut Context::from_waker(&good))
        .is_pending());
    armed.store(true, Ordering::SeqCst);
    let other = armed_waker(&Arc::new(AtomicBool::new(true)));
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        second.as_mut().poll(&mut Context::from_waker(&other))
    }));
    assert!(panicked.is_err());
    drop(second); // leaves the queue
    armed.store(false, Ordering::SeqCst);
    drop(held);
    assert_all_free(&pool, 4096);
}

#[test]
fn buffers_that_change_class_or_shrink_release_exactly_their_charge() {
    let pool = budgeted(8192);
    let mut shrunk = pool.get(4000); // charged 4096
    shrunk.shrink_to_fit(); // capacity 0: no class fits it now
    let mut smaller = pool.get(1000); // charged 1024
    smaller.extend_from_slice(&[7; 10]);
    smaller.shrink_to(512); // to the 512 class? (Vec may keep 1024: either way, 1024 released)
    let mut bigger = pool.get_owned(100); // charged 128
    bigger.extend_from_slice(&[1; 3000]); // into the 4096 class on return
    assert_eq!(pool.stats().live_bytes, 4096 + 1024 + 128);
    drop(shrunk);
    assert_eq!(pool.stats().live_bytes, 1024 + 128);
    drop(smaller);
    assert_eq!(pool.stats().live_bytes, 128);
    let bigger = std::thread::spawn(move || drop(bigger));
    bigger.join().unwrap();
    assert_all_free(&pool, 8192);
    assert!(pool.try_get(4096).is_ok() && pool.try_get(4096).is_ok());
}

#[test]
fn refusals_for_size_are_immediate_even_at_the_budget_and_charge_nothing() {
    support::quiet_panics("buffer request of");
    let pool = BufferPool::builder()
        .max_size(64 * 1024)
        .max_request(3000)
        .max_live_bytes(8192)
        .build()
        .unwrap();
    // The whole budget.
    let held: Vec<_> = (0..4).map(|_| pool.get(2048)).collect();
    // 3500 is below max_size but above max_request: refused for its size, not its bytes.
    let err = pool.get_timeout(3500, Duration::from_secs(60)).unwrap_err();
    assert!(
        matches!(err, BufferError::AboveMaxRequest { .. }),
        "{err:?}"
    );
    let err = pool.try_get(3500).unwrap_err();
    assert!(
        matches!(err, BufferError::AboveMaxRequest { .. }),
        "{err:?}"
    );
    let mut future = Box::pin(pool.get_async(3500));
    support::expect_panic("above max_request", || {
        future
            .as_mut()
            .poll(&mut Context::from_waker(&noop_waker()))
    });
    drop(future);
    let stats = pool.stats();
    assert_eq!((stats.live_bytes, stats.waits), (8192, 0), "{stats:?}");
    drop(held);
    let stats = pool.stats();
    assert_eq!((stats.live_bytes, stats.in_use), (0, 0), "{stats:?}");
}

#[test]
fn a_future_polled_to_ready_then_dropped_releases_once_through_its_buffer() {
    let pool = budgeted(4096);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let held = pool.get(2048);
    let mut waiting = Box::pin(pool.get_async(4096));
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    drop(held);
    let Poll::Ready(buf) = waiting.as_mut().poll(&mut cx) else {
        panic!("served");
    };
    drop(waiting); // after Ready: must not give the buffer's bytes back a second time
    assert_eq!(pool.stats().live_bytes, 4096);
    assert!(matches!(
        pool.try_get(64),
        Err(BufferError::AtBudget { .. })
    ));
    drop(buf);
    assert_all_free(&pool, 4096);
}

#[test]
fn timed_waits_racing_the_releases_that_serve_them_leak_nothing() {
    const BUDGET: usize = 4096;
    let pool = budgeted(BUDGET);
    let held = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (pool, held, peak) = (&pool, &held, &peak);
            s.spawn(move || {
                let mut state = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for _ in 0..support::rounds(3_000, 20) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let n = [64, 1000, 4096, 2048][(state % 4) as usize];
                    // Timeouts of 0 to a few microseconds: many expire just as they are served.
                    let timeout = Duration::from_nanos((state >> 8) % 20_000);
                    if let Ok(buf) = pool.get_timeout(n, timeout) {
                        let cap = buf.capacity();
                        let now = held.fetch_add(cap, Ordering::SeqCst) + cap;
                        peak.fetch_max(now, Ordering::SeqCst);
                        for _ in 0..(state % 4) {
                            std::thread::yield_now();
                        }
                        held.fetch_sub(cap, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert!(peak.load(Ordering::SeqCst) <= BUDGET);
    assert!(pool.stats().waits > 0, "the budget was never contended");
    assert_all_free(&pool, BUDGET);
}

#[test]
fn a_cancelled_pool_waiter_does_not_get_a_place_while_the_pool_is_at_its_cap() {
    let created = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&created);
    let pool = Pool::builder(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Vec::<u8>::new()
    })
    .max_live(1)
    .build()
    .unwrap();
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let guard = pool.get();
    let mut a = Box::pin(pool.get_async());
    let mut b = Box::pin(pool.get_async());
    let mut c = Box::pin(pool.get_async());
    assert!(a.as_mut().poll(&mut cx).is_pending());
    assert!(b.as_mut().poll(&mut cx).is_pending());
    assert!(c.as_mut().poll(&mut cx).is_pending());
    drop(a); // cancelling the first must not hand the second a place: none is free
    assert!(b.as_mut().poll(&mut cx).is_pending());
    drop(guard); // the object goes to b
    let Poll::Ready(obj) = b.as_mut().poll(&mut cx) else {
        panic!("b is next");
    };
    assert!(c.as_mut().poll(&mut cx).is_pending());
    drop(b);
    drop(c); // cancelled while queued
    drop(obj);
    assert_eq!(
        created.load(Ordering::SeqCst),
        1,
        "never more than max_live"
    );
    assert!(pool.try_get().is_some());
}

#[test]
fn tokio_tasks_whose_waits_are_cancelled_by_timeouts_and_selects_leak_nothing() {
    const BUDGET: usize = 8192;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let pool = Arc::new(budgeted(BUDGET));
    let held = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..16u64 {
            let (pool, held, peak) = (Arc::clone(&pool), Arc::clone(&held), Arc::clone(&peak));
            tasks.spawn(async move {
                let mut state = (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for _ in 0..support::rounds(300, 5) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let n = [64, 1000, 4096, 8192][(state % 4) as usize];
                    let buf = if state & 16 == 0 {
                        // Cancelled by a timer: often while queued, sometimes just as served.
                        let wait = Duration::from_micros((state >> 8) % 200);
                        tokio::time::timeout(wait, pool.get_owned_async(n))
                            .await
                            .ok()
                    } else {
                        // Two waits at once: the loser is dropped, queued or served.
                        tokio::select! {
                            buf = pool.get_owned_async(n) => Some(buf),
                            buf = pool.get_owned_async(64) => Some(buf),
                        }
                    };
                    if let Some(buf) = buf {
                        let cap = buf.capacity();
                        let now = held.fetch_add(cap, Ordering::SeqCst) + cap;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        held.fetch_sub(cap, Ordering::SeqCst);
                    }
                }
            });
        }
        support::tasks::join_all(tasks, "the tasks hung: bytes or wake-ups were lost").await;
    });
    assert!(peak.load(Ordering::SeqCst) <= BUDGET);
    assert!(pool.stats().waits > 0, "the budget was never contended");
    assert_all_free(&pool, BUDGET);
}

#[test]
fn the_futures_are_send_and_the_owned_one_is_static() {
    fn send<T: Send>(_: &T) {}
    fn send_static<T: Send + 'static>(_: &T) {}
    let pool = budgeted(4096);
    send(&pool.get_async(64));
    send_static(&pool.get_owned_async(64));
}

/// A task's waker whose last drop runs `on_drop`: as a real task's last waker handle drops the
/// task, and with it whatever the task holds.
struct DropHook(Box<dyn Fn() + Send + Sync>);

impl std::task::Wake for DropHook {
    fn wake(self: Arc<Self>) {}
}

impl Drop for DropHook {
    fn drop(&mut self) {
        (self.0)();
    }
}

fn waker_with_drop_hook(on_drop: impl Fn() + Send + Sync + 'static) -> Waker {
    Arc::new(DropHook(Box::new(on_drop))).into()
}

/// Found by review: the cancelled waiter's waker was dropped under the budget's lock, after the
/// cancel had served the waiter behind it and before that one was woken; a panicking drop lost
/// the wake-up (the follower's bytes charged, the follower parked for good).
#[test]
fn a_follower_served_by_a_cancel_is_woken_even_if_the_cancelled_waker_panics_on_drop() {
    let pool = Arc::new(budgeted(4096));
    let held_a = pool.get_owned(2048);
    let _held_b = pool.get_owned(2048);
    let armed = Arc::new(AtomicBool::new(false));
    let waker = waker_with_drop_hook({
        let armed = Arc::clone(&armed);
        move || {
            if armed.swap(false, Ordering::SeqCst) {
                panic!("a waker's drop panicked");
            }
        }
    });
    let mut head = Box::pin(pool.get_async(4096));
    assert!(head
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(waker); // the queued clone is the last one now
    let (tx, rx) = std::sync::mpsc::channel();
    let follower = std::thread::spawn({
        let pool = Arc::clone(&pool);
        move || tx.send(pool.get(1024).capacity()).unwrap() // queues behind the head
    });
    while pool.stats().waits < 2 {
        std::thread::yield_now();
    }
    drop(held_a); // 2048 free: the head's 4096 do not fit, the follower waits behind it
    armed.store(true, Ordering::SeqCst);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(head))).is_err());
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(60)).ok(),
        Some(1024),
        "the follower was served (live_bytes {}) but never woken",
        pool.stats().live_bytes
    );
    follower.join().unwrap();
}

/// Found by review: the cancelled waiter's waker was dropped under the budget's lock; a drop that
/// reaches the pool (the last handle of a task holding one of its buffers) deadlocked.
#[test]
fn dropping_a_queued_future_drops_its_waker_outside_the_budget_lock() {
    let pool = Arc::new(budgeted(4096));
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn({
        let pool = Arc::clone(&pool);
        move || {
            let held = pool.get(4096);
            let reenter = Arc::new(AtomicBool::new(false));
            let waker = waker_with_drop_hook({
                let (pool, reenter) = (Arc::clone(&pool), Arc::clone(&reenter));
                move || {
                    if reenter.load(Ordering::SeqCst) {
                        let _ = pool.stats(); // takes the budget's lock
                    }
                }
            });
            let mut future = Box::pin(pool.get_async(64));
            assert!(future
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            drop(waker);
            reenter.store(true, Ordering::SeqCst);
            drop(future); // the queued waker's last drop
            drop(held);
            tx.send(()).unwrap();
        }
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(60)).is_ok(),
        "deadlock: the waker's drop ran under the budget's lock"
    );
    worker.join().unwrap();
    assert_eq!(pool.stats().live_bytes, 0);
}
