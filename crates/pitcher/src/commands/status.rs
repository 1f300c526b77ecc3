//! `pitcher status [component/config ...] [--json]`: one row per flow, from the pid files, the
//! process table and the metrics files the instances write (reference 4.3).
//!
//! States: `removed` (instances run but the configuration is gone), `bad-config`, `disabled`,
//! `stopped`, `hung` (an instance wrote no metrics for runStateThreshold_hung), `partial` (fewer
//! instances than configured), `foreground` (run by hand with `pitcher foreground`), `running`.
//! Counters add up the running instances (since each started); the retry queues are the last
//! counts written, also for stopped flows (the spools persist).

use serde_json::{Value, json};

use crate::cli::Cli;
use crate::supervise::{FlowRef, Survey, expected_instances, hung_for, metrics, select, survey};

#[derive(Default)]
struct Counters {
    received: u64,
    accepted: u64,
    rejected: u64,
    duplicates: u64,
    files: u64,
    bytes: u64,
    posted: u64,
    work_failed: u64,
    post_failed: u64,
    lag_sum: f64,
    lag_max: f64,
    lag_last: f64,
    /// When lag_last was written.
    lag_last_at: f64,
    last_activity: f64,
}

struct Row {
    flow: FlowRef,
    state: &'static str,
    expected: Option<u32>,
    survey: Survey,
    counters: Option<Counters>,
    work_retry: Option<u64>,
    post_retry: Option<u64>,
}

/// `pitcher status`.
pub fn run(cli: &Cli, flows: &[String], as_json: bool) -> anyhow::Result<()> {
    let dir = super::config_dir(cli)?;
    let flows = select(&dir, flows, true)?;
    let mut rows = Vec::new();
    for flow in flows {
        rows.push(row(&dir, flow)?);
    }
    if as_json {
        let v: Vec<Value> = rows.iter().map(to_json).collect();
        println!("{}", serde_json::to_string_pretty(&Value::Array(v))?);
    } else if rows.is_empty() {
        println!("no flows configured in {}", dir.root().display());
    } else {
        print_table(&rows);
    }
    Ok(())
}

fn row(dir: &pitcher_config::ConfigDir, flow: FlowRef) -> anyhow::Result<Row> {
    let s = survey(&flow)?;
    let all_metrics = metrics(&flow)?;
    let mut counters: Option<Counters> = None;
    let (mut work_retry, mut post_retry) = (None::<u64>, None::<u64>);
    for (n, m) in &all_metrics {
        *work_retry.get_or_insert(0) += m.work_retry_queue;
        *post_retry.get_or_insert(0) += m.post_retry_queue;
        let Some(_) = s
            .live
            .iter()
            .find(|l| l.instance == *n && i32::try_from(m.pid).ok() == Some(l.pid))
        else {
            continue;
        };
        let c = counters.get_or_insert_with(Counters::default);
        c.received += m.received;
        c.accepted += m.accepted;
        c.rejected += m.rejected;
        c.duplicates += m.duplicates;
        c.files += m.files;
        c.bytes += m.bytes;
        c.posted += m.posted;
        c.work_failed += m.work_failed;
        c.post_failed += m.post_failed;
        c.lag_sum += m.lag_sum;
        c.lag_max = c.lag_max.max(m.lag_max);
        if m.last_activity >= c.lag_last_at {
            c.lag_last_at = m.last_activity;
            c.lag_last = m.lag_last;
        }
        c.last_activity = c.last_activity.max(m.last_activity);
    }
    if counters.is_none() && s.is_running() {
        counters = Some(Counters::default()); // running, no metrics written yet
    }

    let mut expected = None;
    let state = if !flow.configured {
        "removed"
    } else {
        match flow.load(dir, &[]) {
            Err(e) => {
                eprintln!("pitcher: {}: {e:#}", flow.id());
                "bad-config"
            }
            Ok(loaded) => {
                let want = expected_instances(&loaded);
                expected = Some(want);
                let threshold = loaded.options.run_state_threshold_hung;
                let mut hung = false;
                for l in &s.live {
                    if hung_for(&flow, l, threshold)?.is_some() {
                        hung = true;
                    }
                }
                if flow.is_disabled()? {
                    "disabled"
                } else if !s.is_running() {
                    "stopped"
                } else if hung {
                    "hung"
                } else if (s.live.len() as u64) < u64::from(want) {
                    "partial"
                } else if waiting_for_vip(&flow) {
                    "waitVip"
                } else if s.live.iter().all(|l| l.pid_file.is_none()) {
                    "foreground"
                } else {
                    "running"
                }
            }
        }
    };
    Ok(Row {
        flow,
        state,
        expected,
        survey: s,
        counters,
        work_retry,
        post_retry,
    })
}

/// A poll with `vip` that does not hold it leaves `<component>_<config>_NN.noVip` (sr3 `wVip`).
fn waiting_for_vip(flow: &crate::supervise::FlowRef) -> bool {
    let Ok(dir) = flow.state_dir() else {
        return false;
    };
    let prefix = format!("{}_{}_", flow.component, flow.name);
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(&prefix) && n.ends_with(".noVip")
        })
    })
}

fn to_json(r: &Row) -> Value {
    let c = r.counters.as_ref();
    let num = |f: fn(&Counters) -> u64| c.map(f);
    let real = |f: fn(&Counters) -> f64| c.map(f);
    json!({
        "flow": r.flow.id(),
        "component": r.flow.component.as_str(),
        "config": r.flow.name,
        "state": r.state,
        "running": r.survey.live.len(),
        "expected": r.expected,
        "pids": r.survey.live.iter().map(|l| l.pid).collect::<Vec<_>>(),
        "received": num(|c| c.received),
        "accepted": num(|c| c.accepted),
        "rejected": num(|c| c.rejected),
        "duplicates": num(|c| c.duplicates),
        "files": num(|c| c.files),
        "bytes": num(|c| c.bytes),
        "posted": num(|c| c.posted),
        "work_failed": num(|c| c.work_failed),
        "post_failed": num(|c| c.post_failed),
        "work_retry_queue": r.work_retry,
        "post_retry_queue": r.post_retry,
        "lag_last": real(|c| c.lag_last),
        "lag_max": real(|c| c.lag_max),
        "lag_average": c.map(|c| if c.accepted == 0 { 0.0 } else { c.lag_sum / c.accepted as f64 }),
        "last_activity": real(|c| c.last_activity),
    })
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2}s")
    } else {
        format!("{s:.0}s")
    }
}

fn print_table(rows: &[Row]) {
    const HEAD: [&str; 12] = [
        "Component/Config",
        "State",
        "Run",
        "Received",
        "Accepted",
        "Rejected",
        "Files",
        "Bytes",
        "Posted",
        "Retry",
        "Lag",
        "LagMax",
    ];
    let dash = || "-".to_string();
    let table: Vec<[String; 12]> = rows
        .iter()
        .map(|r| {
            let c = r.counters.as_ref();
            let n = |f: fn(&Counters) -> u64| c.map(|c| f(c).to_string()).unwrap_or_else(dash);
            let retry = match (r.work_retry, r.post_retry) {
                (None, None) => dash(),
                (w, p) => (w.unwrap_or(0) + p.unwrap_or(0)).to_string(),
            };
            [
                r.flow.id(),
                r.state.to_string(),
                format!(
                    "{}/{}",
                    r.survey.live.len(),
                    r.expected
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "?".into())
                ),
                n(|c| c.received),
                n(|c| c.accepted),
                n(|c| c.rejected),
                n(|c| c.files),
                c.map(|c| bytes(c.bytes)).unwrap_or_else(dash),
                n(|c| c.posted),
                retry,
                c.filter(|c| c.accepted > 0)
                    .map(|c| seconds(c.lag_last))
                    .unwrap_or_else(dash),
                c.filter(|c| c.accepted > 0)
                    .map(|c| seconds(c.lag_max))
                    .unwrap_or_else(dash),
            ]
        })
        .collect();
    let mut width = HEAD.map(str::len);
    for r in &table {
        for (w, cell) in width.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            // Names and states left-aligned, numbers right-aligned.
            if i < 2 {
                out.push_str(&format!("{cell:<w$}", w = width[i]));
            } else {
                out.push_str(&format!("{cell:>w$}", w = width[i]));
            }
        }
        out.trim_end().to_string()
    };
    println!("{}", line(&HEAD.map(String::from)));
    for r in &table {
        println!("{}", line(r));
    }
}
