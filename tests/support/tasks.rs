//! Helpers for tests that run tokio tasks.

use std::time::Duration;

use tokio::task::JoinSet;

/// What a test's tasks may take at most before they count as hung.
pub const HUNG: Duration = Duration::from_secs(60);

/// Waits for every task of `tasks`, failing the test if one panicked or they take [`HUNG`]
/// (`hung` says what a hang means: what was lost).
pub async fn join_all(mut tasks: JoinSet<()>, hung: &str) {
    let all = async {
        while let Some(done) = tasks.join_next().await {
            done.expect("a task panicked");
        }
    };
    tokio::time::timeout(HUNG, all).await.expect(hung);
}
