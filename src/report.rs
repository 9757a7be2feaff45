//! The memory report: what every live [`Pool`](crate::Pool) and the thread arenas hold, in one
//! call, and process-wide trims for a periodic maintenance call.
//!
//! Every `Pool` is listed when it is built (under its builder's `name`, or its element type), as
//! a weak handle: the registry never keeps a pool or its objects alive, and a dropped pool leaves
//! it. Nothing happens on `get` or on a return; a report reads the same counters as
//! [`Pool::stats`](crate::Pool::stats), and the pool's idle objects that it can reach.
//!
//! [`LocalPool`](crate::LocalPool)s are not listed: a local pool is `!Sync` and lives on one
//! thread, while the report and the trims run on any thread, so it could be neither read nor
//! trimmed from there. Read its [`stats`](crate::LocalPool::stats) on its own thread.

pub(crate) mod registry;
#[cfg(feature = "serde")]
mod serialize;
mod table;

use crate::stats::PoolStats;
pub(crate) use registry::{register, Registration};

/// Everything the process's pools and thread arenas hold, from [`report`].
///
/// `Display` renders a table (one row per pool, then the arenas); the fields give the data, and
/// with the `serde` feature the report serializes (for dashboards).
///
/// ```
/// use hotpool::Pool;
///
/// let lines = Pool::builder(|| String::with_capacity(256)).name("lines").prefill(4).build()?;
/// let report = hotpool::report();
/// let entry = report.pool("lines").unwrap();
/// assert_eq!(entry.stats.idle, 4);
/// assert_eq!(entry.idle_bytes, Some(4 * (24 + 256))); // the strings and their buffers
/// println!("{report}");
/// # drop(lines);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MemoryReport {
    /// Every live registered pool, in the order they were built.
    pub pools: Vec<PoolReport>,
    /// The thread arenas of every thread (see [`arena::global_stats`](crate::arena::global_stats)).
    pub arenas: ArenaReport,
}

/// One pool in a [`MemoryReport`].
///
/// ```
/// let pool = hotpool::Pool::builder(Vec::<u64>::new).name("ids").build()?;
/// drop(pool.get()); // made by the factory
/// drop(pool.get()); // served idle
/// let report = hotpool::report();
/// let ids = report.pool("ids").unwrap();
/// assert_eq!((ids.stats.created, ids.stats.reused), (1, 1));
/// assert_eq!(ids.hit_rate, 0.5);
/// assert_eq!(ids.held_since_last_report, None); // the first report to see it
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PoolReport {
    /// The builder's [`name`](crate::Builder::name); for an unnamed pool, its element type
    /// without module paths (`String`, `Vec<u8>`; `element_type` has the full path). The table
    /// shows this, and [`MemoryReport::pool`] finds it.
    pub name: String,
    /// The type of the pooled objects, as [`std::any::type_name`] spells it.
    pub element_type: &'static str,
    /// The pool's counters, as [`Pool::stats`](crate::Pool::stats) returns them.
    pub stats: PoolStats,
    /// The share of `get`s served by an idle object: `reused / (reused + created)`, not counting
    /// objects made by `prefill`; 0 before the first `get`.
    pub hit_rate: f64,
    /// Memory held by idle objects: `size_of::<T>()` each plus the heap memory it retains, as the
    /// recycle policy measures it ([`Recycler::retained_bytes_of`](crate::Recycler::retained_bytes_of):
    /// a [`ResetRecycler`](crate::ResetRecycler), the default, uses
    /// [`Recycle::retained_bytes`](crate::Recycle::retained_bytes)). `None` if the policy cannot
    /// tell (a `recycle_with` closure).
    ///
    /// The report measures the idle objects it can reach, up to 1024 of them: those in the shared
    /// depot and in the calling thread's own cache. Objects in other threads' caches (at most
    /// `thread_cache` per thread) belong to those threads; they are estimated at the average of
    /// the measured ones, or at `size_of::<T>()` each when none could be measured. See
    /// `idle_bytes_exact`.
    pub idle_bytes: Option<u64>,
    /// `true` when every idle object was measured, so `idle_bytes` is exact (for a snapshot).
    pub idle_bytes_exact: bool,
    /// Leak hint, the table's `held`: the lower of the pool's in-use counts at the previous
    /// report that saw it and at this one (`None` at the first one).
    ///
    /// It counts the objects that were out at both moments, at most. Every object that stayed
    /// out the whole time between the two reports is among them, so while the same objects are
    /// held it does not move, whatever other objects come and go in between; objects lent and
    /// returned between two reports never count. A leak shows as a `held` that never falls from
    /// report to report; a pool whose objects all come back by the next report at some point
    /// reads the in-use count it had then (0 when all were back). It comes from the counters
    /// alone: nothing is tracked per object, nothing on the hot path.
    pub held_since_last_report: Option<usize>,
    /// Some of the objects out now have provably been out since before the previous report:
    /// more are in use now than were lent since (`in_use − lends since the previous report` is
    /// above 0, a lower bound from the counters). Marked `LEAK?` in the table.
    ///
    /// Lends in between can hide a held object (any of them could be the one still out), never
    /// invent one: a quiet pool shows a leak at once, a busy one when the leak outnumbers one
    /// period's lends (reporting more often shortens the period), while `held` shows it either
    /// way. Expected for objects that are meant to live long (a buffer per open connection); a
    /// hint to look at, not a verdict.
    pub leak_suspected: bool,
}

/// The thread arenas in a [`MemoryReport`]: the parts of
/// [`arena::global_stats`](crate::arena::global_stats) that say what memory they hold.
///
/// ```
/// std::thread::spawn(|| hotpool::arena::scope(|s| { s.alloc_slice_copy(&[0u8; 4096]); }))
///     .join()
///     .unwrap();
/// let arenas = hotpool::report().arenas;
/// assert!(arenas.arenas_created >= 1);
/// // The thread exited: its arenas are freed, so no warm bytes are left from it.
/// println!("{} warm bytes in {} live threads", arenas.retained_bytes, arenas.live_threads);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArenaReport {
    /// Threads that have used an arena and are still running.
    pub live_threads: usize,
    /// Warm arenas idle now, waiting for a later scope, over all live threads.
    pub idle_arenas: usize,
    /// Bytes held warm by those idle arenas (their chunk capacity).
    pub retained_bytes: usize,
    /// Arenas made so far (first use of a thread, deeper nesting, after a drop).
    pub arenas_created: u64,
    /// Spikes dropped: arenas freed at scope end because they retained more than
    /// [`max_retained_bytes`](crate::arena::ArenaConfig::max_retained_bytes).
    pub dropped_oversized: u64,
    /// Arenas freed at scope end because enough were idle already.
    pub dropped_surplus: u64,
}

impl MemoryReport {
    /// The first pool whose [`name`](PoolReport::name) is `name`: the name the table shows,
    /// which for an unnamed pool is its element type without module paths.
    ///
    /// ```
    /// let pool = hotpool::Pool::new(|| vec![0u16; 8]); // unnamed
    /// drop(pool.get());
    /// let report = hotpool::report();
    /// let entry = report.pool("Vec<u16>").unwrap(); // as the table shows it
    /// assert_eq!(entry.element_type, "alloc::vec::Vec<u16>");
    /// ```
    pub fn pool(&self, name: &str) -> Option<&PoolReport> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// Idle memory the report could put a number on: the pools' `idle_bytes` (exact or
    /// estimated; pools whose policy cannot tell add nothing) plus the arenas' warm bytes.
    ///
    /// ```
    /// let pool = hotpool::Pool::builder(|| Vec::<u8>::with_capacity(1000)).prefill(2).build()?;
    /// assert!(hotpool::report().idle_bytes() >= 2000);
    /// # drop(pool);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    pub fn idle_bytes(&self) -> u64 {
        let pools: u64 = self.pools.iter().filter_map(|p| p.idle_bytes).sum();
        pools + self.arenas.retained_bytes as u64
    }
}

/// What every live pool and the thread arenas hold now; see [`MemoryReport`].
///
/// Each call is a snapshot and also ends a leak-hint period: a pool's
/// [`held_since_last_report`](PoolReport::held_since_last_report) compares with the previous
/// call that saw it. Reading a pool takes its depot lock briefly, as
/// [`Pool::stats`](crate::Pool::stats) does; other threads' hits never wait for it.
///
/// ```
/// use hotpool::Pool;
///
/// let sessions = Pool::builder(|| Vec::<u8>::with_capacity(64)).name("sessions").build()?;
/// let stuck = sessions.get(); // lent, and kept out
/// hotpool::report(); // starts the period
/// let report = hotpool::report();
/// let entry = report.pool("sessions").unwrap();
/// assert_eq!(entry.held_since_last_report, Some(1));
/// assert!(entry.leak_suspected);
/// assert!(report.to_string().contains("LEAK?"));
/// for _ in 0..5 {
///     drop(sessions.get()); // other objects come and go
/// }
/// assert_eq!(hotpool::report().pool("sessions").unwrap().held_since_last_report, Some(1));
/// drop(stuck);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
pub fn report() -> MemoryReport {
    let pools = registry::live();
    let snapshots: Vec<_> = pools.iter().map(|p| p.pool.snapshot()).collect();
    let seen: Vec<_> = pools
        .iter()
        .zip(&snapshots)
        .map(|(p, s)| {
            let seen = registry::Seen {
                lent: s.lent,
                in_use: s.stats.in_use,
            };
            (p.id, seen)
        })
        .collect();
    let held = registry::mark_reported(&seen);
    let pools = pools
        .iter()
        .zip(snapshots)
        .zip(held)
        .map(|((p, s), held)| {
            let (idle_bytes, idle_bytes_exact) = idle_bytes(&s);
            let created_for_gets = s.stats.created.saturating_sub(p.prefilled as u64);
            let served = s.stats.reused + created_for_gets;
            PoolReport {
                name: match &p.name {
                    Some(name) => name.to_string(),
                    None => table::short_type(p.element_type),
                },
                element_type: p.element_type,
                stats: s.stats,
                hit_rate: if served == 0 {
                    0.0
                } else {
                    s.stats.reused as f64 / served as f64
                },
                idle_bytes,
                idle_bytes_exact,
                held_since_last_report: held.map(|h| h.at_both),
                leak_suspected: held.is_some_and(|h| h.proven > 0),
            }
        })
        .collect();
    let a = crate::arena::global_stats();
    MemoryReport {
        pools,
        arenas: ArenaReport {
            live_threads: a.live_threads,
            idle_arenas: a.idle_arenas,
            retained_bytes: a.retained_bytes,
            arenas_created: a.arenas_created,
            dropped_oversized: a.dropped_oversized,
            dropped_surplus: a.dropped_surplus,
        },
    }
}

/// Idle bytes of a pool and whether they are exact, from what its snapshot measured.
fn idle_bytes(s: &registry::Snapshot) -> (Option<u64>, bool) {
    let Some((bytes, measured)) = s.measured_idle else {
        return (None, false);
    };
    let idle = s.stats.idle;
    if measured >= idle {
        return (Some(bytes), true);
    }
    let unmeasured = (idle - measured) as u64;
    let each = match bytes.checked_div(measured as u64) {
        Some(average) => average,
        None => s.object_size as u64,
    };
    (Some(bytes + unmeasured * each), false)
}

/// Drops every idle object of every registered pool that the calling thread can reach (each
/// pool's shared depot and the calling thread's own cache, as [`Pool::trim`](crate::Pool::trim)
/// does); returns how many were dropped. Other threads' caches, at most `thread_cache` objects
/// per thread and pool, drain when those threads exit.
///
/// Objects are dropped outside every lock. If a `T::drop` panics, the other objects of that pool
/// are still dropped, then the panic propagates and the pools after it are left untrimmed.
///
/// ```
/// let a = hotpool::Pool::builder(String::new).prefill(3).build()?;
/// let b = hotpool::Pool::builder(Vec::<u8>::new).prefill(2).build()?;
/// assert!(hotpool::trim_all() >= 5); // other pools of the process may give up objects too
/// assert_eq!((a.stats().idle, b.stats().idle), (0, 0));
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
pub fn trim_all() -> usize {
    registry::live().iter().map(|p| p.pool.trim()).sum()
}

/// For every registered pool, drops the depot's objects that stayed idle since the previous call
/// (as [`Pool::trim_unused`](crate::Pool::trim_unused), whose period it shares); returns how
/// many. Call it from a timer: after a burst, every pool shrinks back to what it really uses,
/// while busy pools lose nothing. The first call only starts the first period.
///
/// ```
/// let pool = hotpool::Pool::builder(Vec::<u8>::new)
///     .name("burst")
///     .thread_cache(0) // every object in the depot, where the aging trim looks
///     .prefill(50)
///     .build()?;
/// hotpool::trim_unused_all(); // starts a period
/// let busy: Vec<_> = (0..10).map(|_| pool.get()).collect();
/// drop(busy);
/// hotpool::trim_unused_all(); // the 40 nobody touched go
/// assert_eq!(pool.stats().idle, 10);
/// # Ok::<(), hotpool::ConfigError>(())
/// ```
pub fn trim_unused_all() -> usize {
    registry::live().iter().map(|p| p.pool.trim_unused()).sum()
}
