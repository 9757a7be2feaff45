//! The project's `pool/single` targets, which are ratios between cases, measured with the cases
//! interleaved so that both sides of every ratio are timed within milliseconds of each other.
//!
//! # What it measures
//!
//! The `pool/single` workload of `benches/pool.rs`, the same code (`support/workload.rs`): take a
//! 4 KiB-capacity `Vec<u8>`, write 64 bytes to it, give it back, with the same sources as the
//! `pool/single` cases of the same names: `hotpool`, `hotpool_max_live`, `hotpool_local`,
//! `tls_freelist_box`, `freelist_box`, `glibc`, `jemalloc`, `mimalloc` and `lockfree_linear` (the
//! best peer crate). Plus `hotpool threads/2`: the `hotpool` round on two threads at once, each
//! with its own iterations on one shared `Pool` (a pool of its own, as `pool/threads/2` builds one),
//! for the target "`pool/threads/2` per op <= 1.3x `pool/single`".
//!
//! # Why interleaved
//!
//! The project's machine switches between two speed levels for periods of seconds, for all code
//! at once (figures and how it was found: "Methodology: the bench gap" in `benches/README.md`).
//! `pool.rs` runs each case for 1.5 s, one case after another, so two cases a few seconds apart
//! can land in different levels. Here every case runs for one short slice (about 2 ms) per round,
//! in an order shuffled each round, and every ratio is taken between two slices of the same
//! round: a level switch moves both sides of the ratio, and the few rounds that straddle a switch
//! land in the tails of the distribution, not in its median.
//!
//! # How it runs
//!
//! Everything runs on one fresh thread (spawned and joined by `main`), plus, for the two-thread
//! check, two worker threads that live for the whole run and wait on a channel between rounds.
//!
//! 1. Each source is built and checked once: objects must come back cleared.
//! 2. Calibration: each case is warmed up for about 100 ms, then gets a slice length (iterations)
//!    that takes about 2 ms (the median of its last warm-up runs). The two-thread check uses the
//!    `hotpool` slice length on each thread and is warmed up the same way.
//! 3. R rounds (default 100): each runs every case for one slice, in an order shuffled per round
//!    (xorshift64, fixed seed: the same orders every run), then `hotpool` on the two workers at
//!    once (released together by a `Barrier`; the slower thread's time counts). Each slice is
//!    timed with `Instant` and recorded as ns per round trip.
//!
//! A default run takes a few seconds after the build.
//!
//! ```text
//! cargo bench --bench ratios                    # 100 rounds
//! cargo bench --bench ratios -- --rounds 300    # more rounds
//! cargo bench --bench ratios -- --quick         # smoke run: 10 rounds of 0.5 ms slices, 20 ms warm-up
//! ```
//!
//! Other arguments (`--bench`, which `cargo bench` passes, criterion filters given to
//! `cargo bench` for all targets) are ignored.
//!
//! # Output
//!
//! Cases table, one row per case, ns per round trip:
//! - `iters/slice`: the calibrated slice length;
//! - `median`, `min`: over the rounds' slices of that case.
//!
//! Ratios table, one row per target:
//! - `target`: the project's bar (`-` where the ratio is only informative);
//! - `median`, `p10`, `p90`: median, 10th and 90th percentile over the rounds of the per-round
//!   ratio (numerator's slice over denominator's slice of the same round);
//! - `of medians`: the median of the numerator's slices over the median of the denominator's,
//!   for comparison (what comparing two medians of separate runs would give, minus the drift);
//! - `verdict`: `met` if the per-round median is at or below the target, else `missed`.
//!
//! Last, the reference case `hotpool_local` across rounds (min, median, max ns): how far the
//! machine's speed moved during the run.

use std::env;
use std::process;
use std::sync::{mpsc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hotpool::{LocalPool, Pool};
use lockfree_object_pool::LinearObjectPool;

#[path = "support/alloc.rs"]
mod allocators;
// Both hold items only `benches/pool.rs` uses (its other sources, sharded-slab's buffer).
#[allow(dead_code)]
#[path = "support/sources.rs"]
mod sources;
#[allow(dead_code)]
#[path = "support/workload.rs"]
mod workload;
use allocators::{Jemalloc, MiMalloc};
use sources::{FreeList, Plain, Source, TlsFreeList, TLS_BOXES};
// `SlabBuf` and `SlabPool` only for `support/sources.rs`, which names them.
use workload::{alloc_buf, assert_returns_cleared, new_buf, round, Payload, SlabBuf, SlabPool};

/// The reference case: its spread across rounds shows the machine's speed levels.
const REFERENCE: &str = "hotpool_local";
/// The two-thread check's row.
const THREADS_2: &str = "hotpool threads/2";
/// Seed of the shuffles.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// The targets: numerator, denominator, bar (`None`: informative only).
const RATIOS: [(&str, &str, Option<f64>); 7] = [
    ("hotpool", "hotpool_local", Some(1.3)),
    ("hotpool", "jemalloc", Some(0.75)),
    ("hotpool", "mimalloc", None),
    ("hotpool_max_live", "hotpool", Some(1.5)),
    ("hotpool_local", "tls_freelist_box", Some(1.0)),
    ("hotpool", "lockfree_linear", None),
    (THREADS_2, "hotpool", Some(1.3)),
];

/// What the arguments ask for.
struct Config {
    rounds: usize,
    slice: Duration,
    warm_up: Duration,
}

impl Config {
    /// `--rounds N` (or `--rounds=N`), `--quick`; anything else is ignored.
    fn from_args() -> Config {
        let (mut rounds, mut quick) = (None, false);
        let mut args = env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--quick" {
                quick = true;
            } else if arg == "--rounds" {
                rounds = Some(parse_rounds(args.next()));
            } else if let Some(n) = arg.strip_prefix("--rounds=") {
                rounds = Some(parse_rounds(Some(n.to_owned())));
            }
        }
        let (default_rounds, slice, warm_up) = if quick {
            (10, Duration::from_micros(500), Duration::from_millis(20))
        } else {
            (100, Duration::from_millis(2), Duration::from_millis(100))
        };
        Config {
            rounds: rounds.unwrap_or(default_rounds),
            slice,
            warm_up,
        }
    }
}

fn parse_rounds(arg: Option<String>) -> usize {
    match arg.as_deref().map(str::parse) {
        Some(Ok(n)) if n > 0 => n,
        _ => {
            eprintln!("ratios: --rounds takes a number of rounds, at least 1");
            process::exit(2);
        }
    }
}

/// A small deterministic PRNG (xorshift64) for the per-round orders.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Runs a slice of `iters` round trips and returns its time.
type Slice<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// One `pool/single` case: its measured loop (the same loop as `pool.rs`'s `serve_single`) and
/// its slice length.
struct Case<'a> {
    name: &'static str,
    run: Slice<'a>,
    iters: u64,
}

/// Checks `source` and wraps its measured loop.
fn case<'a, T: Payload, S: Source<T> + 'a>(name: &'static str, mut source: S) -> Case<'a> {
    assert_returns_cleared(&mut source);
    Case {
        name,
        run: Box::new(move |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                round(&mut source);
            }
            start.elapsed()
        }),
        iters: 0,
    }
}

/// One case's results: ns per round trip, one entry per round.
struct Series {
    name: &'static str,
    iters: u64,
    ns: Vec<f64>,
}

/// Everything the measuring thread hands back.
struct Run {
    series: Vec<Series>,
    calibration: Duration,
    rounds: Duration,
}

fn ns_per_iter(time: Duration, iters: u64) -> f64 {
    time.as_nanos() as f64 / iters as f64
}

/// Warms `run` up for about `warm_up` and returns the iterations of a slice of about `slice`:
/// runs double in length until one lasts `slice`, then repeat at that length; the median time per
/// iteration of those sets the slice length.
fn calibrate(run: &mut dyn FnMut(u64) -> Duration, warm_up: Duration, slice: Duration) -> u64 {
    let start = Instant::now();
    let mut iters = 1_u64;
    let mut per_iter = Vec::new();
    while per_iter.is_empty() || start.elapsed() < warm_up {
        let time = run(iters);
        if time >= slice {
            per_iter.push(ns_per_iter(time, iters));
        } else {
            iters = iters.saturating_mul(2);
        }
    }
    let ns = median(&per_iter);
    ((slice.as_nanos() as f64 / ns).round() as u64).max(1)
}

/// The measurement, on the calling thread (a fresh one) and two workers.
fn measure(config: &Config) -> Run {
    let started = Instant::now();
    // The sources of `pool.rs`'s `pool/single` cases of the same names.
    let pool = Pool::new(new_buf);
    let max_live = Pool::builder(new_buf).max_live(1 << 20).build().unwrap();
    let local = LocalPool::new(new_buf);
    let linear = LinearObjectPool::new(new_buf, Vec::clear);
    let mut cases = vec![
        case("hotpool", || pool.get()),
        case("hotpool_max_live", || max_live.get()),
        case("hotpool_local", || local.get()),
        case("tls_freelist_box", TlsFreeList(&TLS_BOXES)),
        case("freelist_box", FreeList::<Box<Vec<u8>>>::default()),
        case("glibc", || Plain(new_buf())),
        case("jemalloc", alloc_buf::<Jemalloc>),
        case("mimalloc", alloc_buf::<MiMalloc>),
        case("lockfree_linear", || linear.pull()),
    ];
    for case in &mut cases {
        case.iters = calibrate(&mut case.run, config.warm_up, config.slice);
    }
    let hotpool = cases.iter().position(|c| c.name == "hotpool").unwrap();
    let pair_iters = cases[hotpool].iters;

    // `pool/threads/2`: its own pool, shared by two workers that wait for orders between rounds.
    let shared = Pool::new(new_buf);
    let start = Barrier::new(2);
    thread::scope(|scope| {
        let (report, times) = mpsc::channel();
        let (orders, workers): (Vec<_>, Vec<_>) = (0..2)
            .map(|_| {
                let (order, orders) = mpsc::channel::<u64>();
                let (start, report) = (&start, report.clone());
                let mut source = || shared.get();
                let worker = scope.spawn(move || {
                    assert_returns_cleared(&mut source);
                    for iters in orders {
                        start.wait();
                        let t0 = Instant::now();
                        for _ in 0..iters {
                            round(&mut source);
                        }
                        report.send(t0.elapsed()).unwrap();
                    }
                });
                (order, worker)
            })
            .collect();
        drop(report);
        // One slice on both workers; the slower one's time.
        let pair = |iters: u64| {
            for order in &orders {
                order.send(iters).unwrap();
            }
            let first = times.recv().expect("a worker panicked");
            let second = times.recv().expect("a worker panicked");
            first.max(second)
        };
        let warm = Instant::now();
        while warm.elapsed() < config.warm_up {
            pair(pair_iters);
        }
        let calibration = started.elapsed();

        let mut series: Vec<Series> = cases
            .iter()
            .map(|c| Series {
                name: c.name,
                iters: c.iters,
                ns: Vec::with_capacity(config.rounds),
            })
            .collect();
        let mut pair_ns = Vec::with_capacity(config.rounds);
        let mut rng = XorShift(SEED);
        let mut order: Vec<usize> = (0..cases.len()).collect();
        let rounds_started = Instant::now();
        for _ in 0..config.rounds {
            rng.shuffle(&mut order);
            for &i in &order {
                let case = &mut cases[i];
                let time = (case.run)(case.iters);
                series[i].ns.push(ns_per_iter(time, case.iters));
            }
            pair_ns.push(ns_per_iter(pair(pair_iters), pair_iters));
        }
        let rounds = rounds_started.elapsed();
        series.push(Series {
            name: THREADS_2,
            iters: pair_iters,
            ns: pair_ns,
        });

        // Ends the workers' loops; a native join also waits for their thread-local destructors.
        drop(orders);
        for worker in workers {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Run {
            series,
            calibration,
            rounds,
        }
    })
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    values
}

/// The `p`-quantile (0..=1) of `values`, interpolated between the two nearest ranks.
fn percentile(values: &[f64], p: f64) -> f64 {
    let values = sorted(values);
    let rank = p * (values.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    values[low] + (values[high] - values[low]) * (rank - low as f64)
}

fn median(values: &[f64]) -> f64 {
    percentile(values, 0.5)
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn report(config: &Config, run: &Run) {
    let series = |name: &str| -> &Series {
        run.series
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no case {name}"))
    };
    println!(
        "ratios: {} rounds, slices of ~{:.1} ms, each case warmed up {} ms; order shuffled per round",
        config.rounds,
        config.slice.as_secs_f64() * 1e3,
        config.warm_up.as_millis(),
    );
    println!();
    println!("ns per round trip, over the rounds");
    println!(
        "{:<20} {:>12} {:>9} {:>9}",
        "case", "iters/slice", "median", "min"
    );
    for s in &run.series {
        println!(
            "{:<20} {:>12} {:>9.2} {:>9.2}",
            s.name,
            s.iters,
            median(&s.ns),
            min(&s.ns)
        );
    }
    println!();
    println!("per-round ratios (two slices of the same round)");
    println!(
        "{:<38} {:>7} {:>7} {:>7} {:>7} {:>11}  verdict",
        "ratio", "target", "median", "p10", "p90", "of medians"
    );
    for (num, den, target) in RATIOS {
        let (n, d) = (series(num), series(den));
        let per_round: Vec<f64> = n.ns.iter().zip(&d.ns).map(|(n, d)| n / d).collect();
        let mid = median(&per_round);
        let label = if num == THREADS_2 {
            format!("{num} / {den} single")
        } else {
            format!("{num} / {den}")
        };
        let (target, verdict) = match target {
            Some(t) => (
                format!("<= {t:.2}"),
                if mid <= t { "met" } else { "missed" },
            ),
            None => ("-".to_owned(), "-"),
        };
        println!(
            "{:<38} {:>7} {:>7.3} {:>7.3} {:>7.3} {:>11.3}  {}",
            label,
            target,
            mid,
            percentile(&per_round, 0.1),
            percentile(&per_round, 0.9),
            median(&n.ns) / median(&d.ns),
            verdict
        );
    }
    println!();
    let reference = &series(REFERENCE).ns;
    println!(
        "machine speed, reference {REFERENCE} across rounds: min {:.2}, median {:.2}, max {:.2} ns \
         (max/min {:.2})",
        min(reference),
        median(reference),
        max(reference),
        max(reference) / min(reference)
    );
    println!(
        "time: {:.1} s checks, warm-up and calibration, {:.1} s rounds",
        run.calibration.as_secs_f64(),
        run.rounds.as_secs_f64()
    );
}

fn main() {
    let config = Config::from_args();
    let run = thread::scope(|scope| {
        let measuring = thread::Builder::new()
            .name("ratios".into())
            .spawn_scoped(scope, || measure(&config))
            .unwrap();
        measuring
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    report(&config, &run);
}
