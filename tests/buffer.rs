//! `BufferPool` behaviour: classes, LIFO reuse, buffers that change class in use, oversized
//! requests, the idle-bytes cap, trims, thread exit, owned guards, the guards' traits, `read`
//! helpers and configuration errors.

use std::io::{self, Read, Write};

use hotpool::buffer::{DEFAULT_MAX_IDLE_BYTES, DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE};
use hotpool::{Buffer, BufferPool, BufferStats, ConfigError, OwnedBuffer};

fn small_pool() -> BufferPool {
    // Classes 64, 128, ..., 4096.
    BufferPool::builder()
        .max_size(4096)
        .max_idle_bytes(64 * 1024)
        .build()
        .unwrap()
}

/// At rest every buffer is idle, in use, or ended exactly once.
fn assert_balanced(s: &BufferStats) {
    assert_eq!(
        s.created - s.discarded - s.detached,
        (s.idle + s.in_use) as u64,
        "{s:?}"
    );
    assert_eq!(s.idle, s.classes.iter().map(|c| c.idle).sum::<usize>());
    assert_eq!(
        s.idle_bytes,
        s.classes.iter().map(|c| c.idle * c.size).sum::<usize>()
    );
}

#[test]
fn requests_get_the_smallest_class_that_fits_empty() {
    let pool = small_pool();
    for (n, class) in [
        (0, 64),
        (1, 64),
        (64, 64),
        (65, 128),
        (1500, 2048),
        (4096, 4096),
    ] {
        let buf = pool.get(n);
        assert_eq!((buf.len(), buf.capacity()), (0, class), "get({n})");
        assert_eq!(pool.class_size(n), Some(class));
    }
    assert_eq!(pool.class_size(4097), None);
    let sizes: Vec<usize> = pool.stats().classes.iter().map(|c| c.size).collect();
    assert_eq!(sizes, [64, 128, 256, 512, 1024, 2048, 4096]);
}

#[test]
fn defaults_are_as_documented() {
    let pool = BufferPool::new();
    assert_eq!(pool.max_idle_bytes(), DEFAULT_MAX_IDLE_BYTES);
    assert_eq!(pool.class_size(1), Some(DEFAULT_MIN_SIZE));
    assert_eq!(pool.class_size(DEFAULT_MAX_SIZE), Some(DEFAULT_MAX_SIZE));
    assert_eq!(pool.class_size(DEFAULT_MAX_SIZE + 1), None);
    let caps: usize = pool
        .stats()
        .classes
        .iter()
        .map(|c| c.max_idle * c.size)
        .sum();
    assert!(caps <= DEFAULT_MAX_IDLE_BYTES);
}

#[test]
fn the_last_returned_buffer_of_a_class_goes_out_first() {
    let pool = small_pool();
    let (a, b) = (pool.get(1000), pool.get(1000));
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    drop(a);
    drop(b);
    let other = pool.get(100); // another class: does not take them
    assert!(other.as_ptr() != pa && other.as_ptr() != pb);
    assert_eq!(pool.get(600).as_ptr(), pb); // the temporary drops at once: b again
    let (x, y) = (pool.get(1024), pool.get(513));
    assert_eq!((x.as_ptr(), y.as_ptr()), (pb, pa));
    let s = pool.stats();
    assert_eq!((s.created, s.reused), (3, 3));
}

#[test]
fn returned_buffers_are_cleared() {
    let pool = small_pool();
    let mut buf = pool.get(10);
    buf.extend_from_slice(b"old data");
    drop(buf);
    let buf = pool.get(10);
    assert!(buf.is_empty());
    assert_eq!(pool.stats().reused, 1);
}

#[test]
fn a_buffer_that_grew_goes_back_to_the_class_it_fits_now() {
    let pool = small_pool();
    let mut buf = pool.get(64);
    buf.extend_from_slice(&[7; 300]); // 64 -> 300 -> capacity 300: floor class 256
    let cap = buf.capacity();
    assert!((256..512).contains(&cap), "{cap}");
    let s = pool.stats();
    assert_eq!((s.classes[0].in_use, s.in_use), (1, 1));
    drop(buf);
    let s = pool.stats();
    assert_eq!((s.classes[0].idle, s.classes[2].idle, s.in_use), (0, 1, 0));
    assert_eq!((s.classes[0].in_use, s.classes[2].in_use), (0, 0));
    assert_eq!((s.detached, s.discarded), (0, 0));
    assert_balanced(&s);
    // It serves that class now, with exactly the class size.
    let again = pool.get(200);
    assert_eq!(again.capacity(), 256);
    assert_eq!(pool.stats().created, 1);
}

#[test]
fn a_buffer_that_doubled_moves_up_without_reallocating() {
    let pool = small_pool();
    let mut buf = pool.get(128);
    buf.extend_from_slice(&[1; 128]);
    buf.push(2); // doubles: 256
    assert_eq!(buf.capacity(), 256);
    let ptr = buf.as_ptr();
    drop(buf);
    let again = pool.get(256);
    assert_eq!(again.as_ptr(), ptr);
}

#[test]
fn a_buffer_that_shrank_moves_down_or_is_freed() {
    let pool = small_pool();
    let mut buf = pool.get(1024);
    buf.shrink_to(100); // capacity 100: floor class 64
    drop(buf);
    assert_eq!(pool.stats().classes[0].idle, 1);
    let mut tiny = pool.get(64);
    tiny.shrink_to_fit(); // capacity 0: no class
    drop(tiny);
    let s = pool.stats();
    assert_eq!((s.idle, s.discarded, s.in_use), (0, 1, 0));
    assert_balanced(&s);
}

#[test]
fn a_buffer_that_grew_past_the_largest_class_is_freed() {
    let pool = small_pool();
    let mut buf = pool.get(4096);
    buf.extend_from_slice(&[0; 5000]);
    drop(buf);
    let s = pool.stats();
    assert_eq!((s.idle, s.discarded, s.in_use, s.created), (0, 1, 0, 1));
    assert_balanced(&s);
}

#[test]
fn oversized_requests_are_plain_allocations_not_kept() {
    let pool = small_pool();
    let buf = pool.get(10_000);
    assert!(buf.capacity() >= 10_000 && buf.is_empty());
    let s = pool.stats();
    assert_eq!((s.oversized, s.created, s.in_use), (1, 1, 1));
    drop(buf);
    let s = pool.stats();
    assert_eq!((s.idle, s.discarded, s.in_use), (0, 1, 0));
    let detached = Buffer::detach(pool.get(5000));
    assert!(detached.capacity() >= 5000);
    let s = pool.stats();
    assert_eq!((s.oversized, s.detached, s.in_use), (2, 1, 0));
    assert_balanced(&s);
}

#[test]
fn detach_takes_the_buffer_for_good() {
    let pool = small_pool();
    let mut buf = pool.get(100);
    buf.extend_from_slice(b"mine");
    let v = Buffer::detach(buf);
    assert_eq!(v, b"mine");
    let o = OwnedBuffer::detach(pool.get_owned(100));
    assert!(o.is_empty());
    let s = pool.stats();
    assert_eq!((s.detached, s.in_use, s.idle, s.created), (2, 0, 0, 2));
    assert_balanced(&s);
}

#[test]
fn idle_bytes_stay_within_the_cap_per_class_and_overall() {
    // Classes 64 B ... 16 KiB (sum 32,704 B). The flood must reach the largest cap of the five
    // classes it fills, the 64-byte class's: 1 + (budget - 32,704) / 9 / 64, that is 117 for
    // 100,000 B. Under miri (a pool operation takes milliseconds there) a 40,000 B budget gives
    // caps of 13, 7, 1, 1, 1 and a flood of 20 rounds fills them.
    let (budget, rounds) = if cfg!(miri) {
        (40_000, 20)
    } else {
        (100_000, 200)
    };
    for thread_cache in [0, 1, 16] {
        let pool = BufferPool::builder()
            .max_size(16 * 1024)
            .max_idle_bytes(budget)
            .thread_cache(thread_cache)
            .build()
            .unwrap();
        let held: Vec<Buffer<'_>> = (0..rounds)
            .flat_map(|_| [10, 100, 1000, 5000, 16 * 1024].map(|n| pool.get(n)))
            .collect();
        drop(held);
        let s = pool.stats();
        assert!(s.idle_bytes <= budget, "{thread_cache}: {s:?}");
        for c in &s.classes {
            assert!(c.idle <= c.max_idle, "{c:?}");
            assert!(c.max_idle >= 1);
        }
        // Every class keeps as many as its cap allows after a flood.
        for c in s
            .classes
            .iter()
            .filter(|c| [64, 128, 1024, 8192, 16384].contains(&c.size))
        {
            assert_eq!(c.idle, c.max_idle, "{thread_cache}: {c:?}");
        }
        assert_eq!(s.discarded, rounds * 5 - s.idle as u64);
        assert_balanced(&s);
    }
}

#[test]
fn a_budget_below_one_buffer_per_class_leaves_the_largest_classes_keeping_none() {
    let pool = BufferPool::builder()
        .max_size(4096)
        .max_idle_bytes(1000) // 64 + 128 + 256 + 512 = 960 fits; 1024 does not
        .build()
        .unwrap();
    let caps: Vec<usize> = pool.stats().classes.iter().map(|c| c.max_idle).collect();
    assert_eq!(caps, [1, 1, 1, 1, 0, 0, 0]);
    for n in [64, 128, 256, 512, 1024, 2048, 4096] {
        drop((pool.get(n), pool.get(n))); // two of each back: one kept where it may
    }
    assert_eq!(pool.stats().idle_bytes, 960);
    let mut grown = pool.get(512); // the idle 512-byte buffer...
    grown.extend_from_slice(&[0; 1024]); // ...grows into the 1024 class, which keeps none
    drop(grown);
    let s = pool.stats();
    assert_eq!((s.idle, s.idle_bytes), (3, 448));
    assert_eq!(s.discarded, 14 - 4 + 1);
    assert_eq!(pool.get(2048).capacity(), 2048, "still served by class");
    assert_balanced(&pool.stats());
}

#[test]
fn trim_frees_idle_buffers_and_trim_unused_the_unused_ones() {
    let pool = BufferPool::builder().thread_cache(0).build().unwrap();
    let held: Vec<_> = (0..8).map(|i| pool.get(64 << i)).collect();
    drop(held);
    assert_eq!(pool.stats().idle, 8);
    assert_eq!(pool.trim(), 8);
    let s = pool.stats();
    assert_eq!((s.idle, s.idle_bytes, s.discarded), (0, 0, 8));
    let held: Vec<_> = (0..4).map(|_| pool.get(4096)).collect();
    drop(held);
    assert_eq!(pool.trim_unused(), 0); // starts a period
    drop(pool.get(4096));
    assert_eq!(pool.trim_unused(), 3);
    assert_eq!(pool.stats().idle, 1);
    assert_balanced(&pool.stats());
}

#[test]
fn trim_empties_this_threads_caches_too() {
    let pool = small_pool();
    drop(pool.get(100));
    drop(pool.get(2000));
    assert_eq!(pool.trim(), 2);
    assert_eq!(pool.stats().idle, 0);
}

#[test]
fn a_threads_cached_buffers_are_flushed_when_it_exits() {
    let pool = small_pool();
    std::thread::scope(|s| {
        s.spawn(|| {
            let held: Vec<_> = (0..3).map(|_| pool.get(512)).collect();
            drop(held); // into that thread's cache
        })
        .join() // an explicit join also waits for the thread-exit flush
        .unwrap();
    });
    let s = pool.stats();
    assert_eq!((s.created, s.idle, s.in_use), (3, 3, 0));
    // This thread takes them from the depot: nothing new is allocated.
    let held: Vec<_> = (0..3).map(|_| pool.get(512)).collect();
    assert_eq!(pool.stats().created, 3);
    drop(held);
}

#[test]
fn buffers_cross_threads_and_owned_guards_outlive_the_pool() {
    let pool = small_pool();
    let mut owned = pool.get_owned(300);
    owned.extend_from_slice(b"payload");
    let handle = pool.clone();
    drop(pool);
    let n = std::thread::spawn(move || {
        let n = owned.len();
        drop(owned); // back to the pool, from this thread
        n
    })
    .join()
    .unwrap();
    assert_eq!(n, 7);
    let s = handle.stats();
    assert_eq!((s.in_use, s.idle), (0, 1));
}

#[test]
fn shared_across_threads() {
    let pool = BufferPool::new();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4u8)
            .map(|t| {
                let pool = &pool;
                s.spawn(move || {
                    for i in 0..if cfg!(miri) { 40 } else { 500usize } {
                        let mut buf = pool.get(1 << (6 + (i % 12)));
                        buf.push(t);
                        if i % 7 == 0 {
                            buf.extend_from_slice(&[t; 3000]); // grows: changes class
                        }
                        assert_eq!(buf[0], t);
                    }
                })
            })
            .collect();
        // Explicit joins also wait for the threads' exit flushes, which the scope's end does not.
        workers.into_iter().for_each(|w| w.join().unwrap());
    });
    let s = pool.stats();
    assert_eq!(s.in_use, 0);
    assert_balanced(&s);
}

#[test]
fn guards_are_writers_and_byte_slices() {
    let pool = small_pool();
    let mut buf = pool.get(8);
    write!(buf, "{}-{}", 12, 34).unwrap();
    buf.write_all(b"!").unwrap();
    buf.flush().unwrap();
    assert_eq!(buf.as_ref(), b"12-34!");
    buf.as_mut()[0] = b'9';
    assert_eq!(&buf[..2], b"92");
    assert_eq!(format!("{buf:?}"), format!("{:?}", b"92-34!".to_vec()));
    let mut owned = pool.get_owned(8);
    owned.write_all(b"ab").unwrap();
    assert_eq!(AsRef::<[u8]>::as_ref(&owned), b"ab");
    assert_eq!(format!("{owned:?}"), "[97, 98]");
}

#[test]
fn get_zeroed_never_shows_old_data() {
    let pool = small_pool();
    let mut old = pool.get(1000);
    old.extend_from_slice(&[0xAA; 1000]);
    let ptr = old.as_ptr();
    drop(old);
    let buf = pool.get_zeroed(700);
    assert_eq!(buf.as_ptr(), ptr, "the same memory");
    assert_eq!(buf.len(), 700);
    assert!(buf.iter().all(|&b| b == 0));
}

/// Reads in chunks, fails once, is interrupted once.
struct Flaky<'a> {
    data: &'a [u8],
    calls: usize,
}

impl Read for Flaky<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        match self.calls {
            2 => Err(io::ErrorKind::Interrupted.into()),
            3 => Err(io::Error::other("boom")),
            _ => {
                assert!(out.iter().all(|&b| b == 0), "the reader sees only zeros");
                let n = out.len().min(self.data.len()).min(3);
                out[..n].copy_from_slice(&self.data[..n]);
                self.data = &self.data[n..];
                Ok(n)
            }
        }
    }
}

#[test]
fn read_from_appends_one_read_and_restores_on_error() {
    let pool = small_pool();
    let mut dirty = pool.get(64);
    dirty.extend_from_slice(&[0xFF; 64]);
    drop(dirty);
    let mut reader = Flaky {
        data: b"abcdefg",
        calls: 0,
    };
    let mut buf = pool.get(64);
    assert_eq!(buf.read_from(&mut reader, 64).unwrap(), 3);
    assert_eq!(&buf[..], b"abc");
    // Interrupted (retried), then an error: the buffer is as before.
    let err = buf.read_from(&mut reader, 64).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other);
    assert_eq!(&buf[..], b"abc");
    assert_eq!(buf.read_from(&mut reader, 2).unwrap(), 2);
    assert_eq!(buf.read_from(&mut reader, 64).unwrap(), 2);
    assert_eq!(buf.read_from(&mut reader, 64).unwrap(), 0, "end of input");
    assert_eq!(&buf[..], b"abcdefg");
    let mut owned = pool.get_owned(0);
    assert_eq!(owned.read_from(&b"xyz"[..], 100).unwrap(), 3); // a reader by value too
    assert_eq!(&owned[..], b"xyz");
}

#[test]
fn an_empty_buffer_reads_nothing_which_is_why_the_helpers_exist() {
    let pool = small_pool();
    let mut buf = pool.get(4096);
    assert_eq!((&b"data"[..]).read(&mut buf).unwrap(), 0); // `read` fills `len`, not capacity
    assert_eq!(buf.read_from(&mut &b"data"[..], 4096).unwrap(), 4);
}

#[test]
fn bad_settings_are_errors_naming_the_setting_and_value() {
    let cases: [(hotpool::buffer::BufferPoolBuilder, ConfigError); 9] = [
        (
            BufferPool::builder().max_size(0),
            ConfigError::Zero {
                setting: "max_size",
            },
        ),
        (
            BufferPool::builder().min_size(0),
            ConfigError::Zero {
                setting: "min_size",
            },
        ),
        (
            BufferPool::builder().max_idle_bytes(0),
            ConfigError::Zero {
                setting: "max_idle_bytes",
            },
        ),
        (
            BufferPool::builder().max_size(1000),
            ConfigError::NotPowerOfTwo {
                setting: "max_size",
                value: 1000,
            },
        ),
        (
            BufferPool::builder().min_size(48),
            ConfigError::NotPowerOfTwo {
                setting: "min_size",
                value: 48,
            },
        ),
        (
            BufferPool::builder().max_size(1 << 31),
            ConfigError::TooLarge {
                setting: "max_size",
                value: 1 << 31,
                max: 1 << 30,
            },
        ),
        (
            BufferPool::builder().min_size(128).max_size(64),
            ConfigError::Exceeds {
                setting: "min_size",
                value: 128,
                limit_setting: "max_size",
                limit: 64,
            },
        ),
        (
            BufferPool::builder().min_size(128).max_idle_bytes(127),
            ConfigError::TooSmall {
                setting: "max_idle_bytes",
                value: 127,
                min: 128,
            },
        ),
        (
            BufferPool::builder().thread_cache(1 << 20),
            ConfigError::TooLarge {
                setting: "thread_cache",
                value: 1 << 20,
                max: hotpool::builder::MAX_THREAD_CACHE,
            },
        ),
    ];
    for (builder, expected) in cases {
        let err = builder.build().unwrap_err();
        assert_eq!(err, expected);
        assert!(err.to_string().contains(match &err {
            ConfigError::Zero { setting }
            | ConfigError::TooLarge { setting, .. }
            | ConfigError::Exceeds { setting, .. }
            | ConfigError::TooSmall { setting, .. }
            | ConfigError::NotPowerOfTwo { setting, .. } => setting,
            _ => unreachable!(),
        }));
    }
    // The smallest workable settings build.
    let pool = BufferPool::builder()
        .min_size(1)
        .max_size(1)
        .max_idle_bytes(1)
        .thread_cache(0)
        .build()
        .unwrap();
    assert_eq!(pool.get(0).capacity(), 1);
}

#[test]
fn the_pool_and_owned_guards_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send_static<T: Send + 'static>() {}
    send_sync::<BufferPool>();
    send_sync::<Buffer<'static>>();
    send_static::<OwnedBuffer>();
    send_sync::<OwnedBuffer>();
}

#[cfg(feature = "bytes")]
#[test]
fn guards_are_buf_mut() {
    use bytes::BufMut;
    let pool = small_pool();
    let mut buf = pool.get(4);
    buf.put_u32(0x0102_0304);
    buf.put_slice(b"xy");
    buf.put_u8(b'z');
    assert_eq!(&buf[..], [1, 2, 3, 4, b'x', b'y', b'z']);
    let mut owned = pool.get_owned(64);
    owned.put_bytes(7, 3);
    assert!(owned.remaining_mut() > 1000);
    assert_eq!(&owned[..], [7, 7, 7]);
    let chunk = owned.chunk_mut();
    assert!(chunk.len() >= 61);
}
