//! `pitcher foreground component/config`: run one instance of a flow attached to the terminal,
//! logging to stderr, until interrupted (SIGINT/SIGTERM) or `messageCountMax` is reached; and
//! `pitcher post -c config [path ...]`: announce files once and exit when all are confirmed.

use std::path::PathBuf;

use anyhow::Context;
use pitcher_broker::{AnyConsumer, AnyPublisher};
use pitcher_config::LoadedFlow;
use pitcher_flow::{Instance, RunSummary};
use tokio::sync::watch;

use crate::brokers::{consumer_endpoint, consumes, post_endpoint, queue_spec, timeout};
use crate::state::{flow_dir, settle_queue_name};

/// Build the instance: endpoints, queue (name settled and saved), state directory.
pub fn instance(mut flow: LoadedFlow, n: u32, paths: Vec<PathBuf>) -> anyhow::Result<Instance> {
    let t = timeout(&flow);
    let consumer = if consumes(&flow) {
        match consumer_endpoint(&flow)? {
            Some(broker) => {
                settle_queue_name(&mut flow)?;
                let spec = queue_spec(&flow)?;
                let prefetch = u16::try_from(flow.options.prefetch.clamp(1, 65_535)).unwrap_or(25);
                Some(AnyConsumer::new(
                    broker,
                    spec,
                    n,
                    prefetch,
                    t,
                    format!("pitcher-{}-i{n:02}", flow.id()),
                ))
            }
            None => None,
        }
    } else {
        None
    };
    let publisher = post_endpoint(&flow)?.map(|e| {
        let host = gethostname::gethostname().to_string_lossy().to_string();
        AnyPublisher::new(
            e,
            t,
            format!("pitcher-{}-{}-{host}-i{n:02}", flow.component, flow.name),
        )
    });
    let state_dir = flow_dir(flow.component, &flow.name)?;
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create state directory {}", state_dir.display()))?;
    Ok(Instance {
        flow,
        instance: n,
        state_dir,
        consumer,
        publisher,
        paths,
        progress: crate::progress::enabled().then(|| {
            std::sync::Arc::new(crate::progress::TerminalProgress)
                as std::sync::Arc<dyn pitcher_flow::ProgressSink>
        }),
    })
}

/// A stop signal that turns true on SIGINT or SIGTERM (a second signal exits at once).
pub fn stop_on_signals() -> anyhow::Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
    tokio::spawn(async move {
        for round in 0..2 {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            if round == 0 {
                tracing::info!("signal received: finishing the work in hand, then stopping");
                let _ = tx.send(true);
            } else {
                tracing::warn!(
                    "second signal: exiting now (unacknowledged messages will be redelivered)"
                );
                std::process::exit(crate::cli::exit_code::FAILURE);
            }
        }
    });
    Ok(rx)
}

/// Run one instance until it stops.
pub fn run_flow(flow: LoadedFlow, n: u32, paths: Vec<PathBuf>) -> anyhow::Result<RunSummary> {
    let id = flow.id();
    let rt = super::runtime()?;
    rt.block_on(async move {
        let inst = instance(flow, n, paths)?;
        let stop = stop_on_signals()?;
        pitcher_flow::run(inst, stop)
            .await
            .map_err(anyhow::Error::from)
    })
    .with_context(|| id.to_string())
}

/// `pitcher foreground`.
pub fn run(cli: &crate::cli::Cli, args: &[String], n: u32) -> anyhow::Result<()> {
    let flows = super::load_flows(cli, args)?;
    if flows.len() != 1 {
        return Err(super::UsageProblem(
            "foreground runs exactly one flow (component/config)".into(),
        )
        .into());
    }
    for flow in flows {
        for w in &flow.warnings {
            tracing::warn!("{w}");
        }
        let s = run_flow(flow, n, Vec::new())?;
        tracing::info!("stopped: {:?}", s.reason);
    }
    Ok(())
}

/// `pitcher post -c config [path ...] [--option value ...]`.
pub fn post(cli: &crate::cli::Cli, config: &str, args: &[String]) -> anyhow::Result<()> {
    let (paths, options) = crate::cli::split_flows_and_options(args);
    let dir = super::config_dir(cli)?;
    let name = config.trim_end_matches(".conf");
    let name = name.strip_prefix("post/").unwrap_or(name);
    let flow = dir
        .load_flow(pitcher_config::Component::Post, name, &options)
        .map_err(super::ConfigProblem)?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let paths: Vec<PathBuf> = paths.iter().map(|p| cwd.join(p)).collect();
    if flow.options.post_broker.is_none() {
        return Err(super::UsageProblem(format!(
            "post/{name}: post_broker is not set: nowhere to announce"
        ))
        .into());
    }
    let s = run_flow(flow, 1, paths)?;
    let m = &s.metrics;
    println!(
        "posted {} messages ({} rejected, {} waiting in the post retry queue)",
        m.posted, m.rejected, m.post_retry_queue
    );
    if m.post_retry_queue > 0 {
        anyhow::bail!(
            "{} messages were not confirmed by the broker; they are queued and will be sent by the next run",
            m.post_retry_queue
        );
    }
    Ok(())
}
