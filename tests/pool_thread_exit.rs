//! Pools across thread exits: a thread that exits flushes its caches to the depot, and the
//! thread that takes its id starts from there, never from the exited thread's slot; pools used
//! from a thread-local destructor reach a cache of their own (or none), whether it runs after the
//! thread's hotpool handle is gone or before it, even while another thread has taken the exiting
//! thread's id. (The hit path of `Pool` finds the calling thread's cache slot through thread-local
//! "last-slot" entries holding the slot table's id, the slot's address and the thread's handle:
//! src/pool/thread.rs `with_last_slot` / `remember_slot`, src/pool/slots.rs
//! `ThreadSlots::with_remembered`; these tests fail if an entry outlives its thread's slot.)
//!
//! Each thread here uses the pools alone, so the pools' behaviour is exact: a `get` is served by
//! the object returned last if the previous operation on that pool returned one (the thread cache
//! and the depot are LIFO at the top), else by some idle object, else by the factory; nothing is
//! discarded but by `trim` (or by a `max_idle` that the test sets low on purpose). The pools and
//! their model are `support::tagged`.

mod support;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use hotpool::Pool;
use support::tagged::{assert_counts, bounded, build, unbounded, with_max_idle, Config, Tagged};
use support::Tracker;

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
