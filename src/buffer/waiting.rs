//! Acquisitions that wait for a [`BufferPool`]'s in-flight budget
//! ([`max_live_bytes`](super::BufferPoolBuilder::max_live_bytes)) with a deadline or without
//! blocking a thread. Without a budget they never wait. The queue and its rules are the pool
//! limiter's (`budget.rs`, `pool/limiter.rs`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use super::{refused, AtBudget, Boxed, Buffer, BufferPool, Classes, OwnedBuffer};
use crate::pool::waiter::Waiter;
use crate::sync::Arc;
use crate::BufferError;

impl BufferPool {
    /// Like [`get`](BufferPool::get), but at the in-flight budget waits at most `timeout` for the
    /// bytes to free; and every refusal is an error instead of a panic.
    ///
    /// # Errors
    /// [`BufferError::Timeout`] if the budget stayed spent until the deadline (the wait is
    /// counted in [`BufferStats::waits`](super::BufferStats::waits), nothing else changed);
    /// otherwise what [`try_get`](BufferPool::try_get) returns, except `AtBudget`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = hotpool::BufferPool::builder().max_live_bytes(4096).build()?;
    /// let held = pool.get(4096);
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| pool.get_timeout(100, Duration::from_secs(60)).is_ok());
    ///     drop(held); // frees the bytes the waiter needs
    ///     assert!(waiter.join().unwrap());
    /// });
    /// assert!(pool.get_timeout(100, Duration::from_millis(1)).is_ok()); // nothing held now
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn get_timeout(
        &self,
        min_capacity: usize,
        timeout: Duration,
    ) -> Result<Buffer<'_>, BufferError> {
        // A deadline past what `Instant` can hold is no deadline.
        let deadline = Instant::now().checked_add(timeout);
        let (buf, class, charged) = self
            .classes
            .acquire(min_capacity, AtBudget::Block(deadline))?;
        Ok(Buffer::new(buf, &self.classes, class, charged))
    }

    /// Like [`get`](BufferPool::get), as a future: at the in-flight budget it waits without
    /// blocking a thread. Runtime-agnostic (any executor), `Send`, and cancel-safe: dropping it
    /// while it waits leaves the queue, and bytes it was handed meanwhile go on to the next
    /// waiter. Waiters (blocking, timed and async alike) are served first come, first served.
    ///
    /// # Panics
    /// When polled, exactly where [`get`](BufferPool::get) panics: a request
    /// [`try_get`](BufferPool::try_get) refuses for any reason but `AtBudget` (above
    /// `max_request`, more than the whole budget, ...). Check sizes from the wire against
    /// [`max_request`](BufferPool::max_request) first, or use
    /// [`get_timeout`](BufferPool::get_timeout).
    ///
    /// ```
    /// # async fn demo() -> Result<(), hotpool::ConfigError> {
    /// let pool = hotpool::BufferPool::builder().max_live_bytes(1 << 20).build()?;
    /// let mut buf = pool.get_async(1500).await;
    /// buf.extend_from_slice(b"frame");
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_async(&self, min_capacity: usize) -> GetBufferFuture<'_> {
        GetBufferFuture {
            pool: self,
            wait: Wait::new(min_capacity),
        }
    }

    /// Like [`get_async`](BufferPool::get_async), with an [`OwnedBuffer`] (see
    /// [`get_owned`](BufferPool::get_owned)); the future owns a handle to the pool, so it is
    /// `'static` too.
    ///
    /// # Panics
    /// As [`get_async`](BufferPool::get_async).
    ///
    /// ```
    /// # async fn demo() -> Result<(), hotpool::ConfigError> {
    /// let pool = hotpool::BufferPool::builder().max_live_bytes(1 << 20).build()?;
    /// let buf = pool.get_owned_async(1500).await;
    /// let frozen_elsewhere = std::thread::spawn(move || buf.capacity()).join().unwrap();
    /// assert_eq!(frozen_elsewhere, 2048);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_owned_async(&self, min_capacity: usize) -> GetOwnedBufferFuture {
        GetOwnedBufferFuture {
            classes: Arc::clone(&self.classes),
            wait: Wait::new(min_capacity),
        }
    }
}

/// Where an async acquisition stands: nothing charged yet, or its charge and, while it waits,
/// its place in the budget's queue.
struct Wait {
    min_capacity: usize,
    /// The bytes it takes from the budget, once computed (the first poll).
    charge: Option<usize>,
    waiter: Option<Arc<Waiter<()>>>,
}

impl Wait {
    fn new(min_capacity: usize) -> Self {
        Self {
            min_capacity,
            charge: None,
            waiter: None,
        }
    }

    /// One poll: the buffer (its class and charge as [`Classes::acquire`] gives them), once the
    /// budget has its bytes. Panics where `get` does.
    fn poll(&mut self, classes: &Classes, cx: &mut Context<'_>) -> Poll<(Boxed, usize, usize)> {
        let n = self.min_capacity;
        let Some(budget) = classes.budget() else {
            return Poll::Ready(
                classes
                    .acquire(n, AtBudget::Refuse)
                    .unwrap_or_else(|e| refused(e)),
            );
        };
        let charge = match self.charge {
            Some(charge) => charge,
            None => *self
                .charge
                .insert(classes.charge(budget, n).unwrap_or_else(|e| refused(e))),
        };
        ready!(budget.poll_take(charge, &mut self.waiter, cx.waker()));
        // Charged: from here on the guard owns the bytes (or `take_charged` gives them back).
        self.charge = None;
        Poll::Ready(
            classes
                .take_charged(budget, n, charge)
                .unwrap_or_else(|e| refused(e)),
        )
    }

    /// A dropped future: leaves the queue, or passes on the bytes it was handed meanwhile.
    fn cancel(&mut self, classes: &Classes) {
        if let (Some(waiter), Some(charge), Some(budget)) =
            (self.waiter.take(), self.charge, classes.budget())
        {
            budget.cancel(&waiter, charge);
        }
    }
}

/// The future of [`BufferPool::get_async`].
#[must_use = "futures do nothing unless polled"]
pub struct GetBufferFuture<'a> {
    pool: &'a BufferPool,
    wait: Wait,
}

impl<'a> Future for GetBufferFuture<'a> {
    type Output = Buffer<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Buffer<'a>> {
        let this = self.get_mut();
        let (buf, class, charged) = ready!(this.wait.poll(&this.pool.classes, cx));
        Poll::Ready(Buffer::new(buf, &this.pool.classes, class, charged))
    }
}

impl Drop for GetBufferFuture<'_> {
    fn drop(&mut self) {
        self.wait.cancel(&self.pool.classes);
    }
}

impl fmt::Debug for GetBufferFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetBufferFuture")
            .field("min_capacity", &self.wait.min_capacity)
            .field("waiting", &self.wait.waiter.is_some())
            .finish_non_exhaustive()
    }
}

/// The future of [`BufferPool::get_owned_async`].
#[must_use = "futures do nothing unless polled"]
pub struct GetOwnedBufferFuture {
    classes: Arc<Classes>,
    wait: Wait,
}

impl Future for GetOwnedBufferFuture {
    type Output = OwnedBuffer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedBuffer> {
        let this = self.get_mut();
        let (buf, class, charged) = ready!(this.wait.poll(&this.classes, cx));
        Poll::Ready(OwnedBuffer::new(
            buf,
            Arc::clone(&this.classes),
            class,
            charged,
        ))
    }
}

impl Drop for GetOwnedBufferFuture {
    fn drop(&mut self) {
        self.wait.cancel(&self.classes);
    }
}

impl fmt::Debug for GetOwnedBufferFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetOwnedBufferFuture")
            .field("min_capacity", &self.wait.min_capacity)
            .field("waiting", &self.wait.waiter.is_some())
            .finish_non_exhaustive()
    }
}
