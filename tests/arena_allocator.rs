//! `&Scope` as an `allocator_api2` allocator (the `allocator-api2` feature): collections live in
//! the scope's arena, drop their own elements, and obey the arena's allocation limit.
//! Run with `cargo test --features allocator-api2 --test arena_allocator`.
#![cfg(feature = "allocator-api2")]

mod support;

use allocator_api2::boxed::Box as ABox;
use allocator_api2::vec::Vec as AVec;
use hashbrown::HashMap;
use hotpool::arena;
use support::arena::limit;
use support::Tracker;

#[test]
fn a_vec_in_a_scope_drops_its_elements_when_it_drops() {
    let tracker = Tracker::new();
    arena::scope(|s| {
        let mut v = AVec::new_in(s);
        for _ in 0..100 {
            v.push(tracker.make());
        }
        v.truncate(40);
        assert_eq!(tracker.live(), 40);
        v.shrink_to_fit();
        drop(v);
        assert_eq!(
            tracker.live(),
            0,
            "dropped by the vector, before the scope ends"
        );
    });
    tracker.assert_all_dropped_once();
}

#[test]
fn collection_memory_comes_from_the_scope_arena() {
    let before = arena::stats().bytes_used_at_scope_end;
    arena::scope(|s| {
        let mut v = AVec::<u64, _>::with_capacity_in(1000, s);
        v.extend(0..1000);
        s.alloc(0u8); // newer than the vector, so its buffer is not taken back when it drops
        assert_eq!(v.iter().sum::<u64>(), 999 * 1000 / 2);
    });
    let used = arena::stats().bytes_used_at_scope_end - before;
    assert!(
        used >= 8000,
        "the vector's buffer was in the arena: {used} bytes"
    );
}

#[test]
fn the_allocation_limit_refuses_collection_growth() {
    limit(4096);
    arena::scope(|s| {
        let mut v = AVec::<u8, _>::new_in(s);
        assert!(v.try_reserve(1024).is_ok());
        assert!(
            v.try_reserve_exact(100_000).is_err(),
            "past the arena's limit"
        );
        let mut map: HashMap<u32, u32, _, _> = HashMap::new_in(s);
        assert!(map.try_reserve(100_000).is_err());
    });
}

#[test]
fn a_hashbrown_map_lives_in_a_scope() {
    let tracker = Tracker::new();
    let words = "the quick brown fox jumps over the lazy dog the end";
    arena::scope(|s| {
        let mut counts = HashMap::new_in(s);
        let mut payloads = HashMap::new_in(s);
        for (i, word) in words.split(' ').enumerate() {
            *counts.entry(word).or_insert(0u32) += 1;
            payloads.insert(i, tracker.make());
        }
        assert_eq!(counts["the"], 3);
        assert_eq!(counts.len(), 9);
        assert_eq!(tracker.live(), 11);
        payloads.remove(&0);
        assert_eq!(tracker.live(), 10);
        // Keys may borrow the scope too: the map is dropped before the scope ends.
        let mut interned = HashMap::new_in(s);
        for word in words.split(' ') {
            interned
                .entry(&*s.alloc_str(word))
                .or_insert_with(|| word.len());
        }
        assert_eq!(interned["quick"], 5);
    });
    tracker.assert_all_dropped_once();
}

#[test]
fn boxes_and_grown_or_shrunk_blocks_keep_their_contents() {
    arena::scope(|s| {
        let boxed = ABox::new_in([7u32; 16], s);
        assert_eq!(boxed.iter().sum::<u32>(), 112);
        let mut v = AVec::new_in(s);
        v.extend(0..10u32);
        let _other = ABox::new_in(1u8, s); // so that growing must move the block
        v.extend(10..1000u32);
        assert!(v.iter().copied().eq(0..1000));
        v.truncate(3);
        v.shrink_to_fit();
        assert_eq!(v, [0, 1, 2]);
        let zeroed = AVec::<u64, _>::with_capacity_in(8, s);
        assert!(zeroed.capacity() >= 8);
    });
    assert_eq!(arena::stats().idle_arenas, 1, "the arena went back warm");
}
