//! Waiting-list and feed-freshness tables of the status page.
//!
//! Split from `status_page.rs` only to keep files short; the parent owns the shared helpers.

use std::fmt::Write as _;

use super::super::labels::{fill, Labels};
use super::{board_label, escape, is_wales, StatusPage};

/// The waiting list on `page.waiting_on`, per board, both stages.
pub(super) fn waiting_section(h: &mut String, page: &StatusPage, l: &Labels) {
    let _ = write!(
        h,
        "<section aria-labelledby=\"wait-h\"><h2 id=\"wait-h\">{heading}</h2>\n\
         <table class=\"wait\"><caption>{caption}</caption>\
         <colgroup><col class=\"c-board\"></colgroup><colgroup span=\"3\"></colgroup><colgroup span=\"3\"></colgroup>\n\
         <thead><tr><th scope=\"col\" rowspan=\"2\">{board}</th>\
         <th scope=\"colgroup\" colspan=\"3\" class=\"grp gs\">{a}</th>\
         <th scope=\"colgroup\" colspan=\"3\" class=\"grp gs\">{i}</th></tr>\n<tr>",
        heading = escape(&fill(l.waiting_heading, &page.waiting_on)),
        caption = escape(&fill(l.waiting_caption, &page.waiting_on)),
        board = escape(l.board),
        a = escape(l.waiting_assessment),
        i = escape(l.waiting_intervention),
    );
    for _ in 0..2 {
        for (col, gs) in [(l.total_waiting, " gs"), (l.over_28, ""), (l.breach_7, "")] {
            let _ = write!(
                h,
                "<th scope=\"col\" class=\"num{gs}\">{}</th>",
                escape(col)
            );
        }
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for w in &page.waiting {
        let class = if is_wales(&w.code) {
            " class=\"wales\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<tr{class}><th scope=\"row\" class=\"bname\">{}</th>",
            board_label(&w.code, &w.name)
        );
        for (k, n) in [
            w.assessment_waiting,
            w.assessment_over_28,
            w.assessment_breach_within_7_days,
            w.intervention_waiting,
            w.intervention_over_28,
            w.intervention_breach_within_7_days,
        ]
        .into_iter()
        .enumerate()
        {
            // Columns 0 and 3 open the assessment and intervention groups.
            let gs = if k % 3 == 0 { " gs" } else { "" };
            let _ = write!(h, "<td class=\"num{gs}\">{}</td>", group(n));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></section>\n");
}

/// Newest landed event per board, with a warning when silent or never heard from.
pub(super) fn feed_section(h: &mut String, page: &StatusPage, l: &Labels) {
    let _ = write!(
        h,
        "<section aria-labelledby=\"feed-h\"><h2 id=\"feed-h\">{heading}</h2>\n\
         <table class=\"feed\"><caption>{caption}</caption><thead><tr>\
         <th scope=\"col\">{board}</th><th scope=\"col\">{last}</th><th scope=\"col\">{since}</th>\
         <th scope=\"col\">{status}</th></tr></thead>\n<tbody>\n",
        heading = escape(l.feed_heading),
        caption = escape(l.feed_caption),
        board = escape(l.board),
        last = escape(l.last_event),
        since = escape(l.since_last),
        status = escape(l.status),
    );
    for b in &page.boards {
        // "Never" outranks "silent": a board that has never sent anything needs onboarding, not a restart.
        let (row, class, symbol, text) = match (&b.last_event_at, b.feed_age_seconds) {
            (Some(_), Some(_)) if !b.feed_silent => ("", "rag-g", "\u{2713}", l.feed_ok),
            (Some(_), Some(_)) => (" class=\"warn\"", "rag-r", "\u{26A0}", l.feed_silent),
            _ => (" class=\"warn\"", "rag-r", "\u{26A0}", l.feed_never),
        };
        let _ = writeln!(
            h,
            "<tr{row}><th scope=\"row\" class=\"bname\">{name}</th><td>{at}</td><td>{age}</td>\
             <td><span class=\"rag {class}\"><span aria-hidden=\"true\">{symbol}</span> {text}</span></td></tr>",
            name = board_label(&b.code, &b.name),
            at = escape(b.last_event_at.as_deref().unwrap_or(l.never)),
            age = escape(&b.feed_age_seconds.map_or_else(|| l.never.to_string(), |s| l.duration(s))),
            text = escape(text),
        );
    }
    h.push_str("</tbody></table></section>\n");
}

/// Thousands separators: "12,345" reads the same in English and Welsh.
pub(super) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
