//! loom models of the memory report's registry: every test is named after the race it checks.
//! Run with `ci/loom.sh`.
//!
//! A report upgrades each pool's weak handle while it reads it, so it may end up holding the last
//! reference and drop the pool itself; a pool may be built (registered) or dropped (its entry left
//! to pruning) while a report or a trim walks the registry. Objects count their drops with plain
//! std atomics (loom runs the model on one OS thread, so they only observe).
#![cfg(hotpool_loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use hotpool::{Pool, Recycle};
use loom::sync::Arc;
use loom::thread;

struct Obj {
    drops: Arc<AtomicUsize>,
}

impl Recycle for Obj {
    fn reset(&mut self) {}
    fn retained_bytes(&self) -> usize {
        0
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

struct Counts {
    made: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
    /// Pools torn down: their factory, which holds a [`TornDown`], was dropped.
    torn_down: Arc<AtomicUsize>,
}

/// Counts its drop: captured by a pool's factory, it goes when the pool is torn down.
struct TornDown(Arc<AtomicUsize>);

impl Drop for TornDown {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

impl Counts {
    fn new() -> Self {
        Self {
            made: Arc::new(AtomicUsize::new(0)),
            drops: Arc::new(AtomicUsize::new(0)),
            torn_down: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A registered pool of `prefill` idle objects, depot only (no thread-exit flushes to wait
    /// for: the models are about the registry).
    fn pool(&self, name: &'static str, prefill: usize) -> Pool<Obj> {
        let (made, drops) = (Arc::clone(&self.made), Arc::clone(&self.drops));
        let flag = TornDown(Arc::clone(&self.torn_down));
        Pool::builder(move || {
            let _ = &flag;
            made.fetch_add(1, SeqCst);
            Obj {
                drops: Arc::clone(&drops),
            }
        })
        .name(name)
        .thread_cache(0)
        .max_idle(4)
        .prefill(prefill)
        .build()
        .unwrap()
    }

    fn assert_all_dropped_once(&self) {
        assert_eq!(self.drops.load(SeqCst), self.made.load(SeqCst));
    }
}

/// Counts the model's executions and those where `happened` held, to check afterwards that loom
/// explored both outcomes of a race (the report's `Weak` upgrade is std's, invisible to loom, so
/// the models give it loom-visible neighbours: the registry and depot locks).
struct Outcomes {
    runs: AtomicUsize,
    happened: AtomicUsize,
}

impl Outcomes {
    const fn new() -> Self {
        Self {
            runs: AtomicUsize::new(0),
            happened: AtomicUsize::new(0),
        }
    }

    fn record(&self, happened: bool) {
        self.runs.fetch_add(1, SeqCst);
        self.happened.fetch_add(usize::from(happened), SeqCst);
    }

    fn assert_both_seen(&self) {
        let (runs, happened) = (self.runs.load(SeqCst), self.happened.load(SeqCst));
        assert!(
            0 < happened && happened < runs,
            "{happened} of {runs} executions"
        );
    }
}

#[test]
fn report_races_registration_and_drop() {
    static SEEN_ALIVE: Outcomes = Outcomes::new();
    loom::model(|| {
        let counts = Arc::new(Counts::new());
        let c = Arc::clone(&counts);
        let builder = thread::spawn(move || {
            let pool = c.pool("racing", 1);
            drop(pool.get());
            hotpool::trim_unused_all(); // starts a period: the registry again, then the depot
            drop(pool);
        });
        let report = hotpool::report();
        // Not built yet, alive (exact: nobody else uses it), or dropped already.
        if let Some(entry) = report.pool("racing") {
            assert!(entry.stats.in_use <= 1, "{entry:?}");
            assert_eq!(entry.stats.idle + entry.stats.in_use, 1, "{entry:?}");
        }
        SEEN_ALIVE.record(report.pool("racing").is_some());
        builder.join().unwrap();
        assert!(hotpool::report().pools.is_empty());
        counts.assert_all_dropped_once();
    });
    SEEN_ALIVE.assert_both_seen();
}

#[test]
fn trim_all_holds_the_last_reference_while_the_pool_drops() {
    static TORN_DOWN_BY_TRIMMER: Outcomes = Outcomes::new();
    loom::model(|| {
        let counts = Arc::new(Counts::new());
        let pool = counts.pool("last reference", 2);
        let trimmer = thread::spawn(hotpool::trim_all);
        // Takes the registry lock: gives loom a point to put the trimmer's before or after.
        hotpool::report();
        drop(pool); // maybe while the trimmer holds it: then the trimmer tears it down
        let torn_down_here = counts.torn_down.load(SeqCst) == 1;
        let trimmed = trimmer.join().unwrap();
        TORN_DOWN_BY_TRIMMER.record(!torn_down_here);
        assert!(trimmed == 0 || trimmed == 2, "{trimmed}");
        assert_eq!(counts.torn_down.load(SeqCst), 1);
        assert!(hotpool::report().pools.is_empty());
        counts.assert_all_dropped_once();
    });
    TORN_DOWN_BY_TRIMMER.assert_both_seen();
}

#[test]
fn two_registrations_race_a_trim_unused() {
    loom::model(|| {
        let counts = Arc::new(Counts::new());
        let c = Arc::clone(&counts);
        let other = thread::spawn(move || c.pool("b", 1));
        let a = counts.pool("a", 1);
        let freed = hotpool::trim_unused_all(); // the first call only starts the period
        assert_eq!(freed, 0);
        let b = other.join().unwrap();
        let report = hotpool::report();
        let names: Vec<_> = report.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"a") && names.contains(&"b"), "{names:?}");
        drop((a, b));
        counts.assert_all_dropped_once();
    });
}
