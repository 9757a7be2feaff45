//! Per-thread arenas against the alternatives a user would reach for.
//!
//! - `arena/alloc_small`: one round = 1,000 allocations of a 16-byte value, then scope end.
//! - `arena/scope`: one round = entering and leaving an empty scope.
//! - `arena/threads/2`: `alloc_small` rounds on two threads at once, each in its own arenas;
//!   the time reported is per round on one thread (started together at a barrier, the slower
//!   thread's time counts), so it compares directly with `alloc_small`.
//!
//! Contenders: `hotpool` (`arena::scope`), `bumpalo` (a `Bump` already in hand, reset per
//! round: the floor), `tls_refcell` (a `thread_local!` `RefCell<Bump>`, borrowed per
//! allocation, as an ambient arena without scopes must), `herd` (bumpalo-herd: a member per
//! round, the herd reset per round) and `box` (`Box::new`, the system allocator).
//!
//! Run: `cargo bench --bench arena -- --warm-up-time 1 --measurement-time 3`.

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use bumpalo::Bump;
use bumpalo_herd::Herd;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use hotpool::arena;

const PER_ROUND: u64 = 1_000;
/// The 16-byte value allocated.
type Small = [u64; 2];

thread_local! {
    static TLS_BUMP: RefCell<Bump> = RefCell::new(Bump::new());
}

/// One benchmark round, owning its contender's state.
type Round = Box<dyn FnMut() + Send>;

/// One `alloc_small` round per contender; each closure runs one round.
fn contenders() -> Vec<(&'static str, Round)> {
    let mut bump = Bump::new();
    let mut herd = Herd::new();
    let mut boxes: Vec<Box<Small>> = Vec::with_capacity(PER_ROUND as usize);
    vec![
        (
            "hotpool",
            Box::new(|| {
                arena::scope(|s| {
                    for i in 0..PER_ROUND {
                        black_box(s.alloc([i, i]));
                    }
                })
            }),
        ),
        (
            "bumpalo",
            Box::new(move || {
                for i in 0..PER_ROUND {
                    black_box(bump.alloc([i, i]));
                }
                bump.reset();
            }),
        ),
        (
            "tls_refcell",
            Box::new(|| {
                for i in 0..PER_ROUND {
                    TLS_BUMP.with(|b| {
                        black_box(b.borrow().alloc([i, i]));
                    });
                }
                TLS_BUMP.with(|b| b.borrow_mut().reset());
            }),
        ),
        (
            "herd",
            Box::new(move || {
                let member = herd.get();
                for i in 0..PER_ROUND {
                    black_box(member.alloc([i, i]));
                }
                drop(member);
                herd.reset();
            }),
        ),
        (
            "box",
            Box::new(move || {
                for i in 0..PER_ROUND {
                    boxes.push(black_box(Box::new([i, i])));
                }
                boxes.clear();
            }),
        ),
    ]
}

fn alloc_small(c: &mut Criterion) {
    let mut group = c.benchmark_group("arena/alloc_small");
    for (name, mut round) in contenders() {
        group.bench_function(name, |b| b.iter(&mut round));
    }
    group.finish();
}

fn scope(c: &mut Criterion) {
    let mut group = c.benchmark_group("arena/scope");
    group.bench_function("hotpool", |b| {
        b.iter(|| {
            arena::scope(|s| {
                black_box(s);
            })
        })
    });
    let mut bump = Bump::new();
    bump.alloc(0u8); // a warm chunk, as a scope's arena has
    group.bench_function("bumpalo", |b| b.iter(|| black_box(&mut bump).reset()));
    TLS_BUMP.with(|b| {
        b.borrow().alloc(0u8);
    });
    group.bench_function("tls_refcell", |b| {
        b.iter(|| TLS_BUMP.with(|b| black_box(b.borrow_mut()).reset()))
    });
    let mut herd = Herd::new();
    group.bench_function("herd", |b| {
        b.iter(|| {
            drop(black_box(herd.get()));
            herd.reset();
        })
    });
    group.bench_function("box", |b| b.iter(|| drop(black_box(Box::new([0u64; 2])))));
    group.finish();
}

/// Runs `iters` rounds on each of two threads started together; returns the slower thread's time.
fn two_threads(iters: u64, make_round: &(dyn Fn() -> Round + Sync)) -> Duration {
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let mut round = make_round();
                let barrier = &barrier;
                scope.spawn(move || {
                    round(); // warm this thread's arena before timing
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        round();
                    }
                    start.elapsed()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .max()
            .unwrap()
    })
}

fn threads(c: &mut Criterion) {
    let mut group: BenchmarkGroup<'_, _> = c.benchmark_group("arena/threads/2");
    let names: Vec<&str> = contenders().into_iter().map(|(name, _)| name).collect();
    for (index, name) in names.into_iter().enumerate() {
        // Each thread builds its own contender: its own bump, herd or box list.
        let make_round = move || contenders().swap_remove(index).1;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| two_threads(iters, &make_round))
        });
    }
    group.finish();
}

criterion_group!(benches, alloc_small, scope, threads);
criterion_main!(benches);
