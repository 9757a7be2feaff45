//! Crate-internal access to a [`Pool`]'s engine for pools built from several `Pool`s
//! ([`BufferPool`](crate::BufferPool): one `Pool` per size class). They hold their own guards,
//! which must give an object back to a chosen pool, not to the one it came from.

use super::tier::Source;
use super::Pool;
use crate::recycle::Recycler;

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Pool<T, R> {
    /// What `get` hands out, without a guard.
    #[inline(always)]
    pub(crate) fn take_boxed(&self) -> Box<T> {
        self.acquire()
    }

    /// What a guard's drop does with its object: recycle, keep or discard (and count it).
    #[inline(always)]
    pub(crate) fn give_back_boxed(&self, obj: Box<T>) {
        self.inner.give_back(obj);
    }

    /// [`Pool::put`] without moving the object out of its box: recycles it and keeps it, counted
    /// as `put`; gives it back if refused or there is no room.
    pub(crate) fn put_boxed(&self, obj: Box<T>) -> Result<(), Box<T>> {
        self.inner.recycle_and_keep(obj, Source::Put)
    }

    /// Counts an object that `take_boxed` handed out as detached.
    pub(crate) fn note_detached_boxed(&self) {
        self.inner.note_detached();
    }
}
