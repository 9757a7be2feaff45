//! A thread's tally of the owned-guard references released on it, with a release in progress
//! visible to the pool's last handle.
//!
//! The tally counts in steps of two: an owned guard's drop makes it odd ([`ReleaseTally::begin`])
//! before it checks whether the pool is closing, and even again when it is done
//! ([`ReleaseTally::complete`] or [`ReleaseTally::abandon`]). That last store is the drop's last
//! access to the pool, as `Arc`'s `fetch_sub` is: the last handle, which collects every tally
//! before it may free the pool, waits while a tally is odd ([`ReleaseTally::settled`]). The
//! argument: [the implementation notes](crate::implementation#owned-guards-without-a-shared-count).

use crate::sync::{spin_wait, AtomicUsize, Ordering};

/// Releases counted by a tally wrap at this many (the count lives in the bits above the
/// in-progress bit).
const COUNT_MASK: usize = usize::MAX >> 1;

/// Owned-guard references released on one thread, ever (wrapping), and whether a release is in
/// progress. Written only by the owning thread.
#[derive(Debug, Default)]
pub(crate) struct ReleaseTally(AtomicUsize);

/// A release begun with [`ReleaseTally::begin`]: the tally's value before it.
#[must_use = "a begun release must be completed or abandoned"]
pub(crate) struct Begun(usize);

impl ReleaseTally {
    /// Owner: marks a release in progress, after running `before` with the count of releases
    /// so far (while no release is in progress, so `before` may take the depot lock, which the
    /// last handle holds while it waits out a release in progress). Relaxed: the caller's [light
    /// barrier](crate::barrier::light) orders the mark before the `closing` check that follows.
    #[inline(always)]
    pub(crate) fn begin(&self, before: impl FnOnce(usize)) -> Begun {
        // One load: only the owner writes the word, and `before` never does.
        let word = self.0.load(Ordering::Relaxed);
        debug_assert_eq!(word & 1, 0, "releases on one thread do not nest");
        before(word >> 1);
        self.0.store(word | 1, Ordering::Relaxed);
        Begun(word)
    }

    /// Owner: counts the release begun as `begun`. The caller's last access to the pool: the
    /// last handle may collect this count and free the pool as soon as it sees it. Release: a
    /// collector that sees it sees every earlier access of this thread to the pool.
    #[inline(always)]
    pub(crate) fn complete(&self, begun: Begun) {
        self.0.store(begun.0.wrapping_add(2), Ordering::Release);
    }

    /// Owner: ends the release begun as `begun` without counting it (the pool is closing and the
    /// caller gives its reference back itself). Release, as for [`ReleaseTally::complete`].
    #[inline(always)]
    pub(crate) fn abandon(&self, begun: Begun) {
        self.0.store(begun.0, Ordering::Release);
    }

    /// Any thread: the releases completed so far; a release in progress is not counted (a thief
    /// collecting while the owner drops a guard: it counts that release at its next collection).
    /// Acquire: pairs with the store that completed each counted release.
    pub(crate) fn completed(&self) -> usize {
        self.0.load(Ordering::Acquire) >> 1
    }

    /// The last handle: the releases completed, after waiting out a release in progress (a few
    /// instructions of a guard's drop, which takes no lock). Acquire, as for
    /// [`ReleaseTally::completed`].
    pub(crate) fn settled(&self) -> usize {
        let mut round = 0;
        loop {
            let word = self.0.load(Ordering::Acquire);
            if word & 1 == 0 {
                return word >> 1;
            }
            spin_wait(&mut round);
        }
    }
}

/// Releases counted between two readings of a tally (`earlier`, `later`), across a wrap.
pub(crate) fn released_between(earlier: usize, later: usize) -> usize {
    later.wrapping_sub(earlier) & COUNT_MASK
}

#[cfg(all(test, not(hotpool_loom)))]
mod tests {
    use super::{released_between, ReleaseTally, COUNT_MASK};

    #[test]
    fn a_completed_release_counts_one_and_an_abandoned_one_none() {
        let tally = ReleaseTally::default();
        let begun = tally.begin(|before| assert_eq!(before, 0));
        assert_eq!(tally.completed(), 0, "in progress: not counted");
        tally.complete(begun);
        assert_eq!((tally.completed(), tally.settled()), (1, 1));
        let begun = tally.begin(|before| assert_eq!(before, 1));
        tally.abandon(begun);
        assert_eq!((tally.completed(), tally.settled()), (1, 1));
    }

    #[test]
    fn settled_waits_for_a_release_in_progress() {
        let tally = std::sync::Arc::new(ReleaseTally::default());
        let begun = tally.begin(|_| {});
        let reader = {
            let tally = std::sync::Arc::clone(&tally);
            std::thread::spawn(move || tally.settled())
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!reader.is_finished(), "settled returned during a release");
        tally.complete(begun);
        assert_eq!(reader.join().unwrap(), 1);
    }

    #[test]
    fn counts_between_readings_survive_the_wrap() {
        assert_eq!(released_between(5, 9), 4);
        assert_eq!(released_between(COUNT_MASK, 2), 3);
        let tally = ReleaseTally(crate::sync::AtomicUsize::new(usize::MAX - 1));
        let before = tally.completed();
        let begun = tally.begin(|_| {});
        tally.complete(begun);
        assert_eq!(released_between(before, tally.completed()), 1);
    }
}
