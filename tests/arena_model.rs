//! A model-based state machine test of nested arena scopes: random programs of enter / exit /
//! allocate run against the arenas; the model is the count of values with destructors each open
//! scope owes. After every exit, exactly the values of the scopes that ended must have been
//! dropped, and every value of the scopes still open must read back unchanged.

mod support;

use std::alloc::Layout;
use std::sync::Arc;

use hotpool::arena::{self, ArenaConfig, Scope};
use proptest::prelude::*;
use support::{Tracked, Tracker};

const MAX_OPS: usize = if cfg!(miri) { 24 } else { 96 };

#[derive(Debug, Clone)]
enum Op {
    Enter,
    Exit,
    /// A value with a destructor.
    AllocTracked,
    /// A value without drop glue, holding `tag`.
    AllocPlain(u64),
    /// A slice of `len` values with destructors.
    AllocSlice(usize),
    /// A growing bumpalo `Vec` of `len` tags, dropped before the next op.
    Vec(usize),
    /// `kib` KiB of raw space, to force new chunks and oversized arenas.
    Spike(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Enter),
        3 => Just(Op::Exit),
        4 => Just(Op::AllocTracked),
        3 => any::<u64>().prop_map(Op::AllocPlain),
        2 => (0..6usize).prop_map(Op::AllocSlice),
        1 => (0..40usize).prop_map(Op::Vec),
        1 => (1..96usize).prop_map(Op::Spike),
    ]
}

/// What a scope allocated, kept to check it is intact later.
#[derive(Default)]
struct Owned<'s> {
    tracked: Vec<(&'s Tracked, usize)>,
    plain: Vec<(&'s u64, u64)>,
}

impl Owned<'_> {
    fn assert_intact(&self, tracker: &Tracker) {
        for &(value, id) in &self.tracked {
            assert_eq!(value.id, id);
            assert!(
                tracker.is_live(id),
                "value {id} dropped while its scope is open"
            );
        }
        for &(value, tag) in &self.plain {
            assert_eq!(*value, tag);
        }
    }
}

/// Runs ops in scope `s` until an `Exit` or the end; returns how many values with destructors
/// it and its nested scopes allocated: all are dropped by the time `s` has ended.
fn run(
    s: &Scope<'_>,
    ops: &mut std::slice::Iter<'_, Op>,
    tracker: &Arc<Tracker>,
    enters: &mut u64,
) -> usize {
    let mut owned = Owned::default();
    let mut nested = 0;
    while let Some(op) = ops.next() {
        match *op {
            Op::Enter => {
                *enters += 1;
                let dropped_before = tracker.dropped();
                let owed = arena::scope(|inner| run(inner, ops, tracker, enters));
                assert_eq!(
                    tracker.dropped() - dropped_before,
                    owed,
                    "inner scope drops"
                );
                nested += owed;
            }
            Op::Exit => break,
            Op::AllocTracked => {
                let value = s.alloc(tracker.make());
                owned.tracked.push((value, value.id));
            }
            Op::AllocPlain(tag) => owned.plain.push((s.alloc(tag), tag)),
            Op::AllocSlice(len) => {
                let slice = s.alloc_slice_fill_iter((0..len).map(|_| tracker.make()));
                owned.tracked.extend(slice.iter().map(|v| (v, v.id)));
            }
            Op::Vec(len) => {
                let mut v = s.vec();
                v.extend((0..len as u64).map(|i| i * 3));
                assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 3));
            }
            Op::Spike(kib) => {
                s.bump()
                    .alloc_layout(Layout::from_size_align(kib * 1024, 8).unwrap());
            }
        }
        owned.assert_intact(tracker);
    }
    owned.tracked.len() + nested
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Under miri, where a case takes seconds, 4 cases, as in the other models.
        #[cfg(miri)]
        cases: 4,
        #[cfg(miri)]
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn nested_scopes_drop_exactly_what_they_own(
        ops in prop::collection::vec(op(), 0..MAX_OPS),
        max_retained_kib in 16..256usize,
        max_idle_arenas in 0..4usize,
    ) {
        arena::configure(ArenaConfig {
            max_retained_bytes: max_retained_kib * 1024,
            max_idle_arenas,
            ..ArenaConfig::default()
        })
        .unwrap();
        let tracker = Tracker::new();
        let before = arena::stats();
        let mut enters = 0;
        let mut ops = ops.iter();
        // The top level is a scope too; leftover ops after its `Exit` open new top-level scopes.
        while ops.len() > 0 {
            enters += 1;
            let dropped_before = tracker.dropped();
            let owed = arena::scope(|s| run(s, &mut ops, &tracker, &mut enters));
            prop_assert_eq!(tracker.dropped() - dropped_before, owed);
        }
        tracker.assert_all_dropped_once();
        let after = arena::stats();
        prop_assert_eq!(after.scopes_entered - before.scopes_entered, enters);
        prop_assert!(after.idle_arenas <= max_idle_arenas);
        prop_assert!(after.retained_bytes <= after.idle_arenas * max_retained_kib * 1024);
    }
}
