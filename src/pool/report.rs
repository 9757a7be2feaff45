//! How a [`Pool`](super::Pool) appears in [`report`](fn@crate::report): what its shared state tells
//! the registry (its builder's `name` and `register` settings are in `builder/pool.rs`). Nothing
//! here runs on `get` or on a return.

use std::mem::size_of;

use super::inner::Inner;
use crate::recycle::{Recycler, SharedRecycler};
use crate::report::registry::{Reported, Snapshot};

/// Idle objects the report measures one by one, at most, under the depot lock; the rest are
/// estimated from their average, so a report never holds up other threads' trades for long.
const MEASURED_IDLE_MAX: usize = 1024;

impl<T: Send + 'static, R: SharedRecycler<T>> Reported for Inner<T, R> {
    fn snapshot(&self) -> Snapshot {
        let stats = self.stats();
        // Only the depot's objects and the calling thread's own cache are reachable: other
        // threads' caches belong to their threads. The policy is asked under the slot borrow and
        // the depot lock, which is why `retained_bytes_of` must not use the pool.
        let mut measured = Measured::default();
        // Read after `stats`: lends counted later only make the leak hint more conservative.
        let mut depot = self.depot();
        self.with_slot(|thread, slot| {
            slot.with_cache_locked(thread, &mut depot, |cache, _| {
                measured.add(&self.recycler, cache.objects().iter().map(|o| &**o));
            });
        });
        let mut adopted = depot.counts.put.get() as u64;
        self.tier
            .slots
            .for_each(|shared| adopted += shared.counts.put.get() as u64);
        measured.add(&self.recycler, depot.magazines.idle_objects());
        drop(depot);
        Snapshot {
            stats,
            lent: stats.reused + stats.created + adopted,
            object_size: size_of::<T>(),
            measured_idle: (!measured.unmeasurable).then_some((measured.bytes, measured.objects)),
        }
    }

    fn trim(&self) -> usize {
        Inner::trim(self)
    }

    fn trim_unused(&self) -> usize {
        Inner::trim_unused(self)
    }

    fn before_release(&self) {
        self.drop_sync.before_release();
    }
}

/// Idle objects measured so far, up to [`MEASURED_IDLE_MAX`].
#[derive(Default)]
struct Measured {
    bytes: u64,
    objects: usize,
    /// The policy answered `None`: it cannot tell.
    unmeasurable: bool,
}

impl Measured {
    fn add<'a, T: 'a, R: Recycler<T>>(&mut self, policy: &R, objects: impl Iterator<Item = &'a T>) {
        for obj in objects {
            if self.unmeasurable || self.objects >= MEASURED_IDLE_MAX {
                return;
            }
            match policy.retained_bytes_of(obj) {
                Some(retained) => {
                    self.bytes += (size_of::<T>() + retained) as u64;
                    self.objects += 1;
                }
                None => self.unmeasurable = true,
            }
        }
    }
}
