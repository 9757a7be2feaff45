//! Review attacks on the owned-guard teardown (issue 20, fix A): owned guards dropped on several
//! threads while `Pool` handles are cloned and dropped, in every order around the last handle,
//! from user code (`T::drop`, the recycle policy), from thread-local destructors, with panics,
//! with threads exiting, and through the periodic tally hand-over (`COLLECT_EVERY`).
//!
//! Each scenario checks, from outside the pool:
//! - the pool is alive while a guard or handle is (a reference counted twice would free it early:
//!   then ASan/TSan/miri report the use after free, and the witness below drops too soon);
//! - the pool is freed once the last handle and guard are gone (a reference lost leaks it: the
//!   factory's witness is never dropped);
//! - every object made is dropped exactly once.
//!
//! Rounds: `HOTPOOL_RACE_ROUNDS` (default 200; 1 under miri). Each round is a fresh pool.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;

use hotpool::{OwnedPooled, Pool, Recycle};

/// Iterations of the loops inside one round of the bounded-pool scenarios.
const LOOPS: usize = if cfg!(miri) { 10 } else { 2_000 };

fn rounds() -> usize {
    if cfg!(miri) {
        return 1;
    }
    std::env::var("HOTPOOL_RACE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

/// Counts made and dropped objects; the factory holds `witness` (so a pool holds it until freed).
#[derive(Default)]
struct Books {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

/// A pooled object that can carry user code into the pool's paths.
struct Obj {
    books: Arc<Books>,
    /// Dropped inside `reset` (the recycle policy): may be the pool's last handle.
    handle_on_reset: Option<Pool<Obj>>,
    /// Dropped inside `T::drop` (set `refuse` too, so the policy discards the object).
    handle_on_drop: Option<Pool<Obj>>,
    /// The policy refuses the object (it is dropped).
    refuse: bool,
    panic_on_reset: bool,
    panic_on_drop: bool,
    dirty: bool,
}

impl Recycle for Obj {
    fn reset(&mut self) {
        drop(self.handle_on_reset.take());
        self.dirty = false;
        if std::mem::take(&mut self.panic_on_reset) {
            panic!("reset panics on purpose");
        }
    }
    fn retained_bytes(&self) -> usize {
        if self.refuse {
            usize::MAX
        } else {
            0
        }
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        drop(self.handle_on_drop.take());
        self.books.dropped.fetch_add(1, SeqCst);
        if self.panic_on_drop {
            panic!("drop panics on purpose");
        }
    }
}

struct Setup {
    pool: Pool<Obj>,
    books: Arc<Books>,
    witness: Arc<()>,
}

fn setup(thread_cache: usize, max_idle: usize, max_live: Option<usize>) -> Setup {
    let books = Arc::new(Books::default());
    let witness = Arc::new(());
    let (b, w) = (Arc::clone(&books), Arc::clone(&witness));
    let mut builder = Pool::builder(move || {
        let _ = &w;
        b.made.fetch_add(1, SeqCst);
        Obj {
            books: Arc::clone(&b),
            handle_on_reset: None,
            handle_on_drop: None,
            refuse: false,
            panic_on_reset: false,
            panic_on_drop: false,
            dirty: false,
        }
    })
    .thread_cache(thread_cache)
    .max_idle(max_idle);
    if let Some(n) = max_live {
        builder = builder.max_live(n);
    }
    Setup {
        pool: builder.build().unwrap(),
        books,
        witness,
    }
}

fn use_obj(obj: &mut Obj) {
    assert!(!obj.dirty, "handed out without reset");
    obj.dirty = true;
}

/// The pool is still alive (its factory still holds the witness).
fn alive(witness: &Arc<()>) -> bool {
    Arc::strong_count(witness) == 2
}

/// After everything is gone: freed, and every object dropped once.
fn assert_freed(witness: &Arc<()>, books: &Books, what: &str) {
    assert_eq!(Arc::strong_count(witness), 1, "{what}: pool not freed");
    assert_eq!(
        books.made.load(SeqCst),
        books.dropped.load(SeqCst),
        "{what}: made vs dropped"
    );
}

/// A tiny deterministic generator, so a failing round can be replayed by its number.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Spins a little (a few hundred instructions at most), to shift threads against each other.
/// Joins a round's worker threads, then checks the pool was freed with every object dropped.
fn join_then_assert_freed(
    workers: Vec<thread::JoinHandle<()>>,
    witness: &Arc<()>,
    books: &Books,
    round: usize,
) {
    for w in workers {
        w.join().unwrap();
    }
    assert_freed(witness, books, &format!("round {round}"));
}

fn jitter(rng: &mut Rng) {
    for _ in 0..rng.below(200) {
        std::hint::spin_loop();
    }
}

#[test]
fn four_threads_drop_owned_guards_while_handles_are_cloned_and_dropped() {
    const THREADS: usize = 4;
    for round in 0..rounds() {
        let thread_cache = [0, 1, 2, 32][round % 4];
        let Setup {
            pool,
            books,
            witness,
        } = setup(thread_cache, 16, None);
        let barrier = Arc::new(Barrier::new(THREADS + 1));
        let mut workers = Vec::new();
        let held = Arc::new(AtomicUsize::new(0));
        for t in 0..THREADS {
            let handle = pool.clone();
            // Some guards taken here (their references come from this thread's batch), some
            // taken there.
            let mut guards: Vec<OwnedPooled<Obj>> = (0..t + 1).map(|_| pool.get_owned()).collect();
            let (barrier, held) = (Arc::clone(&barrier), Arc::clone(&held));
            workers.push(thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9 ^ ((round as u64) << 8) ^ (t as u64 + 1));
                for g in &mut guards {
                    use_obj(g);
                }
                // Take a few more through a clone, so this thread has spares and a tally.
                let clone = handle.clone();
                for _ in 0..rng.below(4) {
                    let mut g = clone.get_owned();
                    use_obj(&mut g);
                    if rng.below(2) == 0 {
                        guards.push(g);
                    }
                }
                barrier.wait();
                jitter(&mut rng);
                // Drop order: handles and guards in a random interleaving.
                let mut handles = vec![handle, clone];
                while !handles.is_empty() || !guards.is_empty() {
                    let pick_handle =
                        !handles.is_empty() && (guards.is_empty() || rng.below(3) == 0);
                    if pick_handle {
                        let i = rng.below(handles.len() as u64) as usize;
                        drop(handles.swap_remove(i));
                    } else {
                        let i = rng.below(guards.len() as u64) as usize;
                        drop(guards.swap_remove(i));
                    }
                }
                held.fetch_add(1, SeqCst);
            }));
        }
        let mut rng = Rng(round as u64 + 7);
        barrier.wait();
        jitter(&mut rng);
        drop(pool);
        join_then_assert_freed(workers, &witness, &books, round);
    }
}

#[test]
fn a_guard_kept_after_every_handle_keeps_the_pool_while_others_race() {
    // Counted twice anywhere, a reference would bring `issued` to 0 while this guard lives.
    for round in 0..rounds() {
        let Setup {
            pool,
            books,
            witness,
        } = setup([1, 2, 32][round % 3], 16, None);
        let keeper = pool.get_owned();
        let barrier = Arc::new(Barrier::new(4));
        let workers: Vec<_> = (0..3)
            .map(|t| {
                let handle = pool.clone();
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    let mut rng = Rng(round as u64 * 31 + t + 1);
                    let guards: Vec<_> =
                        (0..1 + rng.below(70)).map(|_| handle.get_owned()).collect();
                    barrier.wait();
                    jitter(&mut rng);
                    if t == 0 {
                        drop(handle);
                        drop(guards);
                    } else {
                        drop(guards);
                        drop(handle);
                    }
                })
            })
            .collect();
        barrier.wait();
        drop(pool);
        for w in workers {
            w.join().unwrap();
        }
        assert!(alive(&witness), "round {round}: freed while a guard lives");
        drop(keeper);
        assert_freed(&witness, &books, &format!("round {round}"));
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "over 2,048 drops per thread: minutes under miri; the native, TSan and ASan runs cover it"
)]
fn the_collect_every_hand_over_races_the_close() {
    // A thread that only drops owned guards hands its tally to the depot every 1024 releases,
    // taking the depot lock, which the last handle holds while it waits out odd tallies.
    let rounds = rounds().min(60);
    for round in 0..rounds {
        let Setup {
            pool,
            books,
            witness,
        } = setup(if round % 2 == 0 { 4 } else { 0 }, 4, None);
        // Enough guards for two or three hand-overs on each dropping thread.
        let n = 1024 * 2 + 37 * round % 1024;
        let batches: Vec<Vec<OwnedPooled<Obj>>> = (0..2)
            .map(|_| (0..n).map(|_| pool.get_owned()).collect())
            .collect();
        let barrier = Arc::new(Barrier::new(3));
        let workers: Vec<_> = batches
            .into_iter()
            .map(|guards| {
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    drop(guards);
                })
            })
            .collect();
        barrier.wait();
        let mut rng = Rng(round as u64 + 99);
        // Somewhere in the middle of the drops.
        for _ in 0..rng.below(20_000) {
            std::hint::spin_loop();
        }
        drop(pool);
        join_then_assert_freed(workers, &witness, &books, round);
    }
}

/// One round: `arm` hands the pool's last handle to `carrier`, an owned guard whose return drops
/// it; then `carrier` and eight other guards drop at once on two threads.
fn last_handle_carried_by_a_guard(
    round: usize,
    arm: impl FnOnce(&mut OwnedPooled<Obj>, Pool<Obj>),
) {
    let Setup {
        pool,
        books,
        witness,
    } = setup([1, 2, 32][round % 3], 16, None);
    let others: Vec<_> = (0..8).map(|_| pool.get_owned()).collect();
    let mut carrier = pool.get_owned();
    arm(&mut carrier, pool);
    let barrier = Arc::new(Barrier::new(3));
    let b = Arc::clone(&barrier);
    let t1 = thread::spawn(move || {
        b.wait();
        drop(carrier);
    });
    let b = Arc::clone(&barrier);
    let t2 = thread::spawn(move || {
        b.wait();
        drop(others);
    });
    barrier.wait();
    join_then_assert_freed(vec![t1, t2], &witness, &books, round);
}

#[test]
fn the_last_handle_goes_inside_t_drop_of_a_guarded_object_while_other_guards_drop() {
    for round in 0..rounds() {
        last_handle_carried_by_a_guard(round, |carrier, pool| {
            carrier.refuse = true; // recycle refuses: `T::drop` drops the last handle
            carrier.handle_on_drop = Some(pool);
        });
    }
}

#[test]
fn the_last_handle_goes_inside_the_recycle_policy_while_other_guards_drop() {
    for round in 0..rounds() {
        last_handle_carried_by_a_guard(round, |carrier, pool| {
            carrier.handle_on_reset = Some(pool); // dropped by the policy's reset
        });
    }
}

#[test]
fn panics_in_reset_and_drop_while_the_last_handle_goes() {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for round in 0..rounds() {
        let Setup {
            pool,
            books,
            witness,
        } = setup([1, 2, 32][round % 3], 16, None);
        let mut resets: Vec<_> = (0..4).map(|_| pool.get_owned()).collect();
        for g in &mut resets {
            g.panic_on_reset = true;
        }
        let mut drops: Vec<_> = (0..4).map(|_| pool.get_owned()).collect();
        for g in &mut drops {
            g.refuse = true;
            g.panic_on_drop = true;
        }
        // The last handle itself goes inside a panicking T::drop.
        let mut carrier = pool.get_owned();
        carrier.refuse = true;
        carrier.panic_on_drop = true;
        carrier.handle_on_drop = Some(pool.clone());
        let barrier = Arc::new(Barrier::new(4));
        let spawn = |guards: Vec<OwnedPooled<Obj>>, barrier: Arc<Barrier>| {
            thread::spawn(move || {
                barrier.wait();
                for g in guards {
                    assert!(catch_unwind(AssertUnwindSafe(|| drop(g))).is_err());
                }
            })
        };
        let t1 = spawn(resets, Arc::clone(&barrier));
        let t2 = spawn(drops, Arc::clone(&barrier));
        let t3 = spawn(vec![carrier], Arc::clone(&barrier));
        barrier.wait();
        drop(pool);
        for t in [t1, t2, t3] {
            t.join().unwrap();
        }
        assert_freed(&witness, &books, &format!("round {round}"));
    }
    std::panic::set_hook(quiet);
}

thread_local! {
    static LAST_HANDLE: RefCell<Option<Pool<Obj>>> = const { RefCell::new(None) };
    static LATE_GUARDS: RefCell<Vec<OwnedPooled<Obj>>> = const { RefCell::new(Vec::new()) };
}

#[test]
fn the_last_handle_goes_in_a_thread_local_destructor_while_guards_drop_elsewhere() {
    for round in 0..rounds() {
        let Setup {
            pool,
            books,
            witness,
        } = setup([1, 2, 32][round % 3], 16, None);
        let guards: Vec<_> = (0..20).map(|_| pool.get_owned()).collect();
        let handle = pool.clone();
        let (go, wait) = mpsc::channel::<()>();
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let exiting = thread::spawn(move || {
            // This thread used the pool (a slot, an exit hook), then keeps the last handle in a
            // thread-local, whose destructor closes the pool.
            drop(handle.get_owned());
            LAST_HANDLE.with(|h| *h.borrow_mut() = Some(handle));
            wait.recv().unwrap();
        });
        let dropper = thread::spawn(move || {
            b.wait();
            drop(guards);
        });
        drop(pool);
        go.send(()).unwrap();
        barrier.wait();
        exiting.join().unwrap();
        dropper.join().unwrap();
        assert_freed(&witness, &books, &format!("round {round}"));
    }
}

#[test]
fn guards_dropped_by_thread_local_destructors_around_the_thread_handle_race_the_close() {
    // `LATE_GUARDS` registered before the pool's thread handle (so destroyed after it, as
    // destructors run in reverse order of registration) or after (destroyed before it).
    for round in 0..rounds() {
        let Setup {
            pool,
            books,
            witness,
        } = setup([1, 2, 32][round % 3], 16, None);
        let barrier = Arc::new(Barrier::new(3));
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let handle = pool.clone();
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    if t == 0 {
                        LATE_GUARDS.with(|g| g.borrow_mut().reserve(8)); // registered first
                    }
                    let guards: Vec<_> = (0..8).map(|_| handle.get_owned()).collect();
                    drop(handle.get_owned()); // a tally and spares in this thread's slot
                    LATE_GUARDS.with(|g| g.borrow_mut().extend(guards));
                    drop(handle);
                    barrier.wait();
                    // Exits: its thread-locals drop the guards.
                })
            })
            .collect();
        barrier.wait();
        drop(pool);
        join_then_assert_freed(workers, &witness, &books, round);
    }
}

#[test]
fn threads_exit_with_full_caches_while_the_last_handle_closes() {
    for round in 0..rounds() {
        let Setup {
            pool,
            books,
            witness,
        } = setup(4, 2, None); // exit flushes overflow: objects dropped in the exit hook
        let keep = pool.get_owned();
        let barrier = Arc::new(Barrier::new(4));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let handle = pool.clone();
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    let guards: Vec<_> = (0..6).map(|_| handle.get_owned()).collect();
                    drop(guards); // a full cache, a tally, spares
                    drop(handle);
                    barrier.wait();
                })
            })
            .collect();
        barrier.wait();
        drop(pool);
        let t = thread::spawn(move || drop(keep));
        for w in workers {
            w.join().unwrap();
        }
        t.join().unwrap();
        assert_freed(&witness, &books, &format!("round {round}"));
    }
}

/// How long a worker of the bounded races waits for an object before it tries again.
const WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// Owned guards of `pool`, up to `k` of them: those it hands out within [`WAIT`] each.
fn take_owned_within(pool: &Pool<Obj>, k: usize) -> Vec<OwnedPooled<Obj>> {
    (0..k)
        .filter_map(|_| pool.get_owned_timeout(WAIT).ok())
        .collect()
}

/// A thread with its own handle of `pool` that runs `round` until `stop` is set or `limit`
/// rounds are done.
fn spawn_until_stopped(
    pool: &Pool<Obj>,
    stop: &Arc<AtomicBool>,
    limit: usize,
    mut round: impl FnMut(&Pool<Obj>) + Send + 'static,
) -> thread::JoinHandle<()> {
    let (handle, stop) = (pool.clone(), Arc::clone(stop));
    thread::spawn(move || {
        let mut n = 0;
        while !stop.load(SeqCst) && n < limit {
            round(&handle);
            n += 1;
        }
    })
}

#[test]
fn a_bounded_pool_at_its_cap_steals_while_owned_guards_drop_threads_exit_and_the_last_handle_goes()
{
    const MAX_LIVE: usize = 6;
    let rounds = rounds().min(100);
    for round in 0..rounds {
        let Setup {
            pool,
            books,
            witness,
        } = setup(4, 8, Some(MAX_LIVE));
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        // Droppers: take owned guards up to the cap and drop them (tallies in progress while
        // thieves collect), then exit with whatever is in their caches.
        for t in 0..2 {
            let mut rng = Rng(round as u64 * 7 + t + 1);
            workers.push(spawn_until_stopped(&pool, &stop, LOOPS, move |handle| {
                let k = 1 + rng.below(3) as usize;
                drop(take_owned_within(handle, k));
            }));
        }
        // A waiter that keeps hitting the cap (its first wait steals every cache).
        workers.push(spawn_until_stopped(&pool, &stop, LOOPS, |handle| {
            let held: Vec<_> = (0..MAX_LIVE)
                .filter_map(|_| handle.get_timeout(WAIT).ok())
                .collect();
            drop(held);
        }));
        // Short-lived threads that fill their caches and exit (exit flush under the lock).
        workers.push(spawn_until_stopped(&pool, &stop, LOOPS / 40, |handle| {
            let h = handle.clone();
            thread::spawn(move || drop(take_owned_within(&h, 2)))
                .join()
                .unwrap();
        }));
        // A guard that outlives every handle, dropped on a thread of its own.
        let late = pool
            .get_owned_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        thread::sleep(std::time::Duration::from_micros(
            200 + (round as u64 % 7) * 300,
        ));
        drop(pool);
        let late = thread::spawn(move || drop(late));
        stop.store(true, SeqCst);
        for w in workers {
            w.join().unwrap();
        }
        late.join().unwrap();
        assert_freed(&witness, &books, &format!("round {round}"));
    }
}

#[test]
fn a_thief_collects_tallies_while_releases_are_in_progress_and_nothing_is_lost_or_counted_twice() {
    // The thief (first waiter) counts completed releases only. If a release in progress were
    // counted, or counted again later, `issued` would reach 0 while `keeper` lives (freed early);
    // if one were lost, the pool would never be freed.
    const MAX_LIVE: usize = 4;
    let rounds = rounds().min(100);
    for round in 0..rounds {
        let Setup {
            pool,
            books,
            witness,
        } = setup(2, 4, Some(MAX_LIVE));
        let keeper = pool.get_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let dropper = {
            let handle = pool.clone();
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(SeqCst) {
                    if let Ok(g) = handle.get_owned_timeout(std::time::Duration::from_millis(20)) {
                        drop(g);
                        n += 1;
                    }
                }
                n
            })
        };
        let thief = {
            let handle = pool.clone();
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for _ in 0..LOOPS / 7 {
                    let held: Vec<_> = (0..MAX_LIVE - 1)
                        .filter_map(|_| {
                            handle
                                .get_timeout(std::time::Duration::from_millis(20))
                                .ok()
                        })
                        .collect();
                    drop(held);
                }
                stop.store(true, SeqCst);
            })
        };
        thief.join().unwrap();
        dropper.join().unwrap();
        drop(pool);
        assert!(alive(&witness), "round {round}: freed while a guard lives");
        drop(keeper);
        assert_freed(&witness, &books, &format!("round {round}"));
    }
}

/// A guard's drop that runs inside another pool's `T::drop`, inside that pool's teardown, while
/// this pool's last handle goes on another thread: nesting across pools.
#[test]
fn a_guard_of_one_pool_dropped_inside_another_pools_teardown() {
    struct Outer {
        _inner_guard: Option<OwnedPooled<Obj>>,
    }
    impl Recycle for Outer {
        fn reset(&mut self) {}
        fn retained_bytes(&self) -> usize {
            0
        }
    }
    for round in 0..rounds() {
        let Setup {
            pool,
            books,
            witness,
        } = setup(2, 16, None);
        let slots: Arc<Mutex<Vec<OwnedPooled<Obj>>>> =
            Arc::new(Mutex::new((0..4).map(|_| pool.get_owned()).collect()));
        let s = Arc::clone(&slots);
        let outer = Pool::builder(move || Outer {
            _inner_guard: s.lock().unwrap().pop(),
        })
        .build()
        .unwrap();
        let outer_guards: Vec<_> = (0..4).map(|_| outer.get()).collect();
        drop(outer_guards); // idle in `outer`, each holding a guard of `pool`
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let t = thread::spawn(move || {
            b.wait();
            drop(outer); // drops the idle `Outer`s: their guards of `pool` go here
        });
        barrier.wait();
        drop(pool);
        t.join().unwrap();
        assert_freed(&witness, &books, &format!("round {round}"));
        assert!(
            slots.lock().unwrap().is_empty(),
            "every guard went into an `Outer`"
        );
    }
}

#[test]
fn the_last_handle_goes_in_an_exit_flush_overflow_while_other_guards_drop() {
    // The last handle lives in an object idle in an exiting thread's cache; the depot is full,
    // so the exit flush drops it: the pool closes inside the thread's exit hook (a thread-local
    // destructor) while another thread drops owned guards.
    for round in 0..rounds() {
        let Setup {
            pool,
            books,
            witness,
        } = setup(4, 1, None);
        let others: Vec<_> = (0..8).map(|_| pool.get_owned()).collect();
        let (go, wait) = mpsc::channel::<()>();
        let (ready_tx, ready) = mpsc::channel::<()>();
        let h1 = pool.clone();
        let exiting = thread::spawn(move || {
            let mut objs: Vec<_> = (0..3).map(|_| h1.get()).collect();
            objs[2].handle_on_drop = Some(h1.clone());
            drop(objs); // all three in this thread's cache, the last one holding a handle
            drop(h1);
            ready_tx.send(()).unwrap();
            wait.recv().unwrap();
        });
        ready.recv().unwrap();
        // Fills the depot (max_idle 1) through another thread's exit flush.
        let h2 = pool.clone();
        thread::spawn(move || drop(h2.get())).join().unwrap();
        drop(pool);
        assert!(alive(&witness));
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let dropper = thread::spawn(move || {
            b.wait();
            drop(others);
        });
        barrier.wait();
        go.send(()).unwrap();
        exiting.join().unwrap();
        dropper.join().unwrap();
        assert_freed(&witness, &books, &format!("round {round}"));
    }
}
