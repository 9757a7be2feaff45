//! Unit tests of [`Magazines`]: the idle bound, which objects each operation moves (objects are
//! boxed ids, so every test checks identity and order, not only counts), the reuse of magazine
//! buffers, and the low-water mark behind `take_unused`. Run by `cargo test --lib` and miri.

use super::{Magazine, Magazines};

/// Boxed ids `range`, as a thread cache would hold them (the top of the cache is the end).
fn objs(range: std::ops::Range<usize>) -> Magazine<usize> {
    range.map(Box::new).collect()
}

fn ids(objects: &[Box<usize>]) -> Vec<usize> {
    objects.iter().map(|b| **b).collect()
}

fn ids_of_magazines(magazines: &[Magazine<usize>]) -> Vec<Vec<usize>> {
    magazines.iter().map(|m| ids(m)).collect()
}

/// A depot holding `0..n`, put one at a time.
fn depot_with(max_idle: usize, magazine_len: usize, n: usize) -> Magazines<usize> {
    let mut depot = Magazines::new(max_idle, magazine_len);
    for obj in objs(0..n) {
        depot.put_one(obj).expect("room for it");
    }
    assert_eq!(depot.idle(), n);
    depot
}

#[test]
fn put_one_keeps_up_to_max_idle_and_gives_back_the_rest() {
    let mut depot = depot_with(3, 2, 3);
    let refused = depot.put_one(Box::new(99)).unwrap_err();
    assert_eq!(*refused, 99, "the refused object itself comes back");
    assert_eq!(depot.idle(), 3);
    assert_eq!(ids_of_magazines(&depot.take_all()), [vec![0, 1], vec![2]]);
}

#[test]
fn put_one_with_no_room_at_all_keeps_nothing() {
    let mut depot = Magazines::new(0, 4);
    assert_eq!(*depot.put_one(Box::new(7)).unwrap_err(), 7);
    assert_eq!(depot.idle(), 0);
    assert!(depot.take_all().is_empty());
}

#[test]
fn take_one_is_last_in_first_out_across_magazines() {
    let mut depot = depot_with(8, 2, 5); // magazines [0, 1] [2, 3] [4]
    let taken: Vec<usize> = std::iter::from_fn(|| depot.take_one())
        .map(|b| *b)
        .collect();
    assert_eq!(taken, [4, 3, 2, 1, 0]);
    assert_eq!(depot.idle(), 0);
    assert!(depot.take_one().is_none());
}

#[test]
fn zero_magazine_len_still_makes_one_object_magazines() {
    let mut depot = depot_with(4, 0, 2);
    assert_eq!(ids_of_magazines(&depot.take_all()), [vec![0], vec![1]]);
}

#[test]
fn refill_on_an_empty_depot_moves_nothing() {
    let mut depot = Magazines::<usize>::new(4, 2);
    let (mut objects, mut spare) = (Vec::with_capacity(4), None);
    assert!(!depot.refill(&mut objects, &mut spare));
    assert!(objects.is_empty());
    assert!(spare.is_none());
}

#[test]
fn refill_moves_the_newest_magazine_and_keeps_its_buffer_as_the_spare() {
    let mut depot = depot_with(8, 3, 5); // magazines [0, 1, 2] [3, 4]
    let (mut objects, mut spare) = (Vec::with_capacity(6), None);
    assert!(depot.refill(&mut objects, &mut spare));
    assert_eq!(ids(&objects), [3, 4]);
    assert_eq!(depot.idle(), 3);
    let spare_buffer = spare.as_ref().expect("the emptied magazine").as_ptr();
    assert!(spare.as_ref().unwrap().is_empty());

    // A thread that already has a spare leaves the emptied buffer to the depot.
    objects.clear();
    assert!(depot.refill(&mut objects, &mut spare));
    assert_eq!(ids(&objects), [0, 1, 2]);
    assert_eq!(depot.idle(), 0);
    assert_eq!(spare.as_ref().unwrap().as_ptr(), spare_buffer);
}

#[test]
fn flush_moves_the_top_of_the_cache_in_the_spare_buffer() {
    let mut depot = Magazines::new(8, 4);
    let mut objects = objs(0..6);
    let mut spare = Some(Vec::with_capacity(4));
    let buffer = spare.as_ref().unwrap().as_ptr();
    assert_eq!(depot.flush(&mut objects, 4, &mut spare), 4);
    assert_eq!(ids(&objects), [0, 1], "the bottom of the cache stays");
    assert_eq!(depot.idle(), 4);
    assert!(spare.is_none(), "no empty buffer in the depot to hand out");

    // The flushed magazine is the spare's buffer: trading allocates no new magazine.
    let (mut refilled, mut spare) = (Vec::with_capacity(8), None);
    assert!(depot.refill(&mut refilled, &mut spare));
    assert_eq!(ids(&refilled), [2, 3, 4, 5]);
    assert_eq!(spare.as_ref().unwrap().as_ptr(), buffer);
}

#[test]
fn flush_hands_out_a_spare_from_the_depot_when_it_has_one() {
    let mut depot = depot_with(8, 2, 4); // magazines [0, 1] [2, 3]
                                         // Emptying a magazine through take_one leaves its buffer in the depot: two buffers now.
    let taken: Vec<usize> = (0..4).map(|_| *depot.take_one().unwrap()).collect();
    assert_eq!(taken, [3, 2, 1, 0]);
    let mut objects = objs(10..12);
    let mut spare = None;
    // One kept buffer carries the flushed objects, the other becomes the thread's spare.
    assert_eq!(depot.flush(&mut objects, 2, &mut spare), 2);
    assert!(
        spare.is_some(),
        "the other kept buffer becomes the thread's spare"
    );
    assert!(spare.as_ref().unwrap().capacity() >= 2);
    let mut again = None;
    assert_eq!(depot.put_one(Box::new(12)), Ok(()));
    assert_eq!(depot.flush(&mut objs(13..14), 1, &mut again), 1);
    assert!(again.is_none(), "no kept buffer left");
    assert_eq!(
        ids_of_magazines(&depot.take_all()),
        [vec![10, 11], vec![12], vec![13]]
    );
}

#[test]
fn flush_stops_at_max_idle_and_leaves_the_rest_in_the_cache() {
    let mut depot = depot_with(5, 4, 3);
    let mut objects = objs(10..14);
    let mut spare = None;
    assert_eq!(depot.flush(&mut objects, 4, &mut spare), 2);
    assert_eq!(ids(&objects), [10, 11]);
    assert_eq!(depot.idle(), 5);

    // A full depot takes nothing and leaves the spare alone.
    let mut spare = Some(Vec::with_capacity(4));
    assert_eq!(depot.flush(&mut objects, 4, &mut spare), 0);
    assert_eq!(ids(&objects), [10, 11]);
    assert!(spare.is_some());
}

#[test]
fn adopt_keeps_what_fits_and_returns_the_overflow() {
    let mut depot = depot_with(5, 2, 2);
    let overflow = depot.adopt(objs(10..15));
    assert_eq!(
        ids(&overflow),
        [13, 14],
        "the top of the cache does not fit"
    );
    assert_eq!(depot.idle(), 5);
    assert_eq!(
        ids_of_magazines(&depot.take_all()),
        [vec![0, 1], vec![10, 11], vec![12]],
        "in magazines of at most `magazine_len`, bottom first"
    );
}

#[test]
fn adopt_never_makes_a_magazine_longer_than_magazine_len() {
    // A thief's haul of 7 in a pool whose caches hold 4 (magazines of 2): the audit's scenario,
    // where one magazine of 7 later overfilled a cache.
    let mut depot = Magazines::new(usize::MAX, 2);
    assert!(depot.adopt(objs(0..7)).is_empty());
    assert_eq!(depot.idle(), 7);
    assert_eq!(
        ids_of_magazines(&depot.take_all()),
        [vec![0, 1], vec![2, 3], vec![4, 5], vec![6]]
    );
}

#[test]
fn refill_moves_no_more_than_the_cache_has_room_for() {
    // Only `adopt` and `put_one` fill a depot, and neither makes a magazine longer than
    // `magazine_len`; a cache smaller than that (as after a bug) still gets only what fits.
    let mut depot = Magazines::new(usize::MAX, 8);
    assert!(depot.adopt(objs(0..6)).is_empty());
    let mut cache = Vec::with_capacity(4);
    let mut spare = None;
    assert!(depot.refill(&mut cache, &mut spare));
    assert_eq!(ids(&cache), [2, 3, 4, 5], "the top of the magazine");
    assert_eq!(cache.capacity(), 4, "the cache's limit did not grow");
    assert!(spare.is_none(), "the magazine is not empty yet");
    assert_eq!(depot.idle(), 2);
    assert_eq!(ids_of_magazines(&depot.take_all()), [vec![0, 1]]);
}

#[test]
fn adopt_into_a_full_depot_returns_everything() {
    let mut depot = depot_with(2, 2, 2);
    assert_eq!(ids(&depot.adopt(objs(10..13))), [10, 11, 12]);
    assert_eq!(depot.idle(), 2);
    assert!(depot.adopt(Vec::new()).is_empty());
    assert_eq!(depot.idle(), 2);
}

#[test]
fn take_all_empties_the_depot_and_it_refills_from_scratch() {
    let mut depot = depot_with(4, 2, 4);
    let all = depot.take_all();
    assert_eq!(ids_of_magazines(&all), [vec![0, 1], vec![2, 3]]);
    assert_eq!(depot.idle(), 0);
    assert!(depot.take_one().is_none());
    assert!(
        depot.take_unused().is_empty(),
        "nothing idle, nothing unused"
    );
    depot.put_one(Box::new(9)).expect("room again");
    assert_eq!(depot.idle(), 1);
}

#[test]
fn take_unused_first_call_only_starts_a_period() {
    let mut depot = depot_with(8, 2, 4);
    assert!(
        depot.take_unused().is_empty(),
        "no previous call: nothing is known unused"
    );
    assert_eq!(depot.idle(), 4);
    // Nothing was taken since: all four stayed idle the whole period.
    let unused = depot.take_unused();
    assert_eq!(ids_of_magazines(&unused), [vec![0, 1], vec![2, 3]]);
    assert_eq!(depot.idle(), 0);
}

#[test]
fn take_unused_takes_the_low_water_mark_oldest_first() {
    let mut depot = depot_with(8, 3, 6); // magazines [0, 1, 2] [3, 4, 5]
    assert!(depot.take_unused().is_empty());
    // Idle dips to 1 during the period, then comes back up to 4.
    let taken: Vec<_> = (0..5).map(|_| depot.take_one().unwrap()).collect();
    assert_eq!(depot.idle(), 1);
    for obj in taken {
        depot.put_one(obj).unwrap();
    }
    assert_eq!(depot.idle(), 6);
    // Only the one object that stayed idle all period goes: the oldest, 0.
    assert_eq!(ids_of_magazines(&depot.take_unused()), [vec![0]]);
    assert_eq!(depot.idle(), 5);
    // A new period started at 5: unused again in full if nothing is taken.
    let unused: usize = depot.take_unused().iter().map(Vec::len).sum();
    assert_eq!(unused, 5);
    assert_eq!(depot.idle(), 0);
}

#[test]
fn take_unused_splits_a_magazine_taking_its_bottom() {
    let mut depot = depot_with(8, 3, 6); // magazines [0, 1, 2] [3, 4, 5]
    assert!(depot.take_unused().is_empty());
    let top = depot.take_one().unwrap(); // low water 5
    depot.put_one(top).unwrap();
    assert_eq!(
        ids_of_magazines(&depot.take_unused()),
        [vec![0, 1, 2], vec![3, 4]]
    );
    assert_eq!(depot.idle(), 1);
    assert_eq!(*depot.take_one().unwrap(), 5);
}

#[test]
fn trading_through_flush_and_refill_never_exceeds_max_idle() {
    // Two threads' caches trading with one depot, in lock-step, against a count of every id.
    let mut depot = Magazines::new(5, 2);
    let mut caches = [objs(0..4), objs(4..8)];
    let mut spares: [Option<Magazine<usize>>; 2] = [None, None];
    for round in 0..20 {
        let t = round % 2;
        if round % 3 == 0 {
            let moved = depot.flush(&mut caches[t], 2, &mut spares[t]);
            assert!(moved <= 2);
        } else if caches[t].is_empty() {
            depot.refill(&mut caches[t], &mut spares[t]);
        } else if let Some(obj) = caches[t].pop() {
            // Returned to the depot directly, as with no thread tier.
            if let Err(obj) = depot.put_one(obj) {
                caches[t].push(obj);
            }
        }
        assert!(depot.idle() <= 5);
    }
    let mut all: Vec<usize> = caches.iter().flat_map(|c| ids(c)).collect();
    all.extend(depot.take_all().iter().flat_map(|m| ids(m)));
    all.sort_unstable();
    assert_eq!(all, (0..8).collect::<Vec<_>>(), "every object exactly once");
}

#[test]
fn refill_more_appends_the_newest_magazine_only_if_it_fits_below_capacity() {
    let mut depot = depot_with(8, 2, 5); // magazines [0, 1] [2, 3] [4]
    let mut objects: Vec<Box<usize>> = Vec::with_capacity(4);
    let mut spare = None;
    assert!(depot.refill(&mut objects, &mut spare));
    assert_eq!(ids(&objects), [4]);
    assert!(depot.refill_more(&mut objects), "[2, 3] fits in the 3 left");
    assert_eq!(ids(&objects), [4, 2, 3]);
    assert_eq!(
        objects.capacity(),
        4,
        "no growth: the cache's limit is its capacity"
    );
    assert_eq!(depot.idle(), 2);
    assert!(
        !depot.refill_more(&mut objects),
        "[0, 1] does not fit in the 1 left"
    );
    assert_eq!(ids(&objects), [4, 2, 3]);
    assert_eq!(depot.idle(), 2);
    objects.clear();
    assert!(depot.refill_more(&mut objects));
    assert_eq!(ids(&objects), [0, 1]);
    assert_eq!(depot.idle(), 0);
    assert!(!depot.refill_more(&mut objects), "nothing left");
    // Idle all taken: the low-water mark says so, and nothing is left to trim.
    assert!(depot.take_unused().is_empty());
}
