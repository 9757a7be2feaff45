//! Owned guards keep their pool alive without a shared reference count per object: the pool is
//! freed exactly when its last handle and its last owned guard are gone, whichever threads they
//! were on and whatever those threads do afterwards.
//!
//! "Freed" is observed through the factory: it owns a witness `Arc`, dropped with the pool.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};

use hotpool::{OwnedPooled, Pool};

struct Witnessed {
    pool: Pool<Vec<u8>>,
    witness: Arc<()>,
}

/// A pool of buffers that count their drops, whose factory holds a clone of `witness`.
fn witnessed(thread_cache: usize) -> Witnessed {
    let witness = Arc::new(());
    let w = Arc::clone(&witness);
    let pool = Pool::builder(move || {
        let _ = &w;
        Vec::with_capacity(8)
    })
    .thread_cache(thread_cache)
    .build()
    .unwrap();
    Witnessed { pool, witness }
}

impl Witnessed {
    fn pool_alive(&self) -> bool {
        Arc::strong_count(&self.witness) == 2
    }
}

#[test]
fn spare_references_do_not_keep_a_pool_alive() {
    let w = witnessed(4);
    let guards: Vec<_> = (0..3).map(|_| w.pool.get_owned()).collect();
    drop(guards); // this thread now holds spare references and a tally of released ones
    assert!(w.pool_alive());
    let Witnessed { pool, witness } = w;
    drop(pool);
    assert_eq!(Arc::strong_count(&witness), 1, "freed with its last handle");
}

#[test]
fn the_last_guard_frees_the_pool_on_another_thread() {
    let w = witnessed(4);
    let guard = w.pool.get_owned();
    let Witnessed { pool, witness } = w;
    drop(pool);
    assert_eq!(Arc::strong_count(&witness), 2, "the guard keeps it alive");
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert_eq!(Arc::strong_count(&witness), 1, "freed by the last guard");
}

#[test]
fn a_thread_that_dropped_guards_and_lives_on_does_not_keep_the_pool() {
    let w = witnessed(4);
    let (tx, rx) = mpsc::channel::<Vec<OwnedPooled<Vec<u8>>>>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    // Drops every guard it gets (tallying their references in its own slot), then stays alive.
    let consumer = std::thread::spawn(move || {
        for batch in rx {
            drop(batch);
            done_tx.send(()).unwrap();
        }
        stop_rx.recv().unwrap();
    });
    // Under miri 4 batches: 200 guards still take references from several batches of 64.
    for _ in 0..if cfg!(miri) { 4 } else { 10 } {
        tx.send((0..50).map(|_| w.pool.get_owned()).collect())
            .unwrap();
        done_rx.recv().unwrap();
    }
    let last = w.pool.get_owned();
    let Witnessed { pool, witness } = w;
    drop(pool);
    assert_eq!(Arc::strong_count(&witness), 2, "a guard is still out");
    tx.send(vec![last]).unwrap();
    done_rx.recv().unwrap();
    assert_eq!(
        Arc::strong_count(&witness),
        1,
        "freed while the consumer still runs"
    );
    drop(tx);
    stop_tx.send(()).unwrap();
    consumer.join().unwrap();
}

#[test]
fn guards_on_many_threads_outlive_every_handle() {
    for thread_cache in [0, 1, 32] {
        let w = witnessed(thread_cache);
        let handles: Vec<_> = (0..4).map(|_| w.pool.clone()).collect();
        let barrier = Arc::new(Barrier::new(5));
        let threads: Vec<_> = handles
            .into_iter()
            .map(|pool| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let guards: Vec<_> = (0..if cfg!(miri) { 10 } else { 100 })
                        .map(|_| pool.get_owned())
                        .collect();
                    drop(pool); // every handle goes before any guard
                    barrier.wait();
                    barrier.wait();
                    drop(guards);
                })
            })
            .collect();
        barrier.wait();
        let Witnessed { pool, witness } = w;
        drop(pool);
        assert_eq!(Arc::strong_count(&witness), 2, "guards are out");
        barrier.wait();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            Arc::strong_count(&witness),
            1,
            "thread_cache {thread_cache}"
        );
    }
}

#[test]
fn every_object_of_a_long_pipeline_is_dropped_once() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    impl hotpool::Recycle for Counted {
        fn reset(&mut self) {}
        fn retained_bytes(&self) -> usize {
            0
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let (d, m) = (Arc::clone(&drops), Arc::clone(&made));
    let pool = Pool::builder(move || {
        m.fetch_add(1, SeqCst);
        Counted(Arc::clone(&d))
    })
    .max_idle(64)
    .build()
    .unwrap();
    let (tx, rx) = mpsc::sync_channel::<Vec<OwnedPooled<Counted>>>(4);
    let consumer =
        std::thread::spawn(move || rx.into_iter().map(|batch| batch.len()).sum::<usize>());
    // Under miri, enough batches for the depot to trade references both ways.
    let batches = if cfg!(miri) { 8 } else { 2_000 };
    for _ in 0..batches {
        tx.send((0..64).map(|_| pool.get_owned()).collect())
            .unwrap();
    }
    drop(tx);
    assert_eq!(consumer.join().unwrap(), batches * 64);
    assert_eq!(pool.stats().in_use, 0);
    drop(pool);
    assert_eq!(drops.load(SeqCst), made.load(SeqCst));
}

/// Drops its pool's handle from a thread-local destructor, after taking an owned guard there.
struct GetOwnedAtExit(Option<Pool<Vec<u8>>>, mpsc::Sender<OwnedPooled<Vec<u8>>>);

impl Drop for GetOwnedAtExit {
    fn drop(&mut self) {
        let pool = self.0.take().unwrap();
        self.1.send(pool.get_owned()).unwrap();
    }
}

thread_local! {
    static AT_EXIT: RefCell<Option<GetOwnedAtExit>> = const { RefCell::new(None) };
}

#[test]
fn owned_guards_taken_and_dropped_while_threads_exit() {
    let w = witnessed(4);
    let (tx, rx) = mpsc::channel();
    let pool = w.pool.clone();
    std::thread::spawn(move || {
        drop(pool.get_owned()); // this thread's slot holds spares and a tally
        AT_EXIT.with(|slot| *slot.borrow_mut() = Some(GetOwnedAtExit(Some(pool), tx)));
    })
    .join()
    .unwrap();
    let guard = rx.recv().unwrap();
    let Witnessed { pool, witness } = w;
    drop(pool);
    assert_eq!(Arc::strong_count(&witness), 2);
    std::thread::spawn(move || drop(guard)).join().unwrap(); // a thread new to the pool
    assert_eq!(Arc::strong_count(&witness), 1);
}
