//! Recycle policies compose: `recycle_with` (custom reset), `max_retained_bytes` (cap) and
//! `keep_if` (keep predicate) give the same policy in every order, on both builders, and no
//! setting is lost. Each case puts the same five objects and compares what was kept with what
//! the documented semantics predict.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hotpool::recycle::DEFAULT_MAX_RETAINED_BYTES;
use hotpool::{LocalPolicy, LocalPool, LocalPooled, Policy, Pool, Pooled};

/// The custom reset refuses this capacity.
const RESET_REFUSES: usize = 24;
/// The keep predicate refuses this capacity.
const KEEP_REFUSES: usize = 48;
/// The explicit cap.
const CAP: usize = 1000;
/// Capacities of the objects put, each holding two bytes.
const CAPACITIES: [usize; 5] = [
    RESET_REFUSES,
    KEEP_REFUSES,
    2 * CAP,
    2 * DEFAULT_MAX_RETAINED_BYTES,
    100,
];

fn object(capacity: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(capacity);
    v.extend_from_slice(&[1, 2]);
    assert_eq!(v.capacity(), capacity);
    v
}

/// Which settings a case used.
#[derive(Clone, Copy, Debug)]
struct Settings {
    reset: bool,
    cap: bool,
    keep: bool,
}

impl Settings {
    fn kept(self, capacity: usize) -> bool {
        let refused_by_reset = self.reset && capacity == RESET_REFUSES;
        let over_cap = self.cap && capacity > CAP;
        let refused_by_keep = self.keep && capacity == KEEP_REFUSES;
        // The default cap goes with the default reset.
        let over_default_cap = !self.reset && !self.cap && capacity > DEFAULT_MAX_RETAINED_BYTES;
        !(refused_by_reset || over_cap || refused_by_keep || over_default_cap)
    }

    /// What a kept object holds: the custom reset truncates to one byte; `Recycle::reset`
    /// clears.
    fn kept_len(self) -> usize {
        usize::from(self.reset)
    }
}

/// Applies the named settings, in the order given, to a builder.
macro_rules! apply {
    ($builder:expr, $resets:expr; ) => { $builder };
    ($builder:expr, $resets:expr; R $($rest:ident)*) => {{
        let resets = Arc::clone(&$resets);
        apply!($builder.recycle_with(move |v: &mut Vec<u8>| {
            resets.fetch_add(1, Ordering::Relaxed);
            v.truncate(1); // not a clear: shows that `Recycle::reset` did not run
            v.capacity() != RESET_REFUSES
        }), $resets; $($rest)*)
    }};
    ($builder:expr, $resets:expr; C $($rest:ident)*) => {
        apply!($builder.max_retained_bytes(CAP), $resets; $($rest)*)
    };
    ($builder:expr, $resets:expr; K $($rest:ident)*) => {
        apply!($builder.keep_if(|v: &Vec<u8>| v.capacity() != KEEP_REFUSES), $resets; $($rest)*)
    };
}

/// Builds a `LocalPool` and a `Pool` with the settings in this order and checks both.
macro_rules! case {
    ($($step:ident)*) => {{
        let settings = Settings {
            reset: stringify!($($step)*).contains('R'),
            cap: stringify!($($step)*).contains('C'),
            keep: stringify!($($step)*).contains('K'),
        };
        let order = stringify!($($step)*);
        let resets = Arc::new(AtomicUsize::new(0));
        let local = apply!(LocalPool::builder(Vec::<u8>::new), resets; $($step)*).build().unwrap();
        check(order, settings, &resets, |v| local.put(v), || local.try_get().map(|g| LocalPooled::detach(g).len()));
        let resets = Arc::new(AtomicUsize::new(0));
        let shared = apply!(Pool::builder(Vec::<u8>::new), resets; $($step)*).build().unwrap();
        check(order, settings, &resets, |v| shared.put(v), || shared.try_get().map(|g| Pooled::detach(g).len()));
    }};
}

fn check(
    order: &str,
    settings: Settings,
    resets: &AtomicUsize,
    put: impl Fn(Vec<u8>) -> Result<(), Vec<u8>>,
    take_len: impl Fn() -> Option<usize>,
) {
    for capacity in CAPACITIES {
        let kept = put(object(capacity)).is_ok();
        assert_eq!(
            kept,
            settings.kept(capacity),
            "order {order:?}, capacity {capacity}"
        );
    }
    let expected_kept = CAPACITIES.iter().filter(|&&c| settings.kept(c)).count();
    // Detached, so each idle object is seen once.
    let lens: Vec<usize> = std::iter::from_fn(take_len)
        .take(CAPACITIES.len() + 1)
        .collect();
    assert_eq!(
        lens,
        vec![settings.kept_len(); expected_kept],
        "order {order:?}"
    );
    let expected_resets = if settings.reset { CAPACITIES.len() } else { 0 };
    assert_eq!(
        resets.load(Ordering::Relaxed),
        expected_resets,
        "order {order:?}"
    );
}

#[test]
fn no_setting_and_one_setting() {
    case!();
    case!(R);
    case!(C);
    case!(K);
}

#[test]
fn two_settings_in_both_orders() {
    case!(R C);
    case!(C R);
    case!(R K);
    case!(K R);
    case!(C K);
    case!(K C);
}

#[test]
fn three_settings_in_every_order() {
    case!(R C K);
    case!(R K C);
    case!(C R K);
    case!(C K R);
    case!(K R C);
    case!(K C R);
}

#[test]
fn the_last_cap_wins_whatever_the_policy() {
    let pool = LocalPool::builder(Vec::<u8>::new)
        .max_retained_bytes(10)
        .keep_if(|_: &Vec<u8>| true)
        .max_retained_bytes(100)
        .build()
        .unwrap();
    assert!(pool.put(Vec::with_capacity(100)).is_ok());
    assert!(pool.put(Vec::with_capacity(101)).is_err());
    let pool = Pool::builder(Vec::<u8>::new)
        .max_retained_bytes(100)
        .max_retained_bytes(10)
        .build()
        .unwrap();
    assert!(pool.put(Vec::with_capacity(10)).is_ok());
    assert!(pool.put(Vec::with_capacity(11)).is_err());
}

#[test]
fn two_resets_run_in_order_and_both_vote() {
    let pool = Pool::builder(Vec::<u8>::new)
        .recycle_with(|v: &mut Vec<u8>| {
            v.push(b'a');
            v.len() < 4
        })
        .recycle_with(|v: &mut Vec<u8>| {
            v.push(b'b');
            v.len() < 3
        })
        .build()
        .unwrap();
    let mut kept = pool.get();
    assert!(kept.is_empty());
    drop(kept);
    kept = pool.get();
    assert_eq!(&kept[..], b"ab"); // first, then second
    drop(kept); // "abab": the second refuses, the first had agreed
    assert_eq!(pool.stats().discarded, 1);
    // The first refuses: the second does not run.
    let pool = LocalPool::builder(|| vec![0u8; 3])
        .recycle_with(|v: &mut Vec<u8>| v.len() < 3)
        .recycle_with(|_: &mut Vec<u8>| unreachable!("the first step already refused"))
        .build()
        .unwrap();
    drop(pool.get());
    assert_eq!(pool.stats().discarded, 1);
}

#[test]
fn keep_predicates_must_all_agree() {
    let pool = LocalPool::builder(Vec::<u8>::new)
        .keep_if(|v: &Vec<u8>| v.capacity() >= 8)
        .keep_if(|v: &Vec<u8>| v.capacity() <= 64)
        .build()
        .unwrap();
    let kept: Vec<bool> = [4, 8, 64, 65]
        .map(|c| pool.put(Vec::with_capacity(c)).is_ok())
        .to_vec();
    assert_eq!(kept, [false, true, true, false]);
}

/// A type that does not implement `Recycle` gets its reset from `recycle_with`, then any
/// keep predicate.
#[derive(Debug, PartialEq)]
struct Conn {
    healthy: bool,
    uses: u32,
}

#[test]
fn a_type_without_recycle_composes_after_its_reset() {
    let pool = Pool::builder(|| Conn {
        healthy: true,
        uses: 0,
    })
    .recycle_with(|c: &mut Conn| {
        c.uses += 1;
        c.uses < 3
    })
    .keep_if(|c: &Conn| c.healthy)
    .build()
    .unwrap();
    pool.get().healthy = false; // refused by keep_if
    drop(pool.get()); // uses 1
    drop(pool.get()); // uses 2
    drop(pool.get()); // uses 3: refused by the reset
    let stats = pool.stats();
    assert_eq!((stats.created, stats.returned, stats.discarded), (2, 2, 2));
}

/// A pool with a custom policy has a type that can be written down.
static NAMED: once_cell::sync::Lazy<Pool<String, Policy<String>>> =
    once_cell::sync::Lazy::new(|| {
        Pool::builder(String::new)
            .keep_if(|s: &String| s.capacity() <= 64)
            .build()
            .unwrap()
    });

#[test]
fn a_custom_policy_is_nameable_in_a_static() {
    NAMED.get().push_str("short");
    NAMED.get().reserve(65);
    let stats = NAMED.stats();
    assert_eq!((stats.returned, stats.discarded), (1, 1));
    thread_local! {
        static LOCAL: LocalPool<String, LocalPolicy<String>> = LocalPool::builder(String::new)
            .recycle_with(|s: &mut String| { s.clear(); true })
            .build()
            .unwrap();
    }
    LOCAL.with(|pool| {
        pool.get().push('x');
        assert!(pool.get().is_empty());
    });
}

#[test]
fn local_policy_closures_may_hold_rc() {
    use std::cell::Cell;
    use std::rc::Rc;

    let seen = Rc::new(Cell::new(0));
    let counter = Rc::clone(&seen);
    let pool = LocalPool::builder(String::new)
        .keep_if(move |_: &String| {
            counter.set(counter.get() + 1);
            true
        })
        .build()
        .unwrap();
    drop(pool.get());
    drop(pool.get());
    assert_eq!(seen.get(), 2);
}

#[test]
fn policy_debug_names_its_steps() {
    let builder = Pool::builder(Vec::<u8>::new)
        .keep_if(|_: &Vec<u8>| true)
        .max_retained_bytes(7);
    assert_eq!(
        format!("{:?}", builder.policy()),
        r#"Policy { reset: "Recycle::reset", max_retained_bytes: Some(7), keep_if: true }"#
    );
}
