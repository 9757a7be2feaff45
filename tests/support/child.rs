//! Child-process tests: for what would abort the process (a panic escaping a thread-local
//! destructor), so the test binary itself survives to report it.

use std::process::{Command, Output};

/// The variable that tells a child which test's scenario to run.
const SCENARIO_VAR: &str = "HOTPOOL_CHILD_SCENARIO";

/// In the test named `test_name` (its full path, as `cargo test -- --exact` takes it): in the
/// parent, re-runs this test binary with only that test selected and returns the child's exit
/// status and output; in that child, runs `scenario` and returns `None` (the test then passes,
/// so the child exits 0 unless the scenario panicked or aborted).
pub fn run_in_child(test_name: &str, scenario: impl FnOnce()) -> Option<Output> {
    if std::env::var_os(SCENARIO_VAR).is_some_and(|name| name == test_name) {
        scenario();
        return None;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO_VAR, test_name)
        .output()
        .expect("the test binary runs again");
    Some(output)
}

/// The child's stderr, lossily decoded.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
