//! Lanes: where tasks wait at a bounded pool's cap, one queue per thread, so that an object
//! coming back goes to a task queued on the thread that returned it without the depot lock.
//!
//! At the cap every acquisition is a hand-off: a task returns its object and another, woken,
//! takes it. With one queue under the depot lock, both cores take that lock twice per
//! acquisition, and its cache line, with the queue and the waiter nodes, moves between them each
//! time. Measured in a model of the bench (64 tokio tasks on 2 workers over 8 objects), that
//! lock is the whole difference between a strict pool (380–470 ns per acquisition) and the
//! floor of one wake-up per acquisition (210–250 ns). With a lane per thread, a return pops a
//! task of its own lane under the lane's lock, which no other core touches in steady state (an
//! executor runs a woken task on the thread that woke it), and the model ran at the floor
//! (220–240 ns).
//!
//! **Order.** A lane is first come, first served. Across lanes there is no global order; what
//! bounds a task's wait instead: a lane serves its own first task at most [`STREAK`] returns in
//! a row, and the next return goes through the depot, which serves the lanes in turn (round
//! robin, [`Lanes::serve_next`]), as it does a return on a thread whose lane is empty. So a task
//! first in its lane is served within (`STREAK` + 1) × lanes = 136 returns of any threads,
//! while objects come back. A thread blocked in `get` waits in the depot's queue, where the
//! limiter's rules apply (`limiter.rs`); the depot path serves that queue first, except that one
//! in [`TURN_AFTER`] + 1 of the returns it takes while tasks wait in lanes goes to the lanes
//! ([`Lanes::lanes_turn`]): threads that keep coming back to the depot's queue would otherwise
//! keep it from ever emptying, and the lanes from ever being served. While threads wait, a task
//! first in its lane is served within (`TURN_AFTER` + 1) × lanes = 72 returns that reach the
//! depot, and at least one return in `STREAK` + 1 does: within 17 × 72 = 1,224 returns.
//!
//! Why 16: each return through the depot takes its lock, which both cores then contend for.
//! `pool/bounded/hotpool` (64 tokio tasks over 8 objects) ran at 340–360 ns per acquisition
//! with 8, 297–316 ns with 16, and no faster with 32 (one A/B run of the bench binaries, 6
//! alternations).
//!
//! **Nobody waits beside an idle object.** A task queues in its lane without the depot lock only
//! while [`Lanes::depot_may_serve`] is clear: it is cleared, under the depot lock, by a caller
//! that found nothing there (no idle object, no free place, the caches closed), and set, under
//! the lock too, by everything that may change that ([`Lanes::depot_can_serve`]), which then
//! looks at the lanes and serves what queued there. The two meet in Dekker's handshake: the task
//! pushes itself, fences and reads the flag; the other side sets the flag, fences and reads the
//! lanes' lengths. Either the task sees the flag (and looks in the depot itself, leaving its lane
//! if it finds something) or its lane is seen (and it is served). The caches never open while a
//! lane holds a task for the same reason: opening sets the flag first, and does not happen if a
//! lane is seen queued.
//!
//! A pool with `fair_after(Duration::ZERO)` (strict order) has no lanes: its tasks wait in the
//! depot's queue, first come, first served across all threads.

use std::collections::VecDeque;

use super::counts::{Counts, Totals};
use super::spare_nodes;
use super::tier::{count_kept, Source};
use super::waiter::{Closed, Handoff, Waiter, Wake, Wakes};
use crate::counting::Change;
use crate::sync::{fence, global, thread_local, Arc, AtomicBool, AtomicUsize, Mutex, Ordering};

/// Lanes per pool: more than the threads that usually run one pool's tasks (an executor's
/// workers), few enough that the depot's round robin stays short. Threads share a lane when
/// there are more: it costs contention on its lock, never correctness.
#[cfg(not(hotpool_loom))]
const LANES: usize = 8;
/// Under loom: two lanes, so that a model's threads meet in each other's lanes.
#[cfg(hotpool_loom)]
const LANES: usize = 2;

/// The most returns in a row a lane serves its own first task with; the next goes through the
/// depot (see the module docs).
pub(crate) const STREAK: usize = 16;

/// The most returns in a row that reach the depot while threads wait in its queue and tasks in
/// lanes, and go to the threads; the next goes to the lanes ([`Lanes::lanes_turn`]).
const TURN_AFTER: usize = 8;

global! {
    /// Hands each thread its lane seed, in turn.
    static NEXT_SEED: AtomicUsize = AtomicUsize::new(0);
}

thread_local! {
    /// This thread's lane in every pool (modulo the pool's lanes).
    #[allow(clippy::missing_const_for_thread_local)] // loom's `thread_local!` has no `const` form
    static SEED: usize = NEXT_SEED.fetch_add(1, Ordering::Relaxed);
}

/// The lanes of one bounded pool.
pub(crate) struct Lanes<T> {
    /// Set while the depot may serve a caller: an idle object, a free place, or open caches. A
    /// task that finds it clear queues in its lane without the depot lock. Written under the
    /// depot lock only.
    depot_may_serve: AtomicBool,
    /// The lane the depot serves first next time (round robin). Used under the depot lock only.
    next: AtomicUsize,
    /// Returns in a row that went to the depot's queue (threads blocked in `get`) while tasks
    /// waited in lanes; at [`TURN_AFTER`] the next one serves the lanes instead
    /// ([`Lanes::lanes_turn`]). Used under the depot lock only.
    passed_over: AtomicUsize,
    lanes: Box<[Lane<T>]>,
}

/// One thread's lane (or a few threads'), on lines of its own.
#[repr(align(128))]
struct Lane<T> {
    /// Tasks queued: written under `queue`'s lock, read without it (a hint, exact under it).
    queued: AtomicUsize,
    queue: Mutex<LaneQueue<T>>,
}

struct LaneQueue<T> {
    /// Oldest first.
    waiters: VecDeque<Arc<Waiter<T>>>,
    /// Returns in a row that served this lane's first task.
    streak: usize,
    /// Hand-offs in this lane: a return (`returned`) that served a `get` (`reused`).
    counts: Counts,
    /// Tasks that queued here, ever.
    waits: u64,
    /// Nodes of waits that ended here that their serving thread had no room for, for later
    /// waits in this lane (`spare_nodes.rs`): a thread that only waits reuses the nodes of one
    /// that only serves.
    spare: VecDeque<Arc<Waiter<T>>>,
}

impl<T> Lanes<T> {
    pub(crate) fn new() -> Self {
        Self {
            // Nothing was found missing in the depot yet.
            depot_may_serve: AtomicBool::new(true),
            next: AtomicUsize::new(0),
            passed_over: AtomicUsize::new(0),
            lanes: (0..LANES)
                .map(|_| Lane {
                    queued: AtomicUsize::new(0),
                    queue: Mutex::new(LaneQueue {
                        waiters: VecDeque::new(),
                        streak: 0,
                        counts: Counts::default(),
                        waits: 0,
                        spare: VecDeque::new(),
                    }),
                })
                .collect(),
        }
    }

    /// The calling thread's lane.
    pub(crate) fn mine(&self) -> usize {
        // A thread whose thread-locals are being destroyed shares lane 0.
        SEED.try_with(|seed| *seed).unwrap_or(0) % self.lanes.len()
    }

    /// Whether the depot may serve a caller, as of this read: if not, a task may queue in its
    /// lane without the depot lock ([`Lanes::enqueue`]).
    pub(crate) fn depot_may_serve(&self) -> bool {
        self.depot_may_serve.load(Ordering::Relaxed)
    }

    /// Under the depot lock: the depot has nothing for a caller (no idle object, no free place,
    /// the caches closed), so tasks may queue without it.
    pub(crate) fn depot_cannot_serve(&self) {
        self.depot_may_serve.store(false, Ordering::Relaxed);
    }

    /// Under the depot lock, after anything that may let the depot serve a caller: sets the flag,
    /// then whether any task is queued in a lane (the caller then serves it, with
    /// [`Lanes::serve_next`]). The fence pairs with the one in [`Lanes::enqueue`].
    pub(crate) fn depot_can_serve(&self) -> bool {
        self.depot_may_serve.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.any_queued()
    }

    /// Under the depot lock, a return that would go to the depot's queue (`waiters`: threads wait
    /// there) while tasks wait in lanes: whether it is the lanes' turn instead. The depot's rules
    /// serve its own queue first, and while threads keep coming back to it that queue never
    /// empties: without a turn, a task in a lane no return on its own thread reaches would wait
    /// as long as they do. After [`TURN_AFTER`] such returns the next goes to the lanes, so a
    /// task first in its lane is served within (`TURN_AFTER` + 1) × lanes of them, as the module
    /// docs say.
    pub(crate) fn lanes_turn(&self, waiters: bool) -> bool {
        if !waiters || !self.any_queued() {
            self.passed_over.store(0, Ordering::Relaxed);
            return false;
        }
        let passed_over = self.passed_over.load(Ordering::Relaxed);
        if passed_over >= TURN_AFTER {
            self.passed_over.store(0, Ordering::Relaxed);
            return true;
        }
        self.passed_over.store(passed_over + 1, Ordering::Relaxed);
        false
    }

    /// Whether any task is queued in a lane (exact if no task queues or leaves meanwhile).
    pub(crate) fn any_queued(&self) -> bool {
        self.lanes
            .iter()
            .any(|lane| lane.queued.load(Ordering::Relaxed) > 0)
    }

    /// Adds every lane's hand-offs to `totals`; the tasks that queued in lanes, ever.
    pub(crate) fn add_totals(&self, totals: &mut Totals) -> u64 {
        self.lanes
            .iter()
            .map(|lane| {
                let queue = lane.queue.lock();
                totals.add(&queue.counts, None);
                queue.waits
            })
            .sum()
    }
}

impl<T: 'static> Lanes<T> {
    /// Queues a task last in `lane` (woken by `wake`), in a node of an ended wait if this thread
    /// or the lane keeps one; then whether the depot may serve after all. If it may (`true`), the caller
    /// must look in the depot under its lock, and [`withdraw`](Lanes::withdraw) the task if it
    /// finds something there: otherwise it could sleep beside it.
    pub(crate) fn enqueue(&self, lane: usize, wake: Wake) -> (Arc<Waiter<T>>, bool) {
        let waiter = Waiter::new(1, None, wake).in_lane(lane);
        let node = spare_nodes::reuse(waiter);
        let lane = &self.lanes[lane];
        let node = {
            let mut queue = lane.queue.lock();
            let node =
                node.unwrap_or_else(|waiter| spare_nodes::reuse_shared(&mut queue.spare, waiter));
            queue.waiters.push_back(Arc::clone(&node));
            queue.waits += 1;
            lane.queued.store(queue.waiters.len(), Ordering::Relaxed);
            node
        };
        // Pairs with the fence of `depot_can_serve`: either this thread sees the flag set, or
        // the thread that set it sees this lane's length.
        fence(Ordering::SeqCst);
        (node, self.depot_may_serve())
    }

    /// Ends the wait of a task queued in a lane: takes it out if it is still there (`uncount`:
    /// and does not count it as a wait, for a task that queued only to look in the depot after
    /// all), or takes what it was handed. The `Wake` a closed waiter gives back is user code:
    /// the caller drops it (this returns after unlocking).
    pub(crate) fn withdraw(&self, node: &Arc<Waiter<T>>, uncount: bool) -> Closed<T> {
        let lane = &self.lanes[node.lane.expect("a waiter queued in a lane")];
        let mut queue = lane.queue.lock();
        let closed = node.close();
        if let Closed::LeftQueue(_) = closed {
            let i = queue
                .waiters
                .iter()
                .position(|queued| Arc::ptr_eq(queued, node))
                .expect("a waiter that left no lane is in its lane");
            let left = queue.waiters.remove(i).expect("at its position");
            lane.queued.store(queue.waiters.len(), Ordering::Relaxed);
            if uncount {
                queue.waits -= 1;
            }
            spare_nodes::retire(&mut queue.spare, left);
        }
        closed
    }

    /// A return on this thread: hands `obj` to the first task of this thread's lane and gives
    /// the wake-up to run after unlocking; gives `obj` back if the lane is empty or has served
    /// [`STREAK`] returns in a row (the caller then takes it to the depot). Counted in the lane:
    /// the return (`source`) and the `get` it serves.
    pub(crate) fn serve_own(&self, obj: Box<T>, source: Source) -> Result<Wake, Box<T>> {
        let lane = &self.lanes[self.mine()];
        if lane.queued.load(Ordering::Relaxed) == 0 {
            return Err(obj);
        }
        let mut queue = lane.queue.lock();
        if queue.streak >= STREAK {
            queue.streak = 0;
            return Err(obj);
        }
        let Some(first) = queue.waiters.pop_front() else {
            return Err(obj);
        };
        queue.streak += 1;
        lane.queued.store(queue.waiters.len(), Ordering::Relaxed);
        // The return before the `get` it serves: see `Counts::lent_balance`.
        count_kept(&queue.counts, source);
        queue.counts.change(Change::Reused);
        let wake = serve(&first, Handoff::Object(obj));
        spare_nodes::retire(&mut queue.spare, first);
        Ok(wake)
    }

    /// Under the depot lock: hands `handoff` to the first task of the next lane with one, in
    /// turn, and pushes how to wake it; gives `handoff` back if no lane has a task. The caller
    /// counts an object as the `get` it serves.
    pub(crate) fn serve_next(
        &self,
        handoff: Handoff<T>,
        wakes: &mut Wakes,
    ) -> Result<(), Handoff<T>> {
        let n = self.lanes.len();
        let start = self.next.load(Ordering::Relaxed);
        for i in (start..start + n).map(|i| i % n) {
            let lane = &self.lanes[i];
            if lane.queued.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut queue = lane.queue.lock();
            let Some(first) = queue.waiters.pop_front() else {
                continue;
            };
            lane.queued.store(queue.waiters.len(), Ordering::Relaxed);
            // Under the lane's lock: a task that withdraws finds it either queued or served.
            wakes.push(serve(&first, handoff));
            spare_nodes::retire(&mut queue.spare, first);
            self.next.store((i + 1) % n, Ordering::Relaxed);
            return Ok(());
        }
        Err(handoff)
    }
}

/// Hands `handoff` to a task taken out of its lane; its wake-up.
fn serve<T>(waiter: &Waiter<T>, handoff: Handoff<T>) -> Wake {
    waiter
        .serve(handoff)
        .expect("a task in a lane is never notified: it is woken when served")
}

#[cfg(all(test, not(hotpool_loom)))]
mod tests {
    use super::{Lanes, Source, STREAK};
    use crate::pool::counts::Totals;
    use crate::pool::waiter::{Closed, Handoff, Polled, Wake, Wakes};
    use crate::sync::current_thread;

    fn wake() -> Wake {
        Wake::Thread(current_thread())
    }

    fn served_object(waiter: &crate::pool::waiter::Waiter<u32>) -> Option<u32> {
        match waiter.poll(None) {
            Polled::Served(Handoff::Object(obj)) => Some(*obj),
            _ => None,
        }
    }

    #[test]
    fn a_lane_serves_its_tasks_in_order() {
        let lanes = Lanes::<u32>::new();
        let mine = lanes.mine();
        let (first, _) = lanes.enqueue(mine, wake());
        let (second, _) = lanes.enqueue(mine, wake());
        assert!(lanes.serve_own(Box::new(1), Source::Guard).is_ok());
        assert!(lanes.serve_own(Box::new(2), Source::Guard).is_ok());
        assert_eq!(served_object(&first), Some(1));
        assert_eq!(served_object(&second), Some(2));
        assert!(!lanes.any_queued());
        let back = lanes.serve_own(Box::new(3), Source::Guard);
        assert_eq!(back.err().as_deref(), Some(&3), "nobody left to serve");
    }

    #[test]
    fn a_lane_gives_every_streak_th_return_to_the_depot() {
        let lanes = Lanes::<u32>::new();
        let mine = lanes.mine();
        let waiters: Vec<_> = (0..=STREAK)
            .map(|_| lanes.enqueue(mine, wake()).0)
            .collect();
        for i in 0..STREAK {
            assert!(lanes.serve_own(Box::new(i as u32), Source::Guard).is_ok());
        }
        let back = lanes.serve_own(Box::new(99), Source::Guard);
        assert!(back.is_err(), "the return after a streak goes to the depot");
        assert!(lanes.serve_own(Box::new(7), Source::Guard).is_ok());
        assert_eq!(served_object(&waiters[STREAK]), Some(7));
    }

    #[test]
    fn the_depot_serves_the_lanes_in_turn() {
        let lanes = Lanes::<u32>::new();
        let a = lanes.enqueue(0, wake()).0;
        let a2 = lanes.enqueue(0, wake()).0;
        let b = lanes.enqueue(1, wake()).0;
        let mut wakes = Wakes::default();
        for obj in [1, 2, 3] {
            assert!(lanes
                .serve_next(Handoff::Object(Box::new(obj)), &mut wakes)
                .is_ok());
        }
        assert_eq!(wakes.len(), 3);
        assert_eq!(
            [&a, &b, &a2].map(|w| served_object(w)),
            [Some(1), Some(2), Some(3)]
        );
        assert!(lanes
            .serve_next(Handoff::Object(Box::new(4)), &mut wakes)
            .is_err());
    }

    #[test]
    fn a_withdrawn_task_leaves_its_lane_or_gets_what_it_was_handed() {
        let lanes = Lanes::<u32>::new();
        let mine = lanes.mine();
        let (left, _) = lanes.enqueue(mine, wake());
        assert!(matches!(
            lanes.withdraw(&left, true),
            Closed::LeftQueue(Some(_))
        ));
        assert!(!lanes.any_queued());
        let (served, _) = lanes.enqueue(mine, wake());
        assert!(lanes.serve_own(Box::new(5), Source::Guard).is_ok());
        match lanes.withdraw(&served, false) {
            Closed::Served(Handoff::Object(obj)) => assert_eq!(*obj, 5),
            _ => panic!("it was served"),
        }
        let mut totals = Totals::default();
        assert_eq!(
            lanes.add_totals(&mut totals),
            1,
            "the withdrawn one uncounted"
        );
    }

    #[test]
    fn the_flag_is_seen_by_a_task_queueing_after_it_was_set() {
        let lanes = Lanes::<u32>::new();
        assert!(lanes.depot_may_serve(), "nothing found missing yet");
        lanes.depot_cannot_serve();
        let (_, may_serve) = lanes.enqueue(0, wake());
        assert!(!may_serve);
        assert!(lanes.depot_can_serve(), "a task is queued");
        let (_, may_serve) = lanes.enqueue(0, wake());
        assert!(may_serve);
    }
}
