//! Guards of [`Pool`](crate::Pool) objects.

use super::inner::Inner;
use super::owned::OwnedRef;
use crate::guard::{guard_type, Lender};
use crate::recycle::{Recycler, SharedRecycler};

impl<T: Send + 'static, R: SharedRecycler<T>> Lender<T> for &Inner<T, R> {
    #[inline(always)]
    fn give_back(&self, obj: Box<T>) {
        Inner::give_back(self, obj);
    }

    fn note_detached(&self) {
        Inner::note_detached(self);
    }
}

impl<T: Send + 'static, R: SharedRecycler<T>> Lender<T> for OwnedRef<T, R> {
    #[inline(always)]
    fn give_back(&self, obj: Box<T>) {
        // The reference itself is given back when the guard's fields drop, right after.
        self.inner().give_back(obj);
    }

    fn note_detached(&self) {
        self.inner().note_detached();
    }
}

guard_type!(
    /// An object lent by a [`Pool`](crate::Pool); derefs to `T` and goes back to the pool when dropped, on
    /// whichever thread drops it, including during unwinding.
    ///
    /// ```
    /// use hotpool::{Pool, Pooled};
    ///
    /// let pool = Pool::new(String::new);
    /// let mut s = pool.get();
    /// s.push_str("hello");
    /// let kept: String = Pooled::detach(s); // leaves the pool for good
    /// assert_eq!(kept, "hello");
    /// assert_eq!(pool.stats().detached, 1);
    /// ```
    ///
    /// ```compile_fail
    /// // A guard cannot outlive its pool.
    /// let guard = {
    ///     let pool = hotpool::Pool::new(String::new);
    ///     pool.get()
    /// };
    /// ```
    Pooled ['a] holds &'a Inner<T, R> where [T: Send + 'static, R: Recycler<T> + Send + Sync + 'static]
);

guard_type!(
    /// An object lent by a [`Pool`](crate::Pool) that keeps the pool alive: `'static`, and `Send` when `T` is,
    /// so it can cross threads and `.await` points. See [`Pool::get_owned`](crate::Pool::get_owned).
    ///
    /// ```
    /// use hotpool::{OwnedPooled, Pool};
    ///
    /// let pool = Pool::new(Vec::<u8>::new);
    /// let mut buf: OwnedPooled<Vec<u8>> = pool.get_owned();
    /// drop(pool); // the guard still holds the pool
    /// let worker = std::thread::spawn(move || {
    ///     buf.extend_from_slice(b"made on another thread");
    ///     buf.len()
    /// }); // dropped there: back to the pool from that thread
    /// assert_eq!(worker.join().unwrap(), 22);
    /// ```
    OwnedPooled [] holds OwnedRef<T, R> where [T: Send + 'static, R: Recycler<T> + Send + Sync + 'static]
);
