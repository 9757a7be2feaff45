//! Helpers shared by the examples: command-line flags, printing to a stdout that may close,
//! resident-memory readings, an allocation counter and a small deterministic random-number
//! generator.
//!
//! Examples cannot share a library crate, so each one includes this file with `mod support;`.
//! Nothing here is part of hotpool; it only measures and feeds the examples.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

// ---------------------------------------------------------------------------------------------
// Command-line flags
// ---------------------------------------------------------------------------------------------

/// The command line, read flag by flag. Every mistake ends the program with the usage text on
/// stderr and exit code 2, naming the argument at fault. `--help` prints the usage and exits 0.
pub struct Args {
    usage: &'static str,
    rest: std::vec::IntoIter<OsString>,
    /// The value of a `--flag=value` argument, handed out by the next value call.
    inline_value: Option<String>,
}

impl Args {
    /// The program's arguments (after its name); `usage` is printed on `--help` and on errors.
    pub fn from_env(usage: &'static str) -> Self {
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        Self {
            usage,
            rest: args.into_iter(),
            inline_value: None,
        }
    }

    /// The next flag (`--name`), or `None` when the arguments are used up.
    pub fn next_flag(&mut self) -> Option<String> {
        if let Some(value) = self.inline_value.take() {
            self.fail(format_args!("unexpected value `{value}`"));
        }
        let arg = self.rest.next()?;
        let Some(arg) = arg.to_str() else {
            self.fail(format_args!("argument {arg:?} is not valid UTF-8"));
        };
        if arg == "--help" || arg == "-h" {
            print_line(format_args!("{}", self.usage));
            std::process::exit(0);
        }
        if !arg.starts_with("--") {
            self.fail(format_args!("unexpected argument `{arg}`"));
        }
        Some(match arg.split_once('=') {
            Some((flag, value)) => {
                self.inline_value = Some(value.to_owned());
                flag.to_owned()
            }
            None => arg.to_owned(),
        })
    }

    /// The value of `flag` as a number; `_` may group digits (`2_000_000`).
    pub fn number<T: FromStr>(&mut self, flag: &str) -> T {
        let raw = self.string(flag);
        let digits = raw.replace('_', "");
        match digits.parse() {
            Ok(n) => n,
            Err(_) => match NumberProblem::of(&digits) {
                NumberProblem::Negative => self.fail(format_args!("{flag}: `{raw}` is negative")),
                NumberProblem::TooLarge => self.fail(format_args!("{flag}: `{raw}` is too large")),
                _ => self.fail(format_args!("{flag}: `{raw}` is not a whole number")),
            },
        }
    }

    /// The value of `flag` as a number that must be at least 1.
    pub fn positive(&mut self, flag: &str) -> usize {
        match self.number(flag) {
            0 => self.fail(format_args!("{flag} must be at least 1")),
            n => n,
        }
    }

    /// The value of `flag` as a path (any bytes allowed).
    pub fn path(&mut self, flag: &str) -> PathBuf {
        match self.inline_value.take() {
            Some(value) => value.into(),
            None => match self.rest.next() {
                Some(value) => value.into(),
                None => self.fail(format_args!("{flag} needs a value")),
            },
        }
    }

    /// The value of `flag` as the path of a file that can be opened for reading now.
    pub fn readable_file(&mut self, flag: &str) -> PathBuf {
        let path = self.path(flag);
        match File::open(&path).and_then(|file| file.metadata()) {
            Ok(meta) if meta.is_dir() => {
                self.fail(format_args!("{flag}: {} is a directory", path.display()))
            }
            Ok(_) => path,
            Err(err) => self.fail(format_args!(
                "{flag}: cannot open {}: {err}",
                path.display()
            )),
        }
    }

    /// Rejects a flag this program does not know.
    pub fn unknown(&self, flag: &str) -> ! {
        self.fail(format_args!("unknown flag `{flag}`"))
    }

    fn string(&mut self, flag: &str) -> String {
        if let Some(value) = self.inline_value.take() {
            return value;
        }
        match self.rest.next() {
            Some(value) => match value.into_string() {
                Ok(value) => value,
                Err(value) => self.fail(format_args!("{flag}: {value:?} is not valid UTF-8")),
            },
            None => self.fail(format_args!("{flag} needs a value")),
        }
    }

    /// Ends the program as for a bad argument: `message` and the usage on stderr, exit code 2.
    pub fn fail(&self, message: fmt::Arguments<'_>) -> ! {
        eprintln!("error: {message}\n\n{}", self.usage);
        std::process::exit(2)
    }
}

/// Why a string is not a valid unsigned integer: a negative or too-large number is not the same
/// mistake as text that is no number at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NumberProblem {
    Empty,
    NotANumber,
    Negative,
    TooLarge,
}

impl NumberProblem {
    /// What is wrong with `text`, which `u64::from_str` refused.
    pub fn of(text: &str) -> Self {
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let unsigned = text.strip_prefix('+').unwrap_or(text);
        if text.is_empty() {
            NumberProblem::Empty
        } else if text.strip_prefix('-').is_some_and(all_digits) {
            NumberProblem::Negative
        } else if all_digits(unsigned) {
            NumberProblem::TooLarge // only digits, yet refused: it overflowed
        } else {
            NumberProblem::NotANumber
        }
    }

    /// Parses `text` as a `u64`, saying why it is not one.
    pub fn parse_u64(text: &str) -> Result<u64, Self> {
        text.parse().map_err(|_| Self::of(text))
    }
}

impl fmt::Display for NumberProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberProblem::Empty => "is empty",
            NumberProblem::NotANumber => "is not a number",
            NumberProblem::Negative => "is negative",
            NumberProblem::TooLarge => "is too large",
        })
    }
}

/// The exit status of an example that ran to `result`: success, or the error on stderr and a
/// failure status.
pub fn exit_status<E: fmt::Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// `println!` for a stdout that may close early (`example | head -3`): `println!` panics on
/// the broken pipe; this ends the program quietly instead, with status 0, as the reader asked
/// for no more.
macro_rules! outln {
    () => {
        $crate::support::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::support::print_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Writes one line to stdout; see [`outln!`].
pub fn print_line(line: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let written = out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(err) => {
            eprintln!("error: cannot write to stdout: {err}");
            std::process::exit(1)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Line input
// ---------------------------------------------------------------------------------------------

/// Something that makes lines on demand (test data that needs no file).
pub trait LineGenerator {
    /// Appends the next line, with its `\n`, to `buf`; `false` when there are no more.
    fn push_line(&mut self, buf: &mut String) -> bool;
}

/// Lines read from a file, or made by a generator. Either way the next line is appended to a
/// buffer the caller owns, so reading allocates nothing per line once the buffer is warm.
pub enum LineSource<G> {
    File {
        reader: BufReader<File>,
        path: PathBuf,
    },
    /// The generator, and a line buffer for callers that collect bytes (`read_line_bytes`).
    Generated(G, String),
}

impl<G: LineGenerator> LineSource<G> {
    /// Reads `path` if given, otherwise the lines of `generator`.
    pub fn open(path: Option<&Path>, generator: impl FnOnce() -> G) -> io::Result<Self> {
        match path {
            Some(path) => match File::open(path) {
                Ok(file) => Ok(LineSource::File {
                    reader: BufReader::new(file),
                    path: path.to_owned(),
                }),
                Err(err) => Err(in_file(path, "cannot open", err)),
            },
            None => Ok(LineSource::Generated(generator(), String::new())),
        }
    }

    /// Appends the next line to `buf`; `Ok(false)` at the end of the input.
    pub fn read_line(&mut self, buf: &mut String) -> io::Result<bool> {
        match self {
            LineSource::File { reader, path } => match reader.read_line(buf) {
                Ok(n) => Ok(n > 0),
                Err(err) => Err(in_file(path, "cannot read", err)),
            },
            LineSource::Generated(generator, _) => Ok(generator.push_line(buf)),
        }
    }

    /// Appends the next line to a byte buffer (a pooled `Vec<u8>`); `Ok(false)` at the end of
    /// the input. A file's bytes are not checked for UTF-8 here.
    pub fn read_line_bytes(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        match self {
            LineSource::File { reader, path } => match reader.read_until(b'\n', buf) {
                Ok(n) => Ok(n > 0),
                Err(err) => Err(in_file(path, "cannot read", err)),
            },
            LineSource::Generated(generator, line) => {
                line.clear();
                let more = generator.push_line(line);
                buf.extend_from_slice(line.as_bytes());
                Ok(more)
            }
        }
    }
}

/// `err` with the file and the operation named in its message.
fn in_file(path: &Path, what: &str, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {}: {err}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Resident memory (Linux /proc; "n/a" elsewhere)
// ---------------------------------------------------------------------------------------------

/// Resets the process's peak resident set size ("high-water mark") to its current size, so the
/// next [`peak_rss`] reading covers only what ran in between. Returns `false` where that is not
/// possible (not Linux, or /proc not writable); the readings then cover the whole process life.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident set size since the last reset ([`reset_peak_rss`]), in bytes.
pub fn peak_rss() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// The current resident set size, in bytes.
pub fn current_rss() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|kib| kib * 1024)
}

fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Bytes as MiB with one decimal, or "n/a" when there is no reading.
pub fn mib(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
        None => "n/a".to_owned(),
    }
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------------------------

/// The system allocator, counting every call that hands out memory (`alloc`, `alloc_zeroed`,
/// `realloc`). Install it with `#[global_allocator]` and read [`allocations`] before and after
/// the code to measure.
///
/// The count is spread over cache-line-sized shards picked per thread: a single shared counter
/// would make every allocation of every thread fight over one cache line, and slow down the code
/// that allocates most — the very code being compared.
pub struct CountingAlloc;

const SHARDS: usize = 16;

#[repr(align(128))]
struct Shard(AtomicU64);

#[allow(clippy::declare_interior_mutable_const)] // only used to initialize `COUNTS`
const ZERO: Shard = Shard(AtomicU64::new(0));
static COUNTS: [Shard; SHARDS] = [ZERO; SHARDS];

thread_local! {
    // Const-initialized and without a destructor, so the allocator may use it: touching it never
    // allocates. Its address differs per thread, which is all the shard choice needs.
    static THREAD_MARK: Cell<u8> = const { Cell::new(0) };
}

fn count_one() {
    let addr = THREAD_MARK.with(|mark| mark as *const Cell<u8> as usize);
    // Fibonacci hashing: the top bits of the product mix all bits of the address.
    let shard = (addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60;
    COUNTS[shard as usize % SHARDS]
        .0
        .fetch_add(1, Ordering::Relaxed);
}

/// Allocator calls that handed out memory so far, over all threads.
pub fn allocations() -> u64 {
    COUNTS.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees are ours; counting touches only atomics and a destructor-less thread-local, and never
// allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic pseudo-random numbers
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and the same sequence on every platform, so generated inputs (and the
/// checksums computed from them) are reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`); the tiny modulo bias does not matter for test data.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
