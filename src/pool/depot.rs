//! The depot: what the pool's one lock guards, a struct of separate parts.
//!
//! Each part has its own file and knows nothing of the others; code that needs two of them at
//! once (a trade, a hand-off) takes the lock once and borrows the fields it needs. Nothing here
//! runs user code: the lock only ever covers pointer moves and counter updates.

use super::counts::{Counts, PeakEstimate};
use super::magazines::Magazines;
use super::places::Places;

/// `#[repr(C)]` with `places` first: at a bounded pool's cap every get and return takes the lock
/// and reads the queue, so both share the lock's cache line (see the implementation notes,
/// "Where the nodes are kept").
#[repr(C)]
pub(crate) struct Depot<T> {
    /// Places and waiters of a bounded pool (`places.rs`, `limiter.rs`); unused otherwise.
    pub(crate) places: Places<T>,
    /// Idle objects outside the thread caches (`magazines.rs`).
    pub(crate) magazines: Magazines<T>,
    /// Counters of operations that went through the depot (not a thread cache).
    pub(crate) counts: Counts,
    /// The estimate behind `peak_in_use` (`counts.rs`).
    pub(crate) peak: PeakEstimate,
    /// Owned-guard references given back by threads, kept for the next thread that needs a batch
    /// (`refs.rs`).
    pub(crate) refs: usize,
}

impl<T> Depot<T> {
    pub(crate) fn new(max_idle: usize, magazine_len: usize) -> Self {
        Self {
            magazines: Magazines::new(max_idle, magazine_len),
            counts: Counts::default(),
            peak: PeakEstimate::default(),
            refs: 0,
            places: Places::default(),
        }
    }

    /// Records `change` in the depot's counters and publishes their balance at once: what every
    /// operation served by the depot itself does.
    pub(crate) fn count(&mut self, change: crate::counting::Change) {
        self.counts.change(change);
        self.peak.publish_own(&self.counts);
    }

    /// Publishes the balance of the depot's own counters (see [`PeakEstimate::publish_own`]).
    pub(crate) fn publish_own_balance(&mut self) {
        self.peak.publish_own(&self.counts);
    }
}

impl<T> Depot<T> {
    /// The depot split for the limiter: its places, and its idle objects to take one by one.
    pub(crate) fn places_and_idle(&mut self) -> (&mut Places<T>, IdleObjects<'_, T>) {
        let idle = IdleObjects {
            magazines: &mut self.magazines,
            counts: &mut self.counts,
            peak: &mut self.peak,
        };
        (&mut self.places, idle)
    }
}

/// The depot's idle objects, borrowed beside its places (see [`Depot::places_and_idle`]).
pub(crate) struct IdleObjects<'a, T> {
    magazines: &'a mut Magazines<T>,
    counts: &'a mut Counts,
    peak: &'a mut PeakEstimate,
}

impl<T> IdleObjects<'_, T> {
    /// Takes one idle object, counted as reused (a `get` the depot served), and whether more
    /// are left.
    pub(crate) fn take(&mut self) -> Option<(Box<T>, bool)> {
        let obj = self.magazines.take_one()?;
        self.counts.change(crate::counting::Change::Reused);
        self.peak.publish_own(self.counts);
        Some((obj, self.magazines.idle() > 0))
    }
}
