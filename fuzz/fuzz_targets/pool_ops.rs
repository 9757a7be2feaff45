//! Fuzzes the thread-safe `Pool` from several real threads, checked against a model.
//!
//! The input is a configuration (1..=4 worker threads, `max_idle` 1..=16, `thread_cache` 0..=7,
//! `prefill` up to `max_idle`, a retained-bytes cap of 8..=64) and a list of [`Op`]s, each
//! tagged with the worker that runs it: `get`/`try_get` (borrowed or owned guards), guard drops,
//! `detach`, `put`, `trim`, `trim_unused`, and restarting a worker (its thread exits, so its
//! cache is flushed to the depot, and a new thread takes its place). Writes into held objects
//! and drops of detached objects run on the harness's own thread.
//!
//! # Determinism
//! The workers are real scoped threads, but they run in lock-step: the harness sends one
//! command over a channel and waits for the reply before the next, so a given input always
//! runs the same way (only the pool's internal thread ids can differ between runs). Guards
//! really move between threads: every held guard lives on the harness thread between ops, is
//! sent to the worker that drops or detaches it, and a guard made on one worker is routinely
//! dropped on another, which returns the object to that other thread's cache.
//!
//! # Model
//! Which tier serves a `get` is the pool's business, so the model does not predict object
//! order. It checks what holds whatever the tiers do, after every op:
//!
//! - objects come out reset, and each held object keeps its id and payload, across threads;
//! - the [`Ledger`] (shared with `local_pool_ops`): a `get` returns an idle object or a fresh
//!   one, never one lent, owned or dropped; no object dropped while lent or owned, none twice;
//!   `created`, `reused`, `returned`, `discarded`, `detached`, `in_use` and `idle` equal to the
//!   model; the sampled `peak_in_use` at least `in_use` (it can also exceed the true peak,
//!   a known bug: see `tests/fuzz_regressions.rs`);
//! - `idle <= max_idle + thread_cache * (live workers that used the pool)`, and `<= max_idle`
//!   once the workers have exited;
//! - an object over the cap is never kept; one within it is kept whenever fewer than `max_idle`
//!   objects are idle; `trim` returns how many objects it dropped. With `thread_cache` 0 there
//!   is one tier, and the model predicts exactly: `get` reuses iff something is idle, returns
//!   are kept iff there is room, `trim` drops everything;
//! - at the end, with the pool dropped (after its last owned guard), every object ever made
//!   was dropped exactly once.
//!
//! Panics in the factory, the recycle policy or `T::drop` are not fuzzed: libFuzzer treats any
//! panic as a crash (`tests/pool_panics.rs` covers them).
#![no_main]

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::{Scope, ScopedJoinHandle};

use arbitrary::Arbitrary;
use hotpool::{OwnedPooled, Pool, Pooled};
use hotpool_fuzz::guards::{drop_borrowed, Held};
use hotpool_fuzz::model::{pick, Guard, Ledger};
use hotpool_fuzz::tracker::{Tracked, Tracker};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    threads: u8,
    max_idle: u8,
    thread_cache: u8,
    prefill: u8,
    max_retained: u8,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Get {
        thread: u8,
        owned: bool,
    },
    TryGet {
        thread: u8,
        owned: bool,
    },
    Write {
        guard: u8,
        byte: u8,
        len: u8,
    },
    DropGuard {
        thread: u8,
        guard: u8,
    },
    Detach {
        thread: u8,
        guard: u8,
    },
    /// `put` an object the harness owns, or a new one if it owns none.
    Put {
        thread: u8,
        own: u8,
    },
    DropOwn {
        own: u8,
    },
    Trim {
        thread: u8,
    },
    TrimUnused {
        thread: u8,
    },
    Restart {
        thread: u8,
    },
}

type Shared<'p> = Guard<Pooled<'p, Tracked>, OwnedPooled<Tracked>>;

/// What a worker is told to do with the pool.
enum Cmd<'p> {
    Get { owned: bool, only_idle: bool },
    Drop(Shared<'p>),
    Detach(Shared<'p>),
    Put(Tracked),
    Trim,
    TrimUnused,
}

enum Reply<'p> {
    Got(Option<Shared<'p>>),
    Dropped,
    Detached(Tracked),
    Put(Result<(), Tracked>),
    Trimmed(usize),
}

fn serve<'p>(pool: &'p Pool<Tracked>, cmds: Receiver<Cmd<'p>>, replies: Sender<Reply<'p>>) {
    for cmd in cmds {
        let reply = match cmd {
            Cmd::Get { owned, only_idle } => Reply::Got(match (owned, only_idle) {
                (false, false) => Some(Guard::Borrowed(pool.get())),
                (true, false) => Some(Guard::Owned(pool.get_owned())),
                (false, true) => pool.try_get().map(Guard::Borrowed),
                (true, true) => pool.try_get_owned().map(Guard::Owned),
            }),
            Cmd::Drop(guard) => {
                drop(guard);
                Reply::Dropped
            }
            Cmd::Detach(Guard::Borrowed(g)) => Reply::Detached(Pooled::detach(g)),
            Cmd::Detach(Guard::Owned(g)) => Reply::Detached(OwnedPooled::detach(g)),
            Cmd::Put(obj) => Reply::Put(pool.put(obj)),
            Cmd::Trim => Reply::Trimmed(pool.trim()),
            Cmd::TrimUnused => Reply::Trimmed(pool.trim_unused()),
        };
        replies
            .send(reply)
            .expect("the harness waits for every reply");
    }
}

/// A worker thread and its channels; `used` once it touched the pool.
struct Worker<'scope, 'p> {
    cmds: Sender<Cmd<'p>>,
    replies: Receiver<Reply<'p>>,
    handle: ScopedJoinHandle<'scope, ()>,
    used: bool,
}

impl<'scope, 'p: 'scope> Worker<'scope, 'p> {
    fn spawn(scope: &'scope Scope<'scope, '_>, pool: &'p Pool<Tracked>) -> Self {
        let (cmds, cmd_rx) = channel();
        let (reply_tx, replies) = channel();
        // A small stack: the worker only forwards calls, and spawning dominates a run's cost.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn_scoped(scope, move || serve(pool, cmd_rx, reply_tx))
            .expect("spawning a worker thread");
        Self {
            cmds,
            replies,
            handle,
            used: false,
        }
    }

    fn ask(&mut self, cmd: Cmd<'p>) -> Reply<'p> {
        self.used = true;
        self.cmds
            .send(cmd)
            .expect("workers live until told to stop");
        self.replies
            .recv()
            .expect("a worker replies to every command")
    }

    /// Ends the thread and waits until it has exited (its thread-locals, and with them its pool
    /// caches, are gone when `join` returns).
    fn stop(self) {
        drop(self.cmds);
        self.handle.join().expect("workers do not panic");
    }
}

/// The configuration, decoded into range.
struct Config {
    threads: usize,
    max_idle: usize,
    thread_cache: usize,
    prefill: usize,
    max_retained: usize,
}

/// The harness's side of one run: what it holds, and the model.
struct Run<'p> {
    config: Config,
    held: Vec<Held<Shared<'p>>>,
    own: Vec<Tracked>,
    ledger: Ledger,
}

impl<'p> Run<'p> {
    /// Runs `op` (on worker `workers[op's thread]`; `spawn` starts a replacement worker);
    /// returns how many idle objects the pool must have dropped (`None`: any number).
    fn apply<'s>(
        &mut self,
        op: &Op,
        workers: &mut [Worker<'s, 'p>],
        spawn: impl FnOnce() -> Worker<'s, 'p>,
    ) -> Option<usize>
    where
        'p: 's,
    {
        let worker = |thread: u8| usize::from(thread) % workers.len();
        match *op {
            Op::Get { thread, owned } => {
                let guard = workers[worker(thread)].ask(Cmd::Get {
                    owned,
                    only_idle: false,
                });
                self.lend(guard, true);
            }
            Op::TryGet { thread, owned } => {
                let guard = workers[worker(thread)].ask(Cmd::Get {
                    owned,
                    only_idle: true,
                });
                self.lend(guard, false);
            }
            Op::Write { guard, byte, len } => {
                if let Some(i) = pick(&self.held, guard) {
                    self.held[i].write(byte, usize::from(len % 64));
                }
            }
            Op::DropGuard { thread, guard } => {
                if let Some(i) = pick(&self.held, guard) {
                    let held = self.held.swap_remove(i);
                    let (id, retained) = (held.id(), held.retained());
                    let (fits, room) = self.could_keep(retained);
                    let reply = workers[worker(thread)].ask(Cmd::Drop(held.into_guard()));
                    assert!(matches!(reply, Reply::Dropped));
                    let kept = self.ledger.guard_ended(id);
                    self.check_kept(kept, fits, room);
                }
            }
            Op::Detach { thread, guard } => {
                if let Some(i) = pick(&self.held, guard) {
                    let held = self.held.swap_remove(i);
                    let id = held.id();
                    let Reply::Detached(obj) =
                        workers[worker(thread)].ask(Cmd::Detach(held.into_guard()))
                    else {
                        unreachable!()
                    };
                    assert_eq!(obj.id, id);
                    self.ledger.detached(id);
                    self.own.push(obj);
                }
            }
            Op::Put { thread, own } => {
                let obj = self.ledger.take_own(&mut self.own, own);
                let id = obj.id;
                let (fits, room) = self.could_keep(obj.data.capacity());
                let Reply::Put(result) = workers[worker(thread)].ask(Cmd::Put(obj)) else {
                    unreachable!()
                };
                let kept = self.ledger.put_result(id, result, &mut self.own);
                self.check_kept(kept, fits, room);
            }
            Op::DropOwn { own } => self.ledger.drop_own_at(&mut self.own, own),
            Op::Trim { thread } | Op::TrimUnused { thread } => {
                let idle = self.ledger.idle();
                let cmd = match op {
                    Op::Trim { .. } => Cmd::Trim,
                    _ => Cmd::TrimUnused,
                };
                let Reply::Trimmed(n) = workers[worker(thread)].ask(cmd) else {
                    unreachable!()
                };
                if self.config.thread_cache == 0 && matches!(op, Op::Trim { .. }) {
                    assert_eq!(
                        n, idle,
                        "trim without thread caches drops every idle object"
                    );
                }
                return Some(n);
            }
            Op::Restart { thread } => {
                let i = worker(thread);
                std::mem::replace(&mut workers[i], spawn()).stop();
                // The exited thread's cache went to the depot; what did not fit was dropped.
                return None;
            }
        }
        Some(0)
    }

    fn lend(&mut self, reply: Reply<'p>, may_create: bool) {
        let Reply::Got(guard) = reply else {
            unreachable!()
        };
        let idle = self.ledger.idle();
        let single_tier = self.config.thread_cache == 0;
        if single_tier && !may_create {
            assert_eq!(guard.is_some(), idle > 0, "try_get without thread caches");
        }
        if let Some(guard) = guard {
            let (held, fresh) = Held::lend(guard, &mut self.ledger);
            assert!(!fresh || may_create, "try_get ran the factory");
            if single_tier {
                assert_eq!(
                    fresh,
                    idle == 0,
                    "get without thread caches reuses iff idle"
                );
            }
            self.held.push(held);
        }
    }

    /// Whether an object retaining `retained` bytes is within the cap, and whether the pool has
    /// room for one more idle object, before it comes back.
    fn could_keep(&self, retained: usize) -> (bool, bool) {
        (
            retained <= self.config.max_retained,
            self.ledger.idle() < self.config.max_idle,
        )
    }

    fn check_kept(&self, kept: bool, fits: bool, room: bool) {
        if !fits {
            assert!(!kept, "an object over the retained-bytes cap was kept");
        } else if room {
            assert!(
                kept,
                "an object within the cap was refused with room to spare"
            );
        } else if self.config.thread_cache == 0 {
            assert!(!kept, "the depot kept more than max_idle");
        }
    }

    /// The model against the pool, with `live_users` live threads whose caches may hold objects.
    fn check(&mut self, pool: &Pool<Tracked>, discarded: Option<usize>, live_users: usize) {
        let swept = self.ledger.sweep();
        if let Some(discarded) = discarded {
            assert_eq!(swept, discarded, "idle objects dropped");
        }
        let stats = pool.stats();
        // The harness thread and each worker may each be off by one thread cache.
        let peak_slack = self.config.thread_cache * (self.config.threads + 1);
        self.ledger.check(&stats, peak_slack);
        let bound = self.config.max_idle + self.config.thread_cache * live_users;
        assert!(stats.idle <= bound, "idle {} over {bound}", stats.idle);
        self.held.iter().for_each(Held::verify);
    }
}

fuzz_target!(|input: Input| {
    let max_idle = 1 + usize::from(input.max_idle % 16);
    let config = Config {
        threads: 1 + usize::from(input.threads % 4),
        max_idle,
        thread_cache: usize::from(input.thread_cache % 8),
        prefill: usize::from(input.prefill) % (max_idle + 1),
        max_retained: 8 + usize::from(input.max_retained % 57),
    };
    let tracker = Tracker::strict();
    let mut ledger = Ledger::new(&tracker);
    let pool = Pool::builder(tracker.factory())
        .max_idle(config.max_idle)
        .thread_cache(config.thread_cache)
        .prefill(config.prefill)
        .max_retained_bytes(config.max_retained)
        .build()
        .expect("a valid configuration");
    ledger.prefilled(config.prefill);
    let mut run = Run {
        held: Vec::new(),
        own: Vec::new(),
        ledger,
        config,
    };
    run.check(&pool, Some(0), 0);
    std::thread::scope(|scope| {
        let mut workers: Vec<_> = (0..run.config.threads)
            .map(|_| Worker::spawn(scope, &pool))
            .collect();
        for op in &input.ops {
            let discarded = run.apply(op, &mut workers, || Worker::spawn(scope, &pool));
            let users = workers.iter().filter(|w| w.used).count();
            run.check(&pool, discarded, users);
        }
        workers.into_iter().for_each(Worker::stop);
    });
    // Every worker has exited: their caches went to the depot, capped at max_idle; what did
    // not fit was dropped.
    run.check(&pool, None, 0);
    let (owned, own, mut ledger) = release_borrowed(run, &pool);
    drop(pool);
    if owned.is_empty() {
        ledger.pool_dropped();
    } else {
        assert_eq!(ledger.sweep(), 0, "the pool lives on in its owned guards");
    }
    drop(owned);
    drop(own);
    tracker.assert_all_dropped_once();
});

/// Drops the borrowed guards from the harness's thread (they must go before the pool) and
/// checks the pool once more; returns the rest of what the harness holds.
fn release_borrowed(
    run: Run<'_>,
    pool: &Pool<Tracked>,
) -> (Vec<OwnedPooled<Tracked>>, Vec<Tracked>, Ledger) {
    let Run {
        held,
        own,
        mut ledger,
        config,
    } = run;
    let owned = drop_borrowed(held, &mut ledger);
    assert_eq!(ledger.sweep(), 0, "returns drop only their own object");
    let stats = pool.stats();
    ledger.check(&stats, config.thread_cache * (config.threads + 1));
    // Only this thread's cache may hold objects beyond the depot now.
    assert!(stats.idle <= config.max_idle + config.thread_cache);
    (owned, own, ledger)
}
