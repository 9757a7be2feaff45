//! Guards the harness holds, with the payload it wrote into each (the guard type itself,
//! [`Guard`], is the shared model's).

use std::ops::DerefMut;

use crate::model::{Guard, Ledger};
use crate::tracker::Tracked;

/// A guard the harness holds and the payload it last wrote into the object.
pub struct Held<G> {
    guard: G,
    id: usize,
    payload: Vec<u8>,
}

impl<G: DerefMut<Target = Tracked>> Held<G> {
    /// Takes a guard a `get` returned: the object must come reset; the ledger records it (and
    /// checks it was idle, or fresh from the factory); a first payload is written into it.
    /// Returns whether the factory made it.
    pub fn lend(mut guard: G, ledger: &mut Ledger) -> (Self, bool) {
        let id = guard.id;
        assert!(
            guard.data.is_empty(),
            "object {id} handed out dirty: {:?}",
            guard.data
        );
        let fresh = ledger.handed_out(id);
        let payload = vec![id as u8; 4];
        guard.data.extend_from_slice(&payload);
        (Self { guard, id, payload }, fresh)
    }

    /// The object's id.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Panics unless the guard still holds the same object with the payload written last.
    pub fn verify(&self) {
        assert_eq!(self.guard.id, self.id, "guard changed objects");
        assert_eq!(
            self.guard.data, self.payload,
            "object {} payload changed",
            self.id
        );
    }

    /// Overwrites the payload with `len` copies of `byte` (growing the buffer as needed, which
    /// decides whether the recycle policy keeps the object).
    pub fn write(&mut self, byte: u8, len: usize) {
        self.verify();
        self.payload.clear();
        self.payload.resize(len, byte);
        self.guard.data.clear();
        self.guard.data.extend_from_slice(&self.payload);
    }

    /// Heap bytes the object retains: what `Recycle::retained_bytes` will report.
    pub fn retained(&self) -> usize {
        self.guard.data.capacity()
    }

    /// The guard, after a last check of its payload.
    pub fn into_guard(self) -> G {
        self.verify();
        self.guard
    }
}

/// Drops the borrowed guards of `held` (which must go before their pool), recording each in
/// `ledger`; returns the owned ones, which may outlive the pool's handle.
pub fn drop_borrowed<B, O>(held: Vec<Held<Guard<B, O>>>, ledger: &mut Ledger) -> Vec<O>
where
    B: DerefMut<Target = Tracked>,
    O: DerefMut<Target = Tracked>,
{
    let mut owned = Vec::new();
    for held in held {
        let id = held.id();
        match held.into_guard() {
            Guard::Borrowed(guard) => {
                drop(guard);
                ledger.guard_ended(id);
            }
            Guard::Owned(guard) => owned.push(guard),
        }
    }
    owned
}
