//! loom models of `Pool`: every test is named after the race it checks. Run with `ci/loom.sh`.
//!
//! Objects are tagged with ids and counted with plain std atomics (loom runs the model on one OS
//! thread, so they only observe; the pool's own synchronization is what loom explores).
//!
//! loom's `join` returns before the joined thread's thread-locals are destroyed (std's returns
//! after), so a thread's exit flush may still be running when `join` returns. Checks that depend
//! on it wait with `eventually`, which yields to loom's scheduler until the flush has run; a flush
//! that never happens makes loom fail the model for exceeding its branch limit.
#![cfg(hotpool_loom)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use hotpool::{OwnedPooled, Pool, Recycle};
use loom::sync::Arc;
use loom::thread;
use support::eventually;

/// An object that counts its drops in the model's shared counter.
struct Obj {
    id: usize,
    dirty: bool,
    drops: Arc<AtomicUsize>,
}

impl Recycle for Obj {
    fn reset(&mut self) {
        self.dirty = false;
    }
    fn retained_bytes(&self) -> usize {
        0
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

struct Model {
    pool: Arc<Pool<Obj>>,
    made: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

fn model(thread_cache: usize, max_idle: usize) -> Model {
    let made = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (m, d) = (Arc::clone(&made), Arc::clone(&drops));
    let pool = Pool::builder(move || Obj {
        id: m.fetch_add(1, SeqCst),
        dirty: false,
        drops: Arc::clone(&d),
    })
    .thread_cache(thread_cache)
    .max_idle(max_idle)
    .build()
    .unwrap();
    Model {
        pool: Arc::new(pool),
        made,
        drops,
    }
}

impl Model {
    /// Drops the pool and checks that every object ever made is dropped exactly once (the last
    /// handle may be an exiting thread's, so the drops may come a moment later).
    fn finish(self) {
        let stats = self.pool.stats();
        assert_eq!(stats.in_use, 0, "{stats:?}");
        assert_eq!(stats.created as usize, self.made.load(SeqCst), "{stats:?}");
        let Model { pool, made, drops } = self;
        drop(pool);
        assert_all_dropped_once(&made, &drops);
    }
}

/// Checks that every object made is dropped exactly once, waiting for drops that may still be
/// running on an exiting thread.
fn assert_all_dropped_once(made: &AtomicUsize, drops: &AtomicUsize) {
    eventually(|| drops.load(SeqCst) >= made.load(SeqCst));
    assert_eq!(drops.load(SeqCst), made.load(SeqCst));
}

/// Uses an object: it must come reset, then is marked dirty for the next user to check.
fn use_obj(obj: &mut Obj) {
    assert!(!obj.dirty, "object {} handed out without reset", obj.id);
    obj.dirty = true;
}

fn get_and_drop(pool: &Pool<Obj>, n: usize) {
    for _ in 0..n {
        use_obj(&mut pool.get());
    }
}

/// Holds two objects at once, then drops both.
fn hold_two(pool: &Pool<Obj>) {
    let a = pool.get();
    let b = pool.get();
    drop((a, b));
}

#[test]
fn depot_trade_races_depot_trade() {
    // Cache of 1: every second operation trades with the depot, on both threads.
    loom::model(|| {
        let m = model(1, 2);
        let pool = Arc::clone(&m.pool);
        let other = thread::spawn(move || hold_two(&pool));
        hold_two(&m.pool);
        other.join().unwrap();
        m.finish();
    });
}

#[test]
fn acquire_here_drop_there_races_get() {
    loom::model(|| {
        let m = model(1, 4);
        let mut guard: OwnedPooled<Obj> = m.pool.get_owned();
        use_obj(&mut guard);
        let dropper = thread::spawn(move || drop(guard));
        get_and_drop(&m.pool, 2);
        dropper.join().unwrap();
        m.finish();
    });
}

#[test]
fn thread_exit_flush_races_get() {
    loom::model(|| {
        let m = model(2, 4);
        let pool = Arc::clone(&m.pool);
        // Leaves two objects in its cache, then exits: they must reach the depot.
        let exiting = thread::spawn(move || hold_two(&pool));
        get_and_drop(&m.pool, 1);
        exiting.join().unwrap();
        // Nothing stranded: once the exit flush has run, a trim from this thread reaches every
        // object the exited thread cached.
        let created = m.pool.stats().created;
        let mut trimmed = 0;
        eventually(|| {
            trimmed += m.pool.trim() as u64;
            trimmed == created
        });
        assert_eq!(m.pool.stats().idle, 0);
        m.finish();
    });
}

#[test]
fn trim_races_get_and_put() {
    loom::model(|| {
        let m = model(0, 4);
        get_and_drop(&m.pool, 1);
        let pool = Arc::clone(&m.pool);
        let trimmer = thread::spawn(move || {
            pool.trim();
            pool.trim_unused();
        });
        get_and_drop(&m.pool, 2);
        trimmer.join().unwrap();
        m.finish();
    });
}

#[test]
fn owned_guard_outlives_every_pool_handle() {
    loom::model(|| {
        let m = model(1, 4);
        let guard = m.pool.get_owned();
        let pool = Arc::clone(&m.pool);
        let holder = thread::spawn(move || drop(guard));
        get_and_drop(&pool, 1);
        drop(pool);
        let Model { pool, made, drops } = m;
        drop(pool); // maybe the last handle; the guard may still be alive on the other thread
        holder.join().unwrap();
        assert_all_dropped_once(&made, &drops);
    });
}

#[test]
fn stats_read_races_get_and_put() {
    loom::model(|| {
        let m = model(1, 2);
        let pool = Arc::clone(&m.pool);
        let user = thread::spawn(move || get_and_drop(&pool, 2));
        let stats = m.pool.stats();
        assert!(stats.in_use <= 1, "{stats:?}");
        assert!(stats.idle <= 2 + 1 + 1, "{stats:?}");
        assert!(stats.created <= 1, "{stats:?}");
        user.join().unwrap();
        let stats = m.pool.stats();
        assert_eq!(
            (stats.in_use, stats.reused + stats.created, stats.returned),
            (0, 2, 2),
            "{stats:?}"
        );
        m.finish();
    });
}

#[test]
fn stats_read_races_fill_word_hits_and_trades() {
    // A thread's hits are counted only by its cache's fill word (length and pushes in one word),
    // and its trades with the depot move the length under the depot lock: a `stats` call racing
    // a flush, pushes and pops must never see an object in use that is not, nor lose one at rest.
    loom::model(|| {
        let m = model(2, 4);
        let pool = Arc::clone(&m.pool);
        let user = thread::spawn(move || {
            let held: Vec<_> = (0..3).map(|_| pool.get()).collect();
            drop(held); // two pushes, then a flush and a push
            get_and_drop(&pool, 1); // a pop and a push
        });
        let stats = m.pool.stats();
        assert!(stats.in_use <= 3, "{stats:?}");
        assert!(stats.created <= 3, "{stats:?}");
        assert!(stats.returned <= 4 && stats.reused <= 1, "{stats:?}");
        // Every reuse follows a return, and every return a get.
        assert!(stats.reused <= stats.returned, "{stats:?}");
        assert!(stats.returned <= stats.created + stats.reused, "{stats:?}");
        user.join().unwrap();
        let stats = m.pool.stats();
        assert_eq!(
            (
                stats.in_use,
                stats.created,
                stats.reused,
                stats.returned,
                stats.idle
            ),
            (0, 3, 1, 4, 3),
            "{stats:?}"
        );
        m.finish();
    });
}

#[test]
fn slot_table_growth_races_slot_table_growth() {
    // Thread ids 1 and 2 share bucket 1 of the slot table: both threads race to allocate it.
    loom::model(|| {
        let m = model(1, 4);
        get_and_drop(&m.pool, 1); // the model's main thread takes id 0
        let spawn = |pool: Arc<Pool<Obj>>| thread::spawn(move || get_and_drop(&pool, 1));
        let a = spawn(Arc::clone(&m.pool));
        let b = spawn(Arc::clone(&m.pool));
        a.join().unwrap();
        b.join().unwrap();
        m.finish();
    });
}

// ---------------------------------------------------------------------------------------------
// Owned guards: references issued in batches and tallied per thread (`src/pool/owned.rs`).

/// Builds a pool (cache of 1, so trades happen) that every model below drops on purpose.
fn owned_model() -> (Pool<Obj>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let Model { pool, made, drops } = model(1, 4);
    let pool = Arc::try_unwrap(pool).unwrap_or_else(|_| unreachable!("one handle"));
    (pool, made, drops)
}

#[test]
fn owned_ref_given_back_on_another_thread_races_last_handle_drop() {
    loom::model(|| {
        let (pool, made, drops) = owned_model();
        let mut guard = pool.get_owned();
        use_obj(&mut guard);
        // The tally of the dropping thread and the last handle's collection race.
        let dropper = thread::spawn(move || drop(guard));
        drop(pool);
        dropper.join().unwrap();
        assert_all_dropped_once(&made, &drops);
    });
}

#[test]
fn releases_in_progress_on_another_thread_race_the_close_and_the_free() {
    // Two drops on one thread: each release may begin before the close (the last handle waits
    // it out), after it (the drop gives its reference back itself), or complete before it. The
    // pool's memory is tracked (`sync::ArcDropSync::touch`): any access by a drop after the
    // pool is freed fails the model.
    loom::model(|| {
        let (pool, made, drops) = owned_model();
        let a = pool.get_owned();
        let b = pool.get_owned();
        let dropper = thread::spawn(move || {
            drop(a);
            drop(b);
        });
        drop(pool);
        dropper.join().unwrap();
        assert_all_dropped_once(&made, &drops);
    });
}

#[test]
fn thread_exits_with_spare_refs_outstanding() {
    loom::model(|| {
        let (pool, made, drops) = owned_model();
        let handle = pool.clone();
        // Takes a batch of references, uses one, and exits holding the rest as spares.
        let producer = thread::spawn(move || {
            let mut guard = handle.get_owned();
            use_obj(&mut guard);
            guard
        });
        let guard = producer.join().unwrap();
        drop(pool);
        drop(guard); // the last reference: the pool goes with it
        assert_all_dropped_once(&made, &drops);
    });
}

#[test]
fn refill_takes_reserve_refs_while_a_consumer_drops_and_the_last_handle_goes() {
    loom::model(|| {
        let (pool, made, drops) = owned_model();
        let a = pool.get_owned();
        let b = pool.get_owned();
        // The consumer's second drop flushes its cache of 1 and hands its tally to the depot's
        // reserve; a producer that refills from the depot may take that reserve as its spares
        // (`stock_spare_refs`), racing the tally, the collection and the last handle's close.
        let consumer = thread::spawn(move || {
            drop(a);
            drop(b);
        });
        let handle = pool.clone();
        let producer = thread::spawn(move || {
            drop(handle.get());
            let mut guard = handle.get_owned();
            use_obj(&mut guard);
            guard
        });
        consumer.join().unwrap();
        drop(pool);
        let guard = producer.join().unwrap();
        drop(guard); // may be the last reference: the pool goes with it
        assert_all_dropped_once(&made, &drops);
    });
}

#[test]
fn pool_dropped_while_owned_guards_live_on_several_threads() {
    loom::model(|| {
        let (pool, made, drops) = owned_model();
        let a = pool.get_owned();
        let b = pool.get_owned();
        let ta = thread::spawn(move || drop(a));
        let tb = thread::spawn(move || drop(b));
        drop(pool);
        ta.join().unwrap();
        tb.join().unwrap();
        assert_all_dropped_once(&made, &drops);
    });
}

#[test]
fn slot_table_growth_races_last_handle_drop() {
    // The dropping thread's slot (thread id 1, bucket 1) may be allocated before or after the
    // last handle closes the table: either way its tally must reach the pool's count.
    loom::model(|| {
        let (pool, made, drops) = owned_model();
        drop(pool.get()); // the model's main thread takes id 0 and bucket 0
        let guard = pool.get_owned();
        let dropper = thread::spawn(move || drop(guard));
        drop(pool);
        dropper.join().unwrap();
        assert_all_dropped_once(&made, &drops);
    });
}

#[test]
fn cloned_handles_dropped_on_two_threads_close_once() {
    loom::model(|| {
        let (pool, made, drops) = owned_model();
        let guard = pool.get_owned();
        let other = pool.clone();
        let t = thread::spawn(move || {
            get_and_drop(&other, 1);
            drop(other);
        });
        drop(pool);
        drop(guard);
        t.join().unwrap();
        assert_all_dropped_once(&made, &drops);
    });
}
