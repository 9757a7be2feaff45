//! Fuzzes `LocalPool` with a sequence of operations checked against an exact model.
//!
//! The input is a small configuration (`max_idle` 1..=16, `prefill` up to it, a retained-bytes
//! cap of 8..=64) and a list of [`Op`]s: `get`/`try_get` (borrowed or `Rc`-owned guards),
//! writes into held objects (which may grow them past the cap), guard drops, `detach`, `put`
//! (of detached objects or new ones), dropping detached objects, and `trim`.
//!
//! `LocalPool` is one thread and a LIFO stack of idle objects, so the model predicts every
//! outcome exactly: which object each `get` returns (by id: the newest idle one, or a fresh one
//! from the factory), whether each returned or `put` object is kept (its capacity within the cap
//! and fewer than `max_idle` idle) and how many objects `trim` drops. After every op it checks:
//!
//! - objects come out of the pool reset, and each held object keeps its id and payload;
//! - the [`Ledger`] (shared with `pool_ops`): no object lent twice, none dropped while lent or
//!   owned by the harness, none dropped twice; every `PoolStats` field equal to the model,
//!   `peak_in_use` included; `idle <= max_idle`;
//! - at the end, with the pool dropped (after its last `Rc`-owned guard), every object ever
//!   made was dropped exactly once.
#![no_main]

use std::rc::Rc;

use arbitrary::Arbitrary;
use hotpool::{LocalOwnedPooled, LocalPool, LocalPooled};
use hotpool_fuzz::guards::{drop_borrowed, Held};
use hotpool_fuzz::model::{pick, Guard, Ledger};
use hotpool_fuzz::tracker::{Tracked, Tracker};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    max_idle: u8,
    prefill: u8,
    max_retained: u8,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Get {
        owned: bool,
    },
    TryGet {
        owned: bool,
    },
    Write {
        guard: u8,
        byte: u8,
        len: u8,
    },
    DropGuard {
        guard: u8,
    },
    Detach {
        guard: u8,
    },
    /// `put` an object the harness owns, or a new one if it owns none.
    Put {
        own: u8,
    },
    DropOwn {
        own: u8,
    },
    Trim,
}

type Pooled<'p> = Guard<LocalPooled<'p, Tracked>, LocalOwnedPooled<Tracked>>;

/// The harness's side of one run: the pool, what the harness holds, and the model.
struct Run<'p> {
    pool: &'p Rc<LocalPool<Tracked>>,
    max_idle: usize,
    max_retained: usize,
    held: Vec<Held<Pooled<'p>>>,
    own: Vec<Tracked>,
    /// The pool's idle objects in LIFO order, by id.
    idle: Vec<usize>,
    ledger: Ledger,
}

impl<'p> Run<'p> {
    /// Applies `op`; returns how many idle objects the pool must have dropped.
    fn apply(&mut self, op: &Op) -> usize {
        match *op {
            Op::Get { owned } => {
                let guard = if owned {
                    Guard::Owned(self.pool.get_owned())
                } else {
                    Guard::Borrowed(self.pool.get())
                };
                self.lend(guard, true);
            }
            Op::TryGet { owned } => {
                let guard = if owned {
                    self.pool.try_get_owned().map(Guard::Owned)
                } else {
                    self.pool.try_get().map(Guard::Borrowed)
                };
                assert_eq!(guard.is_some(), !self.idle.is_empty(), "try_get vs idle");
                if let Some(guard) = guard {
                    self.lend(guard, false);
                }
            }
            Op::Write { guard, byte, len } => {
                if let Some(i) = pick(&self.held, guard) {
                    self.held[i].write(byte, usize::from(len % 64));
                }
            }
            Op::DropGuard { guard } => {
                if let Some(i) = pick(&self.held, guard) {
                    let held = self.held.swap_remove(i);
                    let keep = self.would_keep(held.retained());
                    let id = held.id();
                    drop(held.into_guard());
                    assert_eq!(self.ledger.guard_ended(id), keep, "object {id} kept?");
                    if keep {
                        self.idle.push(id);
                    }
                }
            }
            Op::Detach { guard } => {
                if let Some(i) = pick(&self.held, guard) {
                    let held = self.held.swap_remove(i);
                    let id = held.id();
                    let obj = match held.into_guard() {
                        Guard::Borrowed(g) => LocalPooled::detach(g),
                        Guard::Owned(g) => LocalOwnedPooled::detach(g),
                    };
                    assert_eq!(obj.id, id);
                    self.ledger.detached(id);
                    self.own.push(obj);
                }
            }
            Op::Put { own } => {
                let obj = self.ledger.take_own(&mut self.own, own);
                let (id, keep) = (obj.id, self.would_keep(obj.data.capacity()));
                let kept = self
                    .ledger
                    .put_result(id, self.pool.put(obj), &mut self.own);
                assert_eq!(kept, keep, "put of object {id} kept?");
                if kept {
                    self.idle.push(id);
                }
            }
            Op::DropOwn { own } => self.ledger.drop_own_at(&mut self.own, own),
            Op::Trim => {
                assert_eq!(self.pool.trim(), self.idle.len());
                return std::mem::take(&mut self.idle).len();
            }
        }
        0
    }

    fn lend(&mut self, guard: Pooled<'p>, may_create: bool) {
        let expected = self.idle.pop();
        let (held, fresh) = Held::lend(guard, &mut self.ledger);
        match expected {
            Some(id) => assert_eq!(held.id(), id, "not the newest idle object"),
            None => assert!(fresh && may_create, "object {} out of nowhere", held.id()),
        }
        self.held.push(held);
    }

    /// Whether the pool keeps an object retaining `retained` bytes that comes back now.
    fn would_keep(&self, retained: usize) -> bool {
        retained <= self.max_retained && self.idle.len() < self.max_idle
    }

    /// What the harness holds, and the model; the rest (which borrows the pool) is dropped.
    fn into_parts(self) -> (Vec<Held<Pooled<'p>>>, Vec<Tracked>, Ledger) {
        (self.held, self.own, self.ledger)
    }

    fn check(&mut self, discarded: usize) {
        assert_eq!(self.ledger.sweep(), discarded, "idle objects dropped");
        let stats = self.pool.stats();
        self.ledger.check(&stats, 0);
        assert!(stats.idle <= self.max_idle);
        self.held.iter().for_each(Held::verify);
    }
}

fuzz_target!(|input: Input| {
    let max_idle = 1 + usize::from(input.max_idle % 16);
    let prefill = usize::from(input.prefill) % (max_idle + 1);
    let max_retained = 8 + usize::from(input.max_retained % 57);
    let tracker = Tracker::strict();
    let mut ledger = Ledger::new(&tracker);
    let pool = LocalPool::builder(tracker.factory())
        .max_idle(max_idle)
        .prefill(prefill)
        .max_retained_bytes(max_retained)
        .build()
        .expect("a valid configuration");
    let pool = Rc::new(pool);
    ledger.prefilled(prefill);
    let mut run = Run {
        pool: &pool,
        max_idle,
        max_retained,
        held: Vec::new(),
        own: Vec::new(),
        idle: (0..prefill).collect(),
        ledger,
    };
    run.check(0);
    for op in &input.ops {
        let discarded = run.apply(op);
        run.check(discarded);
    }

    // Teardown: borrowed guards first (they borrow the pool), then the pool itself while
    // `Rc`-owned guards may still keep it alive, then those guards: the last one drops it.
    let (held, own, mut ledger) = run.into_parts();
    let owned = drop_borrowed(held, &mut ledger);
    let weak = Rc::downgrade(&pool);
    drop(pool);
    if owned.is_empty() {
        ledger.pool_dropped();
    } else {
        assert_eq!(ledger.sweep(), 0, "the pool lives on in its owned guards");
    }
    drop(owned);
    assert!(
        weak.upgrade().is_none(),
        "the last owned guard dropped the pool"
    );
    drop(own);
    tracker.assert_all_dropped_once();
});
