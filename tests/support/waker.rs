//! Wakers for futures polled by hand (one that does nothing, one that counts its wakes, one
//! whose wake panics), and such a future with a waker that counts its wakes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// A waker that does nothing: the tests poll by hand (`Waker::noop` needs Rust 1.85; the crate
/// supports older ones).
pub fn noop_waker() -> Waker {
    Arc::new(Noop).into()
}

struct Bomb;

impl Wake for Bomb {
    fn wake(self: Arc<Self>) {
        panic!("waker bomb on purpose");
    }
}

/// A waker whose `wake` panics ("on purpose"): user code that panics while the pool wakes a
/// waiter. Clones and drops are fine.
pub fn bomb_waker() -> Waker {
    Arc::new(Bomb).into()
}

/// A waker that counts its wakes.
#[derive(Default)]
pub struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future polled by hand, and the waker its polls use.
pub struct Polled<F> {
    future: Pin<Box<F>>,
    wakes: Arc<CountingWaker>,
}

impl<F: Future> Polled<F> {
    pub fn new(future: F) -> Self {
        Polled {
            future: Box::pin(future),
            wakes: Arc::default(),
        }
    }

    pub fn poll(&mut self) -> Poll<F::Output> {
        let waker = Waker::from(Arc::clone(&self.wakes));
        self.future.as_mut().poll(&mut Context::from_waker(&waker))
    }

    /// How many times the future's waker was woken.
    pub fn wakes(&self) -> usize {
        self.wakes.0.load(Ordering::SeqCst)
    }

    /// Polls once more, which must be ready.
    pub fn ready(mut self) -> F::Output {
        match self.poll() {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("still pending"),
        }
    }
}
