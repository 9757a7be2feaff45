//! Waiter nodes of ended waits, kept by the thread that retired them for its next waits.
//!
//! A node retires when its waiter leaves the queue, under the owner's lock, on the thread that
//! takes it out: the thread whose return or freed place served it (strict order, an overdue
//! waiter, a task), or the waiter's own thread when it cancelled or, notified, took an idle
//! object itself. A served waiter, woken by the thread that served it, usually runs there next
//! (an executor runs a task it was woken from where it was woken) and drops its handle there. So
//! a node kept by that thread is in its cache when the thread's next wait reuses it, and the
//! proof that nobody holds it any more (`Arc::get_mut`, an atomic read-modify-write of the node)
//! costs no cache miss. With one list shared by all threads (the owner's, `places.rs`), that
//! proof missed the cache on every wait, under the lock, since the node was last touched by
//! another thread: measured on the bench of 64 tokio tasks over 8 objects, about 100 ns of an
//! 840 ns acquisition.
//!
//! Each thread keeps at most [`PER_THREAD`] nodes of each node type; a shared list takes what
//! does not fit ([`retire`]: the owner's queue's, or the lane's the wait ended in, `lanes.rs`),
//! and serves a thread whose list is empty ([`reuse_shared`]), so threads that only return
//! objects while others only wait still reuse every node. Nothing here takes a lock or
//! runs user code: a kept node's waiter has ended (it is `Served` or `Closed`, never holding a
//! `Waker`), and a waiter that still holds its handle keeps the node alive past any list, so
//! dropping a list drops no object and no `Waker`.
//!
//! **Memory.** The lists are never trimmed: each thread that retired a node keeps up to
//! [`PER_THREAD`] per node type (a node is about a hundred bytes: some 6 KiB per thread and
//! type at most), also for the types of pools dropped since, until the thread exits, when they
//! are freed. `trim` does not reach them.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::VecDeque;

use super::waiter::Waiter;
use crate::sync::{thread_local, Arc};

/// The most nodes of one type a thread keeps: more than the waits that end between two new ones
/// on one thread in steady state, few enough to be no memory worth trimming.
pub(super) const PER_THREAD: usize = 64;

thread_local! {
    /// This thread's spare nodes, one list per node type (a `VecDeque<Arc<Waiter<T>>>` each,
    /// oldest first). A thread waits in few pools' types, so a scan finds its list at once.
    #[allow(clippy::missing_const_for_thread_local)] // loom's `thread_local!` has no `const` form
    static SPARE: RefCell<Vec<(TypeId, Box<dyn Any>)>> = RefCell::new(Vec::new());
}

/// Runs `f` on this thread's list of spare `Waiter<T>` nodes; `None` while the thread-local is
/// being destroyed (the caller then uses the shared list).
fn with_list<T: 'static, R>(f: impl FnOnce(&mut VecDeque<Arc<Waiter<T>>>) -> R) -> Option<R> {
    SPARE
        .try_with(|lists| {
            let mut lists = lists.borrow_mut();
            let id = TypeId::of::<Waiter<T>>();
            let i = match lists.iter().position(|(of, _)| *of == id) {
                Some(i) => i,
                None => {
                    lists.push((id, Box::new(VecDeque::<Arc<Waiter<T>>>::new())));
                    lists.len() - 1
                }
            };
            let list = lists[i]
                .1
                .downcast_mut::<VecDeque<Arc<Waiter<T>>>>()
                .expect("the list of its type id");
            f(list)
        })
        .ok()
}

/// Puts `waiter` in a node of this thread's that nobody holds any more; gives it back if the
/// oldest is still held (a served future kept and not polled again, say: it goes last, so that
/// one handle held for long does not keep the others from reuse) or the list is empty. One
/// `Arc::get_mut` both proves the node free and writes it.
pub(super) fn reuse<T: 'static>(waiter: Waiter<T>) -> Result<Arc<Waiter<T>>, Waiter<T>> {
    let mut waiter = Some(waiter);
    let reused = with_list::<T, _>(|list| {
        let mut oldest = list.pop_front()?;
        match Arc::get_mut(&mut oldest) {
            Some(free) => *free = waiter.take().expect("written once"),
            None => {
                list.push_back(oldest);
                return None;
            }
        }
        Some(oldest)
    })
    .flatten();
    reused.ok_or_else(|| waiter.take().expect("not written"))
}

/// Keeps the node of a wait that left the queue, if this thread has room for it; gives it back
/// otherwise (for the shared list).
pub(super) fn keep<T: 'static>(node: Arc<Waiter<T>>) -> Result<(), Arc<Waiter<T>>> {
    let mut node = Some(node);
    with_list::<T, _>(|list| {
        if list.len() < PER_THREAD {
            list.push_back(node.take().expect("taken once"));
        }
    });
    node.map_or(Ok(()), Err)
}

/// Puts `waiter` in the oldest node of a shared list (an owner's, for threads whose own list has
/// none) if nobody holds it any more, or in a new node: the oldest is the one most likely free
/// (its waiter had the longest to take what it was handed and drop its handle); if it is still
/// held (a served future kept and not polled again, say) it goes last, so that one handle held
/// for long does not make every later wait allocate. `get_mut` proves it free, with the acquire
/// that orders the waiter's last use before the reuse.
pub(super) fn reuse_shared<T>(
    shared: &mut VecDeque<Arc<Waiter<T>>>,
    waiter: Waiter<T>,
) -> Arc<Waiter<T>> {
    match shared.front_mut().and_then(Arc::get_mut) {
        Some(free) => {
            *free = waiter;
            shared.pop_front().expect("the front node")
        }
        None => {
            shared.rotate_left(usize::from(!shared.is_empty()));
            Arc::new(waiter)
        }
    }
}

/// Keeps the node of a wait that left its queue for a later wait: this thread's if it has room,
/// `shared` (an owner's list, at most [`SHARED`] nodes) otherwise.
pub(super) fn retire<T: 'static>(shared: &mut VecDeque<Arc<Waiter<T>>>, node: Arc<Waiter<T>>) {
    if let Err(node) = keep(node) {
        if shared.len() < SHARED {
            shared.push_back(node);
        }
    }
}

/// Waiter nodes an owner keeps for all threads, beside each thread's own ([`PER_THREAD`]): more
/// than the waits that end between two new ones in steady state, so a wait allocates nothing,
/// and few enough to be no memory worth trimming.
const SHARED: usize = 64;

#[cfg(all(test, not(hotpool_loom)))]
mod tests {
    use super::{keep, reuse, PER_THREAD};
    use crate::pool::waiter::{Waiter, Wake};
    use crate::sync::{current_thread, Arc};

    fn waiter<T>() -> Waiter<T> {
        Waiter::new(1, None, Wake::Thread(current_thread()))
    }

    fn node<T>() -> Arc<Waiter<T>> {
        Arc::new(waiter())
    }

    /// A node of this thread's reused for a new waiter, if one is free.
    fn take_free<T: 'static>() -> Option<Arc<Waiter<T>>> {
        reuse(waiter()).ok()
    }

    #[test]
    fn a_node_is_about_a_hundred_bytes_as_the_memory_note_says() {
        // The `Arc`'s two counts and the waiter, whatever the object type (it holds a `Box`).
        let node = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Waiter<[u8; 4096]>>();
        assert!((64..=128).contains(&node), "{node} bytes");
    }

    #[test]
    fn a_thread_keeps_at_most_its_share_and_gives_the_rest_back() {
        for _ in 0..PER_THREAD {
            assert!(keep(node::<u8>()).is_ok());
        }
        assert!(keep(node::<u8>()).is_err(), "the list is full");
        // Another node type has a list of its own.
        assert!(keep(node::<u16>()).is_ok());
    }

    #[test]
    fn only_a_node_nobody_holds_is_taken_and_a_held_one_goes_last() {
        let held = node::<u8>();
        let free = node::<u8>();
        let free_ptr = Arc::as_ptr(&free);
        assert!(keep(Arc::clone(&held)).is_ok());
        assert!(keep(free).is_ok());
        assert!(take_free::<u8>().is_none(), "the oldest is still held");
        let taken = take_free::<u8>().expect("the free one, now first");
        assert_eq!(Arc::as_ptr(&taken), free_ptr);
        assert!(take_free::<u8>().is_none(), "only the held one is left");
        drop(held);
        assert!(take_free::<u8>().is_some(), "free once its holder let go");
        assert!(
            take_free::<u16>().is_none(),
            "nodes of one type never serve another"
        );
    }
}
