//! The steps of a `tests/pool_lifecycle_props.rs` run: each operation on the pool and the
//! workers, checked against the model after every step, and the end of the pool's life.

use crate::*;

impl Run {
    pub(crate) fn acquire(&mut self, w: usize, mut acq: Acq) {
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
    pub(crate) fn block(&mut self, w: usize, key: u64, acq: Acq) {
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

    pub(crate) fn poll(&mut self, index: usize) {
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

    pub(crate) fn cancel(&mut self, index: usize) {
        if let Some((key, _)) = self.pick(index, |item| item.what == What::Future) {
            self.cancel_future(key);
        }
    }

    pub(crate) fn cancel_future(&mut self, key: u64) {
        let item = self.items.remove(&key).expect("a future");
        self.slots[item.worker].used = true;
        self.done(item.worker, Cmd::Cancel(key));
        self.model.cancel(key);
        if item.owned {
            self.model.handles -= 1;
        }
    }

    /// Moves owned item `key` from its worker to `to`.
    pub(crate) fn relocate(&mut self, key: u64, to: usize) {
        let from = self.items[&key].worker;
        let owned = match self.ask(from, Cmd::Take(key)) {
            Answer::Item(owned) => owned,
            other => panic!("worker {from} answered {}", other.name()),
        };
        self.done(to, Cmd::Give(key, owned));
        self.items.get_mut(&key).expect("moved").worker = to;
    }

    pub(crate) fn drop_guard(&mut self, index: usize, on: usize) {
        if let Some((key, _)) = self.pick(index, |item| matches!(item.what, What::Guard(_))) {
            self.drop_key(key, on);
        }
    }

    /// Drops guard `key` on worker `on` if it is owned and `on` answers (it moves there first),
    /// else on its own worker.
    pub(crate) fn drop_key(&mut self, key: u64, on: usize) {
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

    pub(crate) fn move_item(&mut self, index: usize, to: usize) {
        let Some((key, item)) = self.pick(index, |item| item.owned && item.what != What::Blocked)
        else {
            return;
        };
        if to != item.worker && self.slots[to].free() {
            self.relocate(key, to);
        }
    }

    pub(crate) fn put(&mut self, w: usize) {
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

    pub(crate) fn trim(&mut self, w: usize) {
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

    pub(crate) fn clone_handle(&mut self, from: usize, to: usize) {
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
    pub(crate) fn drop_borrowed(&mut self, w: usize) {
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

    pub(crate) fn drop_handle(&mut self, w: usize) {
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
    pub(crate) fn exit(&mut self, w: usize, stash: bool, handover: bool) {
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
    pub(crate) fn race(&mut self, index: usize, w: usize, handle: bool) {
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
    pub(crate) fn concurrently(&self, (a, cmd_a): (usize, Cmd), (b, cmd_b): (usize, Cmd)) {
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
    pub(crate) fn dropped_owned(&mut self, key: u64) {
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
    pub(crate) fn drop_guard_and_handle(&mut self, key: u64, w: usize) {
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
    pub(crate) fn drop_guards(&mut self, a: u64, b: u64) {
        debug_assert!(self.model.queue.is_empty());
        let (wa, wb) = (self.items[&a].worker, self.items[&b].worker);
        self.concurrently((wa, Cmd::Drop(a)), (wb, Cmd::Drop(b)));
        self.dropped_owned(a);
        self.dropped_owned(b);
    }

    /// The checks at rest, after every step.
    pub(crate) fn check(&mut self) {
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
    pub(crate) fn next_pool(&mut self) {
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
    pub(crate) fn step(&mut self, f: impl FnOnce(&mut Self)) {
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
    pub(crate) fn finish(mut self) {
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
