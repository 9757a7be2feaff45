//! `arena::configure_default`: the settings new threads start with. One test in its own binary,
//! because the default is process-wide and the harness runs tests on parallel threads.

use hotpool::arena::{self, ArenaConfig};
use hotpool::ConfigError;

/// The calling thread's settings and what nesting three scopes deep did to its arenas.
fn nest_three_deep() -> (ArenaConfig, u64) {
    arena::scope(|_| arena::scope(|_| arena::scope(|_| {})));
    (arena::config(), arena::stats().dropped_surplus)
}

#[test]
fn new_threads_start_with_the_default_and_old_threads_keep_their_settings() {
    // This thread has arena state before the default changes (it used an arena; reading its
    // settings alone would not create any): it keeps the built-in settings.
    arena::scope(|_| {});
    assert_eq!(arena::config(), ArenaConfig::default());
    let before = std::thread::spawn(nest_three_deep).join().unwrap();
    assert_eq!(before, (ArenaConfig::default(), 0));

    // Bad settings are refused, naming the field, and change nothing.
    let bad = [
        (
            ArenaConfig {
                allocation_limit: Some(0),
                ..ArenaConfig::default()
            },
            ConfigError::Zero {
                setting: "allocation_limit",
            },
        ),
        (
            ArenaConfig {
                max_idle_arenas: arena::MAX_IDLE_ARENAS + 1,
                ..ArenaConfig::default()
            },
            ConfigError::TooLarge {
                setting: "max_idle_arenas",
                value: arena::MAX_IDLE_ARENAS + 1,
                max: arena::MAX_IDLE_ARENAS,
            },
        ),
    ];
    for (config, expected) in bad {
        assert_eq!(arena::configure_default(config), Err(expected));
        assert_eq!(arena::default_config(), ArenaConfig::default());
    }

    let shallow = ArenaConfig {
        max_idle_arenas: 1,
        ..ArenaConfig::default()
    };
    assert_eq!(
        arena::configure_default(shallow),
        Ok(ArenaConfig::default())
    );
    assert_eq!(arena::default_config(), shallow);

    // A thread spawned now starts with it: of three nested arenas, it keeps one.
    let spawned = std::thread::spawn(nest_three_deep).join().unwrap();
    assert_eq!(spawned, (shallow, 2));

    // So do the workers of a rayon pool built now. (Not under miri: crossbeam-epoch, under
    // rayon, trips stacked borrows in its own code; the spawned thread above covers ours.)
    if !cfg!(miri) {
        let workers = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let seen = workers.broadcast(|_| nest_three_deep());
        assert_eq!(seen, vec![(shallow, 2); 2]);
    }

    // This thread keeps its own settings, and `configure` still changes only its own.
    assert_eq!(nest_three_deep(), (ArenaConfig::default(), 0));
    let deep = ArenaConfig {
        max_idle_arenas: 5,
        ..ArenaConfig::default()
    };
    assert_eq!(arena::configure(deep), Ok(ArenaConfig::default()));
    assert_eq!(arena::default_config(), shallow);
    assert_eq!(std::thread::spawn(arena::config).join().unwrap(), shallow);

    // The old default comes back the same way.
    assert_eq!(
        arena::configure_default(ArenaConfig::default()),
        Ok(shallow)
    );
    assert_eq!(
        std::thread::spawn(arena::config).join().unwrap(),
        ArenaConfig::default()
    );
}
