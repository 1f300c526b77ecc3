//! From a flow's options to broker endpoints and queue settings.

use std::time::Duration;

use anyhow::{Context, bail};
use pitcher_broker::{Binding, Endpoint, QueueSpec, TlsSettings};
use pitcher_config::{Component, ConfigUrl, Credential, CredentialError, LoadedFlow};

/// Does this flow read a broker queue? (post and watch never do; a poll only with `vip`, to
/// follow its own output.)
pub fn consumes(flow: &LoadedFlow) -> bool {
    match flow.component {
        // A poll with vip subscribes to its own output to keep its nodupe cache current.
        Component::Poll => !flow.options.vip.is_empty(),
        Component::Post | Component::Watch | Component::Cpost => false,
        _ => true,
    }
}

fn endpoint(
    flow: &LoadedFlow,
    url: &ConfigUrl,
    cred: Option<Result<Credential, CredentialError>>,
) -> anyhow::Result<Endpoint> {
    let cred = match cred {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            return Err(e).with_context(|| format!("no usable credentials for {}", url.masked()));
        }
        None => bail!("no broker"),
    };
    let e = Endpoint::parse(cred.expose_url().as_str(), cred.password().as_deref())
        .with_context(|| format!("broker {}", url.masked()))?;
    // amqps/mqtts: sr3's `tlsRigour lax` turns certificate checks off; extra CAs come from
    // SSL_CERT_FILE / SSL_CERT_DIR (docs/brokers.md).
    let lax = flow
        .options
        .tls_rigour
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("lax"));
    Ok(e.with_tls(TlsSettings {
        verify: !lax,
        ..TlsSettings::default()
    }))
}

/// The broker to consume from.
pub fn consumer_endpoint(flow: &LoadedFlow) -> anyhow::Result<Option<Endpoint>> {
    match &flow.options.broker {
        Some(url) => Ok(Some(endpoint(flow, url, flow.broker_credential())?)),
        None => Ok(None),
    }
}

/// The broker to publish to.
pub fn post_endpoint(flow: &LoadedFlow) -> anyhow::Result<Option<Endpoint>> {
    match &flow.options.post_broker {
        Some(url) => Ok(Some(endpoint(flow, url, flow.post_broker_credential())?)),
        None => Ok(None),
    }
}

/// The flow's queue: name, declaration settings and AMQP bindings.
pub fn queue_spec(flow: &LoadedFlow) -> anyhow::Result<QueueSpec> {
    let o = &flow.options;
    let name = o.queue_name.clone().context("no queue name (queueName)")?;
    let default_exchange = o.exchange.clone().unwrap_or_else(|| "xpublic".into());
    let bindings = o
        .bindings
        .iter()
        .map(|b| {
            let mut words: Vec<String> = b.topic_prefix.clone();
            words.extend(b.subtopic.split('/').map(str::to_string));
            Binding {
                exchange: b
                    .exchange
                    .clone()
                    .unwrap_or_else(|| default_exchange.clone()),
                words,
            }
        })
        .collect();
    let secs = |s: f64| (s > 0.0).then(|| Duration::from_secs_f64(s));
    Ok(QueueSpec {
        name,
        declare: o.queue_declare,
        bind: o.queue_bind,
        durable: o.durable,
        auto_delete: o.auto_delete,
        expire: o.expire.and_then(secs),
        message_ttl: secs(o.message_age_max),
        bindings,
        topic_prefix: o.topic_prefix.clone(),
    })
}

/// The flow's network timeout.
pub fn timeout(flow: &LoadedFlow) -> Duration {
    let t = flow.options.timeout;
    if t > 0.0 {
        Duration::from_secs_f64(t.min(3600.0))
    } else {
        Duration::from_secs(300)
    }
}

/// Refuses protocols that are not implemented yet, with a clear message.
pub fn require_amqp(e: &Endpoint) -> anyhow::Result<()> {
    if e.protocol.is_amqp() {
        Ok(())
    } else {
        bail!("{e}: MQTT brokers are not supported by this version of pitcher yet (AMQP only)")
    }
}
