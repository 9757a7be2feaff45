//! `Display` of the memory report: a table with one row per pool, then the arenas.

use std::fmt;

use super::{ArenaReport, MemoryReport, PoolReport};

const HEADERS: [&str; 10] = [
    "pool",
    "type",
    "in use",
    "peak",
    "idle",
    "idle bytes",
    "hit rate",
    "created",
    "discarded",
    "held",
];

/// Left-aligned columns (the rest are numbers, right-aligned).
const TEXT_COLUMNS: usize = 2;

impl fmt::Display for MemoryReport {
    /// A table: one row per pool, a line for the arenas, and the idle memory the report could
    /// measure. The `pool` column is [`PoolReport::name`] as it is, the name
    /// [`MemoryReport::pool`] finds; element types are shown without their module paths.
    /// `held` is `-` at a pool's first report.
    ///
    /// ```
    /// let pool = hotpool::Pool::builder(String::new).name("names").prefill(2).build()?;
    /// let table = hotpool::report().to_string();
    /// let row = table.lines().find(|l| l.starts_with("names ")).unwrap();
    /// assert!(row.contains("String")); // `alloc::string::String`, shortened
    /// assert!(table.contains("arenas:"));
    /// # drop(pool);
    /// # Ok::<(), hotpool::ConfigError>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 10]> = self.pools.iter().map(row).collect();
        let mut widths = HEADERS.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        write_row(f, &HEADERS.map(str::to_owned), &widths)?;
        for row in &rows {
            write_row(f, row, &widths)?;
        }
        if rows.is_empty() {
            writeln!(f, "(no live pools)")?;
        }
        write_arenas(f, &self.arenas)?;
        let leaks = self.pools.iter().filter(|p| p.leak_suspected).count();
        if leaks > 0 {
            writeln!(
                f,
                "LEAK?: {leaks} pool(s) with objects lent before the previous report that \
                 cannot all have come back since"
            )?;
        }
        write!(
            f,
            "idle memory measured: {} ('~' = estimated, '?' = the policy cannot tell)",
            bytes(self.idle_bytes())
        )
    }
}

fn row(p: &PoolReport) -> [String; 10] {
    let s = &p.stats;
    let idle_bytes = match (p.idle_bytes, p.idle_bytes_exact) {
        (None, _) => "?".to_owned(),
        (Some(b), true) => bytes(b),
        (Some(b), false) => format!("~{}", bytes(b)),
    };
    let held = match p.held_since_last_report {
        None => "-".to_owned(),
        Some(h) if p.leak_suspected => format!("{h} LEAK?"),
        Some(h) => h.to_string(),
    };
    let hit_rate = if s.reused == 0 && s.created == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", p.hit_rate * 100.0)
    };
    [
        p.name.clone(),
        short_type(p.element_type),
        s.in_use.to_string(),
        s.peak_in_use.to_string(),
        s.idle.to_string(),
        idle_bytes,
        hit_rate,
        s.created.to_string(),
        s.discarded.to_string(),
        held,
    ]
}

fn write_row(
    f: &mut fmt::Formatter<'_>,
    cells: &[String; 10],
    widths: &[usize; 10],
) -> fmt::Result {
    for (i, (cell, &width)) in cells.iter().zip(widths).enumerate() {
        let sep = if i == 0 { "" } else { "  " };
        if i < TEXT_COLUMNS {
            write!(f, "{sep}{cell:<width$}")?;
        } else {
            write!(f, "{sep}{cell:>width$}")?;
        }
    }
    writeln!(f)
}

fn write_arenas(f: &mut fmt::Formatter<'_>, a: &ArenaReport) -> fmt::Result {
    writeln!(
        f,
        "arenas: {} live thread(s), {} warm arena(s) holding {}; {} created, {} spike(s) dropped, \
         {} surplus dropped",
        a.live_threads,
        a.idle_arenas,
        bytes(a.retained_bytes as u64),
        a.arenas_created,
        a.dropped_oversized,
        a.dropped_surplus
    )
}

/// `1536` → `1.5 KiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `alloc::vec::Vec<alloc::string::String>` → `Vec<String>`: drops every module path.
pub(super) fn short_type(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut segment = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            segment.clear(); // a path prefix: forget it
        } else if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            out.push_str(&segment);
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(&segment);
    out
}

#[cfg(test)]
mod tests {
    use super::{bytes, short_type};

    #[test]
    fn short_type_drops_module_paths() {
        assert_eq!(short_type("alloc::vec::Vec<u8>"), "Vec<u8>");
        assert_eq!(
            short_type("std::collections::hash::map::HashMap<alloc::string::String, u32>"),
            "HashMap<String, u32>"
        );
        assert_eq!(short_type("(u8, [my_crate::Frame; 4])"), "(u8, [Frame; 4])");
        assert_eq!(short_type("u64"), "u64");
    }

    #[test]
    fn bytes_pick_a_readable_unit() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }
}
