//! `hotpool`'s pools against the peer crates a user would pick instead, and against hand-written
//! free lists that show the floor.
//!
//! Every case runs the same round: take a `Vec<u8>` of 4 KiB capacity, write 64 bytes to it, give
//! it back. Objects always come back cleared: through the pool's own reset hook where it has one,
//! an explicit `clear()` where it has none (`object_pool`, the free lists, `mutex_vec`). Each case
//! checks this once before it is measured.
//!
//! # Groups
//!
//! - `pool/single`: one thread, one round per iteration.
//! - `pool/single_large`: the same with a 1 KiB `T`, for the pools that keep objects in place
//!   (`hotpool`, `hotpool_local`) and the free lists that move a pointer (`freelist_box`) or the
//!   whole object (`freelist_vec`, `mutex_vec`). Compare with `pool/single`: a pointer move costs
//!   the same whatever `size_of::<T>()` is.
//! - `pool/threads/2`, `pool/threads/4`: that many threads run rounds on one shared pool at once.
//!   The time is per round *per thread*, so it compares directly with `pool/single`. The machine's
//!   core count caps the parallelism: with more threads than cores, the time also counts waiting.
//! - `pool/cross_thread`: a producer thread takes objects, writes them and sends them in batches
//!   of 256 through a bounded channel; the consumer (the case's thread) gives them back, so every
//!   object returns to the pool from another thread than the one that took it. One iteration is
//!   one batch; criterion reports objects per second. `channel_only` sends plain `usize`s: the
//!   channel's own cost, which every case pays.
//! - `pool/burst`: take 256 objects and hold them all, then give them all back; the time is per
//!   object. A burst drains a thread cache, so it shows the cost of the shared tiers.
//! - `pool/grow`: each round takes an *empty* `Vec<u8>` and grows it to 16 KiB by appending 64
//!   bytes at a time, then gives it back: what pooling saves beyond one malloc, the re-growth.
//!   Pools hand back the 16 KiB they kept; the allocator cases start from `Vec::new()` every time
//!   (9 reallocations: 64, 128, ..., 16384 bytes). Criterion also reports bytes per second.
//! - `pool/bounded`: pools capped at a few live objects and shared by more takers than that, so
//!   takers wait: tokio tasks (`hotpool`'s `get_async`, `deadpool_unmanaged`, `semaphore_pool`,
//!   the floor `runtime_only`) and blocking threads (`hotpool_blocking`, `mutex_condvar`). One
//!   iteration is one acquisition; criterion also reports acquisitions per second. See
//!   `support/bounded.rs`.
//!
//! # Cases
//!
//! - `hotpool` ([`hotpool::Pool`]), `hotpool_local` ([`hotpool::LocalPool`], one thread only).
//! - `hotpool_max_live`: the `hotpool` pool with a `max_live` cap it never reaches (the cost of the
//!   cap below it).
//! - Peer crates: `object_pool` (object-pool), `lockfree_linear`, `lockfree_spinlock`,
//!   `lockfree_mutex` (lockfree-object-pool), `opool`, `sharded_slab` (`sharded_slab::Pool`, which
//!   creates with `Default` and resets with `Clear` when a key is cleared).
//! - What a user writes without a crate: `mutex_vec` (a `Mutex<Vec<T>>`), and a new buffer every
//!   time from an allocator: `glibc` (std's `Vec` on the process's allocator, glibc malloc; named
//!   `fresh_alloc` before), `jemalloc` (tikv-jemallocator) and `mimalloc`, the last two called
//!   through their `GlobalAlloc` in this same process (see `support/alloc.rs`), as switching the
//!   global allocator would. In `pool/cross_thread` the producer allocates and the consumer frees.
//! - Floors, no pool around them: `freelist_box` (a local `Vec<Box<T>>`: pop and push a pointer),
//!   `freelist_vec` (a local `Vec<T>`: moves the whole `T`), `tls_freelist_box` and
//!   `tls_freelist_vec` (the same in a `thread_local!`).
//!
//! # Running
//!
//! ```text
//! cargo bench --bench pool                      # everything, a few minutes
//! cargo bench --bench pool -- pool/single/      # one group
//! cargo bench --bench pool -- 'pool/.*/hotpool$' # one case in every group
//! ```
//!
//! Every case runs on a thread of its own, created for it (see `isolated`): no case inherits
//! thread-local state from the cases or filters before it.
//!
//! Results land in `target/criterion/`; plots are off to keep the run short (add
//! `--plotting-backend plotters` after the `--` for plots and the HTML report). Timings shift
//! with the machine's load: compare cases of one run, not runs of different days.

use std::hint::black_box;
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use hotpool::{LocalPool, Pool, Recycler};
use lockfree_object_pool::{LinearObjectPool, MutexObjectPool, SpinLockObjectPool};

#[path = "support/alloc.rs"]
mod allocators;
#[path = "support/bounded.rs"]
mod bounded;
#[path = "support/sources.rs"]
mod sources;
#[path = "support/workload.rs"]
mod workload;
use allocators::{AllocVec, Jemalloc, MiMalloc, Via};
use sources::{
    Cleared, FreeList, MutexVec, OwnedSlab, Plain, Source, TlsFreeList, TLS_BOXES, TLS_VECS,
};
use workload::{
    alloc_buf, assert_returns_cleared, new_buf, round, take_and_work, work, Buf, Payload, SlabBuf,
    SlabPool, PAYLOAD,
};

/// Objects per message in `pool/cross_thread`, and held at once in `pool/burst`.
const BATCH: usize = 256;
/// Messages the `pool/cross_thread` channel buffers before the producer waits.
const CHANNEL_BOUND: usize = 4;
/// What each `pool/grow` round grows an empty buffer to, [`PAYLOAD`] by [`PAYLOAD`].
const GROW_TO: usize = 16 * 1024;
/// Idle cap for bounded pools in `pool/cross_thread` and `opool`'s queue size: above the
/// `(CHANNEL_BOUND + 2) * BATCH` objects in flight, so no case drops objects it will need again.
const MAX_IDLE: usize = 4096;

type Group<'c> = BenchmarkGroup<'c, WallTime>;

// ---------------------------------------------------------------------------------------------
// Objects (the round and the 4 KiB buffers of most cases: `support/workload.rs`)

/// A 1 KiB object: a buffer and inert padding.
struct Large {
    buf: Vec<u8>,
    _pad: [u64; 125],
}

const _: () = assert!(std::mem::size_of::<Large>() == 1024);

impl Payload for Large {
    type Buf = Vec<u8>;
    fn fresh() -> Self {
        Large {
            buf: new_buf(),
            _pad: [0; 125],
        }
    }
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

/// `hotpool`'s recycle policy for [`Large`], which does not implement `hotpool::Recycle`.
fn clear_and_keep(large: &mut Large) -> bool {
    large.buf.clear();
    true
}

/// opool's factory and reset hook (it resets when it hands an object out).
struct OpoolBufs;

impl opool::PoolAllocator<Vec<u8>> for OpoolBufs {
    fn allocate(&self) -> Vec<u8> {
        new_buf()
    }
    fn reset(&self, buf: &mut Vec<u8>) {
        buf.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring

/// The measured loop of a case, run by the case's own thread (see [`isolated`]).
struct Server {
    requests: mpsc::Receiver<u64>,
    replies: mpsc::SyncSender<Duration>,
}

impl Server {
    /// Runs `measure(iters)` for each sample criterion asks for, until the case ends.
    fn serve(self, mut measure: impl FnMut(u64) -> Duration) {
        for iters in self.requests {
            self.replies.send(measure(iters)).unwrap();
        }
    }
}

/// Measures case `name` on a new thread that lives as long as the case: `case` runs there, builds
/// its state, checks it and hands its measured loop to [`Server::serve`]; criterion, on this
/// thread, asks it for each sample (the request and reply are outside the timed loop).
///
/// Every case then starts from the same thread state, whichever cases ran before it and
/// whatever a filter left out: no thread-local (pool thread slots, exit-hook lists, arenas,
/// `thread_local!` free lists) or thread id inherited from earlier cases, and the same kind of
/// stack. See "Methodology" in `benches/README.md`.
fn isolated(g: &mut Group<'_>, name: &str, case: impl FnOnce(Server) + Send) {
    let (requests, serve_requests) = mpsc::channel();
    let (send_replies, replies) = mpsc::sync_channel(1);
    thread::scope(|scope| {
        let thread = scope.spawn(move || {
            case(Server {
                requests: serve_requests,
                replies: send_replies,
            })
        });
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                requests.send(iters).unwrap();
                replies.recv().expect("the case's thread panicked")
            });
        });
        // Ends `serve`, and with it the case's thread (also when a filter skipped the case).
        drop(requests);
        // A native join, unlike the scope's own wait, also waits for the thread's thread-local
        // destructors (its pools' exit flushes, its thread id's release): the next case starts
        // after them.
        if let Err(panic) = thread.join() {
            std::panic::resume_unwind(panic);
        }
    });
}

/// `pool/single`: one round per iteration, timed on the calling thread.
fn serve_single<T: Payload, S: Source<T>>(server: Server, mut source: S) {
    assert_returns_cleared(&mut source);
    server.serve(|iters| {
        let start = Instant::now();
        for _ in 0..iters {
            round(&mut source);
        }
        start.elapsed()
    });
}

/// [`serve_single`] on the case's own thread.
fn bench_single<T: Payload, S: Source<T> + Send>(g: &mut Group<'_>, name: &str, source: S) {
    isolated(g, name, |server| serve_single(server, source));
}

/// `pool/burst`: per iteration, takes [`BATCH`] objects and holds them, then gives them all back;
/// reports the time per object. Timed on the calling thread.
fn serve_burst<T: Payload, S: Source<T>>(server: Server, mut source: S) {
    assert_returns_cleared(&mut source);
    let mut held = Vec::with_capacity(BATCH);
    server.serve(|iters| {
        let start = Instant::now();
        for _ in 0..iters {
            held.extend((0..BATCH).map(|_| take_and_work(&mut source)));
            held.drain(..).for_each(|obj| source.give(obj));
        }
        start.elapsed() / BATCH as u32
    });
}

/// [`serve_burst`] on the case's own thread.
fn bench_burst<T: Payload, S: Source<T> + Send>(g: &mut Group<'_>, name: &str, source: S) {
    isolated(g, name, |server| serve_burst(server, source));
}

/// `pool/threads/N`: `threads` threads, each with its own clone of `source`, run `iters` rounds at
/// once; reports the slowest thread's time, which is per round and per thread.
fn bench_threads<T, S>(g: &mut Group<'_>, threads: usize, name: &str, mut source: S)
where
    T: Payload,
    S: Source<T> + Clone + Send,
{
    // The workers are new threads every sample; the check runs on a thread of its own too.
    thread::scope(|scope| {
        scope.spawn(|| assert_returns_cleared(&mut source));
    });
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Barrier::new(threads);
            thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        let (mut source, start) = (source.clone(), &start);
                        scope.spawn(move || {
                            start.wait();
                            let t0 = Instant::now();
                            (0..iters).for_each(|_| round(&mut source));
                            t0.elapsed()
                        })
                    })
                    .collect();
                let times = workers.into_iter().map(|w| w.join().unwrap());
                times.max().unwrap()
            })
        });
    });
}

/// `pool/cross_thread`: a producer thread takes and writes objects, the bench thread gives them
/// back.
fn bench_handoff<T, S>(g: &mut Group<'_>, name: &str, mut source: S)
where
    T: Payload,
    S: Source<T> + Clone + Send,
    S::Item: Send,
{
    // The consumer is the case's own thread, as in `pool/single`.
    isolated(g, name, |server| {
        assert_returns_cleared(&mut source);
        server.serve(|iters| {
            let (mut producer, mut consumer) = (source.clone(), source.clone());
            let produce = move || take_and_work(&mut producer);
            handoff(iters, produce, |obj| consumer.give(obj))
        });
    });
}

/// Sends `batches` batches of [`BATCH`] items from a new producer thread to this thread, which
/// consumes them one by one; returns the time from the start until the last one is consumed.
fn handoff<I: Send>(
    batches: u64,
    mut produce: impl FnMut() -> I + Send,
    mut consume: impl FnMut(I),
) -> Duration {
    let (tx, rx) = mpsc::sync_channel::<Vec<I>>(CHANNEL_BOUND);
    let start = Barrier::new(2);
    thread::scope(|scope| {
        let start_producer = &start;
        scope.spawn(move || {
            start_producer.wait();
            for _ in 0..batches {
                let batch = (0..BATCH).map(|_| produce()).collect();
                tx.send(batch).unwrap();
            }
        });
        start.wait();
        let t0 = Instant::now();
        for batch in rx {
            batch.into_iter().for_each(&mut consume);
        }
        t0.elapsed()
    })
}

/// `pool/grow`'s round: takes an empty buffer, grows it to [`GROW_TO`] bytes by appending
/// [`PAYLOAD`] (64 bytes) at a time, as a serializer or a reader filling a buffer does, and gives
/// it back.
#[inline]
fn grow_round<T: Payload, S: Source<T>>(source: &mut S) {
    let mut obj = source.take();
    let buf = obj.buf();
    for _ in 0..GROW_TO / PAYLOAD.len() {
        // `black_box`: the appends stay appends, not one fill the optimizer sized up front.
        buf.extend_from_slice(black_box(&PAYLOAD));
    }
    black_box(buf);
    source.give(obj);
}

/// `pool/grow`: one [`grow_round`] per iteration, timed on the calling thread. Checks first that
/// buffers come back empty, and with the capacity a round grew if and only if `keeps` (a pool
/// that dropped them would measure the allocator instead).
fn serve_grow<T, S>(server: Server, name: &str, keeps: bool, mut source: S)
where
    T: Payload,
    S: Source<T>,
{
    grow_round(&mut source);
    let mut obj = source.take();
    assert_eq!(obj.buf().len(), 0, "{name}: buffers must come back empty");
    assert_eq!(
        obj.buf().capacity() >= GROW_TO,
        keeps,
        "{name}: capacity kept"
    );
    source.give(obj);
    server.serve(|iters| {
        let start = Instant::now();
        for _ in 0..iters {
            grow_round(&mut source);
        }
        start.elapsed()
    });
}

/// [`serve_grow`] on the case's own thread.
fn bench_grow<T, S>(g: &mut Group<'_>, name: &str, keeps: bool, source: S)
where
    T: Payload,
    S: Source<T> + Send,
{
    isolated(g, name, |server| serve_grow(server, name, keeps, source));
}

/// How a case list shared by several groups is measured.
#[derive(Clone, Copy)]
enum Mode {
    Single,
    Threads(usize),
    Burst,
}

impl Mode {
    fn bench<T, S>(self, g: &mut Group<'_>, name: &str, source: S)
    where
        T: Payload,
        S: Source<T> + Clone + Send,
    {
        match self {
            Mode::Single => bench_single(g, name, source),
            Mode::Threads(threads) => bench_threads(g, threads, name, source),
            Mode::Burst => bench_burst(g, name, source),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Groups

fn group<'c>(c: &'c mut Criterion, name: &str, measure: Duration, samples: usize) -> Group<'c> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(measure)
        .sample_size(samples);
    g
}

/// The cases of `pool/single`, `pool/threads/N` and `pool/burst`: pools any thread can use, and
/// plain allocation with each allocator.
fn shared_cases(g: &mut Group<'_>, mode: Mode) {
    let pool = Pool::new(new_buf);
    mode.bench(g, "hotpool", || pool.get());
    // The same pool with a `max_live` cap it never reaches: what the cap costs on the hit path
    // (the announced cache door, `src/pool/slots.rs`).
    let pool = Pool::builder(new_buf).max_live(1 << 20).build().unwrap();
    mode.bench(g, "hotpool_max_live", || pool.get());
    let pool = object_pool::Pool::new(0, new_buf);
    mode.bench(g, "object_pool", || Cleared(pool.pull(new_buf)));
    let pool = LinearObjectPool::new(new_buf, Vec::clear);
    mode.bench(g, "lockfree_linear", || pool.pull());
    let pool = SpinLockObjectPool::new(new_buf, Vec::clear);
    mode.bench(g, "lockfree_spinlock", || pool.pull());
    let pool = MutexObjectPool::new(new_buf, Vec::clear);
    mode.bench(g, "lockfree_mutex", || pool.pull());
    let pool = opool::Pool::new(MAX_IDLE, OpoolBufs);
    mode.bench(g, "opool", || pool.get());
    mode.bench(g, "sharded_slab", &SlabPool::new());
    mode.bench(g, "mutex_vec", &MutexVec::<Vec<u8>>::default());
    mode.bench(g, "glibc", || Plain(new_buf()));
    mode.bench(g, "jemalloc", alloc_buf::<Jemalloc>);
    mode.bench(g, "mimalloc", alloc_buf::<MiMalloc>);
}

/// The one-thread cases of `pool/single` that `pool/single_large` repeats with a 1 KiB `T`. A
/// `LocalPool` cannot move to the case's thread: `make` builds it there.
fn local_cases<T, R>(g: &mut Group<'_>, make: impl Fn() -> LocalPool<T, R> + Sync)
where
    T: Payload,
    R: Recycler<T>,
{
    isolated(g, "hotpool_local", |server| {
        let local = make();
        serve_single(server, || local.get());
    });
    bench_single(g, "freelist_box", FreeList::<Box<T>>::default());
    bench_single(g, "freelist_vec", FreeList::<Plain<T>>::default());
}

fn single(c: &mut Criterion) {
    let mut g = group(c, "pool/single", Duration::from_millis(1500), 50);
    shared_cases(&mut g, Mode::Single);
    local_cases(&mut g, || LocalPool::new(new_buf));
    bench_single(&mut g, "tls_freelist_box", TlsFreeList(&TLS_BOXES));
    bench_single(&mut g, "tls_freelist_vec", TlsFreeList(&TLS_VECS));
    g.finish();
}

fn single_large(c: &mut Criterion) {
    let mut g = group(c, "pool/single_large", Duration::from_millis(1500), 50);
    let pool = Pool::builder(Large::fresh)
        .recycle_with(clear_and_keep)
        .build()
        .unwrap();
    bench_single(&mut g, "hotpool", || pool.get());
    bench_single(&mut g, "mutex_vec", &MutexVec::<Large>::default());
    local_cases(&mut g, || {
        LocalPool::builder(Large::fresh)
            .recycle_with(clear_and_keep)
            .build()
            .unwrap()
    });
    g.finish();
}

fn threads(c: &mut Criterion) {
    for threads in [2, 4] {
        let name = format!("pool/threads/{threads}");
        let mut g = group(c, &name, Duration::from_secs(2), 30);
        shared_cases(&mut g, Mode::Threads(threads));
        bench_threads(&mut g, threads, "tls_freelist_box", TlsFreeList(&TLS_BOXES));
        g.finish();
    }
}

fn cross_thread(c: &mut Criterion) {
    let mut g = group(c, "pool/cross_thread", Duration::from_secs(2), 30);
    g.throughput(Throughput::Elements(BATCH as u64));
    // `get_owned` works on a plain `Pool` (the guard holds the pool's inner `Arc`); the peers'
    // owned guards need an `Arc` around the pool. Either way, one refcount change per object.
    let pool = Pool::builder(new_buf).max_idle(MAX_IDLE).build().unwrap();
    bench_handoff(&mut g, "hotpool", || pool.get_owned());
    // Borrowed guards are `Send` too: with scoped threads no refcount is needed at all. The peers
    // whose borrowed guards can cross threads run the same way.
    bench_handoff(&mut g, "hotpool_borrowed", || pool.get());
    let pool = LinearObjectPool::new(new_buf, Vec::clear);
    bench_handoff(&mut g, "lockfree_linear_borrowed", || pool.pull());
    let pool = object_pool::Pool::new(0, new_buf);
    bench_handoff(&mut g, "object_pool_borrowed", || {
        Cleared(pool.pull(new_buf))
    });
    let pool = Arc::new(object_pool::Pool::new(0, new_buf));
    bench_handoff(&mut g, "object_pool", || Cleared(pool.pull_owned(new_buf)));
    let pool = Arc::new(LinearObjectPool::new(new_buf, Vec::clear));
    bench_handoff(&mut g, "lockfree_linear", || pool.pull_owned());
    let pool = Arc::new(SpinLockObjectPool::new(new_buf, Vec::clear));
    bench_handoff(&mut g, "lockfree_spinlock", || pool.pull_owned());
    let pool = Arc::new(MutexObjectPool::new(new_buf, Vec::clear));
    bench_handoff(&mut g, "lockfree_mutex", || pool.pull_owned());
    let pool = Arc::new(opool::Pool::new(MAX_IDLE, OpoolBufs));
    bench_handoff(&mut g, "opool", || Arc::clone(&pool).get_rc());
    bench_handoff(
        &mut g,
        "sharded_slab",
        OwnedSlab(&Arc::new(SlabPool::new())),
    );
    // No guard: each thread gives objects back through its own handle (a borrow, as the threads
    // are scoped), so no per-object refcount.
    bench_handoff(&mut g, "mutex_vec", &MutexVec::<Vec<u8>>::default());
    bench_handoff(&mut g, "glibc", || Plain(new_buf()));
    bench_handoff(&mut g, "jemalloc", alloc_buf::<Jemalloc>);
    bench_handoff(&mut g, "mimalloc", alloc_buf::<MiMalloc>);
    isolated(&mut g, "channel_only", |server| {
        server.serve(|iters| handoff(iters, || black_box(0_usize), drop));
    });
    g.finish();
}

fn burst(c: &mut Criterion) {
    let mut g = group(c, "pool/burst", Duration::from_millis(1500), 50);
    shared_cases(&mut g, Mode::Burst);
    isolated(&mut g, "hotpool_local", |server| {
        let local = LocalPool::new(new_buf);
        serve_burst(server, || local.get());
    });
    bench_burst(&mut g, "freelist_box", FreeList::<Box<Vec<u8>>>::default());
    g.finish();
}

fn grow(c: &mut Criterion) {
    let mut g = group(c, "pool/grow", Duration::from_millis(1500), 50);
    g.throughput(Throughput::Bytes(GROW_TO as u64));
    // Empty buffers from the factory; the pools keep what a round grew (16 KiB retained).
    let pool = Pool::builder(Vec::new)
        .max_retained_bytes(GROW_TO)
        .build()
        .unwrap();
    bench_grow(&mut g, "hotpool", true, || pool.get());
    isolated(&mut g, "hotpool_local", |server| {
        let local = LocalPool::builder(Vec::new)
            .max_retained_bytes(GROW_TO)
            .build()
            .unwrap();
        serve_grow(server, "hotpool_local", true, || local.get());
    });
    bench_grow(&mut g, "glibc", false, || Plain(Vec::<u8>::new()));
    bench_grow(&mut g, "jemalloc", false, || {
        Plain(AllocVec::<Jemalloc>::new_in(Via::NEW))
    });
    bench_grow(&mut g, "mimalloc", false, || {
        Plain(AllocVec::<MiMalloc>::new_in(Via::NEW))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Plots cost seconds per case, longer than measuring it; the numbers are in the terminal and
    // in `target/criterion/**/estimates.json`. `-- --plotting-backend plotters` turns them on.
    config = Criterion::default().without_plots();
    targets = single, single_large, threads, cross_thread, burst, grow, bounded::bounded
}
criterion_main!(benches);
