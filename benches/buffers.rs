//! [`hotpool::BufferPool`] against allocating and freeing the same byte buffers with glibc,
//! jemalloc and mimalloc.
//!
//! One round: take a buffer of the next size of a fixed pseudo-random sequence over
//! {256 B, 1500 B, 4 KiB, 16 KiB, 64 KiB, 1 MiB}, write 64 bytes into it, give it back (drop or
//! free). The sequence is precomputed from a fixed seed, so every case and every run sees the same
//! sizes in the same order, and no case pays for generating it.
//!
//! # Groups
//!
//! - `buffers/mixed`: one thread, one round per iteration.
//! - `buffers/threads/2`: two threads run rounds at once (on one shared `BufferPool`, or each on
//!   the allocator); the time is per round *per thread*, so it compares with `buffers/mixed`.
//! - `buffers/budget`: an in-flight byte budget smaller than the working set: [`TASKS`] tokio
//!   tasks on [`WORKERS`] worker threads share [`BUDGET`] bytes, each holding its buffer across a
//!   `yield_now().await`, so most tasks wait for bytes most of the time. One iteration is one
//!   acquisition; criterion also reports acquisitions per second. See [`budget`].
//!
//! # Cases
//!
//! - `hotpool`: `BufferPool::new()` (classes 64 B ..= 1 MiB), `get(n)`.
//! - `glibc`: `Vec::with_capacity(n)` with the system allocator (glibc's malloc on Linux).
//! - `jemalloc`, `mimalloc`: the allocators' `GlobalAlloc` impls called directly (allocate `n`
//!   bytes, write 64, free), not installed as the global allocator, so that every case runs in
//!   one binary.
//!
//! # Running
//!
//! ```text
//! cargo bench --bench buffers
//! cargo bench --bench buffers -- buffers/mixed/
//! cargo bench --bench buffers -- buffers/budget
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use hotpool::BufferPool;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

#[allow(dead_code, unused_imports)] // the jemalloc buffers only; `benches/pool.rs` uses the rest
#[path = "support/alloc.rs"]
mod allocators;
use allocators::{append, AllocVec, Jemalloc, Via};

/// The sizes of the sequence.
const SIZES: [usize; 6] = [256, 1500, 4096, 16 * 1024, 64 * 1024, 1 << 20];
/// Length of the precomputed sequence (a power of two: the index wraps with a mask).
const SEQUENCE: usize = 4096;
/// What each round writes.
const PAYLOAD: [u8; 64] = [0xA5; 64];

/// The sizes, in the order every case uses them: xorshift64 from a fixed seed.
fn sequence() -> Vec<usize> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..SEQUENCE)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            SIZES[(state % SIZES.len() as u64) as usize]
        })
        .collect()
}

/// One case: given the size sequence, returns a closure that runs one round for a size.
trait Case: Sync {
    fn round(&self, n: usize);
}

struct Hotpool(BufferPool);

impl Case for Hotpool {
    #[inline]
    fn round(&self, n: usize) {
        let mut buf = self.0.get(n);
        buf.extend_from_slice(&PAYLOAD);
        black_box(&mut *buf);
    }
}

struct Glibc;

impl Case for Glibc {
    #[inline]
    fn round(&self, n: usize) {
        let mut buf = Vec::<u8>::with_capacity(n);
        buf.extend_from_slice(&PAYLOAD);
        black_box(&mut buf);
    }
}

/// Allocates `n` bytes from `A` directly, writes the payload, frees them.
struct Raw<A>(A);

impl<A: GlobalAlloc + Sync> Case for Raw<A> {
    #[inline]
    fn round(&self, n: usize) {
        let layout = Layout::from_size_align(n, 1).expect("sizes are small");
        // SAFETY: `layout` has a non-zero size (every size is at least 256 bytes).
        let ptr = unsafe { self.0.alloc(layout) };
        assert!(!ptr.is_null(), "out of memory");
        // SAFETY: `ptr` is valid for `n >= 64` bytes of writes, and the payload is a separate
        // constant, so the two do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(PAYLOAD.as_ptr(), ptr, PAYLOAD.len()) };
        black_box(ptr);
        // SAFETY: `ptr` came from this allocator with this `layout` and is freed once, here.
        unsafe { self.0.dealloc(ptr, layout) };
    }
}

fn cases() -> Vec<(&'static str, Box<dyn Case>)> {
    vec![
        ("hotpool", Box::new(Hotpool(BufferPool::new()))),
        ("glibc", Box::new(Glibc)),
        ("jemalloc", Box::new(Raw(tikv_jemallocator::Jemalloc))),
        ("mimalloc", Box::new(Raw(mimalloc::MiMalloc))),
    ]
}

/// Runs `iters` rounds, walking the sequence from `start`.
#[inline]
fn rounds(case: &dyn Case, sizes: &[usize], start: usize, iters: u64) {
    for i in (start..).take(iters as usize) {
        case.round(sizes[i & (SEQUENCE - 1)]);
    }
}

fn mixed(c: &mut Criterion) {
    let sizes = sequence();
    let mut g = c.benchmark_group("buffers/mixed");
    for (name, case) in cases() {
        rounds(&*case, &sizes, 0, SEQUENCE as u64); // warm: every size seen
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                case.round(sizes[i & (SEQUENCE - 1)]);
                i += 1;
            });
        });
    }
    g.finish();
}

fn threads(c: &mut Criterion) {
    let sizes = sequence();
    let mut g = c.benchmark_group("buffers/threads/2");
    for (name, case) in cases() {
        bench_threads(&mut g, name, &*case, &sizes);
    }
    g.finish();
}

/// Two threads run `iters` rounds each at once (the second half a sequence ahead, so they ask
/// for different sizes); the time is from both starting to both finishing.
fn bench_threads(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    case: &dyn Case,
    sizes: &[usize],
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Barrier::new(3);
            let elapsed = thread::scope(|s| {
                let workers: Vec<_> = (0..2)
                    .map(|t| {
                        let start = &start;
                        s.spawn(move || {
                            let offset = t * SEQUENCE / 2;
                            rounds(case, sizes, offset, SEQUENCE as u64); // warm this thread
                            start.wait();
                            let begin = Instant::now();
                            rounds(case, sizes, offset, iters);
                            begin.elapsed()
                        })
                    })
                    .collect();
                start.wait();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("bench thread panicked"))
                    .max()
                    .unwrap_or(Duration::ZERO)
            });
            elapsed
        });
    });
}

// ---------------------------------------------------------------------------------------------
// `buffers/budget`

/// The in-flight byte budget of `buffers/budget`, in bytes (and the semaphore's permits).
const BUDGET: usize = 1 << 20;
/// The largest request of `buffers/budget`: the sequence's sizes above it are capped to it, so
/// that every request fits the budget with room for others (1 MiB would take all of it).
const BUDGET_MAX_REQUEST: usize = BUDGET / 4;
/// Tasks sharing the budget.
const TASKS: usize = 64;
/// Worker threads of the runtime.
const WORKERS: usize = 2;
/// A check run before measuring: every task this many acquisitions.
const CHECK_ROUNDS: u64 = 64 * TASKS as u64;

/// The share of `total` acquisitions that task `index` makes: all shares add up to `total` and
/// differ by at most one.
fn share(total: u64, index: usize) -> u64 {
    let tasks = TASKS as u64;
    total / tasks + u64::from((index as u64) < total % tasks)
}

/// The runtime of a `buffers/budget` case: [`WORKERS`] workers, no I/O or timer driver.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .expect("a tokio runtime")
}

/// Spawns [`TASKS`] tasks, task `i` made by `task(i, acquisitions)` with its share of `total`;
/// returns the time until the last one ended (the spawns included, well under 1 % of a sample).
fn run_tasks<Fut>(rt: &Runtime, total: u64, task: &impl Fn(usize, u64) -> Fut) -> Duration
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| rt.spawn(task(i, share(total, i))))
        .collect();
    rt.block_on(async {
        for t in tasks {
            t.await.expect("a task panicked");
        }
    });
    start.elapsed()
}

/// What every task of a case walks: the sizes (the sequence, capped at [`BUDGET_MAX_REQUEST`]),
/// and the bytes each takes from the budget (its class size in the pool: the same charge for
/// the semaphore, so both enforce the same budget).
struct Requests {
    sizes: Vec<usize>,
    charges: Vec<u32>,
}

impl Requests {
    fn new(pool: &BufferPool) -> Arc<Self> {
        let sizes: Vec<usize> = sequence()
            .into_iter()
            .map(|n| n.min(BUDGET_MAX_REQUEST))
            .collect();
        let charges = sizes
            .iter()
            .map(|&n| {
                let charge = pool.class_size(n).unwrap_or(n);
                assert!(charge <= BUDGET, "every request fits the budget");
                u32::try_from(charge).expect("charges fit a semaphore's u32 permits")
            })
            .collect();
        Arc::new(Self { sizes, charges })
    }

    /// Task `task`'s first index into the sequence: tasks start spread over it.
    fn start(task: usize) -> usize {
        task * (SEQUENCE / TASKS)
    }

    /// Bytes a working set of one buffer per task takes: what the budget is smaller than.
    fn working_set(&self) -> usize {
        let total: u64 = self.charges.iter().map(|&c| u64::from(c)).sum();
        (total / self.charges.len() as u64) as usize * TASKS
    }
}

/// Samples taken in a check run: the most bytes ever in use, and acquisitions that found the
/// budget spent.
#[derive(Default)]
struct Observed {
    most_in_use: AtomicUsize,
    would_wait: AtomicU64,
}

/// `buffers/budget`: [`TASKS`] tasks over [`BUDGET`] bytes; each loops: acquire a buffer of its
/// next size, write 64 bytes, `yield_now().await` *while holding it* (as a task awaiting I/O with
/// a buffer does), release. Without the held yield no more than [`WORKERS`] buffers would ever be
/// out and the budget would never be spent.
///
/// - `hotpool`: `BufferPool::get_owned_async` on a pool built with `max_live_bytes(BUDGET)`.
/// - `semaphore`: what one writes without it: a `tokio::sync::Semaphore` of [`BUDGET`] permits
///   (one per byte), `acquire_many_owned(charge)` for the same charge as the pool's, then
///   `Vec::with_capacity(n)` from the system allocator (glibc).
/// - `semaphore_jemalloc`: the same with jemalloc's `GlobalAlloc` (`support/alloc.rs`).
/// - `runtime_only`: the floor, no budget and no waiting: the same tasks write to a buffer each
///   owns and yield. What the runtime's scheduling costs per round, which every case pays too.
///
/// Before measuring, each case runs the tasks once and checks: the bytes in use, sampled by the
/// tasks with each buffer held, never passed the budget; some acquisitions found the budget spent
/// (the case measures waiting, not only the fast path); the pool's buffers come back cleared.
fn budget(c: &mut Criterion) {
    let mut g = c.benchmark_group("buffers/budget");
    g.throughput(Throughput::Elements(1));
    let pool = BufferPool::builder()
        .max_live_bytes(BUDGET)
        .build()
        .expect("a valid budget");
    let requests = Requests::new(&pool);
    assert!(
        requests.working_set() > 2 * BUDGET,
        "the working set ({} bytes) must be well above the budget",
        requests.working_set()
    );

    let observed = Arc::new(Observed::default());
    let task = |check: bool| {
        let (pool, requests, observed) =
            (pool.clone(), Arc::clone(&requests), Arc::clone(&observed));
        move |i: usize, rounds: u64| {
            let (pool, requests, observed) =
                (pool.clone(), Arc::clone(&requests), Arc::clone(&observed));
            async move {
                for r in (Requests::start(i)..).take(rounds as usize) {
                    let n = requests.sizes[r & (SEQUENCE - 1)];
                    let mut buf = pool.get_owned_async(n).await;
                    buf.extend_from_slice(&PAYLOAD);
                    black_box(&mut *buf);
                    if check {
                        let live = pool.stats().live_bytes;
                        observed.most_in_use.fetch_max(live, Ordering::Relaxed);
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
    };
    let rt = runtime();
    run_tasks(&rt, CHECK_ROUNDS, &task(true));
    let stats = pool.stats();
    let most = observed.most_in_use.load(Ordering::Relaxed);
    assert!(most <= BUDGET, "{most} bytes in use, above the budget");
    assert!(
        most > BUDGET / 2,
        "the budget was never nearly spent: {most} bytes"
    );
    assert!(stats.waits > 0, "no acquisition waited: {stats}");
    eprintln!(
        "buffers/budget/hotpool check: {} of {} acquisitions waited, at most {most} bytes in use",
        stats.waits, CHECK_ROUNDS
    );
    assert_eq!((stats.in_use, stats.live_bytes), (0, 0), "{stats}");
    for &n in &requests.sizes[..64] {
        assert!(
            pool.try_get(n).unwrap().is_empty(),
            "buffers come back cleared"
        );
    }
    let measured = task(false);
    g.bench_function("hotpool", |b| {
        b.iter_custom(|iters| run_tasks(&rt, iters, &measured))
    });
    drop(rt);

    // The semaphore in front of plain allocations, with the system allocator, then jemalloc.
    let semaphore_case = |g: &mut BenchmarkGroup<'_, WallTime>, name: &str, jemalloc: bool| {
        let permits = Arc::new(Semaphore::new(BUDGET));
        let observed = Arc::new(Observed::default());
        let task = |check: bool| {
            let (permits, requests, observed) = (
                Arc::clone(&permits),
                Arc::clone(&requests),
                Arc::clone(&observed),
            );
            move |i: usize, rounds: u64| {
                let (permits, requests, observed) = (
                    Arc::clone(&permits),
                    Arc::clone(&requests),
                    Arc::clone(&observed),
                );
                async move {
                    for r in (Requests::start(i)..).take(rounds as usize) {
                        let (n, charge) = (
                            requests.sizes[r & (SEQUENCE - 1)],
                            requests.charges[r & (SEQUENCE - 1)],
                        );
                        if check && permits.available_permits() < charge as usize {
                            observed.would_wait.fetch_add(1, Ordering::Relaxed);
                        }
                        let permit = Arc::clone(&permits)
                            .acquire_many_owned(charge)
                            .await
                            .expect("an open semaphore");
                        if check {
                            let in_use = BUDGET - permits.available_permits();
                            observed.most_in_use.fetch_max(in_use, Ordering::Relaxed);
                        }
                        if jemalloc {
                            let mut buf = AllocVec::<Jemalloc>::with_capacity_in(n, Via::NEW);
                            append(&mut buf, &PAYLOAD);
                            black_box(&mut *buf);
                            tokio::task::yield_now().await;
                        } else {
                            let mut buf = Vec::<u8>::with_capacity(n);
                            buf.extend_from_slice(&PAYLOAD);
                            black_box(&mut *buf);
                            tokio::task::yield_now().await;
                        }
                        drop(permit); // after the buffer: the bytes are free once it is
                    }
                }
            }
        };
        let rt = runtime();
        run_tasks(&rt, CHECK_ROUNDS, &task(true));
        let most = observed.most_in_use.load(Ordering::Relaxed);
        assert!(most <= BUDGET && most > BUDGET / 2, "{most} bytes in use");
        let waited = observed.would_wait.load(Ordering::Relaxed);
        assert!(waited > 0, "no acquisition waited");
        eprintln!(
            "buffers/budget/{name} check: {waited} of {CHECK_ROUNDS} acquisitions found too few \
             permits, at most {most} bytes in use"
        );
        assert_eq!(permits.available_permits(), BUDGET, "every permit back");
        let measured = task(false);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| run_tasks(&rt, iters, &measured))
        });
    };
    semaphore_case(&mut g, "semaphore", false);
    semaphore_case(&mut g, "semaphore_jemalloc", true);

    // The floor: the same tasks and yields, each writing to a buffer of its own; no budget.
    let task = |i: usize, rounds: u64| async move {
        let mut buf = Vec::<u8>::with_capacity(BUDGET_MAX_REQUEST);
        for _ in (Requests::start(i)..).take(rounds as usize) {
            buf.extend_from_slice(&PAYLOAD);
            black_box(&mut *buf);
            buf.clear();
            tokio::task::yield_now().await;
        }
    };
    let rt = runtime();
    run_tasks(&rt, CHECK_ROUNDS, &task);
    g.bench_function("runtime_only", |b| {
        b.iter_custom(|iters| run_tasks(&rt, iters, &task))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = mixed, threads, budget
}
criterion_main!(benches);
