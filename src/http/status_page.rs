//! Server-rendered LPMHSS status page: one self-contained, accessible HTML5 document in English or Welsh.
//!
//! The page is a pure function of [`StatusPage`]: no I/O, no clock, no JavaScript, no external
//! assets, so it works offline, is trivially testable and can be saved or emailed as a file.
//! Labels live in [`super::labels`]; the trend charts are drawn by the `chart` submodule.

use std::fmt::Write as _;

use super::labels::{fill, labels, Labels};

// A child module rather than a sibling so the parent `http` module only has to declare
// `status_page` and `labels`; the path is relative to this file's directory.
#[path = "status_chart.rs"]
mod chart;
#[path = "status_style.rs"]
mod style;
#[path = "status_tables.rs"]
mod tables;
#[cfg(test)]
#[path = "status_page_tests.rs"]
mod tests;

/// Page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Welsh (Cymraeg).
    Cy,
}

impl Lang {
    /// Language from the `lang` query parameter: `cy` (any case) is Welsh, anything else English.
    pub fn from_query(q: Option<&str>) -> Lang {
        match q {
            Some(s) if s.trim().eq_ignore_ascii_case("cy") => Lang::Cy,
            _ => Lang::En,
        }
    }
}

/// Everything the status page shows, already computed and (for names) localised by the caller.
#[derive(Clone, Debug)]
pub struct StatusPage {
    /// Page language.
    pub lang: Lang,
    /// Preformatted generation time, e.g. "2026-11-22 19:00 UTC".
    pub generated_at: String,
    /// Target percentage for both measures, e.g. 80.0.
    pub target_pct: f64,
    /// Last complete month, `YYYY-MM`.
    pub last_complete_month: String,
    /// Current (provisional) month, `YYYY-MM`.
    pub current_month: String,
    /// The seven boards then WALES, in display order.
    pub boards: Vec<BoardStatus>,
    /// WALES first, then boards; up to 12 monthly points each, oldest first.
    pub trend: Vec<TrendSeries>,
    /// Date of the waiting list, `YYYY-MM-DD`.
    pub waiting_on: String,
    /// The seven boards then WALES.
    pub waiting: Vec<WaitingStatus>,
}

/// One board's (or Wales's) performance and feed state.
#[derive(Clone, Debug)]
pub struct BoardStatus {
    /// ODS code such as "7A1", or "WALES".
    pub code: String,
    /// Name in the page language.
    pub name: String,
    /// Last complete month: `all`, `under_18`, `18_plus`, in that order.
    pub last_complete: Vec<AgeFigures>,
    /// Current month, same shape as `last_complete`.
    pub current: Vec<AgeFigures>,
    /// Preformatted time of the newest landed event; `None` if none ever landed.
    pub last_event_at: Option<String>,
    /// Seconds since that event; `None` if none ever landed.
    pub feed_age_seconds: Option<f64>,
    /// Whether the caller judged the feed silent for longer than the threshold.
    pub feed_silent: bool,
}

/// Both measures for one age group.
#[derive(Clone, Debug)]
pub struct AgeFigures {
    /// `all`, `under_18` or `18_plus`.
    pub age_group: String,
    /// Part 1a.
    pub assessment: Measure,
    /// Part 1b.
    pub intervention: Measure,
}

/// One waiting-time measure as in the official table.
#[derive(Clone, Debug)]
pub struct Measure {
    /// Count within 28 days.
    pub within_28: u64,
    /// Total count.
    pub total: u64,
    /// Percentage exactly as in the official CSV (e.g. "68.4"); `None` when `total` is 0.
    pub pct: Option<String>,
}

/// Monthly percentages for one board (or Wales).
#[derive(Clone, Debug)]
pub struct TrendSeries {
    /// ODS code or "WALES"; "WALES" is drawn bold.
    pub code: String,
    /// Name in the page language.
    pub name: String,
    /// Oldest first.
    pub points: Vec<TrendPoint>,
}

/// One month of a trend series.
#[derive(Clone, Debug)]
pub struct TrendPoint {
    /// `YYYY-MM`.
    pub period: String,
    /// Part 1a percentage; `None` leaves a gap.
    pub assessment_pct: Option<f64>,
    /// Part 1b percentage; `None` leaves a gap.
    pub intervention_pct: Option<f64>,
}

/// Waiting list for one board (or Wales), age group `all`, on [`StatusPage::waiting_on`].
#[derive(Clone, Debug)]
pub struct WaitingStatus {
    /// ODS code or "WALES".
    pub code: String,
    /// Name in the page language.
    pub name: String,
    /// Everyone waiting for assessment.
    pub assessment_waiting: u64,
    /// Of those, waiting over 28 days.
    pub assessment_over_28: u64,
    /// Of those, waiting 22–28 days (pass 28 within a week unless seen).
    pub assessment_breach_within_7_days: u64,
    /// Everyone waiting for intervention.
    pub intervention_waiting: u64,
    /// Of those, waiting over 28 days.
    pub intervention_over_28: u64,
    /// Of those, waiting 22–28 days.
    pub intervention_breach_within_7_days: u64,
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether a code denotes the all-Wales total (styled apart from the boards).
pub(crate) fn is_wales(code: &str) -> bool {
    code.eq_ignore_ascii_case("WALES")
}

/// Red/amber/green status of a percentage against the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rag {
    Green,
    Amber,
    Red,
    NoData,
}

impl Rag {
    /// Green at or above target, amber within 10 points below, red further below. The official
    /// string is parsed rather than recomputed from counts so the colour always agrees with the
    /// figure printed next to it.
    fn of(pct: Option<&str>, target: f64) -> Rag {
        match pct
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
        {
            None => Rag::NoData,
            Some(v) if v >= target => Rag::Green,
            Some(v) if v >= target - 10.0 => Rag::Amber,
            Some(_) => Rag::Red,
        }
    }

    /// CSS class, symbol and text label: the symbol and text carry the meaning for anyone who
    /// cannot distinguish the colours.
    fn parts(self, l: &Labels) -> (&'static str, &'static str, &'static str) {
        match self {
            Rag::Green => ("rag-g", "\u{2713}", l.green),
            Rag::Amber => ("rag-a", "\u{25B2}", l.amber),
            Rag::Red => ("rag-r", "\u{2715}", l.red),
            Rag::NoData => ("rag-n", "\u{2013}", l.no_data),
        }
    }
}

/// Renders the whole page as one HTML5 document.
pub fn render(page: &StatusPage) -> String {
    let l = labels(page.lang);
    let target = format!("{}", page.target_pct);
    let mut h = String::with_capacity(96 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{css}</style>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">{skip}</a>\n\
         <header><div class=\"wrap bar\"><span class=\"org\">{org}</span>{switch}</div></header>\n\
         <div class=\"hero\"><div class=\"wrap\"><h1>{title}</h1><p class=\"sub\">{sub}</p>\
         <p class=\"def\">{d1a}</p><p class=\"def\">{d1b}</p><p class=\"target\">{tgt}</p></div></div>\n\
         <main id=\"main\" class=\"wrap\">\n",
        lang = l.lang_code,
        title = escape(l.title),
        css = style::CSS,
        skip = escape(l.skip_link),
        org = escape(l.org),
        switch = lang_switch(l),
        sub = escape(l.subtitle),
        d1a = escape(l.part_1a_desc),
        d1b = escape(l.part_1b_desc),
        tgt = escape(&fill(l.target_sentence, &target)),
    );
    perf_section(&mut h, page, l, &target);
    trend_section(&mut h, page, l);
    tables::waiting_section(&mut h, page, l);
    tables::feed_section(&mut h, page, l);
    let _ = write!(
        h,
        "</main>\n<footer><div class=\"wrap\"><p>{gen}</p><p>{note}</p>{switch}</div></footer>\n</body>\n</html>\n",
        gen = escape(&fill(l.generated, &page.generated_at)),
        note = escape(l.source_note),
        switch = lang_switch(l),
    );
    h
}

/// Link to the same page in the other language, marked with that language for screen readers.
fn lang_switch(l: &Labels) -> String {
    format!(
        "<nav class=\"lang\" aria-label=\"{label}\"><a href=\"{q}\" hreflang=\"{c}\" lang=\"{c}\">{name}</a></nav>",
        label = escape(l.switch_label),
        q = l.other_lang_query,
        c = l.other_lang_code,
        name = escape(l.other_lang_name),
    )
}

/// Board header cell content: name with the code underneath, as operational staff use codes.
fn board_label(code: &str, name: &str) -> String {
    format!(
        "{}<span class=\"code\">{}</span>",
        escape(name),
        escape(code)
    )
}

fn perf_section(h: &mut String, page: &StatusPage, l: &Labels, target: &str) {
    let _ = write!(
        h,
        "<section aria-labelledby=\"perf-h\"><h2 id=\"perf-h\">{heading}</h2>\
         <p class=\"note\">{key} {counts}</p>\n<table class=\"perf\"><caption>{caption}</caption>\
         <colgroup><col class=\"c-board\"><col class=\"c-age\"></colgroup>\
         <colgroup span=\"2\"></colgroup><colgroup span=\"2\" class=\"prov\"></colgroup>\n<thead><tr>\
         <th scope=\"col\" rowspan=\"2\">{board}</th><th scope=\"col\" rowspan=\"2\">{age}</th>\
         <th scope=\"colgroup\" colspan=\"2\" class=\"grp gs\">{last}</th>\
         <th scope=\"colgroup\" colspan=\"2\" class=\"grp gs prov\">{cur}</th></tr>\n<tr>",
        heading = escape(l.perf_heading),
        key = escape(&fill(l.rag_key, target)),
        counts = escape(l.counts_note),
        caption = escape(&format!("{} ({})", l.perf_caption, l.rag_name)),
        board = escape(l.board),
        age = escape(l.age_group),
        last = escape(&fill(l.last_complete, &page.last_complete_month)),
        cur = escape(&fill(l.current_provisional, &page.current_month)),
    );
    for prov in ["", " prov"] {
        let _ = write!(
            h,
            "<th scope=\"col\" class=\"mh gs{prov}\">{}</th><th scope=\"col\" class=\"mh{prov}\">{}</th>",
            escape(l.assessments_28),
            escape(l.interventions_28)
        );
    }
    h.push_str("</tr></thead>\n");
    for b in &page.boards {
        // One row per age group; tolerate ragged input rather than panicking in a status page.
        let rows = b.last_complete.len().max(b.current.len()).max(1);
        let class = if is_wales(&b.code) {
            "board wales"
        } else {
            "board"
        };
        let _ = write!(h, "<tbody class=\"{class}\">");
        for i in 0..rows {
            let (last, cur) = (b.last_complete.get(i), b.current.get(i));
            let age = last.or(cur).map_or("", |f| l.age(&f.age_group));
            h.push_str("<tr>");
            if i == 0 {
                let _ = write!(
                    h,
                    "<th scope=\"rowgroup\" rowspan=\"{rows}\" class=\"bname\">{}</th>",
                    board_label(&b.code, &b.name)
                );
            }
            let _ = write!(h, "<th scope=\"row\" class=\"age\">{}</th>", escape(age));
            // `gs` starts a column group (a divider line); `prov` shades the provisional month.
            for (fig, prov) in [(last, ""), (cur, " prov")] {
                let (a, i) = (fig.map(|f| &f.assessment), fig.map(|f| &f.intervention));
                measure_cell(h, a, &format!("m gs{prov}"), page.target_pct, l);
                measure_cell(h, i, &format!("m{prov}"), page.target_pct, l);
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n");
    }
    h.push_str("</table></section>\n");
}

/// Percentage exactly as published, its RAG badge, and the counts it came from.
fn measure_cell(h: &mut String, m: Option<&Measure>, td_class: &str, target: f64, l: &Labels) {
    let pct = m.and_then(|m| m.pct.as_deref());
    let (class, symbol, text) = Rag::of(pct, target).parts(l);
    let shown = match pct {
        Some(p) => format!("{}%", escape(p.trim())),
        None => "\u{2014}".to_string(),
    };
    let (within, total) = m.map_or((0, 0), |m| (m.within_28, m.total));
    let _ = write!(
        h,
        "<td class=\"{td_class}\"><div class=\"mv\"><span class=\"pct\">{shown}</span>\
         <span class=\"rag {class}\"><span aria-hidden=\"true\">{symbol}</span> {text}</span></div>\
         <span class=\"cnt\">{w}/{t}</span></td>",
        text = escape(text),
        w = tables::group(within),
        t = tables::group(total),
    );
}

fn trend_section(h: &mut String, page: &StatusPage, l: &Labels) {
    let _ = writeln!(
        h,
        "<section aria-labelledby=\"trend-h\"><h2 id=\"trend-h\">{}</h2>",
        escape(l.trend_heading)
    );
    h.push_str(&chart::figure(
        &page.trend,
        chart::Which::Assessment,
        page.target_pct,
        l,
    ));
    h.push_str(&chart::figure(
        &page.trend,
        chart::Which::Intervention,
        page.target_pct,
        l,
    ));
    h.push_str("</section>\n");
}
