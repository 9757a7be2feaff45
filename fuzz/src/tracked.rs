//! The pooled object of the pool targets, and the log of its drops.

use std::sync::{Arc, Mutex, MutexGuard};

use hotpool::Recycle;

/// How many times each object was dropped, indexed by id; its length is the number of objects
/// made. Shared by every object of one fuzz run (an `Arc`, as `Pool` objects cross threads).
#[derive(Debug, Default)]
pub struct DropLog {
    drops: Mutex<Vec<u32>>,
}

impl DropLog {
    /// An empty log.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn drops(&self) -> MutexGuard<'_, Vec<u32>> {
        self.drops.lock().expect("no panic while the log is locked")
    }

    /// A new object with the next id and an empty payload.
    pub fn make(self: &Arc<Self>) -> Obj {
        let mut drops = self.drops();
        drops.push(0);
        Obj {
            id: drops.len() - 1,
            data: Vec::new(),
            log: Arc::clone(self),
        }
    }

    /// A pool factory making a fresh object per call.
    pub fn factory(self: &Arc<Self>) -> impl Fn() -> Obj + Send + Sync + 'static {
        let log = Arc::clone(self);
        move || log.make()
    }

    /// Objects made so far (the next id).
    pub fn made(&self) -> usize {
        self.drops().len()
    }

    /// How many times object `id` was dropped.
    pub fn drops_of(&self, id: usize) -> u32 {
        self.drops()[id]
    }

    /// Panics unless every object made was dropped exactly once.
    pub fn assert_all_dropped_once(&self) {
        for (id, &n) in self.drops().iter().enumerate() {
            assert_eq!(n, 1, "object {id} dropped {n} times by the end of the run");
        }
    }
}

/// A pooled object: a unique id and a payload. Reset clears the payload (keeping capacity);
/// the pool keeps it only if its capacity is within the pool's `max_retained_bytes`.
#[derive(Debug)]
pub struct Obj {
    /// Unique per run, in creation order.
    pub id: usize,
    /// Written by the harness while it holds the object; empty whenever the pool hands it out.
    pub data: Vec<u8>,
    log: Arc<DropLog>,
}

impl Drop for Obj {
    fn drop(&mut self) {
        let mut drops = self.log.drops();
        drops[self.id] += 1;
        // Checked here, not later: the backtrace then shows who dropped it the second time.
        assert_eq!(drops[self.id], 1, "object {} dropped twice", self.id);
    }
}

impl Recycle for Obj {
    fn reset(&mut self) {
        self.data.clear();
    }

    fn retained_bytes(&self) -> usize {
        self.data.capacity()
    }
}
