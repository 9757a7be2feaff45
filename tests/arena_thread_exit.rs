//! Arenas at thread exit: scopes that end in thread-local destructors, after the thread's arenas
//! were freed, and `configure` called from there. A panic escaping a thread-local destructor
//! aborts the process, so the panicking cases run in a child process (`support::child`) whose
//! exit status and stderr are checked.

mod support;

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use hotpool::arena::{self, ArenaConfig, Scope};
use hotpool::ConfigError;
use support::child::{run_in_child, stderr};

/// Counts its drops in a static (a thread-local `Scope<'static>` can hold only `'static`
/// values); panics in `drop` if `panics`.
struct Counted {
    drops: &'static AtomicUsize,
    panics: bool,
}

const DROP_PANIC: &str = "Counted::drop panicked on purpose";

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("{DROP_PANIC}");
        }
    }
}

thread_local! {
    /// A scope kept across calls, as a long-lived per-thread arena user would.
    static KEPT: RefCell<Option<Scope<'static>>> = const { RefCell::new(None) };
}

/// On a new thread: touches `KEPT` first (so it is destroyed after the thread's arenas), then
/// keeps a scope in it holding three values, the middle one panicking when dropped.
fn exit_with_a_kept_scope(drops: &'static AtomicUsize) {
    std::thread::spawn(move || {
        KEPT.with(|kept| {
            let scope = arena::enter();
            for panics in [false, true, false] {
                scope.alloc(Counted { drops, panics });
            }
            *kept.borrow_mut() = Some(scope);
        });
    })
    .join()
    .expect("the thread's own code did not panic");
}

#[test]
#[cfg_attr(miri, ignore = "miri cannot run a child process")]
fn a_panicking_arena_destructor_at_thread_exit_does_not_abort() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let name = "a_panicking_arena_destructor_at_thread_exit_does_not_abort";
    let Some(output) = run_in_child(name, || {
        exit_with_a_kept_scope(&DROPS);
        // Every value was dropped, the panicking one included, exactly once.
        assert_eq!(DROPS.load(Ordering::SeqCst), 3);
        println!("child: all 3 values dropped");
    }) else {
        return;
    };
    let err = stderr(&output);
    assert!(
        output.status.success(),
        "child failed ({}): {err}",
        output.status
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("child: all 3 values dropped"),
        "the child's checks ran"
    );
    // The panic went to the panic hook, which reported it, and no further.
    assert!(err.contains(DROP_PANIC), "the hook reported it: {err}");
    assert!(!err.contains("thread local panicked on drop"), "{err}");
}

#[test]
fn a_kept_scope_ending_at_thread_exit_drops_its_values_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    std::thread::spawn(|| {
        KEPT.with(|kept| {
            let scope = arena::enter();
            scope.alloc(Counted {
                drops: &DROPS,
                panics: false,
            });
            scope.alloc_slice_fill_iter((0..4).map(|_| Counted {
                drops: &DROPS,
                panics: false,
            }));
            *kept.borrow_mut() = Some(scope);
        });
    })
    .join()
    .unwrap();
    assert_eq!(DROPS.load(Ordering::SeqCst), 5);
}

/// Calls `arena::configure` when dropped, recording what it returned.
struct ConfigureOnDrop(&'static Mutex<Vec<Result<ArenaConfig, ConfigError>>>);

impl Drop for ConfigureOnDrop {
    fn drop(&mut self) {
        let config = ArenaConfig {
            max_idle_arenas: 1,
            ..ArenaConfig::default()
        };
        let result = arena::configure(config);
        // Scopes still work after the arenas are gone: cold, unpooled.
        let sum = arena::scope(|s| s.alloc_slice_copy(&[1u32, 2, 3]).iter().sum::<u32>());
        assert_eq!(sum, 6);
        self.0.lock().unwrap().push(result);
    }
}

#[test]
fn configure_after_the_threads_arenas_are_freed_is_an_error() {
    static RESULTS: Mutex<Vec<Result<ArenaConfig, ConfigError>>> = Mutex::new(Vec::new());
    thread_local! {
        static ON_EXIT: ConfigureOnDrop = const { ConfigureOnDrop(&RESULTS) };
    }
    std::thread::spawn(|| {
        ON_EXIT.with(|_| {}); // registered before the arenas: destroyed after them
        arena::scope(|s| {
            s.alloc(1u8);
        });
    })
    .join()
    .unwrap();
    let results = RESULTS.lock().unwrap();
    assert_eq!(*results, [Err(ConfigError::ThreadExiting)]);
    let message = results[0].as_ref().unwrap_err().to_string();
    assert_eq!(
        message,
        "arena settings not applied: arena::configure was called while the thread is exiting, \
         after its arenas were freed"
    );
}

#[test]
fn configure_from_a_destructor_before_the_arenas_are_freed_applies() {
    static RESULTS: Mutex<Vec<Result<ArenaConfig, ConfigError>>> = Mutex::new(Vec::new());
    thread_local! {
        static ON_EXIT: ConfigureOnDrop = const { ConfigureOnDrop(&RESULTS) };
    }
    std::thread::spawn(|| {
        arena::scope(|_| {}); // the arenas first: destroyed after `ON_EXIT`
        ON_EXIT.with(|_| {});
    })
    .join()
    .unwrap();
    assert_eq!(*RESULTS.lock().unwrap(), [Ok(ArenaConfig::default())]);
}

#[test]
fn bad_settings_are_reported_before_the_thread_state_is_looked_at() {
    static RESULTS: Mutex<Vec<ConfigError>> = Mutex::new(Vec::new());
    struct BadConfigureOnDrop;
    impl Drop for BadConfigureOnDrop {
        fn drop(&mut self) {
            let bad = ArenaConfig {
                allocation_limit: Some(0),
                ..ArenaConfig::default()
            };
            RESULTS
                .lock()
                .unwrap()
                .push(arena::configure(bad).unwrap_err());
        }
    }
    thread_local! {
        static ON_EXIT: BadConfigureOnDrop = const { BadConfigureOnDrop };
    }
    std::thread::spawn(|| {
        ON_EXIT.with(|_| {});
        arena::scope(|_| {});
    })
    .join()
    .unwrap();
    assert_eq!(
        *RESULTS.lock().unwrap(),
        [ConfigError::Zero {
            setting: "allocation_limit"
        }]
    );
}
