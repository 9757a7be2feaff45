//! Small dense thread ids, reused after a thread exits, and hooks that run when it exits.
//!
//! A pool keeps one cache slot per thread id. Ids are handed out smallest-first and recycled, so
//! slot tables stay as small as the number of threads alive at once, however many threads come
//! and go. When a thread exits, every pool it used flushes that thread's cache to its depot before
//! the id is released; the next thread to get the id finds an empty slot.
//!
//! One of the crate's few files with `unsafe` code: the hit path finds the calling thread's
//! [`ThreadHandle`] through a constant-initialised thread-local pointer (one load, no lazy-state
//! check), which is set when the handle is created and cleared before it is destroyed.

use std::any::Any;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use crate::sync::{global, thread_local, Arc, Mutex, Weak};

/// Something that keeps per-thread state and must release it when a thread exits.
pub(crate) trait ThreadExit: Send + Sync {
    /// Called on the exiting thread, before its id is released.
    fn thread_exited(&self, thread: &ThreadHandle);
}

#[derive(Default)]
struct IdAllocator {
    next: usize,
    free: BinaryHeap<Reverse<usize>>,
}

global! {
    // In an `Arc` so that each handle can release its id without touching the global again: a
    // thread-local may be destroyed after globals are (loom's are, at the end of a model run).
    static IDS: Arc<Mutex<IdAllocator>> = Arc::new(Mutex::new(IdAllocator::default()));
}

/// The calling thread's id and exit hooks.
///
/// It lives in a thread-local and is neither `Send` nor `Sync`, so holding `&ThreadHandle` proves
/// that the code runs on the thread that owns `id`: the slot tables rely on this.
pub(crate) struct ThreadHandle {
    id: usize,
    /// Where `id` lives in a slot table (see [`locate`]), computed once per thread.
    bucket: usize,
    index: usize,
    ids: Arc<Mutex<IdAllocator>>,
    exit_hooks: RefCell<Vec<Weak<dyn ThreadExit>>>,
    _not_send: PhantomData<*const ()>,
}

thread_local! {
    static CURRENT: ThreadHandle = ThreadHandle::register();
}

#[cfg(not(hotpool_loom))]
std::thread_local! {
    /// `CURRENT`'s address while it is alive, null before and after. Constant-initialised and
    /// without a destructor, so reading it is a single load with no lazy-initialisation or
    /// destroyed-state check (std's `thread_local!` needs both for `CURRENT`, which has a `Drop`).
    /// Not under loom: loom's thread-locals have no constant form, and the slow path is the same
    /// logic.
    static FAST: std::cell::Cell<*const ThreadHandle> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// The slot this thread used last in a pool: its table's id (unique for the process's life,
/// never 0), the slot's address and the thread's handle. A hit in the same pool as the previous
/// operation starts from here: one compare instead of three dependent loads (handle, bucket,
/// slot) and a handle check.
#[cfg(all(not(hotpool_loom), target_has_atomic = "64"))]
#[derive(Clone, Copy)]
struct LastSlot {
    table: u64,
    slot: *const (),
    thread: *const ThreadHandle,
}

#[cfg(all(not(hotpool_loom), target_has_atomic = "64"))]
impl LastSlot {
    const NONE: Self = Self {
        table: 0,
        slot: std::ptr::null(),
        thread: std::ptr::null(),
    };
}

/// Which of the two last-slot entries: tables whose caches can be stolen from (bounded pools)
/// have their own, so that a slot found in the other entry needs no check of its pool's kind.
#[derive(Clone, Copy)]
pub(crate) enum Remembered {
    /// Tables that are never stolen from.
    Unstealable,
    /// Stealable tables (bounded pools).
    Stealable,
}

#[cfg(all(not(hotpool_loom), target_has_atomic = "64"))]
std::thread_local! {
    // Set only while `FAST` is set (by `remember_slot`), and cleared with it when the handle
    // drops: a non-zero `table` means `thread` is this thread's live handle.
    static LAST_SLOT: std::cell::Cell<LastSlot> = const { std::cell::Cell::new(LastSlot::NONE) };
    static LAST_STEALABLE_SLOT: std::cell::Cell<LastSlot> =
        const { std::cell::Cell::new(LastSlot::NONE) };
}

#[cfg(all(not(hotpool_loom), target_has_atomic = "64"))]
impl Remembered {
    #[inline(always)]
    fn entry(self) -> &'static std::thread::LocalKey<std::cell::Cell<LastSlot>> {
        match self {
            Self::Unstealable => &LAST_SLOT,
            Self::Stealable => &LAST_STEALABLE_SLOT,
        }
    }
}

/// Runs `hit` with this thread's handle and the slot last remembered in entry `kind`, if that was
/// in the table with id `table` (never 0); `miss` otherwise (another table last, none yet, or the
/// handle gone).
#[inline(always)]
#[cfg_attr(
    not(all(not(hotpool_loom), target_has_atomic = "64")),
    allow(unused_variables)
)]
pub(crate) fn with_last_slot<V, R>(
    kind: Remembered,
    table: u64,
    value: V,
    hit: impl FnOnce(&ThreadHandle, *const (), V) -> R,
    miss: impl FnOnce(V) -> R,
) -> R {
    #[cfg(all(not(hotpool_loom), target_has_atomic = "64"))]
    {
        let last = kind.entry().with(std::cell::Cell::get);
        if last.table == table {
            // A matching entry was stored by `remember_slot` while `FAST` held this thread's live
            // handle, and `ThreadHandle::drop` clears it first thing; `hit` runs on this thread
            // and cannot start its thread-local destruction, so the handle outlives the borrow.
            // SAFETY: `last.thread` is this thread's live `CURRENT` (above).
            return hit(unsafe { &*last.thread }, last.slot, value);
        }
    }
    miss(value)
}

/// Remembers `slot` as `thread`'s slot in the table with id `table` (never 0), in entry `kind`,
/// unless the handle is exiting (then nothing may be cached for it). The caller guarantees that
/// `slot` stays valid while that table lives.
#[inline]
#[cfg_attr(
    not(all(not(hotpool_loom), target_has_atomic = "64")),
    allow(unused_variables)
)]
pub(crate) fn remember_slot(thread: &ThreadHandle, kind: Remembered, table: u64, slot: *const ()) {
    #[cfg(all(not(hotpool_loom), target_has_atomic = "64"))]
    if std::ptr::eq(FAST.with(std::cell::Cell::get), thread) {
        kind.entry().with(|last| {
            last.set(LastSlot {
                table,
                slot,
                thread,
            });
        });
    }
}

/// Runs `f` with the calling thread's handle and `value`, or `none` with `value` while the
/// thread-local is being destroyed: for callers that must get `value` back either way.
#[inline(always)]
pub(crate) fn with_current_or<V, R>(
    value: V,
    f: impl FnOnce(&ThreadHandle, V) -> R,
    none: impl FnOnce(V) -> R,
) -> R {
    #[cfg(not(hotpool_loom))]
    {
        let handle = FAST.with(std::cell::Cell::get);
        if !handle.is_null() {
            // A non-null `FAST` was stored by `with_current_slow` from inside `CURRENT.try_with`
            // and `ThreadHandle::drop` nulls it first thing; `f` runs on this thread and cannot
            // start this thread's thread-local destruction, so the handle outlives the borrow.
            // SAFETY: `handle` is this thread's live `CURRENT` (above).
            return f(unsafe { &*handle }, value);
        }
    }
    with_current_slow(value, f, none)
}

#[cold]
#[inline(never)]
fn with_current_slow<V, R>(
    value: V,
    f: impl FnOnce(&ThreadHandle, V) -> R,
    none: impl FnOnce(V) -> R,
) -> R {
    let mut value = Some(value);
    let ran = CURRENT.try_with(|handle| {
        #[cfg(not(hotpool_loom))]
        if !handle.exiting() {
            FAST.with(|fast| fast.set(handle));
        }
        let value = value.take().expect("taken only here or below");
        f(handle, value)
    });
    match ran {
        Ok(result) => result,
        Err(_) => none(value.take().expect("`try_with` did not run the closure")),
    }
}

/// Bucket and index of thread id `id`: ids `2^b - 1 ..= 2^(b+1) - 2` live in bucket `b` of
/// every pool's slot table (`slots.rs`).
#[inline]
fn locate(id: usize) -> (usize, usize) {
    let n = id + 1;
    let bucket = (usize::BITS - 1 - n.leading_zeros()) as usize;
    (bucket, n - (1 << bucket))
}

impl ThreadHandle {
    fn register() -> Self {
        let ids = Arc::clone(&IDS);
        let id = {
            let mut allocator = ids.lock();
            match allocator.free.pop() {
                Some(Reverse(id)) => id,
                None => {
                    allocator.next += 1;
                    allocator.next - 1
                }
            }
        };
        let (bucket, index) = locate(id);
        Self {
            id,
            bucket,
            index,
            ids,
            exit_hooks: RefCell::new(Vec::new()),
            _not_send: PhantomData,
        }
    }

    /// This thread's id: unique among live threads, reused after the thread exits. (Read by
    /// the slot ownership assertion, which only debug builds have.)
    #[inline(always)]
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// Bucket and index of this thread's slot in every pool's slot table.
    #[inline(always)]
    pub(crate) fn position(&self) -> (usize, usize) {
        (self.bucket, self.index)
    }

    /// Whether this handle's destructor has started (its hooks are running).
    #[cfg(not(hotpool_loom))]
    fn exiting(&self) -> bool {
        self.exit_hooks.try_borrow().is_err()
    }

    /// Runs `hook` when this thread exits, unless its target has been dropped by then. `false`
    /// if the thread is already exiting: the hook will not run, so the caller must not leave
    /// anything behind for it.
    #[must_use]
    pub(crate) fn on_exit(&self, hook: Weak<dyn ThreadExit>) -> bool {
        let Ok(mut hooks) = self.exit_hooks.try_borrow_mut() else {
            return false;
        };
        if hooks.len() == hooks.capacity() {
            // Forget pools that are gone, so a long-lived thread that uses many short-lived
            // pools does not accumulate hooks; amortised O(1) per registration.
            hooks.retain(|hook| hook.strong_count() > 0);
        }
        hooks.push(hook);
        true
    }
}

impl Drop for ThreadHandle {
    fn drop(&mut self) {
        // First: from here on the fast path finds no handle, and a pool used from code that runs
        // below (a `T::drop`) bypasses its thread cache.
        #[cfg(not(hotpool_loom))]
        let _ = FAST.try_with(|fast| fast.set(std::ptr::null()));
        #[cfg(all(not(hotpool_loom), target_has_atomic = "64"))]
        for entry in [&LAST_SLOT, &LAST_STEALABLE_SLOT] {
            let _ = entry.try_with(|last| last.set(LastSlot::NONE));
        }
        // Held for the whole loop: `on_exit` refuses new hooks while the thread exits, so a pool
        // first used by a `T::drop` below never caches anything it would strand.
        let mut hooks = self.exit_hooks.borrow_mut();
        for hook in hooks.drain(..) {
            // We are inside a thread-local destructor, where an escaping panic aborts the
            // process. A panic in user code (a `T::drop` run by a flush or by the pool's own
            // drop, if this was its last handle) was already reported by the panic hook; the
            // flush still drops every object exactly once (`drop_all`), and here the panic
            // stops, as it has no caller to go to.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                if let Some(target) = hook.upgrade() {
                    target.thread_exited(self);
                }
            }));
        }
        drop(hooks);
        // Released last: whoever gets this id next finds every slot of it already flushed. The
        // lock orders the flush before the next owner's first access.
        self.ids.lock().free.push(Reverse(self.id));
    }
}

/// Drops every item, each exactly once, even if some `Drop`s panic; returns the first panic's
/// payload for the caller to resume (or to stop, inside a thread-local destructor). A `Vec`'s
/// own drop would abort on a second panic while unwinding from the first.
pub(crate) fn drop_all<I: IntoIterator>(items: I) -> Result<(), Box<dyn Any + Send>> {
    let mut first = Ok(());
    for item in items {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| drop(item))) {
            if first.is_ok() {
                first = Err(payload);
            }
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn ids_fill_buckets_in_order() {
        let expected = [
            (0, 0),
            (1, 0),
            (1, 1),
            (2, 0),
            (2, 1),
            (2, 2),
            (2, 3),
            (3, 0),
        ];
        for (id, want) in expected.into_iter().enumerate() {
            assert_eq!(locate(id), want, "id {id}");
        }
    }

    #[test]
    fn every_id_maps_inside_its_bucket_and_back() {
        for id in (0..5000).chain([usize::MAX / 2, usize::MAX - 1]) {
            let (bucket, index) = locate(id);
            assert!(bucket < usize::BITS as usize, "id {id}");
            assert!(
                index < 1 << bucket,
                "id {id}: index {index} in bucket {bucket}"
            );
            assert_eq!((1usize << bucket) - 1 + index, id, "id {id}");
        }
    }
}
