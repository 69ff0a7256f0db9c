//! Every user-visible string of the status page, in English and Welsh (Welsh language Active Offer).
//!
//! Keeping the two languages side by side in one struct means a label cannot be added in one
//! language and forgotten in the other: the compiler insists on both. Templates carry a `{}`
//! placeholder that [`fill`] replaces, because word order differs between English and Welsh.

use super::status_page::Lang;

/// All labels of the status page in one language.
#[derive(Debug)]
pub struct Labels {
    /// BCP 47 code for the `lang` attribute.
    pub lang_code: &'static str,
    /// Issuing organisation shown in the header band.
    pub org: &'static str,
    /// Document and page title.
    pub title: &'static str,
    /// Legislation the measures come from.
    pub subtitle: &'static str,
    /// Definition of Part 1a.
    pub part_1a_desc: &'static str,
    /// Definition of Part 1b.
    pub part_1b_desc: &'static str,
    /// Target sentence; `{}` is the target percentage.
    pub target_sentence: &'static str,
    /// Short target label in charts; `{}` is the target percentage.
    pub target_short: &'static str,
    /// Link text that skips the header for keyboard and screen-reader users.
    pub skip_link: &'static str,
    /// Heading of the performance table.
    pub perf_heading: &'static str,
    /// Caption of the performance table.
    pub perf_caption: &'static str,
    /// Column group: last complete month; `{}` is the month.
    pub last_complete: &'static str,
    /// Column group: current month, provisional; `{}` is the month.
    pub current_provisional: &'static str,
    /// Column header for health board.
    pub board: &'static str,
    /// Column header for age group.
    pub age_group: &'static str,
    /// Age group `all`.
    pub age_all: &'static str,
    /// Age group `under_18`.
    pub age_under_18: &'static str,
    /// Age group `18_plus`.
    pub age_18_plus: &'static str,
    /// Part 1a column header.
    pub assessments_28: &'static str,
    /// Part 1b column header.
    pub interventions_28: &'static str,
    /// Explains the `within/total` figures.
    pub counts_note: &'static str,
    /// Name of the RAG scheme.
    pub rag_name: &'static str,
    /// RAG green.
    pub green: &'static str,
    /// RAG amber.
    pub amber: &'static str,
    /// RAG red.
    pub red: &'static str,
    /// No figure for the period.
    pub no_data: &'static str,
    /// RAG key; `{}` is the target percentage.
    pub rag_key: &'static str,
    /// Heading of the trend section.
    pub trend_heading: &'static str,
    /// Part 1a chart title.
    pub chart_1a: &'static str,
    /// Part 1b chart title.
    pub chart_1b: &'static str,
    /// Text alternative describing the charts.
    pub chart_desc: &'static str,
    /// Shown inside an empty chart.
    pub no_trend: &'static str,
    /// Summary of the collapsible chart-data table.
    pub chart_data: &'static str,
    /// Column header for month.
    pub month: &'static str,
    /// Heading of the waiting list section; `{}` is the date.
    pub waiting_heading: &'static str,
    /// Caption of the waiting list table; `{}` is the date.
    pub waiting_caption: &'static str,
    /// Column group: waiting for assessment.
    pub waiting_assessment: &'static str,
    /// Column group: waiting for intervention.
    pub waiting_intervention: &'static str,
    /// Column header: everyone waiting.
    pub total_waiting: &'static str,
    /// Column header: waiting over 28 days.
    pub over_28: &'static str,
    /// Column header: waits of 22–28 days.
    pub breach_7: &'static str,
    /// Heading of the feed freshness section.
    pub feed_heading: &'static str,
    /// Caption of the feed freshness table.
    pub feed_caption: &'static str,
    /// Column header: time of the newest landed event.
    pub last_event: &'static str,
    /// Column header: time since that event.
    pub since_last: &'static str,
    /// Column header: status.
    pub status: &'static str,
    /// Feed is flowing.
    pub feed_ok: &'static str,
    /// Feed exceeded the silence threshold.
    pub feed_silent: &'static str,
    /// No event ever landed.
    pub feed_never: &'static str,
    /// Placeholder for a missing time.
    pub never: &'static str,
    /// Unit: days.
    pub unit_d: &'static str,
    /// Unit: hours.
    pub unit_h: &'static str,
    /// Unit: minutes.
    pub unit_min: &'static str,
    /// Unit: seconds.
    pub unit_s: &'static str,
    /// Footer; `{}` is the generation time.
    pub generated: &'static str,
    /// Footer note on provenance.
    pub source_note: &'static str,
    /// Accessible name of the language switch.
    pub switch_label: &'static str,
    /// Text of the link to the other language (in that language).
    pub other_lang_name: &'static str,
    /// Query string of the link to the other language.
    pub other_lang_query: &'static str,
    /// `lang` code of the other language, for the link's `hreflang`/`lang`.
    pub other_lang_code: &'static str,
}

/// English labels.
pub const EN: Labels = Labels {
    lang_code: "en",
    org: "NHS Wales Executive",
    title: "Local Primary Mental Health Support Services: waiting times",
    subtitle: "Mental Health (Wales) Measure 2010, Part 1",
    part_1a_desc: "Part 1a: percentage of LPMHSS assessments undertaken within 28 days of the date the referral was received.",
    part_1b_desc: "Part 1b: percentage of therapeutic interventions started within 28 days following an LPMHSS assessment.",
    target_sentence: "Target: {}% for both measures.",
    target_short: "Target {}%",
    skip_link: "Skip to main content",
    perf_heading: "Performance against the 28-day target",
    perf_caption: "Percentage within 28 days by health board and age group",
    last_complete: "Last complete month: {}",
    current_provisional: "Current month (provisional): {}",
    board: "Health board",
    age_group: "Age group",
    age_all: "All ages",
    age_under_18: "Under 18",
    age_18_plus: "18 and over",
    assessments_28: "Part 1a: assessments within 28 days",
    interventions_28: "Part 1b: interventions within 28 days",
    counts_note: "Figures under each percentage are within 28 days / total.",
    rag_name: "Red/Amber/Green",
    green: "Green",
    amber: "Amber",
    red: "Red",
    no_data: "No data",
    rag_key: "Green: at or above {}%. Amber: up to 10 points below. Red: more than 10 points below.",
    trend_heading: "Trend by month",
    chart_1a: "Part 1a: assessments within 28 days (%)",
    chart_1b: "Part 1b: interventions within 28 days (%)",
    chart_desc: "Line chart of the monthly percentage for Wales (bold line) and each health board (thin lines), with the dashed target line.",
    no_trend: "No trend data yet",
    chart_data: "Show chart data as a table",
    month: "Month",
    waiting_heading: "Waiting list on {}",
    waiting_caption: "People waiting on {}, all ages",
    waiting_assessment: "Waiting for assessment",
    waiting_intervention: "Waiting for intervention",
    total_waiting: "Total waiting",
    over_28: "Over 28 days",
    breach_7: "Will pass 28 days within 7 days",
    feed_heading: "Feed freshness",
    feed_caption: "Newest event received from each health board",
    last_event: "Last event received",
    since_last: "Time since last event",
    status: "Status",
    feed_ok: "OK",
    feed_silent: "Warning: feed silent",
    feed_never: "Warning: nothing received",
    never: "Never",
    unit_d: "d",
    unit_h: "h",
    unit_min: "min",
    unit_s: "s",
    generated: "Generated {}",
    source_note: "Current-month figures are provisional and will change as events arrive. Percentages follow the StatsWales method.",
    switch_label: "Language",
    other_lang_name: "Cymraeg",
    other_lang_query: "?lang=cy",
    other_lang_code: "cy",
};

/// Welsh labels.
pub const CY: Labels = Labels {
    lang_code: "cy",
    org: "Gweithrediaeth GIG Cymru",
    title: "Gwasanaethau Cymorth Iechyd Meddwl Sylfaenol Lleol: amseroedd aros",
    subtitle: "Mesur Iechyd Meddwl (Cymru) 2010, Rhan 1",
    part_1a_desc: "Rhan 1a: canran yr asesiadau gan y Gwasanaethau Cymorth Iechyd Meddwl Sylfaenol Lleol a gynhaliwyd o fewn 28 diwrnod i'r dyddiad y daeth yr atgyfeiriad i law.",
    part_1b_desc: "Rhan 1b: canran yr ymyriadau therapiwtig a ddechreuodd o fewn 28 diwrnod yn dilyn asesiad.",
    target_sentence: "Targed: {}% ar gyfer y ddau fesur.",
    target_short: "Targed {}%",
    skip_link: "Neidio i'r prif gynnwys",
    perf_heading: "Perfformiad yn erbyn y targed 28 diwrnod",
    perf_caption: "Canran o fewn 28 diwrnod fesul bwrdd iechyd a grŵp oedran",
    last_complete: "Mis cyflawn diwethaf: {}",
    current_provisional: "Mis presennol (dros dro): {}",
    board: "Bwrdd iechyd",
    age_group: "Grŵp oedran",
    age_all: "Pob oed",
    age_under_18: "O dan 18",
    age_18_plus: "18 a throsodd",
    assessments_28: "Rhan 1a: asesiadau o fewn 28 diwrnod",
    interventions_28: "Rhan 1b: ymyriadau o fewn 28 diwrnod",
    counts_note: "Mae'r ffigurau o dan bob canran yn dangos o fewn 28 diwrnod / cyfanswm.",
    rag_name: "Coch/Ambr/Gwyrdd",
    green: "Gwyrdd",
    amber: "Ambr",
    red: "Coch",
    no_data: "Dim data",
    rag_key: "Gwyrdd: {}% neu uwch. Ambr: hyd at 10 pwynt yn is. Coch: mwy na 10 pwynt yn is.",
    trend_heading: "Tuedd fesul mis",
    chart_1a: "Rhan 1a: asesiadau o fewn 28 diwrnod (%)",
    chart_1b: "Rhan 1b: ymyriadau o fewn 28 diwrnod (%)",
    chart_desc: "Siart llinell o'r ganran fisol ar gyfer Cymru (llinell drwchus) a phob bwrdd iechyd (llinellau tenau), gyda llinell doredig y targed.",
    no_trend: "Dim data tuedd eto",
    chart_data: "Dangos data'r siart fel tabl",
    month: "Mis",
    waiting_heading: "Rhestr aros ar {}",
    waiting_caption: "Pobl yn aros ar {}, pob oed",
    waiting_assessment: "Yn aros am asesiad",
    waiting_intervention: "Yn aros am ymyriad",
    total_waiting: "Cyfanswm yn aros",
    over_28: "Dros 28 diwrnod",
    breach_7: "Bydd yn mynd dros 28 diwrnod o fewn 7 diwrnod",
    feed_heading: "Ffresni'r ffrwd",
    feed_caption: "Y digwyddiad diweddaraf a ddaeth i law gan bob bwrdd iechyd",
    last_event: "Digwyddiad diwethaf a ddaeth i law",
    since_last: "Amser ers y digwyddiad diwethaf",
    status: "Statws",
    feed_ok: "Iawn",
    feed_silent: "Rhybudd: y ffrwd yn dawel",
    feed_never: "Rhybudd: dim wedi dod i law",
    never: "Erioed",
    unit_d: "diwrnod",
    unit_h: "awr",
    unit_min: "mun",
    unit_s: "eil",
    generated: "Crëwyd {}",
    source_note: "Mae ffigurau'r mis presennol dros dro a byddant yn newid wrth i ddigwyddiadau gyrraedd. Mae'r canrannau'n dilyn dull StatsCymru.",
    switch_label: "Iaith",
    other_lang_name: "English",
    other_lang_query: "?lang=en",
    other_lang_code: "en",
};

/// The labels for `lang`.
pub fn labels(lang: Lang) -> &'static Labels {
    match lang {
        Lang::En => &EN,
        Lang::Cy => &CY,
    }
}

/// Replaces the first `{}` in `template` with `value` (templates are ours, so one slot at most).
pub fn fill(template: &str, value: &str) -> String {
    template.replacen("{}", value, 1)
}

impl Labels {
    /// Label for an age-group code (`all`, `under_18`, `18_plus`); unknown codes pass through.
    pub fn age<'a>(&self, code: &'a str) -> &'a str {
        match code {
            "all" => self.age_all,
            "under_18" => self.age_under_18,
            "18_plus" => self.age_18_plus,
            other => other,
        }
    }

    /// A duration in the two largest non-trivial units, e.g. "3 h 12 min" or "2 d 4 h".
    ///
    /// Negative ages (clock skew between boards and us) read as zero rather than alarming anyone;
    /// non-finite input has no sensible reading, so it gets the "never" placeholder.
    pub fn duration(&self, seconds: f64) -> String {
        if !seconds.is_finite() {
            return self.never.to_string();
        }
        // Truncation is intended: an age is shown to the whole second at most.
        let s = seconds.max(0.0) as u64;
        let (d, h, m) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
        if d > 0 {
            format!("{d} {} {h} {}", self.unit_d, self.unit_h)
        } else if h > 0 {
            format!("{h} {} {m} {}", self.unit_h, self.unit_min)
        } else if m > 0 {
            format!("{m} {}", self.unit_min)
        } else {
            format!("{s} {}", self.unit_s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(EN.duration(3.0 * 3600.0 + 12.0 * 60.0 + 5.0), "3 h 12 min");
        assert_eq!(EN.duration(2.0 * 86_400.0 + 4.0 * 3600.0), "2 d 4 h");
        assert_eq!(EN.duration(45.9), "45 s");
        assert_eq!(EN.duration(600.0), "10 min");
        assert_eq!(EN.duration(-5.0), "0 s");
        assert_eq!(EN.duration(f64::NAN), "Never");
        assert_eq!(CY.duration(3.0 * 3600.0 + 12.0 * 60.0), "3 awr 12 mun");
    }

    #[test]
    fn languages_point_at_each_other() {
        assert_eq!(labels(Lang::En).other_lang_code, labels(Lang::Cy).lang_code);
        assert_eq!(labels(Lang::Cy).other_lang_code, labels(Lang::En).lang_code);
        assert_eq!(fill(EN.target_short, "80"), "Target 80%");
    }
}
