//! A soak test, ignored by default: every operation of `Pool`, `LocalPool` and the arenas, mixed
//! at random on worker threads that keep exiting and being replaced, with panics thrown on
//! purpose from factories, recycle policies, `T::drop` and arena destructors (each caught on its
//! thread). At the end every count must be exact: each object made was dropped exactly once,
//! the pools' stats balance against what the workers counted, and after the workers exit and a
//! trim, no idle memory is left above the bounds.
//!
//! `HOTPOOL_SOAK_SECS` sets the duration (default 10), `HOTPOOL_SOAK_SEED` the random seed
//! (printed, to replay a failure). Uses the public API only.
//!
//! ```sh
//! HOTPOOL_SOAK_SECS=30 cargo test --test soak -- --ignored --nocapture
//! ```

mod support;

use std::cell::Cell;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotpool::arena::{self, ArenaConfig};
use hotpool::{LocalOwnedPooled, LocalPool, OwnedPooled, Pool, Pooled};
use support::{Tracked, Tracker, DROP_PANIC, RESET_PANIC};

const WORKERS: usize = 4;
const MAX_IDLE: usize = 64;
const THREAD_CACHE: usize = 8;
const MAX_RETAINED: usize = 256;
const PREFILL: usize = 16;
const FACTORY_PANIC: &str = "soak: factory panicked on purpose";
const ARENA_DROP_PANIC: &str = "soak: arena value's drop panicked on purpose";
const EXPECTED_PANICS: [&str; 4] = [FACTORY_PANIC, DROP_PANIC, RESET_PANIC, ARENA_DROP_PANIC];

/// The recycle policy of the pools: `policy` below, given with `recycle_with`.
type Policy = hotpool::Policy<Tracked>;
type LocalPolicy = hotpool::LocalPolicy<Tracked>;

/// Panics if the object says so, else resets it and keeps it if it retains at most
/// `MAX_RETAINED` bytes.
fn policy(obj: &mut Tracked) -> bool {
    if obj.panic_in_reset {
        panic!("{RESET_PANIC}");
    }
    obj.data.clear();
    obj.data.capacity() <= MAX_RETAINED
}

type Shared = Pool<Tracked, Policy>;
type Mailbox = Mutex<Vec<OwnedPooled<Tracked, Policy>>>;

thread_local! {
    /// Set just before a `get` whose factory call must panic.
    static PANIC_IN_FACTORY: Cell<bool> = const { Cell::new(false) };
}

/// What the workers did to the shared pool, to balance against its stats.
#[derive(Default)]
struct Counts {
    made: AtomicU64,
    made_for_put: AtomicU64,
    lent: AtomicU64,
    puts_kept: AtomicU64,
    detached: AtomicU64,
    panics: AtomicU64,
    threads: AtomicU64,
}

/// Arena values made and dropped, over all threads.
static ARENA_MADE: AtomicUsize = AtomicUsize::new(0);
static ARENA_DROPPED: AtomicUsize = AtomicUsize::new(0);

struct ArenaValue(bool);

impl ArenaValue {
    fn new(panics: bool) -> Self {
        ARENA_MADE.fetch_add(1, SeqCst);
        Self(panics)
    }
}

impl Drop for ArenaValue {
    fn drop(&mut self) {
        ARENA_DROPPED.fetch_add(1, SeqCst);
        if self.0 {
            panic!("{ARENA_DROP_PANIC}");
        }
    }
}

/// xorshift64*: fast, seedable, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Runs `op`; a panic with one of the expected messages is counted, any other fails the test.
fn caught(counts: &Counts, op: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(op)) {
        let message = (payload.downcast_ref::<String>().map(String::as_str))
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if !EXPECTED_PANICS.iter().any(|m| message.contains(m)) {
            panic::resume_unwind(payload);
        }
        counts.panics.fetch_add(1, SeqCst);
    }
}

/// Runs `op`, which gets an object, as [`caught`] does; with `factory_panics`, the factory
/// panics if `op` calls it. The flag is cleared afterwards: a get served warm leaves it unused.
fn getting(counts: &Counts, factory_panics: bool, op: impl FnOnce()) {
    PANIC_IN_FACTORY.with(|f| f.set(factory_panics));
    caught(counts, op);
    PANIC_IN_FACTORY.with(|f| f.set(false));
}

/// Marks `obj` so that it panics on its way out: in the policy when it comes back, in `T::drop`
/// right away when the policy refuses it (it grew past the retained cap), or in `T::drop`
/// whenever the pool finally drops it (kept idle until a trim, a thread's exit flush that
/// overflows the depot, or the pool's teardown; in between it keeps being lent out). The last
/// kind only with `idle_bombs` (the shared pool: the local pool's steps drop it uncaught).
fn arm(rng: &mut Rng, obj: &mut Tracked, idle_bombs: bool) {
    match rng.below(if idle_bombs { 3 } else { 2 }) {
        0 => obj.panic_in_reset = true,
        1 => {
            obj.data.reserve(MAX_RETAINED + 1);
            obj.panic_on_drop = true;
        }
        _ => obj.panic_on_drop = true,
    }
}

fn shared_pool_step<'p>(
    rng: &mut Rng,
    pool: &'p Shared,
    tracker: &Arc<Tracker>,
    held: &mut Vec<Pooled<'p, Tracked, Policy>>,
    mailbox: &Mailbox,
    detached: &mut Vec<Tracked>,
    counts: &Counts,
) {
    // Weights out of 32: gets and returns dominate, as in real use; trims are rare.
    match rng.below(32) {
        0..=7 => getting(counts, rng.one_in(20), || {
            let g = if rng.one_in(2) {
                Some(pool.get())
            } else {
                pool.try_get()
            };
            if let Some(g) = g {
                // Reset; it may be armed to panic when the pool drops it (see `arm`).
                assert!(g.data.is_empty() && !g.panic_in_reset);
                counts.lent.fetch_add(1, SeqCst);
                held.push(g);
            }
        }),
        8..=10 => getting(counts, rng.one_in(20), || {
            let g = if rng.one_in(3) {
                pool.try_get_owned()
            } else {
                Some(pool.get_owned())
            };
            if let Some(g) = g {
                counts.lent.fetch_add(1, SeqCst);
                mailbox.lock().unwrap().push(g); // maybe dropped by another thread
            }
        }),
        11..=18 if !held.is_empty() => {
            let mut g = held.swap_remove(rng.below(held.len()));
            g.data.extend_from_slice(b"payload");
            if rng.one_in(8) {
                arm(rng, &mut g, true);
            } else if rng.one_in(8) {
                g.data.reserve(MAX_RETAINED + 1); // refused quietly
            }
            caught(counts, || drop(g));
        }
        19..=21 => {
            let g = mailbox.lock().unwrap().pop();
            if let Some(mut g) = g {
                if rng.one_in(8) {
                    arm(rng, &mut g, true);
                }
                caught(counts, || drop(g));
            }
        }
        22 if !held.is_empty() => {
            let g = held.swap_remove(rng.below(held.len()));
            counts.detached.fetch_add(1, SeqCst);
            detached.push(Pooled::detach(g));
        }
        23 => {
            let g = mailbox.lock().unwrap().pop();
            if let Some(g) = g {
                counts.detached.fetch_add(1, SeqCst);
                detached.push(OwnedPooled::detach(g));
            }
        }
        24..=25 => {
            let obj = detached.pop().unwrap_or_else(|| {
                counts.made_for_put.fetch_add(1, SeqCst);
                tracker.make()
            });
            caught(counts, || {
                if let Ok(()) = pool.put(obj) {
                    counts.puts_kept.fetch_add(1, SeqCst);
                } // else handed back reset, dropped here (maybe an armed one: it panics)
            });
        }
        // Trims drop idle objects, some armed to panic: the first panic reaches the caller.
        26 => caught(counts, || {
            let _ = pool.trim();
        }),
        27..=28 => caught(counts, || {
            let _ = pool.trim_unused();
        }),
        29 => {
            let s = pool.stats();
            assert!(s.in_use as u64 <= s.created + s.reused);
        }
        _ => caught(counts, || drop(detached.pop())),
    }
}

/// A `LocalPool` of this thread only: its counts are exact at every step.
fn local_pool_steps(rng: &mut Rng, counts: &Counts, steps: usize) {
    let tracker = Tracker::new();
    let made = Rc::new(Cell::new(0u64));
    let factory = {
        let (tracker, made) = (Arc::clone(&tracker), Rc::clone(&made));
        move || {
            if PANIC_IN_FACTORY.with(|f| f.replace(false)) {
                panic!("{FACTORY_PANIC}");
            }
            made.set(made.get() + 1);
            tracker.make()
        }
    };
    let max_idle = 1 + rng.below(8);
    let prefill = rng.below(max_idle + 1);
    let pool = Rc::new(
        LocalPool::builder(factory)
            .max_idle(max_idle)
            .prefill(prefill)
            .recycle_with(policy)
            .build()
            .unwrap(),
    );
    let mut borrowed = Vec::new();
    let mut owned: Vec<LocalOwnedPooled<Tracked, LocalPolicy>> = Vec::new();
    let mut detached = Vec::new();
    let mut lent = 0u64;
    for _ in 0..steps {
        match rng.below(9) {
            0 => getting(counts, rng.one_in(20), || {
                borrowed.push(pool.get());
                lent += 1;
            }),
            1 => {
                if let Some(g) = pool.try_get() {
                    borrowed.push(g);
                    lent += 1;
                }
            }
            2 => getting(counts, rng.one_in(20), || {
                let g = if rng.one_in(3) {
                    pool.try_get_owned()
                } else {
                    Some(pool.get_owned())
                };
                if let Some(g) = g {
                    owned.push(g);
                    lent += 1;
                }
            }),
            3 if !borrowed.is_empty() => {
                let mut g = borrowed.swap_remove(rng.below(borrowed.len()));
                if rng.one_in(6) {
                    arm(rng, &mut g, false);
                }
                caught(counts, || drop(g));
            }
            4 if !owned.is_empty() => {
                let mut g = owned.swap_remove(rng.below(owned.len()));
                if rng.one_in(6) {
                    arm(rng, &mut g, false);
                }
                caught(counts, || drop(g));
            }
            5 if !borrowed.is_empty() => {
                let g = borrowed.swap_remove(rng.below(borrowed.len()));
                detached.push(hotpool::LocalPooled::detach(g));
            }
            5 if !owned.is_empty() => {
                let g = owned.swap_remove(rng.below(owned.len()));
                detached.push(LocalOwnedPooled::detach(g));
            }
            6 => {
                let obj = detached.pop().unwrap_or_else(|| tracker.make());
                drop(pool.put(obj));
            }
            7 => drop(pool.trim()),
            _ => {
                let s = pool.stats();
                assert_eq!(s.in_use, borrowed.len() + owned.len());
                assert_eq!(s.created, made.get());
                assert_eq!(s.created + s.reused, lent + prefill as u64);
                assert!(s.idle <= pool.max_idle());
                let held = borrowed.len() + owned.len() + detached.len();
                assert_eq!(tracker.live(), s.idle + held, "leak or early drop");
            }
        }
    }
    drop((borrowed, owned, detached));
    assert_eq!(pool.stats().in_use, 0);
    drop(pool);
    tracker.assert_all_dropped_once();
}

fn arena_step(rng: &mut Rng, counts: &Counts) {
    match rng.below(6) {
        0 => {
            let config = ArenaConfig {
                max_retained_bytes: 1 << (10 + rng.below(10)),
                allocation_limit: [None, Some(1 << 16)][rng.below(2)],
                max_idle_arenas: rng.below(4),
            };
            arena::configure(config).expect("a valid config");
        }
        1 => {
            let s = arena::stats();
            let config = arena::config();
            assert!(s.idle_arenas <= config.max_idle_arenas);
            assert!(s.retained_bytes <= config.max_idle_arenas * config.max_retained_bytes);
        }
        _ => caught(counts, || {
            arena::scope(|s| {
                // At most one panicking value per slice: a second panic while a slice is
                // being dropped aborts, in an arena as in a `Vec` (Rust's rule, not hotpool's).
                let n = rng.below(16);
                let panicking = if rng.one_in(4) {
                    rng.below(16)
                } else {
                    usize::MAX
                };
                s.alloc_slice_fill_iter((0..n).map(|i| ArenaValue::new(i == panicking)));
                s.alloc_with(|| ArenaValue::new(false));
                let words = s.alloc_str("soak");
                let mut v = s.vec();
                v.extend_from_slice(&[1u64, 2, 3]);
                assert_eq!((&*words, v.iter().sum::<u64>()), ("soak", 6));
                // Over a 64 KiB limit this is refused, not a panic.
                let big = s.try_alloc_slice_copy(&[0u8; 80 * 1024]);
                assert_eq!(big.is_err(), arena::config().allocation_limit.is_some());
                if rng.one_in(3) {
                    arena::scope(|inner| {
                        inner.alloc(ArenaValue::new(rng.one_in(16)));
                    });
                }
            });
        }),
    }
}

fn worker(seed: u64, pool: &Shared, tracker: &Arc<Tracker>, mailbox: &Mailbox, counts: &Counts) {
    let mut rng = Rng(seed | 1);
    let mut held = Vec::new();
    let mut detached = Vec::new();
    for _ in 0..50 + rng.below(500) {
        match rng.below(10) {
            0..=5 => shared_pool_step(
                &mut rng,
                pool,
                tracker,
                &mut held,
                mailbox,
                &mut detached,
                counts,
            ),
            6 => {
                let steps = 20 + rng.below(100);
                local_pool_steps(&mut rng, counts, steps)
            }
            _ => arena_step(&mut rng, counts),
        }
    }
    // Back to this thread's cache, flushed to the depot when the thread exits; armed objects
    // that the policy refuses or the flush has no room for panic (caught here, or in the exit
    // flush, which reports and stops them).
    // One at a time: a second panic while a `Vec` unwinds from the first would abort (Rust's
    // rule for drop glue, not hotpool's).
    for g in held {
        caught(counts, || drop(g));
    }
    for obj in detached {
        caught(counts, || drop(obj));
    }
}

#[test]
#[ignore = "a soak test: run with --ignored, duration from HOTPOOL_SOAK_SECS"]
fn soak_every_operation_with_thread_churn_and_panics() {
    let secs: u64 = std::env::var("HOTPOOL_SOAK_SECS")
        .map_or(10, |s| s.parse().expect("HOTPOOL_SOAK_SECS: seconds"));
    let seed: u64 = std::env::var("HOTPOOL_SOAK_SEED").map_or_else(
        |_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        },
        |s| s.parse().expect("HOTPOOL_SOAK_SEED: a u64"),
    );
    println!("soak: {secs} s, HOTPOOL_SOAK_SEED={seed}");
    // The panics thrown on purpose would flood stderr; any other panic is still reported.
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let message = info.to_string();
        if !EXPECTED_PANICS.iter().any(|m| message.contains(m)) {
            default_hook(info);
        }
    }));

    let tracker = Tracker::new();
    let counts = Arc::new(Counts::default());
    let factory = {
        let (tracker, counts) = (Arc::clone(&tracker), Arc::clone(&counts));
        move || {
            if PANIC_IN_FACTORY.with(|f| f.replace(false)) {
                panic!("{FACTORY_PANIC}");
            }
            counts.made.fetch_add(1, SeqCst);
            tracker.make()
        }
    };
    let pool: Arc<Shared> = Arc::new(
        Pool::builder(factory)
            .max_idle(MAX_IDLE)
            .thread_cache(THREAD_CACHE)
            .prefill(PREFILL)
            .recycle_with(policy)
            .build()
            .unwrap(),
    );
    let mailbox: Arc<Mailbox> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let spawn = |n: u64| {
        let (pool, tracker, mailbox, counts) = (
            Arc::clone(&pool),
            Arc::clone(&tracker),
            Arc::clone(&mailbox),
            Arc::clone(&counts),
        );
        counts.threads.fetch_add(1, SeqCst);
        std::thread::spawn(move || {
            worker(
                seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                &pool,
                &tracker,
                &mailbox,
                &counts,
            )
        })
    };
    let mut spawned = 0;
    let mut workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            spawned += 1;
            spawn(spawned)
        })
        .collect();
    while Instant::now() < deadline {
        for w in &mut workers {
            if w.is_finished() {
                spawned += 1;
                std::mem::replace(w, spawn(spawned))
                    .join()
                    .expect("a worker failed");
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    for w in workers {
        w.join().expect("a worker failed");
    }
    let mailbox: Vec<_> = mailbox.lock().unwrap().drain(..).collect();
    for g in mailbox {
        caught(&counts, || drop(g)); // returned on this thread
    }

    let s = pool.stats();
    let c = &*counts;
    println!(
        "soak: {} threads, {} objects made, {} gets, {} panics caught; {s:?}",
        c.threads.load(SeqCst),
        c.made.load(SeqCst),
        c.lent.load(SeqCst),
        c.panics.load(SeqCst)
    );
    assert!(
        c.threads.load(SeqCst) > WORKERS as u64,
        "threads were replaced"
    );
    assert_eq!(s.in_use, 0);
    assert_eq!(s.created, c.made.load(SeqCst));
    assert_eq!(s.created + s.reused, c.lent.load(SeqCst) + PREFILL as u64);
    assert_eq!(s.detached, c.detached.load(SeqCst));
    // Every object that entered the pool left it (discarded, detached) or is idle.
    assert_eq!(
        s.created + c.puts_kept.load(SeqCst),
        s.discarded + s.detached + s.idle as u64
    );
    assert_eq!(
        tracker.created() as u64,
        c.made.load(SeqCst) + c.made_for_put.load(SeqCst)
    );
    assert_eq!(tracker.live(), s.idle, "only idle objects are alive");
    // The workers exited: what they cached went to the depot; this thread's cache holds the rest.
    assert!(
        s.idle <= MAX_IDLE + THREAD_CACHE,
        "idle {} over the bound",
        s.idle
    );
    // Every idle object is in the depot or this thread's cache (some armed: the trim resumes
    // the first panic after dropping them all).
    caught(&counts, || {
        let _ = pool.trim();
    });
    let _ = panic::take_hook();
    let after = pool.stats();
    assert_eq!(after.discarded, s.discarded + s.idle as u64);
    assert_eq!((after.idle, tracker.live()), (0, 0));
    drop(pool);
    tracker.assert_all_dropped_once();

    assert_eq!(
        ARENA_MADE.load(SeqCst),
        ARENA_DROPPED.load(SeqCst),
        "arena values dropped once"
    );
    let arenas = arena::global_stats();
    assert_eq!(
        (
            arenas.live_threads,
            arenas.idle_arenas,
            arenas.retained_bytes
        ),
        (0, 0, 0),
        "exited threads freed their arenas"
    );
}
