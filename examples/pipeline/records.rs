//! Records and totals of the pipeline example: parsing a line, saying why a line was skipped,
//! and the per-region totals both runs compute.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt;

use crate::support::{grouped, outln, NumberProblem};

/// One parsed line: `user_id,region,amount,tag,tag,...`, amount in dollars with up to two
/// decimals. The region borrows the chunk's text: parsing copies nothing.
pub(crate) struct Record<'a> {
    user_id: u64,
    region: &'a str,
    cents: u64,
    tags: u64,
    vip: bool,
}

impl<'a> Record<'a> {
    /// The record of a line split at commas, or why the line is not one (it is then counted as
    /// skipped, not fatal).
    pub(crate) fn parse(fields: &[&'a str]) -> Result<Self, Skip> {
        let [user_id, region, amount, tags @ ..] = fields else {
            return Err(match fields {
                [""] => Skip::Blank,
                _ => Skip::MissingFields(fields.len()),
            });
        };
        let user_id = NumberProblem::parse_u64(user_id).map_err(Skip::UserId)?;
        if region.is_empty() {
            return Err(Skip::EmptyRegion);
        }
        Ok(Record {
            user_id,
            region,
            cents: parse_cents(amount)?,
            tags: tags.len() as u64,
            vip: tags.contains(&"vip"),
        })
    }
}

/// `"12.3"` → 1230. Integer cents keep the totals exact and independent of summation order.
fn parse_cents(amount: &str) -> Result<u64, Skip> {
    let (dollars, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let dollars = NumberProblem::parse_u64(dollars).map_err(Skip::Amount)?;
    let digits_only = fraction.bytes().all(|b| b.is_ascii_digit());
    let cents = match fraction.len() {
        _ if !digits_only => return Err(Skip::Amount(NumberProblem::NotANumber)),
        0 => 0,
        1 => u64::from(fraction.as_bytes()[0] - b'0') * 10,
        2 => fraction
            .parse::<u64>()
            .map_err(|_| Skip::Amount(NumberProblem::NotANumber))?,
        _ => return Err(Skip::AmountDecimals),
    };
    dollars
        .checked_mul(100)
        .and_then(|c| c.checked_add(cents))
        .ok_or(Skip::Amount(NumberProblem::TooLarge))
}

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Skip {
    Blank,
    /// Fewer than the three required fields; holds how many there were.
    MissingFields(usize),
    UserId(NumberProblem),
    EmptyRegion,
    Amount(NumberProblem),
    AmountDecimals,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Blank => f.write_str("blank line"),
            Skip::MissingFields(n) => write!(
                f,
                "{n} field{}, but a record needs at least 3 (user_id,region,amount)",
                if *n == 1 { "" } else { "s" }
            ),
            Skip::UserId(problem) => write!(f, "user_id {problem}"),
            Skip::EmptyRegion => f.write_str("region is empty"),
            Skip::Amount(problem) => write!(f, "amount {problem}"),
            Skip::AmountDecimals => f.write_str("amount has more than two decimals"),
        }
    }
}

/// The lines skipped for one reason: how many, and the first one (number and text).
struct Skipped {
    count: u64,
    first_line: u64,
    first_text: String,
}

/// Running totals of one region.
#[derive(Default, Clone, Copy)]
struct RegionTotals {
    records: u64,
    cents: u64,
    max_cents: u64,
    tags: u64,
    vip: u64,
    user_id_sum: u64,
}

impl RegionTotals {
    fn add(&mut self, other: &RegionTotals) {
        self.records += other.records;
        self.cents += other.cents;
        self.max_cents = self.max_cents.max(other.max_cents);
        self.tags += other.tags;
        self.vip += other.vip;
        self.user_id_sum = self.user_id_sum.wrapping_add(other.user_id_sum);
    }

    fn of(record: &Record<'_>) -> Self {
        RegionTotals {
            records: 1,
            cents: record.cents,
            max_cents: record.cents,
            tags: record.tags,
            vip: u64::from(record.vip),
            user_id_sum: record.user_id,
        }
    }
}

/// Totals per region, plus the lines that did not parse, by reason.
#[derive(Default)]
pub(crate) struct Totals {
    regions: BTreeMap<String, RegionTotals>,
    skipped: BTreeMap<Skip, Skipped>,
}

impl Totals {
    /// Adds a chunk's records. Sorting them by region first means the map is looked up once per
    /// region and chunk, not once per record, and a region's name is copied into the map only
    /// the first time it is seen.
    pub(crate) fn add_chunk(&mut self, records: &mut [Record<'_>]) {
        records.sort_unstable_by_key(|r| r.region);
        let mut rest = &records[..];
        while let Some(first) = rest.first() {
            let same_region = rest.iter().take_while(|r| r.region == first.region).count();
            let mut sum = RegionTotals::default();
            for record in &rest[..same_region] {
                sum.add(&RegionTotals::of(record));
            }
            self.add_region(first.region, &sum);
            rest = &rest[same_region..];
        }
    }

    fn add_region(&mut self, region: &str, sum: &RegionTotals) {
        match self.regions.get_mut(region) {
            Some(totals) => totals.add(sum),
            None => {
                self.regions.insert(region.to_owned(), *sum);
            }
        }
    }

    /// Counts line `number` as skipped for `why`; the first line per reason is kept to show.
    pub(crate) fn skip(&mut self, why: Skip, number: u64, line: &str) {
        self.add_skipped(why, 1, number, line);
    }

    fn add_skipped(&mut self, why: Skip, count: u64, first_line: u64, first_text: &str) {
        match self.skipped.entry(why) {
            Entry::Vacant(entry) => {
                entry.insert(Skipped {
                    count,
                    first_line,
                    first_text: first_text.to_owned(),
                });
            }
            Entry::Occupied(mut entry) => {
                let seen = entry.get_mut();
                seen.count += count;
                // Workers see chunks in any order: keep the lowest line number, so the report
                // is the same on every run.
                if first_line < seen.first_line {
                    seen.first_line = first_line;
                    seen.first_text = first_text.to_owned();
                }
            }
        }
    }

    pub(crate) fn merge(&mut self, other: Totals) {
        for (region, sum) in &other.regions {
            self.add_region(region, sum);
        }
        for (why, s) in &other.skipped {
            self.add_skipped(*why, s.count, s.first_line, &s.first_text);
        }
    }

    pub(crate) fn records(&self) -> u64 {
        self.regions.values().map(|t| t.records).sum()
    }

    pub(crate) fn skipped(&self) -> u64 {
        self.skipped.values().map(|s| s.count).sum()
    }

    /// Every input line: parsed into a record or skipped.
    pub(crate) fn lines(&self) -> u64 {
        self.records() + self.skipped()
    }

    /// One line per reason lines were skipped, with the first such line.
    pub(crate) fn print_skipped(&self) {
        for (why, s) in &self.skipped {
            let mut text: String = s.first_text.chars().take(60).collect();
            if text.len() < s.first_text.len() {
                text.push_str("...");
            }
            outln!(
                "  skipped {} line{}: {why} (first: line {}: `{text}`)",
                grouped(s.count),
                if s.count == 1 { "" } else { "s" },
                grouped(s.first_line),
            );
        }
    }

    /// FNV-1a over every region and number, in region order.
    pub(crate) fn checksum(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        for (region, t) in &self.regions {
            eat(region.as_bytes());
            for n in [
                t.records,
                t.cents,
                t.max_cents,
                t.tags,
                t.vip,
                t.user_id_sum,
            ] {
                eat(&n.to_le_bytes());
            }
        }
        eat(&self.skipped().to_le_bytes());
        hash
    }

    pub(crate) fn summary(&self) -> String {
        let cents: u64 = self.regions.values().map(|t| t.cents).sum();
        let vip: u64 = self.regions.values().map(|t| t.vip).sum();
        format!(
            "totals: {} records in {} regions, amount {}.{:02}, {} vip, {} lines skipped",
            grouped(self.records()),
            self.regions.len(),
            grouped(cents / 100),
            cents % 100,
            grouped(vip),
            grouped(self.skipped()),
        )
    }
}
