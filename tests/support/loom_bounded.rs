//! Steps the bounded-pool loom models share (`tests/loom_bounded.rs`, `tests/loom_fairness*.rs`,
//! `tests/loom_budget.rs`).

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

/// Explores `f` as `loom::model` does (LOOM_MAX_PREEMPTIONS and the other settings from the
/// environment), allowing up to 10,000 branches per execution instead of loom's default 1,000:
/// for models whose executions go through many loom operations without spinning (a budget's
/// class pools; a bounded pool's depot paths, which also hand the lanes their turn and read
/// their lengths). The count stays bounded, so an execution that would spin forever still
/// fails.
pub fn model_with_more_branches(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = builder.max_branches.max(10_000);
    builder.check(f);
}
