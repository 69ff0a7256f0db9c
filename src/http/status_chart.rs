//! Inline SVG trend charts (Part 1a, Part 1b) for the status page, with a data-table alternative.
//!
//! Drawn by hand as plain SVG so the page stays a single offline file with no scripts. Each chart
//! has a `<title>`/`<desc>` and a collapsible table of the same numbers, because line colours
//! alone cannot identify boards for everyone.

use std::fmt::Write as _;

use super::super::labels::{fill, Labels};
use super::{escape, is_wales, TrendPoint, TrendSeries};

/// Which measure a chart shows.
#[derive(Clone, Copy, Debug)]
pub(super) enum Which {
    /// Part 1a.
    Assessment,
    /// Part 1b.
    Intervention,
}

impl Which {
    fn pick(self, p: &TrendPoint) -> Option<f64> {
        let v = match self {
            Which::Assessment => p.assessment_pct,
            Which::Intervention => p.intervention_pct,
        };
        // A NaN would poison the path data; treat it like a missing month.
        v.filter(|v| v.is_finite())
    }

    fn id(self) -> &'static str {
        match self {
            Which::Assessment => "c1a",
            Which::Intervention => "c1b",
        }
    }

    fn title(self, l: &Labels) -> &'static str {
        match self {
            Which::Assessment => l.chart_1a,
            Which::Intervention => l.chart_1b,
        }
    }
}

// Geometry in SVG user units; the SVG scales to the container width.
const WIDTH: f64 = 1160.0;
const LEFT: f64 = 58.0;
/// Right edge of the plot; the margin beyond it holds the target label, clear of the lines.
const RIGHT: f64 = 1050.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 280.0;
const LEGEND_ROW: f64 = 24.0;
const LEGEND_COLS: usize = 2;
/// Inset so the first and last months are not drawn on the axes.
const X_PAD: f64 = 28.0;
const WALES_COLOUR: &str = "#212b32";
/// Okabe–Ito colours (colour-blind safe), yellow swapped for wine as it vanishes on white.
const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#882255",
];

fn y_of(v: f64) -> f64 {
    BOTTOM - v.clamp(0.0, 100.0) / 100.0 * (BOTTOM - TOP)
}

fn x_of(i: usize, n: usize) -> f64 {
    if n <= 1 {
        (LEFT + RIGHT) / 2.0
    } else {
        LEFT + X_PAD + i as f64 * (RIGHT - LEFT - 2.0 * X_PAD) / (n - 1) as f64
    }
}

/// Colour and stroke width per series: Wales bold and dark, boards thin in palette order.
fn styles(series: &[TrendSeries]) -> Vec<(&'static str, f64)> {
    let mut k = 0;
    series
        .iter()
        .map(|s| {
            if is_wales(&s.code) {
                (WALES_COLOUR, 4.0)
            } else {
                k += 1;
                (PALETTE[(k - 1) % PALETTE.len()], 2.0)
            }
        })
        .collect()
}

fn legend_text(s: &TrendSeries) -> String {
    if is_wales(&s.code) {
        escape(&s.name)
    } else {
        format!("{} {}", escape(&s.code), escape(&s.name))
    }
}

/// One `<figure>`: heading, SVG chart and a collapsible table of the plotted values.
pub(super) fn figure(series: &[TrendSeries], which: Which, target: f64, l: &Labels) -> String {
    // Months are the union across series, so a board missing a month cannot shift the others.
    let mut periods: Vec<&str> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.period.as_str()))
        .collect();
    periods.sort_unstable();
    periods.dedup();
    let n = periods.len();
    let styles = styles(series);
    let id = which.id();
    let legend_rows = series.len().div_ceil(LEGEND_COLS);
    let height = BOTTOM + 44.0 + legend_rows as f64 * LEGEND_ROW + 8.0;

    let mut h = String::with_capacity(16 * 1024);
    let _ = write!(
        h,
        "<figure><h3 id=\"{id}-t\">{title}</h3>\n<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-size=\"13\">\
         <title>{title}</title><desc id=\"{id}-d\">{desc}</desc>\n",
        title = escape(which.title(l)),
        desc = escape(l.chart_desc),
    );

    // Grid and y axis labels every 20 %.
    for v in (0..=100).step_by(20) {
        let y = y_of(f64::from(v));
        let _ = writeln!(
            h,
            "<line x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{c}\" stroke-width=\"1\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"#4c6272\">{v}%</text>",
            c = if v == 0 { "#4c6272" } else { "#e1e6ea" },
            tx = LEFT - 8.0,
            ty = y + 4.0,
        );
    }

    // X axis labels; thinned so they never overlap however many months arrive.
    let step = n.div_ceil(12).max(1);
    for (i, p) in periods.iter().enumerate() {
        if i % step == 0 || i + 1 == n {
            let _ = write!(
                h,
                "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\" fill=\"#4c6272\">{p}</text>",
                x = x_of(i, n),
                y = BOTTOM + 20.0,
                p = escape(p),
            );
        }
    }
    h.push('\n');

    if n == 0 {
        let _ = writeln!(
            h,
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"16\" fill=\"#4c6272\">{t}</text>",
            x = (LEFT + RIGHT) / 2.0,
            y = (TOP + BOTTOM) / 2.0,
            t = escape(l.no_trend),
        );
    }

    // Target line, labelled in text so it does not rely on the dash pattern being noticed.
    if target.is_finite() {
        let ty = y_of(target);
        let _ = writeln!(
            h,
            "<line x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\" stroke=\"#d5281b\" stroke-width=\"1.5\" \
             stroke-dasharray=\"7 5\"/><text x=\"{lx}\" y=\"{ly:.1}\" font-weight=\"700\" \
             fill=\"#d5281b\">{label}</text>",
            lx = RIGHT + 8.0,
            ly = ty + 4.5,
            label = escape(&fill(l.target_short, &format!("{target}"))),
        );
    }

    // Boards first, Wales last so the bold line sits on top.
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by_key(|&i| is_wales(&series[i].code));
    for i in order {
        series_path(&mut h, &series[i], which, &periods, styles[i]);
    }

    // Legend under the plot, two columns so the long board names fit.
    let col_w = (WIDTH - LEFT) / LEGEND_COLS as f64;
    for (i, s) in series.iter().enumerate() {
        let (colour, width) = styles[i];
        let x = LEFT + (i % LEGEND_COLS) as f64 * col_w;
        let y = BOTTOM + 50.0 + (i / LEGEND_COLS) as f64 * LEGEND_ROW;
        let _ = writeln!(
            h,
            "<line x1=\"{x}\" x2=\"{x2}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"{width}\"/>\
             <text x=\"{tx}\" y=\"{ty}\"{bold}>{text}</text>",
            x2 = x + 30.0,
            tx = x + 40.0,
            ty = y + 4.5,
            bold = if is_wales(&s.code) { " font-weight=\"700\"" } else { "" },
            text = legend_text(s),
        );
    }
    h.push_str("</svg>\n");
    data_table(&mut h, series, which, &periods, l);
    h.push_str("</figure>\n");
    h
}

/// One series as path segments broken at missing months, plus a marker per point so an
/// isolated month between two gaps is still visible.
fn series_path(
    h: &mut String,
    s: &TrendSeries,
    which: Which,
    periods: &[&str],
    (colour, width): (&str, f64),
) {
    let n = periods.len();
    let mut pts: Vec<(usize, Option<f64>)> = s
        .points
        .iter()
        .filter_map(|p| {
            periods
                .binary_search(&p.period.as_str())
                .ok()
                .map(|i| (i, which.pick(p)))
        })
        .collect();
    pts.sort_by_key(|&(i, _)| i);
    let mut d = String::new();
    let mut prev: Option<usize> = None;
    for &(i, v) in &pts {
        let Some(v) = v else {
            prev = None;
            continue;
        };
        // A month absent from this series (present in others) is a gap too.
        let cmd = if prev.is_some_and(|p| p + 1 == i) {
            'L'
        } else {
            'M'
        };
        let _ = write!(d, "{cmd}{:.1} {:.1}", x_of(i, n), y_of(v));
        prev = Some(i);
    }
    let _ = write!(
        h,
        "<g stroke=\"{colour}\" fill=\"{colour}\"><title>{}</title>",
        legend_text(s)
    );
    if !d.is_empty() {
        let _ = write!(
            h,
            "<path d=\"{d}\" fill=\"none\" stroke-width=\"{width}\" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>"
        );
    }
    let r = if width > 3.0 { 4.5 } else { 3.0 };
    for &(i, v) in &pts {
        if let Some(v) = v {
            let _ = write!(
                h,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" stroke=\"none\"/>",
                x_of(i, n),
                y_of(v)
            );
        }
    }
    h.push_str("</g>\n");
}

/// The plotted numbers as an accessible table, collapsed by default to keep the page short.
fn data_table(h: &mut String, series: &[TrendSeries], which: Which, periods: &[&str], l: &Labels) {
    if series.is_empty() || periods.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<details><summary>{}</summary><table class=\"data\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th>",
        escape(l.chart_data),
        escape(which.title(l)),
        escape(l.month)
    );
    for s in series {
        let _ = write!(h, "<th scope=\"col\">{}</th>", escape(&s.name));
    }
    h.push_str("</tr></thead><tbody>\n");
    for p in periods {
        let _ = write!(h, "<tr><th scope=\"row\">{}</th>", escape(p));
        for s in series {
            match s
                .points
                .iter()
                .find(|q| q.period == *p)
                .and_then(|q| which.pick(q))
            {
                Some(v) => {
                    let _ = write!(h, "<td>{v:.1}%</td>");
                }
                None => {
                    let _ = write!(
                        h,
                        "<td>\u{2013}<span class=\"vh\"> {}</span></td>",
                        escape(l.no_data)
                    );
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></details>\n");
}
