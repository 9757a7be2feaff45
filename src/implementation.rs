//! How hotpool works inside: the tiers, the invariants, and why the memory orderings are enough.
//!
//! This module holds documentation only. Read it before changing `src/pool` or `src/local`.
//!
//! # Objects stay in place
//!
//! Every pooled object lives in its own `Box<T>` from the moment the factory makes it until it is
//! dropped. Guards, thread caches and the depot hold `Box<T>` pointers, so handing an object out or
//! taking it back moves 8 bytes whatever `size_of::<T>()` is. (Measured on the 2-core CI machine:
//! popping and pushing a 24-byte `Vec<u8>` through a `Vec<Vec<u8>>` costs about 8 ns, a pointer
//! about 1 ns; a 1 KiB struct would cost a 1 KiB memcpy each way.)
//!
//! # `LocalPool`
//!
//! A `Vec<Box<T>>` used as a LIFO stack (the most recently returned object is the most likely to
//! be in cache) behind an `UnsafeCell` without a borrow flag (`local/stack.rs`): nothing that runs
//! while it is borrowed can reach user code, because the factory, the recycle policy and
//! `T::drop` always run outside it and growth allocates before the borrow. A hit moves one
//! counter: in-use is derived as `live - idle`, and the peak from the idle stack's low-water mark
//! between changes of the live population (`local/counters.rs`). A guard holds a `ManuallyDrop<Box<T>>` and `&LocalPool` (or an
//! `Rc`); its `Drop` takes the box out exactly once, and `detach` consumes the guard without
//! running `Drop` (`src/guard.rs`). An `Option` would cost a store and a branch per operation:
//! measurable when the whole round trip is about 2 ns.
//!
//! # `Pool`: three tiers
//!
//! 1. **Thread cache** (`pool/cache.rs`, `pool/slots.rs`): each thread that uses the pool owns a
//!    slot holding a `Vec<Box<T>>` of at most `thread_cache` objects. Slots live in a table indexed
//!    by a small thread id (`pool/thread.rs`): bucket `b` holds `2^b` slots, allocated on first use
//!    and published with a release CAS, never moved or freed before the pool. A hit reads the
//!    thread-local id, loads one bucket pointer (acquire, a plain load on x86-64), checks the slot's
//!    re-entrancy flag and pops or pushes: no lock, no read-modify-write. Slots are aligned to
//!    128 bytes: neighbouring threads' slots sharing a cache line made `pool/threads/2` three
//!    times slower per operation than one thread.
//! 2. **Depot** (`pool/depot.rs`): a `Mutex` around a stack of *magazines* (`Vec<Box<T>>`), as in
//!    Bonwick's magazine allocator. A thread whose cache is empty takes a whole magazine; one whose
//!    cache is full moves half of it out as a magazine. Half, not all: after a trade the thread has
//!    room (or objects) for half a cache of hits, so an alternating get/put at the boundary cannot
//!    make every operation lock. Empty magazine buffers are swapped back, so trading allocates
//!    nothing in steady state. Only pointer moves happen under the lock.
//! 3. **Factory**, outside every lock and borrow.
//!
//! A guard returns its object to the cache of the thread that drops it. In a producer → consumer
//! pipeline the consumer's full magazines flow to the depot and the producer takes them from
//! there: one lock per half-cache of objects in each direction.
//!
//! # Invariants
//!
//! - **Every object is owned by exactly one place**: a guard, a thread cache, a depot magazine, or
//!   a local variable on its way between them. Moves are `Box` moves, so the compiler enforces it;
//!   `unsafe` only gives a thread `&mut` to its own slot.
//! - **A slot's cache is touched only by its owner**: `Slot::with_cache` takes a `&ThreadHandle`,
//!   which only the owning thread can have (it is `!Send + !Sync` and lives in a thread-local),
//!   and refuses a re-entrant call (the `busy` flag) instead of aliasing. The pool's `Drop` reaches
//!   every slot through `&mut`.
//! - **No user code under a lock or a slot borrow**: factories, recycle policies and `T::drop` run
//!   after the depot lock is released and outside `with_cache`, so they may use the pool, and a
//!   panic in them cannot leave a half-updated structure (hence the depot `Mutex` ignores
//!   poisoning).
//! - **Bounded idle memory**: the depot never holds more than `max_idle`; a thread cache never
//!   more than `thread_cache`. When a thread exits, its thread-local `ThreadHandle` runs the exit
//!   hook of every pool it used (registered as `Weak`, so a thread never keeps a pool alive): the
//!   cache moves to the depot as one magazine, what does not fit is dropped, and only then is the
//!   thread id released for reuse.
//! - **Counters are exact at rest**: each slot has its own counters, written only by its thread
//!   with a relaxed load + store (no locked instruction); the depot's are written under its lock.
//!   `stats()` sums them. In-use is one wrapping *balance* counter per writer (+1 per lend, −1 per
//!   return), so a reader never sees a lend without the return that preceded it on that thread.
//!
//! # Memory orderings
//!
//! - Bucket pointers: published with a release CAS after the slots are initialised, read with
//!   acquire, so a thread that finds a bucket sees initialised slots. `used_buckets` is raised with
//!   release after publication, so a `stats()` scan that reads it with acquire sees the buckets.
//! - Slot caches: accessed by one thread at a time. The hand-over from an exiting thread to the
//!   next thread that gets its id goes through the id allocator's `Mutex` (released after the exit
//!   flush), and the hand-over to the pool's `Drop` through the `Arc`'s final decrement.
//! - Counters: relaxed. They carry no data other threads depend on; `stats()` is a snapshot.
//! - Depot: everything under its `Mutex`.
//!
//! loom checks these paths (`tests/loom_pool.rs`). Two things loom cannot see are made visible to
//! it under `--cfg loom`: std's `Arc` (loom 0.7 has no `Weak`, so the pool uses std's; its final
//! drop's release/acquire is mirrored by `sync::ArcDropSync`), and globals, which become loom's
//! per-execution `lazy_static`.
//!
//! # Trimming
//!
//! `trim()` empties the depot and the calling thread's cache. `trim_unused()` uses the depot's
//! low-water mark (the fewest objects it held since the previous call, as in jemalloc's decay and
//! Go's victim cache): that many objects were never needed during the period, so they are dropped,
//! oldest first. Other threads' caches are never touched from outside; they are bounded by
//! `thread_cache` and drain when their thread exits.
