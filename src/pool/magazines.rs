//! The depot's idle objects: magazines moved between threads a batch at a time.
//!
//! Everything here runs under the pool's depot lock (see `depot.rs`) and only moves pointers: no
//! factory, recycle policy or `T::drop` ever runs under the lock. Objects given up (a trim, an
//! overflow) are handed back to the caller to drop after unlocking.

use std::mem;

/// Empty magazine buffers kept for reuse beyond this are freed.
const MAX_SPARE_MAGAZINES: usize = 64;

/// A batch of idle objects moved as one.
pub(crate) type Magazine<T> = Vec<Box<T>>;

/// Idle objects in magazines, at most `max_idle` of them.
pub(crate) struct Magazines<T> {
    /// Non-empty magazines, oldest first.
    full: Vec<Magazine<T>>,
    /// Empty magazine buffers, so trading batches allocates nothing in steady state.
    empty: Vec<Magazine<T>>,
    /// Objects in `full`; never above `max_idle`.
    idle: usize,
    max_idle: usize,
    /// Most objects any magazine holds (half a thread cache, rounded up; see `ThreadTier::new`):
    /// `put_one`, `flush` and `adopt` never make a longer one, and `refill` never moves more
    /// than the cache has room for whatever it finds.
    magazine_len: usize,
    /// Lowest `idle` since the last `take_unused`: that many objects went unused all along.
    low_water: usize,
}

impl<T> Magazines<T> {
    pub(crate) fn new(max_idle: usize, magazine_len: usize) -> Self {
        Self {
            full: Vec::new(),
            empty: Vec::new(),
            idle: 0,
            max_idle,
            magazine_len: magazine_len.max(1),
            low_water: 0,
        }
    }

    fn note_taken(&mut self, n: usize) {
        self.idle -= n;
        self.low_water = self.low_water.min(self.idle);
    }

    fn new_magazine(&mut self) -> Magazine<T> {
        self.empty
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.magazine_len))
    }

    fn keep_empty(&mut self, magazine: Magazine<T>) {
        debug_assert!(magazine.is_empty());
        if self.empty.len() < MAX_SPARE_MAGAZINES {
            self.empty.push(magazine);
        }
    }

    /// Moves the newest magazine into the empty `objects`, as far as `objects`' capacity (the
    /// thread cache's limit) allows; `false` if the depot is empty. The emptied magazine becomes
    /// `spare` if the thread has none.
    pub(crate) fn refill(
        &mut self,
        objects: &mut Vec<Box<T>>,
        spare: &mut Option<Magazine<T>>,
    ) -> bool {
        debug_assert!(objects.is_empty());
        let Some(magazine) = self.full.last_mut() else {
            return false;
        };
        if magazine.len() > objects.capacity() {
            // Longer than the cache (magazines never are; this keeps the limit if one were):
            // its top part only, the rest stays.
            let n = objects.capacity();
            objects.extend(magazine.drain(magazine.len() - n..));
            self.note_taken(n);
            return n > 0;
        }
        let mut magazine = self.full.pop().expect("`last_mut` just saw it");
        self.note_taken(magazine.len());
        objects.append(&mut magazine); // fits: no allocation
        match spare {
            None => *spare = Some(magazine),
            Some(_) => self.keep_empty(magazine),
        }
        true
    }

    /// Moves the newest magazine into `objects` too if it fits in the room left below `objects`'
    /// capacity (the thread cache's limit); `false` if it does not or the depot is empty.
    pub(crate) fn refill_more(&mut self, objects: &mut Vec<Box<T>>) -> bool {
        let room = objects.capacity() - objects.len();
        match self.full.last() {
            Some(magazine) if magazine.len() <= room => {}
            _ => return false,
        }
        let mut magazine = self.full.pop().expect("`last` just saw it");
        self.note_taken(magazine.len());
        objects.append(&mut magazine); // fits: no allocation
        self.keep_empty(magazine);
        true
    }

    /// Moves up to `batch` objects from the top of `objects` into the depot, as many as
    /// `max_idle` leaves room for; returns how many moved.
    pub(crate) fn flush(
        &mut self,
        objects: &mut Vec<Box<T>>,
        batch: usize,
        spare: &mut Option<Magazine<T>>,
    ) -> usize {
        let n = batch.min(self.max_idle - self.idle).min(objects.len());
        if n == 0 {
            return 0;
        }
        let mut magazine = match spare.take() {
            Some(magazine) => magazine,
            None => self.new_magazine(),
        };
        magazine.extend(objects.drain(objects.len() - n..));
        self.idle += n;
        self.full.push(magazine);
        *spare = self.empty.pop();
        n
    }

    /// Takes one object; `None` if the depot is empty.
    pub(crate) fn take_one(&mut self) -> Option<Box<T>> {
        let magazine = self.full.last_mut()?;
        let obj = magazine.pop();
        if magazine.is_empty() {
            let emptied = self.full.pop().expect("`last_mut` just saw it");
            self.keep_empty(emptied);
        }
        self.note_taken(1);
        obj
    }

    /// Keeps one object if `max_idle` leaves room; gives it back otherwise.
    pub(crate) fn put_one(&mut self, obj: Box<T>) -> Result<(), Box<T>> {
        if self.idle >= self.max_idle {
            return Err(obj);
        }
        match self.full.last_mut() {
            Some(magazine) if magazine.len() < self.magazine_len => magazine.push(obj),
            _ => {
                let mut magazine = self.new_magazine();
                magazine.push(obj);
                self.full.push(magazine);
            }
        }
        self.idle += 1;
        Ok(())
    }

    /// Keeps objects entering in bulk (an exiting thread's cache, a thief's haul), in magazines
    /// of at most `magazine_len`, as far as `max_idle` allows; returns what did not fit, for the
    /// caller to drop after unlocking.
    pub(crate) fn adopt(&mut self, mut objects: Vec<Box<T>>) -> Vec<Box<T>> {
        let room = self.max_idle - self.idle;
        let overflow = if objects.len() > room {
            objects.split_off(room)
        } else {
            Vec::new()
        };
        if objects.len() <= self.magazine_len {
            if objects.is_empty() {
                self.keep_empty(objects);
            } else {
                self.idle += objects.len();
                self.full.push(objects);
            }
            return overflow;
        }
        // Bottom first, so the oldest objects stay the oldest magazines.
        let mut objects = objects.into_iter();
        while objects.len() > 0 {
            let mut magazine = self.new_magazine();
            magazine.extend(objects.by_ref().take(self.magazine_len));
            self.idle += magazine.len();
            self.full.push(magazine);
        }
        overflow
    }

    /// Gives up every idle object (and spare magazine buffer), for the caller to drop.
    pub(crate) fn take_all(&mut self) -> Vec<Magazine<T>> {
        self.empty = Vec::new();
        self.idle = 0;
        self.low_water = 0;
        mem::take(&mut self.full)
    }

    /// Gives up the objects that stayed idle since the previous call (the low-water mark), the
    /// oldest first, and starts a new period.
    pub(crate) fn take_unused(&mut self) -> Vec<Magazine<T>> {
        let mut unused = self.low_water;
        let whole = self
            .full
            .iter()
            .take_while(|magazine| {
                let take = magazine.len() <= unused;
                if take {
                    unused -= magazine.len();
                }
                take
            })
            .count();
        let mut taken: Vec<Magazine<T>> = self.full.drain(..whole).collect();
        if unused > 0 {
            // Part of the next magazine: its bottom objects are the oldest.
            let partial = self.full[0].drain(..unused).collect();
            taken.push(partial);
        }
        let n: usize = taken.iter().map(Vec::len).sum();
        self.idle -= n;
        self.low_water = self.idle;
        taken
    }

    /// The depot's idle objects, newest magazine first (for the memory report).
    pub(crate) fn idle_objects(&self) -> impl Iterator<Item = &T> + '_ {
        self.full.iter().rev().flatten().map(|obj| &**obj)
    }

    /// Objects idle here.
    pub(crate) fn idle(&self) -> usize {
        self.idle
    }
}

#[cfg(test)]
#[path = "magazines_tests.rs"]
mod tests;
