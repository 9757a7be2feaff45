//! Acquisitions that can wait: a [`Pool`] built with [`max_live`](crate::Builder::max_live)
//! hands out at most that many objects at once, and these wait at the cap for a deadline or
//! without blocking a thread. On an unbounded pool they never wait. How waiters are served:
//! [the implementation notes](crate::implementation#bounded-pools).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::waiter::Waiter;
use super::{OwnedPooled, Pool, Pooled};
use crate::error::Timeout;
use crate::recycle::Recycler;
use crate::sync::Arc;

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Pool<T, R> {
    /// Like [`get`](Pool::get), but at the [`max_live`](crate::Builder::max_live) cap waits at
    /// most `timeout` for an object to come back or a place to free.
    ///
    /// # Errors
    /// [`Timeout`] if the pool stayed at its cap with nothing idle until the deadline; the wait
    /// is counted in [`PoolStats::waits`](crate::PoolStats::waits) and nothing else changed in
    /// the pool. On an unbounded pool it never fails.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hotpool::{Pool, Timeout};
    ///
    /// let pool = Pool::builder(Vec::<u8>::new).max_live(1).build()?;
    /// let held = pool.get();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         assert_eq!(pool.get_timeout(Duration::from_millis(1)).unwrap_err(), Timeout);
    ///     });
    /// });
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| pool.get_timeout(Duration::from_secs(60)).is_ok());
    ///     drop(held); // the waiting thread gets it (or finds it idle if it comes later)
    ///     assert!(waiter.join().unwrap());
    /// });
    /// assert_eq!(pool.stats().created, 1);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<Pooled<'_, T, R>, Timeout> {
        let obj = self.acquire_until(timeout)?;
        Ok(Pooled::new(&self.inner, obj))
    }

    /// Like [`get_timeout`](Pool::get_timeout), with an owned guard (see
    /// [`get_owned`](Pool::get_owned)).
    ///
    /// # Errors
    /// [`Timeout`], as for `get_timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = hotpool::Pool::builder(String::new).max_live(2).build()?;
    /// let guards: Vec<_> = (0..3)
    ///     .map(|_| pool.get_owned_timeout(Duration::from_millis(1)))
    ///     .collect();
    /// assert_eq!(guards.iter().filter(|g| g.is_ok()).count(), 2);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn get_owned_timeout(&self, timeout: Duration) -> Result<OwnedPooled<T, R>, Timeout> {
        let obj = self.acquire_until(timeout)?;
        Ok(OwnedPooled::new(self.inner.new_owned_ref(&self.inner), obj))
    }

    /// Like [`get`](Pool::get), but at the [`max_live`](crate::Builder::max_live) cap the
    /// returned future waits without blocking the thread. It works with any executor (it only
    /// uses the task's [`Waker`](std::task::Waker)), is `Send` when `T` is, and is cancel-safe:
    /// a future dropped after it was handed an object passes it on to the next waiter, and no
    /// place is lost. The order in which waiting tasks are served is
    /// [`fair_after`](crate::builder::PoolBuilder::fair_after)'s: by default first come, first
    /// served among the tasks polled on one thread, with every thread's tasks served within a
    /// bounded number of returns; with `fair_after(Duration::ZERO)`, first come, first served
    /// among all waiters, blocking or async. A caller that did not wait may take an object that
    /// came back idle before any waiter.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     // A minimal executor for the example; use your runtime's.
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl std::task::Wake for Unpark {
    /// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
    /// #     }
    /// #     let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         match f.as_mut().poll(&mut cx) {
    /// #             std::task::Poll::Ready(v) => return v,
    /// #             std::task::Poll::Pending => std::thread::park(),
    /// #         }
    /// #     }
    /// # }
    /// let pool = hotpool::Pool::builder(|| Vec::<u8>::with_capacity(4096)).max_live(1).build()?;
    /// let first = block_on(pool.get_async());
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| block_on(pool.get_async()).capacity());
    ///     drop(first); // wakes the waiting task with the same buffer
    ///     assert_eq!(waiter.join().unwrap(), 4096);
    /// });
    /// assert_eq!(pool.stats().created, 1);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn get_async(&self) -> GetFuture<'_, T, R> {
        GetFuture {
            pool: self,
            waiter: None,
        }
    }

    /// Like [`get_async`](Pool::get_async), resolving to an owned guard. The future holds a
    /// handle to the pool, so it is `'static` (and `Send` when `T` is): it can be spawned.
    ///
    /// ```
    /// use hotpool::{GetOwnedFuture, OwnedPooled, Pool};
    ///
    /// fn spawnable<F: std::future::Future + Send + 'static>(_: &F) {}
    ///
    /// let pool = Pool::builder(String::new).max_live(4).build()?;
    /// let future: GetOwnedFuture<String> = pool.get_owned_async();
    /// spawnable(&future);
    /// # drop(future);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn get_owned_async(&self) -> GetOwnedFuture<T, R> {
        GetOwnedFuture {
            pool: self.clone(),
            waiter: None,
        }
    }

    /// The [`max_live`](crate::Builder::max_live) cap, if the pool has one.
    ///
    /// ```
    /// let pool = hotpool::Pool::builder(String::new).max_live(8).build()?;
    /// assert_eq!(pool.max_live(), Some(8));
    /// assert_eq!(hotpool::Pool::new(String::new).max_live(), None);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn max_live(&self) -> Option<usize> {
        self.inner.limiter.as_ref().map(|limiter| limiter.max_live)
    }

    fn acquire_until(&self, timeout: Duration) -> Result<Box<T>, Timeout> {
        match self.inner.take_cached() {
            Some(obj) => Ok(obj),
            // A timeout too far away to represent waits forever.
            None => self
                .inner
                .take_slow_or_wait(Instant::now().checked_add(timeout)),
        }
    }
}

/// The future of [`Pool::get_async`]: resolves to a [`Pooled`] guard.
#[must_use = "futures do nothing unless polled"]
pub struct GetFuture<
    'a,
    T: Send + 'static,
    R: Recycler<T> + Send + Sync + 'static = crate::ResetRecycler,
> {
    pool: &'a Pool<T, R>,
    /// Set while queued at the cap.
    waiter: Option<Arc<Waiter<T>>>,
}

impl<'a, T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Future for GetFuture<'a, T, R> {
    type Output = Pooled<'a, T, R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let inner = &this.pool.inner;
        inner
            .poll_acquire(&mut this.waiter, cx.waker())
            .map(|obj| Pooled::new(inner, obj))
    }
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Drop for GetFuture<'_, T, R> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            self.pool.inner.cancel_wait(&waiter);
        }
    }
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> fmt::Debug for GetFuture<'_, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetFuture")
            .field("queued", &self.waiter.is_some())
            .finish_non_exhaustive()
    }
}

/// The future of [`Pool::get_owned_async`]: resolves to an [`OwnedPooled`] guard.
#[must_use = "futures do nothing unless polled"]
pub struct GetOwnedFuture<
    T: Send + 'static,
    R: Recycler<T> + Send + Sync + 'static = crate::ResetRecycler,
> {
    pool: Pool<T, R>,
    /// Set while queued at the cap.
    waiter: Option<Arc<Waiter<T>>>,
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Future for GetOwnedFuture<T, R> {
    type Output = OwnedPooled<T, R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let inner = &this.pool.inner;
        inner
            .poll_acquire(&mut this.waiter, cx.waker())
            .map(|obj| OwnedPooled::new(inner.new_owned_ref(inner), obj))
    }
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> Drop for GetOwnedFuture<T, R> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            self.pool.inner.cancel_wait(&waiter);
        }
    }
}

impl<T: Send + 'static, R: Recycler<T> + Send + Sync + 'static> fmt::Debug
    for GetOwnedFuture<T, R>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetOwnedFuture")
            .field("queued", &self.waiter.is_some())
            .finish_non_exhaustive()
    }
}
