//! Review attacks on the owned-guard teardown (issue 20, fix A), as loom models. Run as
//! `ci/loom.sh` does (`--cfg hotpool_loom`, release, `LOOM_MAX_PREEMPTIONS=2`), one model per
//! process: a failing model aborts the binary (the model thread's hotpool thread-locals are
//! dropped outside the execution after the panic), which hides the others' results.
//!
//! Each model ends with the pool freed (the factory's witness dropped) and every object dropped
//! once; a reference lost keeps the pool alive ("pool not freed"), a reference counted twice
//! frees the pool early and fails on the access after the free (`sync::ArcDropSync::touch`) or
//! on the `keeper` check; a lost wake-up is a loom deadlock.
//!
//! On b767b42 three models fail, all from one cause: `ThreadSlots::slots` bounds its scan by
//! `used_buckets`, which `alloc_bucket` raises only after it published the bucket's pointer, so
//! a thread that finds the pointer in between uses a slot the scan may leave out:
//! - `the_close_misses_a_slot_in_a_bucket_another_thread_published_but_has_not_counted_yet` and
//!   `a_thread_exits_with_spares_while_the_last_handle_closes_and_a_guard_drops` ("pool not
//!   freed": the last handle's close never collects that slot's spares and tally);
//! - `a_thief_misses_a_cache_in_a_bucket_another_thread_published_but_has_not_counted_yet`
//!   (deadlock: the first waiter's steal skips the cache holding the only object).
#![cfg(hotpool_loom)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use hotpool::{Pool, Recycle};
use loom::sync::Arc;
use loom::thread;
use support::eventually;

struct Obj {
    drops: Arc<AtomicUsize>,
    /// Dropped with the object (set `refuse` so that the policy discards it).
    handle: Option<Pool<Obj>>,
    refuse: bool,
}

impl Recycle for Obj {
    fn reset(&mut self) {}
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
        drop(self.handle.take());
        self.drops.fetch_add(1, SeqCst);
    }
}

struct Books {
    made: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
    /// Held by the factory: its count falls to 1 when the pool is freed.
    witness: std::sync::Arc<()>,
}

fn pool(thread_cache: usize, max_live: Option<usize>) -> (Pool<Obj>, Books) {
    let made = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let witness = std::sync::Arc::new(());
    let (m, d, w) = (
        Arc::clone(&made),
        Arc::clone(&drops),
        std::sync::Arc::clone(&witness),
    );
    let mut builder = Pool::builder(move || {
        let _ = &w;
        m.fetch_add(1, SeqCst);
        Obj {
            drops: Arc::clone(&d),
            handle: None,
            refuse: false,
        }
    })
    .thread_cache(thread_cache)
    .max_idle(4);
    if let Some(n) = max_live {
        builder = builder.max_live(n);
    }
    (
        builder.build().unwrap(),
        Books {
            made,
            drops,
            witness,
        },
    )
}

impl Books {
    fn pool_alive(&self) -> bool {
        std::sync::Arc::strong_count(&self.witness) == 2
    }

    /// The pool is freed and every object dropped once (an exit flush may still be running).
    fn assert_freed(&self) {
        // Bounded, so that a pool never freed fails with a message rather than loom's branch
        // limit.
        let mut spins = 0;
        while std::sync::Arc::strong_count(&self.witness) != 1 {
            spins += 1;
            assert!(
                spins < 200,
                "pool not freed: made {}, dropped {}",
                self.made.load(SeqCst),
                self.drops.load(SeqCst)
            );
            thread::yield_now();
        }
        eventually(|| self.drops.load(SeqCst) >= self.made.load(SeqCst));
        assert_eq!(self.drops.load(SeqCst), self.made.load(SeqCst));
    }
}

#[test]
fn a_thief_collects_a_release_in_progress() {
    // The other thread's drop may be between `begin` and `complete` when this thread, at the
    // cap, steals and collects its tally with `completed()`: the release must be counted
    // exactly once (at the next collection, or at the close).
    loom::model(|| {
        let (pool, books) = pool(2, Some(2));
        let keeper = pool.get_owned();
        let lent = pool.get_owned();
        let dropper = thread::spawn(move || drop(lent));
        drop(pool.get()); // at the cap unless the drop came first: queues and steals
        dropper.join().unwrap();
        drop(pool);
        assert!(books.pool_alive(), "freed while `keeper` lives");
        drop(keeper);
        books.assert_freed();
    });
}

#[test]
fn two_droppers_and_the_last_handle_on_a_third_thread() {
    loom::model(|| {
        let (pool, books) = pool(1, None);
        let a = pool.get_owned();
        let b = pool.get_owned();
        let ta = thread::spawn(move || drop(a));
        let tb = thread::spawn(move || drop(b));
        let closer = thread::spawn(move || drop(pool));
        ta.join().unwrap();
        tb.join().unwrap();
        closer.join().unwrap();
        books.assert_freed();
    });
}

#[test]
fn the_last_handle_goes_inside_t_drop_while_another_guard_drops() {
    loom::model(|| {
        let (pool, books) = pool(1, None);
        let other = pool.get_owned();
        let mut carrier = pool.get_owned();
        carrier.refuse = true;
        carrier.handle = Some(pool); // the last handle: dropped by the refused object's drop
        let t = thread::spawn(move || drop(other));
        drop(carrier);
        t.join().unwrap();
        books.assert_freed();
    });
}

#[test]
fn a_thread_exits_with_spares_while_the_last_handle_closes_and_a_guard_drops() {
    loom::model(|| {
        let (pool, books) = pool(1, None);
        let guard = pool.get_owned();
        let handle = pool.clone();
        let exiting = thread::spawn(move || {
            drop(handle.get_owned()); // spares and a tally, flushed at exit
            drop(handle);
        });
        let dropper = thread::spawn(move || drop(guard));
        drop(pool);
        exiting.join().unwrap();
        dropper.join().unwrap();
        books.assert_freed();
    });
}

#[test]
fn the_close_misses_a_slot_in_a_bucket_another_thread_published_but_has_not_counted_yet() {
    // Thread ids 1 and 2 share bucket 1. Whichever thread first finds it empty allocates it:
    // `alloc_bucket` stores the bucket pointer, then raises `used_buckets`. The other thread
    // can find the pointer in between and use its slot (spare references, a tally). The last
    // handle's scan (`ThreadSlots::slots`) stops at `used_buckets`: if it reads the old value,
    // it never collects that slot's references and the pool is never freed. The allocator
    // here holds no handle (it only drops an owned guard), so the user's handle can be the last.
    loom::model(|| {
        let (pool, books) = pool(1, None);
        let guard = pool.get_owned();
        let handle = pool.clone();
        drop(pool);
        let a = thread::spawn(move || drop(guard));
        let b = thread::spawn(move || {
            drop(handle.get_owned()); // spares and a tally in this thread's slot
            drop(handle); // the last handle: closes
        });
        a.join().unwrap();
        b.join().unwrap();
        books.assert_freed();
    });
}

#[test]
fn a_thief_misses_a_cache_in_a_bucket_another_thread_published_but_has_not_counted_yet() {
    // The bounded-pool variant: the first waiter's steal scans `slots()` too. A cache filled in
    // a bucket that `used_buckets` does not count yet is not stolen from; its owner sits idle,
    // and the waiter waits while the object is idle there (here: forever, a deadlock).
    loom::model(|| {
        let (pool, books) = pool(2, Some(1));
        drop(pool.try_get()); // this thread takes id 0 (bucket 0): the others share bucket 1
        let h1 = pool.clone();
        let h2 = pool.clone();
        let (ready_tx, ready_rx) = loom::sync::mpsc::channel::<()>();
        let (tx, rx) = loom::sync::mpsc::channel::<()>();
        // Allocates bucket 1 (ids 1 and 2), or uses a slot there.
        let a = thread::spawn(move || drop(h1.try_get()));
        // Takes the only object and returns it to its own cache, then stays alive (idle).
        let b = thread::spawn(move || {
            drop(h2.get());
            ready_tx.send(()).unwrap();
            rx.recv().unwrap();
            drop(h2);
        });
        ready_rx.recv().unwrap();
        // At the cap with the object idle in b's cache: must steal it.
        drop(pool.get());
        tx.send(()).unwrap();
        a.join().unwrap();
        b.join().unwrap();
        drop(pool);
        books.assert_freed();
    });
}
