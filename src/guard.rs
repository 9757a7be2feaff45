//! The guard types: one definition, four instances (borrowed or owned handle, local or shared
//! pool). A guard derefs to its object and hands it back to the pool when dropped.

/// Where a guard hands its object back: implemented by each pool handle a guard can hold.
pub(crate) trait Lender<T> {
    /// Takes back an object whose guard was dropped (recycles it, keeps or discards it).
    fn give_back(&self, obj: Box<T>);
    /// Counts an object taken out of the pool for good.
    fn note_detached(&self);
}

/// Moves the handle and the object out of `guard` without running its `Drop`: what `detach`
/// needs. `fields` names the two fields; each is read exactly once, and the rest of the guard
/// has no drop glue.
#[inline]
pub(crate) fn into_parts<G, H, T>(
    guard: G,
    fields: impl FnOnce(&mut G) -> (&mut H, &mut std::mem::ManuallyDrop<Box<T>>),
) -> (H, Box<T>) {
    let mut guard = std::mem::ManuallyDrop::new(guard);
    let (handle, obj) = fields(&mut guard);
    // SAFETY: `guard` is never dropped or used again (it is in a `ManuallyDrop` that goes out of
    // scope here), so reading the handle moves it out exactly once.
    let handle = unsafe { std::ptr::read(handle) };
    // SAFETY: the guard's `Drop` never runs, so the object is still there and taken only here.
    let obj = unsafe { std::mem::ManuallyDrop::take(obj) };
    (handle, obj)
}

/// Defines a guard type named `$name` that holds pool handle `$handle`. Both guards of a pool
/// share every line but the handle, so the code lives once here.
macro_rules! guard_type {
    (
        $(#[$doc:meta])*
        $name:ident [$($lt:lifetime)?] holds $handle:ty where [$($bounds:tt)*]
    ) => {
        $(#[$doc])*
        #[must_use = "dropping the guard returns the object to the pool at once"]
        pub struct $name<$($lt,)? T, R = $crate::recycle::ResetRecycler>
        where
            $($bounds)*
        {
            pool: $handle,
            // Taken exactly once: by `drop`, or by `detach`, which then skips `drop`.
            obj: ::std::mem::ManuallyDrop<Box<T>>,
        }

        impl<$($lt,)? T, R> $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            pub(crate) fn new(pool: $handle, obj: Box<T>) -> Self {
                Self { pool, obj: ::std::mem::ManuallyDrop::new(obj) }
            }

            /// Takes the object out of the pool for good: it is not recycled and the pool forgets
            /// it (counted as `detached`). An associated function, so it never shadows a method
            /// of `T`: call it as `Guard::detach(guard)`.
            ///
            /// ```
            /// use std::rc::Rc;
            /// use hotpool::{LocalOwnedPooled, LocalPool, LocalPooled, OwnedPooled, Pool, Pooled};
            ///
            /// let shared = Pool::new(String::new);
            /// let local = Rc::new(LocalPool::new(String::new));
            /// let mut guard = shared.get();
            /// guard.push_str("not reset");
            /// let kept: String = Pooled::detach(guard); // not `guard.detach()`
            /// assert_eq!(kept, "not reset");
            /// // Every guard type has it:
            /// let _: String = OwnedPooled::detach(shared.get_owned());
            /// let _: String = LocalPooled::detach(local.get());
            /// let _: String = LocalOwnedPooled::detach(local.get_owned());
            /// assert_eq!((shared.stats().detached, local.stats().detached), (2, 2));
            /// ```
            pub fn detach(guard: Self) -> T {
                let (pool, obj) = $crate::guard::into_parts(guard, |g| (&mut g.pool, &mut g.obj));
                $crate::guard::Lender::note_detached(&pool);
                *obj
            }
        }

        impl<$($lt,)? T, R> ::std::ops::Deref for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            type Target = T;

            #[inline]
            fn deref(&self) -> &T {
                &self.obj
            }
        }

        impl<$($lt,)? T, R> ::std::ops::DerefMut for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            fn deref_mut(&mut self) -> &mut T {
                &mut self.obj
            }
        }

        impl<$($lt,)? T, R> Drop for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline(always)]
            fn drop(&mut self) {
                // SAFETY: `obj` is taken only here and in `detach`, which consumes the guard
                // without running this `drop` (`into_parts`), so it is still there and is never
                // used again.
                let obj = unsafe { ::std::mem::ManuallyDrop::take(&mut self.obj) };
                $crate::guard::Lender::give_back(&self.pool, obj);
            }
        }

        impl<$($lt,)? T: ::std::fmt::Debug, R> ::std::fmt::Debug for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&**self, f)
            }
        }
    };
}
pub(crate) use guard_type;
