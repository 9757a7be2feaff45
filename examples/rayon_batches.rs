//! Batch processing on rayon with per-thread scratch arenas, against a plain-allocation
//! baseline.
//!
//! Each batch of log lines is parsed on whichever rayon worker picks it up. In the arena run all
//! the parsing scratch (every line split into fields, the fields copied) lives in that worker's
//! arena and is rewound when the batch is done, so after the first batch per worker the hot
//! loop makes no heap allocation. The baseline runs the same code with `Vec` and `String`. The
//! program prints both runs side by side, then each worker's arena statistics.
//!
//! ```text
//! cargo run --release --example rayon_batches
//! cargo run --release --example rayon_batches -- --batches 5000 --threads 4
//! cargo run --release --example rayon_batches -- --help
//! ```
//!
//! The workers' arena settings come from [`arena::configure_default`], called before the
//! thread pool starts: it is the default every new thread begins with.

#[allow(dead_code)] // each example uses a different part of the helpers
mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use hotpool::arena::{self, ArenaConfig};
use rayon::prelude::*;
use support::{grouped, outln, Args};

// Counts heap allocations, to show how many each run makes per line.
#[global_allocator]
static ALLOC: support::CountingAlloc = support::CountingAlloc;

const USAGE: &str = "\
Usage: cargo run --release --example rayon_batches -- [OPTIONS]

Parses batches of log lines on a rayon thread pool twice, with per-thread arenas for the
scratch memory and with plain Vec/String (the baseline), and compares time and heap
allocations.

Options:
  --batches N            batches to process (default 2000)
  --lines-per-batch N    log lines per batch (default 200)
  --threads N            rayon worker threads (default: one per CPU)
  --max-retained-kib N   arena memory a worker keeps between batches, in KiB (default 1024)
  -h, --help             print this help";

struct Options {
    batches: usize,
    lines_per_batch: usize,
    threads: Option<usize>,
}

fn parse_options() -> Options {
    let mut opts = Options {
        batches: 2_000,
        lines_per_batch: 200,
        threads: None,
    };
    let mut args = Args::from_env(USAGE);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--batches" => opts.batches = args.positive(&flag),
            "--lines-per-batch" => opts.lines_per_batch = args.positive(&flag),
            "--threads" => opts.threads = Some(args.positive(&flag)),
            "--max-retained-kib" => {
                let kib: usize = args.number(&flag);
                let Some(bytes) = kib.checked_mul(1024) else {
                    args.fail(format_args!("{flag}: `{kib}` KiB is too large"));
                };
                // Before the thread pool exists: its workers start with these settings.
                let config = ArenaConfig {
                    max_retained_bytes: bytes,
                    ..ArenaConfig::default()
                };
                if let Err(err) = arena::configure_default(config) {
                    args.fail(format_args!("{flag}: {err}"));
                }
            }
            _ => args.unknown(&flag),
        }
    }
    opts
}

fn main() -> ExitCode {
    support::exit_status(run(&parse_options()))
}

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
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Summary {
    levels: [u64; 4],
    max_latency_ms: u32,
}

impl Summary {
    /// Adds one line's level and `latency_ms=` field.
    fn add(&mut self, level: &str, latency: &str) {
        let level = match level {
            "INFO" => 0,
            "WARN" => 1,
            "ERROR" => 2,
            _ => 3,
        };
        self.levels[level] += 1;
        let latency = latency
            .trim_start_matches("latency_ms=")
            .parse()
            .unwrap_or(0);
        self.max_latency_ms = self.max_latency_ms.max(latency);
    }

    fn merge(mut self, other: Summary) -> Summary {
        for (x, y) in self.levels.iter_mut().zip(other.levels) {
            *x += y;
        }
        self.max_latency_ms = self.max_latency_ms.max(other.max_latency_ms);
        self
    }
}

/// The arena run: every line split into copied fields, all in this worker's arena.
fn process_in_arena(batch: &[String]) -> Summary {
    arena::scope(|s| {
        let mut rows = s.vec();
        for text in batch {
            // A scope Vec, not `alloc_slice_fill_iter`: the fields borrow the scope itself.
            let mut fields = s.vec();
            fields.extend(text.split(' ').map(|f| &*s.alloc_str(f)));
            rows.push(fields.into_bump_slice());
        }
        let mut summary = Summary::default();
        for fields in &rows {
            summary.add(fields[0], fields[2]);
        }
        summary
    }) // the whole batch's scratch is rewound here
}

/// The baseline: the same work with a `Vec` per batch and per line and a `String` per field.
fn process_plain(batch: &[String]) -> Summary {
    let mut rows = Vec::new();
    for text in batch {
        let fields: Vec<String> = text.split(' ').map(str::to_owned).collect();
        rows.push(fields);
    }
    let mut summary = Summary::default();
    for fields in &rows {
        summary.add(&fields[0], &fields[2]);
    }
    summary
}

/// What one run took and computed.
struct Report {
    elapsed: Duration,
    allocations: u64,
    summary: Summary,
}

fn measure(pool: &rayon::ThreadPool, batches: &[&[String]], f: fn(&[String]) -> Summary) -> Report {
    let allocations_before = support::allocations();
    let start = Instant::now();
    let summary = pool.install(|| {
        batches
            .par_iter()
            .map(|batch| f(batch))
            .reduce(Summary::default, Summary::merge)
    });
    Report {
        elapsed: start.elapsed(),
        allocations: support::allocations() - allocations_before,
        summary,
    }
}

fn run(opts: &Options) -> Result<(), String> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(threads) = opts.threads {
        builder = builder.num_threads(threads);
    }
    let pool = builder
        .build()
        .map_err(|err| format!("cannot start the thread pool: {err}"))?;
    let lines: Vec<String> = (0..opts.batches * opts.lines_per_batch).map(line).collect();
    let batches: Vec<&[String]> = lines.chunks(opts.lines_per_batch).collect();
    outln!(
        "rayon_batches: {} log lines in {} batches of {}, {} worker threads\n",
        grouped(lines.len() as u64),
        grouped(batches.len() as u64),
        grouped(opts.lines_per_batch as u64),
        pool.current_num_threads()
    );

    let baseline = measure(&pool, &batches, process_plain);
    let arena_run = measure(&pool, &batches, process_in_arena);
    print_comparison(&arena_run, &baseline, lines.len() as u64);

    outln!("\nper worker (arena::stats on each thread):");
    let per_worker = pool.broadcast(|_| arena::stats());
    for (index, stats) in per_worker.iter().enumerate() {
        outln!("  worker {index}: {stats}");
    }
    outln!(
        "all threads (arena::global_stats): {}",
        arena::global_stats()
    );
    let s = arena_run.summary;
    outln!(
        "\nlevels: {} INFO, {} WARN, {} ERROR, {} DEBUG; slowest request {} ms",
        grouped(s.levels[0]),
        grouped(s.levels[1]),
        grouped(s.levels[2]),
        grouped(s.levels[3]),
        s.max_latency_ms
    );

    if arena_run.summary != baseline.summary {
        return Err("the arena and baseline runs computed different summaries".into());
    }
    if s.levels.iter().sum::<u64>() != lines.len() as u64 {
        return Err("some lines were not counted".into());
    }
    Ok(())
}

fn print_comparison(arena_run: &Report, baseline: &Report, lines: u64) {
    let row = |label: &str, f: &dyn Fn(&Report) -> String| {
        outln!("{label:<20}{:>16}{:>16}", f(arena_run), f(baseline));
    };
    outln!("{:<20}{:>16}{:>16}", "", "arena", "baseline");
    row("time", &|r| format!("{:.3} s", r.elapsed.as_secs_f64()));
    row("lines/s", &|r| {
        let secs = r.elapsed.as_secs_f64();
        grouped(if secs > 0.0 {
            (lines as f64 / secs) as u64
        } else {
            0
        })
    });
    row("heap allocations", &|r| grouped(r.allocations));
    row("allocations/line", &|r| {
        format!("{:.4}", r.allocations as f64 / lines.max(1) as f64)
    });

    let speedup = baseline.elapsed.as_secs_f64() / arena_run.elapsed.as_secs_f64().max(1e-9);
    let fewer = match arena_run.allocations {
        0 => "no heap allocation at all".to_owned(),
        n => format!(
            "{:.0}x fewer heap allocations",
            baseline.allocations as f64 / n as f64
        ),
    };
    outln!("\nthe arena run was {speedup:.2}x as fast as the baseline, with {fewer}");
}
