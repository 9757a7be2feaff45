//! `&Scope` as an [`allocator_api2`] [`Allocator`] (the `allocator-api2` feature): the only
//! unsafe code of `arena` besides the drop list, and all of it forwarding to bumpalo's
//! implementation for `&Bump`.
//!
//! Why the forwarding is sound: a block handed out stays valid while the `&Scope` it came from
//! is borrowed, because the scope's bump is rewound only when the scope ends, which needs every
//! borrow of it to have ended. Copies of a `&Scope` are the same allocator (same bump), so a
//! block from one copy may be freed or resized through another, as the trait requires.

use std::alloc::Layout;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};
use bumpalo::Bump;

use super::Scope;

/// Allocates in the scope's arena; deallocating is free (only the newest block is taken back at
/// once, the rest when the scope ends), and the allocation limit makes `allocate` return
/// `AllocError`. Values in a collection using it are dropped by the collection, not by the scope.
///
/// ```
/// use allocator_api2::vec::Vec;
///
/// hotpool::arena::scope(|s| {
///     let mut names = Vec::new_in(s);
///     names.push(String::from("a"));
///     names.push(String::from("b"));
///     assert_eq!(names.concat(), "ab");
/// }); // `names` (and its Strings) dropped before the scope ends
/// ```
///
/// A collection in a scope borrows it, so it cannot outlive it:
///
/// ```compile_fail
/// let escaped = hotpool::arena::scope(|s| allocator_api2::vec::Vec::<u8, _>::new_in(s));
/// ```
///
/// ```compile_fail
/// let escaped = {
///     let s = hotpool::arena::enter();
///     let mut v = allocator_api2::vec::Vec::new_in(&s);
///     v.push(1u8);
///     v
/// }; // `s` dropped here while still borrowed
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "allocator-api2")))]
// SAFETY:
// - blocks stay valid while the `&Scope` borrow lives: the bump is rewound only in
//   `Scope::drop`, which cannot run while the scope is borrowed;
// - every copy of the `&Scope` uses the same bump, so any copy may free or resize a block;
// - each method forwards to `&Bump`'s implementation of the same trait, which upholds its
//   contract for the bump the scope owns.
unsafe impl Allocator for &Scope<'_> {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.bump().allocate(layout)
    }

    #[inline]
    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.bump().allocate_zeroed(layout)
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        let bump: &Bump = self.bump();
        // SAFETY:
        // - `ptr` was allocated by this allocator, that is by this scope's bump (caller);
        // - `layout` fits that block (caller).
        unsafe { bump.deallocate(ptr, layout) }
    }

    #[inline]
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: `grow`'s preconditions are the caller's.
        unsafe { self.resize(Resize::Grow, ptr, old_layout, new_layout) }
    }

    #[inline]
    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: `grow_zeroed`'s preconditions are the caller's.
        unsafe { self.resize(Resize::GrowZeroed, ptr, old_layout, new_layout) }
    }

    #[inline]
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: `shrink`'s preconditions are the caller's.
        unsafe { self.resize(Resize::Shrink, ptr, old_layout, new_layout) }
    }
}

/// Which [`Allocator`] resize a scope forwards to its bump.
#[derive(Clone, Copy)]
enum Resize {
    Grow,
    GrowZeroed,
    Shrink,
}

impl Scope<'_> {
    /// Forwards a resize to this scope's bump.
    ///
    /// # Safety
    /// The preconditions of the [`Allocator`] method `how` names: `ptr` is a block of this
    /// allocator, `old_layout` fits it, and `new_layout` is at least (`Grow`, `GrowZeroed`) or at
    /// most (`Shrink`) as large.
    #[inline]
    unsafe fn resize(
        &self,
        how: Resize,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let bump: &Bump = self.bump();
        // Each arm: `ptr` is a block of this scope's bump, as this allocator's blocks are the
        // bump's (caller); `old_layout` fits it, and `new_layout`'s size relation to it is the
        // one the forwarded method requires (caller).
        match how {
            // SAFETY: the caller's preconditions of `grow`, as above.
            Resize::Grow => unsafe { bump.grow(ptr, old_layout, new_layout) },
            // SAFETY: the caller's preconditions of `grow_zeroed`, as above.
            Resize::GrowZeroed => unsafe { bump.grow_zeroed(ptr, old_layout, new_layout) },
            // SAFETY: the caller's preconditions of `shrink`, as above.
            Resize::Shrink => unsafe { bump.shrink(ptr, old_layout, new_layout) },
        }
    }
}
