//! The slice-filling and layout methods of `Scope`, fill methods over any iterator, the drop
//! list's cost for empty slices, the `arena::Vec`/`arena::String` aliases and the `Display`
//! of the statistics. Each test runs on its own thread, so its counters and configuration are
//! its own.

mod support;

use std::alloc::Layout;
use std::rc::Rc;

use hotpool::arena::{self, Scope};
use hotpool::LocalPool;
use support::arena::limit;
use support::{expect_panic, Tracker};

/// Bytes the arena held when the one scope `f` runs in ended.
fn scope_bytes(f: impl FnOnce(&Scope<'_>)) -> u64 {
    let before = arena::stats().bytes_used_at_scope_end;
    arena::scope(f);
    arena::stats().bytes_used_at_scope_end - before
}

#[test]
fn fill_with_calls_f_in_index_order_and_drops_the_values_at_scope_end() {
    let tracker = Tracker::new();
    arena::scope(|s| {
        let squares = s.alloc_slice_fill_with(4, |i| i * i);
        assert_eq!(squares, &[0, 1, 4, 9]);
        let made = s.alloc_slice_fill_with(3, |i| {
            let mut t = tracker.make();
            t.data.push(i as u8);
            t
        });
        let order: Vec<u8> = made.iter().map(|t| t.data[0]).collect();
        assert_eq!(order, [0, 1, 2]);
        assert_eq!(tracker.live(), 3, "alive until the scope ends");
    });
    tracker.assert_all_dropped_once();
}

#[test]
fn a_panicking_fill_drops_the_values_already_made_once() {
    let tracker = Tracker::new();
    expect_panic("fill bomb", || {
        arena::scope(|s| {
            s.alloc_slice_fill_with(5, |i| {
                assert!(i != 3, "fill bomb");
                tracker.make()
            });
        })
    });
    assert_eq!(tracker.created(), 3);
    tracker.assert_all_dropped_once();
}

#[test]
fn fill_copy_and_fill_clone_repeat_the_value() {
    let original = Rc::new(7u32);
    arena::scope(|s| {
        assert_eq!(s.alloc_slice_fill_copy(3, 9u16), &[9, 9, 9]);
        assert_eq!(s.try_alloc_slice_fill_copy(2, 'x').unwrap(), &['x', 'x']);
        let clones = s.alloc_slice_fill_clone(4, &original);
        assert_eq!(clones.len(), 4);
        assert_eq!(Rc::strong_count(&original), 5, "four clones");
        let more = s.try_alloc_slice_fill_clone(1, &original).unwrap();
        assert_eq!(*more[0], 7);
        assert_eq!(Rc::strong_count(&original), 6);
    });
    assert_eq!(Rc::strong_count(&original), 1, "every clone dropped");
}

#[test]
fn refused_fills_report_their_size_and_clone_nothing() {
    limit(4096);
    let original = Rc::new(());
    arena::scope(|s| {
        let err = s.try_alloc_slice_fill_copy(1000, 0u64).unwrap_err();
        assert_eq!((err.requested(), err.limit()), (8000, Some(4096)));
        let err = s.try_alloc_slice_fill_with(2000, |i| i as u32).unwrap_err();
        assert_eq!(err.requested(), 8000);
        let mut called = false;
        let err = s
            .try_alloc_slice_fill_with(1000, |_| {
                called = true;
                Rc::clone(&original)
            })
            .unwrap_err();
        assert_eq!(err.requested(), 1000 * std::mem::size_of::<Rc<()>>());
        assert!(!called, "f is not called when the memory is refused");
        assert!(s.try_alloc_slice_fill_clone(1000, &original).is_err());
        assert_eq!(Rc::strong_count(&original), 1, "nothing cloned");
    });
    expect_panic("allocation limit of 4096 bytes", || {
        arena::scope(|s| {
            s.alloc_slice_fill_copy(1000, 0u64);
        })
    });
}

#[test]
fn alloc_layout_hands_out_aligned_writable_memory_counted_in_the_scope() {
    let used = scope_bytes(|s| {
        let layout = Layout::from_size_align(1000, 64).unwrap();
        let block = s.alloc_layout(layout);
        assert_eq!(block.as_ptr() as usize % 64, 0);
        let other = s.try_alloc_layout(Layout::new::<u64>()).unwrap();
        assert_ne!(block, other);
    });
    assert!(used >= 1008, "both blocks counted, got {used}");
}

#[test]
fn refused_layouts_are_errors_or_panics() {
    limit(4096);
    arena::scope(|s| {
        let err = s
            .try_alloc_layout(Layout::from_size_align(10_000, 8).unwrap())
            .unwrap_err();
        assert_eq!((err.requested(), err.limit()), (10_000, Some(4096)));
        assert!(s.try_alloc_layout(Layout::new::<[u8; 100]>()).is_ok());
    });
    expect_panic("arena allocation of 10000 bytes failed", || {
        arena::scope(|s| {
            s.alloc_layout(Layout::from_size_align(10_000, 8).unwrap());
        })
    });
}

#[test]
fn fill_iter_takes_iterators_without_an_exact_length() {
    let tracker = Tracker::new();
    arena::scope(|s| {
        let odd = s.alloc_slice_fill_iter((0..20u32).filter(|n| n % 2 == 1));
        assert_eq!(odd.len(), 10);
        assert_eq!(odd[9], 19);
        let mut n = 0;
        let counted = s.alloc_slice_fill_iter(std::iter::from_fn(|| {
            n += 1;
            (n <= 100).then_some(n)
        }));
        assert_eq!(counted.iter().sum::<i32>(), 5050);
        let tracked =
            s.alloc_slice_fill_iter((0..50).filter(|i| i % 5 == 0).map(|_| tracker.make()));
        assert_eq!(tracked.len(), 10);
        assert_eq!(tracker.live(), 10, "alive until the scope ends");
    });
    tracker.assert_all_dropped_once();
}

#[test]
fn fill_iter_trusts_the_items_not_the_reported_length() {
    /// Says it has `claimed` items, yields whatever the inner iterator yields.
    struct Liar<I>(I, usize);
    impl<I: Iterator> Iterator for Liar<I> {
        type Item = I::Item;
        fn next(&mut self) -> Option<I::Item> {
            self.0.next()
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            (self.1, Some(self.1))
        }
    }
    impl<I: Iterator> ExactSizeIterator for Liar<I> {}

    let tracker = Tracker::new();
    arena::scope(|s| {
        let fewer = s.alloc_slice_fill_iter(Liar((0..4).map(|_| tracker.make()), 9));
        assert_eq!(fewer.len(), 4);
        let more = s.alloc_slice_fill_iter(Liar((0..7).map(|_| tracker.make()), 2));
        assert_eq!(more.len(), 7);
        let plain = s.alloc_slice_fill_iter(Liar(0..6u8, 1));
        assert_eq!(plain, &[0, 1, 2, 3, 4, 5]);
    });
    assert_eq!(tracker.created(), 11);
    tracker.assert_all_dropped_once();
}

#[test]
fn an_exact_length_fill_takes_one_allocation_of_its_size() {
    let plain = scope_bytes(|s| {
        s.alloc_slice_fill_iter((0..100u64).map(|i| i * 3));
    });
    assert_eq!(plain, 800, "no regrowth, no bookkeeping");
    let tracked = scope_bytes(|s| {
        s.alloc_slice_fill_iter((0..100).map(|_| Box::new(0u8)));
    });
    let entry = tracked - 800;
    assert!(
        entry > 0 && entry <= 64,
        "one drop-list entry, got {entry} bytes"
    );
}

#[test]
fn a_refused_fill_iter_drops_what_it_collected_at_once() {
    limit(4096);
    // More values than fit in the 4096-byte limit: a `Tracked` is 48 bytes, so 86 fit. Under
    // miri 300 (10,000 took minutes there, most of it making and dropping the values).
    let n = if cfg!(miri) { 300 } else { 10_000 };
    let tracker = Tracker::new();
    arena::scope(|s| {
        let err = s
            .try_alloc_slice_fill_iter((0..n).filter(|_| true).map(|_| tracker.make()))
            .unwrap_err();
        assert_eq!(err.limit(), Some(4096));
        assert!(tracker.created() > 0);
        assert_eq!(
            tracker.live(),
            0,
            "dropped with the error, not at scope end"
        );
        assert!(s.try_alloc_slice_fill_iter(0..10_000u32).is_err());
    });
    tracker.assert_all_dropped_once();
}

#[test]
fn empty_slices_of_types_with_destructors_take_no_drop_list_entry() {
    let none: [String; 0] = [];
    let used = scope_bytes(|s| {
        for _ in 0..if cfg!(miri) { 50 } else { 1000 } {
            s.alloc_slice_clone(&none);
            s.try_alloc_slice_clone(&none).unwrap();
            s.alloc_slice_fill_with(0, |_| String::new());
            s.alloc_slice_fill_clone(0, &String::from("x"));
            s.alloc_slice_fill_iter(std::iter::empty::<String>());
            s.alloc_slice_fill_iter((0..10).filter(|_| false).map(|_| String::new()));
        }
    });
    assert_eq!(used, 0, "no memory for empty slices");
    // A non-empty one still registers its destructors.
    let tracker = Tracker::new();
    arena::scope(|s| {
        s.alloc_slice_fill_with(0, |_| tracker.make());
        s.alloc_slice_fill_with(1, |_| tracker.make());
    });
    assert_eq!(tracker.created(), 1);
    tracker.assert_all_dropped_once();
}

#[test]
fn the_vec_and_string_aliases_are_the_scope_collections() {
    fn collect<'s>(s: &'s Scope<'_>, words: &str) -> (arena::Vec<'s, u32>, arena::String<'s>) {
        let mut lengths: arena::Vec<'s, u32> = s.vec();
        let mut joined: arena::String<'s> = s.string();
        for w in words.split(' ') {
            lengths.push(w.len() as u32);
            joined.push_str(w);
        }
        (lengths, joined)
    }
    arena::scope(|s| {
        let (lengths, joined) = collect(s, "ab c def");
        assert_eq!(lengths, [2, 1, 3]);
        assert_eq!(joined, "abcdef");
        let bump: &hotpool::bumpalo::Bump = lengths.bump();
        assert!(std::ptr::eq(bump, s.bump()), "allocated in the scope");
    });
}

#[test]
fn arena_stats_display_reads_the_counters() {
    arena::scope(|s| {
        s.alloc_slice_fill_copy(100, 0u8);
    });
    arena::scope(|_| {});
    let line = arena::stats().to_string();
    assert!(
        line.starts_with("2 scopes used 100 B at scope end (peak 100 B); 1 arena created, "),
        "{line}"
    );
    // The retained capacity is bumpalo's chunk size: checked as a number, not a literal.
    let (head, tail) = line.split_once("; 1 idle arena retaining ").expect(&line);
    assert!(
        head.ends_with("0 dropped oversized, 0 dropped surplus"),
        "{line}"
    );
    assert!(tail.ends_with(" B; 1 live thread"), "{line}");
    let mut big = arena::ArenaStats::default();
    big.bytes_used_at_scope_end = 3 << 30;
    big.retained_bytes = 1536 * 1024;
    let line = big.to_string();
    assert!(line.contains("used 3.0 GiB"), "{line}");
    assert!(line.contains("retaining 1.5 MiB"), "{line}");
}

#[test]
fn pool_stats_display_lists_every_counter() {
    let pool = LocalPool::new(Vec::<u8>::new);
    let kept = pool.get();
    drop(pool.get());
    let _reused = pool.get();
    drop(kept);
    assert_eq!(
        pool.stats().to_string(),
        "2 created, 1 reused, 2 returned, 0 discarded, 0 detached; 1 idle, 1 in use (peak 2)"
    );
}
