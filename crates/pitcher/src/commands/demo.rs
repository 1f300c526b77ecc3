//! `pitcher demo`: a whole pump on loopback in one process — the embedded broker, two HTTP file
//! servers, a `post` of a generated tree, a `sarra` that mirrors and re-announces it, and a
//! `subscribe` that downloads from the mirror — then every delivered file is checked.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pitcher_broker::embedded::{EmbeddedBroker, EmbeddedConfig};
use pitcher_broker::{AnyConsumer, AnyPublisher};
use pitcher_config::{Component, ConfigDir, LoadedFlow};
use pitcher_core::{ChecksumAlgorithm, IdentitySpec};
use pitcher_flow::{Instance, RunSummary};
use tokio::sync::watch;

use crate::brokers::{consumer_endpoint, post_endpoint, queue_spec, timeout};

/// Sizes of the sample files: mostly small, some medium, a few large.
fn sample_size(i: usize) -> usize {
    match i % 20 {
        0 => 2 << 20,
        1..=4 => (64 << 10) | ((i * 37) % 4096),
        _ => 1 + (i * 7919) % 8192,
    }
}

/// A deterministic pseudo-random tree of `n` files in nested directories.
fn make_tree(root: &Path, n: usize) -> anyhow::Result<(usize, u64)> {
    let mut bytes = 0u64;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        let dir = root
            .join(format!("{:04}{:02}{:02}", 2026, 1 + i % 12, 1 + i % 28))
            .join(["WXO-DD", "UKMO", "DWD", "JMA"][i % 4])
            .join(format!("hh{:02}", i % 24));
        std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        let size = sample_size(i);
        let mut data = Vec::with_capacity(size);
        while data.len() < size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        data.truncate(size);
        let p = dir.join(format!("sample_{i:05}.dat"));
        std::fs::write(&p, &data).with_context(|| format!("write {}", p.display()))?;
        bytes += size as u64;
    }
    Ok((n, bytes))
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() && !hidden => out.push(p),
                _ => {}
            }
        }
    }
    out
}

fn sha512(p: &Path) -> anyhow::Result<String> {
    let f = std::fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
    let id = IdentitySpec::Checksum(ChecksumAlgorithm::Sha512)
        .compute(f, 1 << 20)
        .with_context(|| format!("read {}", p.display()))?;
    Ok(id.map(|i| i.value).unwrap_or_default())
}

async fn serve(root: PathBuf, stop: watch::Receiver<bool>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1")?;
    let addr = listener.local_addr().context("listener address")?;
    tokio::spawn(async move {
        let mut stop = stop;
        let shutdown = async move {
            let _ = stop.changed().await;
        };
        if let Err(e) = pitcher_transfer::FileServer::run(root, listener, shutdown).await {
            tracing::error!("file server: {e}");
        }
    });
    Ok(addr)
}

fn instance(flow: LoadedFlow, state: &Path) -> anyhow::Result<Instance> {
    let t = timeout(&flow);
    let consumer = match consumer_endpoint(&flow)? {
        Some(b) if flow.component != Component::Post => Some(AnyConsumer::new(
            b,
            queue_spec(&flow)?,
            1,
            100,
            t,
            format!("demo-{}", flow.component),
        )),
        _ => None,
    };
    let publisher = post_endpoint(&flow)?
        .map(|e| AnyPublisher::new(e, t, format!("demo-{}-post", flow.component)));
    let state_dir = state.join(flow.component.as_str()).join(&flow.name);
    std::fs::create_dir_all(&state_dir).context("state dir")?;
    Ok(Instance {
        flow,
        instance: 1,
        state_dir,
        consumer,
        publisher,
        paths: Vec::new(),
        progress: None,
    })
}

pub fn run(files: usize, keep: Option<PathBuf>) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("pitcher-demo-")
        .tempdir()
        .context("cannot make a temporary directory")?;
    let base = match &keep {
        Some(k) => {
            std::fs::create_dir_all(k).with_context(|| format!("mkdir {}", k.display()))?;
            k.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    let rt = super::runtime()?;
    rt.block_on(demo(&base, files.max(1)))
}

async fn demo(base: &Path, n: usize) -> anyhow::Result<()> {
    let src = base.join("source");
    let mirror = base.join("mirror");
    let dest = base.join("subscriber");
    let conf = base.join("config");
    let state = base.join("state");
    for d in [&src, &mirror, &dest, &conf, &state] {
        std::fs::create_dir_all(d).with_context(|| format!("mkdir {}", d.display()))?;
    }
    let t0 = Instant::now();
    let (count, total_bytes) = make_tree(&src, n)?;
    println!(
        "1/5 generated {count} files ({total_bytes} bytes) in {}",
        src.display()
    );

    let broker = EmbeddedBroker::start(EmbeddedConfig::new(
        "127.0.0.1:0".parse().context("address")?,
        base.join("broker"),
    ))
    .await
    .context("cannot start the embedded broker")?;
    let port = broker.local_addr().port();
    let (stop_tx, stop_rx) = watch::channel(false);
    let src_http = serve(src.clone(), stop_rx.clone()).await?;
    let mirror_http = serve(mirror.clone(), stop_rx.clone()).await?;
    println!(
        "2/5 embedded MQTT broker on 127.0.0.1:{port}; HTTP servers for the source on {src_http} and the mirror on {mirror_http}"
    );

    let b = format!("mqtt://demo:demo@127.0.0.1:{port}");
    let write = |dir: &str, name: &str, text: String| -> anyhow::Result<()> {
        let d = conf.join(dir);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(format!("{name}.conf")), text)?;
        Ok(())
    };
    write(
        "post",
        "demo",
        format!(
            "post_broker {b}\npost_exchange xs_demo\npost_baseUrl http://{src_http}/\npost_baseDir {}\nbatch 100\nlogEvents after_post\n",
            src.display()
        ),
    )?;
    write(
        "sarra",
        "demo",
        format!(
            "broker {b}\nexchange xs_demo\nqueueName q_demo.sarra\nsubtopic #\nbatch 50\ndirectory {m}\nmirror on\npost_broker {b}\npost_exchange xpublic\npost_baseDir {m}\npost_baseUrl http://{mirror_http}/\ntransferConcurrency 8\naccept .*\n",
            m = mirror.display()
        ),
    )?;
    write(
        "subscribe",
        "demo",
        format!(
            "broker {b}\nexchange xpublic\nqueueName q_demo.subscribe\nsubtopic #\nbatch 50\ndirectory {}\nmirror on\ntransferConcurrency 8\naccept .*\n",
            dest.display()
        ),
    )?;
    let dir = ConfigDir::new(&conf);
    let load = |c: Component| {
        dir.load_flow(c, "demo", &[])
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    let mut sarra = instance(load(Component::Sarra)?, &state)?;
    let mut sub = instance(load(Component::Subscribe)?, &state)?;
    // Subscribe before anything is posted, so the sessions hold every message.
    for i in [&mut sarra, &mut sub] {
        if let Some(c) = i.consumer.as_mut() {
            c.connect()
                .await
                .context("consumer cannot connect to the embedded broker")?;
        }
    }
    let sarra_task = tokio::spawn(pitcher_flow::run(sarra, stop_rx.clone()));
    let sub_task = tokio::spawn(pitcher_flow::run(sub, stop_rx.clone()));

    let mut post = instance(load(Component::Post)?, &state)?;
    post.paths = vec![src.clone()];
    let posted: RunSummary = pitcher_flow::run(post, watch::channel(false).1)
        .await
        .context("post")?;
    println!(
        "3/5 posted {} messages ({} waiting for retry)",
        posted.metrics.posted, posted.metrics.post_retry_queue
    );

    let deadline = Instant::now() + Duration::from_secs(60 + n as u64 / 5);
    let bar = crate::progress::count_bar(count as u64, "4/5 delivered");
    let mut have;
    loop {
        have = files_under(&dest).len();
        bar.set_position(have as u64);
        if have >= count || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bar.finish_and_clear();
    println!("4/5 delivered {have}/{count} files to the subscriber");
    let _ = stop_tx.send(true);
    let sarra_sum = sarra_task.await.context("sarra task")?.context("sarra")?;
    let sub_sum = sub_task
        .await
        .context("subscribe task")?
        .context("subscribe")?;
    let _ = broker.shutdown().await;
    let elapsed = t0.elapsed().as_secs_f64();

    // Verify every file: source == mirror == subscriber.
    let mut bad: BTreeMap<String, &str> = BTreeMap::new();
    for f in files_under(&src) {
        let rel = f.strip_prefix(&src).context("prefix")?.to_path_buf();
        let want = sha512(&f)?;
        for (root, what) in [(&mirror, "mirror"), (&dest, "subscriber")] {
            let p = root.join(&rel);
            match sha512(&p) {
                Ok(got) if got == want => {}
                Ok(_) => {
                    bad.insert(
                        format!("{} ({what}: checksum differs)", rel.display()),
                        what,
                    );
                }
                Err(_) => {
                    bad.insert(format!("{} ({what}: missing)", rel.display()), what);
                }
            }
        }
    }
    let m = &sub_sum.metrics;
    println!(
        "5/5 sarra: {} received, {} downloaded, {} posted; subscribe: {} received, {} downloaded ({} bytes)",
        sarra_sum.metrics.received,
        sarra_sum.metrics.files,
        sarra_sum.metrics.posted,
        m.received,
        m.files,
        m.bytes
    );
    println!(
        "summary: {count} files, {total_bytes} bytes through post -> sarra -> subscribe in {elapsed:.1} s ({:.0} files/s, {:.1} MB/s); lag average {:.2} s, maximum {:.2} s",
        count as f64 / elapsed,
        total_bytes as f64 / elapsed / 1e6,
        m.lag_average(),
        m.lag_max
    );
    if !bad.is_empty() {
        for b in bad.keys().take(20) {
            eprintln!("FAILED: {b}");
        }
        bail!("{} of {count} files did not arrive intact", bad.len());
    }
    println!("all {count} files verified (sha512) in the mirror and at the subscriber");
    Ok(())
}
