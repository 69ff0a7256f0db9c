//! The read-only commands: `report`, `sql`, `waiting-list`, `breaches`, `data-quality`,
//! `export-statswales`. Each opens an [`Engine`], asks for typed rows and prints them.

use super::publish::{equity_table, monthly_table};
use crate::cli::{BreachesArgs, DataQualityArgs, ExportArgs, ReportArgs, SqlArgs, WaitingListArgs};
use crate::compliance::{
    open_as_of, open_current, DerivationMode, Engine, WaitKind, BREACH_HEADER, FLAGS,
    MONTHLY_HEADER, WAITING_HEADER,
};
use crate::event::reference;
use crate::landing::DataDir;
use crate::output::{write_batches, Cell, Tabular};
use anyhow::bail;
use std::io::Write;
use std::process::ExitCode;

fn stdout() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

/// A session as of `as_of` (derived from the events recorded by then), or over everything
/// committed: the last computation's pathways refreshed with what landed since, when valid.
async fn engine(
    dir: &std::path::Path,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    mode: DerivationMode,
) -> anyhow::Result<Engine> {
    let data_dir = DataDir::new(dir);
    match as_of {
        Some(t) => Ok(open_as_of(&data_dir, t).await?),
        None => Ok(open_current(&data_dir, mode).await?.0),
    }
}

fn check_range(
    from: Option<crate::compliance::Month>,
    to: Option<crate::compliance::Month>,
) -> anyhow::Result<()> {
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            bail!("--from {f} is after --to {t}: give the earlier month first");
        }
    }
    Ok(())
}

/// `lpmhss report`.
pub async fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    check_range(args.from, args.to)?;
    let engine = engine(&args.data.data_dir, args.as_of, args.derivation.mode).await?;
    let kind = if args.adjusted {
        WaitKind::Adjusted
    } else {
        WaitKind::Official
    };
    let table = match args.by {
        Some(dim) => {
            if args.adjusted {
                bail!("--adjusted and --by cannot be combined: run them separately");
            }
            let rows = engine.equity(dim, args.from, args.to).await?;
            equity_table(&rows, args.publish)
        }
        None => {
            let rows = engine.monthly(args.from, args.to, kind).await?;
            monthly_table(&rows, kind, args.publish)
        }
    };
    table.write(args.format, &mut stdout())?;
    Ok(ExitCode::SUCCESS)
}

/// `lpmhss sql`.
pub async fn sql(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let engine = engine(&args.data.data_dir, args.as_of, DerivationMode::Auto).await?;
    engine
        .register_derived(super::files::today_in_wales())
        .await?;
    let (schema, batches) = engine.query(&args.query).await?;
    let mut out = stdout();
    write_batches(schema, &batches, args.format, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `lpmhss waiting-list`.
pub async fn waiting_list(args: WaitingListArgs) -> anyhow::Result<ExitCode> {
    let engine = engine(&args.data.data_dir, args.as_of, DerivationMode::Auto).await?;
    let rows = engine.waiting_list(args.on).await?;
    let mut t = Tabular::new(&WAITING_HEADER);
    for r in rows {
        t.rows.push(vec![
            Cell::Text(r.on_date.format("%Y-%m-%d").to_string()),
            Cell::Text(r.provider_lhb),
            Cell::Text(r.age_group),
            Cell::Text(r.stage),
            Cell::Count(r.within_28),
            Cell::Count(r.from_29_to_56),
            Cell::Count(r.over_56),
            Cell::Count(r.total),
            Cell::Count(r.will_breach_within_7_days),
        ]);
    }
    t.write(args.format, &mut stdout())?;
    Ok(ExitCode::SUCCESS)
}

/// `lpmhss breaches`.
pub async fn breaches(args: BreachesArgs) -> anyhow::Result<ExitCode> {
    if let Some(b) = &args.board {
        if reference::board(b).is_none() {
            bail!("--board {b} is not a health board code: use one of 7A1 … 7A7");
        }
    }
    let engine = engine(&args.data.data_dir, args.as_of, DerivationMode::Auto).await?;
    let rows = engine
        .breaches(args.on, args.within, args.board.as_deref())
        .await?;
    let mut t = Tabular::new(&BREACH_HEADER);
    for r in rows {
        t.rows.push(vec![
            Cell::Text(r.provider_lhb),
            Cell::Text(r.referral_id),
            Cell::Text(r.stage),
            Cell::Text(r.clock_start),
            Cell::Text(r.days_waited.to_string()),
            Cell::Text(r.breach_date),
            Cell::Text(r.days_to_breach.to_string()),
        ]);
    }
    t.write(args.format, &mut stdout())?;
    Ok(ExitCode::SUCCESS)
}

/// `lpmhss data-quality`: every flag per board and month (zeros included for months with
/// activity), then dead letters by reason.
pub async fn data_quality(args: DataQualityArgs) -> anyhow::Result<ExitCode> {
    check_range(args.from, args.to)?;
    let engine = engine(&args.data.data_dir, None, DerivationMode::Auto).await?;
    let in_range = |p: &str| {
        let m = p.parse::<crate::compliance::Month>().ok();
        m.is_some_and(|m| args.from.is_none_or(|f| m >= f) && args.to.is_none_or(|t| m <= t))
    };
    let flags = engine.data_quality().await?;
    let dead = engine.dead_letter_summary().await?;
    let mut t = Tabular::new(&["provider_lhb", "period", "kind", "code", "count"]);
    let mut periods: Vec<String> = flags
        .iter()
        .map(|r| r.period.clone())
        .chain(dead.iter().map(|r| r.period.clone()))
        .filter(|p| in_range(p))
        .collect();
    periods.sort();
    periods.dedup();
    for period in &periods {
        for board in reference::boards() {
            for flag in FLAGS {
                let n = flags
                    .iter()
                    .find(|r| &r.period == period && r.provider_lhb == board.ods && r.flag == flag)
                    .map_or(0, |r| r.pathways);
                t.rows.push(vec![
                    Cell::Text(board.ods.clone()),
                    Cell::Text(period.clone()),
                    Cell::Text("flag".into()),
                    Cell::Text(flag.into()),
                    Cell::Count(n),
                ]);
            }
        }
        for r in dead.iter().filter(|r| &r.period == period) {
            t.rows.push(vec![
                Cell::Text(r.provider_lhb.clone()),
                Cell::Text(r.period.clone()),
                Cell::Text("dead_letter".into()),
                Cell::Text(r.reason.clone()),
                Cell::Count(r.messages),
            ]);
        }
    }
    t.notes.push(
        "flags count pathways by referral month (orphans by event month); dead letters count messages by month received"
            .into(),
    );
    t.write(args.format, &mut stdout())?;
    Ok(ExitCode::SUCCESS)
}

/// `lpmhss export-statswales`: one row per month × area × age group × data item.
pub async fn export_statswales(args: ExportArgs) -> anyhow::Result<ExitCode> {
    check_range(Some(args.from), Some(args.to))?;
    let engine = engine(&args.data.data_dir, None, DerivationMode::Auto).await?;
    let rows = engine
        .monthly(Some(args.from), Some(args.to), WaitKind::Official)
        .await?;
    let items = statswales_items();
    let mut t = Tabular::new(&[
        "period",
        "area_code",
        "area_name",
        "provider_lhb",
        "age_group",
        "data_item",
        "data_item_label",
        "value",
    ]);
    for r in rows {
        let (code, name) = match reference::board(&r.provider_lhb) {
            Some(b) => (b.ons.clone(), b.name.clone()),
            None => (reference::WALES_ONS.to_string(), "Wales".to_string()),
        };
        let age = match r.age_group.as_str() {
            "all" => "All ages",
            "under_18" => "Under 18",
            _ => "18 and over",
        };
        let values = [
            Cell::Count(r.referrals_received),
            Cell::Count(r.assessments.within_28),
            Cell::Count(r.assessments.from_29_to_56),
            Cell::Count(r.assessments.over_56),
            Cell::Count(r.assessments.total),
            Cell::Tenths(r.assessments.pct_within_28_tenths),
            Cell::Count(r.interventions.within_28),
            Cell::Count(r.interventions.from_29_to_56),
            Cell::Count(r.interventions.over_56),
            Cell::Count(r.interventions.total),
            Cell::Tenths(r.interventions.pct_within_28_tenths),
        ];
        for ((item, label), value) in items.iter().zip(values) {
            t.rows.push(vec![
                Cell::Text(r.period.clone()),
                Cell::Text(code.clone()),
                Cell::Text(name.clone()),
                Cell::Text(r.provider_lhb.clone()),
                Cell::Text(age.into()),
                Cell::Text(item.clone()),
                Cell::Text(label.clone()),
                value,
            ]);
        }
    }
    debug_assert_eq!(items.len(), MONTHLY_HEADER.len() - 3);
    t.write(args.format, &mut stdout())?;
    Ok(ExitCode::SUCCESS)
}

fn statswales_items() -> Vec<(String, String)> {
    include_str!("../../config/statswales_items.csv")
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}
