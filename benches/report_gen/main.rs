//! Writes the bench report from one `cargo bench` run: the results section of
//! `benches/README.md` (a table per group), one SVG chart per group in `benches/charts/`, and the
//! comparison figures of `README.md`, each between its markers, with the commit, date and machine
//! they come from.
//!
//! ```text
//! bash benches/regenerate.sh                       # a fresh `cargo bench`, then this program
//! cargo run --release --example bench_report       # this program alone, on the last run
//! cargo run --release --example bench_report -- --criterion DIR --bench-readme FILE \
//!     --readme FILE --charts DIR                   # other places (a trial run)
//! ```
//!
//! It reads criterion's `new/benchmark.json` and `new/estimates.json` of every case under
//! `$CARGO_TARGET_DIR/criterion` (default `target/criterion`). `benches/regenerate.sh` empties
//! that directory before its `cargo bench`, so that every figure comes from the same run.

// The examples' helpers: only the argument parser and `exit_status` are used here.
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../../examples/support/mod.rs"]
mod support;

mod chart;
mod machine;
mod markdown;
mod results;
mod units;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use markdown::Summarized;
use support::Args;

const USAGE: &str = "\
usage: cargo run --release --example bench_report -- [options]

  --criterion DIR      criterion's results (default: $CARGO_TARGET_DIR/criterion, or target/criterion)
  --bench-readme FILE  the bench report to update (default: benches/README.md)
  --readme FILE        the crate README to update (default: README.md)
  --charts DIR         where the SVG charts go (default: benches/charts)";

/// The groups `README.md` summarizes, what each measures, and the hotpool cases it shows.
const SUMMARY: [Summarized; 7] = [
    Summarized {
        group: "pool/single",
        what: "get, write 64 B, drop a 4 KiB buffer",
        hotpool: &["hotpool_local", "hotpool"],
        peers: &[],
    },
    Summarized {
        group: "pool/threads/4",
        what: "the same, 4 threads on one pool (per op)",
        hotpool: &["hotpool"],
        peers: &[],
    },
    Summarized {
        group: "pool/single_large",
        what: "a 1 KiB struct",
        hotpool: &["hotpool"],
        peers: &[],
    },
    Summarized {
        group: "pool/cross_thread",
        what: "producer → consumer, batches of 256",
        hotpool: &["hotpool", "hotpool_borrowed"],
        peers: &[],
    },
    Summarized {
        group: "pool/bounded",
        what: "at the `max_live` cap: 64 tokio tasks over 8 objects (`hotpool`), 4 threads over \
               2 (`hotpool_blocking`, `mutex_condvar`), per acquisition",
        hotpool: &["hotpool", "hotpool_blocking"],
        // At the cap, like for like: the async peers, then the blocking one.
        peers: &["semaphore_pool", "deadpool_unmanaged", "mutex_condvar"],
    },
    Summarized {
        group: "buffers/mixed",
        what: "`BufferPool`, sizes 256 B to 1 MiB",
        hotpool: &["hotpool"],
        peers: &[],
    },
    Summarized {
        group: "arena/alloc_small",
        what: "1,000 small values per scope",
        hotpool: &["hotpool"],
        peers: &[],
    },
];

struct Paths {
    criterion: PathBuf,
    bench_readme: PathBuf,
    readme: PathBuf,
    charts: PathBuf,
}

fn parse_args() -> Paths {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from);
    let mut paths = Paths {
        criterion: target.join("criterion"),
        bench_readme: root.join("benches/README.md"),
        readme: root.join("README.md"),
        charts: root.join("benches/charts"),
    };
    let mut args = Args::from_env(USAGE);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--criterion" => paths.criterion = args.path(&flag),
            "--bench-readme" => paths.bench_readme = args.path(&flag),
            "--readme" => paths.readme = args.path(&flag),
            "--charts" => paths.charts = args.path(&flag),
            _ => args.unknown(&flag),
        }
    }
    paths
}

fn main() -> ExitCode {
    support::exit_status(run(&parse_args()))
}

fn run(paths: &Paths) -> Result<(), String> {
    let cases = results::read_all(&paths.criterion)?;
    let (Some(first), Some(last)) = (
        cases.iter().map(|c| c.written).min(),
        cases.iter().map(|c| c.written).max(),
    ) else {
        return Err(format!(
            "no criterion results under {}",
            paths.criterion.display()
        ));
    };
    let provenance = machine::Provenance::now(first, last);
    let groups = results::groups(&cases);

    fs::create_dir_all(&paths.charts).map_err(|e| in_path(&paths.charts, e))?;
    let footnote = format!(
        "hotpool {}, measured {}; {}",
        provenance.commit, provenance.measured.1, provenance.machine
    );
    let mut charts = Vec::new();
    for (group, members) in &groups {
        let file = paths
            .charts
            .join(format!("{}.svg", markdown::file_stem(group)));
        chart::draw(&file, group, members, &footnote).map_err(|e| in_path(&file, e))?;
        charts.push(file);
    }
    remove_stale_charts(&paths.charts, &charts)?;

    let chart_link = relative_dir(&paths.charts, &paths.bench_readme);
    let results = markdown::results(&provenance, &groups, &chart_link);
    update(&paths.bench_readme, "bench-report", &results)?;
    let summary = markdown::summary(&provenance, &groups, &SUMMARY);
    update(&paths.readme, "bench-summary", &summary)?;
    eprintln!(
        "{} cases in {} groups (measured {} to {}): wrote {}, {} and {} charts in {}",
        cases.len(),
        groups.len(),
        provenance.measured.0,
        provenance.measured.1,
        paths.bench_readme.display(),
        paths.readme.display(),
        charts.len(),
        paths.charts.display()
    );
    Ok(())
}

/// Replaces the section between `marker`'s begin and end lines of the file at `path`.
fn update(path: &Path, marker: &str, content: &str) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| in_path(path, e))?;
    let text = markdown::splice(&text, marker, content).map_err(|e| in_path(path, e))?;
    fs::write(path, text).map_err(|e| in_path(path, e))
}

/// Deletes the SVGs in `dir` that this run did not write (groups that no longer exist).
fn remove_stale_charts(dir: &Path, written: &[PathBuf]) -> Result<(), String> {
    for entry in fs::read_dir(dir).map_err(|e| in_path(dir, e))? {
        let path = entry.map_err(|e| in_path(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "svg") && !written.contains(&path) {
            fs::remove_file(&path).map_err(|e| in_path(&path, e))?;
        }
    }
    Ok(())
}

/// `dir` as a link from the Markdown file `from`: relative when `dir` is below `from`'s folder.
fn relative_dir(dir: &Path, from: &Path) -> String {
    let base = from.parent().unwrap_or(Path::new(""));
    dir.strip_prefix(base).unwrap_or(dir).display().to_string()
}

fn in_path(path: &Path, err: impl std::fmt::Display) -> String {
    format!("{}: {err}", path.display())
}
