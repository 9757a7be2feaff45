//! The in-flight byte budget of a [`BufferPool`](super::BufferPool) (`max_live_bytes`): the
//! pool's [`Limiter`] counted in bytes.
//!
//! A place is a byte. A buffer takes its capacity's worth of places when it is handed out and
//! gives them back when its guard drops, so the capacity of the buffers in use never exceeds
//! the budget at the moment each was acquired; a buffer that grows while in use is not charged
//! for the growth (it shows when the buffer comes back, as idle bytes or as a freed buffer).
//! Waiters queue first come, first served, each for its whole need: a large request at the
//! head of the queue holds back smaller ones behind it until it fits, so none starves. The
//! rules are the limiter's (`pool/limiter.rs`); this type gives them a lock of their own (a
//! `BufferPool` has no depot: each size class is a pool of its own) and the blocking, timed
//! and polled waits.

use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::Timeout;
use crate::pool::limiter::Limiter;
use crate::pool::places::Places;
use crate::pool::waiter::{block_until_served, poll_served, Handoff, Waiter, Wake, Wakes};
use crate::sync::{current_thread, Arc, Mutex};

/// Why a request got no bytes at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The budget is spent (or others wait first): the caller may wait.
    AtBudget,
    /// More than the whole budget: it can never be served.
    OverBudget,
}

/// A byte budget: at most `max` bytes in use, waiters served in order.
pub(crate) struct Budget {
    limiter: Limiter,
    places: Mutex<Places<()>>,
}

impl Budget {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            // Strict order: bytes that free go to the waiters in turn (nothing idle serves them).
            limiter: Limiter::new(max_bytes, Duration::ZERO),
            places: Mutex::new(Places::default()),
        }
    }

    /// The budget, in bytes.
    pub(crate) fn max(&self) -> usize {
        self.limiter.max_live
    }

    /// Bytes in use now.
    pub(crate) fn in_use(&self) -> usize {
        self.places.lock().live()
    }

    /// Requests that had to wait, ever.
    pub(crate) fn waits(&self) -> u64 {
        self.places.lock().waits()
    }

    /// Whether `need` bytes can ever be served: `OverBudget` if they are more than the budget.
    pub(crate) fn try_fits(&self, need: usize) -> Result<(), Refusal> {
        if need > self.max() {
            return Err(Refusal::OverBudget);
        }
        Ok(())
    }

    /// Takes `need` bytes now if they are free and nobody waits first.
    pub(crate) fn try_take(&self, need: usize) -> Result<(), Refusal> {
        self.try_fits(need)?;
        if self.limiter.try_take(&mut self.places.lock(), need) {
            Ok(())
        } else {
            Err(Refusal::AtBudget)
        }
    }

    /// Takes `need` bytes, blocking the calling thread until they are free or `deadline`
    /// (forever if `None`) passes. `need` must fit in the budget (checked by the caller with
    /// [`Budget::try_take`]'s `OverBudget`).
    pub(crate) fn take_blocking(
        &self,
        need: usize,
        deadline: Option<Instant>,
    ) -> Result<(), Timeout> {
        let waiter = match self.take_or_enqueue(need, || Wake::Thread(current_thread())) {
            Ok(()) => return Ok(()),
            Err(waiter) => waiter,
        };
        // Never notified (only a pool's idle objects notify), so there is nothing to retry.
        block_until_served(&waiter, deadline, || None, || self.cancel_locked(&waiter)).map(|_| ())
    }

    /// One poll of a task that takes `need` bytes: ready once they are its, queued in `waiter`
    /// meanwhile. A caller that stops polling before it is ready calls [`Budget::cancel`].
    pub(crate) fn poll_take(
        &self,
        need: usize,
        waiter: &mut Option<Arc<Waiter<()>>>,
        waker: &Waker,
    ) -> Poll<()> {
        if let Some(queued) = waiter {
            let served = poll_served(queued, waker, || None);
            if served.is_ready() {
                *waiter = None;
            }
            return served.map(|_| ());
        }
        match self.take_or_enqueue(need, || Wake::Task(waker.clone())) {
            Ok(()) => Poll::Ready(()),
            Err(queued) => {
                *waiter = Some(queued);
                Poll::Pending
            }
        }
    }

    /// Ends a wait that will not use its bytes (a dropped future): leaves the queue, or gives the
    /// bytes back if it was served meanwhile.
    pub(crate) fn cancel(&self, waiter: &Arc<Waiter<()>>, need: usize) {
        if let Some(Handoff::Place) = self.cancel_locked(waiter) {
            self.release(need);
        }
    }

    /// Gives `n` bytes back; the waiters they make room for are served.
    pub(crate) fn release(&self, n: usize) {
        let mut wakes = Wakes::default();
        self.limiter
            .free(&mut self.places.lock(), n, false, &mut wakes);
        wakes.wake_all();
    }

    /// Takes `need` bytes if free and nobody waits first; otherwise queues a waiter (woken by
    /// `wake`). `wake` (a `Waker` clone: user code) runs with no lock held, and only when the
    /// caller must queue.
    fn take_or_enqueue(
        &self,
        need: usize,
        wake: impl FnOnce() -> Wake,
    ) -> Result<(), Arc<Waiter<()>>> {
        if self.limiter.try_take(&mut self.places.lock(), need) {
            return Ok(());
        }
        let wake = wake();
        let mut places = self.places.lock();
        if self.limiter.try_take(&mut places, need) {
            drop(places);
            drop(wake); // unused, dropped outside the lock
            return Ok(());
        }
        Err(self.limiter.enqueue_for_places(&mut places, wake, need))
    }

    /// Ends `waiter`'s wait under the lock: what it was handed meanwhile, if anything. Wakes
    /// the waiters it let through, and drops its own waker, after unlocking.
    fn cancel_locked(&self, waiter: &Arc<Waiter<()>>) -> Option<Handoff<()>> {
        let mut wakes = Wakes::default();
        let cancelled = self
            .limiter
            .cancel(&mut self.places.lock(), waiter, false, &mut wakes);
        wakes.wake_all();
        drop(cancelled.stale);
        cancelled.handoff
    }
}

#[cfg(all(test, not(hotpool_loom)))]
mod tests {
    use super::{Budget, Refusal};
    use std::time::{Duration, Instant};

    #[test]
    fn a_request_over_the_whole_budget_is_refused_for_good_and_one_at_it_may_wait() {
        let budget = Budget::new(4096);
        assert_eq!(budget.try_take(4097), Err(Refusal::OverBudget));
        assert_eq!(budget.try_take(4096), Ok(()));
        assert_eq!(budget.try_take(1), Err(Refusal::AtBudget));
        assert_eq!(budget.in_use(), 4096);
        budget.release(4096);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn a_timed_wait_gives_up_at_its_deadline_and_leaves_nothing_taken() {
        let budget = Budget::new(100);
        budget.try_take(100).unwrap();
        let deadline = Instant::now() + Duration::from_millis(5);
        assert!(budget.take_blocking(1, Some(deadline)).is_err());
        assert_eq!((budget.in_use(), budget.waits()), (100, 1));
        budget.release(100);
        assert_eq!(
            budget.try_take(100),
            Ok(()),
            "the timed-out waiter left the queue"
        );
    }

    #[test]
    fn a_blocked_thread_gets_its_bytes_when_enough_are_released() {
        let budget = Budget::new(100);
        budget.try_take(100).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| budget.take_blocking(60, None));
            while budget.waits() == 0 {
                std::thread::yield_now();
            }
            budget.release(50); // not enough
            budget.release(50);
            assert!(waiter.join().unwrap().is_ok());
        });
        assert_eq!(budget.in_use(), 60);
    }
}
