//! A panic in `T::drop` where the pool runs it from a thread-local destructor (a thread's exit
//! flush, or a pool whose last handle goes with a thread-local) must not abort the process, and
//! every object must still be dropped exactly once.
//!
//! An abort cannot be caught in-process, so each scenario runs in a child process: this test
//! binary started again with `HOTPOOL_SCENARIO` set, and the parent checks how it exited.

use std::cell::RefCell;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use hotpool::{Pool, Recycle};

const SCENARIO: &str = "HOTPOOL_SCENARIO";

/// Counts its drops, and panics when dropped if it was made to.
struct Bomb {
    id: usize,
    panics: bool,
    drops: Arc<AtomicUsize>,
}

impl Recycle for Bomb {
    fn reset(&mut self) {}
    fn retained_bytes(&self) -> usize {
        0
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        if self.panics {
            panic!("Bomb {} dropped", self.id);
        }
    }
}

/// A pool of bombs numbered from 0 in order of creation; those `panics` picks panic.
fn bomb_pool(
    max_idle: usize,
    thread_cache: usize,
    panics: fn(usize) -> bool,
) -> (Pool<Bomb>, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let made = AtomicUsize::new(0);
    let d = Arc::clone(&drops);
    let pool = Pool::builder(move || {
        let id = made.fetch_add(1, SeqCst);
        Bomb {
            id,
            panics: panics(id),
            drops: Arc::clone(&d),
        }
    })
    .max_idle(max_idle)
    .thread_cache(thread_cache)
    .build()
    .unwrap();
    (pool, drops)
}

/// The reproducer from the reliability review: four objects cached by a thread whose exit flush
/// finds room for one in the depot (object 0); two of the other three panic when dropped (a
/// second panic while the first unwinds would abort too).
fn exit_flush_overflow() {
    let (pool, drops) = bomb_pool(1, 4, |id| id % 2 == 1);
    let handle = pool.clone();
    // `join` (unlike the end of `thread::scope`) returns after the thread's thread-locals are
    // destroyed, so its exit flush has run.
    std::thread::spawn(move || {
        let held: Vec<_> = (0..4).map(|_| handle.get()).collect();
        drop(held); // all four go to this thread's cache
    })
    .join()
    .unwrap();
    let stats = pool.stats();
    assert_eq!(
        (stats.created, stats.idle, stats.discarded),
        (4, 1, 3),
        "{stats:?}"
    );
    assert_eq!(
        drops.load(SeqCst),
        3,
        "the overflow is dropped at the exit flush"
    );
    drop(pool);
    assert_eq!(
        drops.load(SeqCst),
        4,
        "the depot's object goes with the pool"
    );
}

thread_local! {
    static HELD: RefCell<Option<Pool<Bomb>>> = const { RefCell::new(None) };
}

/// The pool's last handle lives in a thread-local: the pool, with a panicking object idle in
/// it, is dropped by that thread-local's destructor.
fn last_handle_in_thread_local() {
    let (pool, drops) = bomb_pool(8, 4, |id| id == 0);
    let handle = pool.clone();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let held: Vec<_> = (0..3).map(|_| handle.get()).collect();
        drop(held);
        HELD.with(|h| *h.borrow_mut() = Some(handle));
        wait.recv().unwrap(); // until this thread's handle is the last
    });
    drop(pool);
    go.send(()).unwrap();
    worker.join().unwrap();
    assert_eq!(
        drops.load(SeqCst),
        3,
        "dropped with the pool, from the thread-local's destructor"
    );
}

#[test]
#[cfg_attr(miri, ignore = "miri cannot start a child process")]
fn child_process_scenarios() {
    if let Ok(name) = std::env::var(SCENARIO) {
        match name.as_str() {
            "exit_flush_overflow" => exit_flush_overflow(),
            "last_handle_in_thread_local" => last_handle_in_thread_local(),
            other => panic!("unknown scenario {other}"),
        }
        println!("scenario {name} done");
        return;
    }
    for name in ["exit_flush_overflow", "last_handle_in_thread_local"] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "child_process_scenarios",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SCENARIO, name)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains(&format!("scenario {name} done")),
            "{name}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        // The panic was reported by the panic hook, not swallowed silently.
        assert!(stderr.contains(" dropped"), "{name}: stderr:\n{stderr}");
    }
}
