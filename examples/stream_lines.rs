//! Streams lines through one reused buffer: memory stays flat however large the input is.
//!
//! ```text
//! cargo run --release --example stream_lines
//! cargo run --release --example stream_lines -- --lines 1000000
//! cargo run --release --example stream_lines -- --input /var/log/syslog
//! ```
//!
//! Each line is read into a `String` from a [`LocalPool`]: the guard gives the string back when
//! the line is done, cleared but with its capacity, and the next `get` hands the same string out
//! again. The string grows to the longest line seen and keeps that size, so once it has met
//! the longest line, reading allocates nothing. (`BufRead::lines()` would allocate a new `String` per line;
//! `read_to_string` would hold the whole input in memory.)
//!
//! Without `--input`, the example streams `--lines` generated lines, then ten times as many, and
//! shows the same peak resident memory for both. With `--input` it streams the file once.

#[allow(dead_code)] // each example uses a different part of the helpers
mod support;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use hotpool::LocalPool;
use support::{grouped, mib, outln, Args, LineGenerator, LineSource, Rng};

// Counts heap allocations, to show that streaming makes none per line.
#[global_allocator]
static ALLOC: support::CountingAlloc = support::CountingAlloc;

const USAGE: &str = "\
Usage: cargo run --release --example stream_lines -- [OPTIONS]

Streams lines through one pooled buffer and shows that memory stays flat as the input grows.

Options:
  --lines N      lines to generate in the first pass; the second pass makes 10x as many
                 (default 1000000; ignored with --input)
  --input FILE   stream FILE once instead of generated lines
  -h, --help     print this help";

struct Options {
    lines: u64,
    input: Option<PathBuf>,
}

fn parse_options() -> Options {
    let mut opts = Options {
        lines: 1_000_000,
        input: None,
    };
    let mut args = Args::from_env(USAGE);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--lines" => opts.lines = args.number(&flag),
            "--input" => opts.input = Some(args.readable_file(&flag)),
            _ => args.unknown(&flag),
        }
    }
    opts
}

fn main() -> ExitCode {
    support::exit_status(run(&parse_options()))
}

fn run(opts: &Options) -> io::Result<()> {
    // The one buffer of the whole program. `LocalPool` suits a single thread: no atomics, no
    // locks. A string that grew past 1 MiB (a giant line) is dropped instead of kept: the
    // default `max_retained_bytes`.
    let buffers = LocalPool::new(|| String::with_capacity(256));

    match &opts.input {
        Some(path) => outln!("streaming {} through one pooled String\n", path.display()),
        None => outln!("streaming generated text through one pooled String\n"),
    }
    outln!(
        "{:>11} {:>9} {:>12} {:>8} {:>7} {:>12} {:>11} {:>9}",
        "lines",
        "MiB read",
        "words",
        "longest",
        "time",
        "allocations",
        "RSS before",
        "peak RSS"
    );
    match &opts.input {
        Some(path) => {
            stream_pass(&buffers, LineSource::open(Some(path), || Text::new(0))?)?;
        }
        None => {
            // The same kind of input, ten times larger: the peak should not move.
            let small = stream_pass(&buffers, LineSource::open(None, || Text::new(opts.lines))?)?;
            let large = opts.lines.saturating_mul(10);
            let large = stream_pass(&buffers, LineSource::open(None, || Text::new(large))?)?;
            outln!(
                "\n10x the input, peak resident memory {} -> {}",
                mib(small),
                mib(large)
            );
        }
    }

    let stats = buffers.stats();
    outln!(
        "buffer pool: {} string created, {} reuses, {} discarded",
        stats.created,
        grouped(stats.reused),
        stats.discarded
    );
    Ok(())
}

/// What a pass found in the text.
#[derive(Default)]
struct TextStats {
    lines: u64,
    bytes: u64,
    words: u64,
    longest_line: usize,
}

impl TextStats {
    fn add(&mut self, line: &str) {
        let text = line.trim_end_matches(['\n', '\r']);
        self.lines += 1;
        self.bytes += line.len() as u64;
        self.words += text.split_whitespace().count() as u64;
        self.longest_line = self.longest_line.max(text.len());
    }
}

/// Streams every line of `source` through a buffer of `buffers`, prints what it found with the
/// allocations made and the resident memory, and returns the peak resident memory.
fn stream_pass(
    buffers: &LocalPool<String>,
    mut source: LineSource<Text>,
) -> io::Result<Option<u64>> {
    let rss_before = support::current_rss();
    let rss_reset = support::reset_peak_rss();
    let allocations_before = support::allocations();
    let start = Instant::now();

    let mut found = TextStats::default();
    loop {
        // The same string every time, empty and with the capacity it grew to.
        let mut line = buffers.get();
        if !source.read_line(&mut line)? {
            break;
        }
        found.add(&line);
    } // `line` goes back to the pool here, at the end of every iteration

    let elapsed = start.elapsed().as_secs_f64();
    let allocations = support::allocations() - allocations_before;
    let peak = if rss_reset { support::peak_rss() } else { None };
    outln!(
        "{:>11} {:>9} {:>12} {:>8} {:>7} {:>12} {:>11} {:>9}",
        grouped(found.lines),
        grouped(found.bytes >> 20),
        grouped(found.words),
        found.longest_line,
        format!("{elapsed:.2} s"),
        grouped(allocations),
        mib(rss_before),
        mib(peak),
    );
    Ok(peak)
}

/// Generated text: lines of 0 to 20 words from a small vocabulary, the same on every run.
struct Text {
    rng: Rng,
    remaining: u64,
}

impl Text {
    fn new(lines: u64) -> Self {
        Text {
            rng: Rng::new(0x7E47),
            remaining: lines,
        }
    }
}

const WORDS: [&str; 16] = [
    "pool", "arena", "buffer", "thread", "cache", "depot", "guard", "scope", "bump", "reuse",
    "line", "stream", "memory", "alloc", "drop", "stats",
];

impl LineGenerator for Text {
    fn push_line(&mut self, buf: &mut String) -> bool {
        if self.remaining == 0 {
            return false;
        }
        self.remaining -= 1;
        for i in 0..self.rng.below(21) {
            if i > 0 {
                buf.push(' ');
            }
            buf.push_str(WORDS[self.rng.below(WORDS.len() as u64) as usize]);
        }
        buf.push('\n');
        true
    }
}
