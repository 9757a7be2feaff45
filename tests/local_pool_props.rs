//! A model-based state machine test of `LocalPool`: random sequences of operations run against
//! the pool and against a plain model of what it must hold; after every step the stats, the set
//! of live objects and the identity of every handed-out object must agree.

mod common;
mod model_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{assert_stats, Tracked, Tracker};
use hotpool::{LocalOwnedPooled, LocalPool, LocalPooled, PoolStats};
use model_support::{config, mutate, op, Op, MAX_RETAINED};
use proptest::prelude::*;

const MAX_IDLE: usize = 3;
const MAX_OPS: usize = if cfg!(miri) { 24 } else { 64 };
/// Under miri, where a case takes seconds, 4 cases, as in the other models.
const CASES: u32 = if cfg!(miri) { 4 } else { 256 };

type Guard<'a> = model_support::Guard<LocalPooled<'a, Tracked>, LocalOwnedPooled<Tracked>>;

/// What the pool must hold: ids of idle objects (order unspecified) and the expected counters.
#[derive(Default)]
struct Model {
    idle: BTreeSet<usize>,
    /// Expected counters; `idle` is taken from `idle` when compared.
    counts: PoolStats,
}

impl Model {
    /// A guard was handed out with object `id`, made by the factory if `fresh`.
    fn lend(&mut self, id: usize, fresh: bool) {
        if fresh {
            assert!(
                self.idle.is_empty(),
                "made object {id} while {:?} idle",
                self.idle
            );
            self.counts.created += 1;
        } else {
            assert!(
                self.idle.remove(&id),
                "object {id} handed out but was not idle"
            );
            self.counts.reused += 1;
        }
        self.counts.in_use += 1;
        self.counts.peak_in_use = self.counts.peak_in_use.max(self.counts.in_use);
    }

    /// Object `id`, retaining `retained` bytes, comes back; returns whether it is kept.
    fn take_back(&mut self, id: usize, retained: usize) -> bool {
        let keep = retained <= MAX_RETAINED && self.idle.len() < MAX_IDLE;
        if keep {
            self.idle.insert(id);
            self.counts.returned += 1;
        }
        keep
    }
}

struct Harness<'a> {
    tracker: Arc<Tracker>,
    pool: &'a std::rc::Rc<LocalPool<Tracked>>,
    guards: Vec<Guard<'a>>,
    detached: Vec<Tracked>,
    model: Model,
    /// Every id the pool has handed out or been given so far.
    seen: BTreeSet<usize>,
}

impl<'a> Harness<'a> {
    /// Records a new guard, checking the object it holds.
    fn lent(&mut self, mut guard: Guard<'a>) {
        let obj = guard.obj();
        let fresh = self.seen.insert(obj.id);
        assert!(obj.data.is_empty(), "object {} handed out dirty", obj.id);
        self.model.lend(obj.id, fresh);
        self.guards.push(guard);
    }

    fn apply(&mut self, op: &Op) {
        let pool = self.pool;
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
                drop(guard);
                self.model.counts.in_use -= 1;
                if !self.model.take_back(id, retained) {
                    self.model.counts.discarded += 1;
                }
            }
            Op::Detach(i) if !self.guards.is_empty() => {
                let guard = self.guards.swap_remove(i % self.guards.len());
                let value = guard.detach(LocalPooled::detach, LocalOwnedPooled::detach);
                self.model.counts.in_use -= 1;
                self.model.counts.detached += 1;
                self.detached.push(value);
            }
            Op::Put => {
                let value = self.detached.pop().unwrap_or_else(|| self.tracker.make());
                let (id, retained) = (value.id, value.data.capacity());
                self.seen.insert(id);
                match pool.put(value) {
                    Ok(()) => assert!(self.model.take_back(id, retained), "put kept {id}"),
                    Err(back) => {
                        assert_eq!(back.id, id);
                        assert!(back.data.is_empty(), "handed back reset");
                        assert!(!self.model.take_back(id, retained), "put refused {id}");
                    }
                }
            }
            Op::Trim => {
                assert_eq!(pool.trim(), self.model.idle.len());
                self.model.counts.discarded += self.model.idle.len() as u64;
                self.model.idle.clear();
            }
            Op::Mutate { index, len, grow } if !self.guards.is_empty() => {
                let n = self.guards.len();
                mutate(self.guards[index % n].obj(), len, grow);
            }
            Op::Drop(_) | Op::Detach(_) | Op::Mutate { .. } => {} // no guard
            Op::TrimUnused => unreachable!("not drawn: `LocalPool` has no `trim_unused`"),
            Op::Send(_) => unreachable!("not drawn: one thread"),
        }
    }

    /// Compares the pool and the tracker with the model.
    fn check(&mut self) {
        let model = &self.model;
        assert_stats!(self.pool, { idle: model.idle.len(), ..model.counts });

        let held: Vec<usize> = self.guards.iter_mut().map(|g| g.obj().id).collect();
        let held_set: BTreeSet<usize> = held.iter().copied().collect();
        assert_eq!(
            held.len(),
            held_set.len(),
            "two guards share an object: {held:?}"
        );
        assert!(
            held_set.is_disjoint(&model.idle),
            "an object is both idle and in use"
        );

        let live: BTreeSet<usize> = (self.detached.iter().map(|t| t.id))
            .chain(held_set.iter().copied())
            .chain(model.idle.iter().copied())
            .collect();
        assert_eq!(self.tracker.live(), live.len(), "objects alive: {live:?}");
        assert!(live.iter().all(|&id| self.tracker.is_live(id)));
        self.tracker.assert_no_double_drop();
    }
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn local_pool_matches_the_model(ops in prop::collection::vec(op(false), 0..MAX_OPS)) {
        let tracker = Tracker::new();
        let pool = std::rc::Rc::new(
            LocalPool::builder(tracker.factory())
                .max_idle(MAX_IDLE)
                .max_retained_bytes(MAX_RETAINED)
                .build()
                .unwrap(),
        );
        let mut h = Harness {
            tracker: Arc::clone(&tracker),
            pool: &pool,
            guards: Vec::new(),
            detached: Vec::new(),
            model: Model::default(),
            seen: BTreeSet::new(),
        };
        for op in &ops {
            h.apply(op);
            h.check();
        }
        drop(h);
        drop(pool);
        tracker.assert_all_dropped_once();
    }
}
