//! The idle stack of a `LocalPool`: a LIFO of boxed objects behind `&self`, without a borrow
//! flag. One of the crate's few files with `unsafe` code.
//!
//! `LocalPool` is `!Sync`, so only one thread touches the stack, and every method below runs
//! nothing but `Vec` operations that cannot call back into user code while the `&mut Vec` is
//! alive: no `T::drop` (objects leave by value and are dropped by the caller) and no allocation
//! (the stack only grows through [`IdleStack::push`]'s cold path, which allocates the bigger
//! buffer before borrowing and frees the old one after). So no second borrow can ever overlap
//! one of these, and a `RefCell`'s flag would only cost time on every get and return.

use std::mem;

use crate::sync::UnsafeCell;

pub(super) struct IdleStack<T> {
    objects: UnsafeCell<Vec<Box<T>>>,
    /// Most objects the stack holds (the pool's `max_idle`).
    max: usize,
}

impl<T> IdleStack<T> {
    pub(super) fn new(max: usize) -> Self {
        Self {
            objects: UnsafeCell::new(Vec::new()),
            max,
        }
    }

    /// Runs `f` on the vector. `f` must not allocate, free, drop a `T` or call user code (see
    /// the module docs): all callers are in this file.
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Vec<Box<T>>) -> R) -> R {
        self.objects.with_mut(|objects| {
            // SAFETY: the pointer is from the live cell of `self`; the `&mut` is unique because
            // - `LocalPool` (the only user) and its guards are neither `Send` nor `Sync`;
            // - each `f` (all in this file) moves pointers within capacity: nothing re-enters.
            f(unsafe { &mut *objects })
        })
    }

    /// The most recently pushed object, and how many stay idle after it.
    #[inline]
    pub(super) fn pop(&self) -> Option<(Box<T>, usize)> {
        self.with(|objects| objects.pop().map(|obj| (obj, objects.len())))
    }

    /// Pushes `obj` unless `max` objects are idle already, in which case it is given back.
    #[inline]
    pub(super) fn push(&self, obj: Box<T>) -> Result<(), Box<T>> {
        let room = self.with(|objects| {
            if objects.len() < objects.capacity() {
                objects.push(obj);
                return None;
            }
            Some((obj, objects.len()))
        });
        match room {
            None => Ok(()),
            Some((obj, len)) if len < self.max => {
                self.grow();
                self.push(obj)
            }
            Some((obj, _)) => Err(obj),
        }
    }

    /// Doubles the buffer (up to `max`), allocating and freeing outside the borrow.
    #[cold]
    #[inline(never)]
    fn grow(&self) {
        let len = self.len();
        let mut bigger = Vec::with_capacity((len * 2).max(4).min(self.max));
        self.with(|objects| {
            bigger.append(objects); // fits: no allocation
            mem::swap(objects, &mut bigger);
        });
        drop(bigger); // the old, now empty buffer
    }

    /// Objects idle now.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.with(|objects| objects.len())
    }

    /// Takes every idle object out, for the caller to drop.
    pub(super) fn take_all(&self) -> Vec<Box<T>> {
        self.with(mem::take)
    }
}
