//! Objects that count themselves: [`Census`] knows how many [`Counted`] objects of one pool are
//! alive right now and the most ever alive at once, from the objects' own constructor and
//! `Drop`, not from the pool's stats. A bounded pool's tests check their cap with it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hotpool::Recycle;

/// The living [`Counted`] objects of one kind.
#[derive(Debug, Default)]
pub struct Census {
    alive: AtomicUsize,
    most: AtomicUsize,
    made: AtomicUsize,
}

#[allow(dead_code)]
impl Census {
    /// A fresh census, shared by the objects it makes.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Makes a new object with an empty payload; it counts as alive until dropped.
    pub fn make(self: &Arc<Self>) -> Counted {
        self.made.fetch_add(1, Ordering::SeqCst);
        let now = self.alive.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        Counted {
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
        self.alive.load(Ordering::SeqCst)
    }

    /// The most objects ever alive at once.
    pub fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }

    /// Objects made so far.
    pub fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }
}

/// An object made by a [`Census`]; alive there until dropped.
#[derive(Debug)]
pub struct Counted {
    /// Payload: cleared by `reset`.
    pub data: Vec<u8>,
    census: Arc<Census>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.census.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Recycle for Counted {
    fn reset(&mut self) {
        self.data.clear();
    }

    fn retained_bytes(&self) -> usize {
        self.data.capacity()
    }
}
