//! Helpers shared by the integration tests (`mod common;` in a test file).
//!
//! - [`Tracker`] / [`Tracked`]: a value type whose creations and drops are recorded per object
//!   id, so a test can prove that every object the pool made was dropped exactly once.
//! - [`Retains`]: a [`Recycle`] type whose `retained_bytes` is whatever the test sets.
//! - [`assert_stats!`]: checks every field of a pool's stats in one line.
//! - [`expect_panic`]: runs a closure that must panic and checks the message.
//!
//! Every test binary compiles this module on its own, so items one binary does not use carry
//! `#[allow(dead_code)]`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use hotpool::Recycle;

/// Records, per object id, how often a [`Tracked`] was created and dropped.
///
/// Thread-safe (`Arc` + `Mutex`) so the same helpers serve `Pool` tests that move objects
/// between threads. A second drop of the same id is recorded, not panicked on (a panic inside a
/// pool's drop path would hide the count); [`Tracker::assert_all_dropped_once`] reports it.
#[derive(Debug, Default)]
pub struct Tracker {
    /// `drops[id]`: how many times object `id` was dropped; its length is the number created.
    drops: Mutex<Vec<u32>>,
}

#[allow(dead_code)]
impl Tracker {
    /// A fresh tracker, shared by the objects it makes.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn drops(&self) -> MutexGuard<'_, Vec<u32>> {
        // A test that panicked on purpose may have poisoned the lock; the data is still right.
        self.drops.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes a new object with a fresh id and an empty payload.
    pub fn make(self: &Arc<Self>) -> Tracked {
        let mut drops = self.drops();
        let id = drops.len();
        drops.push(0);
        Tracked {
            id,
            data: Vec::new(),
            panic_on_drop: false,
            panic_in_reset: false,
            tracker: Arc::clone(self),
        }
    }

    /// A pool factory that makes a fresh [`Tracked`] on every call.
    pub fn factory(self: &Arc<Self>) -> impl Fn() -> Tracked + Send + Sync + 'static {
        let tracker = Arc::clone(self);
        move || tracker.make()
    }

    /// Objects made so far.
    pub fn created(&self) -> usize {
        self.drops().len()
    }

    /// Objects dropped at least once so far.
    pub fn dropped(&self) -> usize {
        self.drops().iter().filter(|&&n| n > 0).count()
    }

    /// Objects made and not yet dropped.
    pub fn live(&self) -> usize {
        self.created() - self.dropped()
    }

    /// Whether object `id` has been made and not yet dropped.
    pub fn is_live(&self, id: usize) -> bool {
        self.drops().get(id) == Some(&0)
    }

    /// Panics if some object was dropped more than once.
    pub fn assert_no_double_drop(&self) {
        let twice: Vec<usize> = (self.drops().iter().enumerate())
            .filter(|&(_, &n)| n > 1)
            .map(|(id, _)| id)
            .collect();
        assert!(
            twice.is_empty(),
            "objects dropped more than once: {twice:?}"
        );
    }

    /// Panics unless every object made was dropped exactly once.
    pub fn assert_all_dropped_once(&self) {
        let wrong: Vec<(usize, u32)> = (self.drops().iter().copied().enumerate())
            .filter(|&(_, n)| n != 1)
            .collect();
        assert!(
            wrong.is_empty(),
            "(id, drops) not dropped exactly once: {wrong:?}"
        );
    }
}

/// A value made by a [`Tracker`]; its drop is recorded there.
#[derive(Debug)]
pub struct Tracked {
    /// Unique per tracker; identifies the object across `get`s.
    pub id: usize,
    /// Payload: cleared by `reset` (capacity kept), and the object's `retained_bytes`.
    pub data: Vec<u8>,
    /// Panic in `drop`, after the drop is recorded.
    pub panic_on_drop: bool,
    /// Panic in [`Recycle::reset`].
    pub panic_in_reset: bool,
    tracker: Arc<Tracker>,
}

/// The message of the panic a [`Tracked`] raises in `drop` when `panic_on_drop` is set.
#[allow(dead_code)]
pub const DROP_PANIC: &str = "Tracked::drop panicked on purpose";
/// The message of the panic a [`Tracked`] raises in `reset` when `panic_in_reset` is set.
#[allow(dead_code)]
pub const RESET_PANIC: &str = "Tracked::reset panicked on purpose";

impl Drop for Tracked {
    fn drop(&mut self) {
        self.tracker.drops()[self.id] += 1;
        if self.panic_on_drop {
            panic!("{DROP_PANIC}");
        }
    }
}

impl Recycle for Tracked {
    fn reset(&mut self) {
        if self.panic_in_reset {
            panic!("{RESET_PANIC}");
        }
        self.data.clear();
    }

    fn retained_bytes(&self) -> usize {
        self.data.capacity()
    }
}

/// A [`Recycle`] type whose `retained_bytes` is whatever the test sets; `reset` zeroes `value`.
#[allow(dead_code)]
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Retains {
    /// What `retained_bytes` reports; `reset` keeps it, as a kept buffer would be kept.
    pub retained: usize,
    /// Payload that `reset` clears.
    pub value: u64,
}

impl Recycle for Retains {
    fn reset(&mut self) {
        self.value = 0;
    }

    fn retained_bytes(&self) -> usize {
        self.retained
    }
}

/// Asserts that `$pool.stats()` equals the [`PoolStats`](hotpool::PoolStats) with the fields given and the others 0
/// (or taken from `..base`), and evaluates to that expected value, to build the next one from.
/// (`PoolStats` is `#[non_exhaustive]`: tests cannot write it as a struct literal.)
///
/// ```ignore
/// let expected = assert_stats!(pool, { created: 1, in_use: 1, peak_in_use: 1 });
/// assert_stats!(pool, { returned: 1, idle: 1, in_use: 0, ..expected });
/// ```
#[allow(unused_macros)]
macro_rules! assert_stats {
    ($pool:expr, { $($field:ident: $value:expr),* $(,)? }) => {
        assert_stats!($pool, { $($field: $value,)* ..::hotpool::PoolStats::default() })
    };
    ($pool:expr, { $($field:ident: $value:expr,)* ..$base:expr }) => {{
        #[allow(unused_mut)]
        let mut expected: ::hotpool::PoolStats = $base;
        $(expected.$field = $value;)*
        assert_eq!($pool.stats(), expected);
        expected
    }};
}
#[allow(unused_imports)]
pub(crate) use assert_stats;

/// Runs `f`, which must panic with a message containing `expected`.
#[allow(dead_code)]
pub fn expect_panic<R>(expected: &str, f: impl FnOnce() -> R) {
    let payload = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic containing {expected:?}, but none happened"),
        Err(payload) => payload,
    };
    let message = (payload.downcast_ref::<String>().map(String::as_str))
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("<non-string panic payload>");
    assert!(
        message.contains(expected),
        "expected a panic containing {expected:?}, got {message:?}"
    );
}
