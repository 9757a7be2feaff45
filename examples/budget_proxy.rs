//! A tokio TCP echo server whose frames in flight never take more than a fixed number of bytes,
//! however many connections send at once: a `BufferPool` built with `max_live_bytes`.
//!
//! ```text
//! cargo run --release --features bytes --example budget_proxy
//! cargo run --release --features bytes --example budget_proxy -- --connections 16 --frames 500 --budget 2_097_152
//! ```
//!
//! The server listens on 127.0.0.1 (a port the system picks). A frame is a 4-byte big-endian
//! length and that many bytes. For each frame, the connection's reader checks the length against
//! the pool's `max_request` (a corrupt or hostile length closes the connection; nothing is
//! allocated for it), takes a budgeted buffer with [`BufferPool::get_owned_async`], reads the
//! payload into it (`BufMut`, no zeroing), freezes it into a `bytes::Bytes` without a copy and
//! hands that to the connection's writer task, which echoes the frame back. The buffer's bytes
//! count against the budget from the moment it is taken until the writer has sent it and dropped
//! the `Bytes`; when the budget is spent, readers wait, without blocking a worker thread, first
//! come, first served. So the payload memory in flight stays under `--budget` at any load.
//!
//! The load comes from the same process: `--connections` clients each send `--frames` frames of
//! pseudo-random sizes from 1 KiB to 256 KiB (the same on every run) while reading and checking
//! the echoes, then close; one more client sends a length above `max_request` and expects the
//! server to hang up. A monitor task samples the pool's bytes in use every millisecond. When all
//! is done the program prints the throughput, the peak bytes in use, the budget and how many
//! acquisitions waited; it exits with an error if an echo was wrong or missing, the peak passed
//! the budget, or a buffer was not given back.

#[allow(dead_code)] // each example uses a different part of the helpers
mod support;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hotpool::BufferPool;
use support::{grouped, outln, Args, Rng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

const USAGE: &str = "\
Usage: cargo run --release --features bytes --example budget_proxy -- [OPTIONS]

A tokio TCP echo server on 127.0.0.1 whose frames in flight take at most --budget bytes of
pooled buffers, driven by local clients in the same process.

Options:
  --connections N  client connections, all sending at once (default 8)
  --frames N       frames each client sends, 1 KiB to 256 KiB each (default 256)
  --budget BYTES   the pool's max_live_bytes (default 1_048_576; at least 262_144)
  --workers N      tokio worker threads (default 2)
  -h, --help       print this help";

/// The largest frame the server accepts (its pool's `max_request`), and the largest the clients
/// send.
const MAX_FRAME: usize = 256 * 1024;
/// The smallest frame the clients send.
const MIN_FRAME: usize = 1024;

/// The whole run must end within this, or it counts as hung.
const DEADLINE: Duration = Duration::from_secs(60);

struct Options {
    connections: usize,
    frames: u64,
    budget: usize,
    workers: usize,
}

fn parse_options() -> Options {
    let mut opts = Options {
        connections: 8,
        frames: 256,
        budget: 1 << 20,
        workers: 2,
    };
    let mut args = Args::from_env(USAGE);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--connections" => opts.connections = args.positive(&flag),
            "--frames" => opts.frames = args.number(&flag),
            "--budget" => opts.budget = args.positive(&flag),
            "--workers" => opts.workers = args.positive(&flag),
            _ => args.unknown(&flag),
        }
    }
    opts
}

// ---------------------------------------------------------------------------------------------
// The server

/// What the server did, over all connections.
#[derive(Default)]
struct Served {
    frames: u64,
    bytes: u64,
    /// Connections closed for a frame length above `max_request`.
    refused: u64,
}

/// Accepts connections until `stop` fires, then waits for every connection to end.
async fn serve(listener: TcpListener, pool: BufferPool, mut stop: oneshot::Receiver<()>) -> Served {
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
    let mut served = Served::default();
    while let Some(done) = connections.join_next().await {
        match done.expect("a connection task panicked") {
            Ok((frames, bytes)) => {
                served.frames += frames;
                served.bytes += bytes;
            }
            Err(err) if err.kind() == io::ErrorKind::InvalidData => served.refused += 1,
            Err(err) => panic!("a connection failed: {err}"),
        }
    }
    served
}

/// Echoes the frames of one connection until the client closes it: a reader (this task) and a
/// writer task joined by a channel of frozen buffers. Returns the frames and payload bytes.
async fn serve_connection(socket: TcpStream, pool: BufferPool) -> io::Result<(u64, u64)> {
    socket.set_nodelay(true)?;
    let (reader, writer) = socket.into_split();
    // The budget, not this channel, bounds the bytes in flight: a frame queued here still holds
    // its buffer.
    let (frames, queued) = mpsc::channel(64);
    let writer = tokio::spawn(echo(writer, queued));
    let read = read_frames(reader, &pool, frames).await; // drops the sender: the writer ends
    let written = writer.await.expect("a writer task panicked");
    let counts = read?;
    written?;
    Ok(counts)
}

/// Reads frames into budgeted buffers and sends them, frozen, to the writer.
async fn read_frames(
    mut reader: OwnedReadHalf,
    pool: &BufferPool,
    frames: mpsc::Sender<Bytes>,
) -> io::Result<(u64, u64)> {
    let (mut count, mut bytes) = (0, 0);
    loop {
        // An idle connection holds no buffer: one is taken once a length has arrived.
        let len = match reader.read_u32().await {
            Ok(len) => len as usize,
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok((count, bytes)),
            Err(err) => return Err(err),
        };
        // A length from the wire: check it before asking for a buffer. `get_owned_async` panics
        // on a request the pool refuses (above `max_request`, or more than the whole budget);
        // `run` checked that the budget holds a buffer of `max_request` bytes, so this is all.
        if len > pool.max_request() {
            let message = format!("frame of {len} bytes, above {}", pool.max_request());
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        // At the budget this waits, without blocking the worker, until written frames give
        // their bytes back.
        let mut buf = pool.get_owned_async(len).await;
        let mut payload = (&mut reader).take(len as u64);
        while buf.len() < len {
            // Reads straight into the buffer's spare capacity (`BufMut`), never past `len`.
            if payload.read_buf(&mut buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        // No copy: the `Bytes` points at the pooled buffer, which goes back to the pool (and
        // its bytes to the budget) when the writer drops it.
        if frames.send(buf.freeze()).await.is_err() {
            return Err(io::ErrorKind::BrokenPipe.into()); // the writer failed: it says why
        }
        count += 1;
        bytes += len as u64;
    }
}

/// Writes each frame back, length first, until the reader is done.
async fn echo(mut writer: OwnedWriteHalf, mut frames: mpsc::Receiver<Bytes>) -> io::Result<()> {
    while let Some(frame) = frames.recv().await {
        writer.write_u32(frame.len() as u32).await?;
        writer.write_all(&frame).await?;
        // `frame` drops here: its buffer is back in the pool.
    }
    writer.shutdown().await
}

// ---------------------------------------------------------------------------------------------
// The load

/// The frames of client `id`, in order: each frame's length and the seed of its contents.
struct Frames(Rng);

impl Frames {
    fn new(id: u64) -> Self {
        Frames(Rng::new(0xF4A3_E5B1 ^ (id << 32)))
    }

    fn next(&mut self) -> (usize, u8) {
        let span = (MAX_FRAME - MIN_FRAME + 1) as u64;
        let len = MIN_FRAME + self.0.below(span) as usize;
        (len, self.0.next_u64() as u8)
    }
}

/// Fills `out` with `len` bytes of the frame with `seed`.
fn fill(out: &mut Vec<u8>, len: usize, seed: u8) {
    out.clear();
    out.extend((0..len as u32).map(|i| (i.wrapping_mul(0x9E37_79B9) >> 24) as u8 ^ seed));
}

/// One client: sends `frames` frames on one connection while a second task reads and checks
/// every echo; returns when the last echo has arrived.
async fn client(addr: SocketAddr, id: u64, frames: u64) -> io::Result<()> {
    let socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let (mut reader, mut writer) = socket.into_split();
    let sender = tokio::spawn(async move {
        let (mut sizes, mut body) = (Frames::new(id), Vec::with_capacity(MAX_FRAME));
        for _ in 0..frames {
            let (len, seed) = sizes.next();
            fill(&mut body, len, seed);
            writer.write_u32(len as u32).await?;
            writer.write_all(&body).await?;
        }
        writer.shutdown().await // the server's reader sees the end, after the last frame
    });
    let mut sizes = Frames::new(id);
    let (mut expected, mut echoed) = (Vec::with_capacity(MAX_FRAME), vec![0; MAX_FRAME]);
    for k in 0..frames {
        let (len, seed) = sizes.next();
        fill(&mut expected, len, seed);
        let got = reader.read_u32().await? as usize;
        reader.read_exact(&mut echoed[..got.min(MAX_FRAME)]).await?;
        if got != len || echoed[..len] != expected[..] {
            let message = format!("client {id}: echo of frame {k} ({len} bytes) differs");
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
    }
    sender.await.expect("a client's sender panicked")?;
    match reader.read_u8().await {
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
        _ => Err(io::Error::other(format!(
            "client {id}: more than its echoes"
        ))),
    }
}

/// A client whose only frame claims `len` bytes: the server must hang up without an answer.
async fn hostile_client(addr: SocketAddr, len: u32) -> io::Result<()> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.write_u32(len).await?;
    match socket.read_u8().await {
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
        Err(err) => Err(err),
        Ok(_) => Err(io::Error::other(
            "the server answered a frame it must refuse",
        )),
    }
}

// ---------------------------------------------------------------------------------------------

fn main() -> std::process::ExitCode {
    support::exit_status(run(&parse_options()))
}

/// What the run measured.
struct Report {
    served: Served,
    elapsed: Duration,
    peak: usize,
}

fn run(opts: &Options) -> Result<(), String> {
    let pool = BufferPool::builder()
        .max_request(MAX_FRAME)
        .max_live_bytes(opts.budget)
        .build()
        .map_err(|err| err.to_string())?;
    // Every frame the server accepts must fit the budget, or `get_owned_async` would refuse it.
    let largest = pool.class_size(MAX_FRAME).unwrap_or(MAX_FRAME);
    if opts.budget < largest {
        return Err(format!(
            "--budget {} is below the {largest} bytes of the largest frame's buffer",
            opts.budget
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.workers)
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the runtime: {err}"))?;

    let report = runtime.block_on(async {
        tokio::time::timeout(DEADLINE, serve_and_load(opts, &pool))
            .await
            .map_err(|_| format!("not done after {} s", DEADLINE.as_secs()))?
    })?;
    drop(runtime); // every task has ended: no buffer is held by one

    let Report {
        served,
        elapsed,
        peak,
    } = report;
    let stats = pool.stats();
    let secs = elapsed.as_secs_f64();
    let mib = served.bytes as f64 / (1024.0 * 1024.0);
    outln!(
        "echoed {} frames ({mib:.1} MiB) on {} connections in {secs:.2} s: {:.1} MiB/s, {} frames/s",
        grouped(served.frames),
        opts.connections,
        mib / secs,
        grouped((served.frames as f64 / secs) as u64),
    );
    outln!(
        "budget (max_live_bytes) {} bytes; peak in use {} bytes ({:.0} %, sampled every ms)",
        grouped(opts.budget as u64),
        grouped(peak as u64),
        100.0 * peak as f64 / opts.budget as f64,
    );
    outln!(
        "{} of {} acquisitions waited for the budget; {} buffers made, {} reused",
        grouped(stats.waits),
        grouped(stats.created + stats.reused),
        grouped(stats.created),
        grouped(stats.reused),
    );
    outln!(
        "refused {} connection(s) for a frame length above max_request = {}",
        served.refused,
        grouped(pool.max_request() as u64),
    );

    let expected = opts.connections as u64 * opts.frames;
    if served.frames != expected {
        return Err(format!("echoed {} frames of {expected}", served.frames));
    }
    if peak > opts.budget {
        return Err(format!("{peak} bytes in use, above the budget"));
    }
    if served.refused != 1 {
        return Err(format!("{} connections refused, not 1", served.refused));
    }
    if stats.in_use != 0 || stats.live_bytes != 0 {
        return Err(format!("buffers not given back: {stats:?}"));
    }
    Ok(())
}

/// Starts the server and the monitor, runs the clients to the end, stops the server.
async fn serve_and_load(opts: &Options, pool: &BufferPool) -> Result<Report, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| format!("cannot listen on 127.0.0.1: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(serve(listener, pool.clone(), stopped));

    // The peak of the bytes in use, sampled every millisecond until the clients are done.
    let (done, peak) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let monitor = tokio::spawn({
        let (pool, done, peak) = (pool.clone(), Arc::clone(&done), Arc::clone(&peak));
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            while !done.load(Ordering::Relaxed) {
                tick.tick().await;
                peak.fetch_max(pool.stats().live_bytes, Ordering::Relaxed);
            }
        }
    });

    let start = Instant::now();
    let mut clients = JoinSet::new();
    for id in 0..opts.connections as u64 {
        clients.spawn(client(addr, id, opts.frames));
    }
    while let Some(finished) = clients.join_next().await {
        finished
            .map_err(|err| format!("a client panicked: {err}"))?
            .map_err(|err| format!("a client failed: {err}"))?;
    }
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    monitor
        .await
        .map_err(|err| format!("the monitor panicked: {err}"))?;

    hostile_client(addr, u32::MAX)
        .await
        .map_err(|err| format!("the oversized frame: {err}"))?;

    // Every client has closed its connection; the server's tasks end as they read the close.
    let _ = stop.send(());
    let served = server
        .await
        .map_err(|err| format!("the server panicked: {err}"))?;
    Ok(Report {
        served,
        elapsed,
        peak: peak.load(Ordering::Relaxed),
    })
}
