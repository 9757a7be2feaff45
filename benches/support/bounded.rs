//! `pool/bounded`: pools that may hold at most a few objects at once, shared by more takers than
//! that, so takers wait for each other. Included by `benches/pool.rs`.
//!
//! Every case runs the usual round (take a 4 KiB `Vec<u8>`, write 64 bytes, give it back) under a
//! cap of live objects. One iteration is one acquisition, spread over all takers: criterion
//! reports the time per acquisition and acquisitions per second (`Throughput::Elements(1)`), the
//! same unit in every case.
//!
//! # Async cases: [`TASKS`] tokio tasks, [`MAX_LIVE`] objects
//!
//! A tokio multi-thread runtime with [`WORKERS`] worker threads, built once per case on the case's
//! own thread and kept for all its samples. A sample spawns [`TASKS`] tasks and waits for the last
//! one; the time covers the spawns too (well under 1 % of a sample). Each task loops: acquire,
//! write, `yield_now().await` *while holding the object* (as a task that awaits I/O with a buffer
//! does), release. Without the yield a task could never be suspended while holding, so no more than
//! [`WORKERS`] objects would ever be out and the cap would never be reached: with it, all
//! [`MAX_LIVE`] objects are out most of the time and the other tasks wait for them.
//!
//! - `hotpool`: `Pool::get_async` on a pool built with `max_live(MAX_LIVE)`.
//! - `deadpool_unmanaged`: deadpool's unmanaged pool filled with [`MAX_LIVE`] buffers; it has no
//!   reset hook, so the guard clears the buffer before deadpool takes it back.
//! - `semaphore_pool`: what one writes without a bounded pool: a `tokio::sync::Semaphore` with
//!   [`MAX_LIVE`] permits in front of an unbounded `hotpool::Pool` (a permit first, then `get`).
//! - `runtime_only`: the floor, no pool and no waiting: the same tasks write to a buffer each
//!   owns and yield. What the runtime's scheduling costs per round, which every case pays too.
//! - `wake_ring_floor`: the floor of a wait at the cap, no pool: tokens go round the tasks, each
//!   waiting for one from another task ([`wake_ring_floor`]).
//!
//! The `_below_cap` cases run the same four with tasks that give the object back before they
//! yield, and yield once per [`BURST`] rounds: at most [`WORKERS`] objects are out, nobody waits,
//! and the cases show what each pool costs per acquisition when the cap is not reached (where
//! `hotpool` stays on its thread-cache hit path while deadpool and the semaphore synchronize).
//!
//! # Blocking cases: [`THREADS`] threads, [`BLOCKING_MAX_LIVE`] objects
//!
//! [`THREADS`] threads (new every sample, as in `pool/threads/N`) each run their share of the
//! rounds on one shared pool; the time is the slowest thread's, from a common start. Each round
//! holds its object across `std::thread::yield_now()` (a thread that blocks with a buffer): with
//! more threads than objects, takers wait for each other at the cap.
//!
//! - `hotpool_blocking`: `Pool::get` on a pool built with `max_live(BLOCKING_MAX_LIVE)`, with the
//!   default eventual fairness (`fair_after` 0.5 ms).
//! - `hotpool_blocking_strict`: the same with `fair_after(Duration::ZERO)`: strict first come,
//!   first served, every object handed to the first waiter (what hotpool did before).
//! - `mutex_condvar`: a `Mutex<Vec<T>>` of idle objects with a live count and a `Condvar` to wait
//!   on at the cap ([`CondvarPool`]), what a user writes without a crate.
//!
//! Before it is measured, each case checks that objects come back cleared and that no more than
//! the cap were ever made, and a run of [`FAIRNESS_ROUNDS`] acquisitions prints how long they
//! waited: the longest wait and the 99th percentile (`wait p99 … max …`), so that the price of
//! letting a returning taker go first is on the page next to the throughput.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use hotpool::Pool;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use super::sources::{Cleared, Plain, Source};
use super::{assert_returns_cleared, group, isolated, new_buf, work, Group, Server};

/// Tasks sharing the pool in the async cases.
const TASKS: usize = 64;
/// Objects the async cases may hold at once, fewer than [`TASKS`].
const MAX_LIVE: usize = 8;
/// Worker threads of the async cases' runtime.
const WORKERS: usize = 2;
/// Threads sharing the pool in the blocking cases.
const THREADS: usize = 4;
/// Objects the blocking cases may hold at once, fewer than [`THREADS`].
const BLOCKING_MAX_LIVE: usize = 2;
/// Acquisitions of the run that measures waits, before a case is measured.
const FAIRNESS_ROUNDS: u64 = 20_000;

/// Prints the 99th percentile and the longest of `waits` (each acquisition's time to get its
/// object) for case `name`.
fn print_waits(name: &str, mut waits: Vec<Duration>) {
    waits.sort_unstable();
    let p99 = waits[(waits.len() * 99 / 100).min(waits.len() - 1)];
    let max = waits[waits.len() - 1];
    println!(
        "pool/bounded/{name}: wait p99 {p99:?} max {max:?} ({} acquisitions)",
        waits.len()
    );
}

/// The share of `total` acquisitions that taker `index` of `takers` makes: all shares add up to
/// `total`, and differ by at most one.
fn share(total: u64, takers: usize, index: usize) -> u64 {
    let (takers, index) = (takers as u64, index as u64);
    total / takers + u64::from(index < total % takers)
}

// ---------------------------------------------------------------------------------------------
// Async cases

/// The runtime of an async case: [`WORKERS`] worker threads, no I/O or timer driver (the tasks
/// only yield and wait on the pool).
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .expect("a tokio runtime")
}

/// Spawns [`TASKS`] tasks, task `i` made by `task(acquisitions)` with its share of `total`, and
/// returns the time until the last one ended.
fn run_tasks<Fut>(rt: &Runtime, total: u64, task: &impl Fn(u64) -> Fut) -> Duration
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| rt.spawn(task(share(total, TASKS, i))))
        .collect();
    rt.block_on(async {
        for t in tasks {
            t.await.expect("a task panicked");
        }
    });
    start.elapsed()
}

/// Measures case `name`: on the case's own thread, builds the runtime, runs `check` on it (once,
/// before measuring), then times [`run_tasks`] with `task` for each sample.
fn bench_tasks<Fut>(
    g: &mut Group<'_>,
    name: &str,
    task: impl Fn(u64) -> Fut + Send,
    check: impl FnOnce(&Runtime) + Send,
) where
    Fut: Future<Output = ()> + Send + 'static,
{
    isolated(g, name, move |server: Server| {
        let rt = runtime();
        check(&rt);
        server.serve(|iters| run_tasks(&rt, iters, &task));
    });
}

/// A check run of a case's tasks: every task a few rounds, so that every object is out at once.
const CHECK_ROUNDS: u64 = 16 * TASKS as u64;

/// Runs [`FAIRNESS_ROUNDS`] acquisitions of `acquire` over [`TASKS`] tasks on `rt`, each held
/// across a yield as in the measured cases, and prints their waits.
fn async_waits<G, Fut>(rt: &Runtime, name: &str, acquire: impl Fn() -> Fut + Clone + Send + 'static)
where
    G: Send,
    Fut: Future<Output = G> + Send,
{
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let acquire = acquire.clone();
            rt.spawn(async move {
                let rounds = share(FAIRNESS_ROUNDS, TASKS, i);
                let mut waits = Vec::with_capacity(rounds as usize);
                for _ in 0..rounds {
                    let t0 = Instant::now();
                    let held = acquire().await;
                    waits.push(t0.elapsed());
                    tokio::task::yield_now().await;
                    drop(held);
                }
                waits
            })
        })
        .collect();
    let waits = rt.block_on(async {
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("a task panicked"));
        }
        all
    });
    print_waits(name, waits);
}

fn bounded_async(g: &mut Group<'_>) {
    let pool = Pool::builder(new_buf).max_live(MAX_LIVE).build().unwrap();
    let task = |rounds| {
        let pool = pool.clone();
        async move {
            for _ in 0..rounds {
                let mut buf = pool.get_async().await;
                work(&mut *buf);
                tokio::task::yield_now().await;
            }
        }
    };
    let check = |rt: &Runtime| {
        run_tasks(rt, CHECK_ROUNDS, &task);
        let stats = pool.stats();
        assert!(stats.created as usize <= MAX_LIVE, "{stats}");
        assert_eq!(stats.in_use, 0, "{stats}");
        // The case measures the waiting path, not only the hit path.
        assert!(stats.waits > 0, "no task waited: {stats}");
        assert_eq!(pool.get().len(), 0, "objects must come back cleared");
        let pool = pool.clone();
        async_waits(rt, "hotpool", move || pool.clone().get_owned_async());
    };
    bench_tasks(g, "hotpool", task, check);

    // deadpool's unmanaged pool holds exactly the objects it was given.
    let pool = deadpool::unmanaged::Pool::from((0..MAX_LIVE).map(|_| new_buf()));
    let task = |rounds| {
        let pool = pool.clone();
        async move {
            for _ in 0..rounds {
                let mut buf = Cleared(pool.get().await.expect("an open pool"));
                work(&mut *buf);
                tokio::task::yield_now().await;
            }
        }
    };
    let check = |rt: &Runtime| {
        run_tasks(rt, CHECK_ROUNDS, &task);
        let buf = rt.block_on(pool.get()).expect("an open pool");
        assert_eq!(buf.len(), 0, "objects must come back cleared");
        let status = pool.status();
        assert_eq!((status.max_size, status.size), (MAX_LIVE, MAX_LIVE));
        let pool = pool.clone();
        async_waits(rt, "deadpool_unmanaged", move || {
            let pool = pool.clone();
            async move { pool.get().await.expect("an open pool") }
        });
    };
    bench_tasks(g, "deadpool_unmanaged", task, check);

    // A permit first, then an object from a pool with no cap of its own.
    let (permits, pool) = (Arc::new(Semaphore::new(MAX_LIVE)), Pool::new(new_buf));
    let task = |rounds| {
        let (permits, pool) = (Arc::clone(&permits), pool.clone());
        async move {
            for _ in 0..rounds {
                let _permit = permits.acquire().await.expect("an open semaphore");
                let mut buf = pool.get();
                work(&mut *buf);
                tokio::task::yield_now().await;
            } // `buf` goes back first, then the permit
        }
    };
    let check = |rt: &Runtime| {
        run_tasks(rt, CHECK_ROUNDS, &task);
        let stats = pool.stats();
        assert!(stats.created as usize <= MAX_LIVE, "{stats}");
        assert_eq!(stats.in_use, 0, "{stats}");
        assert_eq!(pool.get().len(), 0, "objects must come back cleared");
        let (permits, pool) = (Arc::clone(&permits), pool.clone());
        async_waits(rt, "semaphore_pool", move || {
            let (permits, pool) = (Arc::clone(&permits), pool.clone());
            async move {
                let permit = permits.acquire_owned().await.expect("an open semaphore");
                (pool.get_owned(), permit)
            }
        });
    };
    bench_tasks(g, "semaphore_pool", task, check);

    // The floor: the same tasks and yields, each task writing to a buffer of its own, no pool.
    let task = |rounds| async move {
        let mut buf = new_buf();
        for _ in 0..rounds {
            work(&mut buf);
            buf.clear();
            tokio::task::yield_now().await;
        }
    };
    let check = |rt: &Runtime| {
        run_tasks(rt, CHECK_ROUNDS, &task);
    };
    bench_tasks(g, "runtime_only", task, check);

    wake_ring_floor(g);
}

/// One task's slot in [`wake_ring_floor`]: whether it holds a token, and how to wake it.
#[derive(Default)]
struct RingSlot {
    token: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl RingSlot {
    /// Ready once this slot holds a token (taking it); otherwise stores the task's waker.
    fn poll_token(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.token.swap(false, Ordering::Acquire) {
            return Poll::Ready(());
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        // A token given while the waker was stored was given with no waker to wake: look again.
        if self.token.swap(false, Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    fn give_token(&self) {
        self.token.store(true, Ordering::Release);
        if let Some(waker) = self.waker.lock().unwrap().take() {
            waker.wake();
        }
    }
}

/// `wake_ring_floor`: the floor of an acquisition at the cap that waits, whatever the pool.
/// [`MAX_LIVE`] tokens go round [`TASKS`] tasks: each task waits for a token, writes to a buffer
/// of its own and yields holding it, as the pooled cases do, then gives it to the task
/// [`MAX_LIVE`] places on, which has been waiting for it. So every acquisition waits for one
/// wake-up from another task, and nothing is shared but the two tasks' slots: no queue, no lock
/// that the workers contend for. What a pool adds at the cap is the rest.
fn wake_ring_floor(g: &mut Group<'_>) {
    let run = |rt: &Runtime, total: u64| -> Duration {
        // Every task runs the same number of rounds (the most any share has), so that every
        // token it waits for comes; the time is scaled to `total` acquisitions.
        let rounds = total.div_ceil(TASKS as u64);
        let slots: Arc<Vec<RingSlot>> = Arc::new((0..TASKS).map(|_| RingSlot::default()).collect());
        for slot in &slots[..MAX_LIVE] {
            slot.token.store(true, Ordering::Relaxed);
        }
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let slots = Arc::clone(&slots);
                rt.spawn(async move {
                    let mut buf = new_buf();
                    for _ in 0..rounds {
                        std::future::poll_fn(|cx| slots[i].poll_token(cx)).await;
                        work(&mut buf);
                        buf.clear();
                        tokio::task::yield_now().await;
                        slots[(i + MAX_LIVE) % TASKS].give_token();
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for t in tasks {
                t.await.expect("a task panicked");
            }
        });
        start
            .elapsed()
            .mul_f64(total as f64 / (rounds * TASKS as u64) as f64)
    };
    isolated(g, "wake_ring_floor", move |server: Server| {
        let rt = runtime();
        run(&rt, CHECK_ROUNDS);
        server.serve(|iters| run(&rt, iters));
    });
}

// ---------------------------------------------------------------------------------------------
// Blocking cases

/// `mutex_condvar`: a pool of at most `max_live` objects behind one `Mutex`, with a `Condvar` that
/// takers wait on at the cap. Objects are cleared on the way back, outside the lock.
pub(super) struct CondvarPool {
    state: Mutex<CondvarState>,
    returned: Condvar,
    max_live: usize,
}

struct CondvarState {
    idle: Vec<Vec<u8>>,
    /// Objects made and not dropped: idle or in use.
    live: usize,
}

impl CondvarPool {
    fn new(max_live: usize) -> Self {
        CondvarPool {
            state: Mutex::new(CondvarState {
                idle: Vec::with_capacity(max_live),
                live: 0,
            }),
            returned: Condvar::new(),
            max_live,
        }
    }

    fn state(&self) -> MutexGuard<'_, CondvarState> {
        self.state.lock().unwrap()
    }

    /// An idle object, a new one below the cap, or, at the cap, the next one given back.
    fn take(&self) -> Vec<u8> {
        let mut state = self.state();
        loop {
            if let Some(buf) = state.idle.pop() {
                return buf;
            }
            if state.live < self.max_live {
                state.live += 1;
                drop(state);
                return new_buf();
            }
            state = self.returned.wait(state).unwrap();
        }
    }

    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        self.state().idle.push(buf);
        self.returned.notify_one();
    }
}

impl Source<Vec<u8>> for &CondvarPool {
    type Item = Plain<Vec<u8>>;
    #[inline]
    fn take(&mut self) -> Self::Item {
        Plain(CondvarPool::take(self))
    }
    #[inline]
    fn give(&mut self, item: Self::Item) {
        CondvarPool::give(self, item.0);
    }
}

/// One blocking round: take an object (returning how long that took), write, yield the core
/// while holding it, give it back.
#[inline]
fn held_round<S: Source<Vec<u8>>>(source: &mut S) -> Duration {
    let t0 = Instant::now();
    let mut obj = source.take();
    let waited = t0.elapsed();
    work(&mut *obj);
    thread::yield_now();
    source.give(obj);
    waited
}

/// Runs `rounds` on [`THREADS`] new threads with clones of `source`, from a common start, with
/// `each(thread's share, source)`; returns what each thread returned.
fn on_threads<S, X>(source: &S, rounds: u64, each: impl Fn(u64, &mut S) -> X + Sync) -> Vec<X>
where
    S: Clone + Send,
    X: Send,
{
    let start = Barrier::new(THREADS);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|i| {
                let (mut source, start, each) = (source.clone(), &start, &each);
                scope.spawn(move || {
                    start.wait();
                    each(share(rounds, THREADS, i), &mut source)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    })
}

/// Blocking cases: [`THREADS`] new threads per sample run their shares of `iters` rounds on clones
/// of `source` from a common start; reports the slowest thread's time. `check` runs once before
/// measuring, after a few rounds on every thread, then a run of [`FAIRNESS_ROUNDS`] prints the
/// waits.
fn bench_blocking<S>(g: &mut Group<'_>, name: &str, source: S, check: impl FnOnce())
where
    S: Source<Vec<u8>> + Clone + Send,
{
    let rounds = |iters: u64| {
        let times = on_threads(&source, iters, |share, source| {
            let t0 = Instant::now();
            (0..share).for_each(|_| {
                held_round(source);
            });
            t0.elapsed()
        });
        times.into_iter().max().unwrap()
    };
    rounds(CHECK_ROUNDS);
    let mut checked = source.clone();
    thread::scope(|scope| {
        scope.spawn(move || assert_returns_cleared(&mut checked));
    });
    check();
    let waits = on_threads(&source, FAIRNESS_ROUNDS, |share, source| {
        (0..share).map(|_| held_round(source)).collect::<Vec<_>>()
    });
    print_waits(name, waits.into_iter().flatten().collect());
    g.bench_function(name, |b| b.iter_custom(rounds));
}

fn bounded_blocking(g: &mut Group<'_>) {
    for (name, fair_after) in [
        ("hotpool_blocking", hotpool::builder::DEFAULT_FAIR_AFTER),
        ("hotpool_blocking_strict", Duration::ZERO),
    ] {
        let pool = Pool::builder(new_buf)
            .max_live(BLOCKING_MAX_LIVE)
            .fair_after(fair_after)
            .build()
            .unwrap();
        bench_blocking(
            g,
            name,
            || pool.get(),
            || {
                let stats = pool.stats();
                assert!(stats.created as usize <= BLOCKING_MAX_LIVE, "{stats}");
                assert_eq!(stats.in_use, 0, "{stats}");
                assert!(stats.waits > 0, "no thread waited: {stats}");
            },
        );
    }

    let pool = CondvarPool::new(BLOCKING_MAX_LIVE);
    bench_blocking(g, "mutex_condvar", &pool, || {
        let state = pool.state();
        assert!(state.live <= BLOCKING_MAX_LIVE);
        assert_eq!(state.idle.len(), state.live, "every object back");
    });
}

/// `pool/bounded`: the async cases, then the blocking ones.
/// Rounds a task runs between two yields in the below-the-cap cases.
const BURST: u64 = 16;

/// The same pools and tasks, but a task gives its object back before it yields, and yields once
/// per [`BURST`] rounds (a task that uses a buffer for a computation, not across an `.await`).
/// At most [`WORKERS`] objects are then out at once, below the cap: what each pool costs when
/// nobody waits, the common case of a well-sized pool. The `_below_cap` cases.
fn bounded_async_below_cap(g: &mut Group<'_>) {
    let pool = Pool::builder(new_buf).max_live(MAX_LIVE).build().unwrap();
    let task = |rounds| {
        let pool = pool.clone();
        async move {
            for i in 0..rounds {
                work(&mut *pool.get_async().await);
                if i % BURST == BURST - 1 {
                    tokio::task::yield_now().await;
                }
            }
        }
    };
    let check = |rt: &Runtime| {
        run_tasks(rt, CHECK_ROUNDS, &task);
        let stats = pool.stats();
        assert!(stats.created as usize <= MAX_LIVE, "{stats}");
        assert_eq!(stats.in_use, 0, "{stats}");
    };
    bench_tasks(g, "hotpool_below_cap", task, check);

    let pool = deadpool::unmanaged::Pool::from((0..MAX_LIVE).map(|_| new_buf()));
    let task = |rounds| {
        let pool = pool.clone();
        async move {
            for i in 0..rounds {
                work(&mut *Cleared(pool.get().await.expect("an open pool")));
                if i % BURST == BURST - 1 {
                    tokio::task::yield_now().await;
                }
            }
        }
    };
    let check = |rt: &Runtime| {
        run_tasks(rt, CHECK_ROUNDS, &task);
    };
    bench_tasks(g, "deadpool_unmanaged_below_cap", task, check);

    let (permits, pool) = (Arc::new(Semaphore::new(MAX_LIVE)), Pool::new(new_buf));
    let task = |rounds| {
        let (permits, pool) = (Arc::clone(&permits), pool.clone());
        async move {
            for i in 0..rounds {
                let permit = permits.acquire().await.expect("an open semaphore");
                work(&mut *pool.get());
                drop(permit);
                if i % BURST == BURST - 1 {
                    tokio::task::yield_now().await;
                }
            }
        }
    };
    let check = |rt: &Runtime| {
        run_tasks(rt, CHECK_ROUNDS, &task);
    };
    bench_tasks(g, "semaphore_pool_below_cap", task, check);

    let task = |rounds| async move {
        let mut buf = new_buf();
        for i in 0..rounds {
            work(&mut buf);
            buf.clear();
            if i % BURST == BURST - 1 {
                tokio::task::yield_now().await;
            }
        }
    };
    let check = |rt: &Runtime| {
        run_tasks(rt, CHECK_ROUNDS, &task);
    };
    bench_tasks(g, "runtime_only_below_cap", task, check);
}

pub(super) fn bounded(c: &mut Criterion) {
    let mut g = group(c, "pool/bounded", Duration::from_secs(2), 30);
    g.throughput(Throughput::Elements(1));
    bounded_async(&mut g);
    bounded_async_below_cap(&mut g);
    bounded_blocking(&mut g);
    g.finish();
}
