//! A service-like workload with a burst, watched with `hotpool::report()`.
//!
//! ```text
//! cargo run --release --example memory_report
//! ```
//!
//! Four named pools and the thread arenas serve a steady trickle of work; then four worker
//! threads each hold 48 request buffers of 256 KiB at once (and use their arenas, one of them
//! in a spike past the retained limit). The report is printed, with the process's resident
//! memory (RSS, from `/proc/self/smaps_rollup`; "n/a" where there is none) beside it:
//!
//! 1. before the burst;
//! 2. during it, while the workers hold their buffers;
//! 3. after it: the buffers are idle in the pools now, memory the process still holds;
//! 4. after `trim_unused_all()`, called as a maintenance timer would: once to start a period,
//!    then again after a stretch of steady work. Everything that stayed idle in between is
//!    freed, and RSS falls back: the request buffers are large enough for the allocator to map
//!    each one on its own and return it to the system when it is freed. (How much RSS falls
//!    depends on the allocator; the report's numbers do not.)
//!
//! Three sessions are opened early and never closed: from the second report on, the `sessions`
//! row is flagged `LEAK?`.

use std::collections::HashMap;
use std::sync::Barrier;
use std::thread;

use hotpool::{arena, report, trim_unused_all, Pool};

/// Capacity of a request buffer: above glibc's mmap threshold, so each one is its own mapping
/// and RSS follows what the pools hold.
const REQUEST_BYTES: usize = 256 * 1024;
const WORKERS: usize = 4;
const HELD_PER_WORKER: usize = 48;

struct Pools {
    requests: Pool<Vec<u8>>,
    lines: Pool<String>,
    counts: Pool<HashMap<u64, u64>>,
    sessions: Pool<Vec<u8>>,
}

fn main() -> Result<(), hotpool::ConfigError> {
    let pools = Pools {
        requests: Pool::builder(|| Vec::with_capacity(REQUEST_BYTES))
            .name("requests")
            .max_idle(256)
            .build()?,
        lines: Pool::builder(|| String::with_capacity(256))
            .name("lines")
            .build()?,
        // Unnamed: listed under its type.
        counts: Pool::new(HashMap::new),
        sessions: Pool::builder(|| Vec::with_capacity(16 * 1024))
            .name("sessions")
            .build()?,
    };

    let open_sessions: Vec<_> = (0..3).map(|_| pools.sessions.get_owned()).collect();
    steady(&pools, 200);
    show("1. before the burst");

    let barrier = Barrier::new(WORKERS + 1);
    thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let (pools, barrier) = (&pools, &barrier);
                s.spawn(move || burst(pools, barrier, worker))
            })
            .collect();
        barrier.wait(); // every worker holds its buffers
        barrier.wait(); // and has used its arena
        show("2. during the burst (workers hold their buffers)");
        barrier.wait();
        // `join` waits for the thread's exit, thread-locals included: its pool cache has moved
        // to the depot by then (the end of the scope alone does not wait for that).
        for worker in workers {
            worker.join().unwrap();
        }
    });
    show("3. after the burst (workers exited; their buffers are idle in the pools)");

    let started = trim_unused_all(); // a maintenance tick: starts the period
    steady(&pools, 200); // a stretch of normal load until the next tick
    let freed = trim_unused_all();
    println!("trim_unused_all(): {started} freed at the first tick, {freed} at the second");
    show("4. after trim_unused_all()");

    drop(open_sessions);
    Ok(())
}

/// Normal load: a request buffer, a line and a map per item, and arena scratch.
fn steady(pools: &Pools, items: u64) {
    for i in 0..items {
        let mut request = pools.requests.get();
        request.extend_from_slice(&i.to_le_bytes());
        let mut line = pools.lines.get();
        line.push_str("GET /index.html");
        let mut counts = pools.counts.get();
        *counts.entry(i % 7).or_default() += 1;
        arena::scope(|a| {
            let words = a.bump().alloc_slice_fill_copy(1024, 0u32);
            words[0] = line.len() as u32;
        });
    }
}

/// One worker of the burst: holds its buffers (filled, so they are resident) and uses its arena
/// until the report during the burst is printed.
fn burst(pools: &Pools, barrier: &Barrier, worker: usize) {
    let held: Vec<_> = (0..HELD_PER_WORKER)
        .map(|_| {
            let mut buf = pools.requests.get();
            buf.resize(REQUEST_BYTES, worker as u8);
            buf
        })
        .collect();
    // The spike below frees a 4 MiB mapping, which makes glibc raise its mmap threshold: wait
    // until every worker has its buffers, so that all of them are mappings of their own.
    barrier.wait();
    arena::scope(|a| {
        a.bump().alloc_slice_fill_copy(512 * 1024, 1u8); // kept warm: within the retained limit
    });
    if worker == 0 {
        arena::scope(|a| {
            a.bump().alloc_slice_fill_copy(4 << 20, 2u8); // a spike: freed when the scope ends
        });
    }
    barrier.wait();
    barrier.wait();
    drop(held);
}

fn show(title: &str) {
    println!("== {title} — RSS {}", rss());
    println!("{}\n", report());
}

/// Resident memory of this process (Linux): from `/proc/self/smaps_rollup`, which the kernel
/// sums exactly when asked, or else `/proc/self/status`, whose `VmRSS` may lag by a few MiB in a
/// multithreaded process.
fn rss() -> String {
    let field = |path: &str, name: &str| {
        let text = std::fs::read_to_string(path).ok()?;
        let value = text.lines().find_map(|l| l.strip_prefix(name))?;
        value
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()
    };
    let kib =
        field("/proc/self/smaps_rollup", "Rss:").or_else(|| field("/proc/self/status", "VmRSS:"));
    match kib {
        Some(kib) => format!("{:.1} MiB", kib as f64 / 1024.0),
        None => "n/a".to_owned(),
    }
}
