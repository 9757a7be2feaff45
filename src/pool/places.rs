//! The places and the queue of a limiter ([`Places`]), under the lock of their owner: a `Pool`'s
//! depot lock (an unbounded pool keeps an empty one and never queues), or a `BufferPool`
//! budget's own. The rules that use them are the limiter's (`limiter.rs`).

use std::collections::VecDeque;
use std::time::Instant;

use super::spare_nodes;
use super::waiter::{Closed, Handoff, Waiter, Wake, Wakes};
use crate::sync::Arc;

/// `#[repr(C)]`: the fields every wait and hand-off touches first, next to the owner's lock
/// (see `Depot`), the shared spare nodes last.
#[repr(C)]
pub(crate) struct Places<T> {
    queue: VecDeque<Arc<Waiter<T>>>,
    /// Places taken: objects alive, in use or idle (bytes in use, for a budget).
    live: usize,
    /// Whether a queued waiter is notified (woken to look for an idle object itself): at most
    /// one is, so a burst of returns wakes one waiter, not one each.
    notified: bool,
    /// When the queue last became empty (a pool's caches reopen a while after, `limiter.rs`).
    pub(crate) emptied_at: Option<Instant>,
    /// Acquisitions that had to queue, ever.
    waits: u64,
    /// Nodes of waits that ended, oldest first, reused by new ones once their waiter dropped
    /// its handle: those that a thread had no room for (`spare_nodes.rs`).
    spare: VecDeque<Arc<Waiter<T>>>,
}

impl<T> Default for Places<T> {
    fn default() -> Self {
        Self {
            live: 0,
            queue: VecDeque::new(),
            spare: VecDeque::new(),
            notified: false,
            emptied_at: None,
            waits: 0,
        }
    }
}

impl<T: 'static> Places<T> {
    /// Whether anyone is queued.
    pub(crate) fn has_waiters(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Acquisitions that had to queue, ever.
    pub(crate) fn waits(&self) -> u64 {
        self.waits
    }

    /// Takes `n` places unconditionally (`prefill`, checked against the cap by `build`).
    pub(crate) fn take(&mut self, n: usize) {
        self.live += n;
    }

    /// Places taken now.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The first waiter, if any.
    pub(super) fn first(&self) -> Option<&Waiter<T>> {
        self.queue.front().map(|first| &**first)
    }

    /// Takes `need` places if they are free and nobody queued before the caller; `false`
    /// otherwise.
    pub(super) fn try_take(&mut self, max_live: usize, need: usize) -> bool {
        let free = self.queue.is_empty() && need <= max_live - self.live;
        if free {
            self.live += need;
        }
        free
    }

    /// Queues a new waiter for `need` places, last, in a node of an ended wait if one is free.
    pub(super) fn enqueue(
        &mut self,
        wake: Wake,
        need: usize,
        fair_at: Option<Option<Instant>>,
    ) -> Arc<Waiter<T>> {
        let waiter = Waiter::new(need, fair_at, wake);
        // This thread's own spare nodes first (`spare_nodes.rs`), then the shared ones.
        let node = match spare_nodes::reuse(waiter) {
            Ok(node) => node,
            Err(waiter) => spare_nodes::reuse_shared(&mut self.spare, waiter),
        };
        self.queue.push_back(Arc::clone(&node));
        self.waits += 1;
        self.emptied_at = None;
        node
    }

    /// Hands `handoff` to the first waiter and pushes how to wake it onto `wakes`, or gives
    /// `handoff` back if nobody waits. An object goes only to a waiter for one place (a `Pool`'s).
    pub(super) fn serve(
        &mut self,
        handoff: Handoff<T>,
        wakes: &mut Wakes,
    ) -> Result<(), Handoff<T>> {
        let Some(waiter) = self.queue.pop_front() else {
            return Err(handoff);
        };
        debug_assert!(matches!(handoff, Handoff::Place) || waiter.need == 1);
        match waiter.serve(handoff) {
            Some(wake) => wakes.push(wake),
            // It was notified, and finds this when it looks.
            None => self.notified = false,
        }
        self.retire(waiter);
        Ok(())
    }

    /// Wakes the first waiter to look for an idle object itself, unless a waiter is notified
    /// already.
    pub(super) fn notify_first(&mut self, wakes: &mut Wakes) {
        if self.notified {
            return;
        }
        if let Some(first) = self.queue.front() {
            self.notified = true;
            if let Some(wake) = first.notify() {
                wakes.push(wake);
            }
        }
    }

    /// A notified `waiter` found an idle object: it leaves the queue.
    pub(super) fn leave_notified(&mut self, waiter: &Arc<Waiter<T>>) {
        debug_assert!(self.notified);
        self.notified = false;
        let _closed = waiter.close();
        self.remove(waiter);
    }

    /// A notified `waiter` found nothing idle: it waits again in its place, to be woken by
    /// `wake`. Gives `wake` back if it was served meanwhile.
    pub(super) fn requeue_notified(&mut self, waiter: &Waiter<T>, wake: Wake) -> Result<(), Wake> {
        waiter.requeue(wake)?;
        self.notified = false;
        Ok(())
    }

    /// Frees `n` places.
    pub(super) fn free(&mut self, n: usize) {
        debug_assert!(n <= self.live, "freeing {n} of {} places", self.live);
        self.live -= n;
    }

    /// Serves waiters in order while the first one's need fits in the free places.
    pub(super) fn serve_fitting(&mut self, max_live: usize, wakes: &mut Wakes) {
        while let Some(need) = self.queue.front().map(|first| first.need) {
            if need > max_live - self.live {
                break;
            }
            self.live += need;
            if self.serve(Handoff::Place, wakes).is_err() {
                unreachable!("the queue has a first waiter");
            }
        }
    }

    /// Ends `waiter`'s wait (see [`Waiter::close`]); takes it out of the queue if it is there.
    pub(super) fn cancel(&mut self, waiter: &Arc<Waiter<T>>) -> Closed<T> {
        let closed = waiter.close();
        if let Closed::LeftQueue(stale) = &closed {
            if stale.is_none() {
                self.notified = false;
            }
            self.remove(waiter);
        }
        closed
    }

    /// Takes `waiter` out of the queue (it is there).
    fn remove(&mut self, waiter: &Arc<Waiter<T>>) {
        match self
            .queue
            .iter()
            .position(|queued| Arc::ptr_eq(queued, waiter))
        {
            Some(i) => {
                if let Some(node) = self.queue.remove(i) {
                    self.retire(node);
                }
            }
            None => unreachable!("a waiter in the queue"),
        }
    }

    /// Keeps the node of a wait that left the queue for a later wait.
    fn retire(&mut self, node: Arc<Waiter<T>>) {
        spare_nodes::retire(&mut self.spare, node);
    }
}
