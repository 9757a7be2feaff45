//! What a generated report says it was measured on: commit, date and machine.

use std::fs;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The header facts of a report.
pub struct Provenance {
    /// `git describe`-like: the short commit, `-dirty` if the work tree had changes.
    pub commit: String,
    /// When the report was generated (UTC).
    pub generated: String,
    /// When criterion wrote the first and the last estimates of the run (UTC).
    pub measured: (String, String),
    /// `2 × AMD EPYC 7B13 (nproc 2), 24.0 GiB, Linux 6.8.0`.
    pub machine: String,
    /// `rustc --version`.
    pub rustc: String,
}

impl Provenance {
    /// Reads the commit and the machine now; `first` and `last` are the run's file times.
    pub fn now(first: SystemTime, last: SystemTime) -> Self {
        Self {
            commit: commit(),
            generated: utc(SystemTime::now()),
            measured: (utc(first), utc(last)),
            machine: machine(),
            rustc: output("rustc", &["--version"]).unwrap_or_else(|| "rustc (unknown)".into()),
        }
    }
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    out.status.success().then(|| text.trim().to_owned())
}

fn commit() -> String {
    let Some(hash) = output("git", &["rev-parse", "--short", "HEAD"]) else {
        return "unknown (not a git checkout)".into();
    };
    // Generated files themselves do not count: a rerun over its own output is still clean.
    let changed = output(
        "git",
        &[
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!benches/README.md",
            ":!benches/charts",
            ":!README.md",
        ],
    );
    match changed {
        Some(changes) if !changes.is_empty() => format!("{hash}-dirty"),
        _ => hash,
    }
}

/// CPU model and count (from `/proc/cpuinfo` and `available_parallelism`), memory, kernel.
fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim())
        })
        .unwrap_or("unknown CPU");
    let listed = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut parts = vec![format!("{listed} × {model} (nproc {nproc})")];
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(kib) = meminfo.lines().find_map(|l| {
        l.strip_prefix("MemTotal:")?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse::<f64>()
            .ok()
    }) {
        parts.push(format!("{:.1} GiB", kib / (1024.0 * 1024.0)));
    }
    if let Ok(release) = fs::read_to_string("/proc/sys/kernel/osrelease") {
        parts.push(format!("Linux {}", release.trim()));
    }
    parts.join(", ")
}

/// `2026-05-04 12:03 UTC`, from the Unix time (no time-zone database needed).
fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates_from_unix_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }
}
