//! Steps the bounded-pool loom models share (`tests/loom_bounded.rs`, `tests/loom_fairness*.rs`).

use hotpool::{Pool, Recycler};
use loom::thread;

use super::{eventually, Census, Counted};

/// A loom thread that takes an object from `pool` (waiting at the cap) and gives it back.
pub fn spawn_get(pool: &Pool<Counted>) -> thread::JoinHandle<()> {
    let pool = pool.clone();
    thread::spawn(move || drop(pool.get()))
}

/// The end of a model: the cap held all along and every guard is back; after the pool drops,
/// every object is gone.
pub fn finish<R: Recycler<Counted> + Send + Sync + 'static>(
    pool: Pool<Counted, R>,
    census: &Census,
    max_live: usize,
) {
    assert!(census.most() <= max_live, "cap exceeded");
    assert_eq!(pool.stats().in_use, 0);
    drop(pool);
    eventually(|| census.alive() == 0);
}
