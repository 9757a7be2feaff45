//! The drop tracker shared by the integration tests (`tests/support`) and the fuzz harness
//! (`fuzz/src/lib.rs` includes this file as its `tracker` module): [`Tracker`] makes [`Tracked`]
//! values with unique ids and records each one's drops, so a test or a fuzz run can prove that
//! every object a pool made was dropped exactly once.
//!
//! It depends on `hotpool` and std only, so both crates compile it as is.

use std::sync::{Arc, Mutex, MutexGuard};

use hotpool::Recycle;

/// Records, per object id, how often a [`Tracked`] was created and dropped.
///
/// Thread-safe (`Arc` + `Mutex`) so the same helpers serve `Pool` tests that move objects
/// between threads. From [`Tracker::new`], a second drop of the same id is recorded, not
/// panicked on (a panic inside a pool's drop path would hide the count), and
/// [`Tracker::assert_all_dropped_once`] reports it; from [`Tracker::strict`] it panics at once,
/// so the backtrace shows who dropped it the second time (what the fuzz targets want).
#[derive(Debug, Default)]
pub struct Tracker {
    /// `drops[id]`: how many times object `id` was dropped; its length is the number created.
    drops: Mutex<Vec<u32>>,
    /// Panic in `Tracked::drop` on a second drop of the same object.
    strict: bool,
}

impl Tracker {
    /// A fresh tracker, shared by the objects it makes.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A fresh tracker whose objects panic when dropped a second time.
    pub fn strict() -> Arc<Self> {
        Arc::new(Self {
            strict: true,
            ..Self::default()
        })
    }

    fn drops(&self) -> MutexGuard<'_, Vec<u32>> {
        // A test that panicked on purpose may have poisoned the lock; the data is still right.
        self.drops.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes a new object with a fresh id and an empty payload.
    pub fn make(self: &Arc<Self>) -> Tracked {
        let mut drops = self.drops();
        let id = drops.len();
        drops.push(0);
        Tracked {
            id,
            data: Vec::new(),
            panic_on_drop: false,
            panic_in_reset: false,
            tracker: Arc::clone(self),
        }
    }

    /// A pool factory that makes a fresh [`Tracked`] on every call.
    pub fn factory(self: &Arc<Self>) -> impl Fn() -> Tracked + Send + Sync + 'static {
        let tracker = Arc::clone(self);
        move || tracker.make()
    }

    /// Objects made so far.
    pub fn created(&self) -> usize {
        self.drops().len()
    }

    /// How many times object `id` was dropped so far.
    pub fn drops_of(&self, id: usize) -> u32 {
        self.drops()[id]
    }

    /// Objects dropped at least once so far.
    pub fn dropped(&self) -> usize {
        self.drops().iter().filter(|&&n| n > 0).count()
    }

    /// Objects made and not yet dropped.
    pub fn live(&self) -> usize {
        self.created() - self.dropped()
    }

    /// Whether object `id` has been made and not yet dropped.
    pub fn is_live(&self, id: usize) -> bool {
        self.drops().get(id) == Some(&0)
    }

    /// Panics if some object was dropped more than once.
    pub fn assert_no_double_drop(&self) {
        let twice: Vec<usize> = (self.drops().iter().enumerate())
            .filter(|&(_, &n)| n > 1)
            .map(|(id, _)| id)
            .collect();
        assert!(
            twice.is_empty(),
            "objects dropped more than once: {twice:?}"
        );
    }

    /// Panics unless every object made was dropped exactly once.
    pub fn assert_all_dropped_once(&self) {
        let wrong: Vec<(usize, u32)> = (self.drops().iter().copied().enumerate())
            .filter(|&(_, n)| n != 1)
            .collect();
        assert!(
            wrong.is_empty(),
            "(id, drops) not dropped exactly once: {wrong:?}"
        );
    }
}

/// A value made by a [`Tracker`]; its drop is recorded there.
#[derive(Debug)]
pub struct Tracked {
    /// Unique per tracker; identifies the object across `get`s.
    pub id: usize,
    /// Payload: cleared by `reset` (capacity kept), and the object's `retained_bytes`.
    pub data: Vec<u8>,
    /// Panic in `drop`, after the drop is recorded.
    pub panic_on_drop: bool,
    /// Panic in [`Recycle::reset`].
    pub panic_in_reset: bool,
    tracker: Arc<Tracker>,
}

/// The message of the panic a [`Tracked`] raises in `drop` when `panic_on_drop` is set.
pub const DROP_PANIC: &str = "Tracked::drop panicked on purpose";
/// The message of the panic a [`Tracked`] raises in `reset` when `panic_in_reset` is set.
pub const RESET_PANIC: &str = "Tracked::reset panicked on purpose";

impl Drop for Tracked {
    fn drop(&mut self) {
        let drops = {
            let mut drops = self.tracker.drops();
            drops[self.id] += 1;
            drops[self.id]
        };
        if self.tracker.strict {
            assert_eq!(drops, 1, "object {} dropped twice", self.id);
        }
        if self.panic_on_drop {
            panic!("{DROP_PANIC}");
        }
    }
}

impl Recycle for Tracked {
    fn reset(&mut self) {
        if self.panic_in_reset {
            panic!("{RESET_PANIC}");
        }
        self.data.clear();
    }

    fn retained_bytes(&self) -> usize {
        self.data.capacity()
    }
}
