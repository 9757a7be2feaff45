//! Several pools used by one thread: each pool reaches its own cache slot and no other. (The
//! hit path of `Pool` finds the calling thread's cache slot through two thread-local "last-slot"
//! entries, one for unbounded pools, one for bounded ones, each holding the id of the slot table
//! used last, the slot's address and the thread's handle: src/pool/thread.rs `with_last_slot` /
//! `remember_slot`, src/pool/slots.rs `ThreadSlots::with_remembered`.) These tests fail if a pool
//! is ever sent to a slot that is not its own, or to a slot that is no longer there:
//!
//! - several pools of both kinds (and without a thread cache) interleaved on one thread, in many
//!   orders: every object a pool hands out is its own (each factory tags its objects), the one
//!   returned last comes out first, and every pool's stats are exact;
//! - pools dropped and rebuilt many times, each right after being the thread's last pool (so its
//!   entry is stale): the new pool starts empty, sometimes with a pool of the other kind living in
//!   the freed memory;
//! - a property test of random operations on four pools against a model.
//!
//! Each thread here uses the pools alone, so the pools' behaviour is exact: a `get` is served by
//! the object returned last if the previous operation on that pool returned one (the thread cache
//! and the depot are LIFO at the top), else by some idle object, else by the factory; nothing is
//! discarded but by `trim` (or by a `max_idle` that the test sets low on purpose). The pools and
//! their model are `support::tagged`.

mod support;

use std::collections::BTreeMap;

use hotpool::{OwnedPooled, Pool};
use proptest::prelude::*;
use support::tagged::{bounded, build, unbounded, Config, Model, Pools, Tagged};
use support::Tracker;

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
    #![proptest_config(support::ops::config(CASES))]

    #[test]
    fn random_operations_on_several_pools_match_the_model(
        ops in prop::collection::vec(op(), 1..MAX_OPS)
    ) {
        run_ops(&ops);
    }
}
