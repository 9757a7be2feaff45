//! A thread's cache of idle objects in one pool.

/// Idle objects of one thread, LIFO: the most recently returned (cache-warm) object goes out
/// first. Only the owning thread touches it (see `slots.rs`).
pub(crate) struct ThreadCache<T> {
    /// At most `thread_cache` objects.
    pub(crate) objects: Vec<Box<T>>,
    /// An empty magazine kept ready for the next flush to the depot, so that a flush in steady
    /// state allocates nothing.
    pub(crate) spare: Option<Vec<Box<T>>>,
    /// Whether this thread's exit hook is registered with the pool.
    pub(crate) registered: bool,
    /// This slot's in-use balance last added to the depot's estimate (for `peak_in_use`).
    pub(crate) published_balance: isize,
}

impl<T> ThreadCache<T> {
    pub(crate) fn new() -> Self {
        Self {
            objects: Vec::new(),
            spare: None,
            registered: false,
            published_balance: 0,
        }
    }
}
