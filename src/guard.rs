//! The guard types: one definition, four instances (borrowed or owned handle, local or shared
//! pool). A guard derefs to its object and hands it back to the pool when dropped.

/// Where a guard hands its object back: implemented by each pool handle a guard can hold.
pub(crate) trait Lender<T> {
    /// Takes back an object whose guard was dropped (recycles it, keeps or discards it).
    fn give_back(&self, obj: Box<T>);
    /// Counts an object taken out of the pool for good.
    fn note_detached(&self);
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
            // `None` only after `detach` took the object; `drop` then has nothing to return.
            obj: Option<Box<T>>,
        }

        impl<$($lt,)? T, R> $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            pub(crate) fn new(pool: $handle, obj: Box<T>) -> Self {
                Self { pool, obj: Some(obj) }
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
            pub fn detach(mut guard: Self) -> T {
                let obj = guard.obj.take().expect("a guard holds its object until dropped");
                $crate::guard::Lender::note_detached(&guard.pool);
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
                self.obj.as_deref().expect("a guard holds its object until dropped")
            }
        }

        impl<$($lt,)? T, R> ::std::ops::DerefMut for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            fn deref_mut(&mut self) -> &mut T {
                self.obj.as_deref_mut().expect("a guard holds its object until dropped")
            }
        }

        impl<$($lt,)? T, R> Drop for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline(always)]
            fn drop(&mut self) {
                if let Some(obj) = self.obj.take() {
                    $crate::guard::Lender::give_back(&self.pool, obj);
                }
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
