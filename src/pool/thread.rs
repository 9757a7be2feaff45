//! Small dense thread ids, reused after a thread exits, and hooks that run when it exits.
//!
//! A pool keeps one cache slot per thread id. Ids are handed out smallest-first and recycled, so
//! slot tables stay as small as the number of threads alive at once, however many threads come
//! and go. When a thread exits, every pool it used flushes that thread's cache to its depot before
//! the id is released; the next thread to get the id finds an empty slot.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::marker::PhantomData;

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
    ids: Arc<Mutex<IdAllocator>>,
    exit_hooks: RefCell<Vec<Weak<dyn ThreadExit>>>,
    _not_send: PhantomData<*const ()>,
}

thread_local! {
    static CURRENT: ThreadHandle = ThreadHandle::register();
}

/// Runs `f` with the calling thread's handle; `None` while the thread-local is being destroyed
/// (a pool used from another thread-local's destructor then bypasses its thread cache).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&ThreadHandle) -> R) -> Option<R> {
    CURRENT.try_with(f).ok()
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
        Self {
            id,
            ids,
            exit_hooks: RefCell::new(Vec::new()),
            _not_send: PhantomData,
        }
    }

    /// This thread's id: unique among live threads, reused after the thread exits.
    #[inline]
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// Runs `hook` when this thread exits, unless its target has been dropped by then.
    pub(crate) fn on_exit(&self, hook: Weak<dyn ThreadExit>) {
        let mut hooks = self.exit_hooks.borrow_mut();
        if hooks.len() == hooks.capacity() {
            // Forget pools that are gone, so a long-lived thread that uses many short-lived
            // pools does not accumulate hooks; amortised O(1) per registration.
            hooks.retain(|hook| hook.strong_count() > 0);
        }
        hooks.push(hook);
    }
}

impl Drop for ThreadHandle {
    fn drop(&mut self) {
        // A hook may drop objects whose `Drop` registers nothing here (the thread-local is
        // already being destroyed), so taking the list once is enough.
        let hooks = std::mem::take(self.exit_hooks.get_mut());
        for hook in hooks {
            if let Some(target) = hook.upgrade() {
                target.thread_exited(self);
            }
        }
        // Released last: whoever gets this id next finds every slot of it already flushed. The
        // lock orders the flush before the next owner's first access.
        self.ids.lock().free.push(Reverse(self.id));
    }
}
