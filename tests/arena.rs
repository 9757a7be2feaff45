//! Behaviour of per-thread arenas: destructors, nesting, statistics (bounds: `arena_bounds.rs`).
//! Every test counts drops (through `support::Tracker`) or reads the arena counters; the
//! counters are per thread and each test runs on its own thread, so tests cannot disturb one
//! another.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use hotpool::arena::{self, Scope};
use support::child::{run_in_child, stderr};
use support::{expect_panic, Tracker, DROP_PANIC};

/// A value whose drop appends its id to a log, to check drop order.
struct Logged<'a>(u32, &'a RefCell<Vec<u32>>);

impl Drop for Logged<'_> {
    fn drop(&mut self) {
        self.1.borrow_mut().push(self.0);
    }
}

/// Bytes the arena handed out to the one scope `f` runs in.
fn scope_bytes(f: impl FnOnce(&Scope<'_>)) -> u64 {
    let before = arena::stats().bytes_used_at_scope_end;
    arena::scope(f);
    arena::stats().bytes_used_at_scope_end - before
}

#[test]
fn values_with_destructors_drop_at_scope_end_newest_first() {
    let log = RefCell::new(Vec::new());
    arena::scope(|s| {
        s.alloc(Logged(1, &log));
        s.alloc_with(|| Logged(2, &log));
        s.alloc_slice_fill_iter([3, 4].map(|i| Logged(i, &log)));
        assert!(
            log.borrow().is_empty(),
            "nothing drops before the scope ends"
        );
    });
    // Newest allocation first; a slice drops its elements front to back.
    assert_eq!(*log.borrow(), [3, 4, 2, 1]);
}

#[test]
fn every_allocating_method_drops_what_it_made_exactly_once() {
    let tracker = Tracker::new();
    let originals = [Rc::new(()), Rc::new(())];
    arena::scope(|s| {
        s.alloc(tracker.make());
        s.try_alloc(tracker.make()).unwrap();
        s.alloc_with(|| tracker.make());
        s.try_alloc_with(|| tracker.make()).unwrap();
        s.alloc_slice_clone(&originals);
        s.alloc_slice_fill_iter((0..3).map(|_| tracker.make()));
        let mut v = s.vec();
        v.push(tracker.make()); // a bumpalo Vec drops its own elements
        assert_eq!(tracker.live(), 8);
        assert_eq!(Rc::strong_count(&originals[0]), 2, "cloned once");
    });
    tracker.assert_all_dropped_once();
    assert_eq!(Rc::strong_count(&originals[0]), 1, "the clone was dropped");
}

#[test]
fn values_without_drop_glue_cost_no_drop_list_entry() {
    let plain = scope_bytes(|s| {
        for i in 0..10u64 {
            s.alloc(i);
        }
    });
    assert_eq!(plain, 80, "exactly the values, no bookkeeping");
    let tracked = scope_bytes(|s| {
        for _ in 0..10 {
            s.alloc(Box::new(0u64));
        }
    });
    assert!(
        tracked > 80,
        "values with destructors carry an entry each: {tracked}"
    );
}

#[test]
fn a_panicking_destructor_does_not_stop_the_others_nor_the_rewind() {
    let tracker = Tracker::new();
    let created_before = arena::stats().arenas_created;
    expect_panic(DROP_PANIC, || {
        arena::scope(|s| {
            s.alloc(tracker.make());
            s.alloc(tracker.make()).panic_on_drop = true;
            s.alloc(tracker.make());
        })
    });
    tracker.assert_all_dropped_once();
    let stats = arena::stats();
    assert_eq!(stats.idle_arenas, 1, "the arena went back to the thread");
    arena::scope(|s| {
        s.alloc(1u8);
    });
    assert_eq!(
        arena::stats().arenas_created,
        created_before + 1,
        "and is reused"
    );
}

#[test]
fn a_panic_in_the_scope_drops_its_values_and_keeps_the_arena() {
    let tracker = Tracker::new();
    expect_panic("body panicked", || {
        arena::scope(|s| {
            s.alloc(tracker.make());
            s.alloc(tracker.make()).panic_on_drop = true; // a second panic while unwinding
            panic!("body panicked");
        })
    });
    tracker.assert_all_dropped_once();
    assert_eq!(arena::stats().idle_arenas, 1);
}

#[test]
fn a_panicking_clone_or_iterator_drops_the_items_already_made() {
    #[derive(Debug)]
    struct CloneBomb(Box<u32>);
    impl Clone for CloneBomb {
        fn clone(&self) -> Self {
            assert!(*self.0 != 3, "clone bomb");
            CloneBomb(self.0.clone())
        }
    }
    let src: Vec<CloneBomb> = (1..=4).map(|i| CloneBomb(Box::new(i))).collect();
    expect_panic("clone bomb", || {
        arena::scope(|s| {
            s.alloc_slice_clone(&src);
        })
    });

    let tracker = Tracker::new();
    expect_panic("iterator bomb", || {
        arena::scope(|s| {
            s.alloc_slice_fill_iter((0..4).map(|i| {
                assert!(i != 3, "iterator bomb");
                tracker.make()
            }));
        })
    });
    assert_eq!(tracker.created(), 3);
    tracker.assert_all_dropped_once();
}

#[test]
fn zero_sized_values_with_destructors_are_dropped() {
    let tracker = Tracker::new();
    struct Unit<'a>(&'a Arc<Tracker>);
    impl Drop for Unit<'_> {
        fn drop(&mut self) {
            drop(self.0.make()); // counted as made and dropped
        }
    }
    arena::scope(|s| {
        s.alloc(Unit(&tracker));
        s.alloc_slice_fill_iter((0..3).map(|_| Unit(&tracker)));
    });
    assert_eq!(tracker.created(), 4);
}

#[test]
fn an_inner_scope_rewinds_without_touching_the_outer_one() {
    let before = arena::stats();
    arena::scope(|outer| {
        let kept = outer.alloc_slice_copy(&[7u64; 64]);
        let text = outer.alloc_str("outer");
        for round in 0..10u64 {
            arena::scope(|inner| {
                let scratch =
                    inner.alloc_slice_fill_iter((0..512u32).map(|i| u64::from(i) ^ round));
                assert_eq!(scratch[1], 1 ^ round);
                let nested_ptr = scratch.as_ptr() as usize;
                let outer_ptr = kept.as_ptr() as usize;
                assert!(nested_ptr.abs_diff(outer_ptr) >= 64 * 8, "different memory");
            });
            assert_eq!(*kept, [7u64; 64]);
            assert_eq!(text, "outer");
        }
    });
    let after = arena::stats();
    assert_eq!(after.scopes_entered - before.scopes_entered, 11);
    assert_eq!(
        after.arenas_created - before.arenas_created,
        2,
        "one per level, reused"
    );
}

#[test]
fn the_enter_guard_ends_the_scope_when_dropped() {
    let tracker = Tracker::new();
    let s = arena::enter();
    s.alloc(tracker.make());
    assert_eq!(tracker.live(), 1);
    drop(s);
    assert_eq!(tracker.live(), 0);
}

#[test]
fn vec_string_and_bump_allocate_in_the_scope() {
    let used = scope_bytes(|s| {
        let mut v = s.vec::<u32>();
        v.extend(0..100);
        let mut line = s.string();
        line.push_str("hello");
        let raw = s.bump().alloc(5u8);
        assert_eq!((v.len(), line.as_str(), *raw), (100, "hello", 5));
    });
    assert!(used > 400 + 5, "{used}");
}

#[test]
fn stats_count_scopes_bytes_and_retained_capacity() {
    let before = arena::stats();
    let fresh = (
        before.scopes_entered,
        before.arenas_created,
        before.live_threads,
    );
    assert_eq!(
        fresh,
        (0, 0, 0),
        "a fresh thread, not counted until it uses an arena"
    );
    for _ in 0..3 {
        arena::scope(|s| {
            s.alloc_slice_copy(&[0u8; 100]);
        });
    }
    let after = arena::stats();
    assert_eq!(after.scopes_entered, 3);
    assert_eq!(after.bytes_used_at_scope_end, 300);
    assert_eq!(after.peak_scope_bytes, 100);
    assert_eq!(after.arenas_created, 1);
    assert_eq!((after.idle_arenas, after.live_threads), (1, 1));
    assert!(after.retained_bytes >= 100);
}

#[test]
fn global_stats_include_threads_that_exited() {
    let before = arena::global_stats();
    std::thread::spawn(|| {
        for _ in 0..5 {
            arena::scope(|s| {
                s.alloc_slice_copy(&[0u8; 64]);
            });
        }
        assert_eq!(arena::stats().idle_arenas, 1);
    })
    .join()
    .unwrap();
    let after = arena::global_stats();
    // Other tests run at the same time, so only lower bounds hold.
    assert!(after.scopes_entered >= before.scopes_entered + 5);
    assert!(after.bytes_used_at_scope_end >= before.bytes_used_at_scope_end + 5 * 64);
    assert!(after.arenas_created > before.arenas_created);
}

#[test]
fn scopes_work_during_thread_teardown() {
    // A user thread-local whose destructor uses an arena: depending on destruction order it gets
    // a warm arena or a fresh unpooled one; either way it works and nothing leaks (miri checks).
    struct UsesArenaOnDrop;
    impl Drop for UsesArenaOnDrop {
        fn drop(&mut self) {
            let tracker = Tracker::new();
            arena::scope(|s| {
                s.alloc(tracker.make());
                s.alloc_slice_copy(&[1u8; 32]);
            });
            tracker.assert_all_dropped_once();
        }
    }
    thread_local!(static LATE: RefCell<Option<UsesArenaOnDrop>> = const { RefCell::new(None) });
    std::thread::spawn(|| {
        LATE.with(|late| *late.borrow_mut() = Some(UsesArenaOnDrop));
        arena::scope(|s| {
            s.alloc(1u8);
        });
    })
    .join()
    .unwrap();
}

#[test]
#[cfg_attr(miri, ignore = "miri cannot run a child process")]
fn reading_stats_or_config_creates_no_thread_state() {
    // In a child process where this is the only test: the global count of arena threads is
    // then this test's alone.
    let name = "reading_stats_or_config_creates_no_thread_state";
    let Some(output) = run_in_child(name, || {
        let live = || arena::global_stats().live_threads;
        let before = live();
        let (stats, config, during) = std::thread::spawn(move || {
            let stats = arena::stats();
            let config = arena::config();
            (stats, config, live())
        })
        .join()
        .unwrap();
        assert_eq!(during, before, "stats() and config() registered the thread");
        assert_eq!(stats, arena::ArenaStats::default());
        assert_eq!(config, arena::default_config());
        assert_eq!(hotpool::report().arenas.live_threads, before);
        // Using an arena does create it.
        let during_use = std::thread::spawn(move || {
            arena::scope(|_| {});
            (live(), arena::stats().live_threads)
        })
        .join()
        .unwrap();
        assert_eq!(during_use, (before + 1, 1));
        println!("child: checks ran");
    }) else {
        return;
    };
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("child: checks ran"));
}
