//! `BufferPool` with a counting allocator: zero heap allocations per operation once warm (mixed
//! sizes, owned guards, `get_zeroed` and `read_from`, with and without thread caches), and every
//! buffer freed exactly once, when its class cannot keep it or with the pool.

mod support;

use std::sync::Mutex;

use hotpool::BufferPool;
use support::alloc::{live_bytes, measured, measured_calls, CountingAlloc};

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Under miri (milliseconds per pool operation) one turn of the sizes' rotation.
const ITERATIONS: usize = if cfg!(miri) { SIZES.len() } else { 5_000 };
/// The sizes of the `buffers/mixed` bench.
const SIZES: [usize; 6] = [256, 1500, 4096, 16 * 1024, 64 * 1024, 1 << 20];

/// The leak test reads the global live-byte count: no other test of this binary may allocate
/// meanwhile.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// One round of the bench's work: every size, get -> write 64 bytes -> drop, plus one buffer of
/// each size held while the next is taken.
fn round(pool: &BufferPool, i: usize) {
    for (k, &n) in SIZES.iter().enumerate() {
        let mut buf = pool.get(SIZES[(k + i) % SIZES.len()]);
        buf.extend_from_slice(&[i as u8; 64]);
        let mut held = pool.get(n);
        held.extend_from_slice(&buf[..8]);
        drop(buf);
    }
}

#[test]
fn get_write_drop_never_allocates_once_warm() {
    let _serial = serial();
    for thread_cache in [16, 1, 0] {
        let pool = BufferPool::builder()
            .thread_cache(thread_cache)
            .build()
            .unwrap();
        (0..12).for_each(|i| round(&pool, i));
        let created = pool.stats().created;
        let calls = measured_calls(|| measured(|| (0..ITERATIONS).for_each(|i| round(&pool, i))));
        assert_eq!(calls, 0, "thread_cache {thread_cache}");
        assert_eq!(
            pool.stats().created,
            created,
            "no buffer made after warm-up"
        );
    }
}

#[test]
fn owned_guards_zeroed_buffers_and_reads_never_allocate_once_warm() {
    let _serial = serial();
    let pool = BufferPool::new();
    let input = [5u8; 2000];
    let work = |pool: &BufferPool| {
        let mut owned = pool.get_owned(1500);
        owned.extend_from_slice(&input[..1500]);
        drop(owned);
        let zeroed = pool.get_zeroed(4000);
        assert_eq!(zeroed.len(), 4000);
        drop(zeroed);
        let mut buf = pool.get(2000);
        let n = buf.read_from(&mut &input[..], 2000).unwrap();
        assert_eq!(n, 2000);
    };
    (0..3).for_each(|_| work(&pool));
    let calls = measured_calls(|| measured(|| (0..ITERATIONS).for_each(|_| work(&pool))));
    assert_eq!(calls, 0);
}

#[test]
fn two_threads_never_allocate_once_warm() {
    let _serial = serial();
    // Whether two threads sharing a class allocate depends on where the idle buffers sit, so the
    // settings make the steady state certain: every class caches 4 buffers per thread, and its
    // depot holds more than 8. A `get` misses only if at most 7 buffers of its class exist (the
    // other thread's cache, 2 in use there, 1 here); a return is refused only if this thread's
    // cache and the depot are full, with 18 or more in existence. The warm-up makes 10 per class.
    let pool = BufferPool::builder()
        .max_idle_bytes(256 << 20)
        .thread_cache(4)
        .build()
        .unwrap();
    let both_hold = std::sync::Barrier::new(2);
    let calls = measured_calls(|| {
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..2)
                .map(|t| {
                    let (pool, both_hold) = (&pool, &both_hold);
                    s.spawn(move || {
                        let held: Vec<_> =
                            (0..5).flat_map(|_| SIZES.map(|n| pool.get(n))).collect();
                        both_hold.wait();
                        drop(held);
                        (0..12).for_each(|i| round(pool, i + t));
                        measured(|| (0..ITERATIONS).for_each(|i| round(pool, i + t)));
                    })
                })
                .collect();
            workers.into_iter().for_each(|w| w.join().unwrap());
        });
    });
    assert_eq!(calls, 0);
    assert_eq!(pool.stats().created, 10 * SIZES.len() as u64);
}

#[test]
fn every_buffer_is_freed_once_with_nothing_leaked() {
    let _serial = serial();
    // Buffers of 128 KiB and more: leaking any one of them shows far above the noise of the
    // test harness's own allocations.
    const TOLERANCE: isize = 64 * 1024;
    let before = live_bytes();
    {
        let pool = BufferPool::builder()
            .min_size(128 * 1024)
            .max_size(1 << 20)
            .max_idle_bytes(4 << 20)
            .build()
            .unwrap();
        let mut held = Vec::new();
        for i in 0..40usize {
            let mut buf = pool.get((128 * 1024) << (i % 4));
            if i % 5 == 0 {
                let extra = buf.capacity() + 1000;
                buf.extend_from_slice(&vec![1; extra]); // grows: another class, or freed
            }
            if i % 3 == 0 {
                held.push(buf);
            }
        }
        let owned = pool.get_owned(200 * 1024);
        std::thread::spawn(move || drop(owned)).join().unwrap();
        let detached = hotpool::Buffer::detach(pool.get(300 * 1024));
        drop(detached);
        drop(pool.get(2 << 20)); // oversized
        std::thread::scope(|s| {
            // Cached there, flushed at its exit (which an explicit join waits for).
            s.spawn(|| drop(pool.get(500 * 1024))).join().unwrap();
        });
        drop(held);
        assert!(pool.stats().idle_bytes > 1 << 20, "buffers are kept idle");
        pool.trim_unused();
    } // the pool frees the rest
    let leaked = live_bytes() - before;
    assert!(leaked.abs() < TOLERANCE, "{leaked} bytes");
}
