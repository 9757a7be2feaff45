//! A model-based state machine test of `LocalPool`: random sequences of operations run against
//! the pool and against the reference model of a pool (`support::model::Ledger`, which the fuzz
//! targets drive too) with the `LocalPool` rules on top (what it keeps); after every step the
//! stats, the set of live objects and the identity of every handed-out object must agree.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use hotpool::{LocalOwnedPooled, LocalPool, LocalPooled};
use proptest::prelude::*;
use support::model::Ledger;
use support::ops::{config, mutate, op, Op, MAX_RETAINED};
use support::{assert_stats, Tracked, Tracker};

const MAX_IDLE: usize = 3;
const MAX_OPS: usize = if cfg!(miri) { 24 } else { 64 };
/// Under miri, where a case takes seconds, 4 cases, as in the other models.
const CASES: u32 = if cfg!(miri) { 4 } else { 256 };

type Guard<'a> = support::model::Guard<LocalPooled<'a, Tracked>, LocalOwnedPooled<Tracked>>;

struct Harness<'a> {
    tracker: Arc<Tracker>,
    pool: &'a std::rc::Rc<LocalPool<Tracked>>,
    guards: Vec<Guard<'a>>,
    detached: Vec<Tracked>,
    /// Where every object is and what the stats must say (the model the fuzz targets share).
    ledger: Ledger,
}

impl<'a> Harness<'a> {
    /// Whether the pool keeps an object retaining `retained` bytes that comes back now.
    fn keeps(&self, retained: usize) -> bool {
        retained <= MAX_RETAINED && self.ledger.idle() < MAX_IDLE
    }

    /// Records a new guard, checking the object it holds.
    fn lent(&mut self, guard: Guard<'a>) {
        let (id, idle) = (guard.id, self.ledger.idle());
        assert!(guard.data.is_empty(), "object {id} handed out dirty");
        let fresh = self.ledger.handed_out(id);
        assert!(!fresh || idle == 0, "made object {id} while {idle} idle");
        self.guards.push(guard);
    }

    fn apply(&mut self, op: &Op) {
        let pool = self.pool;
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
                assert_eq!(self.ledger.guard_ended(id), keep, "object {id} kept");
            }
            Op::Detach(i) if !self.guards.is_empty() => {
                let guard = self.guards.swap_remove(i % self.guards.len());
                let id = guard.id;
                let value = guard.detach(LocalPooled::detach, LocalOwnedPooled::detach);
                self.ledger.detached(id);
                self.detached.push(value);
            }
            Op::Put => {
                let value = self.ledger.take_last_own(&mut self.detached);
                let (id, keep) = (value.id, self.keeps(value.data.capacity()));
                let kept = self
                    .ledger
                    .put_result(id, pool.put(value), &mut self.detached);
                assert_eq!(kept, keep, "put kept {id}");
                if !kept {
                    // Handed back reset (checked by the ledger), then dropped.
                    let back = self.detached.pop().expect("the refused value");
                    self.ledger.drop_own(back);
                }
            }
            Op::Trim => {
                let idle = self.ledger.idle();
                assert_eq!(pool.trim(), idle);
                assert_eq!(self.ledger.sweep(), idle, "trim dropped every idle object");
            }
            Op::Mutate { index, len, grow } if !self.guards.is_empty() => {
                let n = self.guards.len();
                mutate(&mut self.guards[index % n], len, grow);
            }
            Op::Drop(_) | Op::Detach(_) | Op::Mutate { .. } => {} // no guard
            Op::TrimUnused => unreachable!("not drawn: `LocalPool` has no `trim_unused`"),
            Op::Send(_) => unreachable!("not drawn: one thread"),
        }
    }

    /// Compares the pool and the tracker with the model.
    fn check(&mut self) {
        // Every field exact: one thread, no cap, so `peak_in_use` is exact and nothing waits.
        assert_stats!(self.pool, { ..self.ledger.stats() });
        // Every object is where the ledger put it: none dropped while lent or owned here, none
        // idle dropped on the pool's own, and the factory ran only when the ledger saw it.
        assert_eq!(
            self.ledger.sweep(),
            0,
            "the pool dropped an idle object on its own"
        );

        let held: Vec<usize> = self.guards.iter().map(|g| g.id).collect();
        let held_set: BTreeSet<usize> = held.iter().copied().collect();
        assert_eq!(
            held.len(),
            held_set.len(),
            "two guards share an object: {held:?}"
        );

        let live: BTreeSet<usize> = (self.detached.iter().map(|t| t.id))
            .chain(held_set.iter().copied())
            .collect();
        let idle = self.ledger.idle();
        assert_eq!(
            self.tracker.live(),
            live.len() + idle,
            "objects alive: {live:?} and {idle} idle"
        );
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
            ledger: Ledger::new(&tracker),
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
