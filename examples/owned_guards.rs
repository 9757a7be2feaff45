//! Owned guards crossing threads: a tiny request/response server whose buffers are taken on one
//! thread and given back on another.
//!
//! ```text
//! cargo run --release --example owned_guards
//! cargo run --release --example owned_guards -- --requests 1000000 --workers 4
//! ```
//!
//! - The accept loop (the main thread) takes a request buffer from a `Pool<Vec<u8>>` with
//!   [`get_owned`](Pool::get_owned), fills it, and sends it to a worker through a channel.
//! - A worker handles the request, writes the response into a `Pool<String>` buffer, and sends
//!   it on to the writer thread. The request buffer drops on the worker.
//! - The writer "sends" the response and drops its buffer.
//!
//! So no buffer ever goes back to its pool from the thread that took it. A returned buffer lands
//! in the returning thread's cache, which passes full batches to the pool's shared depot, where
//! the taking thread finds them. The pool statistics at the end show it: a few dozen buffers
//! served every request, and none is left in use.
//!
//! An [`OwnedPooled`] holds an `Arc` of its pool instead of borrowing it, so it is `'static` and
//! `Send` (for `T: Send`): it can go into a channel or a `std::thread::spawn` closure, and, with
//! an async runtime, into a spawned task or across an `.await`. This example needs no runtime,
//! but the guards it uses are exactly the ones a task would hold.

#[allow(dead_code)] // each example uses a different part of the helpers
mod support;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use hotpool::{OwnedPooled, Pool, PoolStats, Recycle};
use support::{grouped, outln, Args, Rng};

// Counts heap allocations, to show that a warm server makes none per request.
#[global_allocator]
static ALLOC: support::CountingAlloc = support::CountingAlloc;

const USAGE: &str = "\
Usage: cargo run --release --example owned_guards -- [OPTIONS]

A request/response server whose pooled buffers are taken on one thread and returned on another.

Options:
  --requests N   requests to serve (default 200000)
  --workers N    worker threads (default 2)
  -h, --help     print this help";

/// Request bodies are 64 bytes to 4 KiB.
const MAX_BODY: usize = 4096;

/// Requests (or responses) a channel holds before its sender waits. Together with the thread
/// caches, this bounds how many buffers are in flight, and so how many the pools ever create.
const QUEUE: usize = 16;

struct Options {
    requests: u64,
    workers: usize,
}

fn parse_options() -> Options {
    let mut opts = Options {
        requests: 200_000,
        workers: 2,
    };
    let mut args = Args::from_env(USAGE);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--requests" => opts.requests = args.number(&flag),
            "--workers" => opts.workers = args.positive(&flag),
            _ => args.unknown(&flag),
        }
    }
    opts
}

/// A request on its way to a worker; its body buffer belongs to the request pool.
struct Request {
    id: u64,
    body: OwnedPooled<Vec<u8>>,
}

/// A response on its way to the writer; its text buffer belongs to the response pool.
struct Response {
    id: u64,
    text: OwnedPooled<String>,
}

// What lets the guards travel: checked at compile time.
const _: () = {
    const fn send_and_static<T: Send + 'static>() {}
    send_and_static::<OwnedPooled<Vec<u8>>>();
    send_and_static::<Request>();
    send_and_static::<Response>();
};

fn main() -> ExitCode {
    support::exit_status(run(&parse_options()))
}

fn run(opts: &Options) -> Result<(), String> {
    let request_pool = buffer_pool(|| Vec::with_capacity(MAX_BODY));
    // Shared with the worker threads, which outlive any borrow: an `Arc`.
    let response_pool = Arc::new(buffer_pool(|| String::with_capacity(128)));

    let allocations_before = support::allocations();
    let start = Instant::now();
    let (responses, digest) = run_server(opts, &request_pool, &response_pool);
    let elapsed = start.elapsed().as_secs_f64();
    let allocations = support::allocations() - allocations_before;

    outln!(
        "served {} requests with {} workers in {elapsed:.2} s: {} allocations ({:.4} per request)",
        grouped(responses),
        opts.workers,
        grouped(allocations),
        allocations as f64 / responses.max(1) as f64,
    );
    outln!("response digest {digest:016x}\n");
    let requests_ok = report("request buffers ", &request_pool.stats(), opts.requests);
    let responses_ok = report("response buffers", &response_pool.stats(), opts.requests);
    if responses == opts.requests && requests_ok && responses_ok {
        Ok(())
    } else {
        Err("a request was lost or a buffer was not returned".to_owned())
    }
}

/// A pool for buffers that flow one way between threads. Its thread cache is small: a thread
/// that only returns buffers keeps at most this many before passing them to the shared depot,
/// where the thread that takes them finds them.
fn buffer_pool<T: Recycle + Send + 'static>(factory: fn() -> T) -> Pool<T> {
    Pool::builder(factory)
        .thread_cache(8)
        .build()
        .expect("a valid pool configuration")
}

/// Runs the writer, the workers and the accept loop until every request is answered; returns
/// the responses written and their digest.
fn run_server(
    opts: &Options,
    request_pool: &Pool<Vec<u8>>,
    response_pool: &Arc<Pool<String>>,
) -> (u64, u64) {
    let (response_tx, response_rx) = sync_channel(QUEUE);
    let writer = thread::spawn(move || write_responses(response_rx));
    let (request_txs, workers): (Vec<_>, Vec<_>) = (0..opts.workers)
        .map(|_| spawn_worker(Arc::clone(response_pool), response_tx.clone()))
        .unzip();
    drop(response_tx); // the workers hold the only senders now: the writer ends after them

    accept(request_pool, opts.requests, request_txs);
    for worker in workers {
        worker.join().expect("a worker panicked");
    }
    writer.join().expect("the writer panicked")
}

/// The accept loop: makes `count` requests with pooled bodies and deals them out to the workers.
fn accept(pool: &Pool<Vec<u8>>, count: u64, workers: Vec<SyncSender<Request>>) {
    let mut rng = Rng::new(0xACCE97);
    for id in 0..count {
        let mut body = pool.get_owned(); // taken here, on the main thread...
        let len = 64 + rng.below((MAX_BODY - 64) as u64) as usize;
        body.extend((0..len).map(|i| (id as usize).wrapping_add(i) as u8));
        let worker = &workers[(id % workers.len() as u64) as usize];
        worker
            .send(Request { id, body })
            .expect("workers run until their channel closes");
    }
    // Dropping the senders closes the channels: the workers finish their queues and exit.
}

/// Starts a worker thread that answers requests until its channel closes; returns the channel's
/// sender and the thread.
fn spawn_worker(
    responses: Arc<Pool<String>>,
    out: SyncSender<Response>,
) -> (SyncSender<Request>, JoinHandle<()>) {
    let (tx, rx) = sync_channel::<Request>(QUEUE);
    let worker = thread::spawn(move || {
        for request in rx {
            let response = answer(request, &responses);
            // ...and `request.body` went back to its pool in `answer`, on this worker thread.
            out.send(response)
                .expect("the writer runs until every worker is done");
        }
    });
    (tx, worker)
}

/// Handles one request: sums its body into a response written into a pooled string.
fn answer(request: Request, responses: &Pool<String>) -> Response {
    let sum: u64 = request.body.iter().map(|&b| u64::from(b)).sum();
    let mut text = responses.get_owned(); // taken on this worker...
    let _ = write!(
        text,
        "request {}: {} bytes, sum {sum}",
        request.id,
        request.body.len()
    ); // (writing to a String cannot fail)
    Response {
        id: request.id,
        text,
    }
    // `request` drops here: its body buffer returns to the request pool from this thread.
}

/// The writer thread: "sends" each response (folds it into a digest) and drops it.
fn write_responses(responses: Receiver<Response>) -> (u64, u64) {
    let mut count = 0;
    let mut digest = 0u64;
    for response in responses {
        count += 1;
        // Responses arrive in whatever order the workers finish: the digest adds up a hash of
        // each, so it does not depend on that order.
        let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ response.id;
        for b in response.text.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        digest = digest.wrapping_add(hash);
        // ...and `response.text` goes back to the response pool here, on the writer thread.
    }
    (count, digest)
}

/// Prints a pool's statistics and checks what they prove: every buffer came back, and nearly
/// every request reused one instead of making it.
fn report(name: &str, stats: &PoolStats, requests: u64) -> bool {
    outln!(
        "{name}: {:>3} created, {:>9} reused, {:>9} returned, {} discarded, {} in use, {} idle",
        stats.created,
        grouped(stats.reused),
        grouped(stats.returned),
        stats.discarded,
        stats.in_use,
        stats.idle,
    );
    stats.in_use == 0 && stats.created + stats.reused == requests && stats.returned == requests
}
