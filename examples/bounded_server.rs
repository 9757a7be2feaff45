//! A tokio TCP server that holds at most a fixed number of large buffers, however many
//! connections it serves: a `Pool` built with `max_live`.
//!
//! ```text
//! cargo run --release --example bounded_server
//! cargo run --release --example bounded_server -- --clients 64 --requests 1000 --max-live 4
//! ```
//!
//! The server listens on 127.0.0.1 (a port the system picks) and serves a tiny protocol: a
//! request is a 4-byte length and that many bytes; the answer is the 8-byte sum of the bytes.
//! For each request that arrives, the connection's task takes a 64 KiB buffer with
//! [`Pool::get_owned_async`], reads the body into it, answers, and gives it back. With more
//! connections sending at once than the pool's `max_live`, the extra requests wait for a buffer
//! without blocking a worker thread, first come, first served; so the buffers' memory stays at
//! `max_live × 64 KiB` under any load.
//!
//! The load comes from the same process: `--clients` connections, each sending `--requests`
//! requests of random sizes one after another and checking every answer. When they are done, the
//! server stops accepting, its connection tasks end, and the program prints what happened:
//! requests served and per second, how many acquisitions had to wait (`stats().waits`), and the
//! most buffers alive at once, counted by the buffers themselves (a counter the factory raises
//! and each buffer's `Drop` lowers). It exits with an error if that count ever passed the cap, a
//! request went unanswered or was answered wrong, or a buffer was not given back.

#[allow(dead_code)] // each example uses a different part of the helpers
mod support;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hotpool::{Pool, Recycle};
use support::{grouped, outln, Args, Rng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

const USAGE: &str = "\
Usage: cargo run --release --example bounded_server -- [OPTIONS]

A tokio TCP server on 127.0.0.1 that holds at most --max-live pooled 64 KiB buffers, driven by
local clients in the same process.

Options:
  --clients N    client connections, all sending at once (default 32)
  --requests N   requests each client sends (default 500)
  --max-live N   buffers the server may hold at once (default 8)
  --workers N    tokio worker threads (default 2)
  -h, --help     print this help";

/// Capacity of each pooled buffer, and the largest request body.
const BUFFER_BYTES: usize = 64 * 1024;

/// The whole run must end within this, or it counts as hung.
const DEADLINE: Duration = Duration::from_secs(120);

struct Options {
    clients: usize,
    requests: u64,
    max_live: usize,
    workers: usize,
}

fn parse_options() -> Options {
    let mut opts = Options {
        clients: 32,
        requests: 500,
        max_live: 8,
        workers: 2,
    };
    let mut args = Args::from_env(USAGE);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--clients" => opts.clients = args.positive(&flag),
            "--requests" => opts.requests = args.number(&flag),
            "--max-live" => opts.max_live = args.positive(&flag),
            "--workers" => opts.workers = args.positive(&flag),
            _ => args.unknown(&flag),
        }
    }
    opts
}

// ---------------------------------------------------------------------------------------------
// Buffers that count themselves

/// Buffers alive now (pooled, idle or in use), and the most ever alive at once. The buffers keep
/// these themselves, so they check the pool's cap from outside the pool.
static ALIVE: AtomicUsize = AtomicUsize::new(0);
static MOST_ALIVE: AtomicUsize = AtomicUsize::new(0);

/// A request buffer: 64 KiB of capacity, counted in [`ALIVE`] from creation to drop.
struct Buffer {
    bytes: Vec<u8>,
}

impl Buffer {
    /// The pool's factory.
    fn new() -> Self {
        let alive = ALIVE.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_ALIVE.fetch_max(alive, Ordering::SeqCst);
        Buffer {
            bytes: Vec::with_capacity(BUFFER_BYTES),
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Back to empty with its capacity kept, as `Vec<u8>`'s own `Recycle` does.
impl Recycle for Buffer {
    fn reset(&mut self) {
        self.bytes.clear();
    }

    fn retained_bytes(&self) -> usize {
        self.bytes.capacity()
    }
}

// ---------------------------------------------------------------------------------------------
// The server

/// Accepts connections until `stop` fires, then waits for every connection to end; returns the
/// requests served.
async fn serve(listener: TcpListener, pool: Pool<Buffer>, mut stop: oneshot::Receiver<()>) -> u64 {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, _) = accepted.expect("accept on 127.0.0.1");
                connections.spawn(serve_connection(socket, pool.clone()));
            }
            _ = &mut stop => break,
        }
    }
    let mut served = 0;
    while let Some(done) = connections.join_next().await {
        served += done
            .expect("a connection task panicked")
            .expect("a connection failed");
    }
    served
}

/// Answers the requests of one connection until the client closes it; returns how many.
async fn serve_connection(mut socket: TcpStream, pool: Pool<Buffer>) -> io::Result<u64> {
    let mut served = 0;
    loop {
        // Idle connections hold no buffer: one is taken once a request has arrived.
        let len = match socket.read_u32().await {
            Ok(len) => len as usize,
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(served),
            Err(err) => return Err(err),
        };
        if len > BUFFER_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request too long",
            ));
        }
        // At the cap this waits, without blocking the worker thread, until another connection
        // gives a buffer back. The owned guard is `'static + Send`, so it lives across the awaits
        // below whichever worker thread the task resumes on.
        let mut buf = pool.get_owned_async().await;
        buf.bytes.resize(len, 0);
        socket.read_exact(&mut buf.bytes).await?;
        // A real handler would await more with the buffer held (a backend, a disk): a yield
        // stands for that here, so that other connections' requests arrive meanwhile.
        tokio::task::yield_now().await;
        let sum: u64 = buf.bytes.iter().map(|&b| u64::from(b)).sum();
        socket.write_u64(sum).await?;
        served += 1;
        // `buf` drops here: reset, and handed to the next waiting request if there is one.
    }
}

// ---------------------------------------------------------------------------------------------
// The load

/// One client: `requests` requests of random sizes on one connection, each answer checked.
async fn client(addr: SocketAddr, id: u64, requests: u64) -> io::Result<()> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let mut rng = Rng::new(0xB0_0D ^ id);
    let mut body = Vec::with_capacity(BUFFER_BYTES);
    for _ in 0..requests {
        let len = 1 + rng.below(BUFFER_BYTES as u64) as usize;
        body.clear();
        body.extend((0..len).map(|i| (i as u64 ^ id) as u8));
        let expected: u64 = body.iter().map(|&b| u64::from(b)).sum();
        socket.write_u32(len as u32).await?;
        socket.write_all(&body).await?;
        let sum = socket.read_u64().await?;
        if sum != expected {
            let message = format!("client {id}: answer {sum}, expected {expected}");
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
    }
    Ok(()) // dropping the socket closes the connection: the server's task ends
}

// ---------------------------------------------------------------------------------------------

fn main() -> std::process::ExitCode {
    support::exit_status(run(&parse_options()))
}

fn run(opts: &Options) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.workers)
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the runtime: {err}"))?;
    let pool = Pool::builder(Buffer::new)
        .max_live(opts.max_live)
        .build()
        .map_err(|err| err.to_string())?;

    let (served, elapsed) = runtime.block_on(async {
        tokio::time::timeout(DEADLINE, serve_and_load(opts, &pool))
            .await
            .map_err(|_| format!("not done after {} s", DEADLINE.as_secs()))?
    })?;
    drop(runtime); // every task has ended: no buffer is held by one

    let stats = pool.stats();
    let most = MOST_ALIVE.load(Ordering::SeqCst);
    let expected = opts.clients as u64 * opts.requests;
    outln!(
        "served {} requests from {} connections in {:.2} s: {} requests/s",
        grouped(served),
        opts.clients,
        elapsed.as_secs_f64(),
        grouped((served as f64 / elapsed.as_secs_f64()) as u64),
    );
    outln!(
        "max_live {}: at most {most} buffers alive at once ({} KiB); {} of {} acquisitions waited",
        opts.max_live,
        most * BUFFER_BYTES / 1024,
        grouped(stats.waits),
        grouped(stats.created + stats.reused),
    );
    outln!("pool: {stats}");

    if most > opts.max_live {
        return Err(format!(
            "{most} buffers alive at once, above max_live {}",
            opts.max_live
        ));
    }
    if served != expected {
        return Err(format!("served {served} requests of {expected}"));
    }
    if stats.in_use != 0 || stats.created > opts.max_live as u64 {
        return Err(format!("buffers not accounted for: {stats}"));
    }
    drop(pool);
    match ALIVE.load(Ordering::SeqCst) {
        0 => Ok(()),
        alive => Err(format!(
            "{alive} buffers still alive after the pool was dropped"
        )),
    }
}

/// Starts the server, runs the clients to the end, stops the server; returns the requests served
/// and the time from the first connection to the last answer.
async fn serve_and_load(opts: &Options, pool: &Pool<Buffer>) -> Result<(u64, Duration), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| format!("cannot listen on 127.0.0.1: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(serve(listener, pool.clone(), stopped));

    let start = Instant::now();
    let mut clients = JoinSet::new();
    for id in 0..opts.clients as u64 {
        clients.spawn(client(addr, id, opts.requests));
    }
    while let Some(done) = clients.join_next().await {
        done.map_err(|err| format!("a client panicked: {err}"))?
            .map_err(|err| format!("a client failed: {err}"))?;
    }
    let elapsed = start.elapsed();

    // Every client has closed its connection; the server's tasks end as they read the close.
    let _ = stop.send(());
    let served = server
        .await
        .map_err(|err| format!("the server panicked: {err}"))?;
    Ok((served, elapsed))
}
