//! Replaced by the comparison benches in a following commit.
fn main() {}
