//! The workload every pool case runs: the objects (a 4 KiB-capacity byte buffer, from std's `Vec`
//! or from another allocator), the round (take an object, write [`PAYLOAD`] to it, give it back)
//! and the check that objects come back cleared. Included by `benches/pool.rs` and
//! `benches/ratios.rs`, which measure the same code.
//!
//! Refers to `super::allocators` (`support/alloc.rs`) and `super::sources` (`support/sources.rs`),
//! which each including bench declares under those names.

use std::hint::black_box;

use super::allocators::{self, AllocVec, Backend, Via};
use super::sources::{Plain, Source};

/// Capacity of every buffer.
pub(super) const CAPACITY: usize = 4096;
/// What every round writes.
pub(super) const PAYLOAD: [u8; 64] = [7; 64];

/// A byte buffer: std's `Vec<u8>`, or an [`AllocVec`] whose memory comes from another allocator.
pub(super) trait Buf {
    fn extend_from_slice(&mut self, bytes: &[u8]);
    fn clear(&mut self);
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
}

impl Buf for Vec<u8> {
    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes);
    }
    #[inline]
    fn clear(&mut self) {
        Vec::clear(self);
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn capacity(&self) -> usize {
        Vec::capacity(self)
    }
}

impl<A: Backend> Buf for AllocVec<A> {
    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        allocators::append(self, bytes);
    }
    #[inline]
    fn clear(&mut self) {
        allocator_api2::vec::Vec::clear(self);
    }
    fn len(&self) -> usize {
        allocator_api2::vec::Vec::len(self)
    }
    fn capacity(&self) -> usize {
        allocator_api2::vec::Vec::capacity(self)
    }
}

/// An object the benchmark writes to.
pub(super) trait Payload: Send + 'static {
    type Buf: Buf;
    /// A new object, as the pools' factories make it.
    fn fresh() -> Self;
    /// The buffer the round writes to.
    fn buf(&mut self) -> &mut Self::Buf;
    /// Back to empty, keeping capacity: the reset of the cases with no reset hook of their own.
    fn reset(&mut self) {
        self.buf().clear();
    }
}

pub(super) fn new_buf() -> Vec<u8> {
    Vec::with_capacity(CAPACITY)
}

impl Payload for Vec<u8> {
    type Buf = Self;
    fn fresh() -> Self {
        new_buf()
    }
    fn buf(&mut self) -> &mut Vec<u8> {
        self
    }
}

/// The allocator cases: a 4 KiB block from `A` per round, freed by the same allocator on drop.
impl<A: Backend> Payload for AllocVec<A> {
    type Buf = Self;
    fn fresh() -> Self {
        AllocVec::with_capacity_in(CAPACITY, Via::NEW)
    }
    fn buf(&mut self) -> &mut Self {
        self
    }
}

/// sharded-slab makes objects with `Default` and resets them with `Clear`: a buffer that starts
/// with 4 KiB like the others. (Here rather than in `benches/pool.rs`, its only user, because
/// `support/sources.rs` names it.)
pub(super) struct SlabBuf(Vec<u8>);

pub(super) type SlabPool = sharded_slab::Pool<SlabBuf>;

impl Default for SlabBuf {
    fn default() -> Self {
        SlabBuf(new_buf())
    }
}

impl sharded_slab::Clear for SlabBuf {
    fn clear(&mut self) {
        self.0.clear();
    }
}

impl Payload for SlabBuf {
    type Buf = Vec<u8>;
    fn fresh() -> Self {
        Self::default()
    }
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// The work done with each object; `black_box` keeps the write from being optimized away.
#[inline]
pub(super) fn work<T: Payload>(obj: &mut T) {
    obj.buf().extend_from_slice(&PAYLOAD);
    black_box(obj);
}

/// Takes an object and does the work with it.
#[inline]
pub(super) fn take_and_work<T: Payload, S: Source<T>>(source: &mut S) -> S::Item {
    let mut obj = source.take();
    work(&mut *obj);
    obj
}

/// One round: take, write, give back.
#[inline]
pub(super) fn round<T: Payload, S: Source<T>>(source: &mut S) {
    let obj = take_and_work(source);
    source.give(obj);
}

/// Panics unless `source` hands out an empty object after a round wrote to one.
pub(super) fn assert_returns_cleared<T: Payload, S: Source<T>>(source: &mut S) {
    round(source);
    let mut obj = source.take();
    assert_eq!(obj.buf().len(), 0, "objects must come back cleared");
    source.give(obj);
}

/// A new buffer from allocator `A` (jemalloc or mimalloc), 4 KiB like every other case's.
pub(super) fn alloc_buf<A: Backend>() -> Plain<AllocVec<A>> {
    Plain(AllocVec::fresh())
}
