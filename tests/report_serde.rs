//! The `serde` feature: the memory report serializes, field names as in the Rust structs.
//! Run with `cargo test --features serde --test report_serde`.
#![cfg(feature = "serde")]

use hotpool::{arena, report, Pool};

#[test]
fn the_report_serializes_to_json() {
    let pool = Pool::builder(|| Vec::<u8>::with_capacity(100))
        .name("serde/buffers")
        .thread_cache(0)
        .prefill(2)
        .build()
        .unwrap();
    let _held = pool.get();
    arena::scope(|s| {
        s.alloc_slice_copy(&[0u8; 1000]);
    });
    let json = serde_json::to_value(report()).unwrap();
    let pools = json["pools"].as_array().unwrap();
    let entry = pools
        .iter()
        .find(|p| p["name"] == "serde/buffers")
        .expect("the pool is listed");
    assert_eq!(entry["element_type"], "alloc::vec::Vec<u8>");
    assert_eq!(entry["stats"]["created"], 2);
    assert_eq!(entry["stats"]["in_use"], 1);
    assert_eq!(entry["stats"]["idle"], 1);
    assert_eq!(entry["hit_rate"], 1.0);
    assert_eq!(entry["idle_bytes"], std::mem::size_of::<Vec<u8>>() + 100);
    assert_eq!(entry["idle_bytes_exact"], true);
    assert_eq!(entry["held_since_last_report"], serde_json::Value::Null);
    assert_eq!(entry["leak_suspected"], false);
    assert!(json["arenas"]["idle_arenas"].as_u64().unwrap() >= 1);
    assert!(json["arenas"]["retained_bytes"].as_u64().unwrap() >= 1000);
}
