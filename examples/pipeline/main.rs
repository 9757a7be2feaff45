//! A record-processing pipeline, run twice: once with hotpool (pooled chunk buffers and
//! per-thread arenas) and once with plain allocation, then compared side by side.
//!
//! ```text
//! cargo run --release --example pipeline
//! cargo run --release --example pipeline -- --records 5000000 --threads 4 --chunk-lines 256
//! cargo run --release --example pipeline -- --input records.csv
//! ```
//!
//! The pipeline is the shape of many log and ETL jobs:
//!
//! 1. a reader thread fills chunks of `--chunk-lines` lines (`user_id,region,amount,tags...`),
//!    generated on the fly or streamed from `--input FILE`;
//! 2. a bounded channel carries the chunks to `--threads` workers (the bound is the
//!    back-pressure that keeps memory flat when the workers fall behind);
//! 3. each worker splits lines into fields, parses them into records, sorts a chunk's records by
//!    region and adds them to its running totals; the totals are merged at the end.
//!
//! The two runs execute the same code and differ only in where memory comes from:
//!
//! | what                    | pooled run                                   | plain run           |
//! |-------------------------|----------------------------------------------|---------------------|
//! | chunk buffer            | `BufferPool::get_owned()`, back on drop      | a new `String`      |
//! | fields of a record      | arena `Vec<&str>` reused for the whole chunk | a new `Vec<&str>`   |
//! | a chunk's records       | arena `Vec<Record>`, rewound after the chunk | a new `Vec<Record>` |
//!
//! Both runs print a checksum of their totals, and the program exits with an error if they
//! differ. Everything is integer arithmetic, so the totals do not depend on thread timing.
//!
//! A line that is not a record is skipped, not fatal; the summary says how many lines were
//! skipped for each reason (a missing field, a number that is negative, too large or no number
//! at all, ...) and shows the first such line with its line number. Output piped into a
//! program that stops reading (`| head -3`) ends the run quietly.

mod records;
#[allow(dead_code)] // each example uses a different part of the helpers
#[path = "../support/mod.rs"]
mod support;

use std::error::Error;
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hotpool::arena;
use hotpool::{BufferPool, OwnedBuffer};
use records::{Record, Totals};
use support::{grouped, mib, outln, Args, LineGenerator, LineSource, Rng};

/// The input of a run: generated records, or the lines of `--input`.
type Lines = LineSource<Generator>;

// Counts heap allocations, to show how many each run makes per record.
#[global_allocator]
static ALLOC: support::CountingAlloc = support::CountingAlloc;

const USAGE: &str = "\
Usage: cargo run --release --example pipeline -- [OPTIONS]

Runs a parse-and-aggregate pipeline twice, with hotpool (pooled buffers, per-thread arenas)
and with plain allocation, and compares speed, heap allocations and peak memory.

Options:
  --records N       records to generate per run, 0 or more (default 2000000; ignored with
                    --input)
  --threads N       worker threads (default 2)
  --chunk-lines N   lines per chunk sent to a worker (default 1024)
  --input FILE      read records from FILE, one per line (user_id,region,amount,tags...),
                    instead of generating them; lines that are not records are skipped
                    and reported
  -h, --help        print this help";

/// Buffers that grew past this (a chunk with giant lines) are dropped instead of pooled, so one
/// odd chunk does not pin its memory for the rest of the run.
const MAX_POOLED_CHUNK_BYTES: usize = 8 << 20;
/// What a chunk buffer is sized for, per line, when it is taken from the pool (generated lines
/// are 20 to 60 bytes); a chunk of longer lines grows and goes back to a bigger class.
const TYPICAL_LINE_BYTES: usize = 64;

struct Options {
    records: u64,
    threads: usize,
    chunk_lines: usize,
    input: Option<PathBuf>,
}

fn parse_options() -> Options {
    let mut opts = Options {
        records: 2_000_000,
        threads: 2,
        chunk_lines: 1024,
        input: None,
    };
    let mut args = Args::from_env(USAGE);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--records" => opts.records = args.number(&flag),
            "--threads" => opts.threads = args.positive(&flag),
            "--chunk-lines" => opts.chunk_lines = args.positive(&flag),
            "--input" => opts.input = Some(args.readable_file(&flag)),
            _ => args.unknown(&flag),
        }
    }
    opts
}

fn main() -> ExitCode {
    support::exit_status(compare(&parse_options()))
}

/// Runs both variants and prints the comparison; an error if their results differ.
fn compare(opts: &Options) -> Result<(), Box<dyn Error>> {
    let source = match &opts.input {
        Some(path) => format!("records from {}", path.display()),
        None => format!("{} generated records", grouped(opts.records)),
    };
    outln!(
        "pipeline: {source}, {} worker threads, {} lines per chunk\n",
        opts.threads,
        opts.chunk_lines
    );
    if opts.input.is_none() && opts.records == 0 {
        outln!("nothing to compare: --records 0 makes no input");
        return Ok(());
    }

    // Buffers flow one way: the reader takes them, the workers return them. A returned buffer
    // goes to the returning thread's cache first, and reaches the reader only when that cache
    // overflows into the shared depot; a small cache keeps few buffers parked on the workers.
    // A chunk that grew into a bigger size class goes back to that class; one past `max_size`
    // (giant lines) is freed instead of pinning its memory for the rest of the run.
    let chunks = BufferPool::builder()
        .name("pipeline chunks")
        .max_size(MAX_POOLED_CHUNK_BYTES)
        .thread_cache(4)
        .build()
        .expect("a valid pool configuration");
    let chunk_bytes = opts.chunk_lines * TYPICAL_LINE_BYTES;
    // The pooled run goes first: the plain run then starts on a heap the allocator has already
    // grown, which if anything flatters the plain run.
    let pooled = run(opts, || chunks.get_owned(chunk_bytes), parse_chunk_in_arena)?;
    let pool_stats = chunks.stats();
    let arena_stats = arena::global_stats();
    let plain = run(opts, String::new, parse_chunk_plain)?;

    if pooled.totals.lines() == 0 {
        outln!("nothing to compare: the input has no lines");
        return Ok(());
    }
    print_comparison(&pooled, &plain);
    // What the pool did during the pooled run: a handful of buffers served every chunk.
    outln!("\nchunk pool: {pool_stats}");
    // What the workers' arenas did: one warm arena per worker, rewound after every chunk.
    outln!("arenas: {arena_stats}");
    outln!("\n{}", plain.totals.summary());
    plain.totals.print_skipped();

    if pooled.totals.checksum() != plain.totals.checksum() {
        return Err("the pooled and plain runs computed different totals".into());
    }
    outln!("checksums equal: both runs computed the same totals");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Running the pipeline
// ---------------------------------------------------------------------------------------------

/// What one run measured and computed.
struct RunReport {
    elapsed: Duration,
    allocations: u64,
    peak_rss: Option<u64>,
    totals: Totals,
}

/// A chunk of input lines on its way to a worker: a pooled byte buffer in the pooled run, a
/// fresh `String` in the plain run. Everything else in the pipeline is the same code for both.
trait Chunk: Send {
    /// Appends the next input line; `Ok(false)` at the end of the input.
    fn read_line(&mut self, lines: &mut Lines) -> io::Result<bool>;
    /// The lines read so far (checked to be UTF-8 by `read_chunks`).
    fn text(&self) -> &str;
    /// Checks that the chunk is text, as `BufRead::read_line` does for a `String`.
    fn check(&self) -> io::Result<()>;
}

impl Chunk for String {
    fn read_line(&mut self, lines: &mut Lines) -> io::Result<bool> {
        lines.read_line(self)
    }
    fn text(&self) -> &str {
        self
    }
    fn check(&self) -> io::Result<()> {
        Ok(()) // `read_line` already refused invalid UTF-8
    }
}

impl Chunk for OwnedBuffer {
    fn read_line(&mut self, lines: &mut Lines) -> io::Result<bool> {
        lines.read_line_bytes(self)
    }
    fn text(&self) -> &str {
        std::str::from_utf8(self).expect("`check` ran before the chunk was sent")
    }
    fn check(&self) -> io::Result<()> {
        std::str::from_utf8(self)
            .map(drop)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
    }
}

/// Reads the input in chunks made by `new_chunk`, parses them on worker threads with
/// `parse_chunk`, and measures the whole thing.
fn run<C: Chunk>(
    opts: &Options,
    new_chunk: impl FnMut() -> C,
    parse_chunk: ParseChunk,
) -> io::Result<RunReport> {
    let mut lines = Lines::open(opts.input.as_deref(), || Generator::new(opts.records))?;
    let rss_reset = support::reset_peak_rss();
    let allocations_before = support::allocations();
    let start = Instant::now();

    // Two chunks in flight per worker keep every worker busy while bounding the memory held by
    // chunks that wait in the channel.
    let (sender, receiver) = sync_channel::<Numbered<C>>(2 * opts.threads);
    let receiver = Mutex::new(receiver);
    let totals = std::thread::scope(|s| {
        let workers: Vec<_> = (0..opts.threads)
            .map(|_| s.spawn(|| work(&receiver, parse_chunk)))
            .collect();
        let read = read_chunks(&mut lines, new_chunk, opts.chunk_lines, sender);
        // Join the workers even when reading failed: the sender is gone, so they finish.
        let mut totals = Totals::default();
        for worker in workers {
            totals.merge(worker.join().expect("a worker panicked"));
        }
        read.map(|()| totals)
    })?;

    Ok(RunReport {
        elapsed: start.elapsed(),
        allocations: support::allocations() - allocations_before,
        peak_rss: if rss_reset { support::peak_rss() } else { None },
        totals,
    })
}

/// Parses one chunk whose first line has number `first_line` (from 1) into the totals.
type ParseChunk = fn(&str, u64, &mut Totals);

/// A chunk and the line number of its first line, so that a skipped line can be named.
struct Numbered<C> {
    first_line: u64,
    chunk: C,
}

/// The reader: fills chunks of `chunk_lines` lines and sends them, until the input ends.
fn read_chunks<C: Chunk>(
    lines: &mut Lines,
    mut new_chunk: impl FnMut() -> C,
    chunk_lines: usize,
    sender: SyncSender<Numbered<C>>,
) -> io::Result<()> {
    let mut first_line = 1;
    loop {
        let mut chunk = new_chunk();
        let mut count = 0;
        while count < chunk_lines && chunk.read_line(lines)? {
            count += 1;
        }
        if count == 0 {
            return Ok(()); // dropping `sender` tells the workers the input is over
        }
        chunk.check()?;
        let numbered = Numbered { first_line, chunk };
        first_line += count as u64;
        if sender.send(numbered).is_err() {
            return Ok(()); // every worker is gone; the join reports why
        }
    }
}

/// A worker: parses chunks until the channel closes, and returns its totals.
fn work<C: Chunk>(receiver: &Mutex<Receiver<Numbered<C>>>, parse_chunk: ParseChunk) -> Totals {
    let mut totals = Totals::default();
    loop {
        // The lock is held only while receiving (the guard is a temporary of this statement),
        // so workers parse in parallel.
        let next = receiver.lock().expect("a worker panicked").recv();
        let Ok(Numbered { first_line, chunk }) = next else {
            return totals;
        };
        parse_chunk(chunk.text(), first_line, &mut totals);
        // `chunk` drops here. In the pooled run that returns the buffer to the pool from this
        // thread; the reader picks it up again through the pool's shared depot.
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing a chunk: the two variants
// ---------------------------------------------------------------------------------------------

/// The pooled variant: every temporary lives in this thread's arena. Nothing is freed one by
/// one; the scope rewinds the arena in one step when the chunk is done, and the next chunk reuses
/// the same memory, so a warm worker makes no heap allocation at all.
fn parse_chunk_in_arena(text: &str, first_line: u64, totals: &mut Totals) {
    arena::scope(|s| {
        let mut records = s.vec();
        let mut fields = s.vec(); // one field list, reused for every line of the chunk
        for (number, line) in (first_line..).zip(text.lines()) {
            fields.clear();
            fields.extend(line.split(','));
            match Record::parse(&fields) {
                Ok(record) => records.push(record),
                Err(why) => totals.skip(why, number, line),
            }
        }
        totals.add_chunk(&mut records);
    });
}

/// The plain variant, as straightforward code writes it: a new `Vec` for each line's fields and
/// for each chunk's records, freed as soon as it is no longer needed.
fn parse_chunk_plain(text: &str, first_line: u64, totals: &mut Totals) {
    let mut records = Vec::new();
    for (number, line) in (first_line..).zip(text.lines()) {
        let fields: Vec<&str> = line.split(',').collect();
        match Record::parse(&fields) {
            Ok(record) => records.push(record),
            Err(why) => totals.skip(why, number, line),
        }
    }
    totals.add_chunk(&mut records);
}

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

const REGIONS: [&str; 8] = [
    "us-east",
    "us-west",
    "eu-west",
    "eu-central",
    "ap-south",
    "ap-east",
    "sa-east",
    "af-south",
];
const TAGS: [&str; 8] = [
    "new", "vip", "mobile", "web", "promo", "refund", "gift", "bulk",
];

/// Deterministic pseudo-random records, made on demand: no data file, and the same records for
/// both runs (each run makes its own generator from the same seed).
struct Generator {
    rng: Rng,
    remaining: u64,
}

impl Generator {
    fn new(records: u64) -> Self {
        Generator {
            rng: Rng::new(0x5EED),
            remaining: records,
        }
    }
}

impl LineGenerator for Generator {
    /// Appends one record line such as `48213,eu-west,172.05,vip,web\n`.
    fn push_line(&mut self, buf: &mut String) -> bool {
        if self.remaining == 0 {
            return false;
        }
        self.remaining -= 1;
        let rng = &mut self.rng;
        let user_id = rng.below(1_000_000);
        let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
        let cents = rng.below(50_000);
        // Writing to a `String` cannot fail.
        let _ = write!(buf, "{user_id},{region},{}.{:02}", cents / 100, cents % 100);
        for _ in 0..rng.below(5) {
            buf.push(',');
            buf.push_str(TAGS[rng.below(TAGS.len() as u64) as usize]);
        }
        buf.push('\n');
        true
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

fn print_comparison(pooled: &RunReport, plain: &RunReport) {
    let row = |label: &str, f: &dyn Fn(&RunReport) -> String| {
        outln!("{label:<20}{:>18}{:>18}", f(pooled), f(plain));
    };
    outln!("{:<20}{:>18}{:>18}", "", "pooled", "plain");
    row("records", &|r| grouped(r.totals.records()));
    row("time", &|r| format!("{:.3} s", r.elapsed.as_secs_f64()));
    row("records/s", &|r| grouped(records_per_second(r)));
    row("allocations", &|r| grouped(r.allocations));
    row("allocations/record", &|r| {
        format!(
            "{:.4}",
            r.allocations as f64 / r.totals.records().max(1) as f64
        )
    });
    row("peak RSS", &|r| mib(r.peak_rss));
    row("checksum", &|r| format!("{:016x}", r.totals.checksum()));
}

fn records_per_second(report: &RunReport) -> u64 {
    let secs = report.elapsed.as_secs_f64();
    if secs > 0.0 {
        (report.totals.records() as f64 / secs) as u64
    } else {
        0
    }
}
