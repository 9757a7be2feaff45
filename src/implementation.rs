//! How hotpool works inside: the tiers, the invariants, and why the memory orderings are enough.
//!
//! This module holds documentation only, and is the one place for the mechanism: module headers
//! in `src/` summarise their part and link here. Read it before changing `src/pool` or
//! `src/local`. Measurements, and designs that were tried and left, are in `benches/README.md`
//! ("Design notes and things tried"); what changed when is in `CHANGELOG.md`.
//!
//! # Objects stay in place
//!
//! Every pooled object lives in its own `Box<T>` from the moment the factory makes it until it is
//! dropped. Guards, thread caches and the depot hold `Box<T>` pointers, so handing an object out or
//! taking it back moves 8 bytes whatever `size_of::<T>()` is; moving `T` itself would cost a
//! memcpy of `T` each way.
//!
//! # `LocalPool`
//!
//! `src/local/`. A `Vec<Box<T>>` used as a LIFO stack (the most recently returned object is the
//! most likely to be in cache) behind an `UnsafeCell` without a borrow flag (`local/stack.rs`):
//! nothing that runs while it is borrowed can reach user code, because the factory, the recycle
//! policy and `T::drop` always run outside it and growth allocates before the borrow. A hit moves
//! one counter: in-use is derived as `live - idle`, and the peak from the idle stack's low-water
//! mark between changes of the live population (`local/counters.rs`).
//!
//! # Guards
//!
//! One mechanism for every guard (`src/guard.rs`): a guard holds a `ManuallyDrop<Box<T>>` and the
//! handle it goes back to (`&LocalPool`, an `Rc`, `&Pool` or an owned reference); its `Drop` takes
//! the box out exactly once, and `detach` consumes the guard without running `Drop`. Not an
//! `Option`, which would cost a store and a branch per operation on a round trip of a few
//! nanoseconds.
//!
//! # `Pool`: three tiers
//!
//! 1. [Thread cache](#thread-cache): a bounded stack per thread, hit without a lock or a
//!    read-modify-write.
//! 2. [Depot](#depot): magazines moved between threads a batch at a time under one lock.
//! 3. **Factory**, outside every lock and borrow.
//!
//! A guard returns its object to the cache of the thread that drops it. In a producer → consumer
//! pipeline the consumer's full magazines flow to the depot and the producer takes them from
//! there: one lock per half-cache of objects in each direction (or a whole cache, below).
//!
//! ## Thread cache
//!
//! `pool/cache.rs`, `pool/slots.rs`, `pool/thread.rs`. Each thread that uses the pool owns a slot
//! holding its cache of at most `thread_cache` objects. Slots live in a table indexed by a small
//! thread id (`pool/thread.rs`; ids are reused after a thread exits, so tables stay as small as
//! the number of threads alive at once): bucket `b` holds `2^b` slots, allocated on first use and
//! published with a release store, never moved or freed before the pool. Slots are aligned to 128
//! bytes, so neighbouring threads' slots never share a cache line (nor an adjacent-line prefetch
//! pair).
//!
//! **Last-slot entries.** A hit starts from the thread's *last slot* (`thread::with_last_slot`):
//! a thread-local entry holding the id of the slot table the thread used last, that slot's
//! address and the thread's handle. If the id is this pool's table, the slot is found with one
//! compare and one load, without reading the handle pointer first; otherwise the pool goes
//! through the table out of line (`*_via_table`): a constant-initialised thread-local pointer to
//! the thread's handle (one `mov` from `%fs`, no lazy-initialisation check), the bucket and index
//! stored in the handle, one bucket pointer (acquire), and the entry is replaced. There are two
//! entries, one for slot tables that are never stolen from (unbounded pools) and one for
//! stealable tables (bounded pools): a slot found in the first needs no check of which cache door
//! its pool uses, so the unbounded pool's hit path has no `bound` branch, and a thread that
//! alternates between a bounded and an unbounded pool keeps both found. Table ids come from a
//! 64-bit counter and are never reused, so an entry of a dropped pool can never match a new one
//! at the same address. An entry is set only while the handle pointer is (so the handle it holds
//! is alive whenever its id matches) and cleared with it, first thing in the handle's destructor.
//!
//! **The hit path**, per side: load the entry's id, compare it with the pool's, load the slot,
//! load the fill word, then the pop or push and one store of the word. `LocalPool`'s has neither
//! the compare nor the slot load, and bumps a counter on a get. Everything up to the cache push is
//! `#[inline(always)]`; the table path is out of line (`#[inline(never)]`) and every slow path is
//! `#[cold]`, so they take their registers with them. What the hit path leaves out, and where it
//! went:
//!
//! - a second thread-local state check: std's lazy `thread_local!` with a destructor checks its
//!   state on every access; the constant pointer beside it does not;
//! - a re-entrancy flag: replaced by a type rule ([Invariants](#invariants)) and a debug-build
//!   assertion;
//! - the exit-hook registration check: folded into the cache's capacity, which is 0 until the
//!   hook is registered, so the first return takes the slow path once;
//! - counter updates: in-use is derived ([Invariants](#invariants)) and hits are counted by the
//!   fill word (below).
//!
//! **The fill word** (`pool/cache.rs`). The cache is a stack in the spare capacity of a
//! `Vec<Box<T>>` kept at length 0; its length lives in a word of the slot's shared part, an
//! atomic that other threads may read: the low 17 bits are the length, the bits above count the
//! objects returns pushed. A pop stores the word minus 1, a push the word plus one push and one
//! object: the store that moves the stack also counts the return, and a get is counted by what it
//! leaves (pops = pushes + moved in by trades − moved out − length). So a hit writes no counter.
//! A counter per hit is a load of the line's previous value through a slot pointer just loaded
//! from the thread-local, then a store; a store of a value already in a register is cheap, and
//! the two counter updates were most of what `Pool`'s round trip took over `LocalPool`'s
//! (figures in `benches/README.md`). The count of pushes is folded into a separate counter under
//! the depot lock when it reaches the word's top bit (after 2^46 pushes on 64-bit targets, 2^14 on
//! 32-bit ones), which the push reports from the flags of its own add. The trades with the depot
//! and the fold write the length and their tallies under the depot lock, which `stats()` holds:
//! it reads every fill word whole (loom model `stats_read_races_fill_word_hits_and_trades`). For
//! a trade the `Vec` takes the length for the moment the depot's code runs on it
//! (`ThreadCache::trade`), so the depot still works on plain `Vec`s, and a panic inside gives the
//! objects back to the stack.
//!
//! **The cache's limit is its `Vec`'s capacity**: the cache is enabled with
//! `Vec::with_capacity(thread_cache)`, which asks for exactly that many slots (std's `Vec` then
//! reports that capacity; debug builds assert it), and trades with the depot never grow it: every
//! magazine holds at most half a cache (`Magazines::adopt` splits bulk entries, an exiting
//! thread's cache or a thief's haul, into magazines of that size), and `Magazines::refill` moves
//! at most what the cache has room for whatever it finds. So a push compares the length with the capacity
//! once.
//!
//! ## Depot
//!
//! `pool/depot.rs`, `pool/magazines.rs`, `pool/tier.rs`. A `Mutex` around a struct of separate
//! parts: a stack of *magazines* (`Vec<Box<T>>`, as in Bonwick's magazine allocator), the
//! depot's counters and the `peak_in_use` estimate, the owned-guard reference reserve, and a
//! bounded pool's places and waiters. A thread whose cache is empty takes a whole magazine; one whose cache is
//! full moves half of it out as a magazine. Half, not all: after a trade the thread has room (or
//! objects) for half a cache of hits, so an alternating get/put at the boundary cannot make every
//! operation lock. Such a thread's trades alternate (a flush, then a refill), so a thread whose
//! trade goes the same way as its previous one is not at the boundary: it moves objects one way,
//! as a pipeline's producer or consumer does, and trades a whole cache (a refill takes a second
//! magazine if it fits; a flush empties the cache as far as `max_idle` allows), which halves the
//! lock acquisitions of a pipeline. Empty magazine buffers are swapped back, so trading allocates
//! nothing in steady state. Only pointer moves happen under the lock.
//!
//! # Invariants
//!
//! - **Every object is owned by exactly one place**: a guard, a thread cache, a depot magazine, or
//!   a local variable on its way between them. Moves are `Box` moves, so the compiler enforces it;
//!   `unsafe` only gives a thread `&mut` to its own slot.
//! - **A slot's cache is opened by its owner** (or, in a bounded pool, by a thief: see
//!   [Bounded pools](#bounded-pools)): every door (`with_cache`, `with_cache_announced`,
//!   `with_cache_locked`) takes a `&ThreadHandle`, which only the owning thread can have (it is
//!   `!Send + !Sync` and lives in a thread-local), and debug builds assert that its id is the
//!   slot's (as sharded-slab's `Shard::local` does). Slow paths open it only while holding the
//!   depot lock (their `&mut Depot` is the proof). `ThreadSlots::for_each` gives other threads
//!   only a slot's `Shared` part (atomics), never its cache. No borrow of a cache nests:
//!   `ThreadCache` has no method that drops a `T` or runs other user code, every closure passed to
//!   a door is in `pool/` and opens no other cache, and debug builds (so miri too) assert it. The
//!   pool's `Drop` reaches every slot through `&mut`.
//! - **No user code under a lock or a slot borrow**: factories, recycle policies and `T::drop` run
//!   after the depot lock is released and outside every cache door, so they may use the pool, and a
//!   panic in them cannot leave a half-updated structure (hence the depot `Mutex` ignores
//!   poisoning).
//! - **Bounded idle memory**: the depot never holds more than `max_idle`, nor a magazine more
//!   than half a cache (rounded up); a thread cache never more than `thread_cache`, whatever a
//!   steal or a thread exit hands over (`tests/bounded_steal.rs`). When a thread exits, its
//!   thread-local `ThreadHandle` runs the exit hook of every pool it used (registered as `Weak`,
//!   so a thread never keeps a pool alive): the cache moves to the depot as one magazine, what
//!   does not fit is dropped, and only then is the thread id released for reuse.
//! - **Counters are exact at rest**: each slot has its own counters (`pool/counts.rs`), written
//!   only by its thread, without a read-modify-write (see [Memory orderings](#memory-orderings));
//!   the depot's are written under its lock. `stats()` sums them. A hit moves no counter: a slot's
//!   `reused` and `returned` add the pops and pushes its cache's fill word counts (above). In-use
//!   is derived per writer as `reused + slow_balance − returned + put` (`slow_balance` counts
//!   creations, discards and detaches, all off the hit path). `stats()` reads `put`, then
//!   `reused`, then `returned` and the fill word, with acquire loads, so within one writer it
//!   never sees a return without the lend it answers. Across writers it cannot be exact while
//!   threads run: an object lent on one thread and returned on another is counted by two writers
//!   read a moment apart, so a snapshot can be off in either direction by the gets and returns
//!   that ran during it. It is clamped to what can be true (`0 ..= live`, and `max_live` in a
//!   bounded pool, where `live` is created + put − discarded − detached), and exact at rest.
//! - **Panics in user code never abort**: the pool drops objects on its own in two places that
//!   may run inside a thread-local destructor (a thread's exit flush, and the pool's teardown,
//!   which the last handle, guard or exit hook may trigger). There every object is dropped with
//!   its own `catch_unwind` (`thread::drop_all`), so each is dropped exactly once even if several
//!   panic, and the panic stops after the panic hook reported it. Everywhere else (`trim`, a
//!   guard's discard, `put`) the objects are dropped the same way and the first panic is resumed
//!   for the caller.
//!
//! # Memory orderings
//!
//! Every ordering the crate uses, by what it protects. The code repeats each one at its site in
//! a line; the argument is here.
//!
//! - **Slot table**: bucket pointers are published with a release store under the table's growth
//!   lock after the slots are initialised, and read with acquire, so a thread that finds a bucket
//!   sees initialised slots. `used_buckets`, the bound of every scan, is raised (release)
//!   *before* the bucket's pointer is published, and scans read it with acquire: a thread that
//!   found its slot through the pointer is inside the bound, and a scan that sees the bound
//!   before the pointer finds it null and skips a bucket nobody can be using yet (see
//!   [Owned guards](#owned-guards-without-a-shared-count) for why the order matters).
//! - **Slot caches**: opened by one thread at a time. The hand-over from an exiting thread to the
//!   next thread that gets its id goes through the id allocator's `Mutex` (released after the
//!   exit flush), and the hand-over to the pool's `Drop` through the `Arc`'s final decrement. A
//!   thief's access is ordered by the `busy`/`waiting` handshake
//!   ([Bounded pools](#bounded-pools)).
//! - **Per-writer counters** (`sync::OwnedCounter`, `pool/counts.rs`, the arenas'
//!   `ThreadCounters`): written by one thread (or under the depot lock) with a relaxed load and a
//!   **release store**, read from any thread with acquire, so a reader that sees a count sees
//!   the counts its writer made before; that is what lets `stats()` read them in cause-before-
//!   effect order. No read-modify-write: on x86-64 the store is a plain `mov`. Levels that go
//!   down as well as up (`sync::OwnedGauge`: an arena's retained bytes, peak, idle count) are
//!   relaxed stores and loads: each is read on its own, and no other value depends on it. A
//!   thread's idle arena count and their retained bytes are each the sum of two levels, the hot
//!   slot's and the idle stack's below it (`arena/thread.rs`): another thread may see one move before
//!   the other, and so count an arena that changes place twice or not at all for that instant,
//!   as it could already see the count and the bytes disagree. The owner's own `stats()` is exact.
//! - **Fill word** (`pool/cache.rs`): the owner (or whoever holds the cache shut) stores it with
//!   release and reads its own word relaxed; `stats()` reads it with acquire, so what the writer
//!   counted before a hit is seen with it. The fold's `folded_pushes` and a trade's `moved` are
//!   relaxed: they are written only under the depot lock, which `stats()` holds while it reads
//!   them.
//! - **Depot**: everything under its `Mutex`, including its counters and the places of a bounded
//!   pool.
//! - **`BufferPool`'s oversized counters** (`buffer/mod.rs`): relaxed read-modify-writes, on the
//!   oversized (cold) path only; each is read on its own, so `BufferStats` is a snapshot like
//!   `stats()`.
//! - **Owned-guard references** (`pool/refs.rs`, `pool/tally.rs`): the handle count is
//!   incremented relaxed and decremented AcqRel (as `Arc`'s), and so is `issued`; a spare
//!   reference is a relaxed load and store of its owner's slot; `closing` is stored and read
//!   relaxed, ordered by the barriers of the handshake below; a tally's odd mark is relaxed (the
//!   light barrier orders it), its completing or abandoning store release, and the collector's
//!   read acquire. The argument is in [Owned guards](#owned-guards-without-a-shared-count).
//! - **Steal handshake** (`pool/slots.rs`, `pool/limiter.rs`): `busy = true` relaxed then a light
//!   barrier, `waiting` read with acquire, `busy = false` release; the thief's `waiting = true`
//!   relaxed then a heavy barrier, `busy` read with acquire; `waiting = false` release under the
//!   depot lock. The argument is in [Bounded pools](#bounded-pools).
//! - **Barriers** (`barrier.rs`): the light side is a compiler fence where `membarrier` works and
//!   a `SeqCst` fence elsewhere; the heavy side is `membarrier(PRIVATE_EXPEDITED)` or a `SeqCst`
//!   fence.
//!
//! loom checks these paths (`tests/loom_pool.rs`). Three things loom cannot see are made visible
//! to it under `--cfg hotpool_loom`: std's `Arc` (loom 0.7 has no `Weak`, so the pool uses std's;
//! its final drop's release/acquire is mirrored by `sync::ArcDropSync`); the pool's memory being
//! freed (`ArcDropSync::touch` reads a loom cell that the destruction writes, and the accesses
//! that can race a free call it: the depot lock, the slot lookup, an owned guard's `closing`
//! check), so an access that does not happen before the free fails the model; and globals, which
//! become loom's per-execution `lazy_static`.
//!
//! # Owned guards without a shared count
//!
//! `pool/refs.rs` (the accounting), `pool/owned.rs` (the raw reference), `pool/tally.rs`,
//! `barrier.rs`.
//!
//! An owned guard must keep the pool alive. An `Arc` clone per guard is correct but, in a
//! producer → consumer pipeline, makes both cores write one reference-count line for every
//! object, and that line's traffic dominates a pipeline's time (figures in `benches/README.md`).
//! Instead the guards' references are counted in bulk (deferred reference counting):
//!
//! - `issued` counts references out. While it is above 0, they hold one strong count of the
//!   pool's `Arc` between them. It rises only when a thread takes a batch of 64 and the depot has
//!   none to reuse; it falls only once the last handle is gone.
//! - A thread's `spare_refs` (in its slot) feeds its `get_owned`s: a plain load and store. A
//!   thread out of spares takes a batch from the depot's reserve (`Depot::refs`; if it has none,
//!   from `issued`) under the depot lock; a thread that refills its object cache from the depot
//!   takes a batch of the reserve in the same lock, so a pipeline's producer rarely locks for
//!   references alone.
//! - A guard's drop releases its reference into the dropping thread's tally (`released_refs`,
//!   `pool/tally.rs`), then checks the pool's `closing` flag. Each depot trade moves the
//!   uncollected part of the tally to the depot's reserve, which refills spares: in steady state
//!   `issued` is not touched at all.
//!
//! The invariant: `issued` = Σ spares + the depot's reserve + Σ uncollected tallies + live
//! guards (+ drops that saw `closing` and are about to give their reference back themselves).
//! When the last `Pool` handle drops (a separate handle count, AcqRel), no `get_owned` can run
//! any more, so spares are at rest. Holding the depot lock, it sets `closing`, runs a heavy
//! barrier, takes the reserve, every spare and every uncollected tally, and gives them back to
//! `issued`. What remains is exactly the live guards (and those drops); whoever brings `issued`
//! to 0 releases the strong count (AcqRel, so every guard's use of the pool happens before the
//! release).
//!
//! **The rule that keeps the pool alive: a release is a guard's last access to the pool**, as
//! `Arc`'s `fetch_sub` is. Once a drop's reference is counted anywhere the last handle can
//! collect it, the last handle may find no reference left and free the pool, and nobody waits for
//! the dropping thread. So a drop does everything it needs first, and the store that counts its
//! release is the last thing it does:
//!
//! 1. if its tally is due for a periodic hand-over to the depot (every 1024 releases on a thread
//!    that never trades), it hands over the releases before this one (depot lock);
//! 2. it makes its tally odd (`ReleaseTally::begin`): a release in progress, not yet counted;
//! 3. a light barrier, then it reads `closing`;
//! 4. not closing: it stores the tally + 2 (`complete`), with release, and returns. Closing: it
//!    stores the tally back as it was (`abandon`) and gives its reference back to `issued`
//!    itself, which it may do because the reference is still its own (counted nowhere else);
//!    whoever brings `issued` to 0 frees.
//!
//! "Last access" covers references as well as loads and stores: a reference argument asserts
//! that its memory stays allocated until the call returns (Stacked and Tree Borrows protectors;
//! rust-lang/rust#55005 for `Arc`). So steps 1–3 run in `Refs::begin_release`, which returns a
//! reference to the tally's atomic, and `OwnedRef::drop` makes the store of step 4 itself once
//! every frame that borrowed the pool has returned; the closing path gives back through the
//! `issued` atomic alone, never a `&Refs` (whose padding lies outside every `UnsafeCell`). miri
//! with many seeds checks both (`tests/owned_guard_release_is_last_access.rs`).
//!
//! The last handle reads each tally with `ReleaseTally::settled`, which waits while it is odd
//! (a drop is between 2 and 4, a few instructions with no lock), then collects it. Any other
//! order (a tally write, then the `closing` check) lets the last handle free the pool between
//! the two; the loom models fail on it, because the free is visible to them
//! ([Memory orderings](#memory-orderings)), and so do ThreadSanitizer and AddressSanitizer.
//!
//! Every scan of the slot table (this collection, a thief's steal, `stats()`) is bounded by
//! `used_buckets`, which `alloc_bucket` raises before it publishes the bucket's pointer: a thread
//! that found its slot (through that pointer, with acquire) is inside the bound, so no scan
//! leaves out a slot in use. The other order would let the close miss a slot's references, and
//! a steal a cache (`tests/loom_owned_attack.rs`).
//!
//! Why nothing is lost: steps 2–3 and the last handle's `closing` store, heavy barrier and tally
//! read are Dekker's store-then-load handshake, so at least one side sees the other. If the last
//! handle reads the tally before step 2 is visible, the drop sees `closing` and abandons; if it
//! sees the odd tally, it waits for step 4 and reads whichever store the drop made, which counts
//! the reference exactly when the drop did not give it back itself; if it reads the completed
//! tally, the acquire load sees everything the drop did before. A thief (a bounded pool's first
//! waiter), which collects other threads' tallies while a handle is alive, does not wait: it
//! counts completed releases only (`ReleaseTally::completed`), and an odd one at its next
//! collection.
//!
//! Not a full fence per drop: a locked instruction waits for every store in flight, including
//! the one that just reset the object (whose line the producer's core holds), which serializes
//! the consumer's cache misses (figures in `benches/README.md`). So the barrier is asymmetric
//! (`barrier.rs`): the drop side only stops the compiler from reordering, and the
//! last handle calls Linux's `membarrier(PRIVATE_EXPEDITED)`, which makes every running thread of
//! the process execute a full barrier. Without `membarrier` (other systems, seccomp, valgrind,
//! miri, loom) both sides use `SeqCst` fences: slower, equally correct, and what loom checks. If
//! `membarrier` fails after it was registered, the heavy side switches light barriers to fences
//! for good and covers the ones in flight with an `mprotect` TLB shootdown (`barrier.rs`).
//!
//! Consequences: a pool with owned guards is freed when its last handle and its last guard are
//! gone, but the guards' strong count is released by whichever of them goes last, on any thread,
//! and the last handle's drop costs a system call. loom checks the races: a reference given back
//! on another thread while the last handle drops; a thread exiting with spare references; the
//! pool dropped while guards live on several threads; slot-table growth racing the last handle;
//! cloned handles dropped on two threads.
//!
//! # Bounded pools
//!
//! `pool/limiter.rs` (the rules: places, who gets what comes back, when the caches close: one
//! type, `Limiter`), `pool/places.rs` (the queue and its reused nodes), `pool/lanes.rs` (where
//! tasks wait: one queue per thread), `pool/spare_nodes.rs` (nodes kept per thread),
//! `pool/waiter.rs` (one waiter, its wake-up, blocking and polled
//! waits), `pool/acquire.rs` (where the pool calls them), `pool/waiting.rs` (the futures).
//!
//! `max_live(n)` caps the objects that exist: in use plus idle anywhere, thread caches
//! included. A *place* is the right for one object to exist; the depot counts the places taken
//! (`Places::live`) under its lock. Only paths that create or end an object touch it: creating
//! takes a place, and a discard, a trim, a detach, a refused `put` or a factory panic frees one.
//! A hit reuses an object that already holds its place, so the cap costs the hit path nothing
//! but one flag read (below). A place frees only after its object's `drop` returned, so a
//! waiter's new object never coexists with the old one (the tests count live objects from the
//! objects themselves).
//!
//! **Waiting, with eventual fairness.** At the cap a caller queues a `Waiter` (in the depot).
//! What happens to an object that comes back while callers wait is parking_lot's rule for its
//! locks: it stays idle in the depot and the first waiter is *notified* (woken to come and look,
//! `Limiter::retry`; one notified waiter at a time, so a burst of returns wakes one). A caller
//! that did not queue may take the object first (`Limiter::reserve` takes idle objects before
//! anything else): at the cap that is typically the thread that just gave it back, which keeps
//! working without a context switch, where a strict hand-off makes every acquisition a context
//! switch (a lock convoy: `pool/bounded/hotpool_blocking_strict`). A notified waiter that finds
//! nothing queues again *in its place*. Once the first waiter has waited `fair_after` (0.5 ms by
//! default) it is overdue, and the next object that comes back is handed to it directly
//! (`Served(Object)`), so its wait is bounded by `fair_after` plus one holder's turn. Places that
//! free are always handed over in order (`Served(Place)`, then the waiter runs the factory
//! itself), as are objects entering the depot in bulk (a thief's haul, an exiting thread's
//! cache). What remains of the old promise: waiters are served among themselves in the order
//! they came, and `fair_after(Duration::ZERO)` makes every waiter overdue at once, which is
//! strict first come, first served. Tasks (`get_async`) are never notified: a notified task
//! that finds nothing costs a poll and a wake-up per object, more than the hand-off it saves
//! (benches/README.md, "Design notes and things tried"). Every object a task gets at the cap is
//! handed to it, and they wait in lanes (below) unless `fair_after` is zero. The
//! invariant that keeps waiting live: **while an object is idle in the depot and anyone waits,
//! one waiter is notified** (every path that leaves an idle object behind with the notified
//! waiter gone notifies the next: `retry`, `cancel`, `free`).
//!
//! A waiter wakes up after unlocking: a parked thread (`Thread::unpark`) or a task
//! (`Waker::wake`). Blocking, timed and async waits share the queue. A waiter that gives up
//! (timeout, dropped future) leaves the queue under the lock, or, if it was served meanwhile,
//! passes what it was handed on as if it had used it: an object goes back through the normal
//! return, a place to the next waiter. So a cancelled future never loses a place. Nodes of
//! waits that ended are kept and reused once their waiter dropped its handle (`Arc::get_mut`
//! proves it), and wake-ups are collected inline (`Wakes`): a wait allocates nothing in steady
//! state (`tests/bounded_waits_allocate_nothing.rs`).
//!
//! **Where the nodes are kept.** By the thread that took them out of the queue, first
//! (`pool/spare_nodes.rs`, up to 64 per thread and node type, freed when the thread exits), and
//! in the owner's shared list (`Places::spare`, up to 64) when that thread has no room. A served task is run next where it was woken, so its node
//! ends its life in that thread's cache, and the thread's next wait proves it free without a
//! cache miss. With the shared list alone, that proof missed the cache on every wait, under the
//! depot lock, which the other core then spun on: at the cap the depot lock is the whole cost
//! (in `perf`, 20 % of the time spinning for it and most of the rest in its acquire and release
//! instructions). For the same reason the depot's fields are ordered with `places` first, on the
//! lock's own cache line (`#[repr(C)]`). Together: 64 tokio tasks over 8 objects, 840 → 660 ns
//! per acquisition (`pool/bounded/hotpool`). Filling the node before taking the lock, so that
//! the lock covers only the push, was tried and measured no faster.
//!
//! **Tasks wait in lanes** (`pool/lanes.rs`). With every acquisition at the cap a hand-off, one
//! queue under the depot lock makes both cores take that lock twice per acquisition, and its
//! line, the queue's and the nodes' move between them each time: in a model of the bench (64
//! tokio tasks on 2 workers over 8 objects) that cost a strict pool 380–470 ns per acquisition
//! against 210–250 ns for one wake-up per acquisition and nothing else. So each thread has a
//! lane (8 per pool, a thread's chosen by a per-thread seed), a queue under a lock of its own: a
//! task that finds nothing queues in the lane of the thread polling it, and a return hands its
//! object to the first task of its own thread's lane. An executor runs a task it was woken from
//! on the thread that woke it, so in steady state a lane's lock, its queue and its nodes stay in
//! one core's cache, and the depot lock is not taken at all: the model ran at 220–240 ns, and
//! `pool/bounded/hotpool` went from 680–710 to 320–330 ns.
//!
//! *Order.* First come, first served within a lane. A lane serves at most `STREAK` (16) returns
//! in a row; the next one, and every return on a thread whose lane is empty, goes through the
//! depot, which serves the lanes in turn (round robin). So a task first in its lane is served
//! within `(STREAK + 1) × 8` = 136 returns while objects come back, whichever threads return
//! them. Threads blocked in `get` wait in the depot's queue under the rules above; a task that
//! comes while one waits there queues behind it, in that queue (the lanes' flag, below, stays
//! set while it is not empty), and tasks already in lanes are served by their lanes' returns
//! meanwhile. Places that free and objects kept idle go to the depot's queue first, then to the
//! lanes, except that one in 9 of the returns that reach the depot while both wait
//! goes to the lanes (`Lanes::lanes_turn`): blocked threads that keep coming back would
//! otherwise keep the depot's queue from ever emptying, and a task in the lane of a thread that
//! returns nothing would wait as long as they do (the lanes attack found it: 10,003 returns).
//! While threads wait, a task first in its lane is served within 72 returns that reach the
//! depot, and at least one in 17 does: within 1,224 returns. (16 rather than 8 returns in a
//! row: each return through the depot takes its lock, and `pool/bounded/hotpool` ran at 297–316
//! ns per acquisition with 16 against 340–360 with 8.) `fair_after(Duration::ZERO)` has no lanes: one queue, strict for all.
//!
//! *Nobody waits beside an idle object.* A task queues in its lane without the depot lock only
//! while `depot_may_serve` is clear. It is cleared under the depot lock by a caller that found
//! nothing there (no idle object, no free place, the caches closed, nobody in the depot's
//! queue), and set under the lock by everything that may change that: an object kept idle
//! (`keep_in_depot`, `stock`), places freed (`free_places`), a waiter leaving the depot's queue
//! (`retry_locked`, `cancel_locked`), a thread queueing there, the caches reopening. Setting it
//! is Dekker's handshake with the task: the task pushes itself and raises its lane's length,
//! fences (`SeqCst`) and reads the flag; the setter stores the flag, fences and reads the lanes'
//! lengths. Either the task sees the flag, leaves its lane and looks in the depot under the
//! lock, or the setter sees the task and serves it (`offer_to_lanes`), with what the depot has,
//! in the same critical section. A task that leaves its lane after being served meanwhile takes
//! what it was handed. The caches reopen only if, after setting the flag, no lane holds a task;
//! and the hold before they reopen starts again while tasks wait in lanes.
//!
//! *Counting and nodes.* A hand-off in a lane is counted in the lane (`returned`, then the
//! `reused` of the `get` it serves: the in-use balance does not move), and `stats` sums the
//! lanes as it sums threads. A lane keeps the nodes its serving threads had no room for, for
//! later waits in it, as the depot's queue does (`spare_nodes::reuse_shared`).
//!
//! **Closed caches.** Thread caches are private to their threads, and a thread that returned an
//! object and then sits idle would strand it. So a bounded pool's caches *close* while anyone
//! waits: the first waiter that finds them open sets `caches_closed`, runs the heavy barrier,
//! and moves every cache's objects to the queue and the depot (`ThreadSlots::steal_cached`).
//! While the flag is set, every hit path takes the slow path, which goes to the depot, so
//! caches stay empty. They reopen only once the queue has stayed empty for `fair_after` (at most
//! 1 ms; `Limiter::reopen_if_due`, checked by the slow paths under the lock): a pool that keeps
//! reaching its cap keeps them closed, and pays neither the barrier nor a steal per wait; a pool
//! that left its cap behind gets its hit path back. Reopening needs no barrier, only a release
//! store that publishes what the thief did to the caches: a hit path that still sees the flag set
//! only takes the slow path once more.
//!
//! The thief and the owners' hit paths meet in Dekker's handshake again, with the same asymmetric
//! barrier as owned guards: the owner stores `busy = true` in its slot, runs the light barrier
//! (a compiler fence with `membarrier`), and reads `caches_closed`; the thief stores
//! `caches_closed = true`, runs the heavy barrier and reads each slot's `busy`, waiting while it
//! is set (the owner is inside a few pointer moves). Either the owner sees the flag and stays
//! out, or the thief sees `busy` and waits for the owner's release store of `false`, which
//! publishes the owner's cache writes. Slow paths are excluded differently: they open the cache
//! only under the depot lock, which the thief holds, and only after reading the flag there.
//! Clearing the flag is a release store and the owner's read an acquire: with a relaxed pair an
//! owner could open its cache without seeing the thief's writes (loom finds it). Unbounded pools
//! never steal and keep the unannounced door (checked in debug builds).
//!
//! The cost: below the cap, two stores and a load on the slot's own line per cache access
//! (`pool/single/hotpool_max_live` against `hotpool` in `benches/pool.rs`); at the cap, one
//! `membarrier` each time the caches close, under the depot lock, and every get and return
//! through the depot lock while they are closed. What a pool without `max_live` pays: one
//! well-predicted branch on the pool's `limiter` on each side of the hit path, and every slow
//! path taking the depot lock before it opens its cache (they all took it anyway).
//!
//! Time under loom: loom explores interleavings, not durations, so `sync::now` stands still
//! there: with the default `fair_after` a thread waiter is never overdue and closed caches never
//! reopen by time, and models of the strict paths build with `fair_after(Duration::ZERO)`.
//!
//! loom checks (`tests/loom_bounded.rs`): a return racing a waiter's registration (a lost wake-up
//! would deadlock the model), a hit path racing a thief, a future cancelled while being handed an
//! object, a cancel racing a return, a timeout racing a return (loom has no timed park; there a
//! deadline means "the timeout fires now"), a thread exiting with waiters, a discard freeing
//! a place for a waiter, and for eventual fairness: a notified waiter racing a caller that did
//! not wait, a notified waiter that times out passing the notice on, and a return while the
//! caches stay closed with nobody waiting. `tests/bounded_props.rs` runs random async sequences
//! against a model.
//!
//! # Byte budgets
//!
//! `buffer/budget.rs`, `buffer/waiting.rs`, on `pool/limiter.rs`.
//!
//! `BufferPool`'s `max_live_bytes` is the same limiter counted in bytes: a place is a byte, a
//! buffer takes its capacity's worth when handed out (its class size, or the request above the
//! largest class: known before the buffer is taken) and gives it back when its guard drops or
//! detaches (`ClassRef` remembers the charge; 0 without a budget, so an unbudgeted pool's return
//! pays one predictable branch). The buffer goes back to its class before its bytes are freed, so
//! a waiter woken by them finds it idle. A `BufferPool` has no depot of its own (each class is a
//! pool), so the budget keeps the limiter's `Places` under a mutex of its own, and only budgeted
//! acquisitions take it.
//!
//! Waiters carry their need: `Places::free` serves the queue in order while the first waiter's
//! whole need fits, and a waiter never overtakes an earlier one, so a large request at the head
//! holds back smaller ones behind it until it fits (no starvation; the cost is head-of-line
//! blocking, as in tokio's `batch_semaphore`). A waiter that leaves the queue (timeout, dropped
//! future) may unblock the ones behind it, so `cancel` serves the queue too. A request over the
//! whole budget could never be served: it is refused before it queues. Unlike a `Pool`'s limiter,
//! a budget never sets the `waiting` flag nor steals: idle buffers do not count against it. The
//! blocking and polled waits (`block_until_served`, `poll_served`) are the limiter's, shared with
//! `Pool`'s bounded waits.
//!
//! Requests above the largest class are fallible allocations (`try_reserve_exact`), and
//! `max_request` refuses larger ones before anything is allocated: a length read off the wire
//! never aborts the process. Requests within the classes allocate at most `max_size` bytes with
//! the class factory and follow the global allocator's out-of-memory handling.
//!
//! # Trimming
//!
//! `pool/magazines.rs`, `pool/mod.rs`.
//!
//! `trim()` empties the depot and the calling thread's cache. `trim_unused()` uses the depot's
//! low-water mark (the fewest objects it held since the previous call, as in jemalloc's decay and
//! Go's victim cache): that many objects were never needed during the period, so they are dropped,
//! oldest first. Other threads' caches are never touched from outside; they are bounded by
//! `thread_cache` and drain when their thread exits.
//!
//! # Memory report
//!
//! `report.rs`, `report/`, `pool/report.rs`.
//!
//! A global registry (`report/registry.rs`, behind `sync::global!` and the crate's `Mutex`) holds
//! one entry per `Pool`: its name, element type, prefill count and a `Weak<dyn Reported>` to its
//! shared state. `Reported` is the whole contract a pool kind fulfils to appear: a snapshot
//! (stats, objects lent so far, idle bytes it could measure), `trim`, `trim_unused`, and the
//! loom hook `before_release`. `Pool` implements it on `Inner` and registers in
//! `Pool::from_builder` (called by `build()`), after the prefill; nothing on `get` or return changes, so the hit path is the same instruction for
//! instruction (`benches/report.rs` compares a registered and an unregistered pool).
//!
//! - **Weak, pruned**: the registry never keeps a pool alive. A report or trim prunes dead
//!   entries, upgrades the live ones under the lock, and releases the lock before reading or
//!   trimming them, so no user code (`T::drop` in a trim, a pool's teardown when the report held
//!   the last reference) runs under it. Registrations prune too, once the list doubled since the
//!   last prune, so pools built and dropped without any report keep it within twice the live
//!   ones.
//! - **Idle bytes**: measured through `Recycler::retained_bytes_of` on the idle objects the
//!   reporting thread can reach: the depot's (under its lock) and its own cache's (under its slot
//!   borrow), at most 1024. Other threads' caches belong to them; their objects are estimated at
//!   the measured average. This is the one place the crate runs a user method (`retained_bytes`)
//!   under a lock: it is a getter, documented as such, and a panic in it leaves the depot as it
//!   was (nothing is modified while measuring).
//! - **Names**: an unnamed pool's name is its element type without module paths (`String`), the
//!   same string the table shows and `MemoryReport::pool` matches; `element_type` keeps the path.
//! - **Leak hints without tracking**: counters only, no per-object state, two numbers per pool.
//!   `held` is the lower of the in-use counts at the previous report and now: it does not move
//!   while the same objects stay out and others come and go, and every object out the whole time
//!   is counted in it. `LEAK?` is the proven part: objects in use now were lent either since the
//!   previous report or before it, so `in_use − lent since then` of them have been out the whole
//!   time. No counter-only number can be both: holding 10 while 5 others are lent and returned,
//!   and swapping 5 of the 10 for new ones, leave the same counters, so a lower bound must read 5
//!   in both and a stable number 10 in both. The bound can miss a leak hidden by lends in
//!   between, never report one that is not there; `held` counts it (as exactly as the two
//!   in-use snapshots are).
//! - **Races**: registration against reports and trims, and a report holding the last reference
//!   while the pool's last handle drops, are modelled in `tests/loom_report.rs`. std's `Weak`
//!   is invisible to loom, so the models give the upgrade loom-visible neighbours (the registry
//!   and depot locks) and check that both outcomes of each race were explored.
