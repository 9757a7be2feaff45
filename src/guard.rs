//! The guard types: one mechanism ([`Lent`]: an object and the handle it goes back to) and one
//! definition for the pools' four guards (borrowed or owned handle, local or shared pool). A
//! guard derefs to its object and hands it back to the pool when dropped. The buffer guards
//! (`buffer/guard.rs`) hold a `Lent` too.

/// Where a guard hands its object back: implemented by each pool handle a guard can hold.
pub(crate) trait Lender<T> {
    /// Takes back an object whose guard was dropped (recycles it, keeps or discards it).
    fn give_back(&self, obj: Box<T>);
    /// Counts an object taken out of the pool for good.
    fn note_detached(&self);
}

/// Hands each of `values` to `put` (a pool's `put`) and collects what it refused, in order: the
/// body of both pools' `put_all`.
pub(crate) fn put_each<T>(
    values: impl IntoIterator<Item = T>,
    mut put: impl FnMut(T) -> Result<(), T>,
) -> Vec<T> {
    values
        .into_iter()
        .filter_map(|value| put(value).err())
        .collect()
}

/// An object lent by a pool and the handle it goes back to: the one piece of machinery behind
/// every guard type (the four pool guards below, and the buffer guards in `buffer/guard.rs`).
/// Dropping it gives the object back through the handle; [`Lent::detach`] takes it out for good.
pub(crate) struct Lent<H: Lender<T>, T> {
    handle: H,
    // Taken exactly once: by `drop`, or by `detach`, which then skips `drop`.
    obj: std::mem::ManuallyDrop<Box<T>>,
}

impl<H: Lender<T>, T> Lent<H, T> {
    #[inline(always)]
    pub(crate) fn new(handle: H, obj: Box<T>) -> Self {
        Self {
            handle,
            obj: std::mem::ManuallyDrop::new(obj),
        }
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> &T {
        &self.obj
    }

    #[inline(always)]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        &mut self.obj
    }

    /// Takes the object out of the pool for good (the handle counts it as detached).
    pub(crate) fn detach(self) -> T {
        let mut this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped or used again (it is in a `ManuallyDrop` that goes out
        // of scope here), so reading the handle moves it out exactly once.
        let handle = unsafe { std::ptr::read(&this.handle) };
        // SAFETY: `Lent`'s `Drop` never runs for `this`, so the object is still there and is
        // taken only here.
        let obj = unsafe { std::mem::ManuallyDrop::take(&mut this.obj) };
        handle.note_detached();
        *obj
    }
}

impl<H: Lender<T>, T> Drop for Lent<H, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: `obj` is taken only here and in `detach`, which consumes the `Lent` without
        // running this `drop`, so it is still there and is never used again.
        let obj = unsafe { std::mem::ManuallyDrop::take(&mut self.obj) };
        self.handle.give_back(obj);
    }
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
            lent: $crate::guard::Lent<$handle, T>,
        }

        impl<$($lt,)? T, R> $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            pub(crate) fn new(pool: $handle, obj: Box<T>) -> Self {
                Self { lent: $crate::guard::Lent::new(pool, obj) }
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
                guard.lent.detach()
            }
        }

        impl<$($lt,)? T, R> ::std::ops::Deref for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            type Target = T;

            #[inline]
            fn deref(&self) -> &T {
                self.lent.get()
            }
        }

        impl<$($lt,)? T, R> ::std::ops::DerefMut for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            fn deref_mut(&mut self) -> &mut T {
                self.lent.get_mut()
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

        // What follows forwards std traits to the object, so a guard stands in for `T` in
        // formatting, comparisons, hashing, conversions and writers.

        /// Formats the object.
        impl<$($lt,)? T: ::std::fmt::Display, R> ::std::fmt::Display for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&**self, f)
            }
        }

        /// Compares the object with anything `T` compares with: `guard == "text"`. Two guards
        /// compare through their objects: `*a == *b`.
        impl<$($lt,)? T, R, U: ?Sized> ::std::cmp::PartialEq<U> for $name<$($lt,)? T, R>
        where
            T: ::std::cmp::PartialEq<U>,
            $($bounds)*
        {
            #[inline]
            fn eq(&self, other: &U) -> bool {
                (**self).eq(other)
            }
        }

        /// Orders the object against anything `T` orders against.
        impl<$($lt,)? T, R, U: ?Sized> ::std::cmp::PartialOrd<U> for $name<$($lt,)? T, R>
        where
            T: ::std::cmp::PartialOrd<U>,
            $($bounds)*
        {
            #[inline]
            fn partial_cmp(&self, other: &U) -> Option<::std::cmp::Ordering> {
                (**self).partial_cmp(other)
            }
        }

        /// Hashes as the object does (consistent with `Borrow<T>`).
        impl<$($lt,)? T: ::std::hash::Hash, R> ::std::hash::Hash for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            fn hash<H: ::std::hash::Hasher>(&self, state: &mut H) {
                (**self).hash(state)
            }
        }

        /// Converts as the object does: a `String` guard is an `AsRef<str>`, `AsRef<[u8]>`, ...
        impl<$($lt,)? T, R, U: ?Sized> ::std::convert::AsRef<U> for $name<$($lt,)? T, R>
        where
            T: ::std::convert::AsRef<U>,
            $($bounds)*
        {
            #[inline]
            fn as_ref(&self) -> &U {
                (**self).as_ref()
            }
        }

        /// Converts as the object does: a `Vec<u8>` guard is an `AsMut<[u8]>`.
        impl<$($lt,)? T, R, U: ?Sized> ::std::convert::AsMut<U> for $name<$($lt,)? T, R>
        where
            T: ::std::convert::AsMut<U>,
            $($bounds)*
        {
            #[inline]
            fn as_mut(&mut self) -> &mut U {
                (**self).as_mut()
            }
        }

        /// Lends the object, so a guard goes where a `Borrow<T>` is taken.
        impl<$($lt,)? T, R> ::std::borrow::Borrow<T> for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            fn borrow(&self) -> &T {
                self
            }
        }

        /// Lends the object mutably.
        impl<$($lt,)? T, R> ::std::borrow::BorrowMut<T> for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            fn borrow_mut(&mut self) -> &mut T {
                self
            }
        }

        /// Writes bytes to the object: `write!(guard, ..)` on a pooled `Vec<u8>`.
        impl<$($lt,)? T: ::std::io::Write, R> ::std::io::Write for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                (**self).write(buf)
            }

            #[inline]
            fn write_vectored(
                &mut self,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::io::Result<usize> {
                (**self).write_vectored(bufs)
            }

            #[inline]
            fn flush(&mut self) -> ::std::io::Result<()> {
                (**self).flush()
            }

            #[inline]
            fn write_all(&mut self, buf: &[u8]) -> ::std::io::Result<()> {
                (**self).write_all(buf)
            }

            #[inline]
            fn write_fmt(&mut self, args: ::std::fmt::Arguments<'_>) -> ::std::io::Result<()> {
                (**self).write_fmt(args)
            }
        }

        /// Writes text to the object: `write!(guard, ..)` on a pooled `String`.
        impl<$($lt,)? T: ::std::fmt::Write, R> ::std::fmt::Write for $name<$($lt,)? T, R>
        where
            $($bounds)*
        {
            #[inline]
            fn write_str(&mut self, s: &str) -> ::std::fmt::Result {
                (**self).write_str(s)
            }

            #[inline]
            fn write_char(&mut self, c: char) -> ::std::fmt::Result {
                (**self).write_char(c)
            }

            #[inline]
            fn write_fmt(&mut self, args: ::std::fmt::Arguments<'_>) -> ::std::fmt::Result {
                (**self).write_fmt(args)
            }
        }
    };
}
pub(crate) use guard_type;
