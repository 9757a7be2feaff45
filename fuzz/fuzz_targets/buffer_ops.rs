//! Fuzzes `BufferPool` against a model of each class's idle count.
//!
//! The input is a configuration (`min_size` 1..=8, 1..=6 classes, an idle budget of 1 to (one
//! buffer per class + 63) smallest-class units, so small budgets leave large classes keeping none, `thread_cache` 0..=4) and a list of [`Op`]s: gets
//! (borrowed, owned, zeroed; any size up to twice the largest class, so oversized requests too),
//! writes that grow a held buffer, shrinks, drops, detaches, `trim`, `trim_unused`, and a burst on
//! a second thread that also drops some of the held buffers there (its cache is flushed when it
//! exits). The pool may have a `max_request` (none, or 1 to twice the largest class): `get`s stay
//! within it, and `try_get`/`try_get_owned` ask for any size, huge ones too (above `isize::MAX`,
//! which never reach the allocator, so the fuzz loop never allocates more than twice the largest
//! class). `Freeze` turns a held owned buffer into `bytes::Bytes`, takes slices and drops them.
//! The pool may have an in-flight budget (`max_live_bytes`: none, or `min_size` to four times the
//! largest class, so some requests take more than all of it): `try_get`s and `get_timeout`s with
//! a zero timeout ask for any size, and `get`s ask only for what fits (one thread never waits:
//! a `get` at the budget would block forever).
//!
//! # Model
//! On the harness thread the pool is deterministic: a get of a class reuses a buffer iff the
//! class has one idle, and a returned buffer is kept iff its class (the one its capacity fits
//! now) holds fewer than `max_idle` idle buffers. The model predicts `created`, `reused`,
//! `oversized`, `discarded`, `detached`, `refused` and every class's idle and in-use counts
//! exactly (a `try_get` is refused iff its size is above `max_request` or `isize::MAX`, else iff
//! its charge is more than the whole budget, else iff it does not fit in what is left of it,
//! with the matching `BufferError`: `AboveMaxRequest`, `CapacityOverflow`, `OverBudget`,
//! `AtBudget`, or `Timeout` for a `get_timeout`, counted in `waits` instead of `refused`), and the
//! address of the buffer a get returns when it knows the class's last returned one. Where the
//! tiers decide (`trim_unused`, the second thread), the model takes the pool's per-class idle
//! counts and checks that only idle buffers went. After every op: the counts equal the model,
//! held buffers keep their contents, every class keeps at most `max_idle` idle buffers and
//! `idle_bytes <= max_idle_bytes`, `created - discarded - detached == idle + in_use`, and
//! `live_bytes` is the sum of the held buffers' charges (their class size, or the request above
//! the largest class; a grown buffer keeps its charge; a detached one gives it back at once, a
//! frozen one when its last `Bytes` drops), never above the budget.
#![no_main]

use arbitrary::Arbitrary;
use std::time::Duration;

use hotpool::{Buffer, BufferError, BufferPool, BufferStats, OwnedBuffer};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    min_shift: u8,
    classes: u8,
    extra: u8,
    thread_cache: u8,
    /// 0: no `max_request`; else `1 + max_request % (2 * max_size)`.
    max_request: u16,
    /// 0: no `max_live_bytes`; else `max(min_size, max_live % (4 * max_size + 1))`.
    max_live: u16,
    ops: Vec<Op>,
}

/// A `try_get` size: small ones within twice the largest class, huge ones above `isize::MAX`.
#[derive(Arbitrary, Debug)]
enum Size {
    Small(u32),
    Huge(u64),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Get {
        size: u32,
        owned: bool,
    },
    GetZeroed {
        len: u32,
    },
    TryGet {
        size: Size,
        owned: bool,
    },
    /// `get_timeout` with a zero timeout: `try_get`'s answers, but `Timeout` for `AtBudget`.
    GetTimeout {
        size: u32,
    },
    /// Freezes held buffer `i` if it is an owned one: `Bytes` over its memory, `slices` slices of
    /// it, all dropped (the last drop returns the buffer).
    Freeze {
        i: u8,
        slices: u8,
    },
    Write {
        i: u8,
        n: u32,
    },
    ShrinkToFit {
        i: u8,
    },
    Drop {
        i: u8,
    },
    Detach {
        i: u8,
    },
    Trim,
    TrimUnused,
    /// On a new thread: get buffers of these sizes, hold them all, drop them; and drop held
    /// buffers `i` with `i % 3 == 0` there.
    OnThread {
        sizes: Vec<u16>,
    },
}

enum Guard<'a> {
    Borrowed(Buffer<'a>),
    Owned(OwnedBuffer),
}

impl Guard<'_> {
    fn vec(&mut self) -> &mut Vec<u8> {
        match self {
            Guard::Borrowed(g) => g,
            Guard::Owned(g) => g,
        }
    }
}

struct Held<'a> {
    guard: Guard<'a>,
    bytes: Vec<u8>,
    class: Option<usize>,
    /// The bytes it took from the budget (0 without one).
    charge: usize,
}

/// The bytes in flight: the held buffers' charges.
fn live(held: &[Held<'_>]) -> usize {
    held.iter().map(|h| h.charge).sum()
}

/// Why a request is refused, in the order the pool checks.
#[derive(Debug, PartialEq)]
enum Refusal {
    AboveMaxRequest,
    CapacityOverflow,
    OverBudget,
    AtBudget,
}

struct Model {
    sizes: Vec<usize>,
    max_idle: Vec<usize>,
    idle: Vec<usize>,
    top: Vec<Option<usize>>,
    created: u64,
    reused: u64,
    oversized: u64,
    discarded: u64,
    detached: u64,
    refused: u64,
    budget: usize,
    max_request: usize,
    /// The in-flight budget, if any.
    max_live: Option<usize>,
    /// `get_timeout`s that waited (and timed out: one thread never gets served while waiting).
    waits: u64,
}

impl Model {
    fn class_for(&self, n: usize) -> Option<usize> {
        self.sizes.iter().position(|&s| s >= n)
    }

    /// What a request for `n` (one no size check refuses) takes from the budget: its class size
    /// (if `max_request` lets a class serve it), or `n`; 0 without a budget.
    fn charge(&self, n: usize) -> usize {
        match (self.max_live, self.class_for(n)) {
            (None, _) => 0,
            (Some(_), Some(c)) if n <= self.max_request => self.sizes[c],
            (Some(_), _) => n,
        }
    }

    /// Why a request for `n` is refused with `live` bytes in flight, if it is.
    fn refusal(&self, n: usize, live: usize) -> Option<Refusal> {
        if n > self.max_request {
            return Some(Refusal::AboveMaxRequest);
        }
        if n > isize::MAX as usize {
            return Some(Refusal::CapacityOverflow);
        }
        let max = self.max_live?;
        let charge = self.charge(n);
        if charge > max {
            Some(Refusal::OverBudget)
        } else if charge > max - live {
            Some(Refusal::AtBudget)
        } else {
            None
        }
    }

    /// Checks a refusal of `n` bytes against the prediction `why`; `timed` for `get_timeout`
    /// (which waits and times out at the budget). Counts it.
    fn refused_as(&mut self, err: &BufferError, n: usize, why: Option<Refusal>, timed: bool) {
        assert_eq!(err.requested(), n);
        assert!(err.to_string().contains(&n.to_string()), "{err}");
        let charge = self.charge(n);
        let max = self.max_live.unwrap_or(0);
        match why {
            Some(Refusal::AboveMaxRequest) => {
                assert!(matches!(err, BufferError::AboveMaxRequest { .. }), "{err}")
            }
            Some(Refusal::CapacityOverflow) => {
                assert!(matches!(err, BufferError::CapacityOverflow { .. }), "{err}")
            }
            Some(Refusal::OverBudget) => assert!(
                matches!(err, &BufferError::OverBudget { charge: c, max_live_bytes: m, .. }
                    if (c, m) == (charge, max)),
                "{err}"
            ),
            Some(Refusal::AtBudget) if timed => {
                assert!(matches!(err, BufferError::Timeout { .. }), "{err}");
                self.waits += 1;
                return; // a wait that timed out, not a refusal
            }
            Some(Refusal::AtBudget) => assert!(
                matches!(err, &BufferError::AtBudget { charge: c, max_live_bytes: m, .. }
                    if (c, m) == (charge, max)),
                "{err}"
            ),
            None => panic!("{n} bytes refused, none predicted: {err}"),
        }
        self.refused += 1;
    }

    fn get(&mut self, class: Option<usize>, ptr: usize) {
        match class {
            Some(c) if self.idle[c] > 0 => {
                self.idle[c] -= 1;
                self.reused += 1;
                if let Some(top) = self.top[c].take() {
                    assert_eq!(ptr, top, "LIFO in class {c}");
                }
            }
            Some(_) => self.created += 1,
            None => {
                self.created += 1;
                self.oversized += 1;
            }
        }
    }

    fn give_back(&mut self, class: Option<usize>, cap: usize, ptr: usize) {
        let largest = *self.sizes.last().unwrap();
        let dest = class.filter(|&c| self.sizes[c] == cap).or_else(|| {
            (cap <= largest)
                .then(|| self.sizes.iter().rposition(|&s| s <= cap))
                .flatten()
        });
        match dest {
            Some(c) if self.idle[c] < self.max_idle[c] => {
                self.idle[c] += 1;
                self.top[c] = (self.sizes[c] == cap).then_some(ptr);
            }
            _ => self.discarded += 1,
        }
    }

    /// Takes the pool's idle counts where the tiers decided; returns how many buffers left.
    fn resync_idle(&mut self, s: &BufferStats) -> usize {
        let mut gone = 0;
        for (c, class) in s.classes.iter().enumerate() {
            gone += self.idle[c].saturating_sub(class.idle);
            self.idle[c] = class.idle;
            self.top[c] = None;
        }
        gone
    }

    fn check(&self, s: &BufferStats, held: &[Held<'_>]) {
        assert_eq!(s.in_use, held.len());
        assert_eq!(
            (
                s.created,
                s.reused,
                s.oversized,
                s.discarded,
                s.detached,
                s.refused
            ),
            (
                self.created,
                self.reused,
                self.oversized,
                self.discarded,
                self.detached,
                self.refused
            )
        );
        assert!(s.idle_bytes <= self.budget, "{s:?}");
        assert_eq!(
            (s.live_bytes, s.max_live_bytes, s.waits),
            (live(held), self.max_live, self.waits)
        );
        assert!(s.live_bytes <= self.max_live.unwrap_or(0));
        for (c, class) in s.classes.iter().enumerate() {
            assert_eq!(class.idle, self.idle[c], "class {c}");
            assert!(class.idle <= class.max_idle);
            assert_eq!(
                class.in_use,
                held.iter().filter(|h| h.class == Some(c)).count()
            );
        }
        assert_eq!(
            s.created - s.discarded - s.detached,
            (s.idle + s.in_use) as u64
        );
    }
}

/// The guard a get of `size` bytes returned: checked against the model, which counts the get.
fn took<'a>(model: &mut Model, mut guard: Guard<'a>, size: usize) -> Held<'a> {
    let class = model.class_for(size);
    let v = guard.vec();
    assert!(v.is_empty() && v.capacity() >= size);
    if let Some(c) = class {
        assert_eq!(v.capacity(), model.sizes[c]);
    }
    model.get(class, v.as_ptr() as usize);
    Held {
        guard,
        bytes: Vec::new(),
        class,
        charge: model.charge(size),
    }
}

/// A `try_get` of `size` bytes (`timed`: a `get_timeout` with a zero timeout, borrowed), checked
/// against the model's prediction; the buffer if it was served.
fn attempt<'a>(
    pool: &'a BufferPool,
    model: &mut Model,
    held: &[Held<'_>],
    size: usize,
    owned: bool,
    timed: bool,
) -> Option<Held<'a>> {
    let why = model.refusal(size, live(held));
    let result = if timed {
        pool.get_timeout(size, Duration::ZERO).map(Guard::Borrowed)
    } else if owned {
        pool.try_get_owned(size).map(Guard::Owned)
    } else {
        pool.try_get(size).map(Guard::Borrowed)
    };
    match result {
        Err(err) => {
            model.refused_as(&err, size, why, timed);
            None
        }
        Ok(guard) => {
            assert_eq!(why, None, "{size} bytes served");
            Some(took(model, guard, size))
        }
    }
}

fn give_back_held(model: &mut Model, mut h: Held<'_>) {
    let (cap, ptr) = (h.guard.vec().capacity(), h.guard.vec().as_ptr() as usize);
    drop(h.guard);
    model.give_back(h.class, cap, ptr);
}

fuzz_target!(|input: Input| {
    let min_size = 1usize << (input.min_shift % 4);
    let classes = 1 + input.classes as usize % 6;
    let max_size = min_size << (classes - 1);
    // From one smallest-class buffer to 63 units more than one buffer per class.
    let budget = (1 + input.extra as usize % ((1 << classes) + 62)) * min_size;
    let max_request = match input.max_request {
        0 => usize::MAX,
        m => 1 + m as usize % (2 * max_size),
    };
    let max_live = match input.max_live {
        0 => None,
        m => Some(min_size.max(m as usize % (4 * max_size + 1))),
    };
    let mut builder = BufferPool::builder()
        .min_size(min_size)
        .max_size(max_size)
        .max_idle_bytes(budget)
        .thread_cache(input.thread_cache as usize % 5)
        .max_request(max_request);
    if let Some(max_live) = max_live {
        builder = builder.max_live_bytes(max_live);
    }
    let pool = builder.build().unwrap();
    assert_eq!(pool.max_request(), max_request);
    let first = pool.stats();
    let mut model = Model {
        sizes: first.classes.iter().map(|c| c.size).collect(),
        max_idle: first.classes.iter().map(|c| c.max_idle).collect(),
        idle: vec![0; classes],
        top: vec![None; classes],
        created: 0,
        reused: 0,
        oversized: 0,
        discarded: 0,
        detached: 0,
        refused: 0,
        budget,
        max_request,
        max_live,
        waits: 0,
    };
    let limit = |n: u32| n as usize % (2 * max_size + 1);
    // What `get` may ask for: never refused.
    let request = |n: u32| limit(n).min(max_request);
    let mut held: Vec<Held<'_>> = Vec::new();
    for op in input.ops.iter().take(64) {
        match op {
            Op::Get { size, owned } => {
                let size = request(*size);
                if model.refusal(size, live(&held)).is_some() {
                    // Over or at the budget: `get` would panic or block forever; `try_get` says.
                    let got = attempt(&pool, &mut model, &held, size, *owned, false);
                    held.extend(got);
                } else {
                    let guard = if *owned {
                        Guard::Owned(pool.get_owned(size))
                    } else {
                        Guard::Borrowed(pool.get(size))
                    };
                    held.push(took(&mut model, guard, size));
                }
            }
            Op::GetZeroed { len } => {
                let len = (*len as usize % (max_size + 1)).min(max_request);
                // Only what fits: at the budget it would block forever.
                if model.refusal(len, live(&held)).is_none() {
                    let buf = pool.get_zeroed(len);
                    assert!(buf.len() == len && buf.iter().all(|&b| b == 0));
                    let class = model.class_for(len);
                    model.get(class, buf.as_ptr() as usize);
                    held.push(Held {
                        guard: Guard::Borrowed(buf),
                        bytes: vec![0; len],
                        class,
                        charge: model.charge(len),
                    });
                }
            }
            Op::TryGet { size, owned } => {
                let size = match *size {
                    Size::Small(n) => limit(n),
                    // Above isize::MAX: refused before any allocation.
                    Size::Huge(h) => (isize::MAX as usize + 1) | h as usize,
                };
                let got = attempt(&pool, &mut model, &held, size, *owned, false);
                held.extend(got);
            }
            Op::GetTimeout { size } => {
                let got = attempt(&pool, &mut model, &held, limit(*size), false, true);
                held.extend(got);
            }
            Op::Freeze { i, slices } if !held.is_empty() => {
                let k = *i as usize % held.len();
                if let Guard::Owned(_) = held[k].guard {
                    let mut h = held.swap_remove(k);
                    let (cap, ptr) = (h.guard.vec().capacity(), h.guard.vec().as_ptr() as usize);
                    let Guard::Owned(buf) = h.guard else {
                        unreachable!()
                    };
                    let bytes = buf.freeze();
                    assert_eq!((bytes.as_ptr() as usize, &bytes[..]), (ptr, &h.bytes[..]));
                    let parts: Vec<_> = (0..*slices % 4)
                        .map(|s| bytes.slice(usize::from(s).min(bytes.len())..))
                        .collect();
                    drop(bytes);
                    // An empty slice is `Bytes::new()`: it holds nothing.
                    let mut frozen = 0;
                    if parts.iter().any(|p| !p.is_empty()) {
                        assert_eq!(pool.stats().in_use, held.len() + 1, "held by the slices");
                        frozen = h.charge; // in flight until the last slice drops
                    }
                    assert_eq!(pool.stats().live_bytes, live(&held) + frozen);
                    drop(parts);
                    model.give_back(h.class, cap, ptr);
                }
            }
            Op::Write { i, n } if !held.is_empty() => {
                let len = held.len();
                let h = &mut held[*i as usize % len];
                let fill = h.bytes.len() as u8;
                let n = limit(*n);
                h.guard.vec().extend(std::iter::repeat_n(fill, n));
                h.bytes.extend(std::iter::repeat_n(fill, n));
            }
            Op::ShrinkToFit { i } if !held.is_empty() => {
                let len = held.len();
                held[*i as usize % len].guard.vec().shrink_to_fit();
            }
            Op::Drop { i } if !held.is_empty() => {
                let h = held.swap_remove(*i as usize % held.len());
                give_back_held(&mut model, h);
            }
            Op::Detach { i } if !held.is_empty() => {
                let h = held.swap_remove(*i as usize % held.len());
                let v = match h.guard {
                    Guard::Borrowed(g) => Buffer::detach(g),
                    Guard::Owned(g) => OwnedBuffer::detach(g),
                };
                assert_eq!(v, h.bytes);
                model.detached += 1;
            }
            Op::Trim => {
                let idle: usize = model.idle.iter().sum();
                assert_eq!(pool.trim(), idle);
                model.resync_idle(&pool.stats());
                model.discarded += idle as u64;
            }
            Op::TrimUnused => {
                let freed = pool.trim_unused();
                assert_eq!(model.resync_idle(&pool.stats()), freed);
                model.discarded += freed as u64;
            }
            Op::OnThread { sizes } => {
                let live_before = live(&held);
                let (mut moved, mut kept) = (Vec::new(), Vec::new());
                for (k, h) in held.drain(..).enumerate() {
                    if k % 3 == 0 {
                        moved.push(h)
                    } else {
                        kept.push(h)
                    }
                }
                held = kept;
                let before = pool.stats();
                let (pool_ref, model_ref) = (&pool, &model);
                let refused = std::thread::scope(|s| {
                    s.spawn(move || {
                        // What fits gets a buffer (with `get`: no waiting at the budget on one
                        // thread), the rest is refused as predicted.
                        let (mut got, mut live, mut refused) = (Vec::new(), live_before, 0);
                        for &n in sizes.iter().take(32) {
                            let n = request(u32::from(n));
                            match model_ref.refusal(n, live) {
                                None => {
                                    got.push(pool_ref.get(n));
                                    live += model_ref.charge(n);
                                }
                                why => {
                                    let err = pool_ref.try_get(n).unwrap_err();
                                    let kind = match err {
                                        BufferError::OverBudget { .. } => Refusal::OverBudget,
                                        BufferError::AtBudget { .. } => Refusal::AtBudget,
                                        _ => panic!("{err}"),
                                    };
                                    assert_eq!(Some(kind), why, "{err}");
                                    refused += 1;
                                }
                            }
                        }
                        assert_eq!(pool_ref.stats().live_bytes, live);
                        drop(got);
                        for mut h in moved {
                            assert_eq!(*h.guard.vec(), h.bytes);
                            drop(h.guard); // returned from this thread
                        }
                        refused
                    })
                    .join() // an explicit join also waits for the thread's exit flush
                    .unwrap()
                });
                // The tiers decided where the thread's buffers went: take the pool's counts,
                // after checking they only grew, and `check` below bounds the idle counts.
                let after = pool.stats();
                assert!(after.created >= before.created && after.reused >= before.reused);
                assert!(after.discarded >= before.discarded);
                assert_eq!(after.detached, before.detached);
                assert_eq!(after.refused, before.refused + refused);
                model.refused += refused;
                model.created = after.created;
                model.reused = after.reused;
                model.oversized = after.oversized;
                model.discarded = after.discarded;
                model.resync_idle(&after);
            }
            _ => {}
        }
        for h in &mut held {
            let expected = std::mem::take(&mut h.bytes);
            assert_eq!(*h.guard.vec(), expected);
            h.bytes = expected;
        }
        model.check(&pool.stats(), &held);
    }
    while let Some(h) = held.pop() {
        give_back_held(&mut model, h);
    }
    let rest = pool.stats();
    model.check(&rest, &held);
});
