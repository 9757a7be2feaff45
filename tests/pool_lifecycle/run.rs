//! The harness of `tests/pool_lifecycle_props.rs`: a run's settings, workers, held items and
//! operations, and how it talks to its workers. The operations themselves are in `steps.rs`.

use crate::*;

// ---------------------------------------------------------------------------------------------
// The harness

#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) cap: Option<usize>,
    pub(crate) thread_cache: usize,
    pub(crate) max_idle: usize,
    pub(crate) prefill: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum What {
    Guard(usize),
    Future,
    /// A blocking `get` not served yet.
    Blocked,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    pub(crate) worker: usize,
    pub(crate) owned: bool,
    pub(crate) what: What,
}

pub(crate) struct Slot {
    pub(crate) commands: Sender<Cmd>,
    pub(crate) answers: Receiver<Answer>,
    pub(crate) thread: Option<JoinHandle<Vec<P>>>,
    /// Handles the worker holds (home and extras).
    pub(crate) handles: usize,
    /// Whether the thread did anything with the pool (it may hold cached objects).
    pub(crate) used: bool,
    /// The key of its blocking `get`, while it blocks.
    pub(crate) blocked: Option<u64>,
}

impl Slot {
    /// Alive and answering commands.
    pub(crate) fn free(&self) -> bool {
        self.thread.is_some() && self.blocked.is_none()
    }
}

pub(crate) struct Run {
    pub(crate) settings: Settings,
    pub(crate) makers: Arc<Makers>,
    pub(crate) slots: Vec<Slot>,
    pub(crate) items: BTreeMap<u64, Item>,
    pub(crate) next_key: u64,
    pub(crate) spawned: usize,
    pub(crate) model: Model,
    pub(crate) tearing_down: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
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
pub(crate) struct StepContext<'a>(pub(crate) usize, pub(crate) &'a Op);

impl Drop for StepContext<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("  (while running step {}: {:?})", self.0, self.1);
        }
    }
}

pub(crate) fn build(settings: &Settings, makers: &Arc<Makers>) -> P {
    let factory = Arc::clone(makers);
    let builder = Pool::builder(move || factory.made())
        .thread_cache(settings.thread_cache)
        .max_idle(settings.max_idle)
        .prefill(settings.prefill);
    match settings.cap {
        // The model hands every object that comes back to the first waiter: strict order.
        Some(cap) => builder
            .max_live(cap)
            .fair_after(std::time::Duration::ZERO)
            .build(),
        None => builder.build(),
    }
    .expect("valid settings")
}

impl Run {
    pub(crate) fn start(settings: Settings) -> Self {
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

    pub(crate) fn new_pool(&self) -> (P, Model) {
        let before = self.makers.tracker.created();
        let pool = build(&self.settings, &self.makers);
        let prefilled = (before..self.makers.tracker.created()).collect();
        let model = Model::new(self.settings.cap, self.settings.max_idle, prefilled);
        (pool, model)
    }

    pub(crate) fn spawn(&mut self, handles: Vec<P>) -> Slot {
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

    pub(crate) fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    pub(crate) fn send(&self, w: usize, cmd: Cmd) {
        if self.slots[w].commands.send(cmd).is_err() {
            panic!("worker {w} is gone");
        }
    }

    pub(crate) fn answer(&self, w: usize) -> Answer {
        self.answer_within(w, ANSWER_WITHIN)
    }

    pub(crate) fn answer_within(&self, w: usize, within: Duration) -> Answer {
        match self.slots[w].answers.recv_timeout(within) {
            Ok(Answer::Panicked(message)) => panic!("worker {w} panicked: {message}"),
            Ok(answer) => answer,
            Err(e) => panic!(
                "worker {w} did not answer within {within:?} ({e}): {:?}",
                self.model
            ),
        }
    }

    pub(crate) fn ask(&self, w: usize, cmd: Cmd) -> Answer {
        self.send(w, cmd);
        self.answer(w)
    }

    pub(crate) fn done(&self, w: usize, cmd: Cmd) {
        match self.ask(w, cmd) {
            Answer::Done => {}
            other => panic!("worker {w} answered {}", other.name()),
        }
    }

    pub(crate) fn stats(&self, w: usize) -> PoolStats {
        match self.ask(w, Cmd::Stats) {
            Answer::Stats(stats) => stats,
            other => panic!("worker {w} answered {}", other.name()),
        }
    }

    /// A worker that can read the stats: answering and holding a handle, other than `except`.
    pub(crate) fn observer(&self, except: Option<usize>) -> Option<usize> {
        (0..self.slots.len())
            .find(|&w| Some(w) != except && self.slots[w].free() && self.slots[w].handles > 0)
    }

    /// Idle objects that may be out of `w`'s reach: a cache's worth per other thread that used
    /// the pool.
    pub(crate) fn reach(&self, w: usize) -> usize {
        let others = (self.slots.iter().enumerate())
            .filter(|&(i, s)| i != w && s.used && s.thread.is_some())
            .count();
        self.settings.thread_cache * others
    }

    /// The `index`th (modulo their number) of the items `keep` selects on answering workers.
    pub(crate) fn pick(&self, index: usize, keep: impl Fn(&Item) -> bool) -> Option<(u64, Item)> {
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
    pub(crate) fn can_block(&self, w: usize) -> bool {
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

    pub(crate) fn apply(&mut self, op: &Op) {
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
    pub(crate) fn settle(&mut self) {
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
    pub(crate) fn held(&self, id: usize) -> bool {
        self.items.values().any(|item| item.what == What::Guard(id))
            || (self.model.waiting.values()).any(
                |wait| matches!(wait, Wait::Served(Handoff::Object(Some(held))) if *held == id),
            )
    }
}
