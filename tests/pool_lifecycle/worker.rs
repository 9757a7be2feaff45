//! The pooled objects and the workers of `tests/pool_lifecycle_props.rs`: each worker is a real
//! OS thread that runs the commands the harness sends it and answers each one.

use crate::*;

// ---------------------------------------------------------------------------------------------
// Objects

/// A pooled object: a [`Tracked`] (unique id, dropped exactly once) that also counts itself in a
/// [`Census`] (alive now, most ever alive at once).
#[derive(Debug)]
pub(crate) struct Obj {
    pub(crate) tracked: Tracked,
    pub(crate) _counted: Counted,
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
pub(crate) struct Makers {
    pub(crate) tracker: Arc<Tracker>,
    /// The factory's objects: never more than `max_live` alive at once.
    pub(crate) made: Arc<Census>,
    /// Values made outside the pool for `put`.
    pub(crate) outside: Arc<Census>,
}

impl Makers {
    pub(crate) fn made(&self) -> Obj {
        Obj {
            tracked: self.tracker.make(),
            _counted: self.made.make(),
        }
    }

    pub(crate) fn outside(&self) -> Obj {
        Obj {
            tracked: self.tracker.make(),
            _counted: self.outside.make(),
        }
    }

    pub(crate) fn alive(&self) -> usize {
        self.made.alive() + self.outside.alive()
    }
}

pub(crate) type P = Pool<Obj>;

/// Takes a handed-out object: checks it was reset, dirties it (the next reset must clean it)
/// and returns its id.
pub(crate) fn take_in(obj: &mut Obj) -> usize {
    let id = obj.tracked.id;
    assert!(obj.tracked.data.is_empty(), "object {id} handed out dirty");
    obj.tracked.data.push(1);
    id
}

// ---------------------------------------------------------------------------------------------
// Workers

/// A waker that records that it was woken.
#[derive(Default)]
pub(crate) struct WakeFlag(AtomicBool);

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A future polled by hand, with the flag of its waker.
pub(crate) struct Waiting<F> {
    pub(crate) future: Pin<Box<F>>,
    pub(crate) woken: Arc<WakeFlag>,
}

impl<F: Future> Waiting<F> {
    pub(crate) fn new(future: F) -> Self {
        Self {
            future: Box::pin(future),
            woken: Arc::default(),
        }
    }

    pub(crate) fn poll(&mut self) -> Poll<F::Output> {
        let waker = Waker::from(Arc::clone(&self.woken));
        self.future.as_mut().poll(&mut Context::from_waker(&waker))
    }

    pub(crate) fn woken(&self) -> bool {
        self.woken.0.load(Ordering::SeqCst)
    }
}

/// What a worker holds that borrows its home handle.
pub(crate) enum Borrowed<'p> {
    Guard(Pooled<'p, Obj>),
    Future(Waiting<GetFuture<'p, Obj>>),
}

/// What a worker holds that is `'static`, and can move to another worker.
pub(crate) enum Owned {
    Guard(OwnedPooled<Obj>),
    Future(Waiting<GetOwnedFuture<Obj>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acq {
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
    pub(crate) fn owned(self) -> bool {
        matches!(
            self,
            Acq::GetOwned | Acq::TryGetOwned | Acq::TimeoutOwned | Acq::AsyncOwned
        )
    }
}

pub(crate) enum Cmd {
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

pub(crate) enum Answer {
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
    pub(crate) fn name(&self) -> &'static str {
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
pub(crate) struct Keep {
    pub(crate) owned: BTreeMap<u64, Owned>,
    pub(crate) extras: Vec<P>,
    pub(crate) makers: Arc<Makers>,
}

pub(crate) enum Next {
    /// Replace the home handle (drop it with `None`), then answer `Done`.
    Home(Option<P>),
    Exit {
        handover: bool,
    },
    Disconnected,
}

pub(crate) enum Step {
    Answer(Answer),
    Next(Next),
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    (payload.downcast_ref::<String>().cloned())
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<non-string panic payload>".to_string())
}

pub(crate) fn worker(
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
pub(crate) fn serve(
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

pub(crate) fn keep_borrowed<'p>(
    borrowed: &mut BTreeMap<u64, Borrowed<'p>>,
    key: u64,
    mut guard: Pooled<'p, Obj>,
) -> usize {
    let id = take_in(&mut guard);
    borrowed.insert(key, Borrowed::Guard(guard));
    id
}

pub(crate) fn keep_owned(keep: &mut Keep, key: u64, mut guard: OwnedPooled<Obj>) -> usize {
    let id = take_in(&mut guard);
    keep.owned.insert(key, Owned::Guard(guard));
    id
}

pub(crate) fn acquire<'p>(
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

pub(crate) fn poll_item<'p>(
    borrowed: &mut BTreeMap<u64, Borrowed<'p>>,
    keep: &mut Keep,
    key: u64,
) -> Answer {
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

pub(crate) fn run<'p>(
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
