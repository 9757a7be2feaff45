//! An owned guard's release must be its last access to the pool, "as `Arc`'s `fetch_sub` is".
//! `Arc` keeps no reference to the shared allocation's non-atomic (frozen) bytes alive across its
//! `fetch_sub` (rust-lang/rust#55005): a function argument `&T` asserts that the memory stays
//! allocated until the function returns (a protector in Stacked and Tree Borrows), except inside
//! `UnsafeCell`. `OwnedRef::drop` does its completing store (`ReleaseTally::complete`) inside
//! `Inner::release_here(&self)`, itself inside `with_slot`, `with_slot_or`, `with_hit_slot`
//! (all `&Inner`) and `ThreadSlots::with_remembered` (`&ThreadSlots`): frames that still hold
//! references to the pool's frozen bytes (`thread_cache`, `batch`, `bound`, `slots.id`, ...)
//! when the last handle, which may free the pool as soon as it sees that store, frees it.
//!
//! This test drops an owned guard on one thread while the last handle drops on another, many
//! times, arranged so that the release usually begins before the close (the dropping thread's
//! cache is warm, so the return is a hit, and the close starts when the policy's `reset` runs).
//! Under miri with many seeds (`-Zmiri-many-seeds`, a low `-Zmiri-preemption-rate`) a seed that
//! preempts the dropping thread right after its completing store lets the closing thread free the
//! pool while those frames are active: "not granting access to tag ... because that would remove
//! [SharedReadOnly ...] which is strongly protected" (Stacked Borrows).
//!
//! Outside miri it is a plain race test (ASan/TSan look for a use after free).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;

use hotpool::{Pool, Recycle};

fn iterations() -> usize {
    std::env::var("HOTPOOL_RACE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(miri) { 4 } else { 300 })
}

/// Signals `resetting` when the policy resets it (the guard's return has begun).
struct Obj {
    resetting: Arc<AtomicBool>,
}

impl Recycle for Obj {
    fn reset(&mut self) {
        self.resetting.store(true, SeqCst);
    }
    fn retained_bytes(&self) -> usize {
        0
    }
}

#[test]
fn an_owned_guard_released_while_the_last_handle_frees_the_pool() {
    for _ in 0..iterations() {
        let witness = Arc::new(());
        let resetting = Arc::new(AtomicBool::new(false));
        let (w, r) = (Arc::clone(&witness), Arc::clone(&resetting));
        let pool = Pool::builder(move || {
            let _ = &w;
            Obj {
                resetting: Arc::clone(&r),
            }
        })
        .thread_cache(4)
        .build()
        .unwrap();
        let handle = pool.clone();
        let (send, recv) = mpsc::channel();
        let dropper = thread::spawn(move || {
            // Warm up: this thread's slot, cache and last-slot entry, so that the guard's
            // return below is a hit (a few blocks) and its release begins before the close.
            drop(handle.get());
            drop(handle);
            let guard = recv.recv().unwrap();
            drop(guard);
        });
        let guard = pool.get_owned();
        resetting.store(false, SeqCst);
        send.send(guard).unwrap();
        while !resetting.load(SeqCst) {
            std::hint::spin_loop();
        }
        drop(pool);
        dropper.join().unwrap();
        assert_eq!(Arc::strong_count(&witness), 1, "freed");
    }
}

/// The closing path: guards dropped on several threads after the last handle. Each gives its
/// reference back itself through `Refs::give_back(&self, n)`, whose `&Refs` argument (atomics,
/// and the 7 padding bytes after `closing`, which are outside every `UnsafeCell`) stays
/// protected until it returns; another thread's `fetch_sub` may be the last one and free the
/// pool in between ("deallocation ... forbidden" / "strongly protected" under miri). The
/// threads' caches are warm, so each drop is short and they reach `give_back` together.
#[test]
fn guards_given_back_on_several_threads_after_the_last_handle() {
    const THREADS: usize = 4;
    for _ in 0..iterations() {
        let witness = Arc::new(());
        let w = Arc::clone(&witness);
        let pool = Pool::builder(move || {
            let _ = &w;
            Obj {
                resetting: Arc::new(AtomicBool::new(false)),
            }
        })
        .thread_cache(4)
        .build()
        .unwrap();
        let warm = Arc::new(std::sync::Barrier::new(THREADS + 1));
        let go = Arc::new(std::sync::Barrier::new(THREADS + 1));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let handle = pool.clone();
                let guard = pool.get_owned();
                let (warm, go) = (Arc::clone(&warm), Arc::clone(&go));
                thread::spawn(move || {
                    drop(handle.get()); // a warm cache: the guard's return is a hit
                    drop(handle);
                    warm.wait();
                    go.wait();
                    drop(guard);
                })
            })
            .collect();
        warm.wait();
        drop(pool); // the last handle: every drop below takes the closing path
        go.wait();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(Arc::strong_count(&witness), 1, "freed");
    }
}
