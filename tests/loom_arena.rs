//! Loom models of every arena path that crosses threads. Arenas themselves never do (each thread
//! uses its own); what does is the statistics registry: a thread registers its counters on first
//! use and folds them into the exited total when it exits, while any thread may aggregate.
//!
//! Run with `RUSTFLAGS="--cfg hotpool_loom" cargo test --release --test loom_arena`.
#![cfg(hotpool_loom)]

use hotpool::arena;
use loom::thread;

/// Explores `f` with at most two preemptions per execution: every counter update is a loom
/// atomic, and the unbounded search over them would not finish; two preemptions cover each
/// pair of racing steps (register, publish, retire, aggregate).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(f);
}

/// Global stats once every worker has exited (the main thread never uses an arena here).
///
/// Loom's `join` returns when the thread's closure returns, before its thread-locals are
/// dropped (std's `join` waits for both), so the model waits for the exit itself.
fn stats_after_exits() -> arena::ArenaStats {
    loop {
        let stats = arena::global_stats();
        if stats.live_threads == 0 {
            return stats;
        }
        thread::yield_now();
    }
}

/// One scope with `bytes` of plain data, on the calling thread.
fn one_scope(bytes: usize) {
    arena::scope(|s| {
        s.alloc_slice_fill_iter((0..bytes).map(|_| 0u8));
    });
}

#[test]
fn aggregation_racing_a_thread_exit_counts_it_once() {
    model(|| {
        let worker = thread::spawn(|| one_scope(16));
        // Before, during or after the exit: the worker's scope is seen at most once...
        let seen = arena::global_stats();
        assert!(seen.scopes_entered <= 1, "{seen:?}");
        assert!(seen.bytes_used_at_scope_end == 0 || seen.bytes_used_at_scope_end == 16);
        worker.join().unwrap();
        // ...and exactly once, with its arena freed, after it.
        let after = stats_after_exits();
        assert_eq!(
            (after.scopes_entered, after.bytes_used_at_scope_end),
            (1, 16)
        );
        assert_eq!((after.idle_arenas, after.retained_bytes), (0, 0));
    });
}

#[test]
fn concurrent_registrations_and_exits_lose_no_counts() {
    model(|| {
        let a = thread::spawn(|| one_scope(8));
        let b = thread::spawn(|| one_scope(24));
        let first = arena::global_stats();
        let second = arena::global_stats();
        // Counts only grow, whether a thread is live or already folded into the exited total.
        assert!(second.scopes_entered >= first.scopes_entered);
        assert!(second.bytes_used_at_scope_end >= first.bytes_used_at_scope_end);
        a.join().unwrap();
        b.join().unwrap();
        let after = stats_after_exits();
        assert_eq!(
            (after.scopes_entered, after.bytes_used_at_scope_end),
            (2, 32)
        );
        assert_eq!(after.peak_scope_bytes, 24);
    });
}

#[test]
fn thread_exit_releases_every_warm_arena() {
    model(|| {
        let worker = thread::spawn(|| {
            arena::scope(|outer| {
                outer.alloc(1u64);
                one_scope(8); // nested: a second arena
            });
            let mine = arena::stats();
            assert_eq!((mine.idle_arenas, mine.arenas_created), (2, 2));
            assert!(mine.retained_bytes > 0);
        });
        let during = arena::global_stats();
        assert!(during.idle_arenas <= 2);
        worker.join().unwrap();
        let after = stats_after_exits();
        assert_eq!((after.idle_arenas, after.retained_bytes), (0, 0));
        assert_eq!((after.scopes_entered, after.arenas_created), (2, 2));
    });
}
