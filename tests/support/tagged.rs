//! Pools whose factories tag their objects with the pool's index and generation, and a model
//! of what such a pool holds when one thread uses it alone (the pool returns the object returned
//! last first, and discards nothing but by `trim`). For the tests of several pools on one thread
//! (`tests/pool_several_pools_on_one_thread.rs`) and of pools across thread exits
//! (`tests/pool_thread_exit.rs`): every object a pool hands out must be its own.

use std::collections::BTreeSet;
use std::sync::Arc;

use hotpool::{Pool, Pooled, Recycle};

use super::{Tracked, Tracker};

/// An object that carries the index and generation of the pool whose factory made it.
#[derive(Debug)]
pub struct Tagged {
    pub pool: usize,
    pub generation: usize,
    pub obj: Tracked,
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
pub struct Config {
    pub thread_cache: usize,
    pub max_live: Option<usize>,
    pub max_idle: usize,
}

/// Room for every object a test makes: nothing is discarded for want of room.
pub const MAX_IDLE: usize = 256;

pub const fn unbounded(thread_cache: usize) -> Config {
    Config {
        thread_cache,
        max_live: None,
        max_idle: MAX_IDLE,
    }
}

pub const fn bounded(thread_cache: usize, max_live: usize) -> Config {
    Config {
        thread_cache,
        max_live: Some(max_live),
        max_idle: MAX_IDLE,
    }
}

pub const fn with_max_idle(config: Config, max_idle: usize) -> Config {
    Config { max_idle, ..config }
}

/// Pool `pool` of generation `generation`: its factory tags its objects so, and makes them with
/// `tracker`. Not registered with the report, so that nothing but the pool's own handles and
/// thread-exit hooks keeps its memory once it is dropped (and a new pool may get it).
pub fn build(
    config: Config,
    pool: usize,
    generation: usize,
    tracker: &Arc<Tracker>,
) -> Pool<Tagged> {
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
pub struct Model {
    pub created: u64,
    pub reused: u64,
    pub returned: u64,
    pub discarded: u64,
    pub in_use: usize,
    /// Ids of the idle objects.
    pub idle: BTreeSet<usize>,
    /// The object the last operation on this pool returned, if it returned one: the next `get`
    /// hands it out.
    pub top: Option<usize>,
}

impl Model {
    /// Checks and counts an object that `get` handed out: the pool's own (`tag`), reset, and the
    /// right one. `tracker` made the pool's objects (the factory's newest is its last).
    #[track_caller]
    pub fn lend(&mut self, got: &Tagged, tag: (usize, usize), tracker: &Tracker) {
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
    pub fn give_back(&mut self, id: usize) {
        self.in_use -= 1;
        self.keep(id);
    }

    /// An object came back (a guard's, or `put`) and is kept idle.
    pub fn keep(&mut self, id: usize) {
        assert!(self.idle.insert(id), "object {id} came back twice");
        self.returned += 1;
        self.top = Some(id);
    }

    /// `trim` drops every idle object: their ids.
    pub fn trim(&mut self) -> BTreeSet<usize> {
        self.discarded += self.idle.len() as u64;
        self.top = None;
        std::mem::take(&mut self.idle)
    }

    /// Objects alive: the places taken in a bounded pool.
    pub fn live(&self) -> usize {
        self.in_use + self.idle.len()
    }

    /// Whether a `get` would wait: a bounded pool at its cap with nothing idle.
    pub fn would_wait(&self, config: Config) -> bool {
        config
            .max_live
            .is_some_and(|cap| self.idle.is_empty() && self.live() >= cap)
    }

    /// Every counter of `pool`'s stats but `peak_in_use` (an estimate) must match.
    #[track_caller]
    pub fn check(&self, pool: &Pool<Tagged>, what: &dyn std::fmt::Display) {
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
pub fn assert_counts(
    pool: &Pool<Tagged>,
    expected: (u64, u64, u64, u64, usize, usize),
    what: &str,
) {
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
pub struct Pools {
    pub configs: Vec<Config>,
    pub trackers: Vec<Arc<Tracker>>,
    pub models: Vec<Model>,
}

impl Pools {
    pub fn new(configs: &[Config]) -> (Self, Vec<Option<Pool<Tagged>>>) {
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
    pub fn get<'p>(&mut self, pools: &'p [Option<Pool<Tagged>>], i: usize) -> Pooled<'p, Tagged> {
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
    pub fn give(&mut self, g: Pooled<'_, Tagged>) {
        let (i, id) = (g.pool, g.obj.id);
        assert_eq!(g.obj.data, [i as u8], "object {id} changed while held");
        drop(g);
        self.models[i].give_back(id);
    }

    /// Gets one guard from each pool of `order`, in that order, then returns them in the order of
    /// `drops` (indices into `order`).
    #[track_caller]
    pub fn nest(&mut self, pools: &[Option<Pool<Tagged>>], order: &[usize], drops: &[usize]) {
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
    pub fn check(&self, pools: &[Option<Pool<Tagged>>], what: &str) {
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
