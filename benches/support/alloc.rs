//! jemalloc and mimalloc as the buffers' allocator, without installing either as the process's
//! `#[global_allocator]`: the process keeps glibc's malloc, so every other case is unchanged.
//!
//! A buffer is an `allocator_api2` `Vec<u8, Via<A>>`: the same `Vec` code as std's (growth
//! policy included), with every allocation, reallocation and free going to `A`'s `GlobalAlloc`
//! implementation. This file holds the benches' only `unsafe` code.

use std::alloc::{GlobalAlloc, Layout};
use std::marker::PhantomData;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

pub use mimalloc::MiMalloc;
pub use tikv_jemallocator::Jemalloc;

/// An allocator reached through its `GlobalAlloc` implementation.
pub trait Backend: GlobalAlloc + Sync + 'static {
    /// The allocator's handle (both are unit structs).
    const HANDLE: Self;
}

impl Backend for Jemalloc {
    const HANDLE: Self = Jemalloc;
}

impl Backend for MiMalloc {
    const HANDLE: Self = MiMalloc;
}

/// `A` as an `allocator_api2` [`Allocator`]. Zero-sized, `Copy` and `Send` whatever `A` is (it
/// holds no `A`), so a buffer allocated on one thread can be freed on another, as `A` allows.
pub struct Via<A>(PhantomData<fn() -> A>);

impl<A> Via<A> {
    pub const NEW: Self = Via(PhantomData);
}

impl<A> Clone for Via<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for Via<A> {}

/// A byte buffer whose memory comes from `A`.
pub type AllocVec<A> = allocator_api2::vec::Vec<u8, Via<A>>;

/// `layout` as `ptr`'s block, or the error `Vec` turns into `handle_alloc_error`.
#[inline]
fn block(ptr: *mut u8, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
    let ptr = NonNull::new(ptr).ok_or(AllocError)?;
    Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
}

// SAFETY: the trait's contract holds: blocks come from and go back to the one allocator `A::HANDLE`
// (every `Via<A>` is interchangeable, as the contract requires of copies); a block stays valid
// until `deallocate`/`grow` hands it back, since `GlobalAlloc` implementations never move or
// free memory on their own.
unsafe impl<A: Backend> Allocator for Via<A> {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            // `GlobalAlloc::alloc` forbids size 0: hand out a dangling, aligned block instead.
            let dangling = NonNull::new(layout.align() as *mut u8).ok_or(AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(dangling, 0));
        }
        // SAFETY: `layout` has a non-zero size (checked above).
        block(unsafe { A::HANDLE.alloc(layout) }, layout)
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY:
            // - `ptr` came from `A::HANDLE` (`allocate`/`grow` of a `Via<A>`), by the caller's
            //   contract, and is still allocated;
            // - `layout` is the layout it was allocated with, by the same contract.
            unsafe { A::HANDLE.dealloc(ptr.as_ptr(), layout) }
        }
    }

    #[inline]
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if old.size() == 0 || old.align() != new.align() {
            // Nothing to reallocate (a dangling block), or `realloc` cannot change alignment
            // (`Vec<u8>` never asks): a fresh block and a copy.
            let fresh = self.allocate(new)?;
            // SAFETY:
            // - `ptr` is valid for `old.size()` reads (the caller's contract) and `fresh` for
            //   `new.size() >= old.size()` writes (`allocate` succeeded);
            // - they do not overlap: `fresh` is a new block while `ptr` is still allocated.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr.as_ptr(), fresh.cast().as_ptr(), old.size())
            };
            // SAFETY: `ptr` and `old` describe a block of this allocator (the caller's contract),
            // not used again.
            unsafe { self.deallocate(ptr, old) };
            return Ok(fresh);
        }
        // SAFETY:
        // - `ptr` is a block of `A::HANDLE` allocated with `old` (the caller's contract);
        // - `new.size()` is non-zero (`>= old.size() > 0`) and, rounded up to `old.align()`
        //   (== `new.align()`), does not overflow `isize`, since `new` is a valid `Layout`.
        block(
            unsafe { A::HANDLE.realloc(ptr.as_ptr(), old, new.size()) },
            new,
        )
    }
}

/// `vec.extend_from_slice(bytes)` as std's `Vec<u8>` does it: one `reserve`, one copy.
/// (`allocator_api2`'s own `extend_from_slice` pushes byte by byte on stable Rust, which would
/// measure that loop, not the allocator.)
#[inline]
pub fn append<A: Backend>(vec: &mut AllocVec<A>, bytes: &[u8]) {
    vec.reserve(bytes.len());
    let len = vec.len();
    // In bounds of the buffer (`len <= capacity`), so `wrapping_add` is an exact `add`.
    let end = vec.as_mut_ptr().wrapping_add(len);
    // SAFETY:
    // - `bytes` is valid for `bytes.len()` reads, and the `reserve` above left the vector's
    //   buffer valid for `bytes.len()` writes from `end`;
    // - they do not overlap: `vec` is borrowed mutably, so `bytes` cannot point into it.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), end, bytes.len()) };
    // SAFETY: the `len + bytes.len() <= capacity` bytes are initialised (`u8` needs nothing more).
    unsafe { vec.set_len(len + bytes.len()) };
}
