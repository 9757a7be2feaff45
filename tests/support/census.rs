//! Objects that count themselves: [`Census`] knows how many [`Counted`] objects of one pool are
//! alive right now, the most ever alive at once, how often each one was dropped (by id) and how
//! many resets ran, from the objects' own constructor, `reset` and `Drop`, not from the pool's
//! stats. A bounded pool's tests check their cap with it; the orchestrated races also wait for a
//! reset (it runs inside a guard's drop, before the guard releases the pool).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};

use hotpool::Recycle;

/// The living [`Counted`] objects of one kind.
#[derive(Debug, Default)]
pub struct Census {
    alive: AtomicUsize,
    most: AtomicUsize,
    resets: AtomicUsize,
    /// `drops[id]`: how many times object `id` was dropped; its length is the number made.
    drops: Mutex<Vec<u32>>,
}

impl Census {
    /// A fresh census, shared by the objects it makes.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn drops(&self) -> MutexGuard<'_, Vec<u32>> {
        // A test that panicked on purpose may have poisoned the lock; the data is still right.
        self.drops.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes a new object with a fresh id and an empty payload; it counts as alive until dropped.
    pub fn make(self: &Arc<Self>) -> Counted {
        let id = {
            let mut drops = self.drops();
            drops.push(0);
            drops.len() - 1
        };
        let now = self.alive.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        Counted {
            id,
            data: Vec::new(),
            census: Arc::clone(self),
        }
    }

    /// A pool factory that makes a fresh [`Counted`] on every call.
    pub fn factory(self: &Arc<Self>) -> impl Fn() -> Counted + Send + Sync + 'static {
        let census = Arc::clone(self);
        move || census.make()
    }

    /// Objects alive now.
    pub fn alive(&self) -> usize {
        self.alive.load(SeqCst)
    }

    /// The most objects ever alive at once.
    pub fn most(&self) -> usize {
        self.most.load(SeqCst)
    }

    /// Objects made so far.
    pub fn made(&self) -> usize {
        self.drops().len()
    }

    /// Resets run so far.
    pub fn resets(&self) -> usize {
        self.resets.load(SeqCst)
    }

    /// The pool and every guard are gone: exactly `made` objects were made, and each was dropped
    /// exactly once, and at most `cap` were ever alive at once.
    pub fn assert_all_dropped_once(&self, made: usize, cap: usize) {
        let drops = self.drops();
        assert_eq!(drops.len(), made, "objects made");
        let wrong: Vec<(usize, u32)> = (drops.iter().copied().enumerate())
            .filter(|&(_, n)| n != 1)
            .collect();
        assert!(
            wrong.is_empty(),
            "(object id, drops) other than once: {wrong:?}"
        );
        assert_eq!(self.alive(), 0, "objects alive after the pool is gone");
        let most = self.most();
        assert!(
            most <= cap,
            "{most} objects alive at once, over the cap of {cap}"
        );
    }
}

/// An object made by a [`Census`]; alive there until dropped.
#[derive(Debug)]
pub struct Counted {
    /// Unique per census, in the order made.
    pub id: usize,
    /// Payload: cleared by `reset`.
    pub data: Vec<u8>,
    census: Arc<Census>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.census.drops()[self.id] += 1;
        self.census.alive.fetch_sub(1, SeqCst);
    }
}

impl Recycle for Counted {
    fn reset(&mut self) {
        self.census.resets.fetch_add(1, SeqCst);
        self.data.clear();
    }

    fn retained_bytes(&self) -> usize {
        self.data.capacity()
    }
}
