//! Every size edge of a `BufferPool` request through `try_get`, `try_get_owned` and `get`: 0, 1,
//! the smallest class, each class boundary ± 1, `max_size`, `max_size + 1`, `max_request`,
//! `max_request + 1`, `isize::MAX`, `isize::MAX + 1` and `usize::MAX`, in a pool without
//! `max_request`, one with it above `max_size` and one with it below. For each size: what the
//! `try_` calls return, that `get` panics exactly where they return an error (with the error's
//! message), and that a refused request counts in `refused` only and asks the allocator for
//! nothing (or, for a refusal by the allocator, for exactly the size requested, once).
//! `max_request` is checked by `build()` like the other settings.
//!
//! Run with `--nocapture` to see the table.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use hotpool::{BufferError, BufferPool, ConfigError};
use support::alloc::{calls_on_this_thread, largest_on_this_thread, CountingAlloc};

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

const MIN_SIZE: usize = 64;
const MAX_SIZE: usize = 4096;

/// What a request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// A buffer of a class, of this capacity.
    Class(usize),
    /// A plain allocation of at least the size requested.
    Oversized,
    /// `BufferError::AboveMaxRequest`.
    AboveMaxRequest,
    /// `BufferError::CapacityOverflow`.
    CapacityOverflow,
    /// `BufferError::AllocFailed`.
    AllocFailed,
}

use Outcome::*;

impl Outcome {
    fn of(err: &BufferError) -> Self {
        match err {
            BufferError::AboveMaxRequest { .. } => AboveMaxRequest,
            BufferError::CapacityOverflow { .. } => CapacityOverflow,
            BufferError::AllocFailed { .. } => AllocFailed,
            other => panic!("a reason this test does not know: {other:?}"),
        }
    }

    fn refused(self) -> bool {
        !matches!(self, Class(_) | Oversized)
    }
}

fn pool(max_request: Option<usize>) -> BufferPool {
    let builder = BufferPool::builder().min_size(MIN_SIZE).max_size(MAX_SIZE);
    match max_request {
        Some(max) => builder.max_request(max).build().unwrap(),
        None => builder.build().unwrap(),
    }
}

/// The sizes every pool is asked for, with what they get when nothing caps the requests.
fn edges() -> Vec<(usize, Outcome)> {
    let mut edges = vec![(0, Class(MIN_SIZE)), (1, Class(MIN_SIZE))];
    let mut size = MIN_SIZE;
    while size <= MAX_SIZE {
        edges.push((size - 1, Class(size.max(MIN_SIZE))));
        edges.push((size, Class(size)));
        let next = if size == MAX_SIZE {
            Oversized
        } else {
            Class(2 * size)
        };
        edges.push((size + 1, next));
        size *= 2;
    }
    // `isize::MAX` asks the allocator, which has no such memory (under miri, which stops at an
    // allocation this large instead of failing it, the row is left out).
    if !cfg!(miri) {
        edges.push((isize::MAX as usize, AllocFailed));
    }
    edges.extend([
        (isize::MAX as usize + 1, CapacityOverflow),
        (usize::MAX, CapacityOverflow),
    ]);
    edges
}

/// `get`'s refusals panic on purpose here: their messages are checked, not printed.
fn quiet_refusals() {
    support::quiet_panics("buffer request of");
}

/// Asks `pool` for `n` bytes through all three calls, checks they agree with `expected` and with
/// each other, and returns the table row.
fn check(pool: &BufferPool, n: usize, expected: Outcome) -> String {
    quiet_refusals();
    let before = pool.stats();

    // try_get
    let (result, calls) = {
        let mut result = None;
        let calls = calls_on_this_thread(|| result = Some(pool.try_get(n).map(|b| b.capacity())));
        (result.unwrap(), calls)
    };
    let got = match &result {
        Ok(cap) if *cap < n => panic!("{n}: capacity {cap} below the request"),
        Ok(cap) if n > MAX_SIZE => {
            assert!(*cap >= n);
            Oversized
        }
        Ok(cap) => Class(*cap),
        Err(err) => {
            assert_eq!(err.requested(), n, "{err}");
            assert!(err.to_string().contains(&n.to_string()), "{err}");
            Outcome::of(err)
        }
    };
    assert_eq!(got, expected, "try_get({n})");
    match expected {
        AboveMaxRequest | CapacityOverflow => assert_eq!(calls, 0, "{n}: allocator asked"),
        AllocFailed => assert_eq!(calls, 1, "{n}: the allocator asked once"),
        _ => {}
    }

    // try_get_owned
    let owned = pool.try_get_owned(n).map(|b| b.capacity());
    assert_eq!(
        owned.as_ref().map_err(Clone::clone),
        result.as_ref().map_err(Clone::clone),
        "try_get_owned({n}) agrees with try_get"
    );

    // get: a buffer where try_get gives one, else a panic with the same message, allocating
    // nothing of the size refused.
    let (caught, largest) =
        largest_on_this_thread(|| catch_unwind(AssertUnwindSafe(|| pool.get(n).capacity())));
    match (&result, caught) {
        (Ok(cap), Ok(got)) => assert_eq!(got, *cap, "get({n})"),
        (Err(err), Err(payload)) => {
            let message = payload
                .downcast_ref::<String>()
                .expect("a formatted message");
            assert_eq!(*message, err.to_string(), "get({n})");
            if expected == AllocFailed {
                assert_eq!(largest, n, "get({n}): asked for once");
            } else {
                assert!(largest < n, "get({n}) allocated {largest} bytes");
            }
        }
        (Ok(_), Err(_)) => panic!("get({n}) panicked where try_get gave a buffer"),
        (Err(err), Ok(_)) => panic!("get({n}) gave a buffer where try_get said {err}"),
    }

    // Counted: a refused request in `refused` only (three times: try_get, try_get_owned, get).
    let after = pool.stats();
    if expected.refused() {
        assert_eq!(after.refused, before.refused + 3, "{n}");
        assert_eq!(
            (after.created, after.oversized, after.in_use),
            (before.created, before.oversized, before.in_use),
            "{n}: nothing made"
        );
    } else {
        assert_eq!(after.refused, before.refused, "{n}");
    }
    assert_eq!(after.in_use, 0);

    let shown = |r: &Result<usize, BufferError>| match r {
        Ok(cap) => format!("Ok(capacity {cap})"),
        Err(err) => format!("Err({err})"),
    };
    let get = match &result {
        Ok(_) => "buffer".to_owned(),
        Err(_) => "panics, same message".to_owned(),
    };
    format!("| {n} | {} | {} | {get} |", shown(&result), shown(&owned))
}

fn run(name: &str, pool: &BufferPool, rows: &[(usize, Outcome)]) {
    let mut table =
        format!("{name}\n| size | try_get | try_get_owned | get |\n|---|---|---|---|\n");
    for &(n, expected) in rows {
        table += &check(pool, n, expected);
        table.push('\n');
    }
    println!("{table}");
}

/// [`edges`] in a pool whose `max_request` is `max`, plus the sizes around `max`: `at_max` (what
/// sizes up to `max` get) and `max + 1`, refused.
fn capped_edges<const N: usize>(
    max: usize,
    at_max: [(usize, Outcome); N],
) -> Vec<(usize, Outcome)> {
    let mut rows: Vec<(usize, Outcome)> = edges()
        .into_iter()
        .map(|(n, outcome)| (n, if n > max { AboveMaxRequest } else { outcome }))
        .collect();
    rows.extend(at_max);
    rows.push((max + 1, AboveMaxRequest));
    rows.sort_unstable_by_key(|&(n, _)| n);
    rows
}

#[test]
fn without_max_request_only_impossible_or_refused_allocations_fail() {
    run("no max_request", &pool(None), &edges());
}

#[test]
fn max_request_above_max_size_caps_the_oversized_requests() {
    const MAX_REQUEST: usize = 1 << 16;
    let rows = capped_edges(
        MAX_REQUEST,
        [(MAX_REQUEST - 1, Oversized), (MAX_REQUEST, Oversized)],
    );
    let pool = pool(Some(MAX_REQUEST));
    assert_eq!(pool.max_request(), MAX_REQUEST);
    run("max_request = 65536 (max_size = 4096)", &pool, &rows);
}

#[test]
fn max_request_below_max_size_caps_requests_within_the_classes() {
    const MAX_REQUEST: usize = 1000;
    let rows = capped_edges(MAX_REQUEST, [(MAX_REQUEST, Class(1024))]);
    run(
        "max_request = 1000 (max_size = 4096)",
        &pool(Some(MAX_REQUEST)),
        &rows,
    );
}

#[test]
fn a_max_request_of_one_serves_zero_and_one_byte() {
    let pool = pool(Some(1));
    assert_eq!(pool.try_get(0).unwrap().capacity(), MIN_SIZE);
    assert_eq!(pool.try_get(1).unwrap().capacity(), MIN_SIZE);
    let err = pool.try_get(2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "buffer request of 2 bytes refused: above max_request = 1"
    );
}

#[test]
fn a_buffer_may_grow_past_max_request() {
    let pool = pool(Some(100));
    let mut buf = pool.get(100);
    buf.extend_from_slice(&[7; 200]); // the cap is on what is asked for: 128 -> 256 bytes
    drop(buf);
    let s = pool.stats();
    assert_eq!(
        (s.refused, s.classes[2].idle),
        (0, 1),
        "back in the 256-byte class"
    );
}

#[test]
fn build_checks_max_request() {
    let err = BufferPool::builder().max_request(0).build().unwrap_err();
    assert_eq!(
        err,
        ConfigError::Zero {
            setting: "max_request"
        }
    );
    assert_eq!(
        err.to_string(),
        "invalid configuration: max_request = 0, but it must be at least 1"
    );
    for max in [1, 63, MAX_SIZE - 1, MAX_SIZE, usize::MAX] {
        assert_eq!(pool(Some(max)).max_request(), max);
    }
    assert_eq!(BufferPool::new().max_request(), usize::MAX, "no cap");
}

#[test]
fn the_error_is_a_plain_value() {
    let pool = pool(Some(10_000));
    let err = pool.try_get(10_001).unwrap_err();
    let copy = err.clone();
    assert_eq!(err, copy);
    assert_ne!(err, pool.try_get(10_002).unwrap_err());
    assert!(format!("{err:?}").contains("AboveMaxRequest"));
    let boxed: Box<dyn std::error::Error + Send + Sync + 'static> = Box::new(err);
    assert_eq!(
        boxed.to_string(),
        "buffer request of 10001 bytes refused: above max_request = 10000"
    );
    let overflow = pool.try_get(usize::MAX).unwrap_err();
    assert!(
        matches!(overflow, BufferError::AboveMaxRequest { .. }),
        "the cap is checked first"
    );
    let overflow = BufferPool::new().try_get(usize::MAX).unwrap_err();
    assert_eq!(
        overflow.to_string(),
        format!(
            "buffer request of {} bytes refused: above isize::MAX bytes",
            usize::MAX
        )
    );
}
