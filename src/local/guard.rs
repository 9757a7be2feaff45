//! Guards of [`LocalPool`] objects.

use std::rc::Rc;

use super::LocalPool;
use crate::guard::{guard_type, Lender};
use crate::recycle::Recycler;

impl<T, R: Recycler<T>> Lender<T> for &LocalPool<T, R> {
    #[inline]
    fn give_back(&self, obj: Box<T>) {
        LocalPool::give_back(self, obj);
    }

    fn note_detached(&self) {
        LocalPool::note_detached(self);
    }
}

impl<T, R: Recycler<T>> Lender<T> for Rc<LocalPool<T, R>> {
    #[inline]
    fn give_back(&self, obj: Box<T>) {
        LocalPool::give_back(self, obj);
    }

    fn note_detached(&self) {
        LocalPool::note_detached(self);
    }
}

guard_type!(
    /// An object lent by a [`LocalPool`]; derefs to `T` and goes back to the pool when dropped,
    /// including during unwinding.
    ///
    /// ```
    /// use hotpool::{LocalPool, LocalPooled};
    ///
    /// let pool = LocalPool::new(Vec::<u32>::new);
    /// let mut v = pool.get();
    /// v.push(1);
    /// let kept: Vec<u32> = LocalPooled::detach(v); // leaves the pool for good
    /// assert_eq!(kept, [1]);
    /// assert_eq!(pool.stats().detached, 1);
    /// ```
    LocalPooled ['a] holds &'a LocalPool<T, R> where [R: Recycler<T>]
);

guard_type!(
    /// An object lent by a [`LocalPool`] held in an `Rc`; the guard keeps the pool alive, so it
    /// has no lifetime. See [`LocalPool::get_owned`].
    ///
    /// ```
    /// use std::rc::Rc;
    /// use hotpool::{LocalOwnedPooled, LocalPool};
    ///
    /// struct Session { scratch: LocalOwnedPooled<Vec<u8>> } // no lifetime parameter needed
    ///
    /// let pool = Rc::new(LocalPool::new(Vec::<u8>::new));
    /// let session = Session { scratch: pool.get_owned() };
    /// assert_eq!(Rc::strong_count(&pool), 2); // the guard holds the pool
    /// drop(session);
    /// assert_eq!((Rc::strong_count(&pool), pool.stats().idle), (1, 1));
    /// ```
    LocalOwnedPooled [] holds Rc<LocalPool<T, R>> where [R: Recycler<T>]
);
