//! A global allocator that returns no memory above [`LIMIT`] bytes, as one with a memory limit (or
//! a machine out of memory) does: a `BufferPool` request above the largest class that it refuses
//! is a `BufferError::AllocFailed` from `try_get`, and a panic (not an abort) from `get`; the
//! process goes on and the pool serves the next request.
//!
//! The refusals' panics are not printed: with `RUST_BACKTRACE` set, printing one symbolizes a
//! backtrace, which allocates more than a small limit allows (and the allocation error handler
//! then waits for the backtrace lock the printing thread holds).

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use hotpool::{BufferError, BufferPool};

/// The largest allocation the allocator serves.
const LIMIT: usize = support::alloc::REFUSED_ABOVE;

#[global_allocator]
static ALLOCATOR: support::alloc::Refusing = support::alloc::Refusing;

#[test]
fn a_refused_oversized_request_is_an_error_from_try_get_and_a_panic_from_get() {
    support::quiet_panics("buffer request of");
    let pool = BufferPool::new(); // max_size 1 MiB: both sizes below are oversized
    let n = LIMIT + 1;
    let err = pool.try_get(n).unwrap_err();
    assert!(matches!(err, BufferError::AllocFailed { requested, .. } if requested == n));
    assert_eq!(
        err.to_string(),
        "buffer request of 67108865 bytes refused: the allocator could not allocate it"
    );
    assert_eq!(pool.try_get_owned(n).unwrap_err(), err);

    let caught = catch_unwind(AssertUnwindSafe(|| pool.get(n))).unwrap_err();
    assert_eq!(caught.downcast_ref::<String>(), Some(&err.to_string()));
    let caught = catch_unwind(AssertUnwindSafe(|| pool.get_owned(n))).unwrap_err();
    assert_eq!(caught.downcast_ref::<String>(), Some(&err.to_string()));

    let s = pool.stats();
    assert_eq!((s.refused, s.created, s.oversized, s.in_use), (4, 0, 0, 0));

    // The pool, and the process, go on.
    let buf = pool.try_get(LIMIT).expect("at the limit: allocated");
    assert!(buf.capacity() >= LIMIT);
    drop(buf);
    let s = pool.stats();
    assert_eq!(
        (s.refused, s.created, s.oversized, s.discarded),
        (4, 1, 1, 1)
    );
}
