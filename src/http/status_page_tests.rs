//! Tests for the status page: content, language, escaping, robustness; also writes sample pages.

use super::*;

const CODES: [&str; 8] = ["7A1", "7A2", "7A3", "7A4", "7A5", "7A6", "7A7", "WALES"];
const NAMES_EN: [&str; 8] = [
    "Betsi Cadwaladr University Health Board",
    "Hywel Dda University Health Board",
    "Swansea Bay University Health Board",
    "Cardiff and Vale University Health Board",
    "Cwm Taf Morgannwg University Health Board",
    "Aneurin Bevan University Health Board",
    "Powys Teaching Health Board",
    "Wales",
];
/// Seconds since each board's newest event; 7A5 is silent and 7A7 has never sent anything.
const FEED_AGE: [Option<u64>; 8] = [
    Some(140),
    Some(4_140),
    Some(16_140),
    Some(1_560),
    Some(60_300),
    Some(7_900),
    None,
    Some(140),
];
const NAMES_CY: [&str; 8] = [
    "Bwrdd Iechyd Prifysgol Betsi Cadwaladr",
    "Bwrdd Iechyd Prifysgol Hywel Dda",
    "Bwrdd Iechyd Prifysgol Bae Abertawe",
    "Bwrdd Iechyd Prifysgol Caerdydd a'r Fro",
    "Bwrdd Iechyd Prifysgol Cwm Taf Morgannwg",
    "Bwrdd Iechyd Prifysgol Aneurin Bevan",
    "Bwrdd Iechyd Addysgu Powys",
    "Cymru",
];

/// Half-up to one decimal, as the official table.
fn measure(within: u64, total: u64) -> Measure {
    let pct = (total > 0).then(|| {
        let tenths = (2000 * within + total) / (2 * total);
        format!("{}.{}", tenths / 10, tenths % 10)
    });
    Measure {
        within_28: within,
        total,
        pct,
    }
}

fn ages(seed: u64) -> Vec<AgeFigures> {
    let mk = |g: &str, a: (u64, u64), i: (u64, u64)| AgeFigures {
        age_group: g.into(),
        assessment: measure(a.0, a.1),
        intervention: measure(i.0, i.1),
    };
    let s = seed % 7;
    vec![
        mk("all", (273 + 9 * s, 399), (92 - s, 93 + 2 * s)),
        mk("under_18", (55 + 20 * s, 325), (30 + s, 41)),
        mk("18_plus", (218 - 11 * s + 40, 290), (62 - 2 * s, 75)),
    ]
}

fn sample(lang: Lang) -> StatusPage {
    let names = if lang == Lang::Cy { NAMES_CY } else { NAMES_EN };
    let boards = (0..8)
        .map(|i| {
            let mut current = ages(i as u64 + 3);
            if i == 6 {
                // Powys: nobody under 18 started an intervention yet this month.
                current[1].intervention = measure(0, 0);
            }
            BoardStatus {
                code: CODES[i].into(),
                name: names[i].into(),
                last_complete: ages(i as u64),
                current,
                last_event_at: FEED_AGE[i].map(|age| {
                    // Clock time of the event, counting back from 19:00 on the same day.
                    let min = 19 * 60 - age / 60;
                    format!("2026-11-22 {:02}:{:02} UTC", min / 60, min % 60)
                }),
                feed_age_seconds: FEED_AGE[i].map(|age| age as f64),
                feed_silent: i == 4,
            }
        })
        .collect();
    let months: Vec<String> = (0..12)
        .map(|m| {
            let (y, mo) = if m == 0 { (2025, 12) } else { (2026, m) };
            format!("{y}-{mo:02}")
        })
        .collect();
    let mut seed = 7_u64;
    let mut next = move |base: f64, spread: f64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        base + ((seed >> 33) % 1000) as f64 / 1000.0 * spread - spread / 2.0
    };
    let order = [7, 0, 1, 2, 3, 4, 5, 6];
    let trend = order
        .iter()
        .map(|&i| TrendSeries {
            code: CODES[i].into(),
            name: names[i].into(),
            points: months
                .iter()
                .enumerate()
                .map(|(m, p)| TrendPoint {
                    period: p.clone(),
                    assessment_pct: (!(i == 6 && (4..=5).contains(&m)))
                        .then(|| next(if i == 7 { 72.0 } else { 62.0 + 4.0 * i as f64 }, 18.0)),
                    intervention_pct: (!(i == 2 && m == 8))
                        .then(|| next(if i == 7 { 84.0 } else { 78.0 + i as f64 }, 16.0)),
                })
                .collect(),
        })
        .collect();
    let waiting = (0..8)
        .map(|i| {
            let k = if i == 7 { 28 } else { i as u64 + 1 };
            WaitingStatus {
                code: CODES[i].into(),
                name: names[i].into(),
                assessment_waiting: 180 * k + 37,
                assessment_over_28: 31 * k,
                assessment_breach_within_7_days: 12 * k + 3,
                intervention_waiting: 95 * k,
                intervention_over_28: 17 * k + 1,
                intervention_breach_within_7_days: 6 * k,
            }
        })
        .collect();
    StatusPage {
        lang,
        generated_at: "2026-11-22 19:00 UTC".into(),
        target_pct: 80.0,
        last_complete_month: "2026-10".into(),
        current_month: "2026-11".into(),
        boards,
        trend,
        waiting_on: "2026-11-22".into(),
        waiting,
    }
}

#[test]
fn sample_page_has_every_board_name_and_pct() {
    for lang in [Lang::En, Lang::Cy] {
        let page = sample(lang);
        let html = render(&page);
        assert!(html.starts_with("<!DOCTYPE html>"));
        for b in &page.boards {
            assert!(html.contains(&b.code), "{}", b.code);
            assert!(html.contains(&escape(&b.name)), "{}", b.name);
            for f in b.last_complete.iter().chain(&b.current) {
                for m in [&f.assessment, &f.intervention] {
                    if let Some(p) = &m.pct {
                        assert!(html.contains(&format!(">{p}%<")), "{p}");
                    }
                    assert!(html.contains(&format!("{}/{}", m.within_28, m.total)));
                }
            }
        }
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("NaN"));
    }
}

#[test]
fn welsh_page_is_welsh() {
    let html = render(&sample(Lang::Cy));
    assert!(html.contains("<html lang=\"cy\">"));
    for label in [
        "Gwasanaethau Cymorth Iechyd Meddwl Sylfaenol Lleol",
        "Mis cyflawn diwethaf",
        "Mis presennol (dros dro)",
        "Pob oed",
        "O dan 18",
        "18 a throsodd",
        "Coch/Ambr/Gwyrdd",
        "Dim data",
        "Rhestr aros",
        "Targed",
        "Ffresni&#39;r ffrwd",
        "Cymru",
    ] {
        assert!(html.contains(label), "{label}");
    }
    assert!(html.contains("href=\"?lang=en\"") && html.contains(">English</a>"));
    assert!(!html.contains("Last complete month"));
    let en = render(&sample(Lang::En));
    assert!(
        en.contains("<html lang=\"en\">")
            && en.contains("href=\"?lang=cy\"")
            && en.contains(">Cymraeg</a>")
    );
}

#[test]
fn interpolated_text_is_escaped() {
    let mut page = sample(Lang::En);
    page.boards[0].name = "Evil <b>&\"Co\"</b>".into();
    page.trend[1].name = "Evil <b>&</b>".into();
    page.waiting[0].name = "<img src=x>".into();
    page.generated_at = "<now>".into();
    let html = render(&page);
    assert!(html.contains("Evil &lt;b&gt;&amp;&quot;Co&quot;&lt;/b&gt;"));
    assert!(html.contains("Evil &lt;b&gt;&amp;&lt;/b&gt;"));
    assert!(html.contains("&lt;img src=x&gt;") && !html.contains("<img"));
    assert!(!html.contains("<b>") && !html.contains("<now>"));
}

#[test]
fn missing_pct_is_no_data_not_nan() {
    let mut page = sample(Lang::En);
    page.boards[0].last_complete[0].assessment = measure(0, 0);
    page.trend[0].points[0].assessment_pct = Some(f64::NAN);
    let html = render(&page);
    assert!(html.contains("rag-n") && html.contains("No data"));
    assert!(!html.contains("NaN") && !html.contains("None"));
}

#[test]
fn empty_or_ragged_input_renders() {
    let mut page = sample(Lang::En);
    page.trend.clear();
    page.boards[1].current.clear();
    page.boards[2].last_complete.clear();
    page.boards[2].current.clear();
    let html = render(&page);
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("No trend data yet"));
    page.boards.clear();
    page.waiting.clear();
    page.trend = vec![TrendSeries {
        code: "WALES".into(),
        name: "Wales".into(),
        points: vec![],
    }];
    assert!(render(&page).ends_with("</html>\n"));
}

#[test]
fn rag_thresholds_and_feed_states() {
    assert_eq!(Rag::of(Some("80.0"), 80.0), Rag::Green);
    assert_eq!(Rag::of(Some("79.9"), 80.0), Rag::Amber);
    assert_eq!(Rag::of(Some("70.0"), 80.0), Rag::Amber);
    assert_eq!(Rag::of(Some("69.9"), 80.0), Rag::Red);
    assert_eq!(Rag::of(None, 80.0), Rag::NoData);
    assert_eq!(Rag::of(Some("x"), 80.0), Rag::NoData);
    let html = render(&sample(Lang::En));
    assert!(html.contains("Warning: feed silent") && html.contains("Warning: nothing received"));
    assert!(
        html.contains("4 h 29 min"),
        "age of 7A3 formatted in hours and minutes"
    );
    assert_eq!(tables::group(1_234_567), "1,234,567");
    assert_eq!(tables::group(999), "999");
}

#[test]
fn lang_from_query() {
    assert_eq!(Lang::from_query(Some("cy")), Lang::Cy);
    assert_eq!(Lang::from_query(Some("CY")), Lang::Cy);
    assert_eq!(Lang::from_query(Some("en")), Lang::En);
    assert_eq!(Lang::from_query(Some("fr")), Lang::En);
    assert_eq!(Lang::from_query(None), Lang::En);
}

/// Writes both languages for visual review (`chromium --headless --screenshot`).
#[test]
fn write_sample_pages() {
    let dir = std::env::temp_dir().join("pagecheck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("sample.html"), render(&sample(Lang::En))).unwrap();
    std::fs::write(dir.join("sample_cy.html"), render(&sample(Lang::Cy))).unwrap();
}
