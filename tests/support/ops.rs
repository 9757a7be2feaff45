//! The operation language shared by the model-based tests of `LocalPool`
//! (`tests/local_pool_props.rs`) and `Pool` (`tests/pool_props.rs`): both pools have the same
//! API, so their models draw the same operations ([`Op`]) and hold the same two kinds of guard
//! ([`Guard`](super::model::Guard)).

use proptest::prelude::*;
use proptest::strategy::Union;

use super::Tracked;

/// The `max_retained_bytes` of the pools under test: [`Op::Mutate`] with `grow` goes past it.
pub const MAX_RETAINED: usize = 64;

/// One step of a model test, run against the pool and against the model.
#[derive(Debug, Clone)]
pub enum Op {
    Get,
    TryGet,
    GetOwned,
    /// Drops the guard at `index % guards.len()`.
    Drop(usize),
    /// Detaches the guard at `index % guards.len()`.
    Detach(usize),
    /// Puts a previously detached value back, or a value made outside the pool.
    Put,
    Trim,
    /// `Pool::trim_unused` (drawn only with [`op`]`(true)`: `LocalPool` has no such method).
    TrimUnused,
    /// Writes `len` bytes into a guard's object; with `grow`, also reserves past the retained cap.
    Mutate {
        index: usize,
        len: usize,
        grow: bool,
    },
    /// Sends the guard at `index % guards.len()` to another thread (drawn only by
    /// [`thread_op`]: the one-thread models have no other thread).
    Send(usize),
}

/// A random [`Op`], with [`Op::TrimUnused`] among them if `trim_unused`.
pub fn op(trim_unused: bool) -> impl Strategy<Value = Op> {
    let mut ops = vec![
        (3, Just(Op::Get).boxed()),
        (1, Just(Op::TryGet).boxed()),
        (2, Just(Op::GetOwned).boxed()),
        (4, any::<usize>().prop_map(Op::Drop).boxed()),
        (1, any::<usize>().prop_map(Op::Detach).boxed()),
        (1, Just(Op::Put).boxed()),
        (1, Just(Op::Trim).boxed()),
        (
            2,
            (any::<usize>(), 0..16usize, any::<bool>())
                .prop_map(|(index, len, grow)| Op::Mutate { index, len, grow })
                .boxed(),
        ),
    ];
    if trim_unused {
        ops.push((2, Just(Op::TrimUnused).boxed()));
    }
    Union::new_weighted(ops)
}

/// A random [`Op`] of one thread sharing a `Pool` with others: owned guards only (they cross
/// threads), sent on with [`Op::Send`].
pub fn thread_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::GetOwned),
        3 => any::<usize>().prop_map(Op::Drop),
        2 => any::<usize>().prop_map(Op::Send),
        1 => Just(Op::Put),
        1 => Just(Op::Trim),
        1 => Just(Op::TrimUnused),
        1 => (any::<usize>(), 0..16usize, any::<bool>())
            .prop_map(|(index, len, grow)| Op::Mutate { index, len, grow }),
    ]
}

/// Writes `len` bytes into `obj`, and with `grow` makes it retain more than [`MAX_RETAINED`].
pub fn mutate(obj: &mut Tracked, len: usize, grow: bool) {
    obj.data.extend(std::iter::repeat(0xab).take(len));
    if grow {
        obj.data.reserve(MAX_RETAINED + 1);
    }
}

/// `cases` cases, without failure persistence: it needs the file system, which miri's isolation
/// forbids; a failing case is printed in full instead.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
