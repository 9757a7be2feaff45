//! One SVG bar chart per group: each case's median, with its confidence interval as a whisker,
//! fastest at the top and hotpool's cases in their own colour.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::results::Case;
use crate::units::{time, time_in, time_unit};

const HOTPOOL: RGBColor = RGBColor(230, 120, 30);
const OTHER: RGBColor = RGBColor(70, 110, 170);
const WIDTH: u32 = 900;
const ROW: u32 = 28;

/// Draws `cases` (fastest first) of `group` into the SVG file `path`; `footnote` says where the
/// figures come from.
pub fn draw(
    path: &Path,
    group: &str,
    cases: &[&Case],
    footnote: &str,
) -> Result<(), Box<dyn Error>> {
    let rows = cases.len() as i32;
    let height = 110 + ROW * cases.len() as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (chart_area, footer) = root.split_vertically(height - 24);

    let slowest = cases
        .iter()
        .map(|c| c.ci_ns.1.max(c.median_ns))
        .fold(0.0, f64::max);
    let unit = time_unit(slowest);
    let value = |ns: f64| time_in(ns, unit).0;
    // Room right of the slowest bar for its label.
    let x_max = value(slowest) * 1.3;
    let longest_name = cases
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4);
    // Row `i` from the bottom: the fastest case gets the top row.
    let row_of = |rank: usize| rows - 1 - rank as i32;
    let names: Vec<&str> = cases.iter().rev().map(|c| c.name.as_str()).collect();

    let mut chart = ChartBuilder::on(&chart_area)
        .caption(
            format!("{group}: median time per iteration (shorter is faster)"),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(20 + 8 * longest_name as u32)
        // An integer range is inclusive in plotters: `0..rows - 1` is `rows` segments.
        .build_cartesian_2d(0.0..x_max, (0..rows - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .y_labels(cases.len())
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => names
                .get(*i as usize)
                .map_or(String::new(), |n| n.to_string()),
            _ => String::new(),
        })
        .x_desc(format!("median time ({})", unit.1))
        .label_style(("sans-serif", 14))
        .draw()?;

    chart.draw_series(cases.iter().enumerate().map(|(rank, c)| {
        let row = row_of(rank);
        let color = if c.name.starts_with("hotpool") {
            HOTPOOL
        } else {
            OTHER
        };
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(row)),
                (value(c.median_ns), SegmentValue::Exact(row + 1)),
            ],
            color.filled(),
        );
        bar.set_margin(4, 4, 0, 0);
        bar
    }))?;
    chart.draw_series(cases.iter().enumerate().map(|(rank, c)| {
        let row = || SegmentValue::CenterOf(row_of(rank));
        let whisker = vec![(value(c.ci_ns.0), row()), (value(c.ci_ns.1), row())];
        PathElement::new(whisker, BLACK.stroke_width(1))
    }))?;
    let label =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    chart.draw_series(cases.iter().enumerate().map(|(rank, c)| {
        let at = (
            value(c.ci_ns.1.max(c.median_ns)) + x_max * 0.01,
            SegmentValue::CenterOf(row_of(rank)),
        );
        Text::new(time(c.median_ns), at, label.clone())
    }))?;

    footer.draw(&Text::new(footnote.to_owned(), (12, 4), ("sans-serif", 12)))?;
    root.present()?;
    Ok(())
}
