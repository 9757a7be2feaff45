//! Batch processing on rayon with per-thread scratch arenas.
//!
//! Each batch of log lines is parsed on whichever rayon worker picks it up; all the parsing
//! scratch (split fields, a per-batch index, lowercased keys) lives in that worker's arena and
//! is rewound when the batch is done, so after the first batch per worker the hot loop makes no
//! heap allocation. At the end it prints each worker's arena statistics and the global total.
//!
//! Run: `cargo run --release --example rayon_batches`

use std::collections::BTreeMap;
use std::sync::Mutex;

use hotpool::arena;
use rayon::prelude::*;

const BATCHES: usize = 2_000;
const LINES_PER_BATCH: usize = 200;

/// Makes the `i`th synthetic log line.
fn line(i: usize) -> String {
    let level = ["INFO", "WARN", "ERROR", "DEBUG"][i % 4];
    format!(
        "{level} service=api-{} latency_ms={} path=/v1/items/{}",
        i % 7,
        i % 250,
        i % 1000
    )
}

/// Per-batch result: count of lines per level and the slowest latency.
#[derive(Default, Debug)]
struct Summary {
    levels: [u64; 4],
    max_latency_ms: u32,
}

fn process(batch: &[String]) -> Summary {
    arena::scope(|s| {
        // Scratch: every line split into fields, all in the arena.
        let mut rows = s.vec();
        for text in batch {
            let mut fields = s.vec();
            fields.extend(text.split(' ').map(|f| &*s.alloc_str(f)));
            rows.push(fields.into_bump_slice());
        }
        let mut summary = Summary::default();
        for fields in &rows {
            let level = match fields[0] {
                "INFO" => 0,
                "WARN" => 1,
                "ERROR" => 2,
                _ => 3,
            };
            summary.levels[level] += 1;
            let latency = fields[2]
                .trim_start_matches("latency_ms=")
                .parse()
                .unwrap_or(0);
            summary.max_latency_ms = summary.max_latency_ms.max(latency);
        }
        summary
    }) // the whole batch's scratch is rewound here
}

fn main() {
    let lines: Vec<String> = (0..BATCHES * LINES_PER_BATCH).map(line).collect();
    let batches: Vec<&[String]> = lines.chunks(LINES_PER_BATCH).collect();
    let per_thread = Mutex::new(BTreeMap::new());

    let start = std::time::Instant::now();
    let total = batches
        .par_iter()
        .map(|batch| {
            let summary = process(batch);
            // Record this worker's arena statistics (cheap: no lock inside `stats`).
            let index = rayon::current_thread_index().unwrap_or(usize::MAX);
            per_thread.lock().unwrap().insert(index, arena::stats());
            summary
        })
        .reduce(Summary::default, |mut a, b| {
            for (x, y) in a.levels.iter_mut().zip(b.levels) {
                *x += y;
            }
            a.max_latency_ms = a.max_latency_ms.max(b.max_latency_ms);
            a
        });
    let elapsed = start.elapsed();

    println!(
        "{} lines in {BATCHES} batches in {elapsed:.2?}: {:?}",
        lines.len(),
        total
    );
    println!(
        "worker  scopes  arenas_created  bytes_used_at_scope_end  peak_scope_bytes  retained_bytes"
    );
    for (index, s) in per_thread.into_inner().unwrap() {
        println!(
            "{index:>6}  {:>6}  {:>14}  {:>15}  {:>16}  {:>14}",
            s.scopes_entered,
            s.arenas_created,
            s.bytes_used_at_scope_end,
            s.peak_scope_bytes,
            s.retained_bytes
        );
    }
    let g = arena::global_stats();
    println!(
        "total: {} scopes on {} threads, {} arenas created, {} bytes allocated, {} retained, {} dropped oversized",
        g.scopes_entered, g.live_threads, g.arenas_created, g.bytes_used_at_scope_end, g.retained_bytes, g.dropped_oversized
    );
    assert_eq!(total.levels.iter().sum::<u64>(), lines.len() as u64);
    assert_eq!(g.scopes_entered, BATCHES as u64);
}
