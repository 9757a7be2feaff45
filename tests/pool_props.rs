//! Model-based property tests of `Pool`.
//!
//! - One thread: random operation sequences run against the pool and against a model of what
//!   it must hold (idle ids with the time they were last used, and every counter); after each
//!   step the stats, the idle bound, the live objects and the identity of every handed-out
//!   object must agree, for several `max_idle` / `thread_cache` settings including no cache.
//! - Several threads: each runs its own operation list on a shared pool and sends guards to
//!   the next thread; after joining, nothing is in use, idle is bounded, and after the pool
//!   drops every object was dropped exactly once.

mod common;
mod model_support;
mod pool_support;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{mpsc, Arc, Mutex};

use common::{assert_stats, Tracked, Tracker};
use hotpool::{OwnedPooled, Pool, PoolStats, Pooled};
use model_support::{config, mutate, op, thread_op, Op, MAX_RETAINED};
use pool_support::{assert_idle_bound, retaining_pool, NoPeak};
use proptest::prelude::*;

const MAX_OPS: usize = if cfg!(miri) { 16 } else { 80 };
const CASES: u32 = if cfg!(miri) { 4 } else { 192 };
/// (max_idle, thread_cache) settings tried.
const CONFIGS: [(usize, usize); 5] = [(2, 0), (3, 1), (2, 2), (1, 4), (4, 3)];

fn tracked_pool(tracker: &Arc<Tracker>, (max_idle, thread_cache): (usize, usize)) -> Pool<Tracked> {
    retaining_pool(tracker, max_idle, thread_cache, MAX_RETAINED)
}

type Guard<'a> = model_support::Guard<Pooled<'a, Tracked>, OwnedPooled<Tracked>>;

/// What a one-thread pool must hold.
struct Model {
    max_idle: usize,
    thread_cache: usize,
    /// Idle object ids, with the step at which each was last handed out or returned.
    idle: BTreeMap<usize, u64>,
    /// Expected stats, `idle` and `peak_in_use` aside.
    counts: PoolStats,
    true_peak: usize,
    now: u64,
    /// Step of the previous `trim_unused`.
    last_trim_unused: Option<u64>,
}

impl Model {
    fn lend(&mut self, id: usize, fresh: bool) {
        if fresh {
            assert!(self.idle.is_empty(), "made {id} while {:?} idle", self.idle);
            self.counts.created += 1;
        } else {
            assert!(
                self.idle.remove(&id).is_some(),
                "{id} handed out but not idle"
            );
            self.counts.reused += 1;
        }
        self.counts.in_use += 1;
        self.true_peak = self.true_peak.max(self.counts.in_use);
    }

    /// Whether the pool keeps an object retaining `retained` bytes that comes back now: one
    /// thread's cache plus the depot hold `max_idle + thread_cache`.
    fn keeps(&self, retained: usize) -> bool {
        retained <= MAX_RETAINED && self.idle.len() < self.max_idle + self.thread_cache
    }

    fn keep(&mut self, id: usize) {
        self.idle.insert(id, self.now);
        self.counts.returned += 1;
    }

    /// Ids `trim_unused` may drop: idle since before its previous call.
    fn unused(&self) -> BTreeSet<usize> {
        let Some(since) = self.last_trim_unused else {
            return BTreeSet::new();
        };
        (self.idle.iter())
            .filter(|&(_, &used)| used < since)
            .map(|(&id, _)| id)
            .collect()
    }

    /// Removes the idle ids the tracker says were dropped, and returns them.
    fn remove_dropped(&mut self, tracker: &Tracker) -> BTreeSet<usize> {
        let dropped: BTreeSet<usize> = (self.idle.keys().copied())
            .filter(|&id| !tracker.is_live(id))
            .collect();
        self.idle.retain(|id, _| !dropped.contains(id));
        self.counts.discarded += dropped.len() as u64;
        dropped
    }
}

struct Harness<'a> {
    tracker: Arc<Tracker>,
    pool: &'a Pool<Tracked>,
    guards: Vec<Guard<'a>>,
    detached: Vec<Tracked>,
    model: Model,
    /// Every id the pool has handed out or been given.
    seen: BTreeSet<usize>,
}

impl<'a> Harness<'a> {
    fn lent(&mut self, mut guard: Guard<'a>) {
        let obj = guard.obj();
        assert!(obj.data.is_empty(), "object {} handed out dirty", obj.id);
        let fresh = self.seen.insert(obj.id);
        self.model.lend(obj.id, fresh);
        self.guards.push(guard);
    }

    fn apply(&mut self, op: &Op) {
        let pool = self.pool;
        self.model.now += 1;
        match *op {
            Op::Get => self.lent(Guard::Borrowed(pool.get())),
            Op::GetOwned => self.lent(Guard::Owned(pool.get_owned())),
            Op::TryGet => match pool.try_get() {
                Some(g) => self.lent(Guard::Borrowed(g)),
                None => assert!(self.model.idle.is_empty(), "try_get found nothing idle"),
            },
            Op::Drop(i) if !self.guards.is_empty() => {
                let mut guard = self.guards.swap_remove(i % self.guards.len());
                let (id, retained) = (guard.obj().id, guard.obj().data.capacity());
                let kept = self.model.keeps(retained);
                drop(guard);
                self.model.counts.in_use -= 1;
                if kept {
                    self.model.keep(id);
                } else {
                    self.model.counts.discarded += 1;
                    assert!(!self.tracker.is_live(id), "discarded {id} still alive");
                }
            }
            Op::Detach(i) if !self.guards.is_empty() => {
                let guard = self.guards.swap_remove(i % self.guards.len());
                self.detached
                    .push(guard.detach(Pooled::detach, OwnedPooled::detach));
                self.model.counts.in_use -= 1;
                self.model.counts.detached += 1;
            }
            Op::Put => {
                let value = self.detached.pop().unwrap_or_else(|| self.tracker.make());
                let (id, kept) = (value.id, self.model.keeps(value.data.capacity()));
                match pool.put(value) {
                    Ok(()) => {
                        assert!(kept, "put kept {id} past the caps");
                        self.seen.insert(id);
                        self.model.keep(id);
                    }
                    Err(value) => {
                        assert!(!kept, "put refused {id} with room");
                        assert_eq!(value.id, id);
                        assert!(value.data.is_empty(), "handed back reset");
                        self.detached.push(value);
                    }
                }
            }
            Op::Trim => {
                let idle = self.model.idle.len();
                assert_eq!(
                    pool.trim(),
                    idle,
                    "one thread: trim reaches every idle object"
                );
                assert_eq!(self.model.remove_dropped(&self.tracker).len(), idle);
            }
            Op::TrimUnused => {
                let unused = self.model.unused();
                let n = pool.trim_unused();
                let dropped = self.model.remove_dropped(&self.tracker);
                assert_eq!(dropped.len(), n);
                assert!(
                    dropped.is_subset(&unused),
                    "dropped {dropped:?}, unused {unused:?}"
                );
                if self.model.thread_cache == 0 {
                    assert_eq!(dropped, unused, "every idle object is in the depot");
                }
                self.model.last_trim_unused = Some(self.model.now);
            }
            Op::Mutate { index, len, grow } if !self.guards.is_empty() => {
                let n = self.guards.len();
                mutate(self.guards[index % n].obj(), len, grow);
            }
            _ => {}
        }
    }

    fn check(&mut self) {
        let model = &self.model;
        assert_stats!(NoPeak(self.pool), { idle: model.idle.len(), ..model.counts });
        assert!(self.pool.stats().peak_in_use <= model.true_peak);
        assert_idle_bound(self.pool, model.max_idle, model.thread_cache, 1);
        let mut held = HashSet::new();
        for g in &mut self.guards {
            let id = g.obj().id;
            assert!(held.insert(id), "{id} in two guards");
            assert!(!model.idle.contains_key(&id), "{id} both lent and idle");
        }
        let live = model.idle.len() + self.guards.len() + self.detached.len();
        assert_eq!(self.tracker.live(), live, "leak or early drop");
    }
}

fn run_model(config: (usize, usize), ops: &[Op]) {
    let tracker = Tracker::new();
    let pool = tracked_pool(&tracker, config);
    let mut harness = Harness {
        tracker: Arc::clone(&tracker),
        pool: &pool,
        guards: Vec::new(),
        detached: Vec::new(),
        model: Model {
            max_idle: config.0,
            thread_cache: config.1,
            idle: BTreeMap::new(),
            counts: PoolStats::default(),
            true_peak: 0,
            now: 0,
            last_trim_unused: None,
        },
        seen: BTreeSet::new(),
    };
    for op in ops {
        harness.apply(op);
        harness.check();
    }
    drop(harness); // its guards and detached values first: they borrow the pool
    drop(pool);
    tracker.assert_all_dropped_once();
}

fn thread_ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(thread_op(), 0..MAX_OPS / 2)
}

/// Ids held by live guards, on any thread.
type Held = Arc<Mutex<HashSet<usize>>>;

fn run_thread(
    pool: &Pool<Tracked>,
    tracker: &Arc<Tracker>,
    held: &Held,
    ops: &[Op],
    next: &mpsc::Sender<OwnedPooled<Tracked>>,
    rx: &mpsc::Receiver<OwnedPooled<Tracked>>,
) {
    let mut guards: Vec<OwnedPooled<Tracked>> = Vec::new();
    let release = |g: OwnedPooled<Tracked>| {
        assert!(held.lock().unwrap().remove(&g.id));
        drop(g);
    };
    for op in ops {
        guards.extend(rx.try_iter());
        match *op {
            Op::GetOwned => {
                let g = pool.get_owned();
                assert!(g.data.is_empty(), "handed out dirty");
                assert!(held.lock().unwrap().insert(g.id), "{} in two guards", g.id);
                guards.push(g);
            }
            Op::Drop(i) if !guards.is_empty() => release(guards.swap_remove(i % guards.len())),
            Op::Send(i) if !guards.is_empty() => {
                if let Err(mpsc::SendError(g)) = next.send(guards.swap_remove(i % guards.len())) {
                    release(g);
                }
            }
            Op::Put => drop(pool.put(tracker.make())),
            Op::Trim => drop(pool.trim()),
            Op::TrimUnused => drop(pool.trim_unused()),
            Op::Mutate {
                index: i,
                len,
                grow,
            } if !guards.is_empty() => {
                let n = guards.len();
                mutate(&mut guards[i % n], len, grow);
            }
            _ => {}
        }
    }
    guards.into_iter().for_each(release);
}

fn run_threads(config: (usize, usize), lists: Vec<Vec<Op>>) {
    let tracker = Tracker::new();
    let pool = Arc::new(tracked_pool(&tracker, config));
    let held: Held = Arc::default();
    let n = lists.len();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel()).unzip();
    let workers: Vec<_> = (lists.into_iter().zip(receivers).enumerate())
        .map(|(i, (ops, rx))| {
            let next = senders[(i + 1) % n].clone();
            let (pool, tracker, held) = (Arc::clone(&pool), Arc::clone(&tracker), held.clone());
            std::thread::spawn(move || {
                run_thread(&pool, &tracker, &held, &ops, &next, &rx);
                rx // guards sent after this thread finished stay in the channel
            })
        })
        .collect();
    drop(senders);
    let receivers: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    // Every worker has exited (and flushed its cache); guards still in the channels are the only
    // ones in use.
    let in_channels: Vec<_> = receivers.iter().flat_map(|rx| rx.try_iter()).collect();
    assert_eq!(held.lock().unwrap().len(), in_channels.len());
    assert_eq!(pool.stats().in_use, in_channels.len());
    drop(in_channels); // returned on this thread
    let stats = pool.stats();
    assert_eq!(stats.in_use, 0, "{stats:?}");
    assert_idle_bound(&pool, config.0, config.1, 1);
    assert_eq!(stats.idle, tracker.live());
    drop(pool);
    tracker.assert_all_dropped_once();
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn one_thread_matches_the_model(
        config in prop::sample::select(&CONFIGS[..]),
        ops in prop::collection::vec(op(true), 0..MAX_OPS),
    ) {
        run_model(config, &ops);
    }

    #[test]
    fn threads_sharing_a_pool_leave_it_consistent(
        config in prop::sample::select(&CONFIGS[..]),
        lists in prop::collection::vec(thread_ops(), 2..=3),
    ) {
        run_threads(config, lists);
    }
}
