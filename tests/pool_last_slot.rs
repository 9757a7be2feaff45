//! The hit path of `Pool` finds the calling thread's cache slot through two thread-local
//! "last-slot" entries (one for unbounded pools, one for bounded ones), each holding the id of the
//! slot table used last, the slot's address and the thread's handle (src/pool/thread.rs
//! `with_last_slot` / `remember_slot`, src/pool/slots.rs `ThreadSlots::with_remembered`). These
//! tests fail if an entry ever sends a pool to a slot that is not its own, or to a slot that is no
//! longer there:
//!
//! - several pools of both kinds (and without a thread cache) interleaved on one thread, in many
//!   orders: every object a pool hands out is its own (each factory tags its objects), the one
//!   returned last comes out first, and every pool's stats are exact;
//! - pools dropped and rebuilt many times, each right after being the thread's last pool (so its
//!   entry is stale): the new pool starts empty, sometimes with a pool of the other kind living in
//!   the freed memory;
//! - threads that exit (their caches flushed to the depot) and the threads that take their ids;
//! - pools used from a thread-local destructor that runs after the thread's hotpool handle is gone,
//!   or before it, including while another thread has taken the exiting thread's id;
//! - a property test of random operations on four pools against a model.
//!
//! Each thread here uses the pools alone, so the pools' behaviour is exact: a `get` is served by
//! the object returned last if the previous operation on that pool returned one (the thread cache
//! and the depot are LIFO at the top), else by some idle object, else by the factory; nothing is
//! discarded but by `trim` (or by a `max_idle` that the test sets low on purpose).

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::{Tracked, Tracker};
use hotpool::{OwnedPooled, Pool, Pooled, Recycle};
use proptest::prelude::*;

/// An object that carries the index and generation of the pool whose factory made it.
#[derive(Debug)]
struct Tagged {
    pool: usize,
    generation: usize,
    obj: Tracked,
}

impl Recycle for Tagged {
    fn reset(&mut self) {
        self.obj.reset();
    }

    fn retained_bytes(&self) -> usize {
        self.obj.retained_bytes()
    }
}

/// The settings of a test pool.
#[derive(Clone, Copy, Debug)]
struct Config {
    thread_cache: usize,
    max_live: Option<usize>,
    max_idle: usize,
}

/// Room for every object a test makes: nothing is discarded for want of room.
const MAX_IDLE: usize = 256;

const fn unbounded(thread_cache: usize) -> Config {
    Config {
        thread_cache,
        max_live: None,
        max_idle: MAX_IDLE,
    }
}

const fn bounded(thread_cache: usize, max_live: usize) -> Config {
    Config {
        thread_cache,
        max_live: Some(max_live),
        max_idle: MAX_IDLE,
    }
}

const fn with_max_idle(config: Config, max_idle: usize) -> Config {
    Config { max_idle, ..config }
}

/// Pool `pool` of generation `generation`: its factory tags its objects so, and makes them with
/// `tracker`. Not registered with the report, so that nothing but the pool's own handles and
/// thread-exit hooks keeps its memory once it is dropped (and a new pool may get it).
fn build(config: Config, pool: usize, generation: usize, tracker: &Arc<Tracker>) -> Pool<Tagged> {
    let tracker = Arc::clone(tracker);
    let builder = Pool::builder(move || Tagged {
        pool,
        generation,
        obj: tracker.make(),
    })
    .max_idle(config.max_idle)
    .thread_cache(config.thread_cache)
    .register(false);
    match config.max_live {
        Some(n) => builder.max_live(n).build(),
        None => builder.build(),
    }
    .unwrap()
}

/// What one pool must hold and have counted, when one thread uses it and nothing is discarded
/// but by `trim`.
#[derive(Debug, Default)]
struct Model {
    created: u64,
    reused: u64,
    returned: u64,
    discarded: u64,
    in_use: usize,
    /// Ids of the idle objects.
    idle: BTreeSet<usize>,
    /// The object the last operation on this pool returned, if it returned one: the next `get`
    /// hands it out.
    top: Option<usize>,
}

impl Model {
    /// Checks and counts an object that `get` handed out: the pool's own (`tag`), reset, and the
    /// right one. `tracker` made the pool's objects (the factory's newest is its last).
    #[track_caller]
    fn lend(&mut self, got: &Tagged, tag: (usize, usize), tracker: &Tracker) {
        let id = got.obj.id;
        assert_eq!(
            (got.pool, got.generation),
            tag,
            "object {id} of (pool, generation) {:?} handed out by pool {tag:?}",
            (got.pool, got.generation)
        );
        assert!(got.obj.data.is_empty(), "object {id} handed out dirty");
        let top = self.top.take();
        if self.idle.is_empty() {
            assert_eq!(
                id,
                tracker.created() - 1,
                "nothing is idle: the factory's new object"
            );
            self.created += 1;
        } else {
            assert!(
                self.idle.remove(&id),
                "object {id} handed out, but the idle ones are {:?}",
                self.idle
            );
            if let Some(top) = top {
                assert_eq!(id, top, "the object returned last comes out first");
            }
            self.reused += 1;
        }
        self.in_use += 1;
    }

    /// A guard's object came back.
    fn give_back(&mut self, id: usize) {
        self.in_use -= 1;
        self.keep(id);
    }

    /// An object came back (a guard's, or `put`) and is kept idle.
    fn keep(&mut self, id: usize) {
        assert!(self.idle.insert(id), "object {id} came back twice");
        self.returned += 1;
        self.top = Some(id);
    }

    /// `trim` drops every idle object: their ids.
    fn trim(&mut self) -> BTreeSet<usize> {
        self.discarded += self.idle.len() as u64;
        self.top = None;
        std::mem::take(&mut self.idle)
    }

    /// Objects alive: the places taken in a bounded pool.
    fn live(&self) -> usize {
        self.in_use + self.idle.len()
    }

    /// Whether a `get` would wait: a bounded pool at its cap with nothing idle.
    fn would_wait(&self, config: Config) -> bool {
        config
            .max_live
            .is_some_and(|cap| self.idle.is_empty() && self.live() >= cap)
    }

    /// Every counter of `pool`'s stats but `peak_in_use` (an estimate) must match.
    #[track_caller]
    fn check(&self, pool: &Pool<Tagged>, what: &dyn std::fmt::Display) {
        let expected = (
            self.created,
            self.reused,
            self.returned,
            self.discarded,
            self.idle.len(),
            self.in_use,
        );
        assert_counts(pool, expected, &what.to_string());
    }
}

/// Checks stats in one line: (created, reused, returned, discarded, idle, in_use), the rest 0
/// (`peak_in_use` aside).
#[track_caller]
fn assert_counts(pool: &Pool<Tagged>, expected: (u64, u64, u64, u64, usize, usize), what: &str) {
    let s = pool.stats();
    assert_eq!(
        (
            s.created,
            s.reused,
            s.returned,
            s.discarded,
            s.idle,
            s.in_use
        ),
        expected,
        "{what}: (created, reused, returned, discarded, idle, in_use) of {s:?}"
    );
    assert_eq!((s.detached, s.waits), (0, 0), "{what}: {s:?}");
}

/// Several pools used by one thread, each with its model and tracker. Pools sit in `Option`s so
/// that one can be dropped while the others stay in use.
struct Pools {
    configs: Vec<Config>,
    trackers: Vec<Arc<Tracker>>,
    models: Vec<Model>,
}

impl Pools {
    fn new(configs: &[Config]) -> (Self, Vec<Option<Pool<Tagged>>>) {
        let trackers: Vec<_> = configs.iter().map(|_| Tracker::new()).collect();
        let pools = (configs.iter().enumerate())
            .map(|(i, &config)| Some(build(config, i, 0, &trackers[i])))
            .collect();
        let models = configs.iter().map(|_| Model::default()).collect();
        let this = Self {
            configs: configs.to_vec(),
            trackers,
            models,
        };
        (this, pools)
    }

    /// A guard of pool `i`, checked against its model, and marked as held by pool `i`.
    #[track_caller]
    fn get<'p>(&mut self, pools: &'p [Option<Pool<Tagged>>], i: usize) -> Pooled<'p, Tagged> {
        let pool = pools[i].as_ref().expect("pool not dropped");
        assert!(
            !self.models[i].would_wait(self.configs[i]),
            "the test would block"
        );
        let mut g = pool.get();
        self.models[i].lend(&g, (i, 0), &self.trackers[i]);
        g.obj.data.push(i as u8);
        g
    }

    /// Returns a guard that `get` handed out.
    #[track_caller]
    fn give(&mut self, g: Pooled<'_, Tagged>) {
        let (i, id) = (g.pool, g.obj.id);
        assert_eq!(g.obj.data, [i as u8], "object {id} changed while held");
        drop(g);
        self.models[i].give_back(id);
    }

    /// Gets one guard from each pool of `order`, in that order, then returns them in the order of
    /// `drops` (indices into `order`).
    #[track_caller]
    fn nest(&mut self, pools: &[Option<Pool<Tagged>>], order: &[usize], drops: &[usize]) {
        let mut held: Vec<Option<Pooled<'_, Tagged>>> =
            order.iter().map(|&i| Some(self.get(pools, i))).collect();
        let mut ids: Vec<(usize, usize)> = (held.iter().flatten())
            .map(|g| (g.pool, g.obj.id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), held.len(), "an object lent twice at once");
        assert_eq!(drops.len(), held.len());
        for &k in drops {
            let g = held[k].take().expect("each guard dropped once");
            self.give(g);
        }
    }

    #[track_caller]
    fn check(&self, pools: &[Option<Pool<Tagged>>], what: &str) {
        for (i, pool) in pools.iter().enumerate() {
            if let Some(pool) = pool {
                self.models[i].check(pool, &format_args!("{what}, pool {i}"));
                assert_eq!(
                    self.trackers[i].live(),
                    self.models[i].live(),
                    "{what}, pool {i}: objects alive"
                );
            }
        }
    }
}

/// A fixed shuffle of `0..n` (a multiplicative step coprime with `n` gives a permutation), so
/// that drop orders differ from round to round without randomness.
fn shuffled(n: usize, seed: usize) -> Vec<usize> {
    let step = (1..=n)
        .cycle()
        .skip(seed % n.max(1))
        .find(|s| gcd(*s, n) == 1)
        .unwrap_or(1);
    (0..n).map(|k| (k * step + seed) % n).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Two unbounded and two bounded pools with thread caches, and one of each kind without.
const INTERLEAVED: [Config; 6] = [
    unbounded(4),
    unbounded(2),
    bounded(4, 16),
    bounded(2, 16),
    unbounded(0),
    bounded(0, 16),
];

#[test]
fn interleaved_pools_on_one_thread_each_use_their_own_slot() {
    let (mut s, mut pools) = Pools::new(&INTERLEAVED);
    let n = pools.len();
    let rounds = if cfg!(miri) { 2 } else { 20 };
    let all: Vec<usize> = (0..n).collect();
    let reversed: Vec<usize> = (0..n).rev().collect();

    // Round robin, one object at a time: every pool's entry is replaced by the next pool's.
    for _ in 0..rounds {
        for i in 0..n {
            let g = s.get(&pools, i);
            s.give(g);
        }
    }
    s.check(&pools, "round robin");
    // Round robin backwards, each pool twice in a row.
    for _ in 0..rounds {
        for &i in &reversed {
            for _ in 0..2 {
                let g = s.get(&pools, i);
                s.give(g);
            }
        }
    }
    s.check(&pools, "round robin backwards");

    // Nested guards of every pool, dropped in the same order, backwards, and shuffled.
    for round in 0..rounds {
        s.nest(&pools, &all, &all);
        s.nest(&pools, &all, &reversed);
        s.nest(&pools, &reversed, &shuffled(n, round));
        let order = shuffled(n, round + 1);
        s.nest(&pools, &order, &shuffled(n, round + 2));
    }
    s.check(&pools, "nested");

    // Three guards of every pool at once, interleaved, dropped in a shuffled order: the pools
    // with a cache of 2 flush to their depots, and come back from them.
    for round in 0..rounds {
        let order: Vec<usize> = (0..3 * n).map(|k| k % n).collect();
        s.nest(&pools, &order, &shuffled(3 * n, round));
        let order: Vec<usize> = (0..3 * n).map(|k| (k / 3 + round) % n).collect();
        s.nest(&pools, &order, &shuffled(3 * n, round + 7));
    }
    s.check(&pools, "three of each");

    // Every ordered pair: a guard of `a`, one of `b`, another of `a`, returned crosswise, so the
    // entry of each kind flips between the two at every step.
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            let ga = s.get(&pools, a);
            let gb = s.get(&pools, b);
            let ga2 = s.get(&pools, a);
            s.give(gb);
            s.give(ga);
            let gb2 = s.get(&pools, b);
            s.give(ga2);
            s.give(gb2);
        }
    }
    s.check(&pools, "pairs");

    // `put` and `trim` in between: both go through this thread's slot too.
    for (k, &i) in shuffled(n, 3).iter().enumerate() {
        let pool = pools[i].as_ref().unwrap();
        let value = Tagged {
            pool: i,
            generation: 0,
            obj: s.trackers[i].make(),
        };
        let id = value.obj.id;
        assert!(pool.put(value).is_ok());
        s.models[i].keep(id);
        if k % 2 == 0 {
            let trimmed = s.models[i].trim();
            assert_eq!(pool.trim(), trimmed.len(), "pool {i}: trim");
            assert!(trimmed.iter().all(|&id| !s.trackers[i].is_live(id)));
        }
        let next = (i + 1) % n;
        let g = s.get(&pools, next);
        s.give(g);
    }
    s.check(&pools, "put and trim");

    // Drop the pools one by one, each right after it was used (its entry is then stale): the
    // others keep serving their own objects, with exact stats.
    for (k, &i) in [2, 0, 5, 3, 1, 4].iter().enumerate() {
        let g = s.get(&pools, i);
        s.give(g);
        drop(pools[i].take());
        s.trackers[i].assert_all_dropped_once();
        // The factory's objects, and the one `put` made for it.
        assert_eq!(s.trackers[i].created() as u64, s.models[i].created + 1);
        for j in (0..n).filter(|&j| pools[j].is_some()) {
            let g = s.get(&pools, j);
            let g2 = s.get(&pools, j);
            s.give(g);
            s.give(g2);
        }
        s.check(&pools, &format!("after dropping {} pools", k + 1));
    }
}

/// Pools of each kind, dropped and rebuilt: (the pool's config, the decoy's config).
const REBUILT: [(Config, Config); 4] = [
    (unbounded(4), bounded(4, 8)),
    (bounded(4, 8), unbounded(4)),
    (unbounded(0), bounded(2, 8)),
    (bounded(2, 8), unbounded(0)),
];

#[test]
fn a_pool_rebuilt_after_the_last_one_was_dropped_starts_empty() {
    let iterations = if cfg!(miri) { 3 } else { 200 };
    for (config, decoy_config) in REBUILT {
        for with_decoy in [false, true] {
            rebuild(config, decoy_config, with_decoy, iterations);
        }
    }
}

/// Builds, uses and drops a pool `iterations` times; each new pool is built right after the
/// previous one was the last of its kind this thread used. With a decoy: between the two, a pool
/// of the other kind is built (likely in the memory the dropped pool freed) and used, and lives
/// on while the next pool is used.
fn rebuild(config: Config, decoy_config: Config, with_decoy: bool, iterations: usize) {
    let what = |generation| format!("{config:?}, decoy {with_decoy}, generation {generation}");
    let decoy_tracker = Tracker::new();
    let mut decoy: Option<Pool<Tagged>> = None;
    for generation in 0..iterations {
        let tracker = Tracker::new();
        let pool = build(config, 0, generation, &tracker);
        let mut model = Model::default();
        model.check(&pool, &what(generation));
        let tag = (0, generation);

        let mut a = pool.get();
        model.lend(&a, tag, &tracker);
        assert_eq!(
            a.obj.id,
            0,
            "{}: the new pool's first object",
            what(generation)
        );
        a.obj.data.push(1);
        let b = pool.get();
        model.lend(&b, tag, &tracker);
        let (a_id, b_id) = (a.obj.id, b.obj.id);
        drop(b);
        model.give_back(b_id);
        drop(a);
        model.give_back(a_id);
        let c = pool.get();
        model.lend(&c, tag, &tracker);
        let c_id = c.obj.id;
        drop(c);
        model.give_back(c_id);
        model.check(&pool, &what(generation));
        assert_eq!(tracker.live(), 2);

        // The entry of this kind now holds this pool's slot.
        drop(pool);
        tracker.assert_all_dropped_once();
        assert_eq!(tracker.created(), 2, "{}", what(generation));

        if with_decoy {
            drop(decoy.take());
            let d = decoy.insert(build(decoy_config, 1, generation, &decoy_tracker));
            let (x, y) = (d.get(), d.get());
            assert_eq!((x.pool, x.generation), (1, generation));
            assert_eq!((y.pool, y.generation), (1, generation));
            drop((x, y));
            let s = d.stats();
            assert_eq!((s.created, s.returned, s.idle), (2, 2, 2), "decoy: {s:?}");
        }
    }
    drop(decoy);
    decoy_tracker.assert_all_dropped_once();
}

/// Waits until `flag` reads `value` (a spin, usable from a thread-local destructor).
fn wait_for(flag: &AtomicUsize, value: usize) {
    let start = Instant::now();
    while flag.load(Ordering::Acquire) != value {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "waited a minute for {value}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn threads_that_exit_flush_to_the_depot_and_their_successors_start_from_there() {
    // Pools 0 and 1 are used by every thread, pool 2 by every other one; each thread holds this
    // many objects of each at once.
    const CONFIGS: [Config; 3] = [unbounded(4), bounded(4, 64), unbounded(2)];
    const HELD: [usize; 3] = [3, 2, 1];
    let trackers: Vec<_> = CONFIGS.iter().map(|_| Tracker::new()).collect();
    let pools: Arc<Vec<Pool<Tagged>>> = Arc::new(
        (CONFIGS.iter().enumerate())
            .map(|(i, &config)| build(config, i, 0, &trackers[i]))
            .collect(),
    );
    let waves = if cfg!(miri) { 3 } else { 20 };
    // Per pool: the idle objects (left by the last thread that used it) and how often it was used.
    let mut idle: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); 3];
    let mut uses = [0u64; 3];

    // One thread at a time: each takes the id its predecessor released (unless another test's
    // thread took it first), and uses pools the predecessor used with that id, and a new one.
    for wave in 0..waves {
        let fresh_tracker = Tracker::new();
        let fresh = Arc::new(build(unbounded(2), 3, wave, &fresh_tracker));
        let uses_2 = wave % 2 == 1;
        let worker = {
            let (pools, fresh) = (Arc::clone(&pools), Arc::clone(&fresh));
            std::thread::spawn(move || {
                let mut guards = Vec::new();
                for k in 0..3 {
                    for (i, pool) in pools.iter().enumerate() {
                        if k < HELD[i] && (i != 2 || uses_2) {
                            guards.push(pool.get());
                        }
                    }
                    if k < 2 {
                        guards.push(fresh.get());
                    }
                }
                let got: Vec<(usize, usize, usize)> = (guards.iter())
                    .map(|g| (g.pool, g.generation, g.obj.id))
                    .collect();
                // Every other guard first, then the rest backwards.
                let mut rest = Vec::new();
                for (k, g) in guards.into_iter().enumerate() {
                    if k % 2 == 0 {
                        drop(g);
                    } else {
                        rest.push(g);
                    }
                }
                while let Some(g) = rest.pop() {
                    drop(g);
                }
                got
            })
        };
        let got = worker.join().unwrap();
        for i in 0..3 {
            let ids: BTreeSet<usize> = (got.iter())
                .filter(|&&(pool, _, _)| pool == i)
                .map(|&(_, generation, id)| {
                    assert_eq!(generation, 0);
                    id
                })
                .collect();
            if i == 2 && !uses_2 {
                assert!(ids.is_empty());
                continue;
            }
            assert_eq!(ids.len(), HELD[i], "wave {wave}, pool {i}: {got:?}");
            if uses[i] > 0 {
                assert_eq!(
                    ids, idle[i],
                    "wave {wave}, pool {i}: the previous thread's objects, from the depot"
                );
            }
            idle[i] = ids;
            uses[i] += 1;
            let held = HELD[i] as u64;
            assert_counts(
                &pools[i],
                (held, held * (uses[i] - 1), held * uses[i], 0, HELD[i], 0),
                &format!("wave {wave}, pool {i}"),
            );
        }
        let fresh_ids: Vec<_> = (got.iter())
            .filter(|&&(pool, _, _)| pool == 3)
            .map(|&(_, generation, id)| (generation, id))
            .collect();
        assert_eq!(fresh_ids, [(wave, 0), (wave, 1)]);
        assert_counts(&fresh, (2, 0, 2, 0, 2, 0), "the wave's own pool");
        assert_eq!(fresh.trim(), 2, "the exit flushed the thread's cache");
        drop(Arc::try_unwrap(fresh).expect("the thread is gone"));
        fresh_tracker.assert_all_dropped_once();
    }

    // A thread parked after using pool 0: its cache is its own until it exits.
    let (used, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let parked = {
        let (pools, used, release) = (Arc::clone(&pools), Arc::clone(&used), Arc::clone(&release));
        std::thread::spawn(move || {
            drop((pools[0].get(), pools[0].get()));
            used.store(1, Ordering::Release);
            wait_for(&release, 1);
        })
    };
    wait_for(&used, 1);
    assert_eq!(
        pools[0].trim(),
        0,
        "the parked thread took the depot's objects into its cache"
    );
    assert_eq!(pools[0].stats().idle, HELD[0]);
    release.store(1, Ordering::Release);
    parked.join().unwrap();
    assert_eq!(
        pools[0].trim(),
        HELD[0],
        "its exit flushed them to the depot"
    );
    // It got two of them (reused), returned both, and the trim dropped all three.
    let held = HELD[0] as u64;
    assert_counts(
        &pools[0],
        (
            held,
            held * (uses[0] - 1) + 2,
            held * uses[0] + 2,
            held,
            0,
            0,
        ),
        "after the parked thread",
    );
    assert_eq!(trackers[0].live(), 0);

    // Threads side by side, each going round the pools.
    let threads = if cfg!(miri) { 2 } else { 4 };
    let rounds = if cfg!(miri) { 3 } else { 200 };
    let before: Vec<_> = pools.iter().map(|p| p.stats()).collect();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let pools = Arc::clone(&pools);
            std::thread::spawn(move || {
                let mut gets = [0u64; 3];
                for round in 0..rounds {
                    let (i, j) = ((t + round) % 3, (t + 2 * round + 1) % 3);
                    let gi = pools[i].get();
                    let gj = pools[j].get();
                    let gi2 = pools[i].get();
                    for g in [&gi, &gj, &gi2] {
                        assert_eq!(g.generation, 0);
                    }
                    assert_eq!((gi.pool, gj.pool, gi2.pool), (i, j, i));
                    gets[i] += 2;
                    gets[j] += 1;
                    drop((gj, gi, gi2));
                }
                gets
            })
        })
        .collect();
    let mut gets = [0u64; 3];
    for w in workers {
        for (total, n) in gets.iter_mut().zip(w.join().unwrap()) {
            *total += n;
        }
    }
    for i in 0..3 {
        let (b, s) = (before[i], pools[i].stats());
        let what = format!("pool {i} after the threads: {s:?}");
        assert_eq!(s.in_use, 0, "{what}");
        assert_eq!(
            (s.created - b.created) + (s.reused - b.reused),
            gets[i],
            "{what}"
        );
        assert_eq!(s.returned - b.returned, gets[i], "{what}");
        assert_eq!(
            (s.discarded, s.detached, s.waits),
            (b.discarded, 0, 0),
            "{what}"
        );
        assert_eq!(s.idle as u64, s.created - s.discarded, "{what}");
        assert_eq!(s.created, trackers[i].created() as u64, "{what}");
        assert_eq!(pools[i].trim(), s.idle, "{what}: every cache was flushed");
        assert_eq!(trackers[i].live(), 0, "{what}");
    }
    drop(Arc::try_unwrap(pools).expect("every thread is gone"));
    for tracker in &trackers {
        tracker.assert_all_dropped_once();
    }
}

/// Runs its closure when dropped: from a thread-local, when the thread's thread-locals are
/// destroyed.
struct RunAtExit(Option<Box<dyn FnOnce()>>);

impl Drop for RunAtExit {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

thread_local! {
    /// Registers its destructor on first use. std runs a thread's thread-local destructors in the
    /// reverse order of their registration, so this one runs after hotpool's thread handle is
    /// destroyed if it was first used before the thread's first pool operation, and before it
    /// otherwise.
    static AT_EXIT: RefCell<Option<RunAtExit>> = const { RefCell::new(None) };
}

/// Makes `f` run when this thread's thread-locals are destroyed (registering the destructor now
/// if this is the first call on this thread). A panic in `f` is recorded in `failure`, as one
/// escaping a thread-local destructor would abort the process.
fn run_at_exit(failure: &Arc<Mutex<Option<String>>>, f: impl FnOnce() + 'static) {
    let failure = Arc::clone(failure);
    let guarded = move || {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            let message = (payload.downcast_ref::<String>().cloned())
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "<non-string panic>".to_string());
            *failure.lock().unwrap() = Some(message);
        }
    };
    AT_EXIT.with(|slot| *slot.borrow_mut() = Some(RunAtExit(Some(Box::new(guarded)))));
}

/// The pools of the thread-local destructor tests: a thread cache of 4 and room for one object
/// in the depot, so that where a returned object goes (the thread's cache, or the depot at once)
/// shows in the counts.
const AT_EXIT_CONFIGS: [Config; 2] = [
    with_max_idle(unbounded(4), 1),
    with_max_idle(bounded(4, 8), 1),
];

/// A thread gets two objects of each pool and returns them (to its caches), and a thread-local
/// destructor, registered before the thread's first pool operation or after it, gets two objects
/// of each pool and returns them, twice.
fn pools_used_at_thread_exit(register_before_first_use: bool) {
    let trackers: Vec<_> = AT_EXIT_CONFIGS.iter().map(|_| Tracker::new()).collect();
    let pools: Vec<Pool<Tagged>> = (AT_EXIT_CONFIGS.iter().enumerate())
        .map(|(i, &config)| build(config, i, 0, &trackers[i]))
        .collect();
    let failure = Arc::new(Mutex::new(None));
    // What the destructor got, round by round: (pool, generation, id) in order.
    let at_exit_got = Arc::new(Mutex::new(Vec::<Vec<(usize, usize, usize)>>::new()));
    let thread_got = {
        let handles = pools.clone();
        let (failure, at_exit_got) = (Arc::clone(&failure), Arc::clone(&at_exit_got));
        std::thread::spawn(move || {
            let at_exit = {
                let handles = handles.clone();
                move || {
                    for _ in 0..2 {
                        let guards = [
                            handles[0].get(),
                            handles[1].get(),
                            handles[0].get(),
                            handles[1].get(),
                        ];
                        let got = (guards.iter())
                            .map(|g| (g.pool, g.generation, g.obj.id))
                            .collect();
                        at_exit_got.lock().unwrap().push(got);
                        let [a, b, c, d] = guards;
                        drop((a, d, c, b));
                    }
                }
            };
            let mut at_exit = Some(at_exit);
            if register_before_first_use {
                run_at_exit(&failure, at_exit.take().unwrap());
            }
            let guards = [
                handles[1].get(),
                handles[0].get(),
                handles[0].get(),
                handles[1].get(),
            ];
            let got: Vec<_> = (guards.iter()).map(|g| (g.pool, g.obj.id)).collect();
            let [a, b, c, d] = guards;
            drop((c, a, d, b));
            if let Some(at_exit) = at_exit {
                run_at_exit(&failure, at_exit);
            }
            got
        })
        .join()
        .unwrap()
    };
    if let Some(message) = failure.lock().unwrap().take() {
        panic!("the thread-local destructor panicked: {message}");
    }
    assert_eq!(thread_got, [(1, 0), (0, 0), (0, 1), (1, 1)]);
    let at_exit_got = at_exit_got.lock().unwrap();
    assert_eq!(at_exit_got.len(), 2, "the destructor ran both rounds");
    for (round, got) in at_exit_got.iter().enumerate() {
        let tags: Vec<_> = got
            .iter()
            .map(|&(pool, generation, _)| (pool, generation))
            .collect();
        assert_eq!(tags, [(0, 0), (1, 0), (0, 0), (1, 0)], "round {round}");
        for pool in 0..2 {
            let mut ids: Vec<usize> = (got.iter())
                .filter(|&&(p, _, _)| p == pool)
                .map(|&(_, _, id)| id)
                .collect();
            ids.sort_unstable();
            if register_before_first_use {
                // The handle was gone: its exit flush kept one object in the depot (`max_idle`
                // 1) and dropped the other; each round gets that one and a new one, and of the two
                // returned only one fits in the depot.
                assert_eq!(ids.len(), 2);
                assert!(
                    ids[0] < 2 + round && ids[1] == 2 + round,
                    "round {round}: {ids:?}"
                );
            } else {
                // The handle was alive: both rounds get the thread's own cached objects back.
                assert_eq!(ids, [0, 1], "round {round}, pool {pool}");
            }
        }
    }
    for (i, pool) in pools.iter().enumerate() {
        let what = format!("pool {i}, registered before first use: {register_before_first_use}");
        if register_before_first_use {
            // Thread: 2 created, 2 returned; exit flush: 1 kept, 1 discarded; destructor, twice:
            // 1 reused and 1 created, 1 returned and 1 discarded.
            assert_counts(pool, (4, 2, 4, 3, 1, 0), &what);
        } else {
            // Thread: 2 created, 2 returned; destructor: 4 reused and 4 returned, in the cache;
            // exit flush: 1 kept, 1 discarded.
            assert_counts(pool, (2, 4, 6, 1, 1, 0), &what);
        }
        assert_eq!(pool.trim(), 1, "{what}: the idle object sits in the depot");
        assert_eq!(trackers[i].live(), 0, "{what}: nothing stranded");
    }
    drop(pools);
    for tracker in &trackers {
        tracker.assert_all_dropped_once();
    }
}

#[test]
fn pools_used_by_a_destructor_that_runs_after_the_threads_handle_is_gone() {
    pools_used_at_thread_exit(true);
}

#[test]
fn pools_used_by_a_destructor_that_runs_before_the_threads_handle_is_gone() {
    pools_used_at_thread_exit(false);
}

#[test]
fn a_destructor_after_exit_never_reaches_the_cache_of_the_thread_that_took_its_id() {
    for config in [unbounded(4), bounded(4, 64)] {
        destructor_while_the_id_is_taken(config);
    }
}

/// A thread-local destructor uses a pool after its thread's handle is gone (its id released),
/// while new threads, one of which likely took that id, have objects in their caches.
fn destructor_while_the_id_is_taken(config: Config) {
    let tracker = Tracker::new();
    let pool = build(config, 0, 0, &tracker);
    let takers = if cfg!(miri) { 2 } else { 4 };
    // This thread takes an id now (`trim` finds its slot), so that the one the exiting thread
    // releases goes to a taker below.
    assert_eq!(pool.trim(), 0);
    // 1: the exiting thread's handle is gone and its destructor waits; 2: the takers have
    // cached their objects, the destructor goes on.
    let stage = Arc::new(AtomicUsize::new(0));
    let failure = Arc::new(Mutex::new(None));
    let at_exit_got = Arc::new(Mutex::new(None));
    let exiting = {
        let (pool, stage, at_exit_got) =
            (pool.clone(), Arc::clone(&stage), Arc::clone(&at_exit_got));
        let failure = Arc::clone(&failure);
        std::thread::spawn(move || {
            let handle = pool.clone();
            run_at_exit(&failure, move || {
                stage.store(1, Ordering::Release);
                wait_for(&stage, 2);
                let g = handle.get();
                *at_exit_got.lock().unwrap() = Some((g.pool, g.generation, g.obj.id));
                drop(g);
            });
            // The pool's entry now holds this thread's slot; the object stays in its cache.
            drop(pool.get());
        })
    };
    wait_for(&stage, 1);
    assert_eq!(
        pool.trim(),
        1,
        "the exiting thread's cache was flushed to the depot: its handle is gone"
    );
    // New threads take the smallest free ids, the exiting thread's among them (unless another
    // test's thread is quicker), and each caches one object of its own in its slot.
    let (ready, release) = (
        Arc::new(Barrier::new(takers + 1)),
        Arc::new(Barrier::new(takers + 1)),
    );
    let taking: Vec<_> = (0..takers)
        .map(|t| {
            let (pool, tracker) = (pool.clone(), Arc::clone(&tracker));
            let (ready, release) = (Arc::clone(&ready), Arc::clone(&release));
            std::thread::spawn(move || {
                let own = Tagged {
                    pool: 100 + t,
                    generation: 0,
                    obj: tracker.make(),
                };
                assert!(pool.put(own).is_ok());
                ready.wait();
                release.wait();
            })
        })
        .collect();
    ready.wait();
    stage.store(2, Ordering::Release);
    exiting.join().unwrap();
    if let Some(message) = failure.lock().unwrap().take() {
        panic!("the thread-local destructor panicked: {message}");
    }
    let got = at_exit_got
        .lock()
        .unwrap()
        .take()
        .expect("the destructor ran");
    assert_eq!(
        (got.0, got.1),
        (0, 0),
        "the destructor got another thread's cached object: {got:?}"
    );
    assert_eq!(got.2, takers + 1, "a new object, as the depot was empty");
    release.wait();
    for t in taking {
        t.join().unwrap();
    }
    let takers = takers as u64;
    // Created: the exiting thread's object and the destructor's; returned: both, and each taker's
    // `put`; discarded: the first trim.
    assert_counts(
        &pool,
        (2, 0, takers + 2, 1, takers as usize + 1, 0),
        "after every thread",
    );
    assert_eq!(pool.trim(), takers as usize + 1, "every cache was flushed");
    assert_eq!(tracker.live(), 0);
    drop(pool);
    tracker.assert_all_dropped_once();
}

/// The pools of the property test: both kinds, several cache sizes, one bounded pool with a cap
/// the operations reach (where `get` would wait, the test calls `try_get` instead).
const PROP_CONFIGS: [Config; 4] = [unbounded(2), unbounded(0), bounded(3, 64), bounded(1, 6)];
const MAX_OPS: usize = if cfg!(miri) { 16 } else { 48 };
const CASES: u32 = if cfg!(miri) { 8 } else { 64 };

#[derive(Clone, Debug)]
enum Op {
    /// `get_owned` from a pool, and hold the guard.
    Get(usize),
    /// `get` from a pool, and return the guard at once.
    GetReturn(usize),
    /// `try_get` from a pool, and return the guard at once.
    TryGet(usize),
    /// Return a held guard.
    Return(prop::sample::Index),
    /// `put` a new object (tagged as the pool's own).
    Put(usize),
    Trim(usize),
    /// Drop the pool (its held guards keep it alive) and build a new one in its place.
    Rebuild(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let pool = 0..PROP_CONFIGS.len();
    prop_oneof![
        4 => pool.clone().prop_map(Op::Get),
        2 => pool.clone().prop_map(Op::GetReturn),
        2 => pool.clone().prop_map(Op::TryGet),
        4 => any::<prop::sample::Index>().prop_map(Op::Return),
        2 => pool.clone().prop_map(Op::Put),
        1 => pool.clone().prop_map(Op::Trim),
        1 => pool.prop_map(Op::Rebuild),
    ]
}

/// A dropped pool that held guards keep alive: objects it keeps alive, held and idle.
struct Retired {
    held: usize,
    idle: usize,
}

fn run_ops(ops: &[Op]) {
    let tracker = Tracker::new();
    let mut pools: Vec<Pool<Tagged>> = (PROP_CONFIGS.iter().enumerate())
        .map(|(i, &config)| build(config, i, 0, &tracker))
        .collect();
    let mut generations = [0; PROP_CONFIGS.len()];
    let mut models: Vec<Model> = PROP_CONFIGS.iter().map(|_| Model::default()).collect();
    let mut held: Vec<OwnedPooled<Tagged>> = Vec::new();
    let mut retired: BTreeMap<(usize, usize), Retired> = BTreeMap::new();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Get(i) => {
                let model = &mut models[i];
                if model.would_wait(PROP_CONFIGS[i]) {
                    assert!(pools[i].try_get_owned().is_none(), "at the cap");
                } else {
                    let mut g = pools[i].get_owned();
                    model.lend(&g, (i, generations[i]), &tracker);
                    g.obj.data.push(i as u8);
                    held.push(g);
                }
            }
            Op::GetReturn(i) => {
                let model = &mut models[i];
                if model.would_wait(PROP_CONFIGS[i]) {
                    assert!(pools[i].try_get().is_none(), "at the cap");
                } else {
                    let g = pools[i].get();
                    model.lend(&g, (i, generations[i]), &tracker);
                    let id = g.obj.id;
                    drop(g);
                    model.give_back(id);
                }
            }
            Op::TryGet(i) => {
                let model = &mut models[i];
                match pools[i].try_get() {
                    Some(g) => {
                        assert!(!model.idle.is_empty(), "try_get made an object");
                        model.lend(&g, (i, generations[i]), &tracker);
                        let id = g.obj.id;
                        drop(g);
                        model.give_back(id);
                    }
                    None => assert!(model.idle.is_empty(), "try_get missed an idle object"),
                }
            }
            Op::Return(index) => {
                if held.is_empty() {
                    continue;
                }
                let g = held.swap_remove(index.index(held.len()));
                let (i, generation, id) = (g.pool, g.generation, g.obj.id);
                assert_eq!(g.obj.data, [i as u8], "object {id} changed while held");
                drop(g);
                if generation == generations[i] {
                    models[i].give_back(id);
                } else {
                    let r = retired.get_mut(&(i, generation)).expect("retired pool");
                    r.held -= 1;
                    r.idle += 1;
                    if r.held == 0 {
                        // The last guard dropped the pool, and its objects with it.
                        retired.remove(&(i, generation));
                    }
                }
            }
            Op::Put(i) => {
                let value = Tagged {
                    pool: i,
                    generation: generations[i],
                    obj: tracker.make(),
                };
                let id = value.obj.id;
                let full = PROP_CONFIGS[i]
                    .max_live
                    .is_some_and(|cap| models[i].live() >= cap);
                match pools[i].put(value) {
                    Ok(()) => {
                        assert!(!full, "put past the cap");
                        models[i].keep(id);
                    }
                    Err(back) => {
                        assert!(full, "put refused below the cap");
                        assert_eq!(back.obj.id, id);
                    }
                }
            }
            Op::Trim(i) => {
                let trimmed = models[i].trim();
                assert_eq!(pools[i].trim(), trimmed.len());
                assert!(trimmed.iter().all(|&id| !tracker.is_live(id)));
            }
            Op::Rebuild(i) => {
                let generation = generations[i];
                let out = (held.iter())
                    .filter(|g| (g.pool, g.generation) == (i, generation))
                    .count();
                let old = std::mem::take(&mut models[i]);
                assert_eq!(out, old.in_use);
                drop(pools.remove(i));
                if out == 0 {
                    assert!(old.idle.iter().all(|&id| !tracker.is_live(id)));
                } else {
                    let r = Retired {
                        held: out,
                        idle: old.idle.len(),
                    };
                    retired.insert((i, generation), r);
                }
                generations[i] += 1;
                pools.insert(i, build(PROP_CONFIGS[i], i, generations[i], &tracker));
            }
        }
        let what = format!("step {step}: {op:?}");
        for (model, pool) in models.iter().zip(&pools) {
            model.check(pool, &what);
        }
        let live = models.iter().map(Model::live).sum::<usize>()
            + retired.values().map(|r| r.held + r.idle).sum::<usize>();
        assert_eq!(tracker.live(), live, "{what}: objects alive");
    }
    drop(held);
    drop(pools);
    tracker.assert_all_dropped_once();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_operations_on_several_pools_match_the_model(
        ops in prop::collection::vec(op(), 1..MAX_OPS)
    ) {
        run_ops(&ops);
    }
}
