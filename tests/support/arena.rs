//! Arena helpers.

use hotpool::arena::{self, ArenaConfig};

/// Configures the calling thread's arena with an allocation limit of `bytes`, the rest default.
pub fn limit(bytes: usize) {
    arena::configure(ArenaConfig {
        allocation_limit: Some(bytes),
        ..ArenaConfig::default()
    })
    .unwrap();
}
