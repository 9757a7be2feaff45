//! Reading one `cargo bench` run: criterion's `new/benchmark.json` (which group and case) and
//! `new/estimates.json` (the estimates) of every case under the criterion directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

/// What criterion counts per iteration besides time, when a group sets `Throughput`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throughput {
    Elements(f64),
    Bytes(f64),
}

/// One case (a `bench_function` of a group) as measured.
#[derive(Debug, Clone)]
pub struct Case {
    pub group: String,
    /// The function id, with criterion's parameter (`value_str`) if the case has one.
    pub name: String,
    /// Median time per iteration, nanoseconds (`median.point_estimate`).
    pub median_ns: f64,
    /// The median's 95 % confidence interval, nanoseconds.
    pub ci_ns: (f64, f64),
    pub throughput: Option<Throughput>,
    /// When criterion wrote the estimates.
    pub written: SystemTime,
}

impl Case {
    /// Iterations' throughput per second, if the group has one: (amount per second, unit).
    pub fn per_second(&self) -> Option<(f64, Throughput)> {
        let t = self.throughput?;
        let per_iter = match t {
            Throughput::Elements(n) | Throughput::Bytes(n) => n,
        };
        Some((per_iter * 1e9 / self.median_ns, t))
    }
}

/// Every case under `root` (criterion's output directory), sorted by group then median.
pub fn read_all(root: &Path) -> Result<Vec<Case>, String> {
    let mut files = Vec::new();
    find_benchmark_files(root, &mut files)
        .map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    let mut cases = files
        .iter()
        .map(|file| read_case(file).map_err(|e| format!("{}: {e}", file.display())))
        .collect::<Result<Vec<_>, _>>()?;
    cases.sort_by(|a, b| {
        (a.group.as_str(), a.median_ns)
            .partial_cmp(&(b.group.as_str(), b.median_ns))
            .expect("medians are numbers")
    });
    Ok(cases)
}

/// Collects `<case>/new/benchmark.json` files below `dir`.
fn find_benchmark_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        // criterion's own HTML report lives in `report/` directories: skip them.
        if path.file_name().is_some_and(|n| n == "report") {
            continue;
        }
        let benchmark = path.join("new").join("benchmark.json");
        if benchmark.is_file() {
            out.push(benchmark);
        } else {
            find_benchmark_files(&path, out)?;
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

fn read_case(benchmark: &Path) -> Result<Case, String> {
    let id = read_json(benchmark)?;
    let estimates_path = benchmark.with_file_name("estimates.json");
    let estimates = read_json(&estimates_path)?;
    let text = |key: &str| id[key].as_str().map(str::to_owned);
    let group = text("group_id").ok_or("no group_id")?;
    let mut name = text("function_id").unwrap_or_default();
    if let Some(value) = text("value_str") {
        name = if name.is_empty() {
            value
        } else {
            format!("{name}/{value}")
        };
    }
    let median = &estimates["median"];
    let number = |v: &Value, what: &str| v.as_f64().ok_or(format!("no {what} in the estimates"));
    let throughput = match &id["throughput"] {
        Value::Object(t) => match (t.get("Elements"), t.get("Bytes")) {
            (Some(n), _) => Some(Throughput::Elements(number(n, "Elements")?)),
            (_, Some(n)) => Some(Throughput::Bytes(number(n, "Bytes")?)),
            _ => None,
        },
        _ => None,
    };
    Ok(Case {
        group,
        name,
        median_ns: number(&median["point_estimate"], "median")?,
        ci_ns: (
            number(&median["confidence_interval"]["lower_bound"], "lower bound")?,
            number(&median["confidence_interval"]["upper_bound"], "upper bound")?,
        ),
        throughput,
        written: fs::metadata(&estimates_path)
            .and_then(|m| m.modified())
            .map_err(|e| e.to_string())?,
    })
}

/// The cases of one group, in the order [`read_all`] gives (fastest first).
pub fn groups(cases: &[Case]) -> Vec<(&str, Vec<&Case>)> {
    let mut groups: Vec<(&str, Vec<&Case>)> = Vec::new();
    for case in cases {
        match groups.last_mut() {
            Some((group, members)) if *group == case.group => members.push(case),
            _ => groups.push((&case.group, vec![case])),
        }
    }
    groups
}

/// The case a group's ratios compare with: `hotpool` if the group has it.
pub fn reference<'a>(cases: &[&'a Case]) -> Option<&'a Case> {
    cases.iter().copied().find(|c| c.name == "hotpool")
}
