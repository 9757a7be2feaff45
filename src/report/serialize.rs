//! `serde::Serialize` for the memory report and [`PoolStats`] (the `serde` feature).
//!
//! Written out rather than derived so that each impl carries the `doc(cfg)` label docs.rs shows
//! ("Available on crate feature serde"): a derived impl takes no attribute of ours. The output is
//! what `#[derive(Serialize)]` writes: a struct named after the type, its fields in order under
//! their Rust names.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{ArenaReport, MemoryReport, PoolReport};
use crate::stats::PoolStats;

/// `Serialize` for struct `$ty`, field by field. The pattern names every field and has no `..`,
/// so a field added to the struct but not here is a compile error, not a silent omission.
macro_rules! serialize_fields {
    ($ty:ident { $($field:ident),+ $(,)? }) => {
        #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let $ty { $($field),+ } = self;
                let len = [$(stringify!($field)),+].len();
                let mut state = serializer.serialize_struct(stringify!($ty), len)?;
                $(state.serialize_field(stringify!($field), $field)?;)+
                state.end()
            }
        }
    };
}

serialize_fields!(MemoryReport { pools, arenas });

serialize_fields!(PoolReport {
    name,
    element_type,
    stats,
    hit_rate,
    idle_bytes,
    idle_bytes_exact,
    held_since_last_report,
    leak_suspected,
});

serialize_fields!(ArenaReport {
    live_threads,
    idle_arenas,
    retained_bytes,
    arenas_created,
    dropped_oversized,
    dropped_surplus,
});

serialize_fields!(PoolStats {
    created,
    reused,
    returned,
    discarded,
    detached,
    idle,
    in_use,
    peak_in_use,
    waits,
});
