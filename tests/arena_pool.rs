//! Arenas that cross threads: a `Pool<Bump>` with owned guards. A request's arena is taken on
//! one thread, moved to another, allocated in there and dropped there; it comes back to the pool
//! rewound.

use std::sync::mpsc;
use std::sync::Arc;

use bumpalo::Bump;
use hotpool::{OwnedPooled, Pool};

#[test]
fn a_request_arena_is_filled_and_returned_on_another_thread() {
    // No thread tier: the arena goes straight back to the shared depot, so the next `get` on
    // this thread finds it there.
    let pool = Arc::new(Pool::builder(Bump::new).thread_cache(0).build().unwrap());
    let arena: OwnedPooled<Bump> = pool.get_owned();
    arena.alloc_str("parsed on the acceptor thread");
    let sum = std::thread::spawn(move || {
        let xs = arena.alloc_slice_fill_iter((1..101u32).map(u64::from));
        let sum: u64 = xs.iter().sum();
        drop(arena); // on the worker: reset and back in the pool
        sum
    })
    .join()
    .unwrap();
    assert_eq!(sum, 5050);
    let stats = pool.stats();
    assert_eq!((stats.created, stats.returned, stats.in_use), (1, 1, 0));

    let mut again = pool.get_owned();
    assert_eq!(pool.stats().reused, 1);
    // Rewound: the memory is kept, nothing of the previous request is allocated.
    assert!(again.allocated_bytes() > 0);
    assert_eq!(
        again.iter_allocated_chunks().map(<[_]>::len).sum::<usize>(),
        0
    );
}

#[test]
fn requests_moving_through_a_pipeline_reuse_arenas() {
    const REQUESTS: u64 = if cfg!(miri) { 16 } else { 1000 };
    // Returns land in the worker's thread cache; a small cache hands them on to the shared depot
    // in batches early, where the acceptor thread finds them.
    let pool = Arc::new(Pool::builder(Bump::new).thread_cache(2).build().unwrap());
    let (tx, rx) = mpsc::sync_channel::<(u64, OwnedPooled<Bump>)>(4);
    let worker = std::thread::spawn(move || {
        let mut total = 0;
        for (id, arena) in rx {
            let words = arena.alloc_slice_fill_iter((0..16u32).map(|i| id * u64::from(i)));
            total += words.iter().sum::<u64>();
        } // each guard drops here, on the worker thread
        total
    });
    for id in 0..REQUESTS {
        let arena = pool.get_owned();
        arena.alloc(id); // started on this thread
        tx.send((id, arena)).unwrap();
    }
    drop(tx);
    let total = worker.join().unwrap();
    assert_eq!(total, (0..REQUESTS).map(|id| id * 120).sum::<u64>());
    let stats = pool.stats();
    assert_eq!(stats.in_use, 0);
    assert!(
        stats.created < REQUESTS,
        "arenas were reused across threads: {stats:?}"
    );
}
