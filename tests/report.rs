//! The memory report: `name` and `register` on the builder, `report()` (names, types, stats, hit
//! rate, idle bytes, leak hints, arenas, `Display`), weak registration (a report keeps nothing
//! alive, a dropped pool leaves it), and `trim_all` / `trim_unused_all`.
//!
//! The registry is global to the process and `trim_all` reaches every pool in it, so every test
//! takes [`serial`] and uses pool names of its own.

mod support;

use std::mem::size_of;
use std::sync::{Mutex, MutexGuard};

use hotpool::{arena, report, trim_all, trim_unused_all, Pool, PoolReport};
use support::Tracker;

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn entry(name: &str) -> PoolReport {
    let report = report();
    let found: Vec<_> = report.pools.iter().filter(|p| p.name == name).collect();
    assert_eq!(found.len(), 1, "{name} in {report:#?}");
    found[0].clone()
}

fn listed(name: &str) -> bool {
    report().pool(name).is_some()
}

/// `Vec<u8>` of `capacity`, as the report measures an idle one.
fn vec_bytes(capacity: usize) -> u64 {
    (size_of::<Vec<u8>>() + capacity) as u64
}

#[test]
fn a_named_pool_is_listed_with_its_type_and_stats() {
    let _serial = serial();
    let pool = Pool::builder(|| Vec::<u8>::with_capacity(100))
        .max_idle(8)
        .name("named/frames")
        .thread_cache(4)
        .prefill(2)
        .build()
        .unwrap();
    let held = pool.get();
    drop(pool.get());
    let e = entry("named/frames");
    assert_eq!(e.element_type, std::any::type_name::<Vec<u8>>());
    assert_eq!(e.stats, pool.stats());
    assert_eq!((e.stats.created, e.stats.in_use, e.stats.idle), (2, 1, 1));
    drop(held);
}

#[test]
fn name_takes_a_string_and_works_after_every_other_setting() {
    let _serial = serial();
    let owned_name = format!("owned/{}", 7);
    let pool = Pool::builder(String::new)
        .prefill(1)
        .recycle_with(|s: &mut String| {
            s.clear();
            true
        })
        .thread_cache(0)
        .max_idle(3)
        .name(owned_name.clone())
        .build()
        .unwrap();
    assert_eq!(entry(&owned_name).stats.idle, 1);
    drop(pool);
    assert!(!listed(&owned_name));
}

#[test]
fn an_unnamed_pool_is_listed_under_its_element_type() {
    let _serial = serial();
    struct UnnamedMarker(#[allow(dead_code)] u32);
    let pool = Pool::builder(|| UnnamedMarker(1))
        .recycle_with(|_: &mut UnnamedMarker| true)
        .build()
        .unwrap();
    drop(pool.get());
    // Named by its type without module paths, as the table shows it; the full path is the type.
    let e = entry("UnnamedMarker");
    assert_eq!(e.element_type, std::any::type_name::<UnnamedMarker>());
    assert_eq!(e.stats.created, 1);
    let table = report().to_string();
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["UnnamedMarker"; 2])),
        "{table}"
    );
}

#[test]
fn every_name_the_table_shows_is_the_name_pool_finds() {
    let _serial = serial();
    let unnamed = Pool::new(String::new);
    let unnamed_vec = Pool::new(Vec::<Vec<u16>>::new);
    let named = Pool::builder(String::new)
        .name("names/with::colons")
        .build()
        .unwrap();
    let report = report();
    let string = report
        .pool("String")
        .expect("an unnamed Pool<String> is found as String");
    assert_eq!(string.element_type, "alloc::string::String");
    assert!(report.pool("Vec<Vec<u16>>").is_some());
    assert!(
        report.pool("names/with::colons").is_some(),
        "a name is never shortened"
    );
    // Each row's first cell is a name `pool` finds, and every pool's name starts a row.
    let table = report.to_string();
    for p in &report.pools {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{} ", p.name)));
        assert!(row.is_some(), "no row for {:?}:\n{table}", p.name);
        assert_eq!(report.pool(&p.name).map(|found| &found.name), Some(&p.name));
    }
    drop((unnamed, unnamed_vec, named));
}

#[test]
fn register_false_keeps_a_pool_out_of_the_report_and_the_trims() {
    let _serial = serial();
    let pool = Pool::builder(String::new)
        .name("unregistered")
        .register(false)
        .prefill(5)
        .build()
        .unwrap();
    assert!(!listed("unregistered"));
    trim_all();
    assert_eq!(pool.stats().idle, 5);
    let on_again = Pool::builder(String::new)
        .register(false)
        .register(true)
        .name("registered again")
        .build()
        .unwrap();
    assert!(listed("registered again"));
    drop(on_again);
}

#[test]
fn a_dropped_pool_leaves_the_registry_and_its_objects_are_dropped() {
    let _serial = serial();
    let tracker = Tracker::new();
    let pool = Pool::builder(tracker.factory())
        .name("dropped")
        .prefill(3)
        .build()
        .unwrap();
    let before = report(); // a report is data: it holds no pool
    assert_eq!(before.pool("dropped").unwrap().stats.idle, 3);
    drop(pool);
    assert_eq!(tracker.live(), 0, "the registry kept objects alive");
    tracker.assert_all_dropped_once();
    assert!(!listed("dropped"));
    assert_eq!(before.pool("dropped").unwrap().stats.idle, 3);
}

#[test]
fn a_pool_kept_alive_by_owned_guards_is_still_listed() {
    let _serial = serial();
    let pool = Pool::builder(Vec::<u8>::new)
        .name("owned guards")
        .build()
        .unwrap();
    let guard = pool.get_owned();
    drop(pool);
    assert_eq!(entry("owned guards").stats.in_use, 1);
    drop(guard);
    assert!(!listed("owned guards"));
}

#[test]
fn hit_rate_counts_gets_served_idle_and_ignores_prefill() {
    let _serial = serial();
    let pool = Pool::builder(String::new)
        .name("hits")
        .prefill(2)
        .build()
        .unwrap();
    assert_eq!(entry("hits").hit_rate, 0.0); // no get yet
    let a = pool.get(); // idle (prefilled)
    let b = pool.get(); // idle
    let c = pool.get(); // new
    drop((a, b, c));
    drop(pool.get()); // idle
    let e = entry("hits");
    assert_eq!((e.stats.reused, e.stats.created), (3, 3));
    assert_eq!(e.hit_rate, 0.75);
}

#[test]
fn idle_bytes_are_exact_for_the_depot_and_the_calling_threads_cache() {
    let _serial = serial();
    let depot_only = Pool::builder(|| Vec::<u8>::with_capacity(1000))
        .name("bytes/depot")
        .thread_cache(0)
        .prefill(3)
        .build()
        .unwrap();
    let e = entry("bytes/depot");
    assert_eq!(
        (e.idle_bytes, e.idle_bytes_exact),
        (Some(3 * vec_bytes(1000)), true)
    );

    let cached = Pool::builder(|| Vec::<u8>::with_capacity(500))
        .name("bytes/cache")
        .thread_cache(8)
        .build()
        .unwrap();
    let held: Vec<_> = (0..3).map(|_| cached.get()).collect();
    drop(held); // into this thread's cache
    let e = entry("bytes/cache");
    assert_eq!(e.stats.idle, 3);
    assert_eq!(
        (e.idle_bytes, e.idle_bytes_exact),
        (Some(3 * vec_bytes(500)), true)
    );

    let empty = Pool::builder(Vec::<u8>::new)
        .name("bytes/empty")
        .build()
        .unwrap();
    let e = entry("bytes/empty");
    assert_eq!((e.idle_bytes, e.idle_bytes_exact), (Some(0), true));
    drop((depot_only, cached, empty));
}

#[test]
fn idle_bytes_in_other_threads_caches_are_estimated() {
    let _serial = serial();
    let pool = Pool::builder(|| Vec::<u8>::with_capacity(2000))
        .name("bytes/other thread")
        .thread_cache(8)
        .prefill(2)
        .build()
        .unwrap();
    let (filled_tx, filled_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let pool = &pool;
        s.spawn(move || {
            let held: Vec<_> = (0..4).map(|_| pool.get()).collect();
            drop(held); // 4 in this thread's cache; the 2 prefilled came from the depot
            filled_tx.send(()).unwrap();
            done_rx.recv().unwrap(); // keep the cache alive while the report runs
        });
        filled_rx.recv().unwrap();
        // Nothing reachable from here: estimated at `size_of::<Vec<u8>>()` each.
        let e = entry("bytes/other thread");
        assert_eq!(e.stats.idle, 4);
        assert_eq!(e.idle_bytes, Some(4 * size_of::<Vec<u8>>() as u64));
        assert!(!e.idle_bytes_exact);
        // One measurable object here: the others are estimated at its size.
        pool.put(Vec::with_capacity(2000)).unwrap();
        let e = entry("bytes/other thread");
        assert_eq!(e.stats.idle, 5);
        assert_eq!(e.idle_bytes, Some(5 * vec_bytes(2000)));
        assert!(!e.idle_bytes_exact);
        done_tx.send(()).unwrap();
    });
}

#[test]
fn idle_bytes_are_unknown_when_the_policy_cannot_tell() {
    let _serial = serial();
    let pool = Pool::builder(|| Vec::<u8>::with_capacity(10))
        .recycle_with(|v: &mut Vec<u8>| {
            v.clear();
            true
        })
        .name("bytes/closure")
        .prefill(1)
        .build()
        .unwrap();
    let e = entry("bytes/closure");
    assert_eq!((e.idle_bytes, e.idle_bytes_exact), (None, false));
    assert!(report()
        .to_string()
        .lines()
        .any(|l| l.starts_with("bytes/closure ") && l.contains(" ? ")));
    drop(pool);
}

#[test]
fn leak_hints_flag_objects_held_across_two_reports() {
    let _serial = serial();
    let pool = Pool::builder(Vec::<u8>::new).name("leaky").build().unwrap();
    let first = entry("leaky");
    assert_eq!(
        (first.held_since_last_report, first.leak_suspected),
        (None, false)
    );

    let stuck: Vec<_> = (0..3).map(|_| pool.get()).collect();
    let e = entry("leaky"); // lent during this period: not held across one yet
    assert_eq!(
        (e.held_since_last_report, e.leak_suspected),
        (Some(0), false)
    );
    let e = entry("leaky");
    assert_eq!(
        (e.held_since_last_report, e.leak_suspected),
        (Some(3), true)
    );
    let row = report().to_string();
    assert!(
        row.lines()
            .any(|l| l.starts_with("leaky ") && l.ends_with("3 LEAK?")),
        "{row}"
    );

    // One lend in the period: it might be one of the held ones, so fewer are proven out; the
    // same three were out at both reports.
    drop(pool.get());
    let e = entry("leaky");
    assert_eq!(
        (e.held_since_last_report, e.leak_suspected),
        (Some(3), true)
    );

    drop(stuck);
    let e = entry("leaky"); // out at the previous report, back now
    assert_eq!(
        (e.held_since_last_report, e.leak_suspected),
        (Some(0), false)
    );
    assert!(!report().to_string().contains("LEAK?"));
}

#[test]
fn held_does_not_move_while_the_same_guards_are_held() {
    let _serial = serial();
    let pool = Pool::builder(Vec::<u8>::new)
        .name("held/same")
        .build()
        .unwrap();
    report(); // the pool's first report: no hint yet
    let stuck: Vec<_> = (0..10).map(|_| pool.get()).collect();
    let held = || entry("held/same").held_since_last_report;
    assert_eq!(held(), Some(0), "lent after the previous report");
    let mut seen = Vec::new();
    for cycles in [0, 5, 50, 1] {
        for _ in 0..cycles {
            drop(pool.get()); // unrelated get/drop cycles between reports
        }
        seen.push(held());
    }
    assert_eq!(seen, [Some(10); 4]);
    // From another thread too (the other thread's own cache and counters).
    std::thread::scope(|s| {
        s.spawn(|| (0..20).for_each(|_| drop(pool.get())));
    });
    assert_eq!(held(), Some(10));
    drop(stuck);
    assert_eq!(held(), Some(0));
}

#[test]
fn objects_that_come_and_go_are_not_flagged() {
    let _serial = serial();
    let pool = Pool::builder(String::new).name("steady").build().unwrap();
    let mut held = vec![pool.get(), pool.get()];
    report();
    for _ in 0..5 {
        drop(held.remove(0)); // always two out, never the same ones for long
        held.push(pool.get());
    }
    let e = entry("steady");
    assert_eq!(e.stats.in_use, 2);
    // Two were out at both reports; none provably the same ones (five lends in between).
    assert_eq!(
        (e.held_since_last_report, e.leak_suspected),
        (Some(2), false)
    );
}

#[test]
fn trim_all_frees_idle_objects_of_every_pool_and_counts_them() {
    let _serial = serial();
    let tracker = Tracker::new();
    let a = Pool::builder(tracker.factory())
        .name("trim/a")
        .prefill(4)
        .build()
        .unwrap();
    let b = Pool::builder(tracker.factory())
        .name("trim/b")
        .thread_cache(0)
        .prefill(3)
        .build()
        .unwrap();
    drop(a.get()); // one in this thread's cache
    let held = b.get();
    let others_idle: usize = report()
        .pools
        .iter()
        .filter(|p| !p.name.starts_with("trim/"))
        .map(|p| p.stats.idle)
        .sum();
    let freed = trim_all();
    assert_eq!(freed, 4 + 2 + others_idle);
    assert_eq!(tracker.live(), 1); // only the held one
    assert_eq!((a.stats().idle, b.stats().idle), (0, 0));
    assert_eq!((a.stats().discarded, b.stats().discarded), (4, 2));
    drop(held);
    assert_eq!(trim_all(), 1);
    assert_eq!(tracker.live(), 0);
    tracker.assert_all_dropped_once();
}

#[test]
fn trim_unused_all_frees_only_what_stayed_idle() {
    let _serial = serial();
    let a = Pool::builder(Vec::<u8>::new)
        .name("unused/a")
        .thread_cache(0)
        .prefill(20)
        .build()
        .unwrap();
    let b = Pool::builder(Vec::<u8>::new)
        .name("unused/b")
        .thread_cache(0)
        .prefill(10)
        .build()
        .unwrap();
    trim_all(); // only ours left...
    for pool in [&a, &b] {
        for _ in 0..pool.stats().discarded {
            let _ = pool.put(Vec::new()); // ...refilled: 20 and 10 idle again
        }
    }
    trim_unused_all(); // starts a period everywhere
    let used: Vec<_> = (0..5).map(|_| a.get()).collect();
    drop(used);
    assert_eq!(trim_unused_all(), 15 + 10);
    assert_eq!((a.stats().idle, b.stats().idle), (5, 0));
}

#[test]
fn arenas_show_warm_bytes_and_dropped_spikes() {
    let _serial = serial();
    arena::scope(|s| {
        s.alloc_slice_copy(&[1u8; 10_000]);
    });
    let r = report();
    let mine = arena::stats();
    assert!(r.arenas.live_threads >= 1);
    assert!(r.arenas.idle_arenas >= mine.idle_arenas);
    assert!(r.arenas.retained_bytes >= 10_000);
    let spikes = r.arenas.dropped_oversized;
    arena::scope(|s| {
        s.alloc_slice_copy(&vec![0u8; 2 << 20]); // past the default 1 MiB retained limit
    });
    let r = report();
    assert!(r.arenas.dropped_oversized > spikes);
    assert!(r.to_string().contains("spike(s) dropped"));
}

#[test]
fn display_renders_a_table_with_a_row_per_pool() {
    let _serial = serial();
    let pool = Pool::builder(|| Vec::<u8>::with_capacity(2048))
        .name("display/buffers")
        .thread_cache(0)
        .prefill(2)
        .build()
        .unwrap();
    let _held = pool.get();
    let table = report().to_string();
    let header = table.lines().next().unwrap();
    for column in ["pool", "type", "in use", "idle bytes", "hit rate", "held"] {
        assert!(header.contains(column), "{header}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with("display/buffers "))
        .unwrap();
    let cells: Vec<_> = row.split_whitespace().collect();
    // pool, type, in use, peak, idle, idle bytes (2 words), hit rate, created, discarded, held
    assert_eq!(
        cells[..8],
        [
            "display/buffers",
            "Vec<u8>",
            "1",
            "1",
            "1",
            "2.0",
            "KiB",
            "100.0%"
        ]
    );
    assert!(table.lines().any(|l| l.starts_with("arenas: ")));
    assert!(table
        .lines()
        .last()
        .unwrap()
        .starts_with("idle memory measured: "));
}

#[test]
fn reports_and_trims_race_with_pools_built_and_dropped_on_other_threads() {
    let _serial = serial();
    const ROUNDS: usize = if cfg!(miri) { 5 } else { 50 };
    let tracker = Tracker::new();
    std::thread::scope(|s| {
        for t in 0..3 {
            let tracker = &tracker;
            s.spawn(move || {
                for i in 0..ROUNDS {
                    let pool = Pool::builder(tracker.factory())
                        .name(format!("race/{t}/{i}"))
                        .prefill(2)
                        .build()
                        .unwrap();
                    drop(pool.get());
                }
            });
        }
        for _ in 0..ROUNDS {
            let r = report();
            assert!(r.pools.iter().all(|p| p.stats.in_use <= 1));
            trim_all();
            trim_unused_all();
        }
    });
    assert!(!report().pools.iter().any(|p| p.name.starts_with("race/")));
    assert_eq!(tracker.live(), 0);
    tracker.assert_all_dropped_once();
}
