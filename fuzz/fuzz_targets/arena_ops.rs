//! Fuzzes the per-thread arenas (`hotpool::arena`) with nested scopes and mixed allocations.
//!
//! The input is an arena configuration (`max_idle_arenas` 0..=8, `max_retained_bytes`
//! 1..=65536, an optional `allocation_limit`) and a list of [`Op`]s: entering a scope (through
//! `arena::scope` or an `arena::enter` guard) or leaving one, which nests scopes as a stack, and
//! allocations in the innermost scope: `u8`, `u64`, a 64-byte-aligned value (`alloc_with`),
//! byte slices up to 64 KiB (large ones make an arena outgrow the retained-bytes cap),
//! strings, values with a destructor ([`Droppy`]) alone or as slices, a bumpalo `Vec` of
//! droppable values, and rewrites of a live allocation.
//!
//! The model runs the ops recursively, one stack frame per scope, so each allocation is a
//! plain reference that cannot outlive its scope. After every op it checks:
//!
//! - every live allocation of every open scope (outer ones included) still holds what was
//!   written into it, at the right alignment;
//! - with no allocation limit, every allocation succeeds (the `alloc*` and `try_alloc*` forms
//!   alternate); with one, a `try_alloc*` larger than the limit fails, a failure reports the
//!   requested bytes and the limit, and a refused value with a destructor is dropped at once;
//! - no destructor runs before its scope ends; when a scope ends, exactly its values are
//!   dropped, newest allocation first (a slice's elements in index order, like `drop_in_place`);
//!   a bumpalo `Vec` drops its elements when it drops;
//! - `arena::stats()` against the model: `scopes_entered`, `arenas_created` (a scope reuses an
//!   idle arena when there is one), `idle_arenas` and `dropped_surplus` (an ended scope's
//!   arena is kept unless `max_idle_arenas` are idle, or it was oversized, which the model reads
//!   from `dropped_oversized`), `retained_bytes` within `idle_arenas * max_retained_bytes`,
//!   `bytes_used_at_scope_end` and `peak_scope_bytes` at least what the scope's allocations took;
//! - at the end of a run, every droppable value ever made was dropped exactly once.
#![no_main]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use arbitrary::Arbitrary;
use hotpool::arena::{self, AllocError, ArenaConfig, ArenaStats, Scope};
use libfuzzer_sys::fuzz_target;

/// Scopes nest at most this deep; deeper `Enter`s are ignored.
const MAX_DEPTH: usize = 12;

#[derive(Arbitrary, Debug)]
struct Input {
    max_idle_arenas: u8,
    max_retained: u16,
    /// In units of 64 bytes.
    limit: Option<u16>,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Enter { guard: bool },
    Exit,
    U8 { value: u8, fallible: bool },
    U64 { value: u64, fallible: bool },
    Aligned { byte: u8, fallible: bool },
    Bytes { len: u16, byte: u8, fallible: bool },
    Str { len: u8, fallible: bool },
    Droppy { fallible: bool },
    DroppySlice { len: u8, fallible: bool },
    DroppyVec { len: u8 },
    Rewrite { alloc: u8, byte: u8 },
}

/// A value with a destructor: logs its id when dropped.
struct Droppy {
    id: u64,
    /// Derived from `id`, checked before the drop: the value was not overwritten.
    check: u64,
    log: Rc<RefCell<Vec<u64>>>,
}

impl Drop for Droppy {
    fn drop(&mut self) {
        assert_eq!(
            self.check, !self.id,
            "droppable value {} overwritten",
            self.id
        );
        self.log.borrow_mut().push(self.id);
    }
}

#[repr(align(64))]
struct Aligned([u8; 64]);

/// One live allocation and what it must hold.
enum Live<'s> {
    U8(&'s mut u8, u8),
    U64(&'s mut u64, u64),
    Aligned(&'s mut Aligned, u8),
    Bytes(&'s mut [u8], u8),
    Str(&'s mut str, u8),
    Droppy(&'s mut [Droppy], u64),
}

impl Live<'_> {
    fn verify(&self) {
        match self {
            Live::U8(r, v) => assert_eq!(**r, *v),
            Live::U64(r, v) => assert_eq!(**r, *v),
            Live::Aligned(r, b) => {
                assert_eq!(*r as *const Aligned as usize % 64, 0, "misaligned");
                assert!(r.0.iter().all(|x| x == b), "aligned value changed");
            }
            Live::Bytes(r, b) => assert!(r.iter().all(|x| x == b), "byte slice changed"),
            Live::Str(r, b) => assert!(r.bytes().all(|x| x == *b), "string changed"),
            Live::Droppy(r, first) => {
                for (i, d) in r.iter().enumerate() {
                    assert_eq!((d.id, d.check), (first + i as u64, !(first + i as u64)));
                }
            }
        }
    }

    /// Overwrites the contents (droppable values keep theirs: they check themselves).
    fn rewrite(&mut self, byte: u8) {
        match self {
            Live::U8(r, v) => (**r, *v) = (byte, byte),
            Live::U64(r, v) => (**r, *v) = (u64::from(byte) << 8 | 1, u64::from(byte) << 8 | 1),
            Live::Aligned(r, b) => (r.0, *b) = ([byte; 64], byte),
            Live::Bytes(r, b) => (r.fill(byte), *b = byte).1,
            Live::Str(r, b) => {
                let ascii = byte & 0x7f;
                // SAFETY: the str holds only ASCII before and after (every byte is `ascii`).
                unsafe { r.as_bytes_mut().fill(ascii) };
                *b = ascii;
            }
            Live::Droppy(..) => {}
        }
    }
}

/// The thread's arena state as the model sees it.
struct Model {
    config: ArenaConfig,
    /// Stats at the start of the run (the thread's arenas outlive a run).
    start: ArenaStats,
    scopes: u64,
    created: u64,
    surplus: u64,
    idle: usize,
}

impl Model {
    /// A scope is about to be entered (checked once it is).
    fn enter(&mut self) {
        self.scopes += 1;
        match self.idle.checked_sub(1) {
            Some(idle) => self.idle = idle,
            None => self.created += 1,
        }
    }

    /// After a scope that allocated `used` bytes ended; `before` are the stats just before its
    /// end.
    fn exited(&mut self, before: &ArenaStats, used: usize) {
        let now = arena::stats();
        let oversized = now.dropped_oversized - before.dropped_oversized;
        assert!(oversized <= 1);
        if oversized == 0 {
            if self.idle >= self.config.max_idle_arenas {
                self.surplus += 1;
            } else {
                self.idle += 1;
            }
        }
        assert!(now.bytes_used_at_scope_end - before.bytes_used_at_scope_end >= used as u64);
        assert!(now.peak_scope_bytes >= used);
        self.check(&now);
    }

    fn check(&self, now: &ArenaStats) {
        let s = &self.start;
        assert_eq!(
            now.scopes_entered - s.scopes_entered,
            self.scopes,
            "{now:?}"
        );
        assert_eq!(
            now.arenas_created - s.arenas_created,
            self.created,
            "{now:?}"
        );
        assert_eq!(
            now.dropped_surplus - s.dropped_surplus,
            self.surplus,
            "{now:?}"
        );
        assert_eq!(now.idle_arenas, self.idle, "{now:?}");
        let cap = self
            .config
            .max_retained_bytes
            .min(self.config.allocation_limit.unwrap_or(usize::MAX));
        assert!(now.retained_bytes <= self.idle * cap, "{now:?}");
    }
}

/// What a scope's body leaves for the end of the scope to check.
struct End {
    /// Ids of the values its end must drop, in order.
    owed: Vec<u64>,
    /// Bytes its allocations took, at least.
    used: usize,
    /// The drop log's length when the body finished.
    logged: usize,
    /// The thread's stats when the body finished (nested scopes already counted).
    stats: ArenaStats,
}

/// Everything a run shares across its scopes.
struct Run<'i> {
    ops: std::slice::Iter<'i, Op>,
    depth: usize,
    log: Rc<RefCell<Vec<u64>>>,
    /// Droppable values made so far (the next id).
    made: Rc<Cell<u64>>,
    model: Model,
}

impl Run<'_> {
    fn limit(&self) -> Option<usize> {
        self.model.config.allocation_limit
    }

    fn droppy(&self) -> Droppy {
        let id = self.made.get();
        self.made.set(id + 1);
        Droppy {
            id,
            check: !id,
            log: Rc::clone(&self.log),
        }
    }

    /// `try_alloc*`'s result for `requested` bytes: with no limit it must succeed; past the
    /// limit it must fail; a failure reports the request and the limit.
    fn outcome<T>(&self, result: Result<T, AllocError>, requested: usize) -> Option<T> {
        match (result, self.limit()) {
            (Ok(value), limit) => {
                assert!(
                    limit.map_or(true, |l| requested <= l),
                    "{requested} bytes past {limit:?}"
                );
                Some(value)
            }
            (Err(err), None) => panic!("refused with no limit: {err}"),
            (Err(err), limit) => {
                assert_eq!((err.requested(), err.limit()), (requested, limit));
                None
            }
        }
    }

    /// Whether an op uses the fallible form: the panicking one only when nothing can fail.
    fn fallible(&self, asked: bool) -> bool {
        asked || self.limit().is_some()
    }

    /// Runs one scope: ops until its `Exit` (or the end of the input). `outer` verifies every
    /// enclosing scope's allocations.
    fn scope<'s>(&mut self, s: &'s Scope<'static>, outer: &dyn Fn()) -> End {
        let mut live: Vec<Live<'s>> = Vec::new();
        // Ids of the droppable values of each allocation, in allocation order.
        let mut owed: Vec<Vec<u64>> = Vec::new();
        let mut used = 0;
        self.model.check(&arena::stats());
        while let Some(&op) = self.ops.next() {
            let dropped = self.log.borrow().len();
            // Ids this op must drop at once (the log only grows: the end of the run checks it).
            let mut drops_now = Vec::new();
            match op {
                Op::Exit => break,
                Op::Enter { guard } => {
                    if self.depth < MAX_DEPTH {
                        let here = || {
                            outer();
                            live.iter().for_each(Live::verify);
                        };
                        drops_now = self.nested(guard, &here);
                    }
                }
                Op::U8 { value, fallible } => {
                    let r = if self.fallible(fallible) {
                        self.outcome(s.try_alloc(value), 1)
                    } else {
                        Some(s.alloc(value))
                    };
                    if let Some(r) = r {
                        live.push(Live::U8(r, value));
                        used += 1;
                    }
                }
                Op::U64 { value, fallible } => {
                    let r = if self.fallible(fallible) {
                        self.outcome(s.try_alloc(value), 8)
                    } else {
                        Some(s.alloc(value))
                    };
                    if let Some(r) = r {
                        live.push(Live::U64(r, value));
                        used += 8;
                    }
                }
                Op::Aligned { byte, fallible } => {
                    let make = || Aligned([byte; 64]);
                    let r = if self.fallible(fallible) {
                        self.outcome(s.try_alloc_with(make), 64)
                    } else {
                        Some(s.alloc_with(make))
                    };
                    if let Some(r) = r {
                        live.push(Live::Aligned(r, byte));
                        used += 64;
                    }
                }
                Op::Bytes {
                    len,
                    byte,
                    fallible,
                } => {
                    let src = vec![byte; usize::from(len)];
                    let r = if self.fallible(fallible) {
                        self.outcome(s.try_alloc_slice_copy(&src), src.len())
                    } else {
                        Some(s.alloc_slice_copy(&src))
                    };
                    if let Some(r) = r {
                        live.push(Live::Bytes(r, byte));
                        used += src.len();
                    }
                }
                Op::Str { len, fallible } => {
                    let byte = b'a' + len % 26;
                    let src = String::from(byte as char).repeat(usize::from(len));
                    let r = if self.fallible(fallible) {
                        self.outcome(s.try_alloc_str(&src), src.len())
                    } else {
                        Some(s.alloc_str(&src))
                    };
                    if let Some(r) = r {
                        live.push(Live::Str(r, byte));
                        used += src.len();
                    }
                }
                Op::Droppy { fallible } => {
                    let value = self.droppy();
                    let id = value.id;
                    let size = std::mem::size_of::<Droppy>();
                    let r = if self.fallible(fallible) {
                        self.outcome(s.try_alloc(value), size)
                    } else {
                        Some(s.alloc(value))
                    };
                    match r {
                        Some(r) => {
                            live.push(Live::Droppy(std::slice::from_mut(r), id));
                            owed.push(vec![id]);
                            used += size;
                        }
                        // Refused: the value was dropped at once.
                        None => drops_now.push(id),
                    }
                }
                Op::DroppySlice { len, fallible } => {
                    let first = self.made.get();
                    let n = u64::from(len % 16);
                    let items = (0..len % 16).map(|_| self.droppy());
                    let size = std::mem::size_of::<Droppy>() * usize::from(len % 16);
                    let r = if self.fallible(fallible) {
                        self.outcome(s.try_alloc_slice_fill_iter(items), size)
                    } else {
                        Some(s.alloc_slice_fill_iter(items))
                    };
                    match r {
                        Some(r) => {
                            live.push(Live::Droppy(r, first));
                            owed.push((first..first + n).collect());
                            used += size;
                        }
                        // Refused: whatever the iterator made (a fill consumes it before the
                        // arena is asked) is dropped at once.
                        None => drops_now.extend(first..self.made.get()),
                    }
                }
                Op::DroppyVec { len } => {
                    if self.limit().is_none() {
                        // A bumpalo `Vec` aborts past a limit; only grown without one.
                        let first = self.made.get();
                        let mut v = s.vec();
                        v.extend((0..len % 16).map(|_| self.droppy()));
                        drop(v);
                        // A bumpalo `Vec` drops its items, in order, when it drops.
                        drops_now.extend(first..self.made.get());
                    }
                }
                Op::Rewrite { alloc, byte } => {
                    if !live.is_empty() {
                        let i = usize::from(alloc) % live.len();
                        live[i].rewrite(byte);
                    }
                }
            }
            assert_eq!(
                self.log.borrow()[dropped..],
                drops_now,
                "values dropped by this op (none from a live scope)"
            );
            outer();
            live.iter().for_each(Live::verify);
        }
        End {
            owed: owed.into_iter().rev().flatten().collect(),
            used,
            logged: self.log.borrow().len(),
            stats: arena::stats(),
        }
    }

    /// Enters a scope (with a guard or a closure), runs it, and checks what its end dropped;
    /// returns the ids of every value dropped meanwhile (its end's, and its ops').
    fn nested(&mut self, guard: bool, outer: &dyn Fn()) -> Vec<u64> {
        self.depth += 1;
        self.model.enter();
        let start = self.log.borrow().len();
        let end = if guard {
            let s = arena::enter();
            let result = self.scope(&s, outer);
            drop(s);
            result
        } else {
            arena::scope(|s| self.scope(s, outer))
        };
        let ended = self.log.borrow()[end.logged..].to_vec();
        assert_eq!(ended, end.owed, "values dropped at scope end, newest first");
        self.model.exited(&end.stats, end.used);
        self.depth -= 1;
        self.log.borrow()[start..].to_vec()
    }
}

fuzz_target!(|input: Input| {
    let config = ArenaConfig {
        max_retained_bytes: 1 + usize::from(input.max_retained),
        allocation_limit: input.limit.map(|units| 64 * (1 + usize::from(units))),
        max_idle_arenas: usize::from(input.max_idle_arenas % 9),
    };
    arena::configure(config).expect("a valid configuration");
    let start = arena::stats();
    let mut run = Run {
        ops: input.ops.iter(),
        depth: 0,
        log: Rc::default(),
        made: Rc::default(),
        model: Model {
            config,
            start,
            scopes: 0,
            created: 0,
            surplus: 0,
            idle: start.idle_arenas,
        },
    };
    // Top-level scopes one after another until the input runs out.
    while run.ops.len() > 0 {
        run.nested(run.ops.len() % 2 == 0, &|| {});
    }
    let mut log = run.log.take();
    log.sort_unstable();
    assert!(
        log.iter().copied().eq(0..run.made.get()),
        "every value dropped exactly once"
    );
});
