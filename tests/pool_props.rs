//! Model-based property tests of `Pool`.
//!
//! - One thread: random operation sequences run against the pool and against the reference
//!   model of a pool (`support::model::Ledger`, shared with the fuzz targets) plus the `Pool`
//!   rules (what it keeps, and the time each idle object was last used); after each
//!   step the stats, the idle bound, the live objects and the identity of every handed-out
//!   object must agree, for several `max_idle` / `thread_cache` settings including no cache.
//! - Several threads: each runs its own operation list on a shared pool and sends guards to
//!   the next thread; after joining, nothing is in use, idle is bounded, and after the pool
//!   drops every object was dropped exactly once.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{mpsc, Arc, Mutex};

use hotpool::{OwnedPooled, Pool, Pooled};
use proptest::prelude::*;
use support::model::Ledger;
use support::ops::{config, mutate, op, thread_op, Op, MAX_RETAINED};
use support::pool::{assert_idle_bound, retaining_pool, NoPeak};
use support::{assert_stats, Tracked, Tracker};

const MAX_OPS: usize = if cfg!(miri) { 16 } else { 80 };
const CASES: u32 = if cfg!(miri) { 4 } else { 192 };
/// (max_idle, thread_cache) settings tried.
const CONFIGS: [(usize, usize); 5] = [(2, 0), (3, 1), (2, 2), (1, 4), (4, 3)];

fn tracked_pool(tracker: &Arc<Tracker>, (max_idle, thread_cache): (usize, usize)) -> Pool<Tracked> {
    retaining_pool(tracker, max_idle, thread_cache, MAX_RETAINED)
}

type Guard<'a> = support::model::Guard<Pooled<'a, Tracked>, OwnedPooled<Tracked>>;

/// One thread driving a pool, and what it must hold: the shared reference model of a pool
/// ([`Ledger`], which the fuzz targets drive too) with the `Pool` rules on top (what one thread's
/// pool keeps, and what `trim_unused` may drop).
struct Harness<'a> {
    tracker: Arc<Tracker>,
    pool: &'a Pool<Tracked>,
    guards: Vec<Guard<'a>>,
    detached: Vec<Tracked>,
    ledger: Ledger,
    max_idle: usize,
    thread_cache: usize,
    /// The step at which the pool last kept each object (a return or a `put`), by id.
    kept_at: BTreeMap<usize, u64>,
    now: u64,
    /// Step of the previous `trim_unused`.
    last_trim_unused: Option<u64>,
}

impl<'a> Harness<'a> {
    /// Whether the pool keeps an object retaining `retained` bytes that comes back now: one
    /// thread's cache plus the depot hold `max_idle + thread_cache`.
    fn keeps(&self, retained: usize) -> bool {
        retained <= MAX_RETAINED && self.ledger.idle() < self.max_idle + self.thread_cache
    }

    /// The pool kept object `id` (the ledger says so): it is idle from now.
    fn kept(&mut self, id: usize) {
        self.kept_at.insert(id, self.now);
    }

    /// Ids `trim_unused` may drop: idle since before its previous call.
    fn unused(&self) -> BTreeSet<usize> {
        let Some(since) = self.last_trim_unused else {
            return BTreeSet::new();
        };
        (self.ledger.idle_ids())
            .filter(|id| self.kept_at[id] < since)
            .collect()
    }

    fn lent(&mut self, guard: Guard<'a>) {
        let (id, idle) = (guard.id, self.ledger.idle());
        assert!(guard.data.is_empty(), "object {id} handed out dirty");
        let fresh = self.ledger.handed_out(id);
        assert!(!fresh || idle == 0, "made {id} while {idle} idle");
        self.guards.push(guard);
    }

    fn apply(&mut self, op: &Op) {
        let pool = self.pool;
        self.now += 1;
        match *op {
            Op::Get => self.lent(Guard::Borrowed(pool.get())),
            Op::GetOwned => self.lent(Guard::Owned(pool.get_owned())),
            Op::TryGet => match pool.try_get() {
                Some(g) => self.lent(Guard::Borrowed(g)),
                None => assert_eq!(self.ledger.idle(), 0, "try_get found nothing idle"),
            },
            Op::Drop(i) if !self.guards.is_empty() => {
                let guard = self.guards.swap_remove(i % self.guards.len());
                let (id, keep) = (guard.id, self.keeps(guard.data.capacity()));
                drop(guard);
                assert_eq!(self.ledger.guard_ended(id), keep, "{id} kept");
                if keep {
                    self.kept(id);
                }
            }
            Op::Detach(i) if !self.guards.is_empty() => {
                let guard = self.guards.swap_remove(i % self.guards.len());
                let id = guard.id;
                self.detached
                    .push(guard.detach(Pooled::detach, OwnedPooled::detach));
                self.ledger.detached(id);
            }
            Op::Put => {
                let value = self.ledger.take_last_own(&mut self.detached);
                let (id, keep) = (value.id, self.keeps(value.data.capacity()));
                // A refused value comes back reset (checked by the ledger) into `detached`.
                let kept = self
                    .ledger
                    .put_result(id, pool.put(value), &mut self.detached);
                assert_eq!(kept, keep, "put kept {id}: the caps say {keep}");
                if kept {
                    self.kept(id);
                }
            }
            Op::Trim => {
                let idle = self.ledger.idle();
                assert_eq!(
                    pool.trim(),
                    idle,
                    "one thread: trim reaches every idle object"
                );
                assert_eq!(self.ledger.sweep(), idle);
            }
            Op::TrimUnused => {
                let unused = self.unused();
                let before: BTreeSet<usize> = self.ledger.idle_ids().collect();
                let n = pool.trim_unused();
                self.ledger.sweep();
                let dropped: BTreeSet<usize> = (before.iter().copied())
                    .filter(|&id| !self.tracker.is_live(id))
                    .collect();
                assert_eq!(dropped.len(), n);
                assert!(
                    dropped.is_subset(&unused),
                    "dropped {dropped:?}, unused {unused:?}"
                );
                if self.thread_cache == 0 {
                    assert_eq!(dropped, unused, "every idle object is in the depot");
                }
                self.last_trim_unused = Some(self.now);
            }
            Op::Mutate { index, len, grow } if !self.guards.is_empty() => {
                let n = self.guards.len();
                mutate(&mut self.guards[index % n], len, grow);
            }
            _ => {}
        }
    }

    fn check(&mut self) {
        assert_stats!(NoPeak(self.pool), { peak_in_use: 0, ..self.ledger.stats() });
        assert!(self.pool.stats().peak_in_use <= self.ledger.expected.peak_in_use);
        assert_idle_bound(self.pool, self.max_idle, self.thread_cache, 1);
        // Nothing dropped behind the model's back: not a lent or owned object, not an idle one.
        assert_eq!(
            self.ledger.sweep(),
            0,
            "the pool dropped an idle object on its own"
        );
        let mut held = HashSet::new();
        for g in &self.guards {
            assert!(held.insert(g.id), "{} in two guards", g.id);
        }
        let live = self.ledger.idle() + self.guards.len() + self.detached.len();
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
        ledger: Ledger::new(&tracker),
        max_idle: config.0,
        thread_cache: config.1,
        kept_at: BTreeMap::new(),
        now: 0,
        last_trim_unused: None,
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
