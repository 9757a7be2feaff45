//! Sources: how each case of `benches/pool.rs` takes an object and gives it back.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::thread::LocalKey;

use sharded_slab::pool::{OwnedRefMut, RefMut};

use super::{Payload, SlabBuf, SlabPool};

/// Where a case takes its objects from and how it gives them back.
pub(super) trait Source<T> {
    /// An object held by the benchmark.
    type Item: DerefMut<Target = T>;
    fn take(&mut self) -> Self::Item;
    fn give(&mut self, item: Self::Item);
}

/// A pool with RAII guards, as a closure that gets a guard: dropping the guard gives it back.
impl<T, G: DerefMut<Target = T>, F: FnMut() -> G> Source<T> for F {
    type Item = G;
    #[inline]
    fn take(&mut self) -> G {
        self()
    }
    #[inline]
    fn give(&mut self, guard: G) {
        drop(guard);
    }
}

/// An object held by value, with no pool behind it.
pub(super) struct Plain<T>(pub(super) T);

impl<T> From<T> for Plain<T> {
    fn from(obj: T) -> Self {
        Plain(obj)
    }
}

impl<T> Deref for Plain<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Plain<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// object-pool has no reset hook: this guard clears the buffer before object-pool takes it back.
pub(super) struct Cleared<G: DerefMut<Target = Vec<u8>>>(pub(super) G);

impl<G: DerefMut<Target = Vec<u8>>> Drop for Cleared<G> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

impl<G: DerefMut<Target = Vec<u8>>> Deref for Cleared<G> {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl<G: DerefMut<Target = Vec<u8>>> DerefMut for Cleared<G> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// Floor: a free list. `FreeList<Box<T>>` pops and pushes a pointer; `FreeList<Plain<T>>` moves
/// the whole `T` in and out of the list.
pub(super) struct FreeList<S>(pub(super) Vec<S>);

impl<S> Default for FreeList<S> {
    fn default() -> Self {
        FreeList(Vec::new())
    }
}

impl<T: Payload, S: DerefMut<Target = T> + From<T>> Source<T> for FreeList<S> {
    type Item = S;
    #[inline]
    fn take(&mut self) -> S {
        self.0.pop().unwrap_or_else(|| T::fresh().into())
    }
    #[inline]
    fn give(&mut self, mut obj: S) {
        obj.reset();
        self.0.push(obj);
    }
}

thread_local! {
    // The box is the point: this floor moves a pointer, not the `Vec`.
    #[allow(clippy::box_collection)]
    pub(super) static TLS_BOXES: RefCell<FreeList<Box<Vec<u8>>>> =
        const { RefCell::new(FreeList(Vec::new())) };
    pub(super) static TLS_VECS: RefCell<FreeList<Plain<Vec<u8>>>> =
        const { RefCell::new(FreeList(Vec::new())) };
}

/// Floor: a free list in a `thread_local!`, so each thread has its own.
pub(super) struct TlsFreeList<S: 'static>(pub(super) &'static LocalKey<RefCell<FreeList<S>>>);

impl<S> Clone for TlsFreeList<S> {
    fn clone(&self) -> Self {
        TlsFreeList(self.0)
    }
}

impl<T: Payload, S: DerefMut<Target = T> + From<T>> Source<T> for TlsFreeList<S> {
    type Item = S;
    #[inline]
    fn take(&mut self) -> S {
        self.0.with_borrow_mut(|list| list.take())
    }
    #[inline]
    fn give(&mut self, obj: S) {
        self.0.with_borrow_mut(|list| list.give(obj));
    }
}

/// Peer: what one writes without a crate, a `Mutex<Vec<T>>` of idle objects.
pub(super) struct MutexVec<T>(Mutex<Vec<T>>);

impl<T> Default for MutexVec<T> {
    fn default() -> Self {
        MutexVec(Mutex::new(Vec::new()))
    }
}

impl<T: Payload> Source<T> for &MutexVec<T> {
    type Item = Plain<T>;
    #[inline]
    fn take(&mut self) -> Plain<T> {
        let idle = self.0.lock().unwrap().pop();
        Plain(idle.unwrap_or_else(T::fresh))
    }
    #[inline]
    fn give(&mut self, Plain(mut obj): Plain<T>) {
        obj.reset();
        self.0.lock().unwrap().push(obj);
    }
}

/// sharded-slab keeps a created object reachable by its key until `clear(key)`, which resets it
/// and frees its slot.
impl<'p> Source<SlabBuf> for &'p SlabPool {
    type Item = RefMut<'p, SlabBuf>;
    #[inline]
    fn take(&mut self) -> Self::Item {
        self.create().expect("sharded-slab shard is full")
    }
    #[inline]
    fn give(&mut self, obj: Self::Item) {
        let key = obj.key();
        drop(obj);
        self.clear(key);
    }
}

/// sharded-slab with owned refs, which can move to another thread and be cleared there.
#[derive(Clone, Copy)]
pub(super) struct OwnedSlab<'p>(pub(super) &'p Arc<SlabPool>);

impl Source<SlabBuf> for OwnedSlab<'_> {
    type Item = OwnedRefMut<SlabBuf>;
    #[inline]
    fn take(&mut self) -> Self::Item {
        Arc::clone(self.0)
            .create_owned()
            .expect("sharded-slab shard is full")
    }
    #[inline]
    fn give(&mut self, obj: Self::Item) {
        let key = obj.key();
        drop(obj);
        self.0.clear(key);
    }
}
