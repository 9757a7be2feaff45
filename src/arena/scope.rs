//! [`Scope`]: the guard through which a thread allocates in one of its arenas.

use std::alloc::Layout;
use std::fmt;
use std::marker::PhantomData;
use std::mem::{needs_drop, size_of};
use std::ptr::NonNull;

use bumpalo::Bump;

use super::config::AllocError;
use super::drop_list::DroppingBump;
use super::{String, Vec};

/// An arena of the current thread, lent until this guard drops; made by
/// [`enter`](super::enter) or [`scope`](fn@super::scope).
///
/// Allocation takes `&self`, so any number of values can be alive at once; they all borrow the
/// scope and cannot outlive it. When the scope ends, the values whose type needs dropping are
/// dropped (newest first), the arena is rewound and goes back to the thread, warm.
///
/// `'env` is the lifetime values with destructors may borrow from: anything that outlives the
/// scope, never the scope itself (see [Destructors](super#destructors)).
///
/// ```
/// let s = hotpool::arena::enter();
/// let greeting = s.alloc_str("hello");
/// let words = s.alloc_slice_copy(&[1u8, 2, 3]);
/// greeting.make_ascii_uppercase();
/// assert_eq!((&*greeting, &*words), ("HELLO", &[1u8, 2, 3][..]));
/// drop(s); // rewinds the arena
/// ```
///
/// ```compile_fail
/// // A scope stays on its thread.
/// let s = hotpool::arena::enter();
/// std::thread::spawn(move || drop(s));
/// ```
#[must_use = "the scope ends, and its arena is rewound, as soon as the guard drops"]
pub struct Scope<'env> {
    pub(super) arena: DroppingBump<'env>,
    // Invariant in `'env`, so a scope cannot be re-branded with its own, shorter borrow (which
    // would let a destructor see a value already dropped). The raw pointer also makes the scope
    // `!Send`: its arena belongs to this thread's stack of arenas.
    _env: PhantomData<*mut &'env ()>,
}

/// The `alloc*` methods: panic with the [`AllocError`] message instead of aborting.
#[cold]
#[inline(never)]
#[track_caller]
pub(super) fn alloc_failed(err: AllocError) -> ! {
    panic!("{err}")
}

#[inline(always)]
#[track_caller]
pub(super) fn or_panic<T>(result: Result<T, AllocError>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => alloc_failed(err),
    }
}

impl<'env> Scope<'env> {
    #[inline]
    pub(super) fn new(bump: Box<Bump>) -> Self {
        Self {
            arena: DroppingBump::new(bump),
            _env: PhantomData,
        }
    }

    /// The error for a refused allocation of `count` values of `T`.
    #[cold]
    #[inline(never)]
    pub(super) fn refused<T>(&self, count: usize) -> AllocError {
        self.refused_bytes(size_of::<T>().saturating_mul(count))
    }

    /// The error for a refused allocation of `bytes` bytes.
    #[cold]
    #[inline(never)]
    pub(super) fn refused_bytes(&self, bytes: usize) -> AllocError {
        AllocError::new(bytes, self.arena.bump().allocation_limit())
    }

    /// Room for `len` values of a type with drop glue, registered for dropping.
    #[inline]
    pub(super) fn dropping<T>(
        &self,
        len: usize,
    ) -> Result<super::drop_list::Filling<'_, T>, AllocError> {
        self.arena
            .alloc_dropping::<T>(len)
            .map_err(|()| self.refused::<T>(len))
    }

    /// Moves `value` into the arena. It is dropped when the scope ends if its type needs it.
    ///
    /// # Panics
    /// If the arena's [allocation limit](super::ArenaConfig::allocation_limit) refuses it.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let name = s.alloc(String::from("arena"));
    ///     name.push('!');
    ///     assert_eq!(name, "arena!");
    /// }); // the String is dropped here
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc<T: 'env>(&self, value: T) -> &mut T {
        or_panic(self.try_alloc(value))
    }

    /// Like [`alloc`](Scope::alloc), but returns [`AllocError`] instead of panicking (`value` is
    /// dropped then).
    ///
    /// ```
    /// hotpool::arena::scope(|s| assert_eq!(*s.try_alloc(7u64).unwrap(), 7));
    /// ```
    #[inline]
    pub fn try_alloc<T: 'env>(&self, value: T) -> Result<&mut T, AllocError> {
        if !needs_drop::<T>() {
            return match self.arena.bump().try_alloc(value) {
                Ok(slot) => Ok(slot),
                Err(_) => Err(self.refused::<T>(1)),
            };
        }
        let mut room = self.dropping::<T>(1)?;
        room.push(value);
        Ok(&mut room.into_slice()[0])
    }

    /// Allocates the value `f` returns; for large values this can avoid a copy.
    ///
    /// # Panics
    /// If the allocation limit refuses it, or if `f` panics.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let table = s.alloc_with(|| [0u32; 1024]);
    ///     table[3] = 9;
    ///     assert_eq!(table.iter().sum::<u32>(), 9);
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc_with<T: 'env>(&self, f: impl FnOnce() -> T) -> &mut T {
        or_panic(self.try_alloc_with(f))
    }

    /// Like [`alloc_with`](Scope::alloc_with), but returns [`AllocError`] instead of panicking
    /// (`f` is not called then).
    ///
    /// ```
    /// hotpool::arena::scope(|s| assert!(s.try_alloc_with(Vec::<u8>::new).is_ok()));
    /// ```
    #[inline]
    pub fn try_alloc_with<T: 'env>(&self, f: impl FnOnce() -> T) -> Result<&mut T, AllocError> {
        if !needs_drop::<T>() {
            return match self.arena.bump().try_alloc_with(f) {
                Ok(slot) => Ok(slot),
                Err(_) => Err(self.refused::<T>(1)),
            };
        }
        let mut room = self.dropping::<T>(1)?;
        room.push(f());
        Ok(&mut room.into_slice()[0])
    }

    /// Copies `src` into the arena.
    ///
    /// # Panics
    /// If the allocation limit refuses it.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let key = s.alloc_str("user:42");
    ///     assert_eq!(key.split_once(':'), Some(("user", "42")));
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc_str(&self, src: &str) -> &mut str {
        or_panic(self.try_alloc_str(src))
    }

    /// Like [`alloc_str`](Scope::alloc_str), but returns [`AllocError`] instead of panicking.
    ///
    /// ```
    /// hotpool::arena::scope(|s| assert_eq!(s.try_alloc_str("x").unwrap(), "x"));
    /// ```
    #[inline]
    pub fn try_alloc_str(&self, src: &str) -> Result<&mut str, AllocError> {
        match self.arena.bump().try_alloc_str(src) {
            Ok(s) => Ok(s),
            Err(_) => Err(self.refused::<u8>(src.len())),
        }
    }

    /// Room for a value of `layout`, uninitialized, valid until the scope ends: bumpalo's
    /// [`alloc_layout`](Bump::alloc_layout), for code that manages its own memory. Nothing
    /// written there is ever dropped.
    ///
    /// # Panics
    /// If the allocation limit refuses it.
    ///
    /// ```
    /// use std::alloc::Layout;
    ///
    /// hotpool::arena::scope(|s| {
    ///     let block = s.alloc_layout(Layout::from_size_align(64, 16).unwrap());
    ///     assert_eq!(block.as_ptr() as usize % 16, 0);
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc_layout(&self, layout: Layout) -> NonNull<u8> {
        or_panic(self.try_alloc_layout(layout))
    }

    /// Like [`alloc_layout`](Scope::alloc_layout), but returns [`AllocError`] instead of
    /// panicking.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// use hotpool::arena::{self, ArenaConfig};
    ///
    /// arena::configure(ArenaConfig { allocation_limit: Some(4096), ..ArenaConfig::default() })?;
    /// arena::scope(|s| {
    ///     assert!(s.try_alloc_layout(Layout::new::<[u64; 4]>()).is_ok());
    ///     let err = s.try_alloc_layout(Layout::new::<[u8; 8192]>()).unwrap_err();
    ///     assert_eq!(err.requested(), 8192);
    /// });
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    #[inline]
    pub fn try_alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        match self.arena.bump().try_alloc_layout(layout) {
            Ok(ptr) => Ok(ptr),
            Err(_) => Err(self.refused_bytes(layout.size())),
        }
    }

    /// An empty growable vector in this scope's arena. It drops its own elements when it drops
    /// (before the scope ends); like any bumpalo collection it aborts, rather than panics, if
    /// growing it hits the allocation limit (use its `try_reserve` where that matters).
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     let mut v = s.vec();
    ///     v.extend([3, 1, 2]);
    ///     v.sort();
    ///     assert_eq!(v, [1, 2, 3]);
    /// });
    /// ```
    #[inline]
    pub fn vec<T>(&self) -> Vec<'_, T> {
        Vec::new_in(self.arena.bump())
    }

    /// An empty growable string in this scope's arena (same rules as [`vec`](Scope::vec)).
    ///
    /// ```
    /// use std::fmt::Write;
    ///
    /// hotpool::arena::scope(|s| {
    ///     let mut line = s.string();
    ///     write!(line, "{}-{}", 1, 2).unwrap();
    ///     assert_eq!(line, "1-2");
    /// });
    /// ```
    #[inline]
    pub fn string(&self) -> String<'_> {
        String::new_in(self.arena.bump())
    }

    /// The underlying [`bumpalo::Bump`], for the rest of bumpalo's API. What is allocated
    /// through it directly is rewound at scope end but never dropped (bumpalo's own rule),
    /// which is also why it may hold references into this scope.
    ///
    /// ```
    /// hotpool::arena::scope(|s| {
    ///     struct Node<'a> { value: u32, next: Option<&'a Node<'a>> }
    ///     let first = s.bump().alloc(Node { value: 1, next: None });
    ///     let second = s.bump().alloc(Node { value: 2, next: Some(first) });
    ///     assert_eq!(second.next.map(|n| n.value), Some(1));
    /// });
    /// ```
    #[inline(always)]
    pub fn bump(&self) -> &Bump {
        self.arena.bump()
    }
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("allocated_bytes", &self.arena.bump().allocated_bytes())
            .finish_non_exhaustive()
    }
}
