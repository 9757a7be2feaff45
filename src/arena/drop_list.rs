//! A bump that runs the destructors of what was allocated in it: the only unsafe code of
//! `arena`.
//!
//! bumpalo never drops what it holds. [`DroppingBump`] keeps an intrusive list of the slices
//! whose type needs dropping; the list nodes live in the bump itself, so registering a
//! destructor costs one small bump allocation and no heap traffic. Types without drop glue never
//! reach this file: the scope checks `needs_drop` (a constant) first.
//!
//! Invariant: every entry of the list describes `len` initialized values inside memory that
//! `self.bump` handed out and that has not been freed or reused. It holds because the bump is
//! owned here and only leaves, to be reset by the thread, in `DroppingBump`'s `drop`, which
//! empties the list first.
//!
//! The bump is always present while the `DroppingBump` lives (a `ManuallyDrop`, taken once, in
//! `drop`): an allocation reaches it without checking an `Option`, which the scope's hot loop
//! paid for on every value (figures in `benches/README.md`).

use std::alloc::Layout;
use std::any::Any;
use std::cell::Cell;
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use bumpalo::collections::Vec as BumpVec;
use bumpalo::Bump;

use super::thread;

/// A panic payload caught from a destructor, to be resumed once the arena is back in order.
pub(super) type Panic = Box<dyn Any + Send + 'static>;

/// One registered slice; stored in the bump it describes.
struct Entry {
    /// The entry registered before this one (dropped after it).
    prev: Option<NonNull<Entry>>,
    data: NonNull<u8>,
    /// How many leading values of `data` are initialized; grows as a slice is filled.
    len: usize,
    /// `drop_slice::<T>` for the `T` that `data` holds.
    drop_slice: unsafe fn(NonNull<u8>, usize),
}

/// Drops `len` values of `T` starting at `data`.
///
/// # Safety
/// - `data` points to `len` initialized, properly aligned values of `T`;
/// - none of them is used or dropped again afterwards.
unsafe fn drop_slice<T>(data: NonNull<u8>, len: usize) {
    let values = ptr::slice_from_raw_parts_mut(data.cast::<T>().as_ptr(), len);
    // SAFETY:
    // - `values` covers `len` initialized `T`s (caller);
    // - they are dropped exactly once (caller).
    unsafe { ptr::drop_in_place(values) }
}

/// A [`Bump`] lent to a scope, plus the destructors owed for values allocated in it. Dropping it
/// ends the scope: the values are dropped (newest first), and the bump goes back to the thread,
/// rewound.
///
/// The bump is boxed so that handing it between the thread's idle stack and a scope moves one
/// pointer, not the bump (moving the 24-byte struct cost more than the rest of a scope).
///
/// `'env` is the scope's (see [`Scope`](super::Scope)): this type's `Drop` runs the values'
/// destructors, so the compiler must treat everything borrowed for `'env` as possibly used when
/// it drops, and it does because the type with the `Drop` impl names `'env` (a scope's values
/// then cannot borrow the scope itself; the `compile_fail` examples in the module docs of
/// `arena` check it).
pub(super) struct DroppingBump<'env> {
    /// Taken only in `drop`.
    bump: ManuallyDrop<Box<Bump>>,
    head: Cell<Option<NonNull<Entry>>>,
    _env: PhantomData<&'env ()>,
}

impl DroppingBump<'_> {
    #[inline]
    pub(super) fn new(bump: Box<Bump>) -> Self {
        Self {
            bump: ManuallyDrop::new(bump),
            head: Cell::new(None),
            _env: PhantomData,
        }
    }

    /// The bump itself. Shared access cannot reset it (that takes `&mut`), so it cannot
    /// invalidate the registered values.
    #[inline(always)]
    pub(super) fn bump(&self) -> &Bump {
        &self.bump
    }

    /// Allocates room for `len` values of `T` whose destructors run when the scope ends; the
    /// values are written with [`Filling::push`]. `Err` if the bump refused the memory.
    ///
    /// An empty slice owes no destructor, so `len == 0` takes neither memory nor an entry.
    #[inline]
    pub(super) fn alloc_dropping<T>(&self, len: usize) -> Result<Filling<'_, T>, ()> {
        debug_assert!(
            mem::needs_drop::<T>(),
            "values without drop glue need no entry"
        );
        if len == 0 {
            return Ok(Filling::new(None, NonNull::dangling(), 0));
        }
        let layout = Layout::array::<T>(len).map_err(drop)?;
        let bump = self.bump();
        let entry = bump
            .try_alloc_layout(Layout::new::<Entry>())
            .map_err(drop)?;
        let data = bump.try_alloc_layout(layout).map_err(drop)?;
        let entry = entry.cast::<Entry>();
        debug_assert_eq!(data.as_ptr() as usize % mem::align_of::<T>(), 0);
        // SAFETY:
        // - `entry` is fresh bump memory with the size and alignment of an `Entry`;
        // - `data` is fresh bump memory for `len` values of `T`, none written yet (`len: 0`).
        unsafe { self.link::<T>(entry, data, 0) };
        Ok(Filling::new(Some(entry), data.cast::<T>(), len))
    }

    /// Takes over the elements of `vec`, a vector in this bump, as a slice whose destructors run
    /// when the scope ends. An empty vector takes no entry. `Err` (with `vec` and its elements
    /// dropped) if the bump refused the entry's memory.
    ///
    /// # Panics
    /// If `vec` was allocated in another bump.
    pub(super) fn adopt<'a, T>(&'a self, vec: BumpVec<'a, T>) -> Result<&'a mut [T], ()> {
        debug_assert!(
            mem::needs_drop::<T>(),
            "values without drop glue need no entry"
        );
        // The entry must describe memory of the bump it lives in (module invariant).
        assert!(
            ptr::eq(vec.bump(), self.bump()),
            "adopted vector belongs to another bump"
        );
        if vec.is_empty() {
            return Ok(vec.into_bump_slice_mut());
        }
        // Allocated before the vector lets go of its elements: on failure, `vec` drops them.
        let entry = self
            .bump()
            .try_alloc_layout(Layout::new::<Entry>())
            .map_err(drop)?
            .cast::<Entry>();
        let slice = vec.into_bump_slice_mut();
        let len = slice.len();
        // The entry and the returned slice both derive from this one raw pointer, so that
        // using the slice does not invalidate the entry's pointer (as a reborrow would).
        let data = NonNull::from(slice).cast::<T>();
        // `entry` is fresh bump memory sized and aligned for an `Entry`; `data` holds `len`
        // initialized `T`s in `self.bump` (asserted above) that it will not hand out again before
        // a reset and that nothing else drops (`into_bump_slice_mut` gave up their ownership).
        // SAFETY: `entry` and `data` are valid as described just above.
        unsafe { self.link::<T>(entry, data.cast::<u8>(), len) };
        // SAFETY:
        // - `data` holds `len` initialized `T`s in memory alive for `'a` (see above);
        // - the entry, their only other pointer, is not read before the scope ends: unique for `'a`.
        Ok(unsafe { std::slice::from_raw_parts_mut(data.as_ptr(), len) })
    }

    /// Writes an entry for `len` values of `T` at `data` into `entry` and makes it the head.
    ///
    /// # Safety
    /// - `entry` is unused bump memory of `self.bump`, sized and aligned for an `Entry`;
    /// - `data` is memory of `self.bump` for at least `len` values of `T`, of which the first
    ///   `len` are initialized, and which stays unused by anything but those values until
    ///   the scope ends (later writes may raise the entry's `len`, keeping
    ///   this true).
    #[inline]
    unsafe fn link<T>(&self, entry: NonNull<Entry>, data: NonNull<u8>, len: usize) {
        debug_assert_eq!(entry.as_ptr() as usize % mem::align_of::<Entry>(), 0);
        // SAFETY:
        // - `entry` is unused memory with the size and alignment of an `Entry` (caller), not
        //   yet reachable from anywhere else.
        unsafe {
            entry.as_ptr().write(Entry {
                prev: self.head.get(),
                data,
                len,
                drop_slice: drop_slice::<T>,
            });
        }
        self.head.set(Some(entry));
    }

    /// The end of a scope that owes destructors (see `drop`, its only caller): runs them, gives
    /// the bump back, then resumes the first panic if that cannot abort the process. Out of line,
    /// so that the common scope end stays small.
    #[cold]
    #[inline(never)]
    fn end_with_drops(&mut self) {
        let panic = self.run_drops();
        // SAFETY: called only by `drop`, which then returns without touching `bump`; taken once.
        let bump = unsafe { ManuallyDrop::take(&mut self.bump) };
        let thread_alive = thread::release(bump);
        if let Some(payload) = panic {
            if !std::thread::panicking() && thread_alive {
                std::panic::resume_unwind(payload);
            }
        }
    }

    /// Runs every registered destructor, newest first. A destructor that panics does not stop
    /// the others; the first payload is returned for the caller to resume once the bump is
    /// back with the thread.
    fn run_drops(&mut self) -> Option<Panic> {
        let mut first_panic = None;
        while let Some(entry) = self.head.get() {
            // SAFETY: `entry` was written by `alloc_dropping` into `self.bump`, which still holds
            // it (module invariant).
            let entry = unsafe { entry.as_ptr().read() };
            let Entry {
                prev,
                data,
                len,
                drop_slice,
            } = entry;
            // Unlinked before dropping: a panicking destructor is never run twice.
            self.head.set(prev);
            let result = catch_unwind(AssertUnwindSafe(|| {
                // SAFETY:
                // - `data` holds `len` written values of `drop_slice`'s type (module invariant);
                // - the entry is unlinked (dropped once), and `&mut self`: none is borrowed.
                unsafe { drop_slice(data, len) }
            }));
            if let Err(payload) = result {
                first_panic.get_or_insert(payload);
            }
        }
        first_panic
    }
}

impl Drop for DroppingBump<'_> {
    /// Ends the scope: drops the values owed (newest first), rewinds the bump and gives it back
    /// to the thread. A panicking destructor does not stop the others nor the rewind; its panic
    /// is resumed afterwards, except where resuming would abort the process: when the thread is
    /// already unwinding, or when the scope ends in a thread-local destructor after the thread's
    /// arenas were freed. There the payload is dropped (the panic hook has already reported it).
    /// A thread-local destructor that runs before the arenas are freed cannot be told apart from
    /// a normal scope end with std alone, so a panic there still resumes (and aborts).
    ///
    /// `&mut self` proves that no value handed out by [`alloc_dropping`] is still borrowed.
    ///
    /// [`alloc_dropping`]: DroppingBump::alloc_dropping
    #[inline]
    fn drop(&mut self) {
        if self.head.get().is_some() {
            return self.end_with_drops();
        }
        // SAFETY: `bump` is taken only here or in `end_with_drops` (which `drop` calls instead),
        // and `self` is never used again after `drop`.
        let bump = unsafe { ManuallyDrop::take(&mut self.bump) };
        thread::release(bump);
    }
}

/// Registered, not yet initialized room for `capacity` values of `T`.
///
/// Dropping it early (a panic while producing a value) is fine: the entry already counts exactly
/// the values written so far, and only those are dropped.
pub(super) struct Filling<'a, T> {
    /// `None` for an empty slice, which needs no entry.
    entry: Option<NonNull<Entry>>,
    data: NonNull<T>,
    capacity: usize,
    filled: usize,
    // Borrows the bump: the values cannot outlive it, and the scope's end (`&mut`) waits for them.
    _bump: PhantomData<(&'a Bump, &'a mut [T])>,
}

impl<'a, T> Filling<'a, T> {
    #[inline]
    fn new(entry: Option<NonNull<Entry>>, data: NonNull<T>, capacity: usize) -> Self {
        Self {
            entry,
            data,
            capacity,
            filled: 0,
            _bump: PhantomData,
        }
    }

    /// Writes the next value.
    ///
    /// # Panics
    /// If all `capacity` values are already written.
    #[inline]
    pub(super) fn push(&mut self, value: T) {
        assert!(self.filled < self.capacity, "arena slice over-filled");
        // SAFETY:
        // - `filled < capacity`, and `data` was allocated for `capacity` values of `T`, so the
        //   offset stays inside that allocation.
        let slot = unsafe { self.data.as_ptr().add(self.filled) };
        // SAFETY:
        // - `slot` is in bounds and aligned (`Layout::array::<T>`) and not yet initialized.
        unsafe { slot.write(value) };
        self.filled += 1;
        // `capacity > 0` here (the assert), so `alloc_dropping` linked an entry.
        let entry = self.entry.expect("a non-empty slice has an entry");
        // SAFETY:
        // - `entry` points to the live `Entry` written by `alloc_dropping`; nothing else
        //   accesses it until the scope ends, which needs `&mut` of the bump this borrows.
        unsafe { (*entry.as_ptr()).len = self.filled };
    }

    /// The filled slice, valid as long as the bump borrow.
    ///
    /// # Panics
    /// If fewer than `capacity` values were written.
    #[inline]
    pub(super) fn into_slice(self) -> &'a mut [T] {
        assert_eq!(self.filled, self.capacity, "arena slice under-filled");
        // SAFETY:
        // - `data` holds `capacity` initialized values (asserted above) in memory alive for `'a`;
        // - the entry, their only other pointer, is not read before the scope ends: unique for `'a`.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_ptr(), self.capacity) }
    }
}
