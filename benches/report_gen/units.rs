//! Times and rates in the units criterion prints them in.

use crate::results::Throughput;

/// `5.59 ns`, `853.03 ns`, `10.66 µs`, `1.20 ms`, `2.01 s`.
pub fn time(ns: f64) -> String {
    let (value, unit) = time_in(ns, time_unit(ns));
    format!("{value:.2} {unit}")
}

/// The unit `time` would pick for `ns`, as a divisor and a name.
pub fn time_unit(ns: f64) -> (f64, &'static str) {
    match ns {
        ns if ns < 1e3 => (1.0, "ns"),
        ns if ns < 1e6 => (1e3, "µs"),
        ns if ns < 1e9 => (1e6, "ms"),
        _ => (1e9, "s"),
    }
}

/// `ns` in `unit`.
pub fn time_in(ns: f64, (divisor, name): (f64, &'static str)) -> (f64, &'static str) {
    (ns / divisor, name)
}

/// `22.5 Melem/s`, `14.2 GiB/s`.
pub fn rate(per_second: f64, kind: Throughput) -> String {
    match kind {
        Throughput::Elements(_) => {
            let (value, prefix) = scaled(per_second, 1000.0, &["", "K", "M", "G", "T"]);
            format!("{value:.1} {prefix}elem/s")
        }
        Throughput::Bytes(_) => {
            let (value, unit) = scaled(per_second, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB"]);
            format!("{value:.1} {unit}/s")
        }
    }
}

fn scaled(mut value: f64, step: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut unit = 0;
    while value >= step && unit + 1 < units.len() {
        value /= step;
        unit += 1;
    }
    (value, units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_criterion() {
        assert_eq!(time(5.591), "5.59 ns");
        assert_eq!(time(10_660.0), "10.66 µs");
        assert_eq!(rate(22.5e6, Throughput::Elements(1.0)), "22.5 Melem/s");
        assert_eq!(
            rate(3.0 * 1024.0 * 1024.0, Throughput::Bytes(1.0)),
            "3.0 MiB/s"
        );
    }
}
