//! Every builder error, of `LocalPool` and `Pool`: the exact `ConfigError` value and its exact
//! message.

use std::error::Error;

use hotpool::builder::{DEFAULT_MAX_IDLE, MAX_THREAD_CACHE};
use hotpool::{ConfigError, LocalPool, Pool};

/// Checks that `result` failed with exactly `expected`, displayed as exactly `message`.
fn assert_config_error<T>(result: Result<T, ConfigError>, expected: &ConfigError, message: &str) {
    let Err(err) = result else {
        panic!("expected {expected:?}, but the build succeeded");
    };
    assert_eq!(&err, expected);
    assert_eq!(err.to_string(), message);
    assert!(err.source().is_none());
}

/// Builds a `LocalPool` and a `Pool` with the same `max_idle` (the default if `None`) and
/// `prefill`, from a factory that must never run if the configuration is refused.
fn build_both(max_idle: Option<usize>, prefill: usize) -> [Result<usize, ConfigError>; 2] {
    let max_idle = max_idle.unwrap_or(DEFAULT_MAX_IDLE);
    let local = LocalPool::builder(String::new)
        .max_idle(max_idle)
        .prefill(prefill)
        .build()
        .map(|pool| pool.stats().idle);
    let shared = Pool::builder(String::new)
        .max_idle(max_idle)
        .prefill(prefill)
        .build()
        .map(|pool| pool.stats().idle);
    [local, shared]
}

const MAX_IDLE_ZERO: &str = "invalid configuration: max_idle = 0, but it must be at least 1";

#[test]
fn max_idle_zero_even_with_prefill() {
    let expected = ConfigError::Zero {
        setting: "max_idle",
    };
    // With a prefill too, zero is what is reported: it is checked first.
    for prefill in [0, 3] {
        for result in build_both(Some(0), prefill) {
            assert_config_error(result, &expected, MAX_IDLE_ZERO);
        }
    }
}

#[test]
fn prefill_above_max_idle() {
    let expected = ConfigError::Exceeds {
        setting: "prefill",
        value: 5,
        limit_setting: "max_idle",
        limit: 4,
    };
    for result in build_both(Some(4), 5) {
        let message = "invalid configuration: prefill = 5 exceeds max_idle = 4";
        assert_config_error(result, &expected, message);
    }
}

#[test]
fn prefill_above_the_default_max_idle() {
    let expected = ConfigError::Exceeds {
        setting: "prefill",
        value: DEFAULT_MAX_IDLE + 1,
        limit_setting: "max_idle",
        limit: DEFAULT_MAX_IDLE,
    };
    for result in build_both(None, DEFAULT_MAX_IDLE + 1) {
        let message = "invalid configuration: prefill = 1025 exceeds max_idle = 1024";
        assert_config_error(result, &expected, message);
    }
}

#[test]
fn limits_that_are_accepted() {
    for (max_idle, prefill) in [(1, 0), (1, 1), (3, 0), (3, 3)] {
        for result in build_both(Some(max_idle), prefill) {
            assert_eq!(
                result,
                Ok(prefill),
                "max_idle {max_idle}, prefill {prefill}"
            );
        }
    }
}

#[test]
fn thread_cache_above_the_maximum() {
    let result = Pool::builder(String::new)
        .thread_cache(MAX_THREAD_CACHE + 1)
        .build();
    let expected = ConfigError::TooLarge {
        setting: "thread_cache",
        value: MAX_THREAD_CACHE + 1,
        max: MAX_THREAD_CACHE,
    };
    assert_eq!(MAX_THREAD_CACHE, 65536);
    let message = "invalid configuration: thread_cache = 65537 is above the maximum of 65536";
    assert_config_error(result, &expected, message);

    let result = Pool::builder(String::new).thread_cache(usize::MAX).build();
    let expected = ConfigError::TooLarge {
        setting: "thread_cache",
        value: usize::MAX,
        max: MAX_THREAD_CACHE,
    };
    let message = format!(
        "invalid configuration: thread_cache = {} is above the maximum of 65536",
        usize::MAX
    );
    assert_config_error(result, &expected, &message);
}

#[test]
fn max_idle_zero_is_reported_before_thread_cache() {
    let result = Pool::builder(String::new)
        .max_idle(0)
        .thread_cache(MAX_THREAD_CACHE + 1)
        .build();
    let expected = ConfigError::Zero {
        setting: "max_idle",
    };
    assert_config_error(result, &expected, MAX_IDLE_ZERO);
}

#[test]
fn thread_cache_limits_that_are_accepted() {
    for size in [0, 1, MAX_THREAD_CACHE] {
        let pool = Pool::builder(String::new).thread_cache(size).build();
        assert!(pool.is_ok(), "thread_cache {size}");
    }
}

#[test]
fn a_factory_never_runs_when_the_config_is_bad() {
    let never = || -> String { unreachable!("factory ran") };
    let local = LocalPool::builder(never).max_idle(1).prefill(2).build();
    let shared = Pool::builder(never).max_idle(1).prefill(2).build();
    assert!(local.is_err() && shared.is_err());
}

#[test]
fn config_error_is_a_std_error_that_can_be_boxed() {
    let err: Box<dyn Error + Send + Sync> = Box::new(ConfigError::Zero {
        setting: "max_idle",
    });
    assert_eq!(err.to_string(), MAX_IDLE_ZERO);
}

#[test]
fn max_live_zero() {
    // Zero is reported first, whatever the prefill; the factory never runs.
    for prefill in [0, 3] {
        let result = Pool::builder(|| -> String { unreachable!("factory ran") })
            .max_live(0)
            .prefill(prefill)
            .build();
        let expected = ConfigError::Zero {
            setting: "max_live",
        };
        let message = "invalid configuration: max_live = 0, but it must be at least 1";
        assert_config_error(result, &expected, message);
    }
}

#[test]
fn prefill_above_max_live() {
    let result = Pool::builder(|| -> String { unreachable!("factory ran") })
        .max_live(4)
        .prefill(5)
        .build();
    let expected = ConfigError::Exceeds {
        setting: "prefill",
        value: 5,
        limit_setting: "max_live",
        limit: 4,
    };
    let message = "invalid configuration: prefill = 5 exceeds max_live = 4";
    assert_config_error(result, &expected, message);
}

#[test]
fn max_live_limits_that_are_accepted() {
    for (max_live, prefill) in [(1, 0), (1, 1), (4, 4), (usize::MAX, 2)] {
        let pool = Pool::builder(String::new)
            .max_live(max_live)
            .prefill(prefill)
            .build()
            .unwrap_or_else(|e| panic!("max_live {max_live}, prefill {prefill}: {e}"));
        assert_eq!(pool.max_live(), Some(max_live));
        assert_eq!(pool.stats().created, prefill as u64);
    }
    assert_eq!(Pool::new(String::new).max_live(), None);
}
