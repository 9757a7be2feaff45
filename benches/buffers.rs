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
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use hotpool::BufferPool;

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

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = mixed, threads
}
criterion_main!(benches);
