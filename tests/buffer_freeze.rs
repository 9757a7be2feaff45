//! `OwnedBuffer::freeze` (feature `bytes`): the `Bytes` points at the buffer's memory (no copy),
//! the buffer counts as in use while any clone or slice of it lives, and goes back to its class,
//! cleared, when the last one drops (on whichever thread), to be reused by the next request of
//! that class. Oversized buffers are freed as usual.
#![cfg(feature = "bytes")]

use bytes::Bytes;
use hotpool::BufferPool;

fn pool() -> BufferPool {
    BufferPool::builder().max_size(4096).build().unwrap()
}

#[test]
fn the_bytes_are_the_buffers_memory() {
    let pool = pool();
    let mut buf = pool.get_owned(1500);
    buf.extend_from_slice(b"hello, wire");
    let (data, cap) = (buf.as_ptr(), buf.capacity());
    let bytes = buf.freeze();
    assert_eq!(bytes.as_ptr(), data, "no copy");
    assert_eq!(&bytes[..], b"hello, wire");
    assert_eq!(cap, 2048);
    let slice = bytes.slice(7..);
    assert_eq!(slice.as_ptr(), data.wrapping_add(7));
    assert_eq!(&slice[..], b"wire");
}

#[test]
fn the_buffer_returns_when_the_last_clone_or_slice_drops_and_is_reused() {
    let pool = pool();
    let mut buf = pool.get_owned(1000);
    buf.extend_from_slice(&[42; 1000]);
    let data = buf.as_ptr();
    let bytes = buf.freeze();
    let clone = bytes.clone();
    let slice = bytes.slice(10..20);
    let slice_of_clone = clone.slice(500..);
    for (drop_next, in_use) in [(bytes, 1), (clone, 1), (slice, 1), (slice_of_clone, 0)] {
        drop(drop_next);
        let s = pool.stats();
        assert_eq!((s.in_use, s.idle), (in_use, 1 - in_use));
    }
    let s = pool.stats();
    assert_eq!((s.created, s.reused, s.discarded), (1, 0, 0));
    assert_eq!((s.classes[4].size, s.classes[4].idle), (1024, 1));

    let again = pool.get_owned(1000);
    assert_eq!(again.as_ptr(), data, "the same buffer");
    assert!(again.is_empty(), "cleared as usual");
    let s = pool.stats();
    assert_eq!((s.created, s.reused, s.in_use), (1, 1, 1));
}

#[test]
fn every_frozen_buffer_comes_back() {
    let pool = pool();
    let rounds = 100;
    for i in 0..rounds {
        let mut buf = pool.get_owned(3000);
        buf.extend_from_slice(format!("message {i}").as_bytes());
        let bytes: Bytes = buf.freeze();
        let held: Vec<Bytes> = (0..3).map(|k| bytes.slice(k..)).collect();
        drop(bytes);
        assert_eq!(pool.stats().in_use, 1);
        drop(held);
    }
    let s = pool.stats();
    assert_eq!((s.created, s.reused), (1, rounds - 1), "one buffer, reused");
    assert_eq!((s.in_use, s.idle, s.discarded, s.detached), (0, 1, 0, 0));
}

#[test]
fn a_frozen_buffer_may_drop_on_another_thread() {
    let pool = pool();
    let mut buf = pool.get_owned(64);
    buf.extend_from_slice(b"sent");
    let bytes = buf.freeze();
    let sent = bytes.clone();
    drop(bytes);
    std::thread::spawn(move || assert_eq!(&sent[..], b"sent"))
        .join()
        .unwrap();
    let s = pool.stats();
    assert_eq!((s.in_use, s.created), (0, 1));
    assert_eq!(
        s.idle + s.discarded as usize,
        1,
        "kept or freed at the thread's exit"
    );
}

#[test]
fn the_pool_may_go_first() {
    let pool = pool();
    let handle = pool.clone();
    let mut buf = pool.get_owned(100);
    buf.extend_from_slice(b"outlives");
    let bytes = buf.freeze();
    drop(pool);
    assert_eq!(&bytes[..], b"outlives");
    drop(bytes);
    assert_eq!(handle.stats().idle, 1);
}

#[test]
fn an_oversized_or_empty_buffer_freezes_too() {
    let pool = pool();
    let mut big = pool.get_owned(10_000);
    big.resize(10_000, 1);
    let data = big.as_ptr();
    let bytes = big.freeze();
    assert_eq!((bytes.as_ptr(), bytes.len()), (data, 10_000));
    drop(bytes);
    let s = pool.stats();
    assert_eq!((s.oversized, s.discarded, s.in_use, s.idle), (1, 1, 0, 0));

    let empty = pool.get_owned(0).freeze();
    assert!(empty.is_empty());
    drop(empty);
    assert_eq!(pool.stats().idle, 1);
}
