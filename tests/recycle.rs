//! The std (and bumpalo) impls of `Recycle`: `reset` empties and keeps capacity, and
//! `retained_bytes` reports that capacity; `ResetRecycler` keeps objects up to its cap.

mod support;

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::mem::size_of;

use hotpool::recycle::DEFAULT_MAX_RETAINED_BYTES;
use hotpool::{Recycle, Recycler, ResetRecycler};
use support::Retains;

/// Resets a non-empty `value` and checks that it is empty, kept its capacity, and that
/// `retained_bytes` is `capacity * elem_size` before and after.
fn check_reset_keeps_capacity<T: Recycle>(
    mut value: T,
    len: fn(&T) -> usize,
    capacity: fn(&T) -> usize,
    elem_size: usize,
) {
    assert!(len(&value) > 0, "start from a non-empty value");
    let cap = capacity(&value);
    assert!(cap > 0);
    assert_eq!(value.retained_bytes(), cap * elem_size);
    value.reset();
    assert_eq!(len(&value), 0, "reset empties");
    assert_eq!(capacity(&value), cap, "reset keeps capacity");
    assert_eq!(value.retained_bytes(), cap * elem_size);
}

#[test]
fn vec_resets_and_keeps_capacity() {
    let mut v: Vec<u64> = Vec::with_capacity(10);
    v.extend([1, 2, 3]);
    check_reset_keeps_capacity(v, Vec::len, Vec::capacity, 8);
    assert_eq!(Vec::<u64>::new().retained_bytes(), 0);
}

#[test]
fn vec_of_zero_sized_elements_retains_nothing() {
    let mut v = vec![(); 5];
    assert_eq!(
        v.retained_bytes(),
        0,
        "capacity is usize::MAX, but no bytes"
    );
    v.reset();
    assert!(v.is_empty());
}

#[test]
fn string_resets_and_keeps_capacity() {
    let s = String::from("hello, pool");
    check_reset_keeps_capacity(s, String::len, String::capacity, 1);
}

#[test]
fn vec_deque_resets_and_keeps_capacity() {
    let mut d: VecDeque<u32> = VecDeque::with_capacity(8);
    d.extend([1, 2, 3]);
    d.push_front(0); // wrap the ring buffer
    check_reset_keeps_capacity(d, VecDeque::len, VecDeque::capacity, 4);
}

#[test]
fn binary_heap_resets_and_keeps_capacity() {
    let heap: BinaryHeap<i32> = [5, 1, 9].into_iter().collect();
    check_reset_keeps_capacity(heap.clone(), BinaryHeap::len, BinaryHeap::capacity, 4);
    let mut heap = heap;
    heap.reset();
    heap.extend([2, 7]);
    assert_eq!(heap.into_sorted_vec(), [2, 7], "usable after reset");
}

#[test]
fn hash_map_resets_and_keeps_capacity() {
    let map: HashMap<u32, u64> = (0..20).map(|i| (i, u64::from(i))).collect();
    check_reset_keeps_capacity(
        map,
        HashMap::len,
        HashMap::capacity,
        size_of::<(u32, u64)>(),
    );
}

#[test]
fn hash_set_resets_and_keeps_capacity() {
    let set: HashSet<u16> = (0..20).collect();
    check_reset_keeps_capacity(set, HashSet::len, HashSet::capacity, 2);
}

#[test]
fn b_trees_reset_and_retain_nothing() {
    let mut map: BTreeMap<u32, String> = (0..50).map(|i| (i, i.to_string())).collect();
    let mut set: BTreeSet<u32> = (0..50).collect();
    assert_eq!((map.retained_bytes(), set.retained_bytes()), (0, 0));
    map.reset();
    set.reset();
    assert!(map.is_empty() && set.is_empty());
    assert_eq!((map.retained_bytes(), set.retained_bytes()), (0, 0));
}

#[test]
fn box_resets_its_content_and_counts_itself() {
    let mut b: Box<Vec<u8>> = Box::new(Vec::with_capacity(32));
    b.extend_from_slice(b"abc");
    assert_eq!(b.retained_bytes(), size_of::<Vec<u8>>() + 32);
    b.reset();
    assert!(b.is_empty());
    assert_eq!(b.capacity(), 32);
    assert_eq!(b.retained_bytes(), size_of::<Vec<u8>>() + 32);
}

#[test]
fn box_of_a_trait_object_uses_the_dynamic_size() {
    let mut b: Box<dyn Recycle> = Box::new(Retains {
        retained: 100,
        value: 7,
    });
    assert_eq!(b.retained_bytes(), size_of::<Retains>() + 100);
    b.reset();
    assert_eq!(b.retained_bytes(), size_of::<Retains>() + 100);
}

#[test]
fn bump_reset_keeps_only_its_current_chunk() {
    let mut bump = bumpalo::Bump::new();
    assert_eq!(
        bump.retained_bytes(),
        0,
        "no chunk before the first allocation"
    );
    let n = if cfg!(miri) { 300 } else { 3000 };
    for i in 0..n {
        bump.alloc([i as u64; 4]);
    }
    let chunks = |bump: &mut bumpalo::Bump| bump.iter_allocated_chunks().count();
    assert!(chunks(&mut bump) > 1, "the test needs several chunks");
    let before = bump.retained_bytes();
    assert_eq!(before, bump.allocated_bytes());
    assert!(before >= n * 32);

    bump.reset();
    assert_eq!(chunks(&mut bump), 1, "reset frees every chunk but one");
    let kept = bump.retained_bytes();
    assert!(kept > 0 && kept < before, "kept {kept} of {before}");
    assert_eq!(kept, bump.allocated_bytes());
    assert_eq!(
        bump.iter_allocated_chunks().map(<[_]>::len).sum::<usize>(),
        0
    );

    bump.alloc(1u8); // the kept chunk is reused, not replaced
    assert_eq!(bump.retained_bytes(), kept);
}

#[test]
fn reset_recycler_keeps_up_to_its_cap_inclusive() {
    assert_eq!(
        ResetRecycler::default().max_retained_bytes(),
        DEFAULT_MAX_RETAINED_BYTES
    );
    assert_eq!(DEFAULT_MAX_RETAINED_BYTES, 1 << 20);
    let policy = ResetRecycler::new(100);
    assert_eq!(policy.max_retained_bytes(), 100);

    for (retained, keep) in [(0, true), (99, true), (100, true), (101, false)] {
        let mut value = Retains { retained, value: 9 };
        assert_eq!(policy.recycle(&mut value), keep, "retained = {retained}");
        assert_eq!(
            value.value, 0,
            "reset runs whether or not the value is kept"
        );
    }
}

#[test]
fn reset_recycler_with_real_buffers() {
    let policy = ResetRecycler::new(16);
    let mut at_cap: Vec<u8> = Vec::with_capacity(16);
    at_cap.extend_from_slice(b"data");
    assert!(policy.recycle(&mut at_cap));
    assert!(at_cap.is_empty());

    let mut above: Vec<u8> = Vec::with_capacity(17);
    above.push(1);
    assert!(!policy.recycle(&mut above));
    assert!(above.is_empty());

    assert!(!ResetRecycler::new(0).recycle(&mut String::with_capacity(1)));
    assert!(ResetRecycler::new(0).recycle(&mut String::new()));
}

#[test]
fn closures_are_recyclers() {
    fn run<T, R: Recycler<T>>(policy: &R, value: &mut T) -> bool {
        policy.recycle(value)
    }
    let keep_short = |s: &mut String| {
        s.clear();
        s.capacity() < 8
    };
    let mut short = String::from("abc");
    assert!(run(&keep_short, &mut short));
    assert!(short.is_empty());
    assert!(!run(&keep_short, &mut String::with_capacity(8)));
}

#[test]
fn os_string_and_path_buf_reset_and_keep_capacity() {
    let mut s = std::ffi::OsString::with_capacity(32);
    s.push("abc");
    check_reset_keeps_capacity(s, |s| s.len(), std::ffi::OsString::capacity, 1);
    let mut p = std::path::PathBuf::with_capacity(32);
    p.push("dir/file");
    check_reset_keeps_capacity(p, |p| p.as_os_str().len(), std::path::PathBuf::capacity, 1);
}

#[test]
fn linked_list_clears_and_retains_nothing() {
    let mut list: std::collections::LinkedList<u32> = (0..5).collect();
    list.reset();
    assert!(list.is_empty());
    assert_eq!(list.retained_bytes(), 0);
}

#[test]
fn cursor_resets_its_buffer_and_rewinds() {
    use std::io::{Cursor, Write};
    let mut c = Cursor::new(Vec::<u8>::with_capacity(64));
    c.write_all(b"hello").unwrap();
    assert_eq!(c.position(), 5);
    c.reset();
    assert_eq!((c.position(), c.get_ref().len()), (0, 0));
    assert_eq!(c.retained_bytes(), 64);
}

#[test]
fn ref_cell_resets_the_value_inside() {
    let mut cell = std::cell::RefCell::new(vec![1u16, 2, 3]);
    let cap = cell.borrow().capacity();
    cell.reset();
    assert!(cell.borrow().is_empty());
    assert_eq!(cell.retained_bytes(), cap * 2);
}

#[test]
fn arrays_and_tuples_reset_every_part() {
    let mut arr = [String::from("a"), String::with_capacity(10)];
    let retained = arr[0].capacity() + 10;
    arr.reset();
    assert!(arr.iter().all(String::is_empty));
    assert_eq!(arr.retained_bytes(), retained);
    let mut pair = (vec![1u32; 4], String::from("xyz"));
    let retained = pair.0.capacity() * 4 + pair.1.capacity();
    pair.reset();
    assert!(pair.0.is_empty() && pair.1.is_empty());
    assert_eq!(pair.retained_bytes(), retained);
    let mut four = (
        Vec::<u8>::new(),
        String::new(),
        vec![1u8],
        VecDeque::<u8>::new(),
    );
    four.reset();
    assert!(four.2.is_empty());
    let huge = (
        [usize::MAX, 1].map(|retained| Retains { retained, value: 0 }),
        Vec::<u8>::new(),
    );
    assert_eq!(huge.retained_bytes(), usize::MAX, "saturates");
}
