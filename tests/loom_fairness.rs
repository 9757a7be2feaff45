//! loom models of a bounded pool's eventual fairness (`pool/limiter.rs`): an object that comes
//! back stays idle and the first waiter is notified to come and take it, racing callers that did
//! not wait; the caches stay closed a while after the last wait. Every test is named after the
//! race it checks. Run with `ci/loom.sh`.
//!
//! loom's clock stands still (`sync::now`): with the default `fair_after`, a thread waiter is never
//! overdue and closed caches never reopen, so these models see only notifications; the strict
//! order (`fair_after(Duration::ZERO)`) is modelled in `loom_bounded.rs`
//! (`hit_path_racing_a_thief_while_caches_reopen`). A lost wake-up shows as a deadlock, which
//! loom reports.
#![cfg(hotpool_loom)]

mod support;

use loom::thread;
use support::loom_bounded::{finish, spawn_get};
use support::pool::bounded_cached;
use support::Census;

#[test]
fn notified_waiter_racing_a_caller_that_did_not_wait() {
    // The holder gives its object back and takes it again at once: the waiter, notified, may
    // find nothing and queue again; it must be notified again when the object comes back.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 2, 1);
        let held = pool.get();
        let waiter = spawn_get(&pool);
        drop(held);
        drop(pool.get()); // overtakes the waiter or waits behind it
        waiter.join().unwrap();
        finish(pool, &census, 1);
    });
}

#[test]
fn notified_waiter_that_times_out_passes_the_notice_on() {
    // Two waiters; the first may be notified and then give up (loom: its deadline fires at
    // every park). The object it was notified of must not be left idle with the second asleep.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 2, 1);
        let held = pool.get_owned();
        let timed = {
            let pool = pool.clone();
            thread::spawn(move || {
                let _ = pool.get_timeout(std::time::Duration::from_secs(1));
            })
        };
        let patient = spawn_get(&pool);
        drop(held);
        timed.join().unwrap();
        patient.join().unwrap(); // a notice lost with the timed waiter deadlocks here
        finish(pool, &census, 1);
    });
}

#[test]
fn return_while_caches_stay_closed_with_nobody_waiting() {
    // After the wait, the caches stay closed: the waiter's return goes to the depot, not to its
    // cache, where a later caller on another thread finds it without waiting.
    loom::model(|| {
        let census = Census::new();
        let pool = bounded_cached(&census, 2, 1);
        let held = pool.get();
        let waiter = spawn_get(&pool);
        drop(held);
        waiter.join().unwrap();
        assert!(
            pool.try_get().is_some(),
            "the object is idle where every thread finds it"
        );
        finish(pool, &census, 1);
    });
}
