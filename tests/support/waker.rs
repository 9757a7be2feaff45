//! A waker for futures polled by hand.

use std::sync::Arc;
use std::task::{Wake, Waker};

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// A waker that does nothing: the tests poll by hand (`Waker::noop` needs Rust 1.85; the crate
/// supports older ones).
pub fn noop_waker() -> Waker {
    Arc::new(Noop).into()
}
