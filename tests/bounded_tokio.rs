//! Bounded pools (`max_live`) under a real async runtime: many more tokio tasks than objects all
//! finish, the cap holds (counted by the objects themselves, see `support::Census`), waits that are
//! cancelled (timeouts, `select!`) lose no object and no place, and a waiting task never blocks
//! its worker thread.
//!
//! Not under miri: a tokio runtime drives its I/O and timer driver through epoll, which miri
//! emulates only in part, and hundreds of tasks on worker threads would take hours interpreted.
//! tests/bounded_futures.rs polls the same futures by hand, and miri runs that.
//!
//! No timing is asserted; every test ends within a generous `timeout` rather than hanging when an
//! object or a place is lost.
#![cfg(not(miri))]

mod support;

use std::time::Duration;

use hotpool::{OwnedPooled, Pool};
use support::pool::bounded;
use support::tasks::{join_all, HUNG};
use support::{Census, Counted};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

/// Takes every place of `pool` at once (`max_live` objects held together), which only works if no
/// object and no place was lost; then checks that nothing more is available.
async fn take_every_place(pool: &Pool<Counted>, max_live: usize) {
    let mut all = Vec::new();
    for _ in 0..max_live {
        let held = timeout(HUNG, pool.get_owned_async()).await;
        all.push(held.expect("an object or a place was lost"));
    }
    assert!(pool.try_get().is_none(), "more than max_live objects");
    drop(all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_more_tasks_than_objects_all_finish_and_the_cap_holds() {
    const TASKS: usize = 200;
    const ROUNDS: usize = 5;
    let max_live = 4;
    let census = Census::new();
    let pool = bounded(&census, max_live);
    let mut tasks = JoinSet::new();
    for t in 0..TASKS {
        let pool = pool.clone();
        tasks.spawn(async move {
            for round in 0..ROUNDS {
                // Borrowed and owned guards, held across an await point.
                if (t + round) % 2 == 0 {
                    let mut held = pool.get_async().await;
                    held.data.push(1);
                    tokio::task::yield_now().await;
                } else {
                    let mut held: OwnedPooled<Counted> = pool.get_owned_async().await;
                    held.data.push(2);
                    sleep(Duration::from_micros(100)).await;
                }
            }
        });
    }
    join_all(tasks, "the tasks hung").await;
    assert!(census.most() <= max_live, "{} alive at once", census.most());
    let stats = pool.stats();
    assert_eq!(stats.in_use, 0, "{stats}");
    assert!(stats.created as usize <= max_live, "{stats}");
    assert_eq!(stats.created as usize, census.made());
    // Tasks hold their objects across awaits, so the first `max_live` of them fill the pool and
    // the others queue.
    assert!(stats.waits > 0, "{stats}");
    take_every_place(&pool, max_live).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_guards_returned_by_other_tasks_serve_the_waiters() {
    let max_live = 2;
    let census = Census::new();
    let pool = bounded(&census, max_live);
    let (send, mut receive) = mpsc::channel::<OwnedPooled<Counted>>(1);
    // The consumer drops what the producers took, on whichever worker it runs.
    let consumer = tokio::spawn(async move {
        let mut count = 0;
        while let Some(held) = receive.recv().await {
            tokio::task::yield_now().await;
            drop(held);
            count += 1;
        }
        count
    });
    let mut producers = JoinSet::new();
    for _ in 0..20 {
        let (pool, send) = (pool.clone(), send.clone());
        producers.spawn(async move {
            for _ in 0..20 {
                let held = pool.get_owned_async().await;
                send.send(held).await.expect("the consumer is alive");
            }
        });
    }
    drop(send);
    join_all(producers, "the tasks hung").await;
    assert_eq!(timeout(HUNG, consumer).await.unwrap().unwrap(), 400);
    assert!(census.most() <= max_live);
    assert_eq!(pool.stats().in_use, 0);
    take_every_place(&pool, max_live).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_waits_lose_no_object_and_no_place() {
    const TASKS: usize = 64;
    const ROUNDS: usize = 40;
    let max_live = 4;
    let census = Census::new();
    let pool = bounded(&census, max_live);
    let mut tasks = JoinSet::new();
    for t in 0..TASKS {
        let pool = pool.clone();
        tasks.spawn(async move {
            for round in 0..ROUNDS {
                match (t + round) % 5 {
                    // Timeouts so short that most expire while the future waits, some after it
                    // was handed an object or a place and before it took it.
                    0 => {
                        if let Ok(mut held) = timeout(Duration::ZERO, pool.get_async()).await {
                            held.data.push(0);
                        }
                    }
                    1 => {
                        let wait = Duration::from_micros(1 + (round as u64 % 50));
                        if let Ok(held) = timeout(wait, pool.get_owned_async()).await {
                            tokio::task::yield_now().await;
                            drop(held);
                        }
                    }
                    // Two waits raced in one task: the loser is dropped, whatever state it is in.
                    2 => {
                        tokio::select! {
                            mut held = pool.get_async() => held.data.push(2),
                            held = pool.get_owned_async() => drop(held),
                        }
                    }
                    // A wait raced against a timer.
                    3 => {
                        tokio::select! {
                            held = pool.get_owned_async() => {
                                tokio::task::yield_now().await;
                                drop(held);
                            }
                            () = sleep(Duration::from_micros(20)) => {}
                        }
                    }
                    // Plain waits, holding across an await.
                    _ => {
                        let mut held = pool.get_async().await;
                        held.data.push(4);
                        tokio::task::yield_now().await;
                    }
                }
            }
        });
    }
    join_all(tasks, "the tasks hung").await;
    assert!(census.most() <= max_live, "{} alive at once", census.most());
    let stats = pool.stats();
    assert_eq!(stats.in_use, 0, "{stats}");
    assert!(stats.created as usize <= max_live, "{stats}");
    // Every object and place is still there: a final round holds `max_live` objects at once.
    take_every_place(&pool, max_live).await;
    assert!(census.made() <= max_live);
}

#[tokio::test(flavor = "current_thread")]
async fn a_waiting_task_does_not_block_its_thread() {
    // One thread runs both tasks: if the wait blocked it, the holder could never give its
    // object back.
    let census = Census::new();
    let pool = bounded(&census, 1);
    let held = pool.get_owned();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get_owned_async().await.data.len() }
    });
    let holder = tokio::spawn(async move {
        sleep(Duration::from_millis(1)).await;
        drop(held);
    });
    assert_eq!(timeout(HUNG, waiter).await.unwrap().unwrap(), 0);
    holder.await.unwrap();
    assert_eq!(pool.stats().waits, 1);
    assert_eq!(census.made(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_threads_and_tasks_share_the_cap() {
    let max_live = 2;
    let census = Census::new();
    let pool = bounded(&census, max_live);
    let mut tasks = JoinSet::new();
    for _ in 0..16 {
        let pool = pool.clone();
        tasks.spawn(async move {
            for _ in 0..50 {
                let held = pool.get_async().await;
                tokio::task::yield_now().await;
                drop(held);
            }
        });
    }
    // Blocking `get`s from threads outside the runtime, in the same queue as the tasks.
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    pool.get().data.push(1);
                }
            })
        })
        .collect();
    join_all(tasks, "the tasks hung").await;
    for t in threads {
        tokio::task::spawn_blocking(move || t.join().expect("a thread panicked"))
            .await
            .unwrap();
    }
    assert!(census.most() <= max_live);
    assert_eq!(pool.stats().in_use, 0);
    take_every_place(&pool, max_live).await;
}
