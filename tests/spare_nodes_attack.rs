//! Attacks on the per-thread spare waiter nodes (`pool/spare_nodes.rs`, commit 99eb1c3): thread
//! exit while nodes are held elsewhere, pool code run from thread-local destructors before and
//! after the thread's list is destroyed, user code (wakers, `T::drop`) re-entering the pool
//! around the list's `RefCell`, leaked futures, several node types on one thread, and the
//! removed re-read of a freshly queued async waiter under a multi-thread runtime.

mod support;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use hotpool::{OwnedPooled, Pool};
use support::pool::budgeted;
use support::waker::Polled;
use support::{Census, Counted};

/// Leaks `value` as `mem::forget` would (its destructor never runs), as a user who forgets a
/// future does, but keeps it reachable from a static, so that the suite's leak checkers
/// (LeakSanitizer, valgrind), which hold the crate to leaking nothing of its own, do not report
/// this deliberate leak.
fn leak_reachably<V>(value: V) {
    static LEAKED: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
    let address = Box::into_raw(Box::new(value)) as usize;
    LEAKED.lock().unwrap().push(address);
}

/// Rounds of the longer tests under miri, which runs them thousands of times slower: enough for
/// every interleaving they set up to happen a few times.
const ROUNDS_UNDER_MIRI: Option<usize> = if cfg!(miri) { Some(20) } else { None };

fn bounded(census: &Arc<Census>, cap: usize) -> Pool<Counted> {
    Pool::builder(census.factory())
        .max_live(cap)
        .build()
        .expect("a valid configuration")
}

/// Waits (spinning) until `pool` has counted `n` waits.
fn until_waits(pool: &Pool<Counted>, n: u64) {
    while pool.stats().waits < n {
        thread::yield_now();
    }
}

#[test]
fn a_node_kept_by_a_thread_that_exits_still_serves_the_future_that_holds_it() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let held = pool.get_owned();
    let mut waiting = Polled::new(pool.get_async());
    assert!(waiting.poll().is_pending(), "at the cap");
    // The serving thread retires the node into its own list, then exits (its list is freed)
    // before the waiter looks.
    thread::spawn(move || drop(held)).join().unwrap();
    assert_eq!(waiting.wakes(), 1, "the served future was woken");
    let guard = waiting.ready();
    assert_eq!(census.alive(), 1);
    drop(guard);
    // The node's next use: every later wait still works.
    for _ in 0..200 {
        let held = pool.get_owned();
        let mut waiting = Polled::new(pool.get_async());
        assert!(waiting.poll().is_pending());
        thread::spawn(move || drop(held)).join().unwrap();
        drop(waiting.ready());
    }
    drop(pool);
    census.assert_all_dropped_once(1, 1);
}

#[test]
fn a_served_future_dropped_after_its_serving_thread_exited_passes_its_object_on() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    for _ in 0..50 {
        let held = pool.get_owned();
        let mut waiting = Polled::new(pool.get_async());
        assert!(waiting.poll().is_pending());
        thread::spawn(move || drop(held)).join().unwrap();
        // Served, never polled again: its drop hands the object back.
        drop(waiting);
        assert_eq!(census.alive(), 1);
        assert!(pool.try_get().is_some(), "the object came back idle");
    }
    drop(pool);
    census.assert_all_dropped_once(1, 1);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "leaks an object on purpose, which miri reports as a leak"
)]
fn a_leaked_served_future_leaks_only_its_object_and_later_waits_still_work() {
    let census = Census::new();
    let pool = bounded(&census, 2);
    // Served on another thread, whose list keeps the node; then leaked with its object.
    let held = pool.get_owned();
    let other = pool.get_owned();
    let mut leaked = Polled::new(pool.get_async());
    assert!(leaked.poll().is_pending());
    thread::spawn(move || drop(held)).join().unwrap();
    leak_reachably(leaked);
    // One place is lost with the leaked object; the other still cycles through waits, on this
    // thread and others, reusing (or not) nodes around the leaked one.
    drop(other);
    for round in 0..ROUNDS_UNDER_MIRI.unwrap_or(300) {
        let held = pool.get_owned();
        let mut waiting = Polled::new(pool.get_async());
        assert!(waiting.poll().is_pending(), "round {round}: at the cap");
        if round % 2 == 0 {
            drop(held);
        } else {
            thread::spawn(move || drop(held)).join().unwrap();
        }
        drop(waiting.ready());
    }
    assert_eq!(census.alive(), 2, "the leaked object and the one in use");
    drop(pool);
    assert_eq!(census.alive(), 1, "only the leaked object is left");
    assert_eq!(census.made(), 2);
    assert!(census.most() <= 2);
}

/// A waker that runs pool code when woken, cloned and dropped: a guard given back, a wait
/// queued and cancelled. None of it may find a list borrowed.
struct Reentrant {
    pool: Arc<Pool<Counted>>,
    stash: Mutex<Vec<OwnedPooled<Counted>>>,
    wakes: AtomicUsize,
}

impl Reentrant {
    fn churn(&self) {
        // Queue and cancel (a timed-out wait retires its node).
        let got = self.pool.get_owned_timeout(Duration::ZERO);
        if let Ok(guard) = got {
            drop(guard);
        }
        // Give back whatever was stashed (serves a waiter: retires its node).
        let stashed: Vec<_> = self.stash.lock().unwrap().drain(..).collect();
        drop(stashed);
    }
}

impl Wake for Reentrant {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        self.churn();
    }
}

impl Drop for Reentrant {
    fn drop(&mut self) {
        self.churn();
    }
}

#[test]
fn a_waker_that_reenters_the_pool_from_wake_and_drop_finds_no_list_borrowed() {
    let census = Census::new();
    let pool = Arc::new(bounded(&census, 2));
    for round in 0..200 {
        let reentrant = Arc::new(Reentrant {
            pool: Arc::clone(&pool),
            stash: Mutex::new(Vec::new()),
            wakes: AtomicUsize::new(0),
        });
        let a = pool.get_owned();
        let b = pool.get_owned();
        reentrant.stash.lock().unwrap().push(b);
        let waker = Waker::from(Arc::clone(&reentrant));
        let mut cx = Context::from_waker(&waker);
        let mut future = Box::pin(pool.get_owned_async());
        assert!(future.as_mut().poll(&mut cx).is_pending(), "round {round}");
        // Served on another thread or this one: the wake re-enters the pool.
        if round % 2 == 0 {
            drop(a);
        } else {
            thread::spawn(move || drop(a)).join().unwrap();
        }
        assert!(reentrant.wakes.load(SeqCst) >= 1, "round {round}: woken");
        let guard = match future.as_mut().poll(&mut cx) {
            Poll::Ready(guard) => guard,
            Poll::Pending => panic!("round {round}: served and woken, yet pending"),
        };
        drop(future);
        drop(waker);
        drop(guard);
        drop(reentrant);
        assert!(census.alive() <= 2);
    }
    assert!(census.most() <= 2, "{} alive at once", census.most());
}

/// A value whose drop runs pool code on its thread: in a thread-local, it runs in that
/// thread's teardown, before or after the thread's spare list is destroyed.
struct ExitUser {
    pool: Arc<Pool<Counted>>,
    guard: Option<OwnedPooled<Counted>>,
    queued: Option<Pin<Box<hotpool::GetOwnedFuture<Counted>>>>,
    done: mpsc::Sender<()>,
}

impl Drop for ExitUser {
    fn drop(&mut self) {
        // Cancels a queued wait (its node retires on this exiting thread), gives back a guard
        // (serves a waiter), and waits anew with a timeout (enqueue on this thread).
        drop(self.queued.take());
        drop(self.guard.take());
        if let Ok(guard) = self.pool.get_owned_timeout(Duration::from_millis(1)) {
            drop(guard);
        }
        self.done.send(()).unwrap();
    }
}

thread_local! {
    static EXIT_USER: RefCell<Option<ExitUser>> = const { RefCell::new(None) };
}

fn exit_user_scenario(spare_list_first: bool) {
    let census = Census::new();
    // Strict order: a return serves the first waiter at once, on the returning thread, which
    // retires its node there (with `fair_after` it would notify it, and the node would retire
    // on the waiter's own thread).
    let pool = Arc::new(
        Pool::builder(census.factory())
            .max_live(2)
            .fair_after(Duration::ZERO)
            .build()
            .unwrap(),
    );
    let (done_tx, done_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let exiting = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            let waker = support::waker::noop_waker();
            let mut cx = Context::from_waker(&waker);
            if !spare_list_first {
                // The thread-local's destructor is registered before this thread's spare list
                // exists (its first wait makes it), so it runs after the list is destroyed.
                EXIT_USER.with(|user| assert!(user.borrow().is_none()));
            }
            if spare_list_first {
                // This thread's spare list is made before the thread-local below, so it is
                // destroyed after it (destructors run in reverse order of registration).
                let g = pool.get_owned();
                let g2 = pool.get_owned();
                let mut f = Box::pin(pool.get_owned_async());
                assert!(f.as_mut().poll(&mut cx).is_pending());
                drop(g);
                assert!(f.as_mut().poll(&mut cx).is_ready());
                drop(g2);
            }
            let guard = pool.get_owned();
            let other = pool.get_owned();
            let mut queued = Box::pin(pool.get_owned_async());
            assert!(queued.as_mut().poll(&mut cx).is_pending());
            // Give the main thread something to wait for too.
            EXIT_USER.with(|user| {
                *user.borrow_mut() = Some(ExitUser {
                    pool: Arc::clone(&pool),
                    guard: Some(guard),
                    queued: Some(queued),
                    done: done_tx,
                });
            });
            drop(other);
            ready_tx.send(()).unwrap();
            let _ = go_rx.recv(); // Err once the main thread drops its sender: go
        })
    };
    ready_rx.recv().unwrap();
    // The main thread waits behind the exiting thread's guard.
    let waits = pool.stats().waits;
    let pool2 = Arc::clone(&pool);
    let waiter = thread::spawn(move || pool2.get_owned_timeout(Duration::from_secs(30)).is_ok());
    until_waits(&pool, waits + 1);
    drop(go_tx);
    exiting
        .join()
        .expect("the exiting thread's teardown ran pool code without panicking");
    done_rx.recv().expect("the thread-local's destructor ran");
    assert!(waiter.join().unwrap(), "the waiter was served");
    // Every place is back.
    let a = pool.try_get_owned().expect("a free place");
    let b = pool.try_get_owned().expect("a second free place");
    assert!(pool.try_get_owned().is_none());
    drop((a, b));
    drop(pool);
    assert_eq!(census.alive(), 0);
    assert!(census.most() <= 2, "{} alive at once", census.most());
}

#[test]
fn pool_code_in_a_thread_local_destructor_after_the_spare_list_is_destroyed_falls_back() {
    for _ in 0..20 {
        exit_user_scenario(false);
    }
}

#[test]
fn pool_code_in_a_thread_local_destructor_before_the_spare_list_is_destroyed_is_fine() {
    for _ in 0..20 {
        exit_user_scenario(true);
    }
}

/// Objects whose drop, run on an exiting thread by its cache flush, waits in the pool of
/// another type and gives back a buffer's bytes.
#[test]
fn several_node_types_on_one_thread_with_waits_and_serves_interleaved() {
    let census = Census::new();
    let counted = Arc::new(bounded(&census, 2));
    let strings = Arc::new(Pool::builder(String::new).max_live(1).build().unwrap());
    let units = Arc::new(
        Pool::builder(|| ())
            .recycle_with(|_: &mut ()| true)
            .max_live(1)
            .build()
            .unwrap(),
    );
    let buffers = Arc::new(budgeted(4096));
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let (counted, strings, units, buffers) = (
                Arc::clone(&counted),
                Arc::clone(&strings),
                Arc::clone(&units),
                Arc::clone(&buffers),
            );
            thread::spawn(move || {
                for i in 0..ROUNDS_UNDER_MIRI.unwrap_or(400) {
                    let c = counted
                        .get_timeout(Duration::from_secs(30))
                        .expect("counted");
                    let s = strings
                        .get_timeout(Duration::from_secs(30))
                        .expect("string");
                    let u = units.get_timeout(Duration::from_secs(30)).expect("unit");
                    let b = buffers
                        .get_timeout(3000, Duration::from_secs(30))
                        .expect("bytes");
                    if (i + t) % 3 == 0 {
                        drop((b, u, s, c));
                    } else {
                        drop((c, s, u, b));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join()
            .expect("no thread panicked (a wrong list type would)");
    }
    assert!(census.most() <= 2);
    assert_eq!(strings.stats().created, 1);
}

/// A tiny executor on several threads: tasks over a small cap, each woken through a waker that
/// re-queues it; cancellation at random points. Every acquisition must complete.
#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of waits across threads: hours under miri; no unsafe code of its own"
)]
fn tokio_tasks_over_a_small_cap_with_cancels_and_timeouts_all_complete_under_the_cap() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let census = Census::new();
    let pool = bounded(&census, 3);
    let done = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..48usize {
            let pool = pool.clone();
            let census = Arc::clone(&census);
            let done = Arc::clone(&done);
            tasks.spawn(async move {
                let mut seed = t as u64 * 0x9E37_79B9 + 1;
                for i in 0..300usize {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    match seed % 5 {
                        // Cancelled at a random point (maybe after it was served).
                        0 => {
                            let _ = tokio::time::timeout(
                                Duration::from_micros(seed % 50),
                                pool.get_owned_async(),
                            )
                            .await;
                        }
                        1 => {
                            let mut fut = Box::pin(pool.get_owned_async());
                            let waker = support::waker::noop_waker();
                            let _ = fut.as_mut().poll(&mut Context::from_waker(&waker));
                            tokio::task::yield_now().await;
                            drop(fut);
                        }
                        _ => {
                            let guard = pool.get_owned_async().await;
                            assert!(census.alive() <= 3, "task {t} round {i}: over the cap");
                            if i % 2 == 0 {
                                tokio::task::yield_now().await;
                            }
                            drop(guard);
                        }
                    }
                }
                done.fetch_add(1, SeqCst);
            });
        }
        support::tasks::join_all(tasks, "a task never got an object (lost wake-up or place)").await;
    });
    assert_eq!(done.load(SeqCst), 48);
    assert!(census.most() <= 3, "{} alive at once", census.most());
    // Every place is back (objects idle in the workers' caches are gathered by a waiter).
    let guards: Vec<_> = (0..3)
        .map(|i| {
            pool.get_owned_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("place {i} lost"))
        })
        .collect();
    assert!(pool.get_owned_timeout(Duration::from_millis(10)).is_err());
    drop(guards);
    drop(runtime);
}

/// The removed re-read: a future queued (without stealing) on one thread and served at once by
/// another, before it returns `Pending`, must still be woken. Checked with a waker that records
/// whether a wake-up came after the first `Pending`.
#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of waits across threads: hours under miri; no unsafe code of its own"
)]
fn a_future_served_while_it_queues_is_woken() {
    let census = Census::new();
    let pool = Arc::new(bounded(&census, 1));
    let stop = Arc::new(AtomicBool::new(false));
    // A thread that keeps taking and giving back the object as fast as it can.
    let churn = {
        let pool = Arc::clone(&pool);
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(SeqCst) {
                if let Some(g) = pool.try_get() {
                    drop(g);
                }
            }
        })
    };
    for round in 0..3000 {
        let mut waiting = Polled::new(pool.get_async());
        match waiting.poll() {
            Poll::Ready(guard) => drop(guard),
            Poll::Pending => {
                // Served (or notified) by the churn at some point: must be woken.
                let start = std::time::Instant::now();
                while waiting.wakes() == 0 {
                    assert!(
                        start.elapsed() < Duration::from_secs(20),
                        "round {round}: queued and never woken"
                    );
                    thread::yield_now();
                }
                // Woken: poll until ready (a notification may need another wake).
                let mut last = waiting.wakes();
                loop {
                    match waiting.poll() {
                        Poll::Ready(guard) => {
                            drop(guard);
                            break;
                        }
                        Poll::Pending => {
                            let start = std::time::Instant::now();
                            while waiting.wakes() == last {
                                assert!(
                                    start.elapsed() < Duration::from_secs(20),
                                    "round {round}: pending again and never woken"
                                );
                                thread::yield_now();
                            }
                            last = waiting.wakes();
                        }
                    }
                }
            }
        }
    }
    stop.store(true, SeqCst);
    churn.join().unwrap();
    assert!(census.most() <= 1);
}

/// Threads that return objects to their caches and exit while others wait: the exit hook's
/// flush serves waiters on the exiting thread, whose spare list may be gone already.
#[test]
fn threads_exiting_with_cached_objects_while_others_wait_lose_no_place() {
    let census = Census::new();
    let pool = Arc::new(bounded(&census, 2));
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..2)
        .map(|w| {
            let (pool, stop, served) = (Arc::clone(&pool), Arc::clone(&stop), Arc::clone(&served));
            thread::spawn(move || {
                while !stop.load(SeqCst) {
                    let guard = pool
                        .get_owned_timeout(Duration::from_secs(30))
                        .unwrap_or_else(|_| panic!("waiter {w}: a place was lost"));
                    served.fetch_add(1, SeqCst);
                    drop(guard);
                }
            })
        })
        .collect();
    for round in 0..ROUNDS_UNDER_MIRI.unwrap_or(300) {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            // Into this thread's cache (if open), left there at exit; a wait on the way makes
            // the thread's spare list first in some rounds.
            if round % 2 == 0 {
                if let Ok(g) = pool.get_owned_timeout(Duration::from_millis(1)) {
                    drop(g);
                }
            }
            let a = pool.get_owned_timeout(Duration::from_secs(30)).expect("a");
            drop(a);
        })
        .join()
        .expect("an exiting thread panicked");
        assert!(census.alive() <= 2);
    }
    stop.store(true, SeqCst);
    for w in waiters {
        w.join().expect("a waiter panicked");
    }
    assert!(served.load(SeqCst) > 0);
    let guards: Vec<_> = (0..2)
        .map(|i| {
            pool.get_owned_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("place {i} lost"))
        })
        .collect();
    drop(guards);
    assert!(census.most() <= 2, "{} alive at once", census.most());
}

/// Blocking waits on tokio's blocking threads, which exit a millisecond after they go idle (so
/// their spare lists are freed while nodes they kept are held by tasks and threads elsewhere),
/// mixed with async waits and cancellations on the workers.
#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of waits across threads: hours under miri; no unsafe code of its own"
)]
fn blocking_threads_that_exit_mid_traffic_lose_no_place_and_hold_the_cap() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .thread_keep_alive(Duration::from_millis(1))
        .enable_time()
        .build()
        .unwrap();
    let census = Census::new();
    let pool = bounded(&census, 2);
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..24usize {
            let pool = pool.clone();
            let census = Arc::clone(&census);
            tasks.spawn(async move {
                for i in 0..60usize {
                    match (t + i) % 4 {
                        0 => {
                            let pool = pool.clone();
                            let census = Arc::clone(&census);
                            tokio::task::spawn_blocking(move || {
                                let guard = pool
                                    .get_owned_timeout(Duration::from_secs(30))
                                    .expect("a blocking waiter was never served");
                                assert!(census.alive() <= 2, "over the cap");
                                drop(guard);
                            })
                            .await
                            .expect("the blocking wait panicked");
                            if i % 8 == 0 {
                                // Let the blocking threads go idle and exit.
                                tokio::time::sleep(Duration::from_millis(3)).await;
                            }
                        }
                        1 => {
                            let _ = tokio::time::timeout(
                                Duration::from_micros(20),
                                pool.get_owned_async(),
                            )
                            .await;
                        }
                        _ => {
                            let guard = pool.get_owned_async().await;
                            assert!(census.alive() <= 2, "over the cap");
                            tokio::task::yield_now().await;
                            drop(guard);
                        }
                    }
                }
            });
        }
        support::tasks::join_all(tasks, "a wait never completed (lost wake-up or place)").await;
    });
    drop(runtime);
    assert!(census.most() <= 2, "{} alive at once", census.most());
    let guards: Vec<_> = (0..2)
        .map(|i| {
            pool.get_owned_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("place {i} lost"))
        })
        .collect();
    drop(guards);
    drop(pool);
    assert_eq!(census.alive(), 0);
}

/// A future leaked while queued, then served: its node (in the queue, then in the serving
/// thread's list) keeps what it was handed; the pool still drops cleanly with it outstanding.
#[test]
#[cfg_attr(
    miri,
    ignore = "leaks an object on purpose, which miri reports as a leak"
)]
fn a_future_leaked_while_queued_then_served_leaks_one_object_and_the_pool_drops_cleanly() {
    let census = Census::new();
    let pool = bounded(&census, 1);
    let held = pool.get_owned();
    let mut leaked = Polled::new(pool.get_async());
    assert!(leaked.poll().is_pending());
    leak_reachably(leaked);
    // Served on another thread, which exits with the node in its list.
    thread::spawn(move || drop(held)).join().unwrap();
    assert!(
        pool.get_timeout(Duration::from_millis(5)).is_err(),
        "the leaked waiter holds the one object"
    );
    drop(pool);
    assert_eq!(census.alive(), 1, "exactly the leaked object is left");
    assert_eq!(census.made(), 1);
}
