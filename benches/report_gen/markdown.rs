//! The Markdown the generator writes: the results of `benches/README.md` and the summary in
//! `README.md`, each between a pair of markers in the file.

use std::fmt::Write as _;

use crate::machine::Provenance;
use crate::results::{reference, Case};
use crate::units::{rate, time};

/// `benches/README.md`'s generated section: where it comes from, then per group its chart and
/// table.
pub fn results(p: &Provenance, groups: &[(&str, Vec<&Case>)], chart_dir: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Results\n");
    header(&mut out, p);
    out.push_str(
        "Each group has a chart and a table: the median time per iteration \
         (`median.point_estimate` of the case's `new/estimates.json`) and its 95 % confidence \
         interval; `vs hotpool` is the case's median over the `hotpool` case's of the same group \
         (below 1 = faster than hotpool); a group with a throughput gives it per second too. \
         Compare cases within a group, not across runs (see \"Methodology\" below).\n",
    );
    for (group, cases) in groups {
        let _ = writeln!(out, "\n### `{group}`\n");
        let _ = writeln!(out, "![{group}]({chart_dir}/{}.svg)\n", file_stem(group));
        table(&mut out, cases);
    }
    out
}

/// The file name (without `.svg`) of a group's chart: `pool/threads/2` → `pool_threads_2`.
pub fn file_stem(group: &str) -> String {
    group.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
}

fn header(out: &mut String, p: &Provenance) {
    let _ = writeln!(
        out,
        "Generated from one `cargo bench` run by `bash benches/regenerate.sh` \
         (`benches/report_gen`); do not edit between the markers.\n"
    );
    let _ = writeln!(out, "- **Commit**: {}", p.commit);
    let _ = writeln!(
        out,
        "- **Date**: measured {} to {}, generated {}",
        p.measured.0, p.measured.1, p.generated
    );
    let _ = writeln!(out, "- **Machine**: {}", p.machine);
    let _ = writeln!(out, "- **Toolchain**: {}\n", p.rustc);
}

fn table(out: &mut String, cases: &[&Case]) {
    let base = reference(cases);
    let with_rate = cases.iter().any(|c| c.throughput.is_some());
    let mut columns = vec!["case", "median", "95 % CI"];
    if with_rate {
        columns.push("throughput");
    }
    if base.is_some() {
        columns.push("vs hotpool");
    }
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(columns.len()));
    for case in cases {
        let mut cells = vec![
            format!("`{}`", case.name),
            time(case.median_ns),
            format!("{} – {}", time(case.ci_ns.0), time(case.ci_ns.1)),
        ];
        if with_rate {
            cells.push(case.per_second().map_or("–".into(), |(r, k)| rate(r, k)));
        }
        if let Some(base) = base {
            cells.push(format!("{:.2}×", case.median_ns / base.median_ns));
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// A group the crate docs summarize: what it measures, and which hotpool cases to show.
pub struct Summarized {
    pub group: &'static str,
    pub what: &'static str,
    pub hotpool: &'static [&'static str],
    /// The alternatives to show, in this order; empty: the group's three fastest that a user
    /// would pick instead (for groups whose cases measure different situations, such as
    /// `pool/bounded`'s at and below the cap, where only like-for-like peers compare).
    pub peers: &'static [&'static str],
}

/// Cases that are floors or parts of the setup, not something a user would pick instead.
const NOT_ALTERNATIVES: [&str; 7] = [
    "freelist_box",
    "freelist_vec",
    "tls_freelist_box",
    "tls_freelist_vec",
    "channel_only",
    "runtime_only",
    "runtime_only_below_cap",
];

/// `README.md`'s generated section: per summarized group, hotpool's cases and the three
/// fastest alternatives.
pub fn summary(p: &Provenance, groups: &[(&str, Vec<&Case>)], spec: &[Summarized]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Medians of one `cargo bench` run (commit {}, measured {}; {}); every case, a chart per \
         group and how to reproduce are in \
         [`benches/README.md`](https://docs.rs/crate/hotpool/latest/source/benches/README.md).\n",
        p.commit, p.measured.1, p.machine
    );
    let mut rows = String::new();
    for s in spec {
        let Some((_, cases)) = groups.iter().find(|(g, _)| *g == s.group) else {
            continue;
        };
        let figure = |c: &Case| match c.per_second() {
            Some((r, k)) => format!("`{}` {}", c.name, rate(r, k)),
            None => format!("`{}` {}", c.name, time(c.median_ns)),
        };
        let ours: Vec<_> = s
            .hotpool
            .iter()
            .filter_map(|name| cases.iter().find(|c| c.name == *name))
            .map(|c| figure(c))
            .collect();
        let theirs: Vec<_> = if s.peers.is_empty() {
            cases
                .iter()
                .filter(|c| !c.name.starts_with("hotpool") && !NOT_ALTERNATIVES.contains(&&*c.name))
                .take(3)
                .map(|c| figure(c))
                .collect()
        } else {
            s.peers
                .iter()
                .filter_map(|name| cases.iter().find(|c| c.name == *name))
                .map(|c| figure(c))
                .collect()
        };
        if ours.is_empty() && theirs.is_empty() {
            continue; // a partial run: none of the cases this row names
        }
        let _ = writeln!(
            rows,
            "| `{}`: {} | {} | {} |",
            s.group,
            s.what,
            ours.join(", "),
            theirs.join(", ")
        );
    }
    if rows.is_empty() {
        out.push_str("(This run has none of the groups summarized here.)\n");
    } else {
        out.push_str("| benchmark (median) | hotpool | fastest alternatives |\n|---|---|---|\n");
        out.push_str(&rows);
    }
    out
}

/// Replaces what lies between the lines `<!-- {name}:begin -->` and `<!-- {name}:end -->` of
/// `text` with `content`; an error if the markers are missing or out of order.
pub fn splice(text: &str, name: &str, content: &str) -> Result<String, String> {
    let begin = format!("<!-- {name}:begin");
    let end = format!("<!-- {name}:end -->");
    let start = text
        .find(&begin)
        .ok_or(format!("no `{begin} ... -->` marker"))?;
    let body = start
        + text[start..]
            .find("-->\n")
            .ok_or("unterminated begin marker")?
        + 4;
    let stop = text[body..]
        .find(&end)
        .ok_or(format!("no `{end}` marker after the begin"))?;
    Ok(format!(
        "{}{content}{}",
        &text[..body],
        &text[body + stop..]
    ))
}

#[cfg(test)]
mod tests {
    use super::splice;

    #[test]
    fn splice_replaces_only_between_the_markers() {
        let text = "a\n<!-- x:begin (note) -->\nold\n<!-- x:end -->\nb\n";
        assert_eq!(
            splice(text, "x", "new\n").unwrap(),
            "a\n<!-- x:begin (note) -->\nnew\n<!-- x:end -->\nb\n"
        );
        assert!(splice("no markers", "x", "").is_err());
    }
}
