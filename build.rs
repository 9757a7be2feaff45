//! Detects what the compiler supports, so the crate keeps its MSRV (1.74) while using newer
//! features where they exist.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Single-colon form: cargo before 1.77 rejects `cargo::`; cargo before 1.80 ignores this.
    println!("cargo:rustc-check-cfg=cfg(hotpool_diagnostic)");
    // `#[diagnostic::on_unimplemented]` is stable since 1.78; older compilers reject the
    // `diagnostic` namespace, so `Recycle` carries it only under this cfg.
    if rustc_minor().is_some_and(|minor| minor >= 78) {
        println!("cargo:rustc-cfg=hotpool_diagnostic");
    }
}

/// The minor version of the compiler cargo builds with (`rustc 1.MINOR.PATCH ...`).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let version = String::from_utf8(output.stdout).ok()?;
    version.split('.').nth(1)?.parse().ok()
}
