//! The slice-allocating methods of [`Scope`]: copies, clones, fills and iterators.
//!
//! Types with drop glue go through the scope's drop list (their elements are dropped when the
//! scope ends); the others go straight to bumpalo. An empty slice never takes a drop-list entry.

use std::mem::needs_drop;

use super::config::AllocError;
use super::scope::{or_panic, Scope};
use super::Vec;

impl<'env> Scope<'env> {
    /// Copies `src` into the arena.
    ///
    /// # Panics
    /// If the allocation limit refuses it.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let xs = s.alloc_slice_copy(&[3u32, 1, 2]);
    ///     xs.sort_unstable();
    ///     assert_eq!(xs, &[1, 2, 3]);
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
        or_panic(self.try_alloc_slice_copy(src))
    }

    /// Like [`alloc_slice_copy`](Scope::alloc_slice_copy), but returns [`AllocError`] instead
    /// of panicking.
    ///
    /// ```
    /// hotpool::arena::scope(|s| assert_eq!(s.try_alloc_slice_copy(b"ab").unwrap(), b"ab"));
    /// ```
    #[inline]
    pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T], AllocError> {
        match self.arena.bump().try_alloc_slice_copy(src) {
            Ok(slice) => Ok(slice),
            Err(_) => Err(self.refused::<T>(src.len())),
        }
    }

    /// Clones `src` into the arena; the clones are dropped when the scope ends. If a `clone`
    /// panics, the clones already made are still dropped at scope end.
    ///
    /// # Panics
    /// If the allocation limit refuses it, or if `T::clone` panics.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let names = s.alloc_slice_clone(&["a".to_string(), "b".to_string()]);
    ///     names[1].push('!');
    ///     assert_eq!(names, &["a", "b!"]);
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc_slice_clone<T: Clone + 'env>(&self, src: &[T]) -> &mut [T] {
        or_panic(self.try_alloc_slice_clone(src))
    }

    /// Like [`alloc_slice_clone`](Scope::alloc_slice_clone), but returns [`AllocError`]
    /// instead of panicking (nothing is cloned then).
    ///
    /// ```
    /// hotpool::arena::scope(|s| assert_eq!(s.try_alloc_slice_clone(&[vec![1]]).unwrap().len(), 1));
    /// ```
    #[inline]
    pub fn try_alloc_slice_clone<T: Clone + 'env>(
        &self,
        src: &[T],
    ) -> Result<&mut [T], AllocError> {
        self.try_alloc_slice_fill_with(src.len(), |i| src[i].clone())
    }

    /// A slice of `len` values made by `f(index)`, in index order; they are dropped when the
    /// scope ends if their type needs it. If `f` panics, the values already made are still
    /// dropped at scope end.
    ///
    /// # Panics
    /// If the allocation limit refuses it, or if `f` panics.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let labels = s.alloc_slice_fill_with(3, |i| format!("row {i}"));
    ///     assert_eq!(labels, &["row 0", "row 1", "row 2"]);
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc_slice_fill_with<T: 'env>(
        &self,
        len: usize,
        f: impl FnMut(usize) -> T,
    ) -> &mut [T] {
        or_panic(self.try_alloc_slice_fill_with(len, f))
    }

    /// Like [`alloc_slice_fill_with`](Scope::alloc_slice_fill_with), but returns
    /// [`AllocError`] instead of panicking (`f` is not called then).
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     assert_eq!(s.try_alloc_slice_fill_with(3, |i| i * 10).unwrap(), &[0, 10, 20]);
    /// });
    /// ```
    #[inline]
    pub fn try_alloc_slice_fill_with<T: 'env>(
        &self,
        len: usize,
        mut f: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], AllocError> {
        if !needs_drop::<T>() {
            return match self.arena.bump().try_alloc_slice_fill_with(len, f) {
                Ok(slice) => Ok(slice),
                Err(_) => Err(self.refused::<T>(len)),
            };
        }
        let mut room = self.dropping::<T>(len)?;
        for i in 0..len {
            room.push(f(i));
        }
        Ok(room.into_slice())
    }

    /// A slice of `len` copies of `value`.
    ///
    /// # Panics
    /// If the allocation limit refuses it.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let row = s.alloc_slice_fill_copy(4, 0.5f32);
    ///     row[0] = 1.0;
    ///     assert_eq!(row, &[1.0, 0.5, 0.5, 0.5]);
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc_slice_fill_copy<T: Copy>(&self, len: usize, value: T) -> &mut [T] {
        or_panic(self.try_alloc_slice_fill_copy(len, value))
    }

    /// Like [`alloc_slice_fill_copy`](Scope::alloc_slice_fill_copy), but returns
    /// [`AllocError`] instead of panicking.
    ///
    /// ```
    /// hotpool::arena::scope(|s| assert_eq!(s.try_alloc_slice_fill_copy(2, b'x').unwrap(), b"xx"));
    /// ```
    #[inline]
    pub fn try_alloc_slice_fill_copy<T: Copy>(
        &self,
        len: usize,
        value: T,
    ) -> Result<&mut [T], AllocError> {
        match self.arena.bump().try_alloc_slice_fill_copy(len, value) {
            Ok(slice) => Ok(slice),
            Err(_) => Err(self.refused::<T>(len)),
        }
    }

    /// A slice of `len` clones of `value`; the clones are dropped when the scope ends. If a
    /// `clone` panics, the clones already made are still dropped at scope end.
    ///
    /// # Panics
    /// If the allocation limit refuses it, or if `T::clone` panics.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let rows = s.alloc_slice_fill_clone(2, &vec![0u8; 3]);
    ///     rows[1].push(9);
    ///     assert_eq!(rows, &[vec![0, 0, 0], vec![0, 0, 0, 9]]);
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc_slice_fill_clone<T: Clone + 'env>(&self, len: usize, value: &T) -> &mut [T] {
        or_panic(self.try_alloc_slice_fill_clone(len, value))
    }

    /// Like [`alloc_slice_fill_clone`](Scope::alloc_slice_fill_clone), but returns
    /// [`AllocError`] instead of panicking (nothing is cloned then).
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let names = s.try_alloc_slice_fill_clone(2, &String::from("n")).unwrap();
    ///     assert_eq!(names, &["n", "n"]);
    /// });
    /// ```
    #[inline]
    pub fn try_alloc_slice_fill_clone<T: Clone + 'env>(
        &self,
        len: usize,
        value: &T,
    ) -> Result<&mut [T], AllocError> {
        self.try_alloc_slice_fill_with(len, |_| value.clone())
    }

    /// A slice of the items of `iter`, which may be any iterator: its length need not be known
    /// in advance. With an exact [`size_hint`](Iterator::size_hint) the items go straight into
    /// the arena; otherwise they are gathered on the heap first (one allocation), so that the
    /// arena is asked for exactly their size. The items are dropped when the scope ends if their
    /// type needs it.
    ///
    /// # Panics
    /// If the allocation limit refuses it, or if the iterator panics (the items already
    /// produced are dropped as the panic unwinds).
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let squares = s.alloc_slice_fill_iter((1..5u32).map(|i| i * i));
    ///     assert_eq!(squares, &[1, 4, 9, 16]);
    ///     // A filter has no exact length; that is fine too.
    ///     let words = s.alloc_slice_fill_iter("a bb ccc".split(' ').filter(|w| w.len() > 1));
    ///     assert_eq!(words, &["bb", "ccc"]);
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc_slice_fill_iter<T: 'env, I>(&self, iter: I) -> &mut [T]
    where
        I: IntoIterator<Item = T>,
    {
        or_panic(self.try_alloc_slice_fill_iter(iter))
    }

    /// Like [`alloc_slice_fill_iter`](Scope::alloc_slice_fill_iter), but returns
    /// [`AllocError`] instead of panicking when the arena refuses the memory (the items
    /// produced so far are dropped then).
    ///
    /// ```
    /// use hotpool::arena::{self, ArenaConfig};
    ///
    /// arena::configure(ArenaConfig { allocation_limit: Some(4096), ..ArenaConfig::default() })?;
    /// arena::scope(|s| {
    ///     assert!(s.try_alloc_slice_fill_iter((0..100u8).filter(|b| b % 2 == 0)).is_ok());
    ///     assert!(s.try_alloc_slice_fill_iter(0..10_000u32).is_err());
    /// });
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    #[inline]
    pub fn try_alloc_slice_fill_iter<T: 'env, I>(&self, iter: I) -> Result<&mut [T], AllocError>
    where
        I: IntoIterator<Item = T>,
    {
        let mut items = self.vec::<T>();
        self.collect_into(&mut items, iter.into_iter())?;
        if !needs_drop::<T>() {
            return Ok(items.into_bump_slice_mut());
        }
        let len = items.len();
        match self.arena.adopt(items) {
            Ok(slice) => Ok(slice),
            // The slice fitted but its drop-list entry did not: the error names the request the
            // caller made (the slice), as every other refusal does.
            Err(()) => Err(self.refused::<T>(len)),
        }
    }

    /// Pushes every item of `iter` into `items`, reserving with `try_reserve_exact` so that a
    /// refusal is an [`AllocError`] rather than bumpalo's abort, for exactly the bytes the items
    /// need. An exact `size_hint` makes one allocation of the final size in the arena; otherwise
    /// the items are first gathered on the heap (one allocation there), so that the arena is
    /// asked for the final size only and its limit refuses exactly what does not fit.
    fn collect_into<T>(
        &self,
        items: &mut Vec<'_, T>,
        iter: impl Iterator<Item = T>,
    ) -> Result<(), AllocError> {
        let (lower, upper) = iter.size_hint();
        if upper != Some(lower) {
            let staged: std::vec::Vec<T> = iter.collect();
            if items.try_reserve_exact(staged.len()).is_err() {
                return Err(self.refused::<T>(staged.len()));
            }
            items.extend(staged);
            return Ok(());
        }
        if items.try_reserve_exact(lower).is_err() {
            return Err(self.refused::<T>(lower));
        }
        for item in iter {
            // Only an iterator whose exact-looking `size_hint` was wrong gets here full.
            if items.len() == items.capacity() {
                let capacity = items.capacity().saturating_mul(2).max(4);
                if items.try_reserve_exact(capacity - items.len()).is_err() {
                    return Err(self.refused::<T>(capacity));
                }
            }
            items.push(item);
        }
        Ok(())
    }
}
