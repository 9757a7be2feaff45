//! A `Recycler` of your own, given with the builders' `recycler`, is the pool's policy: the pool's
//! type names it (so the pool fits in a `static`), it runs on every return, and its keep/drop
//! answers are what `stats()` counts, on `Pool` and `LocalPool` alike. It never combines silently
//! with the closure settings. A policy with `keep_if` and no `recycle_with` still resets with
//! `Recycle::reset`.

use std::sync::atomic::{AtomicUsize, Ordering};

use hotpool::{ConfigError, LocalPool, Pool, Recycle, Recycler};
use once_cell::sync::Lazy;

/// What a [`Bounded`] answered.
struct Answers {
    kept: AtomicUsize,
    dropped: AtomicUsize,
}

impl Answers {
    const fn new() -> Self {
        Self {
            kept: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        }
    }

    /// (kept, dropped), as `PoolStats` counts them.
    fn get(&self) -> (u64, u64) {
        let count = |n: &AtomicUsize| n.load(Ordering::Relaxed) as u64;
        (count(&self.kept), count(&self.dropped))
    }
}

/// Keeps buffers whose capacity is within `min..=max` after clearing them, and counts its
/// answers.
struct Bounded {
    min: usize,
    max: usize,
    answers: &'static Answers,
}

impl Recycler<Vec<u8>> for Bounded {
    fn recycle(&self, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let keep = (self.min..=self.max).contains(&buf.capacity());
        let answer = if keep {
            &self.answers.kept
        } else {
            &self.answers.dropped
        };
        answer.fetch_add(1, Ordering::Relaxed);
        keep
    }

    fn retained_bytes_of(&self, buf: &Vec<u8>) -> Option<usize> {
        Some(buf.capacity())
    }
}

/// Uses a buffer as round `round` of a test does: every fifth is shrunk below `min`, every fifth
/// grown above `max`, the rest stay within bounds. Returns whether the recycler should keep it.
fn use_buffer(buf: &mut Vec<u8>, round: usize) -> bool {
    buf.push(1);
    match round % 5 {
        0 => buf.shrink_to(0),
        1 => buf.reserve(4096),
        _ => buf.extend([2; 10]),
    }
    round % 5 > 1
}

static BUFFER_ANSWERS: Answers = Answers::new();
static BUFFERS: Lazy<Pool<Vec<u8>, Bounded>> = Lazy::new(|| {
    Pool::builder(|| Vec::with_capacity(64))
        .recycler(Bounded {
            min: 64,
            max: 1024,
            answers: &BUFFER_ANSWERS,
        })
        .name("recycler BUFFERS")
        .build()
        .expect("a valid configuration")
});

#[test]
fn a_user_recycler_in_a_static_pool_runs_on_every_return_and_stats_count_its_answers() {
    const THREADS: u64 = 4;
    const ROUNDS: usize = 50;
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for round in 0..ROUNDS {
                    use_buffer(&mut BUFFERS.get(), round);
                }
            });
        }
    });
    let (kept, dropped) = BUFFER_ANSWERS.get();
    assert_eq!((kept, dropped), (THREADS * 30, THREADS * 20));
    let stats = BUFFERS.stats();
    assert_eq!((stats.returned, stats.discarded), (kept, dropped));
    assert_eq!(stats.in_use, 0);
    // A kept buffer comes back cleared by the recycler.
    BUFFERS.get().extend([1; 10]);
    assert!(BUFFERS.get().is_empty());
}

#[test]
fn the_report_measures_idle_objects_with_a_user_recyclers_retained_bytes_of() {
    static ANSWERS: Answers = Answers::new();
    let pool = Pool::builder(|| Vec::with_capacity(100))
        .recycler(Bounded {
            min: 64,
            max: 1024,
            answers: &ANSWERS,
        })
        .thread_cache(0) // every idle object in the depot, where the report sees it
        .name("recycler measured")
        .build()
        .unwrap();
    let held: Vec<_> = (0..3).map(|_| pool.get()).collect();
    drop(held);
    let report = hotpool::report();
    let entry = report.pool("recycler measured").expect("registered");
    let each = std::mem::size_of::<Vec<u8>>() + 100;
    assert_eq!(entry.idle_bytes, Some(3 * each as u64));
    assert!(entry.idle_bytes_exact);
}

#[test]
fn a_user_recycler_of_a_local_pool_runs_on_every_return_and_stats_count_its_answers() {
    static ANSWERS: Answers = Answers::new();
    let pool: LocalPool<Vec<u8>, Bounded> = LocalPool::builder(|| Vec::with_capacity(64))
        .recycler(Bounded {
            min: 64,
            max: 1024,
            answers: &ANSWERS,
        })
        .build()
        .unwrap();
    let expected_kept = (0..50)
        .map(|round| u64::from(use_buffer(&mut pool.get(), round)))
        .sum::<u64>();
    let (kept, dropped) = ANSWERS.get();
    assert_eq!((kept, dropped), (expected_kept, 50 - expected_kept));
    let stats = pool.stats();
    assert_eq!((stats.returned, stats.discarded), (kept, dropped));
    assert!(pool.try_get().is_some_and(|buf| buf.is_empty()));
}

#[test]
fn a_closure_is_a_recycler_too() {
    let pool = LocalPool::builder(String::new)
        .recycler(|s: &mut String| {
            s.clear();
            s.capacity() <= 16
        })
        .build()
        .unwrap();
    pool.get().push_str("short");
    pool.get().reserve(64);
    assert_eq!((pool.stats().returned, pool.stats().discarded), (1, 1));
}

#[test]
fn max_retained_bytes_before_recycler_is_a_conflict_that_names_both_settings() {
    let recycle = |s: &mut String| {
        s.clear();
        true
    };
    let expected = ConfigError::Conflicts {
        setting: "max_retained_bytes",
        value: 4096,
        with: "recycler",
    };
    let shared = Pool::builder(String::new)
        .max_retained_bytes(4096)
        .recycler(recycle)
        .build();
    let local = LocalPool::builder(String::new)
        .max_retained_bytes(4096)
        .prefill(1) // other settings in between change nothing
        .recycler(recycle)
        .build();
    assert_eq!(shared.unwrap_err(), expected);
    let err = local.unwrap_err();
    assert_eq!(err, expected);
    assert_eq!(
        err.to_string(),
        "invalid configuration: max_retained_bytes = 4096 is not applied by recycler: give only one"
    );
    // A conflict comes before the other checks, which would not explain it.
    let err = LocalPool::builder(String::new)
        .max_retained_bytes(1)
        .max_idle(0)
        .recycler(recycle)
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), expected.to_string().replace("4096", "1"));
}

/// A `Recycle` type that counts its resets.
#[derive(Default)]
struct Counted {
    data: Vec<u8>,
}

static RESETS: AtomicUsize = AtomicUsize::new(0);

impl Recycle for Counted {
    fn reset(&mut self) {
        RESETS.fetch_add(1, Ordering::Relaxed);
        self.data.clear();
    }

    fn retained_bytes(&self) -> usize {
        self.data.capacity()
    }
}

/// Resets counted by `Counted` while `run` runs; the tests that use it do not run at once.
fn resets_during(run: impl FnOnce()) -> usize {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = RESETS.load(Ordering::Relaxed);
    run();
    RESETS.load(Ordering::Relaxed) - before
}

/// Returns an object that keeps 16 bytes, then reuses it and shrinks it (`shrink`) or grows it
/// to 4 KiB: the first return is kept, the second refused.
fn keep_then_refuse<G: std::ops::DerefMut<Target = Counted>>(get: impl Fn() -> G, shrink: bool) {
    get().data.extend([1; 16]);
    let mut reused = get();
    assert!(reused.data.is_empty() && reused.data.capacity() == 16); // reset, kept
    if shrink {
        reused.data.shrink_to(0);
    } else {
        reused.data.reserve(4096);
    }
}

#[test]
fn a_keep_if_only_policy_still_resets_with_recycle_reset_and_applies_the_cap() {
    let resets = resets_during(|| {
        let shared = Pool::builder(Counted::default)
            .keep_if(|c: &Counted| c.data.capacity() >= 8)
            .max_retained_bytes(1024);
        let local = LocalPool::builder(Counted::default)
            .max_retained_bytes(1024)
            .keep_if(|c: &Counted| c.data.capacity() >= 8);
        assert!(!shared.policy().has_custom_reset() && !local.policy().has_custom_reset());
        let (shared, local) = (shared.build().unwrap(), local.build().unwrap());
        keep_then_refuse(|| shared.get(), false); // over the cap
        keep_then_refuse(|| local.get(), true); // refused by keep_if
        for stats in [shared.stats(), local.stats()] {
            assert_eq!((stats.returned, stats.discarded), (1, 1));
        }
    });
    assert_eq!(resets, 2 + 2); // every return, both pools
}

#[test]
fn recycle_with_after_keep_if_replaces_recycle_reset() {
    let resets = resets_during(|| {
        let pool = LocalPool::builder(Counted::default)
            .keep_if(|c: &Counted| c.data.len() <= 1)
            .recycle_with(|c: &mut Counted| {
                c.data.truncate(1);
                true
            })
            .build()
            .unwrap();
        pool.get().data.extend([1, 2, 3]);
        drop(pool.get());
        assert_eq!(pool.get().data, [1]); // truncated, not cleared
    });
    assert_eq!(resets, 0);
}
