//! A `Pool`'s whole lifecycle on several threads, against a model of what its public docs
//! promise: a proptest state machine.
//!
//! Each worker is a real OS thread driven over a command channel, so every operation runs on a
//! thread the sequence chooses and the order of events is the sequence's. The operations:
//! `get`, `get_owned`, `try_get`(`_owned`), `get_timeout` (and `_owned`), `get_async` and
//! `get_owned_async` (polled by hand; a pending future stays pending across steps until the model
//! says an object or place reached it, or is cancelled by dropping it), guard drops on the
//! acquiring thread or another one (owned guards and owned futures move between workers), `put`,
//! `trim`, handle clones and drops, worker exits (holding cached objects, guards, queued waiters;
//! a fresh worker replaces the old one, and owned guards may be left to the thread's
//! thread-local destructors), and a few operations run on two workers at once (an owned guard's
//! drop against a handle's or another guard's). A blocking `get` at the cap really blocks its
//! worker until a return elsewhere serves it. Borrowed guards and `get_async` futures borrow
//! their worker's own handle, so they stay on it (dropping that handle drops them first); owned
//! ones go anywhere. At the end the pool's life ends the way a server's does: futures
//! cancelled, handles dropped until one is left, whose drop races an owned guard's on another
//! worker, the other owned guards dropped two at a time on two workers (the pool lives on
//! through them alone), then every worker exits.
//!
//! Settings: `max_live` 1 to 6 (or none), `thread_cache` 0 to 4, `max_idle` either the default
//! or 1 to 4 (then objects are dropped for lack of room, and the idle bounds below bite), a
//! `prefill` of up to 2; four workers, so that a waiter's steal can gather more objects from
//! the other threads' caches than one cache holds.
//!
//! The model follows objects, places and waiters, not where idle objects sit (which tier holds
//! them is not part of the API), so the checks are what the docs promise:
//! - the objects alive, counted by the objects themselves (a [`Census`] of factory-made objects
//!   and one of `put` values) and by their ids ([`Tracker`]), equal the model's at every step;
//!   factory-made objects never exceed `max_live`, even for an instant;
//! - in a bounded pool an acquisition resolves at once exactly when nobody is queued and an
//!   object is idle anywhere (any thread's cache: the steal) or a place is free, and otherwise
//!   times out (`get_timeout`), stays pending (async) or blocks (`get`); queued waiters are served
//!   first come, first served, by the very object returned or by a freed place (then the factory
//!   runs), and a served future was woken; cancelling passes what it was handed on;
//! - the factory runs only when nothing is idle within the caller's reach (its cache and the
//!   depot: at most `thread_cache` per other thread is out of reach), and never at the cap;
//!   `try_get` never runs it; `put` keeps its value unless the pool is at its cap (handed back as
//!   it was) or full (handed back reset); `trim` drops the depot and the caller's cache (so at
//!   least all idle but `thread_cache` per other thread, at most `max_idle + thread_cache`);
//!   objects are dropped by the pool only by `trim` or for lack of room (the depot full);
//! - idle objects stay within `max_idle + thread_cache` per live thread that used the pool;
//! - `stats()` at rest: `created`, `reused`, `discarded`, `detached`, `in_use` and `idle` exact;
//!   `returned` and `waits` within the bounds the docs leave open (see `Range`), `peak_in_use`
//!   never above `max_live`;
//! - when the last handle and the last owned guard are gone (on whichever threads), the pool is
//!   freed at once: every object was dropped exactly once. A fresh pool then takes over.
//!
//! This file has the settings, the operations' strategies and the property; its parts are in
//! `tests/pool_lifecycle/`: the objects and workers (`worker.rs`), the model (`model.rs`), the
//! harness (`run.rs`) and its steps (`steps.rs`). The imports here serve them all.

mod pool_lifecycle;
mod support;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hotpool::builder::DEFAULT_MAX_IDLE;
use hotpool::{GetFuture, GetOwnedFuture, OwnedPooled, Pool, PoolStats, Pooled, Recycle};
use pool_lifecycle::model::*;
use pool_lifecycle::run::*;
use pool_lifecycle::worker::*;
use proptest::prelude::*;
use proptest::strategy::Union;
use support::ops::config;
use support::{Census, Counted, Tracked, Tracker};

/// Cases per run unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = if cfg!(miri) { 2 } else { 256 };
const MAX_OPS: usize = if cfg!(miri) { 12 } else { 96 };
const WORKERS: usize = 4;
/// The deadline of `get_timeout` (only ever reached when the model says nothing can come).
const SHORT: Duration = Duration::from_millis(1);
/// How long the harness waits for a worker's answer before calling it a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long a blocked `get` the model says was served may take to return (it was unparked).
const SERVED_WITHIN: Duration = Duration::from_secs(2);
/// A failure whose shrinking waits for answers that never come (a lost wake-up, say) stops
/// shrinking after this many milliseconds.
const MAX_SHRINK_MS: u32 = 120_000;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(CASES)
}

// ---------------------------------------------------------------------------------------------
// Strategies

fn settings() -> impl Strategy<Value = Settings> {
    (
        prop_oneof![1 => Just(None), 4 => (1usize..=6).prop_map(Some)],
        0usize..=4,
        prop_oneof![1 => Just(DEFAULT_MAX_IDLE), 1 => 1usize..=4],
        0usize..=2,
    )
        .prop_map(|(cap, thread_cache, max_idle, prefill)| Settings {
            cap,
            thread_cache,
            max_idle,
            prefill: prefill.min(max_idle).min(cap.unwrap_or(usize::MAX)),
        })
}

fn acq() -> impl Strategy<Value = Acq> {
    prop_oneof![
        3 => Just(Acq::Get),
        3 => Just(Acq::GetOwned),
        1 => Just(Acq::TryGet),
        1 => Just(Acq::TryGetOwned),
        2 => Just(Acq::Timeout),
        1 => Just(Acq::TimeoutOwned),
        2 => Just(Acq::Async),
        2 => Just(Acq::AsyncOwned),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let worker = || 0..WORKERS;
    Union::new_weighted(vec![
        (
            12,
            (worker(), acq())
                .prop_map(|(w, a)| Op::Acquire(w, a))
                .boxed(),
        ),
        (
            10,
            (any::<usize>(), worker())
                .prop_map(|(guard, on)| Op::Drop { guard, on })
                .boxed(),
        ),
        (3, any::<usize>().prop_map(Op::Poll).boxed()),
        (1, any::<usize>().prop_map(Op::Cancel).boxed()),
        (
            1,
            (any::<usize>(), worker())
                .prop_map(|(item, to)| Op::Send { item, to })
                .boxed(),
        ),
        (1, worker().prop_map(Op::Put).boxed()),
        (2, worker().prop_map(Op::Trim).boxed()),
        (
            1,
            (worker(), worker())
                .prop_map(|(from, to)| Op::Clone { from, to })
                .boxed(),
        ),
        (1, worker().prop_map(Op::DropHandle).boxed()),
        (
            1,
            (worker(), any::<bool>(), any::<bool>())
                .prop_map(|(worker, stash, handover)| Op::Exit {
                    worker,
                    stash,
                    handover,
                })
                .boxed(),
        ),
        (
            1,
            (any::<usize>(), worker(), any::<bool>())
                .prop_map(|(guard, worker, handle)| Op::Race {
                    guard,
                    worker,
                    handle,
                })
                .boxed(),
        ),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig {
        max_shrink_time: MAX_SHRINK_MS,
        ..config(cases())
    })]

    #[test]
    fn pool_lifecycle_matches_the_model(
        settings in settings(),
        ops in prop::collection::vec(op(), 1..MAX_OPS),
    ) {
        let mut run = Run::start(settings);
        for (i, op) in ops.iter().enumerate() {
            let _context = StepContext(i, op);
            run.apply(op);
        }
        run.finish();
    }
}
