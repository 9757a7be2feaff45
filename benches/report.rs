//! The memory report's cost on the hit path: none is expected, since a pool registers once when
//! it is built and `get`/return never touch the registry. This bench checks it.
//!
//! Every case runs `pool/single`'s round from `benches/pool.rs` (take a `Vec<u8>` of 4 KiB
//! capacity, write 64 bytes, give it back) on one thread:
//!
//! - `pool/single/hotpool_registered`: a named pool, listed in `hotpool::report()`, among 100
//!   other registered pools;
//! - `pool/single/hotpool_unregistered`: the same pool built with `.register(false)`: the
//!   baseline the issue compares with (within 3 %);
//! - `pool/single/hotpool_while_reporting`: the registered pool while another thread calls
//!   `hotpool::report()` and `hotpool::trim_unused_all()` every millisecond (they take each
//!   pool's depot lock briefly; a hit takes none).
//!
//! # Running
//!
//! ```text
//! cargo bench --bench report
//! ```
//!
//! Compare the cases of one run on a quiet machine; the first two should differ by noise only.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use hotpool::Pool;

const CAPACITY: usize = 4096;
const PAYLOAD: [u8; 64] = [7; 64];
/// Other registered pools, so the registry is not trivially small.
const OTHER_POOLS: usize = 100;

fn new_buf() -> Vec<u8> {
    Vec::with_capacity(CAPACITY)
}

/// One round: take, write, give back (cleared by the pool's reset).
#[inline]
fn round(pool: &Pool<Vec<u8>>) {
    let mut buf = pool.get();
    buf.extend_from_slice(black_box(&PAYLOAD));
    black_box(&mut *buf);
}

fn bench_case(c: &mut Criterion, name: &str, pool: &Pool<Vec<u8>>) {
    round(pool);
    assert!(pool.get().is_empty(), "objects must come back cleared");
    c.benchmark_group("pool/single")
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(50)
        .bench_function(name, |b| b.iter(|| round(pool)));
}

fn single(c: &mut Criterion) {
    let others: Vec<Pool<String>> = (0..OTHER_POOLS)
        .map(|i| {
            Pool::builder(String::new)
                .name(format!("other {i}"))
                .build()
                .unwrap()
        })
        .collect();
    let registered = Pool::builder(new_buf).name("bench").build().unwrap();
    let unregistered = Pool::builder(new_buf).register(false).build().unwrap();
    assert!(hotpool::report().pool("bench").is_some());

    bench_case(c, "hotpool_registered", &registered);
    bench_case(c, "hotpool_unregistered", &unregistered);

    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                black_box(hotpool::report());
                hotpool::trim_unused_all();
                thread::sleep(Duration::from_millis(1));
            }
        });
        bench_case(c, "hotpool_while_reporting", &registered);
        stop.store(true, Ordering::Relaxed);
    });
    drop(others);
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = single
}
criterion_main!(benches);
