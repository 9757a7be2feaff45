//! Per-thread and depot counters, summed into [`PoolStats`] on demand. Why a snapshot is exact at
//! rest and how far off it can be while threads run: [the implementation
//! notes](crate::implementation#invariants); the orderings:
//! [Memory orderings](crate::implementation#memory-orderings).

use super::cache::Fill;
use crate::counting::Change;
use crate::stats::PoolStats;
use crate::sync::OwnedCounter;

/// Cumulative counters of one writer: a thread's slot (written only by that thread) or the depot
/// (written only under its lock). Reading them from elsewhere is always allowed.
///
/// A cache hit moves none: a thread's hits are counted by its cache's fill word (`cache.rs`),
/// which [`Counts::read`] adds in, and the in-use balance is derived instead of kept in a
/// counter of its own.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) created: OwnedCounter,
    pub(crate) reused: OwnedCounter,
    pub(crate) returned: OwnedCounter,
    /// Objects that entered the pool other than from the factory: kept by `put`, or adopted by
    /// `attach`.
    pub(crate) put: OwnedCounter,
    pub(crate) discarded: OwnedCounter,
    pub(crate) detached: OwnedCounter,
    /// The in-use balance of the slow paths, wrapping: +1 per object created for a `get`, -1 per
    /// guard whose object was discarded or detached.
    slow_balance: OwnedCounter,
}

impl Counts {
    /// Objects this writer handed out minus guards it saw end (returned, discarded or detached).
    /// Summed over all writers it is the pool's in-use count; one writer's share is negative when
    /// it takes back objects other threads handed out.
    ///
    /// Counters are read so that a concurrent reader can miss an effect but never see one without
    /// its cause: `put` before `returned` (a kept `put` moves both), `reused` before `returned`
    /// (each return answers an earlier lend), with release stores and acquire loads.
    ///
    /// `fill` is the writer's cache (`None` for the depot), whose pops count as `reused` and
    /// pushes as `returned`. It is read last, where `returned` is: a push counts a return as
    /// `returned`'s store does.
    pub(crate) fn lent_balance(&self, fill: Option<&Fill>) -> isize {
        self.read(fill).1
    }

    /// Every counter, and the balance, each read once in the order [`Counts::lent_balance`] needs.
    fn read(&self, fill: Option<&Fill>) -> ([u64; 6], isize) {
        let put = self.put.get();
        let reused = self.reused.get();
        let created = self.created.get();
        let slow_balance = self.slow_balance.get();
        let detached = self.detached.get();
        let discarded = self.discarded.get();
        let returned = self.returned.get();
        let hits = fill.map(Fill::read).unwrap_or_default();
        let reused = reused.wrapping_add(hits.pops);
        let returned = returned.wrapping_add(hits.pushes);
        let balance = reused
            .wrapping_add(slow_balance)
            .wrapping_sub(returned)
            .wrapping_add(put) as isize;
        let counts = [created, reused, returned, put, discarded, detached].map(|c| c as u64);
        (counts, balance)
    }

    /// Records `change` (see [`Change`] for the counters each moves), in the order
    /// [`Counts::lent_balance`] reads them.
    pub(crate) fn change(&self, change: Change) {
        match change {
            Change::Created => {
                self.created.add(1);
                self.slow_balance.add(1);
            }
            Change::Prefilled => self.created.add(1),
            Change::Reused => self.reused.add(1),
            Change::Put => self.put.add(1),
            Change::Attached => {
                self.put.add(1);
                self.reused.add(1);
                self.returned.add(1);
            }
            Change::DiscardedOnReturn => {
                self.slow_balance.sub(1);
                self.discarded.add(1);
            }
            Change::IdleDropped(n) => self.discarded.add(n),
            Change::Detached => {
                self.slow_balance.sub(1);
                self.detached.add(1);
            }
        }
    }
}

/// The estimate behind `peak_in_use`: the sum of the in-use balances every writer published
/// (each thread when it trades with the depot, the depot for its own counters), and its highest
/// value. Lives in the depot, under its lock.
#[derive(Debug, Default)]
pub(crate) struct PeakEstimate {
    in_use_estimate: isize,
    peak_in_use: usize,
    /// The part of `in_use_estimate` that came from the depot's own counters.
    own_published_balance: isize,
}

impl PeakEstimate {
    /// Publishes the balance of the depot's own counters (operations that bypassed the thread
    /// caches), so that a pool without a thread tier has an exact `peak_in_use`.
    pub(crate) fn publish_own(&mut self, depot_counts: &Counts) {
        let mut published = self.own_published_balance;
        self.publish(&mut published, depot_counts.lent_balance(None));
        self.own_published_balance = published;
    }

    /// Adds the change of one writer's in-use balance to the estimate.
    pub(crate) fn publish(&mut self, published: &mut isize, balance: isize) {
        self.in_use_estimate += balance - *published;
        *published = balance;
        self.peak_in_use = self.peak_in_use.max(self.in_use_estimate.max(0) as usize);
    }

    /// Records an in-use count seen by a `stats()` snapshot.
    pub(crate) fn observe(&mut self, in_use: usize) {
        self.peak_in_use = self.peak_in_use.max(in_use);
    }

    /// The highest in-use count sampled so far.
    pub(crate) fn peak(&self) -> usize {
        self.peak_in_use
    }
}

/// Running sums of [`Counts`] from several writers.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    created: u64,
    reused: u64,
    returned: u64,
    put: u64,
    discarded: u64,
    detached: u64,
    in_use: i64,
    /// A bounded pool's `max_live` (no object beyond it ever exists); `None` otherwise.
    max_live: Option<u64>,
}

impl Totals {
    /// Adds the counters of one writer, with its cache's fill word if it has one.
    pub(crate) fn add(&mut self, c: &Counts, fill: Option<&Fill>) {
        let ([created, reused, returned, put, discarded, detached], balance) = c.read(fill);
        self.created += created;
        self.reused += reused;
        self.returned += returned;
        self.put += put;
        self.discarded += discarded;
        self.detached += detached;
        self.in_use += balance as i64;
    }

    /// Caps what the snapshot reports as alive at a bounded pool's `max_live`.
    pub(crate) fn cap_live(&mut self, max_live: usize) {
        self.max_live = Some(max_live as u64);
    }

    /// Objects alive by the counters: every object enters by `created` or `put` and leaves by
    /// `discarded` or `detached`; what is left is either in use or idle.
    fn live(&self) -> u64 {
        let live = (self.created + self.put).saturating_sub(self.discarded + self.detached);
        self.max_live.map_or(live, |cap| live.min(cap))
    }

    /// Objects in use: the sum of the balances, within `0..=live`. Each writer's counters are
    /// read a moment apart from the others', so while objects cross threads the sum can be off
    /// in either direction by the gets and returns that ran meanwhile; the clamp keeps it within
    /// what can be true (it is exact when nothing runs during the snapshot).
    pub(crate) fn in_use(&self) -> usize {
        (self.in_use.max(0) as u64).min(self.live()) as usize
    }

    /// The snapshot, given the highest in-use count sampled so far. Counters read while other
    /// threads run may be a moment apart, so levels are clamped to be non-negative; when the pool
    /// is quiescent they are exact.
    /// `waits` comes from the depot (bounded pools; 0 otherwise).
    pub(crate) fn into_stats(self, sampled_peak: usize, waits: u64) -> PoolStats {
        let in_use = self.in_use() as u64;
        let live = self.live();
        PoolStats {
            created: self.created,
            reused: self.reused,
            returned: self.returned,
            discarded: self.discarded,
            detached: self.detached,
            idle: live.saturating_sub(in_use) as usize,
            in_use: in_use as usize,
            peak_in_use: sampled_peak.max(in_use as usize),
            waits,
        }
    }
}

#[cfg(all(test, not(hotpool_loom)))]
mod tests {
    use super::{Change, Counts, PeakEstimate, Totals};

    #[test]
    fn in_use_read_across_writers_never_exceeds_the_objects_alive() {
        // One object, prefilled (the depot created it), lent three times on thread A and given
        // back on thread B: a snapshot that read B before its last two returns sums to 2.
        let (depot, a, b) = (Counts::default(), Counts::default(), Counts::default());
        depot.created.add(1);
        a.reused.add(3);
        b.returned.add(1);
        let mut totals = Totals::default();
        for writer in [&depot, &a, &b] {
            totals.add(writer, None);
        }
        assert_eq!(totals.in_use(), 1, "clamped to the one object alive");
        let stats = totals.into_stats(0, 0);
        assert_eq!((stats.in_use, stats.idle, stats.peak_in_use), (1, 0, 1));
    }

    #[test]
    fn a_bounded_pools_snapshot_never_reports_more_alive_than_max_live() {
        let (depot, a) = (Counts::default(), Counts::default());
        depot.created.add(3); // read before a discard on another thread was counted
        a.reused.add(3);
        let mut totals = Totals::default();
        totals.add(&depot, None);
        totals.add(&a, None);
        totals.cap_live(2);
        let stats = totals.into_stats(0, 0);
        assert_eq!((stats.in_use, stats.idle), (2, 0));
    }

    #[test]
    fn peak_in_use_follows_the_published_balances() {
        let mut peak = PeakEstimate::default();
        let (mut a, mut b) = (0, 0);
        peak.publish(&mut a, 3);
        peak.publish(&mut b, 2);
        assert_eq!(peak.peak(), 5);
        // Thread b returns objects thread a took: its balance goes negative, the peak stays.
        peak.publish(&mut b, -3);
        assert_eq!(peak.peak(), 5);
        peak.publish(&mut a, 6);
        assert_eq!(peak.peak(), 5, "estimate 6 - 3 = 3");
        peak.observe(7);
        assert_eq!(peak.peak(), 7);
        let depot = Counts::default();
        depot.change(Change::Reused); // a `get` served by the depot itself
        peak.publish_own(&depot);
        assert_eq!(peak.peak(), 7, "estimate 4");
    }
}
