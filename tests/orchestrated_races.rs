//! Orchestrated races: each test repeats one race many times, its sides lined up with flags and
//! barriers so that the dangerous window is hit often, with small spin delays that vary from
//! round to round (which side goes first, and by how much). Every round ends with exact checks:
//! how many objects were made, that every one of them was dropped exactly once, that a bounded
//! pool never had more than `max_live` objects alive and still hands out all of them at once.
//!
//! - `last_handle_drop_races_owned_guard_drop_on_another_thread`: an owned guard dropped on one
//!   thread while the pool's last handle goes on another (and a clone of it on a third). The
//!   guard's drop must not touch the pool once the handle may have freed it. ThreadSanitizer,
//!   AddressSanitizer and miri report it when it does; a plain run reads the freed memory and
//!   carries on, its counts right: it passes.
//! - `steal_with_full_caches`: a bounded pool at its cap whose idle objects all sit in the caches
//!   of live threads; the waiter steals them.
//! - `thread_exit_during_a_steal`: the same, while those threads exit (their caches move to the
//!   depot) as the waiter steals.
//!
//! What catches a steal that overfills the waiter's cache (more than `thread_cache` objects in
//! one magazine): in a debug build the crate's own assertion that a trade keeps the cache's limit;
//! in a release build the check that a thread that gave every object back kept at most
//! `thread_cache` of them (`assert_all_obtainable_and_caches_bounded`). Objects or places lost
//! fail its `get_timeout`s (after `LONG`, instead of hanging) or the exact counts.
//!
//! `HOTPOOL_RACE_SECS` sets each test's time (default 1.5 s; at least a few rounds run); under
//! miri each test runs a fixed handful of rounds (vary `-Zmiri-many-seeds` instead). Uses the
//! public API only.

mod support;

use std::hint;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hotpool::{OwnedPooled, Pool, Pooled};
use support::pool::bounded_cached;
use support::{Census, Counted};

/// A `get_timeout` that must succeed: long enough never to time out first, even under a
/// sanitizer on a busy machine, so that a lost object or place fails the test instead of hanging.
const LONG: Duration = Duration::from_secs(20);
/// A `get_timeout` that must fail (the pool is at its cap and every object is held).
const SHORT: Duration = Duration::from_millis(2);
/// How often a thread hands its tally of dropped owned guards to the pool (`COLLECT_EVERY` in
/// src/pool/owned.rs): a thread's 1,024th drop does it inside the drop.
const COLLECT_EVERY: usize = 1024;

// ---- Helpers ----------------------------------------------------------------------------------

/// The time each test runs its rounds for (`HOTPOOL_RACE_SECS`, default 1.5 s).
fn budget() -> Duration {
    let secs = std::env::var("HOTPOOL_RACE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(1.5);
    Duration::from_secs_f64(secs)
}

/// Runs `round(0)`, `round(1)`, ... until the budget is spent, and at least `min` rounds; under
/// miri exactly `miri` rounds. Returns how many ran.
fn rounds(min: usize, miri: usize, mut round: impl FnMut(usize)) -> usize {
    if cfg!(miri) {
        (0..miri).for_each(round);
        return miri;
    }
    let deadline = Instant::now() + budget();
    let mut n = 0;
    while n < min || Instant::now() < deadline {
        round(n);
        n += 1;
    }
    n
}

/// A pseudo-random number for round `round` and purpose `salt` (splitmix64): rounds vary, and
/// a failing round replays.
fn mix(round: usize, salt: u64) -> u64 {
    let mut z = (round as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A spin delay for round `round`, side `salt`: log-uniform from 0 to 4,095 spins (up to tens of
/// microseconds), so that the other side is caught at every step of its operation. Under miri,
/// where every spin is interpreted and the seeds vary the schedule, 0 to 3.
fn delay(round: usize, salt: u64) -> u32 {
    let r = mix(round, salt);
    if cfg!(miri) {
        return (r % 4) as u32;
    }
    let bits = (r % 13) as u32;
    ((r >> 8) as u32) & ((1u32 << bits) - 1)
}

fn spin(n: u32) {
    for _ in 0..n {
        hint::spin_loop();
    }
}

/// Spins (yielding now and then: 2 cores are shared by every thread of the test) until `done`.
fn spin_until(mut done: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while !done() {
        if spins < 64 && !cfg!(miri) {
            hint::spin_loop();
            spins += 1;
        } else {
            thread::yield_now();
        }
    }
}

/// Starts a thread with a name (sanitizer reports show it).
fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("a thread starts")
}

/// Names the round being run in the output of a test that fails in it (set at the round's
/// start; printed only if the round panics), so that a failure says which variant it was.
struct Round(String);

impl Drop for Round {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("failed in {}", self.0);
        }
    }
}

/// Worker threads that stay alive (parked) until released, or until the test unwinds (their
/// stop channels close).
struct Workers {
    stops: Vec<mpsc::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Workers {
    /// Starts `n` threads running `work(k)`; each one whose `work` returns `true` then parks until
    /// released, the others exit at once.
    fn spawn(n: usize, work: impl Fn(usize) -> bool + Send + Sync + 'static) -> Self {
        let work = Arc::new(work);
        let (stops, threads) = (0..n)
            .map(|k| {
                let (stop, parked) = mpsc::channel::<()>();
                let work = Arc::clone(&work);
                let thread = spawn_named("worker", move || {
                    if work(k) {
                        let _ = parked.recv();
                    }
                });
                (stop, thread)
            })
            .unzip();
        Self { stops, threads }
    }

    /// Lets the parked workers exit, and joins every worker.
    fn release(self) {
        drop(self.stops);
        for thread in self.threads {
            thread.join().expect("a worker panicked");
        }
    }
}

// ---- Bug class A: an owned guard's drop against the last handle's -----------------------------

/// Which side of a guard-drop/handle-drop race goes first.
#[derive(Clone, Copy, Debug)]
enum Lead {
    /// The handles drop once the guard's drop has started (its object's reset ran).
    Guard,
    /// The guard drops once the first handle's drop is about to start.
    Handle,
    /// Both sides leave one barrier together.
    Together,
}

/// How the sides of one round start (shared by its threads).
struct Start {
    lead: Lead,
    /// Resets seen once the racing guard's drop has started.
    guard_started: usize,
    handle_going: AtomicBool,
    together: Barrier,
    /// Passed by every side once its handle or guard is dropped: the guard's thread stays alive
    /// until then, so that its exit (whose cache flush takes the pool's lock) cannot order its
    /// drop before the last handle's, which would hide the race from miri and TSan.
    dropped: Barrier,
    census: Arc<Census>,
}

impl Start {
    fn before_handle_drop(&self, delay: u32) {
        match self.lead {
            Lead::Guard => spin_until(|| self.census.resets() >= self.guard_started),
            Lead::Handle => self.handle_going.store(true, SeqCst),
            Lead::Together => {
                self.together.wait();
            }
        }
        spin(delay);
    }

    fn before_guard_drop(&self, delay: u32) {
        match self.lead {
            Lead::Guard => {}
            Lead::Handle => spin_until(|| self.handle_going.load(SeqCst)),
            Lead::Together => {
                self.together.wait();
            }
        }
        spin(delay);
    }
}

/// One round: this thread makes a pool and `earlier + 1` owned guards and moves them to thread
/// B, which drops `earlier` of them, then drops the last one while this thread drops the pool's
/// last handle; with `clone_on_third`, a clone of the pool is dropped on thread C at the same
/// time (either handle may be the last). Afterwards every object was dropped exactly once.
fn guard_drop_against_last_handle(round: usize, earlier: usize, clone_on_third: bool, lead: Lead) {
    let _round = Round(format!(
        "round {round}: {earlier} earlier drops, clone on a third thread: {clone_on_third}, \
         {lead:?} first"
    ));
    let census = Census::new();
    let pool = Pool::builder(census.factory())
        .build()
        .expect("valid configuration");
    let mut guards: Vec<OwnedPooled<Counted>> = (0..=earlier).map(|_| pool.get_owned()).collect();
    let start = Arc::new(Start {
        lead,
        guard_started: earlier + 1,
        handle_going: AtomicBool::new(false),
        together: Barrier::new(2 + usize::from(clone_on_third)),
        dropped: Barrier::new(2 + usize::from(clone_on_third)),
        census: Arc::clone(&census),
    });

    let b = {
        let start = Arc::clone(&start);
        let delay = delay(round, 1);
        spawn_named("guard-drop", move || {
            let last = guards.pop().expect("one guard at least");
            drop(guards); // tallied on this thread (and handed on if it fills its cache)
            start.before_guard_drop(delay);
            drop(last);
            start.dropped.wait();
        })
    };
    let c = clone_on_third.then(|| {
        let start = Arc::clone(&start);
        let clone = pool.clone();
        let delay = delay(round, 2);
        spawn_named("clone-drop", move || {
            start.before_handle_drop(delay);
            drop(clone);
            start.dropped.wait();
        })
    });
    start.before_handle_drop(delay(round, 3));
    drop(pool);
    start.dropped.wait();

    b.join().expect("thread B panicked");
    if let Some(c) = c {
        c.join().expect("thread C panicked");
    }
    // Every handle and guard is gone, so the pool is too, and with it every object.
    census.assert_all_dropped_once(earlier + 1, earlier + 1);
}

#[test]
fn last_handle_drop_races_owned_guard_drop_on_another_thread() {
    const LEADS: [Lead; 3] = [Lead::Guard, Lead::Handle, Lead::Together];
    // Under miri the variant with 1,024 drops is left out: interpreting them takes most of a
    // minute per round.
    let variants: &[usize] = if cfg!(miri) {
        &[0, 1, 3]
    } else {
        &[0, 1, 2, 3]
    };
    let n = rounds(24, 6, |round| {
        // Rounds cycle through the variants and the leads so that each variant meets each lead.
        let lead = LEADS[(round + round / variants.len()) % 3];
        let (earlier, clone_on_third) = match variants[round % variants.len()] {
            // The audit's case: one guard, dropped on a thread that dropped none before.
            0 => (0, false),
            // B's tally holds earlier drops, not yet handed on.
            1 => (1 + (mix(round, 4) % 8) as usize, false),
            // B's racing drop is its 1,024th: it hands its tally on inside the drop (under the
            // pool's lock), after a cache's worth of earlier ones went to the depot.
            2 => (COLLECT_EVERY - 1, false),
            // Two handles race to be the last, on two threads, against the guard on a third.
            _ => ((mix(round, 5) % 3) as usize, true),
        };
        guard_drop_against_last_handle(round, earlier, clone_on_third, lead);
    });
    eprintln!("last_handle_drop_races_owned_guard_drop_on_another_thread: {n} rounds");
}

// ---- Bug class B: a bounded pool's waiter steals from thread caches ---------------------------

/// Takes `n` objects at once (each must come, in at most `LONG`).
fn take(pool: &Pool<Counted>, n: usize) -> Vec<Pooled<'_, Counted>> {
    (0..n)
        .map(|k| {
            pool.get_timeout(LONG).unwrap_or_else(|_| {
                panic!(
                    "object {} of {n} not obtainable: objects or places were lost",
                    k + 1
                )
            })
        })
        .collect()
}

/// Takes `n` objects and gives them back: this thread's cache holds them (up to its size).
fn fill_cache(pool: &Pool<Counted>, n: usize) {
    drop(take(pool, n));
}

/// The checks that end a round of a bounded pool, after a waiter at the cap took `first`:
///
/// 1. It gives `first` back and takes objects until this thread holds all `max_live` of them
///    (with `held`): the audit's "drop it, get twice", and on. Each must come (a lost object or
///    place makes a `get_timeout` fail), one more must not, and no object may have been made
///    beyond `max_live` (a lost object whose place was freed would be replaced).
/// 2. It gives them all back: this thread's cache keeps at most `thread_cache` of them (the
///    documented bound on idle objects), so another thread finds the rest in the depot with
///    `try_get`. A cache overfilled by a trade (bug B in a release build, where no debug
///    assertion stops it) keeps more.
fn assert_all_obtainable_and_caches_bounded(
    pool: &Pool<Counted>,
    census: &Census,
    max_live: usize,
    thread_cache: usize,
    first: Pooled<'_, Counted>,
    held: Vec<Pooled<'_, Counted>>,
) {
    drop(first);
    let all = take(pool, max_live - held.len());
    assert!(
        pool.get_timeout(SHORT).is_err(),
        "an object beyond max_live = {max_live}"
    );
    assert_eq!(census.made(), max_live, "objects made (none may be lost)");
    assert_eq!(census.alive(), max_live, "objects alive while all are held");
    drop((all, held));
    let in_depot = thread::scope(|s| {
        s.spawn(|| {
            std::iter::from_fn(|| pool.try_get())
                .collect::<Vec<_>>()
                .len()
        })
        .join()
        .expect("the try_get thread panicked")
    });
    assert!(
        in_depot >= max_live - thread_cache,
        "this thread's cache kept {} of the {max_live} objects it gave back, over its \
         thread_cache({thread_cache})",
        max_live - in_depot
    );
}

/// One round of `steal_with_full_caches`: `threads` workers, each with a cache's worth of
/// objects, and `extra` objects held by this thread, so that the pool is at its cap. Then this
/// thread's `get` queues and steals, while the workers (which stay alive):
///
/// - 0: idle, their caches full: the audit's case (2 threads, `thread_cache(4)`, `max_live(8)`);
/// - 1: the same with 2 to 4 threads, `thread_cache(1..=5)`, 0 to 2 extra objects;
/// - 2: give their objects back (to their caches, or to the waiter);
/// - 3: keep taking and returning one object (the hit path, against the thief) after filling
///   their caches.
fn steal_round(round: usize, variant: u64) {
    let r = mix(round, 10);
    let (threads, cache) = if variant == 0 {
        (2, 4) // the audit's case
    } else {
        (2 + (r % 3) as usize, 1 + ((r >> 4) % 5) as usize)
    };
    let extra = if variant == 0 {
        0
    } else {
        ((r >> 8) % 3) as usize
    };
    let max_live = threads * cache + extra;
    let _round = Round(format!(
        "round {round}: variant {variant}, {threads} threads, thread_cache({cache}), \
         max_live({max_live})"
    ));
    let census = Census::new();
    let pool = bounded_cached(&census, cache, max_live);
    // Objects this thread holds while the workers fill their caches: the pool is then at its cap.
    let held = take(&pool, extra);
    let filled = Arc::new(Barrier::new(threads + 1));
    let go = Arc::new(Barrier::new(threads + 1));
    let churned = Arc::new(Barrier::new(threads + 1));
    let worker_delay: Vec<u32> = (0..threads).map(|k| delay(round, 20 + k as u64)).collect();
    let workers = {
        let (pool, filled, go, churned) =
            (pool.clone(), filled.clone(), go.clone(), churned.clone());
        Workers::spawn(threads, move |k| {
            match variant {
                0 | 1 => {
                    fill_cache(&pool, cache);
                    filled.wait();
                }
                2 => {
                    let mine = take(&pool, cache);
                    filled.wait();
                    go.wait();
                    spin(worker_delay[k]);
                    drop(mine);
                }
                _ => {
                    fill_cache(&pool, cache);
                    filled.wait();
                    go.wait();
                    spin(worker_delay[k]);
                    for _ in 0..8 {
                        drop(take(&pool, 1));
                    }
                    churned.wait();
                }
            }
            true
        })
    };
    filled.wait();
    // At the cap: nothing idle but in the workers' caches (or in their hands).
    if variant >= 2 {
        go.wait();
        spin(delay(round, 11));
    }
    let first = pool
        .get_timeout(LONG)
        .expect("a waiter at the cap must get an object");
    if variant <= 1 {
        assert_eq!(pool.stats().waits, 1, "the get waited at the cap");
    }
    let first = if variant == 3 {
        // The workers each take one more object at a time: let them finish first.
        drop(first);
        churned.wait();
        pool.get_timeout(LONG).expect("an object")
    } else {
        first
    };
    assert_all_obtainable_and_caches_bounded(&pool, &census, max_live, cache, first, held);
    workers.release();
    assert_eq!(pool.stats().created, max_live as u64, "stats().created");
    drop(pool);
    census.assert_all_dropped_once(max_live, max_live);
}

#[test]
fn steal_with_full_caches() {
    let n = rounds(16, 4, |round| steal_round(round, (round % 4) as u64));
    eprintln!("steal_with_full_caches: {n} rounds");
}

/// One round of `thread_exit_during_a_steal`: `threads` workers fill their caches, at the cap;
/// `exiting` of them then exit while this thread queues at the cap and steals (the others stay
/// alive, idle).
fn exit_round(round: usize) {
    let r = mix(round, 30);
    let threads = 1 + (r % 4) as usize;
    let exiting = 1 + ((r >> 4) as usize % threads);
    let cache = 1 + ((r >> 8) % 5) as usize;
    let extra = ((r >> 12) % 2) as usize;
    let max_live = threads * cache + extra;
    let _round = Round(format!(
        "round {round}: {threads} threads ({exiting} exit), thread_cache({cache}), \
         max_live({max_live})"
    ));
    let census = Census::new();
    let pool = bounded_cached(&census, cache, max_live);
    let held = take(&pool, extra);
    let go = Arc::new(Barrier::new(threads + 1));
    let worker_delay: Vec<u32> = (0..threads).map(|k| delay(round, 40 + k as u64)).collect();
    let workers = {
        let (pool, go) = (pool.clone(), go.clone());
        Workers::spawn(threads, move |k| {
            fill_cache(&pool, cache);
            go.wait();
            spin(worker_delay[k]);
            // Returning ends the thread: its cache moves to the depot in its exit flush.
            k >= exiting
        })
    };
    go.wait();
    spin(delay(round, 31));
    let first = pool
        .get_timeout(LONG)
        .expect("a waiter at the cap must get an object");
    assert_all_obtainable_and_caches_bounded(&pool, &census, max_live, cache, first, held);
    workers.release();
    assert_eq!(pool.stats().created, max_live as u64, "stats().created");
    drop(pool);
    census.assert_all_dropped_once(max_live, max_live);
}

#[test]
fn thread_exit_during_a_steal() {
    let n = rounds(16, 4, exit_round);
    eprintln!("thread_exit_during_a_steal: {n} rounds");
}
