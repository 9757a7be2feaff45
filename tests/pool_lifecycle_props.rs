//! A `Pool`'s whole lifecycle on several threads, against a model of what its public docs
//! promise: a proptest state machine.
//!
//! Each worker is a real OS thread driven over a command channel, so every operation runs on a
//! thread the sequence chooses and the order of events is the sequence's. The operations:
//! `get`, `get_owned`, `try_get`(`_owned`), `get_timeout` (and `_owned`), `get_async` and
//! `get_owned_async` (polled by hand; a pending future stays pending across steps until the model
//! says an object or place reached it, or is cancelled by dropping it), guard drops on the
//! acquiring thread or another one (owned guards and owned futures move between workers), `put`,
//! `trim`, handle clones and drops, worker exits (holding cached objects, guards, queued waiters;
//! a fresh worker replaces the old one, and owned guards may be left to the thread's
//! thread-local destructors), and a few operations run on two workers at once (an owned guard's
//! drop against a handle's or another guard's). A blocking `get` at the cap really blocks its
//! worker until a return elsewhere serves it. Borrowed guards and `get_async` futures borrow
//! their worker's own handle, so they stay on it (dropping that handle drops them first); owned
//! ones go anywhere. At the end the pool's life ends the way a server's does: futures
//! cancelled, handles dropped until one is left, whose drop races an owned guard's on another
//! worker, the other owned guards dropped two at a time on two workers (the pool lives on
//! through them alone), then every worker exits.
//!
//! Settings: `max_live` 1 to 6 (or none), `thread_cache` 0 to 4, `max_idle` either the default
//! or 1 to 4 (then objects are dropped for lack of room, and the idle bounds below bite), a
//! `prefill` of up to 2; four workers, so that a waiter's steal can gather more objects from
//! the other threads' caches than one cache holds.
//!
//! The model follows objects, places and waiters, not where idle objects sit (which tier holds
//! them is not part of the API), so the checks are what the docs promise:
//! - the objects alive, counted by the objects themselves (a [`Census`] of factory-made objects
//!   and one of `put` values) and by their ids ([`Tracker`]), equal the model's at every step;
//!   factory-made objects never exceed `max_live`, even for an instant;
//! - in a bounded pool an acquisition resolves at once exactly when nobody is queued and an
//!   object is idle anywhere (any thread's cache: the steal) or a place is free, and otherwise
//!   times out (`get_timeout`), stays pending (async) or blocks (`get`); queued waiters are served
//!   first come, first served, by the very object returned or by a freed place (then the factory
//!   runs), and a served future was woken; cancelling passes what it was handed on;
//! - the factory runs only when nothing is idle within the caller's reach (its cache and the
//!   depot: at most `thread_cache` per other thread is out of reach), and never at the cap;
//!   `try_get` never runs it; `put` keeps its value unless the pool is at its cap (handed back as
//!   it was) or full (handed back reset); `trim` drops the depot and the caller's cache (so at
//!   least all idle but `thread_cache` per other thread, at most `max_idle + thread_cache`);
//!   objects are dropped by the pool only by `trim` or for lack of room (the depot full);
//! - idle objects stay within `max_idle + thread_cache` per live thread that used the pool;
//! - `stats()` at rest: `created`, `reused`, `discarded`, `detached`, `in_use` and `idle` exact;
//!   `returned` and `waits` within the bounds the docs leave open (see `Range`), `peak_in_use`
//!   never above `max_live`;
//! - when the last handle and the last owned guard are gone (on whichever threads), the pool is
//!   freed at once: every object was dropped exactly once. A fresh pool then takes over.

mod support;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hotpool::builder::DEFAULT_MAX_IDLE;
use hotpool::{GetFuture, GetOwnedFuture, OwnedPooled, Pool, PoolStats, Pooled, Recycle};
use proptest::prelude::*;
use proptest::strategy::Union;
use support::ops::config;
use support::{Census, Counted, Tracked, Tracker};

/// Cases per run unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = if cfg!(miri) { 2 } else { 256 };
const MAX_OPS: usize = if cfg!(miri) { 12 } else { 96 };
const WORKERS: usize = 4;
/// The deadline of `get_timeout` (only ever reached when the model says nothing can come).
const SHORT: Duration = Duration::from_millis(1);
/// How long the harness waits for a worker's answer before calling it a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long a blocked `get` the model says was served may take to return (it was unparked).
const SERVED_WITHIN: Duration = Duration::from_secs(2);
/// A failure whose shrinking waits for answers that never come (a lost wake-up, say) stops
/// shrinking after this many milliseconds.
const MAX_SHRINK_MS: u32 = 120_000;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(CASES)
}

// ---------------------------------------------------------------------------------------------
// Objects

/// A pooled object: a [`Tracked`] (unique id, dropped exactly once) that also counts itself in a
/// [`Census`] (alive now, most ever alive at once).
#[derive(Debug)]
struct Obj {
    tracked: Tracked,
    _counted: Counted,
}

impl Recycle for Obj {
    fn reset(&mut self) {
        self.tracked.reset();
    }

    fn retained_bytes(&self) -> usize {
        self.tracked.retained_bytes()
    }
}

/// Makes the objects of one case.
struct Makers {
    tracker: Arc<Tracker>,
    /// The factory's objects: never more than `max_live` alive at once.
    made: Arc<Census>,
    /// Values made outside the pool for `put`.
    outside: Arc<Census>,
}

impl Makers {
    fn made(&self) -> Obj {
        Obj {
            tracked: self.tracker.make(),
            _counted: self.made.make(),
        }
    }

    fn outside(&self) -> Obj {
        Obj {
            tracked: self.tracker.make(),
            _counted: self.outside.make(),
        }
    }

    fn alive(&self) -> usize {
        self.made.alive() + self.outside.alive()
    }
}

type P = Pool<Obj>;

/// Takes a handed-out object: checks it was reset, dirties it (the next reset must clean it)
/// and returns its id.
fn take_in(obj: &mut Obj) -> usize {
    let id = obj.tracked.id;
    assert!(obj.tracked.data.is_empty(), "object {id} handed out dirty");
    obj.tracked.data.push(1);
    id
}

// ---------------------------------------------------------------------------------------------
// Workers

/// A waker that records that it was woken.
#[derive(Default)]
struct WakeFlag(AtomicBool);

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A future polled by hand, with the flag of its waker.
struct Waiting<F> {
    future: Pin<Box<F>>,
    woken: Arc<WakeFlag>,
}

impl<F: Future> Waiting<F> {
    fn new(future: F) -> Self {
        Self {
            future: Box::pin(future),
            woken: Arc::default(),
        }
    }

    fn poll(&mut self) -> Poll<F::Output> {
        let waker = Waker::from(Arc::clone(&self.woken));
        self.future.as_mut().poll(&mut Context::from_waker(&waker))
    }

    fn woken(&self) -> bool {
        self.woken.0.load(Ordering::SeqCst)
    }
}

/// What a worker holds that borrows its home handle.
enum Borrowed<'p> {
    Guard(Pooled<'p, Obj>),
    Future(Waiting<GetFuture<'p, Obj>>),
}

/// What a worker holds that is `'static`, and can move to another worker.
enum Owned {
    Guard(OwnedPooled<Obj>),
    Future(Waiting<GetOwnedFuture<Obj>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acq {
    Get,
    GetOwned,
    TryGet,
    TryGetOwned,
    Timeout,
    TimeoutOwned,
    Async,
    AsyncOwned,
}

impl Acq {
    fn owned(self) -> bool {
        matches!(
            self,
            Acq::GetOwned | Acq::TryGetOwned | Acq::TimeoutOwned | Acq::AsyncOwned
        )
    }
}

enum Cmd {
    /// Acquire with `Acq`; the guard (or pending future) is kept under `key`.
    Acquire(u64, Acq),
    Poll(u64),
    Cancel(u64),
    Drop(u64),
    /// Hands the owned item out, to move it to another worker.
    Take(u64),
    Give(u64, Owned),
    Put,
    Trim,
    Stats,
    CloneHandle,
    Adopt(P),
    /// Drops an extra handle, or else the borrowed items (in key order) and the home handle.
    DropHandle,
    /// Drops or cancels everything in key order (owned guards go to [`STASH`] with `stash`), and
    /// ends the thread, returning its handles with `handover` and dropping them otherwise.
    Exit {
        stash: bool,
        handover: bool,
    },
}

enum Answer {
    Done,
    /// An acquisition or a poll: the id if it resolved, and whether the waker had been woken.
    Got {
        id: Option<usize>,
        woken: bool,
    },
    Trimmed(usize),
    /// `put`: the value's id, and on `Err` whether it came back as it was (still dirty).
    Put(Result<usize, (usize, bool)>),
    Stats(PoolStats),
    Item(Owned),
    Handle(P),
    Panicked(String),
}

impl Answer {
    fn name(&self) -> &'static str {
        match self {
            Answer::Done => "Done",
            Answer::Got { .. } => "Got",
            Answer::Trimmed(_) => "Trimmed",
            Answer::Put(_) => "Put",
            Answer::Stats(_) => "Stats",
            Answer::Item(_) => "Item",
            Answer::Handle(_) => "Handle",
            Answer::Panicked(_) => "Panicked",
        }
    }
}

thread_local! {
    /// Owned guards left to the thread-local destructors of an exiting worker.
    static STASH: RefCell<Vec<OwnedPooled<Obj>>> = const { RefCell::new(Vec::new()) };
}

/// A worker's `'static` state.
struct Keep {
    owned: BTreeMap<u64, Owned>,
    extras: Vec<P>,
    makers: Arc<Makers>,
}

enum Next {
    /// Replace the home handle (drop it with `None`), then answer `Done`.
    Home(Option<P>),
    Exit {
        handover: bool,
    },
    Disconnected,
}

enum Step {
    Answer(Answer),
    Next(Next),
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    (payload.downcast_ref::<String>().cloned())
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<non-string panic payload>".to_string())
}

fn worker(
    commands: Receiver<Cmd>,
    answers: Sender<Answer>,
    mut handles: Vec<P>,
    makers: Arc<Makers>,
    stash_first: bool,
) -> Vec<P> {
    if stash_first {
        // Registered before the pool's thread-locals, so destroyed after them: the stashed
        // guards come back on a thread whose pool slots are gone.
        STASH.with(|_| {});
    }
    let mut home = handles.pop();
    let mut keep = Keep {
        owned: BTreeMap::new(),
        extras: handles,
        makers,
    };
    loop {
        match serve(home.as_ref(), &mut keep, &commands, &answers) {
            Next::Home(new) => {
                home = new;
                let _ = answers.send(Answer::Done);
            }
            Next::Exit { handover } => {
                let mut handles = std::mem::take(&mut keep.extras);
                handles.extend(home);
                if handover {
                    return handles;
                }
                drop(handles);
                return Vec::new();
            }
            Next::Disconnected => return Vec::new(),
        }
    }
}

/// Serves commands with `home` (if any) until one replaces it or ends the thread.
fn serve(
    home: Option<&P>,
    keep: &mut Keep,
    commands: &Receiver<Cmd>,
    answers: &Sender<Answer>,
) -> Next {
    let mut borrowed = BTreeMap::new();
    loop {
        let Ok(cmd) = commands.recv() else {
            return Next::Disconnected;
        };
        let exit = matches!(cmd, Cmd::Exit { .. });
        match catch_unwind(AssertUnwindSafe(|| run(home, &mut borrowed, keep, cmd))) {
            Ok(Step::Answer(answer)) => {
                let _ = answers.send(answer);
            }
            Ok(Step::Next(next)) => return next,
            Err(panic) => {
                let _ = answers.send(Answer::Panicked(panic_message(&*panic)));
                if exit {
                    return Next::Exit { handover: false };
                }
            }
        }
    }
}

fn keep_borrowed<'p>(
    borrowed: &mut BTreeMap<u64, Borrowed<'p>>,
    key: u64,
    mut guard: Pooled<'p, Obj>,
) -> usize {
    let id = take_in(&mut guard);
    borrowed.insert(key, Borrowed::Guard(guard));
    id
}

fn keep_owned(keep: &mut Keep, key: u64, mut guard: OwnedPooled<Obj>) -> usize {
    let id = take_in(&mut guard);
    keep.owned.insert(key, Owned::Guard(guard));
    id
}

fn acquire<'p>(
    pool: &'p P,
    borrowed: &mut BTreeMap<u64, Borrowed<'p>>,
    keep: &mut Keep,
    key: u64,
    acq: Acq,
) -> Answer {
    let mut woken = false;
    let id = match acq {
        Acq::Get => Some(keep_borrowed(borrowed, key, pool.get())),
        Acq::GetOwned => Some(keep_owned(keep, key, pool.get_owned())),
        Acq::TryGet => (pool.try_get()).map(|g| keep_borrowed(borrowed, key, g)),
        Acq::TryGetOwned => (pool.try_get_owned()).map(|g| keep_owned(keep, key, g)),
        Acq::Timeout => (pool.get_timeout(SHORT).ok()).map(|g| keep_borrowed(borrowed, key, g)),
        Acq::TimeoutOwned => (pool.get_owned_timeout(SHORT).ok()).map(|g| keep_owned(keep, key, g)),
        Acq::Async => {
            let mut future = Waiting::new(pool.get_async());
            let polled = future.poll();
            woken = future.woken();
            match polled {
                Poll::Ready(g) => Some(keep_borrowed(borrowed, key, g)),
                Poll::Pending => {
                    borrowed.insert(key, Borrowed::Future(future));
                    None
                }
            }
        }
        Acq::AsyncOwned => {
            let mut future = Waiting::new(pool.get_owned_async());
            let polled = future.poll();
            woken = future.woken();
            match polled {
                Poll::Ready(g) => {
                    drop(future); // its handle goes before the answer
                    Some(keep_owned(keep, key, g))
                }
                Poll::Pending => {
                    keep.owned.insert(key, Owned::Future(future));
                    None
                }
            }
        }
    };
    Answer::Got { id, woken }
}

fn poll_item<'p>(borrowed: &mut BTreeMap<u64, Borrowed<'p>>, keep: &mut Keep, key: u64) -> Answer {
    if let Some(Borrowed::Future(future)) = borrowed.get_mut(&key) {
        let woken = future.woken();
        let id = match future.poll() {
            Poll::Ready(g) => Some(keep_borrowed(borrowed, key, g)),
            Poll::Pending => None,
        };
        return Answer::Got { id, woken };
    }
    let Some(Owned::Future(future)) = keep.owned.get_mut(&key) else {
        panic!("harness: no future {key}");
    };
    let woken = future.woken();
    let id = match future.poll() {
        Poll::Ready(g) => {
            keep.owned.remove(&key); // the future and its handle go first
            Some(keep_owned(keep, key, g))
        }
        Poll::Pending => None,
    };
    Answer::Got { id, woken }
}

fn run<'p>(
    home: Option<&'p P>,
    borrowed: &mut BTreeMap<u64, Borrowed<'p>>,
    keep: &mut Keep,
    cmd: Cmd,
) -> Step {
    let pool = || home.expect("harness: a pool operation on a worker without a handle");
    let answer = match cmd {
        Cmd::Acquire(key, acq) => acquire(pool(), borrowed, keep, key, acq),
        Cmd::Poll(key) => poll_item(borrowed, keep, key),
        Cmd::Cancel(key) => {
            match (borrowed.remove(&key), keep.owned.remove(&key)) {
                (Some(Borrowed::Future(f)), None) => drop(f),
                (None, Some(Owned::Future(f))) => drop(f),
                _ => panic!("harness: no future {key}"),
            }
            Answer::Done
        }
        Cmd::Drop(key) => {
            match (borrowed.remove(&key), keep.owned.remove(&key)) {
                (Some(Borrowed::Guard(g)), None) => drop(g),
                (None, Some(Owned::Guard(g))) => drop(g),
                _ => panic!("harness: no guard {key}"),
            }
            Answer::Done
        }
        Cmd::Take(key) => Answer::Item(keep.owned.remove(&key).expect("harness: no item")),
        Cmd::Give(key, item) => {
            keep.owned.insert(key, item);
            Answer::Done
        }
        Cmd::Put => {
            let mut value = keep.makers.outside();
            let id = value.tracked.id;
            value.tracked.data.push(1);
            match pool().put(value) {
                Ok(()) => Answer::Put(Ok(id)),
                Err(back) => {
                    assert_eq!(back.tracked.id, id, "put handed back another value");
                    Answer::Put(Err((id, !back.tracked.data.is_empty())))
                }
            }
        }
        Cmd::Trim => Answer::Trimmed(pool().trim()),
        Cmd::Stats => Answer::Stats(pool().stats()),
        Cmd::CloneHandle => Answer::Handle(pool().clone()),
        Cmd::Adopt(handle) => {
            if home.is_none() {
                return Step::Next(Next::Home(Some(handle)));
            }
            keep.extras.push(handle);
            Answer::Done
        }
        Cmd::DropHandle => {
            if let Some(extra) = keep.extras.pop() {
                drop(extra);
                Answer::Done
            } else {
                while let Some((_, item)) = borrowed.pop_first() {
                    drop(item);
                }
                return Step::Next(Next::Home(None));
            }
        }
        Cmd::Exit { stash, handover } => {
            let mut keys: Vec<u64> = borrowed.keys().chain(keep.owned.keys()).copied().collect();
            keys.sort_unstable();
            for key in keys {
                if let Some(item) = borrowed.remove(&key) {
                    drop(item);
                    continue;
                }
                match keep.owned.remove(&key) {
                    Some(Owned::Guard(g)) if stash => STASH.with(|s| s.borrow_mut().push(g)),
                    item => drop(item),
                }
            }
            return Step::Next(Next::Exit { handover });
        }
    };
    Step::Answer(answer)
}

// ---------------------------------------------------------------------------------------------
// The model

#[derive(Debug)]
enum Handoff {
    /// An idle or returned object (its id, when the model knows which one).
    Object(Option<usize>),
    Place,
}

#[derive(Debug)]
enum Wait {
    Queued,
    Served(Handoff),
}

/// A counter the docs pin down only between bounds.
#[derive(Debug, Default, Clone, Copy)]
struct Range {
    lo: u64,
    hi: u64,
}

impl Range {
    fn add(&mut self) {
        self.lo += 1;
        self.hi += 1;
    }

    fn contains(&self, value: u64) -> bool {
        (self.lo..=self.hi).contains(&value)
    }
}

/// What the pool holds, as far as the docs say.
#[derive(Debug)]
struct Model {
    cap: Option<usize>,
    max_idle: usize,
    /// `Pool` values alive: workers' handles and pending owned futures.
    handles: usize,
    owned_guards: usize,
    idle: usize,
    /// What `stats().in_use` counts: guards, and objects handed to waiters not yet resolved.
    in_use: usize,
    /// Places handed to waiters that have not run the factory yet.
    pending_places: usize,
    queue: VecDeque<u64>,
    waiting: BTreeMap<u64, Wait>,
    /// Ids of the pool's objects (idle, in use, handed over).
    alive: BTreeSet<usize>,
    seen: BTreeSet<usize>,
    created: u64,
    reused: u64,
    discarded: u64,
    /// A return the pool refuses for lack of room is discarded, not returned; one kept and then
    /// dropped by an exit's flush is both. Which of them happened is not always observable.
    returned: Range,
    /// An acquisition at the cap whose idle objects all sit in other threads' caches queues
    /// (and counts a wait) before the steal serves it at once; one that finds an object in its
    /// own cache or the depot does not. The docs ("found the pool at its cap with nothing idle")
    /// do not say which.
    waits: Range,
    /// Waiters served during the current step (blocked workers answer then).
    served: Vec<u64>,
    /// Objects returned during the current step (a discard of one may be a refused return).
    returned_now: BTreeSet<usize>,
    unknown_returns: usize,
}

impl Model {
    fn new(cap: Option<usize>, max_idle: usize, prefilled: BTreeSet<usize>) -> Self {
        Self {
            cap,
            max_idle,
            handles: 0,
            owned_guards: 0,
            idle: prefilled.len(),
            in_use: 0,
            pending_places: 0,
            queue: VecDeque::new(),
            waiting: BTreeMap::new(),
            created: prefilled.len() as u64,
            alive: prefilled.clone(),
            seen: prefilled,
            reused: 0,
            discarded: 0,
            returned: Range::default(),
            waits: Range::default(),
            served: Vec::new(),
            returned_now: BTreeSet::new(),
            unknown_returns: 0,
        }
    }

    /// Places taken: objects alive in the pool, and places handed to waiters.
    fn places(&self) -> usize {
        self.in_use + self.idle + self.pending_places
    }

    fn at_cap(&self) -> bool {
        self.cap.is_some_and(|cap| self.places() >= cap)
    }

    /// Whether an acquisition resolves at once: nobody queued before it, and an object idle
    /// anywhere or a place free.
    fn ready(&self) -> bool {
        self.queue.is_empty() && (self.idle > 0 || !self.at_cap())
    }

    fn freed(&self) -> bool {
        self.handles == 0 && self.owned_guards == 0
    }

    /// Counts the waits an acquisition that may wait will or may cause.
    fn before_acquire(&mut self) {
        if self.cap.is_none() {
            return;
        }
        if !self.ready() {
            self.waits.add();
        } else if self.at_cap() {
            self.waits.hi += 1;
        }
    }

    /// An acquisition resolved at once with object `id`; `reach` is how many idle objects may
    /// be out of the caller's reach (in other threads' caches).
    fn lent(&mut self, id: usize, reach: usize) {
        if self.seen.insert(id) {
            assert!(
                !self.at_cap(),
                "the factory made {id} with every place taken: {self:?}"
            );
            assert!(
                self.idle <= reach,
                "the factory made {id} with {} objects idle, at most {reach} out of reach",
                self.idle
            );
            self.created += 1;
            self.alive.insert(id);
        } else {
            assert!(self.alive.contains(&id), "handed out {id}, already dropped");
            assert!(self.idle > 0, "reused {id} with nothing idle: {self:?}");
            self.idle -= 1;
            self.reused += 1;
        }
        self.in_use += 1;
    }

    fn enqueue(&mut self, key: u64) {
        self.queue.push_back(key);
        self.waiting.insert(key, Wait::Queued);
    }

    /// Hands `handoff` to the first waiter; `false` if nobody waits.
    fn serve(&mut self, handoff: Handoff) -> bool {
        let Some(key) = self.queue.pop_front() else {
            return false;
        };
        match handoff {
            Handoff::Object(_) => {
                self.reused += 1;
                self.in_use += 1;
            }
            Handoff::Place => self.pending_places += 1,
        }
        self.waiting.insert(key, Wait::Served(handoff));
        self.served.push(key);
        true
    }

    /// An object in use comes back: to the first waiter, or idle.
    fn give_back(&mut self, id: Option<usize>) {
        assert!(self.in_use > 0, "model: a return with nothing in use");
        self.in_use -= 1;
        self.returned.add();
        match id {
            Some(id) => {
                self.returned_now.insert(id);
            }
            None => self.unknown_returns += 1,
        }
        if !self.serve(Handoff::Object(id)) {
            self.idle += 1;
        }
    }

    /// A place freed (its object ended): to the first waiter, or free.
    fn free_place(&mut self) {
        self.serve(Handoff::Place);
    }

    /// A future was dropped.
    fn cancel(&mut self, key: u64) {
        match self.waiting.remove(&key) {
            Some(Wait::Queued) => self.queue.retain(|&k| k != key),
            Some(Wait::Served(Handoff::Object(id))) => self.give_back(id),
            Some(Wait::Served(Handoff::Place)) => {
                self.pending_places -= 1;
                self.free_place();
            }
            None => panic!("model: no waiter {key}"),
        }
    }

    /// A served waiter resolved with object `id`.
    fn take_handoff(&mut self, key: u64, id: usize) {
        let fresh = self.seen.insert(id);
        match self.waiting.remove(&key) {
            Some(Wait::Served(Handoff::Object(expected))) => {
                assert!(!fresh, "a waiter handed an object resolved with a new one");
                if let Some(expected) = expected {
                    assert_eq!(
                        id, expected,
                        "a waiter got another object than the returned one"
                    );
                }
            }
            Some(Wait::Served(Handoff::Place)) => {
                assert!(
                    fresh,
                    "a waiter handed a place resolved with old object {id}"
                );
                self.created += 1;
                self.alive.insert(id);
                self.pending_places -= 1;
                self.in_use += 1;
            }
            other => panic!("waiter {key} resolved while {other:?}: {self:?}"),
        }
    }

    /// The pool dropped idle object `id` for lack of room.
    fn discard(&mut self, id: usize) {
        assert!(
            self.idle > 0,
            "object {id} dropped with nothing idle: {self:?}"
        );
        self.alive.remove(&id);
        self.idle -= 1;
        self.discarded += 1;
        if self.returned_now.remove(&id) || self.unknown_returns > 0 {
            // Maybe a refused return, counted as discarded only.
            self.unknown_returns = self.unknown_returns.saturating_sub(1);
            self.returned.lo -= 1;
        }
        self.free_place();
    }
}

// ---------------------------------------------------------------------------------------------
// The harness

#[derive(Debug, Clone, Copy)]
struct Settings {
    cap: Option<usize>,
    thread_cache: usize,
    max_idle: usize,
    prefill: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Guard(usize),
    Future,
    /// A blocking `get` not served yet.
    Blocked,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    worker: usize,
    owned: bool,
    what: What,
}

struct Slot {
    commands: Sender<Cmd>,
    answers: Receiver<Answer>,
    thread: Option<JoinHandle<Vec<P>>>,
    /// Handles the worker holds (home and extras).
    handles: usize,
    /// Whether the thread did anything with the pool (it may hold cached objects).
    used: bool,
    /// The key of its blocking `get`, while it blocks.
    blocked: Option<u64>,
}

impl Slot {
    /// Alive and answering commands.
    fn free(&self) -> bool {
        self.thread.is_some() && self.blocked.is_none()
    }
}

struct Run {
    settings: Settings,
    makers: Arc<Makers>,
    slots: Vec<Slot>,
    items: BTreeMap<u64, Item>,
    next_key: u64,
    spawned: usize,
    model: Model,
    tearing_down: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Acquire(usize, Acq),
    Poll(usize),
    Cancel(usize),
    /// Drops a guard (index among all guards) on worker `on` (where an owned one moves first).
    Drop {
        guard: usize,
        on: usize,
    },
    /// Moves an owned guard or future (index among them) to another worker.
    Send {
        item: usize,
        to: usize,
    },
    Put(usize),
    Trim(usize),
    Clone {
        from: usize,
        to: usize,
    },
    DropHandle(usize),
    Exit {
        worker: usize,
        stash: bool,
        handover: bool,
    },
    /// At the same time: an owned guard's drop on its worker, and on `worker` a handle's drop
    /// (preferred with `handle`) or another owned guard's.
    Race {
        guard: usize,
        worker: usize,
        handle: bool,
    },
}

/// Prints the step that failed (proptest prints the case).
struct StepContext<'a>(usize, &'a Op);

impl Drop for StepContext<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("  (while running step {}: {:?})", self.0, self.1);
        }
    }
}

fn build(settings: &Settings, makers: &Arc<Makers>) -> P {
    let factory = Arc::clone(makers);
    let builder = Pool::builder(move || factory.made())
        .thread_cache(settings.thread_cache)
        .max_idle(settings.max_idle)
        .prefill(settings.prefill);
    match settings.cap {
        Some(cap) => builder.max_live(cap).build(),
        None => builder.build(),
    }
    .expect("valid settings")
}

impl Run {
    fn start(settings: Settings) -> Self {
        let makers = Arc::new(Makers {
            tracker: Tracker::new(),
            made: Census::new(),
            outside: Census::new(),
        });
        let mut run = Run {
            settings,
            model: Model::new(None, 0, BTreeSet::new()),
            makers,
            slots: Vec::new(),
            items: BTreeMap::new(),
            next_key: 0,
            spawned: 0,
            tearing_down: false,
        };
        let (pool, model) = run.new_pool();
        run.model = model;
        for _ in 0..WORKERS {
            let slot = run.spawn(vec![pool.clone()]);
            run.slots.push(slot);
            run.model.handles += 1;
        }
        drop(pool);
        run
    }

    fn new_pool(&self) -> (P, Model) {
        let before = self.makers.tracker.created();
        let pool = build(&self.settings, &self.makers);
        let prefilled = (before..self.makers.tracker.created()).collect();
        let model = Model::new(self.settings.cap, self.settings.max_idle, prefilled);
        (pool, model)
    }

    fn spawn(&mut self, handles: Vec<P>) -> Slot {
        let (commands, their_commands) = mpsc::channel();
        let (their_answers, answers) = mpsc::channel();
        let makers = Arc::clone(&self.makers);
        let stash_first = self.spawned % 2 == 1;
        self.spawned += 1;
        let n = handles.len();
        let thread = std::thread::Builder::new()
            .name(format!("worker-{}", self.spawned))
            .spawn(move || worker(their_commands, their_answers, handles, makers, stash_first))
            .expect("spawn a worker");
        Slot {
            commands,
            answers,
            thread: Some(thread),
            handles: n,
            used: false,
            blocked: None,
        }
    }

    fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    fn send(&self, w: usize, cmd: Cmd) {
        if self.slots[w].commands.send(cmd).is_err() {
            panic!("worker {w} is gone");
        }
    }

    fn answer(&self, w: usize) -> Answer {
        self.answer_within(w, ANSWER_WITHIN)
    }

    fn answer_within(&self, w: usize, within: Duration) -> Answer {
        match self.slots[w].answers.recv_timeout(within) {
            Ok(Answer::Panicked(message)) => panic!("worker {w} panicked: {message}"),
            Ok(answer) => answer,
            Err(e) => panic!(
                "worker {w} did not answer within {within:?} ({e}): {:?}",
                self.model
            ),
        }
    }

    fn ask(&self, w: usize, cmd: Cmd) -> Answer {
        self.send(w, cmd);
        self.answer(w)
    }

    fn done(&self, w: usize, cmd: Cmd) {
        match self.ask(w, cmd) {
            Answer::Done => {}
            other => panic!("worker {w} answered {}", other.name()),
        }
    }

    fn stats(&self, w: usize) -> PoolStats {
        match self.ask(w, Cmd::Stats) {
            Answer::Stats(stats) => stats,
            other => panic!("worker {w} answered {}", other.name()),
        }
    }

    /// A worker that can read the stats: answering and holding a handle, other than `except`.
    fn observer(&self, except: Option<usize>) -> Option<usize> {
        (0..self.slots.len())
            .find(|&w| Some(w) != except && self.slots[w].free() && self.slots[w].handles > 0)
    }

    /// Idle objects that may be out of `w`'s reach: a cache's worth per other thread that used
    /// the pool.
    fn reach(&self, w: usize) -> usize {
        let others = (self.slots.iter().enumerate())
            .filter(|&(i, s)| i != w && s.used && s.thread.is_some())
            .count();
        self.settings.thread_cache * others
    }

    /// The `index`th (modulo their number) of the items `keep` selects on answering workers.
    fn pick(&self, index: usize, keep: impl Fn(&Item) -> bool) -> Option<(u64, Item)> {
        let keys: Vec<(u64, Item)> = (self.items.iter())
            .filter(|(_, item)| self.slots[item.worker].free() && keep(item))
            .map(|(&k, &item)| (k, item))
            .collect();
        (!keys.is_empty()).then(|| keys[index % keys.len()])
    }

    /// Whether `w` may block in `get`: someone can read the stats meanwhile (to see it queue),
    /// `w` holds no future (one served while it blocks would be stuck there), and another
    /// answering worker holds a guard or a served future, so that the harness can always serve
    /// it later.
    fn can_block(&self, w: usize) -> bool {
        self.observer(Some(w)).is_some()
            && !(self.items.values()).any(|item| item.worker == w && item.what == What::Future)
            && self.items.iter().any(|(key, item)| {
                item.worker != w
                    && self.slots[item.worker].free()
                    && match item.what {
                        What::Guard(_) => true,
                        What::Future => {
                            matches!(self.model.waiting.get(key), Some(Wait::Served(_)))
                        }
                        What::Blocked => false,
                    }
            })
    }

    fn apply(&mut self, op: &Op) {
        self.step(|run| match *op {
            Op::Acquire(w, acq) => run.acquire(w % WORKERS, acq),
            Op::Poll(index) => run.poll(index),
            Op::Cancel(index) => run.cancel(index),
            Op::Drop { guard, on } => run.drop_guard(guard, on % WORKERS),
            Op::Send { item, to } => run.move_item(item, to % WORKERS),
            Op::Put(w) => run.put(w % WORKERS),
            Op::Trim(w) => run.trim(w % WORKERS),
            Op::Clone { from, to } => run.clone_handle(from % WORKERS, to % WORKERS),
            Op::DropHandle(w) => run.drop_handle(w % WORKERS),
            Op::Exit {
                worker,
                stash,
                handover,
            } => {
                let w = worker % WORKERS;
                if run.slots[w].free() {
                    run.exit(w, stash, handover);
                }
            }
            Op::Race {
                guard,
                worker,
                handle,
            } => run.race(guard, worker % WORKERS, handle),
        });
    }

    /// After a step: objects the pool dropped on its own, and blocked workers it served.
    fn settle(&mut self) {
        if self.model.freed() {
            return;
        }
        let dead: Vec<usize> = (self.model.alive.iter().copied())
            .filter(|&id| !self.makers.tracker.is_live(id))
            .collect();
        for &id in &dead {
            assert!(!self.held(id), "object {id} dropped while held");
            self.model.discard(id);
        }
        if !dead.is_empty() {
            assert!(
                self.model.idle >= self.model.max_idle,
                "dropped {dead:?} with room in the depot: {:?}",
                self.model
            );
        }
        loop {
            let served = std::mem::take(&mut self.model.served);
            if served.is_empty() {
                break;
            }
            for key in served {
                let Some(w) = self.slots.iter().position(|s| s.blocked == Some(key)) else {
                    continue; // a future: resolved when polled
                };
                let id = match self.answer_within(w, SERVED_WITHIN) {
                    Answer::Got { id: Some(id), .. } => id,
                    other => panic!("a served blocking get answered {}", other.name()),
                };
                self.slots[w].blocked = None;
                self.model.take_handoff(key, id);
                let item = self.items.get_mut(&key).expect("the blocked get's item");
                item.what = What::Guard(id);
                if item.owned {
                    self.model.owned_guards += 1;
                }
            }
        }
    }

    /// Whether a guard or a waiter known to hold it holds object `id`.
    fn held(&self, id: usize) -> bool {
        self.items.values().any(|item| item.what == What::Guard(id))
            || (self.model.waiting.values()).any(
                |wait| matches!(wait, Wait::Served(Handoff::Object(Some(held))) if *held == id),
            )
    }

    fn acquire(&mut self, w: usize, mut acq: Acq) {
        if !self.slots[w].free() || self.slots[w].handles == 0 {
            return;
        }
        self.slots[w].used = true;
        let key = self.key();
        let ready = self.model.ready();
        let steal = ready && self.model.at_cap();
        let reach = self.reach(w);
        let owned = acq.owned();
        if !matches!(acq, Acq::TryGet | Acq::TryGetOwned) {
            self.model.before_acquire();
        }
        if matches!(acq, Acq::Get | Acq::GetOwned) && !ready {
            if self.can_block(w) {
                return self.block(w, key, acq);
            }
            acq = if owned {
                Acq::TimeoutOwned
            } else {
                Acq::Timeout
            };
        }
        let (id, woken) = match self.ask(w, Cmd::Acquire(key, acq)) {
            Answer::Got { id, woken } => (id, woken),
            other => panic!("worker {w} answered {}", other.name()),
        };
        let what = match (id, acq) {
            (Some(id), Acq::TryGet | Acq::TryGetOwned) => {
                assert!(self.model.seen.contains(&id), "try_get ran the factory");
                self.model.lent(id, reach);
                What::Guard(id)
            }
            (Some(id), _) => {
                assert!(
                    ready,
                    "{acq:?} resolved with every place taken or waiters ahead: {:?}",
                    self.model
                );
                self.model.lent(id, reach);
                What::Guard(id)
            }
            (None, Acq::TryGet | Acq::TryGetOwned) => {
                assert!(
                    self.model.idle <= reach,
                    "try_get found nothing with {} idle, at most {reach} out of reach",
                    self.model.idle
                );
                return;
            }
            (None, Acq::Timeout | Acq::TimeoutOwned) => {
                assert!(
                    !ready,
                    "get_timeout timed out with an object or place free: {:?}",
                    self.model
                );
                return;
            }
            (None, Acq::Async | Acq::AsyncOwned) => {
                if ready {
                    // At the cap with every idle object in other threads' caches: queued, then
                    // served at once by the steal (and woken: the executor polls again).
                    assert!(
                        steal,
                        "{acq:?} pending with an object or place free: {:?}",
                        self.model
                    );
                    assert!(woken, "{acq:?} served by the steal but not woken");
                    self.model.idle -= 1;
                    self.model.enqueue(key);
                    self.model.serve(Handoff::Object(None));
                } else {
                    self.model.enqueue(key);
                }
                if owned {
                    self.model.handles += 1;
                }
                What::Future
            }
            (None, Acq::Get | Acq::GetOwned) => unreachable!("get returns a guard"),
        };
        if owned && matches!(what, What::Guard(_)) {
            self.model.owned_guards += 1;
        }
        let item = Item {
            worker: w,
            owned,
            what,
        };
        self.items.insert(key, item);
    }

    /// A `get` that the model says must wait: sent, and seen to queue (`stats().waits`).
    fn block(&mut self, w: usize, key: u64, acq: Acq) {
        let observer = self.observer(Some(w)).expect("checked by can_block");
        let before = self.stats(observer).waits;
        self.send(w, Cmd::Acquire(key, acq));
        let start = Instant::now();
        loop {
            if let Ok(answer) = self.slots[w].answers.try_recv() {
                let message = match answer {
                    Answer::Panicked(message) => message,
                    other => other.name().to_string(),
                };
                panic!(
                    "{acq:?} did not wait with every place taken ({message}): {:?}",
                    self.model
                );
            }
            if self.stats(observer).waits > before {
                break;
            }
            assert!(start.elapsed() < ANSWER_WITHIN, "{acq:?} never queued");
            std::thread::sleep(Duration::from_micros(50));
        }
        self.model.enqueue(key);
        self.slots[w].blocked = Some(key);
        let item = Item {
            worker: w,
            owned: acq.owned(),
            what: What::Blocked,
        };
        self.items.insert(key, item);
    }

    fn poll(&mut self, index: usize) {
        let Some((key, item)) = self.pick(index, |item| item.what == What::Future) else {
            return;
        };
        self.slots[item.worker].used = true;
        let (id, woken) = match self.ask(item.worker, Cmd::Poll(key)) {
            Answer::Got { id, woken } => (id, woken),
            other => panic!("worker answered {}", other.name()),
        };
        match (self.model.waiting.get(&key), id) {
            (Some(Wait::Queued), None) => {}
            (Some(Wait::Served(_)), Some(id)) => {
                assert!(woken, "a served future was not woken");
                self.model.take_handoff(key, id);
                self.items.get_mut(&key).expect("polled").what = What::Guard(id);
                if item.owned {
                    self.model.handles -= 1;
                    self.model.owned_guards += 1;
                }
            }
            (wait, id) => panic!(
                "future {key} polled {id:?} while {wait:?}: {:?}",
                self.model
            ),
        }
    }

    fn cancel(&mut self, index: usize) {
        if let Some((key, _)) = self.pick(index, |item| item.what == What::Future) {
            self.cancel_future(key);
        }
    }

    fn cancel_future(&mut self, key: u64) {
        let item = self.items.remove(&key).expect("a future");
        self.slots[item.worker].used = true;
        self.done(item.worker, Cmd::Cancel(key));
        self.model.cancel(key);
        if item.owned {
            self.model.handles -= 1;
        }
    }

    /// Moves owned item `key` from its worker to `to`.
    fn relocate(&mut self, key: u64, to: usize) {
        let from = self.items[&key].worker;
        let owned = match self.ask(from, Cmd::Take(key)) {
            Answer::Item(owned) => owned,
            other => panic!("worker {from} answered {}", other.name()),
        };
        self.done(to, Cmd::Give(key, owned));
        self.items.get_mut(&key).expect("moved").worker = to;
    }

    fn drop_guard(&mut self, index: usize, on: usize) {
        if let Some((key, _)) = self.pick(index, |item| matches!(item.what, What::Guard(_))) {
            self.drop_key(key, on);
        }
    }

    /// Drops guard `key` on worker `on` if it is owned and `on` answers (it moves there first),
    /// else on its own worker.
    fn drop_key(&mut self, key: u64, on: usize) {
        let item = self.items[&key];
        let What::Guard(id) = item.what else {
            unreachable!("a guard")
        };
        let mut w = item.worker;
        if item.owned && on != w && self.slots[on].free() {
            self.relocate(key, on);
            w = on;
        }
        self.slots[w].used = true;
        self.done(w, Cmd::Drop(key));
        self.items.remove(&key);
        self.model.give_back(Some(id));
        if item.owned {
            self.model.owned_guards -= 1;
        }
    }

    fn move_item(&mut self, index: usize, to: usize) {
        let Some((key, item)) = self.pick(index, |item| item.owned && item.what != What::Blocked)
        else {
            return;
        };
        if to != item.worker && self.slots[to].free() {
            self.relocate(key, to);
        }
    }

    fn put(&mut self, w: usize) {
        if !self.slots[w].free() || self.slots[w].handles == 0 {
            return;
        }
        self.slots[w].used = true;
        let full =
            self.model.cap.is_some() && (!self.model.queue.is_empty() || self.model.at_cap());
        match self.ask(w, Cmd::Put) {
            Answer::Put(Ok(id)) => {
                assert!(!full, "put kept a value past the cap: {:?}", self.model);
                assert!(self.model.seen.insert(id), "put: a value the pool knew");
                self.model.alive.insert(id);
                self.model.idle += 1;
                self.model.returned.add();
            }
            Answer::Put(Err((_, as_it_was))) => {
                if full {
                    assert!(as_it_was, "put at the cap handed its value back changed");
                } else {
                    assert!(
                        !as_it_was,
                        "put refused a value for lack of room, not reset"
                    );
                    assert!(
                        self.model.idle >= self.model.max_idle,
                        "put refused a value with room in the depot: {:?}",
                        self.model
                    );
                }
            }
            other => panic!("worker {w} answered {}", other.name()),
        }
    }

    fn trim(&mut self, w: usize) {
        if !self.slots[w].free() || self.slots[w].handles == 0 {
            return;
        }
        self.slots[w].used = true;
        let idle = self.model.idle;
        let reach = self.reach(w);
        let n = match self.ask(w, Cmd::Trim) {
            Answer::Trimmed(n) => n,
            other => panic!("worker {w} answered {}", other.name()),
        };
        let bound = self.settings.max_idle + self.settings.thread_cache;
        assert!(n <= idle, "trim dropped {n} of {idle} idle");
        assert!(
            n + reach >= idle,
            "trim dropped {n} of {idle} idle, at most {reach} out of its reach"
        );
        assert!(
            n <= bound,
            "trim dropped {n}: more than the depot and one cache hold ({bound})"
        );
        let dead: Vec<usize> = (self.model.alive.iter().copied())
            .filter(|&id| !self.makers.tracker.is_live(id))
            .collect();
        assert_eq!(dead.len(), n, "trim said {n}, dropped {dead:?}");
        for id in dead {
            assert!(!self.held(id), "trim dropped {id}, which is held");
            self.model.alive.remove(&id);
            self.model.idle -= 1;
            self.model.discarded += 1;
            self.model.free_place();
        }
    }

    fn clone_handle(&mut self, from: usize, to: usize) {
        if !self.slots[from].free() || self.slots[from].handles == 0 || !self.slots[to].free() {
            return;
        }
        let handle = match self.ask(from, Cmd::CloneHandle) {
            Answer::Handle(handle) => handle,
            other => panic!("worker {from} answered {}", other.name()),
        };
        self.done(to, Cmd::Adopt(handle));
        self.slots[to].handles += 1;
        self.model.handles += 1;
    }

    /// The model's side of dropping `w`'s borrowed items (guards returned, futures cancelled),
    /// in key order.
    fn drop_borrowed(&mut self, w: usize) {
        let keys: Vec<u64> = (self.items.iter())
            .filter(|(_, item)| item.worker == w && !item.owned)
            .map(|(&key, _)| key)
            .collect();
        for key in keys {
            self.slots[w].used = true;
            match self.items.remove(&key).expect("listed").what {
                What::Guard(id) => self.model.give_back(Some(id)),
                What::Future => self.model.cancel(key),
                What::Blocked => unreachable!("an answering worker is not blocked"),
            }
        }
    }

    fn drop_handle(&mut self, w: usize) {
        if !self.slots[w].free() || self.slots[w].handles == 0 {
            return;
        }
        if self.slots[w].handles == 1 {
            self.drop_borrowed(w); // before the home handle they borrow
        }
        self.done(w, Cmd::DropHandle);
        self.slots[w].handles -= 1;
        self.model.handles -= 1;
    }

    /// Ends worker `w`'s thread (see [`Cmd::Exit`]); a fresh worker takes its place unless the
    /// run is tearing down.
    fn exit(&mut self, w: usize, stash: bool, handover: bool) {
        let keys: Vec<u64> = (self.items.iter())
            .filter(|(_, item)| item.worker == w)
            .map(|(&key, _)| key)
            .collect();
        let mut stashed = Vec::new();
        for key in keys {
            let item = self.items.remove(&key).expect("listed");
            match item.what {
                What::Guard(id) if item.owned && stash => stashed.push(id),
                What::Guard(id) => {
                    self.model.give_back(Some(id));
                    if item.owned {
                        self.model.owned_guards -= 1;
                    }
                }
                What::Future => {
                    self.model.cancel(key);
                    if item.owned {
                        self.model.handles -= 1;
                    }
                }
                What::Blocked => unreachable!("an answering worker is not blocked"),
            }
        }
        let handles = self.slots[w].handles;
        if !handover {
            self.model.handles -= handles;
        }
        self.send(w, Cmd::Exit { stash, handover });
        let thread = self.slots[w].thread.take().expect("alive");
        let handed = match thread.join() {
            Ok(handed) => handed,
            Err(panic) => panic!("worker {w} died: {}", panic_message(&*panic)),
        };
        if let Ok(Answer::Panicked(message)) = self.slots[w].answers.try_recv() {
            panic!("worker {w} panicked on its way out: {message}");
        }
        // Stashed guards came back in the thread-local destructors.
        for id in stashed {
            self.model.give_back(Some(id));
            self.model.owned_guards -= 1;
        }
        assert_eq!(handed.len(), if handover { handles } else { 0 });
        if self.tearing_down {
            self.slots[w].handles = 0;
            assert!(handed.is_empty());
        } else {
            self.slots[w] = self.spawn(handed);
        }
    }

    /// Drops owned guard `key` on its worker and, at the same time, a handle (with `handle`, if
    /// `w` has one) or an owned guard of `w`'s. Only while nobody waits: then the two commute.
    fn race(&mut self, index: usize, w: usize, handle: bool) {
        let Some((key, item)) = self.pick(index, |item| {
            item.owned && matches!(item.what, What::Guard(_))
        }) else {
            return;
        };
        let h = item.worker;
        let other = (self.items.iter())
            .find(|(_, item)| item.worker == w && item.owned && matches!(item.what, What::Guard(_)))
            .map(|(&key, _)| key);
        if w == h || !self.slots[w].free() || !self.model.queue.is_empty() {
            self.drop_key(key, h);
        } else if self.slots[w].handles > 0 && (handle || other.is_none()) {
            self.drop_guard_and_handle(key, w);
        } else if let Some(other) = other {
            self.drop_guards(key, other);
        } else {
            self.drop_key(key, h);
        }
    }

    /// Sends both commands, then waits for both answers.
    fn concurrently(&self, (a, cmd_a): (usize, Cmd), (b, cmd_b): (usize, Cmd)) {
        assert_ne!(a, b, "harness: one worker");
        self.send(a, cmd_a);
        self.send(b, cmd_b);
        for worker in [a, b] {
            match self.answer(worker) {
                Answer::Done => {}
                answer => panic!("worker {worker} answered {}", answer.name()),
            }
        }
    }

    /// The model's side of an owned guard's drop.
    fn dropped_owned(&mut self, key: u64) {
        let item = self.items.remove(&key).expect("a guard");
        let What::Guard(id) = item.what else {
            unreachable!("a guard");
        };
        self.slots[item.worker].used = true;
        self.model.give_back(Some(id));
        self.model.owned_guards -= 1;
    }

    /// Owned guard `key`'s drop on its worker against a handle's drop on `w` (its last handle
    /// takes its borrowed items first; with nobody waiting, their returns commute too).
    fn drop_guard_and_handle(&mut self, key: u64, w: usize) {
        let h = self.items[&key].worker;
        debug_assert!(self.model.queue.is_empty());
        self.concurrently((h, Cmd::Drop(key)), (w, Cmd::DropHandle));
        self.dropped_owned(key);
        if self.slots[w].handles == 1 {
            self.drop_borrowed(w);
        }
        self.slots[w].handles -= 1;
        self.model.handles -= 1;
    }

    /// Two owned guards' drops on their two workers at once.
    fn drop_guards(&mut self, a: u64, b: u64) {
        debug_assert!(self.model.queue.is_empty());
        let (wa, wb) = (self.items[&a].worker, self.items[&b].worker);
        self.concurrently((wa, Cmd::Drop(a)), (wb, Cmd::Drop(b)));
        self.dropped_owned(a);
        self.dropped_owned(b);
    }

    /// The checks at rest, after every step.
    fn check(&mut self) {
        let tracker = &self.makers.tracker;
        if self.model.freed() {
            assert_eq!(tracker.live(), 0, "the pool is gone, not all its objects");
            assert_eq!(
                self.makers.alive(),
                0,
                "the pool is gone, not all its objects"
            );
            tracker.assert_all_dropped_once();
            if !self.tearing_down {
                self.next_pool();
            }
            return;
        }
        let model = &self.model;
        let alive = model.alive.len();
        assert_eq!(
            tracker.live(),
            alive,
            "objects alive vs the model: {model:?}"
        );
        assert_eq!(self.makers.alive(), alive, "census vs the model: {model:?}");
        assert_eq!(alive, model.in_use + model.idle, "model: {model:?}");
        let mut held = BTreeSet::new();
        for item in self.items.values() {
            if let What::Guard(id) = item.what {
                assert!(held.insert(id), "object {id} in two guards");
                assert!(
                    model.alive.contains(&id),
                    "a guard's object {id} was dropped"
                );
            }
        }
        let handed = (model.waiting.values())
            .filter(|wait| matches!(wait, Wait::Served(Handoff::Object(_))))
            .count();
        assert_eq!(held.len() + handed, model.in_use, "model: {model:?}");
        if let Some(cap) = model.cap {
            assert!(
                self.makers.made.most() <= cap,
                "{} objects alive at once, max_live {cap}",
                self.makers.made.most()
            );
            assert!(model.places() <= cap, "model: {model:?}");
        }
        if !model.queue.is_empty() {
            assert!(model.idle == 0 && model.at_cap(), "model: {model:?}");
        }
        if let Some(w) = self.observer(None) {
            let stats = self.stats(w);
            let exact = (
                stats.created,
                stats.reused,
                stats.discarded,
                stats.detached,
                stats.in_use,
                stats.idle,
            );
            let expected = (
                model.created,
                model.reused,
                model.discarded,
                0,
                model.in_use,
                model.idle,
            );
            assert_eq!(
                exact, expected,
                "(created, reused, discarded, detached, in_use, idle) vs the model: {stats:?}, {model:?}"
            );
            assert!(
                model.returned.contains(stats.returned),
                "returned {} vs the model's {:?}",
                stats.returned,
                model.returned
            );
            assert!(
                model.waits.contains(stats.waits),
                "waits {} vs the model's {:?}",
                stats.waits,
                model.waits
            );
            if let Some(cap) = model.cap {
                assert!(
                    stats.peak_in_use <= cap,
                    "peak_in_use above max_live: {stats:?}"
                );
            }
        }
        let users = (self.slots.iter())
            .filter(|s| s.used && s.thread.is_some())
            .count();
        let bound = self.settings.max_idle + self.settings.thread_cache * users;
        assert!(
            model.idle <= bound,
            "{} idle, above max_idle + thread_cache x {users} threads = {bound}",
            model.idle
        );
    }

    /// The pool is gone: a fresh one, a handle for every worker.
    fn next_pool(&mut self) {
        let (pool, model) = self.new_pool();
        self.model = model;
        for w in 0..self.slots.len() {
            self.done(w, Cmd::Adopt(pool.clone()));
            self.slots[w].handles = 1;
            self.slots[w].used = false;
            self.model.handles += 1;
        }
    }

    /// One step of the run: `f`, then the pool's own drops and wake-ups, then the checks.
    fn step(&mut self, f: impl FnOnce(&mut Self)) {
        self.model.served.clear();
        self.model.returned_now.clear();
        self.model.unknown_returns = 0;
        f(self);
        self.settle();
        self.check();
    }

    /// Ends the pool's life, then every worker: futures cancelled; if nobody blocks, handles
    /// dropped down to the last one, whose drop races an owned guard's on another worker; the
    /// remaining owned guards dropped two at a time on two workers; then every worker exits
    /// (serving whoever still waits). Then the pool and every object must be gone.
    fn finish(mut self) {
        self.tearing_down = true;
        while let Some((key, _)) = self.pick(0, |item| item.what == What::Future) {
            self.step(|run| run.cancel_future(key));
        }
        let holders = |run: &Self| {
            (0..run.slots.len())
                .filter(|&w| run.slots[w].free() && run.slots[w].handles > 0)
                .collect::<Vec<_>>()
        };
        if self.slots.iter().all(|s| s.blocked.is_none()) {
            while self.model.handles > 1 {
                let w = holders(&self)[0];
                self.step(|run| run.drop_handle(w));
            }
            if let [w] = holders(&self)[..] {
                let guard = (self.items.iter())
                    .find(|(_, item)| {
                        item.worker != w && item.owned && matches!(item.what, What::Guard(_))
                    })
                    .map(|(&key, _)| key);
                if let Some(key) = guard {
                    self.step(|run| run.drop_guard_and_handle(key, w));
                }
            }
        }
        loop {
            let owned: Vec<(u64, usize)> = (self.items.iter())
                .filter(|(_, item)| {
                    self.slots[item.worker].free()
                        && item.owned
                        && matches!(item.what, What::Guard(_))
                })
                .map(|(&key, item)| (key, item.worker))
                .collect();
            let Some(&(a, wa)) = owned.first() else {
                break;
            };
            match owned.iter().find(|&&(_, w)| w != wa) {
                Some(&(b, _)) if self.model.queue.is_empty() => {
                    self.step(|run| run.drop_guards(a, b));
                }
                _ => self.step(|run| run.drop_key(a, wa)),
            }
        }
        while self.slots.iter().any(|s| s.thread.is_some()) {
            let Some(w) = (0..self.slots.len()).find(|&w| self.slots[w].free()) else {
                panic!(
                    "workers blocked with nobody left to serve them: {:?}",
                    self.model
                );
            };
            self.step(|run| run.exit(w, false, false));
        }
        assert!(self.model.freed(), "model: {:?}", self.model);
        assert_eq!(self.makers.tracker.live(), 0);
        self.makers.tracker.assert_all_dropped_once();
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies

fn settings() -> impl Strategy<Value = Settings> {
    (
        prop_oneof![1 => Just(None), 4 => (1usize..=6).prop_map(Some)],
        0usize..=4,
        prop_oneof![1 => Just(DEFAULT_MAX_IDLE), 1 => 1usize..=4],
        0usize..=2,
    )
        .prop_map(|(cap, thread_cache, max_idle, prefill)| Settings {
            cap,
            thread_cache,
            max_idle,
            prefill: prefill.min(max_idle).min(cap.unwrap_or(usize::MAX)),
        })
}

fn acq() -> impl Strategy<Value = Acq> {
    prop_oneof![
        3 => Just(Acq::Get),
        3 => Just(Acq::GetOwned),
        1 => Just(Acq::TryGet),
        1 => Just(Acq::TryGetOwned),
        2 => Just(Acq::Timeout),
        1 => Just(Acq::TimeoutOwned),
        2 => Just(Acq::Async),
        2 => Just(Acq::AsyncOwned),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let worker = || 0..WORKERS;
    Union::new_weighted(vec![
        (
            12,
            (worker(), acq())
                .prop_map(|(w, a)| Op::Acquire(w, a))
                .boxed(),
        ),
        (
            10,
            (any::<usize>(), worker())
                .prop_map(|(guard, on)| Op::Drop { guard, on })
                .boxed(),
        ),
        (3, any::<usize>().prop_map(Op::Poll).boxed()),
        (1, any::<usize>().prop_map(Op::Cancel).boxed()),
        (
            1,
            (any::<usize>(), worker())
                .prop_map(|(item, to)| Op::Send { item, to })
                .boxed(),
        ),
        (1, worker().prop_map(Op::Put).boxed()),
        (2, worker().prop_map(Op::Trim).boxed()),
        (
            1,
            (worker(), worker())
                .prop_map(|(from, to)| Op::Clone { from, to })
                .boxed(),
        ),
        (1, worker().prop_map(Op::DropHandle).boxed()),
        (
            1,
            (worker(), any::<bool>(), any::<bool>())
                .prop_map(|(worker, stash, handover)| Op::Exit {
                    worker,
                    stash,
                    handover,
                })
                .boxed(),
        ),
        (
            1,
            (any::<usize>(), worker(), any::<bool>())
                .prop_map(|(guard, worker, handle)| Op::Race {
                    guard,
                    worker,
                    handle,
                })
                .boxed(),
        ),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig {
        max_shrink_time: MAX_SHRINK_MS,
        ..config(cases())
    })]

    #[test]
    fn pool_lifecycle_matches_the_model(
        settings in settings(),
        ops in prop::collection::vec(op(), 1..MAX_OPS),
    ) {
        let mut run = Run::start(settings);
        for (i, op) in ops.iter().enumerate() {
            let _context = StepContext(i, op);
            run.apply(op);
        }
        run.finish();
    }
}
