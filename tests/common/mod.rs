//! Helpers shared by the integration tests (`mod common;` in a test file).
//!
//! - [`Tracker`] / [`Tracked`]: a value type whose creations and drops are recorded per object
//!   id, so a test can prove that every object the pool made was dropped exactly once.
//! - [`Census`] / [`Counted`]: objects that count how many of them are alive, and the most ever
//!   alive at once (a bounded pool's cap, checked by the objects themselves).
//! - [`Retains`]: a [`Recycle`] type whose `retained_bytes` is whatever the test sets.
//! - [`assert_stats!`]: checks every field of a pool's stats in one line.
//! - [`expect_panic`]: runs a closure that must panic and checks the message.
//! - [`child`]: runs a test's scenario in a child process (for what would abort the process).
//!
//! Every test binary compiles this module on its own, so items one binary does not use carry
//! `#[allow(dead_code)]`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use hotpool::Recycle;

mod census;
#[allow(dead_code)]
pub mod child;
mod tracker;
#[allow(unused_imports)]
pub use census::{Census, Counted};
#[allow(unused_imports)]
pub use tracker::{Tracked, Tracker, DROP_PANIC, RESET_PANIC};

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
