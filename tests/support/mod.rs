//! Helpers shared by the integration tests: each test file declares `mod support;` and uses
//! what it needs. One module per concern:
//!
//! - [`tracker`]: [`Tracker`] / [`Tracked`], a value type whose creations and drops are recorded
//!   per object id, so a test can prove that every object the pool made was dropped exactly once
//!   (the fuzz harness includes the same file);
//! - [`census`]: [`Census`] / [`Counted`], objects that count how many of them are alive, the
//!   most ever alive at once (a bounded pool's cap, checked by the objects themselves), their
//!   drops by id and their resets;
//! - [`pool`]: pools of tracked or counted objects (bounded ones too) and checks of a `Pool`'s
//!   documented bounds;
//! - [`tagged`]: pools whose objects carry their pool's tag, and a model of one thread's use of
//!   them (the tests of several pools on one thread and of pools across thread exits);
//! - [`model`]: the reference model of a pool ([`model::Ledger`]) and either kind of guard
//!   ([`model::Guard`]), shared by the proptest models and the fuzz targets;
//! - [`ops`]: the operation language (proptest strategies) of the `Pool` / `LocalPool` models;
//! - [`alloc`]: a counting global allocator (each `*_alloc` binary installs it);
//! - [`arena`]: a thread's arena with an allocation limit;
//! - [`child`]: runs a test's scenario in a child process (for what would abort the process);
//! - [`waker`]: wakers for futures polled by hand, and [`waker::Polled`], such a future with a
//!   waker that counts its wakes;
//! - [`tasks`]: joining tokio tasks with a bound on how long they may take;
//! - `loom_bounded` (loom builds only): the steps the bounded-pool loom models share;
//! - here: [`Retains`] (a [`Recycle`] type whose `retained_bytes` is whatever the test sets),
//!   [`assert_stats!`] (every field of a pool's stats in one line), [`expect_panic`],
//!   [`rounds`], [`quiet_panics`], and for the loom models `eventually`.
//!
//! The loom models (`tests/loom_*.rs`, built by ci/loom.sh in a crate that keeps only the
//! dev-dependencies they name) compile this tree too: [`ops`], the one module that needs
//! proptest, is left out under `--cfg hotpool_loom`.

// Every test binary compiles this tree on its own and uses a part of it: what one binary leaves
// unused is not dead code, so the lints that would say so are off for the whole tree.
#![allow(dead_code, unused_imports, unused_macros)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use hotpool::Recycle;

pub mod alloc;
pub mod arena;
pub mod census;
pub mod child;
#[cfg(hotpool_loom)]
pub mod loom_bounded;
pub mod model;
#[cfg(not(hotpool_loom))]
pub mod ops;
pub mod pool;
pub mod tagged;
// tokio: not a dependency of the loom models' crate.
#[cfg(not(hotpool_loom))]
pub mod tasks;
pub mod tracker;
pub mod waker;
pub use census::{Census, Counted};
pub use tracker::{Tracked, Tracker, DROP_PANIC, RESET_PANIC};

/// A [`Recycle`] type whose `retained_bytes` is whatever the test sets; `reset` zeroes `value`.
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
pub(crate) use assert_stats;

/// Runs `f`, which must panic with a message containing `expected`.
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

/// From now on, this test binary's panics whose message starts with `prefix` are not printed
/// (the ones a test causes on purpose and checks); other panics still are. Call it from every
/// test that needs it: the hook is installed once.
pub fn quiet_panics(prefix: &'static str) {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info.payload().downcast_ref::<String>();
            if !message.is_some_and(|m| m.starts_with(prefix)) {
                default(info);
            }
        }));
    });
}

/// How many rounds a stress loop runs: `full`, or `miri` under miri (where each round is
/// interpreted and takes thousands of times longer).
pub fn rounds(full: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        full
    }
}

/// Yields to loom's scheduler until `done` holds: for the loom models' end-of-model checks
/// (loom's `join` can return before the joined thread's exit flush ran).
#[cfg(hotpool_loom)]
pub fn eventually(mut done: impl FnMut() -> bool) {
    while !done() {
        ::loom::thread::yield_now();
    }
}
