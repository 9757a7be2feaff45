//! Bounds of per-thread arenas: the retained-bytes limit, the idle-arena cap, the allocation
//! limit and its error, and configuration. Each test runs on its own thread, so its
//! configuration and counters are its own.

mod support;

use hotpool::arena::{self, AllocError, ArenaConfig};
use hotpool::{ConfigError, LocalPool, Pool};
use support::Retains;
use support::{expect_panic, Tracker};

#[test]
fn an_arena_grown_past_the_retained_limit_is_freed_not_kept() {
    arena::configure(ArenaConfig {
        max_retained_bytes: 64 * 1024,
        ..ArenaConfig::default()
    })
    .unwrap();
    arena::scope(|s| {
        s.alloc_slice_copy(&[1u8; 1024]);
    });
    let small = arena::stats();
    assert_eq!((small.idle_arenas, small.dropped_oversized), (1, 0));
    arena::scope(|s| {
        s.bump()
            .alloc_layout(std::alloc::Layout::new::<[u8; 200 * 1024]>());
    });
    let spiked = arena::stats();
    assert_eq!(spiked.dropped_oversized, 1);
    assert_eq!(spiked.idle_arenas, 0);
    assert_eq!(spiked.retained_bytes, 0);
    assert!(spiked.peak_scope_bytes >= 200 * 1024);
}

#[test]
fn warm_arenas_per_thread_are_bounded() {
    arena::configure(ArenaConfig {
        max_idle_arenas: 2,
        ..ArenaConfig::default()
    })
    .unwrap();
    arena::scope(|a| {
        arena::scope(|b| {
            arena::scope(|c| {
                arena::scope(|d| {
                    for s in [a, b, c, d] {
                        s.alloc(0u8);
                    }
                })
            })
        })
    });
    let stats = arena::stats();
    assert_eq!((stats.idle_arenas, stats.dropped_surplus), (2, 2));
    assert_eq!(stats.arenas_created, 4);
}

/// The idle arenas are one stack, newest on top, however deep the scopes nest (the thread keeps
/// its top apart from the rest), and the cap and the statistics count all of it.
#[test]
fn idle_arenas_are_reused_newest_first_and_counted_whole() {
    arena::configure(ArenaConfig {
        max_idle_arenas: 2,
        ..ArenaConfig::default()
    })
    .unwrap();
    // An arena's address and the chunk capacity it keeps (one chunk: all of it).
    let used = |s: &arena::Scope<'_>| {
        s.alloc(0u8);
        (s.bump() as *const _ as usize, s.bump().allocated_bytes())
    };
    let (_, b, c) =
        arena::scope(|a| arena::scope(|b| arena::scope(|c| (used(a), used(b), used(c)))));
    // `c` ended first, then `b`; `a` found two arenas idle and was freed.
    let stats = arena::stats();
    assert_eq!((stats.arenas_created, stats.dropped_surplus), (3, 1));
    assert_eq!((stats.idle_arenas, stats.retained_bytes), (2, b.1 + c.1));
    let (x, y) = arena::scope(|x| arena::scope(|y| (used(x), used(y))));
    assert_eq!((x.0, y.0), (b.0, c.0), "newest first");
    assert_eq!(arena::scope(|z| used(z)).0, b.0);
    // Shrunk while `b` is out: `c` stays, and `b` comes back to a full stack.
    let s = arena::enter();
    assert_eq!(used(&s).0, b.0);
    arena::configure(ArenaConfig {
        max_idle_arenas: 1,
        ..ArenaConfig::default()
    })
    .unwrap();
    assert_eq!(
        (arena::stats().idle_arenas, arena::stats().retained_bytes),
        (1, c.1)
    );
    drop(s);
    let stats = arena::stats();
    assert_eq!((stats.idle_arenas, stats.dropped_surplus), (1, 2));
    assert_eq!(arena::scope(|z| used(z)).0, c.0);
    assert_eq!(arena::stats().arenas_created, 3);
}

#[test]
fn the_allocation_limit_makes_try_alloc_fail_and_alloc_panic() {
    arena::configure(ArenaConfig {
        allocation_limit: Some(4096),
        ..ArenaConfig::default()
    })
    .unwrap();
    let tracker = Tracker::new();
    arena::scope(|s| {
        let err = s.try_alloc_slice_copy(&[0u64; 1024]).unwrap_err();
        assert_eq!((err.requested(), err.limit()), (8192, Some(4096)));
        let big = [(); 10_000].map(|()| 0u8);
        assert!(s.try_alloc(big).is_err());
        assert!(s.try_alloc_str(&"x".repeat(10_000)).is_err());
        assert!(s
            .try_alloc_slice_fill_iter((0..2000).map(|_| tracker.make()))
            .is_err());
        assert_eq!(
            tracker.created(),
            0,
            "the iterator is not advanced on refusal"
        );
        // Small allocations still fit.
        assert_eq!(*s.alloc(5u32), 5);
        s.alloc(tracker.make());
    });
    tracker.assert_all_dropped_once();
    expect_panic(
        "arena allocation of 8192 bytes failed: it would exceed the arena's allocation limit of 4096 bytes",
        || arena::scope(|s| { s.alloc_slice_copy(&[0u64; 1024]); }),
    );
    assert_eq!(
        arena::stats().idle_arenas,
        1,
        "the panic did not lose the arena"
    );
}

#[test]
fn alloc_error_names_the_size_and_the_limit() {
    arena::configure(ArenaConfig {
        allocation_limit: Some(1000),
        ..ArenaConfig::default()
    })
    .unwrap();
    let err: AllocError = arena::scope(|s| s.try_alloc_slice_copy(&[0u16; 5000]).unwrap_err());
    assert_eq!(
        err.to_string(),
        "arena allocation of 10000 bytes failed: it would exceed the arena's allocation limit of 1000 bytes"
    );
}

#[test]
fn bad_configuration_is_an_error_and_changes_nothing() {
    let base = ArenaConfig::default();
    let cases = [
        (
            ArenaConfig {
                allocation_limit: Some(0),
                ..base
            },
            ConfigError::Zero {
                setting: "allocation_limit",
            },
        ),
        (
            ArenaConfig {
                max_idle_arenas: arena::MAX_IDLE_ARENAS + 1,
                ..base
            },
            ConfigError::TooLarge {
                setting: "max_idle_arenas",
                value: arena::MAX_IDLE_ARENAS + 1,
                max: arena::MAX_IDLE_ARENAS,
            },
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(arena::configure(config), Err(expected));
        assert_eq!(arena::config(), base);
    }
}

#[test]
fn configure_frees_the_idle_arenas_it_no_longer_allows() {
    arena::scope(|a| {
        a.alloc(0u8);
        arena::scope(|b| {
            b.alloc_slice_copy(&[0u8; 8 * 1024]);
        });
    });
    assert_eq!(arena::stats().idle_arenas, 2);
    let old = arena::configure(ArenaConfig {
        max_retained_bytes: 4 * 1024,
        ..ArenaConfig::default()
    })
    .unwrap();
    assert_eq!(old, ArenaConfig::default());
    assert_eq!(arena::stats().idle_arenas, 1, "the 8 KiB arena was freed");
    arena::configure(ArenaConfig {
        max_idle_arenas: 0,
        ..ArenaConfig::default()
    })
    .unwrap();
    let stats = arena::stats();
    assert_eq!((stats.idle_arenas, stats.retained_bytes), (0, 0));
}

#[test]
fn an_impossible_size_is_an_error_that_says_so() {
    // No allocation may exceed isize::MAX bytes: the size itself is refused, whatever memory
    // is free and whatever the limit.
    let max = usize::MAX;
    arena::scope(|s| {
        let err = s.try_alloc_slice_fill_copy(max, 0u8).unwrap_err();
        assert_eq!((err.requested(), err.limit()), (max, None));
        assert!(err.is_impossible_size());
        assert_eq!(
            err.to_string(),
            format!(
                "arena allocation of {max} bytes failed: the size is impossible: no allocation \
                 may exceed isize::MAX ({}) bytes",
                isize::MAX
            )
        );
        // Elements times size overflow: saturated, and still impossible.
        let err = s.try_alloc_slice_fill_copy(max / 2, 0u32).unwrap_err();
        assert_eq!(err.requested(), max);
        assert!(err.is_impossible_size());
        // Just past isize::MAX: impossible too.
        let err = s
            .try_alloc_slice_fill_copy(isize::MAX as usize + 1, 0u8)
            .unwrap_err();
        assert!(err.is_impossible_size());
    });
    expect_panic("the size is impossible", || {
        arena::scope(|s| {
            s.alloc_slice_fill_copy(max, 0u8);
        })
    });
    // Under a limit, the impossible size is still what the error says.
    arena::configure(ArenaConfig {
        allocation_limit: Some(4096),
        ..ArenaConfig::default()
    })
    .unwrap();
    arena::scope(|s| {
        let err = s.try_alloc_slice_fill_copy(max, 0u8).unwrap_err();
        assert!(err.is_impossible_size() && err.to_string().contains("impossible"));
        let err = s.try_alloc_slice_fill_copy(8192, 0u8).unwrap_err();
        assert!(!err.is_impossible_size() && err.to_string().contains("allocation limit"));
    });
}

#[test]
fn max_retained_bytes_zero_keeps_only_what_retains_no_memory_in_pools_and_arenas() {
    // Pools: an object is kept if its reset leaves it retaining at most 0 bytes.
    let pool = Pool::builder(|| Retains {
        retained: 0,
        value: 0,
    })
    .max_retained_bytes(0)
    .build()
    .unwrap();
    drop(pool.get()); // retains nothing: kept
    pool.get().retained = 1; // retains a byte: dropped
    let stats = pool.stats();
    assert_eq!((stats.returned, stats.discarded), (1, 1));
    let local = LocalPool::builder(Vec::<u8>::new)
        .max_retained_bytes(0)
        .build()
        .unwrap();
    drop(local.get());
    local.get().reserve(1);
    let stats = local.stats();
    assert_eq!((stats.returned, stats.discarded), (1, 1));

    // Arenas: the same setting is accepted and means the same: an arena is kept warm only if
    // it holds no memory when its scope ends.
    arena::configure(ArenaConfig {
        max_retained_bytes: 0,
        ..ArenaConfig::default()
    })
    .unwrap();
    arena::scope(|_| {}); // allocated nothing: kept
    let stats = arena::stats();
    assert_eq!((stats.idle_arenas, stats.retained_bytes), (1, 0));
    arena::scope(|s| {
        s.alloc(1u8);
    });
    let stats = arena::stats();
    assert_eq!((stats.idle_arenas, stats.dropped_oversized), (0, 1));
    assert_eq!(arena::config().max_retained_bytes, 0);
}
