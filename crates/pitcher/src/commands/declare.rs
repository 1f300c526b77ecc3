//! `pitcher declare component/config ...`: create what a flow needs on its brokers — its queue and
//! bindings, its post exchanges, and the exchanges admin.conf declares (`declare exchange X`, and
//! `xs_<user>`/`xr_<user>` for `declare source|subscriber <user>`, with the admin or feeder account).

use anyhow::Context;
use pitcher_broker::amqp::{AmqpConsumer, AmqpPublisher};
use pitcher_broker::mqtt::MqttConsumer;
use pitcher_broker::{Endpoint, Publisher};
use tracing::warn;

use super::load_flows;
use crate::brokers::{
    consumer_endpoint, consumes, post_endpoint, queue_spec, require_amqp, timeout,
};
use crate::cli::Cli;
use crate::state::settle_queue_name;

pub fn run(cli: &Cli, args: &[String]) -> anyhow::Result<()> {
    let flows = load_flows(cli, args)?;
    let rt = super::runtime()?;
    for mut flow in flows {
        let id = flow.id();
        rt.block_on(declare_flow(&mut flow))
            .with_context(|| format!("declare {id}"))?;
    }
    Ok(())
}

async fn declare_flow(flow: &mut pitcher_config::LoadedFlow) -> anyhow::Result<()> {
    let t = timeout(flow);
    // Exchanges first, so the queue can be bound to them.
    if let Some(post) = post_endpoint(flow)? {
        // MQTT has no exchanges: topics exist as they are used.
        if post.protocol.is_amqp() && flow.options.exchange_declare {
            let mut p =
                AmqpPublisher::new(post.clone(), t, format!("pitcher-declare-{}", flow.id()));
            for x in flow.options.post_exchanges() {
                p.declare_exchange(&x).await?;
                println!("declared exchange {x} on {post}");
            }
            p.close().await;
        }
    }
    declare_admin_exchanges(flow, t).await?;
    if consumes(flow)
        && let Some(broker) = consumer_endpoint(flow)?
    {
        let queue_name = settle_queue_name(flow)?.context("no queue name")?;
        let spec = queue_spec(flow)?;
        if broker.protocol.is_amqp() {
            let mut c = AmqpConsumer::new(
                broker.clone(),
                spec.clone(),
                1,
                t,
                format!("pitcher-declare-{}", flow.id()),
            );
            c.connect().await?;
            c.close().await;
            if spec.declare {
                println!("declared queue {queue_name} on {broker}");
            }
            if spec.bind {
                for b in &spec.bindings {
                    println!(
                        "bound queue {queue_name} to exchange {} with {}",
                        b.exchange,
                        b.amqp_key()
                    );
                }
            }
        } else {
            // One persistent session per instance, each subscribed to the shared filters.
            let instances = u32::try_from(flow.options.instances.clamp(1, 99)).unwrap_or(1);
            for i in 1..=instances {
                let mut c = MqttConsumer::new(broker.clone(), spec.clone(), i, 1, t);
                c.connect().await?;
                c.close().await;
                println!(
                    "declared session {} on {broker}, subscribed to {}",
                    c.client_id(),
                    c.filters().join(" ")
                );
            }
        }
    }
    Ok(())
}

async fn declare_admin_exchanges(
    flow: &pitcher_config::LoadedFlow,
    t: std::time::Duration,
) -> anyhow::Result<()> {
    let o = &flow.options;
    let mut wanted: Vec<String> = o.declared_exchanges.clone();
    for (user, role) in &o.declared_users {
        if role == "source" || role == "subscriber" {
            wanted.push(format!("xs_{user}"));
            wanted.push(format!("xr_{user}"));
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let Some(url) = o.admin.as_ref().or(o.feeder.as_ref()) else {
        warn!(
            "admin.conf declares exchanges or users but names no admin or feeder account: not declaring {}",
            wanted.join(", ")
        );
        return Ok(());
    };
    let cred = flow
        .credentials
        .lookup(url.expose())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("credentials for {}", url.masked()))?;
    let admin = Endpoint::parse(cred.expose_url().as_str(), cred.password().as_deref())?;
    require_amqp(&admin)?;
    let mut p = AmqpPublisher::new(admin.clone(), t, "pitcher-declare-admin");
    for x in wanted {
        p.declare_exchange(&x).await?;
        println!("declared exchange {x} on {admin}");
    }
    Publisher::close(&mut p).await;
    Ok(())
}
