//! Derived values and validation after all layers are parsed (reference 3.7, sr3 `finalize()`).

use std::collections::HashMap;

use crate::component::Component;
use crate::credentials::CredentialDb;
use crate::env::Environment;
use crate::error::{ConfigError, ConfigWarning, Origin, echo};
use crate::expand::{Mode, NamedVars, broker_user, expand_core, url_path};
use crate::options::{Binding, Options};

/// What finalize needs besides the options.
#[derive(Clone, Copy, Debug)]
pub struct FinalizeContext<'a> {
    /// The flow's component.
    pub component: Component,
    /// The flow's name.
    pub config: &'a str,
    /// Host name and environment (for the queue name).
    pub env: &'a Environment,
    /// Credentials, to find broker user names not written in the URL.
    pub creds: Option<&'a CredentialDb>,
}

/// The default queue name: `q_<brokerUser>.<component>.<config>.<queueShare>`.
pub fn default_queue_name(
    broker_user: &str,
    component: Component,
    config: &str,
    queue_share: &str,
) -> String {
    format!("q_{broker_user}.{component}.{config}.{queue_share}")
}

/// The default exchange for a broker user: `xpublic` for `anonymous`, else
/// `xs_<user>[_<suffix>]`.
pub fn default_exchange(user: &str, suffix: Option<&str>) -> String {
    if user == "anonymous" {
        "xpublic".to_string()
    } else {
        user_exchange(user, suffix)
    }
}

fn user_exchange(user: &str, suffix: Option<&str>) -> String {
    match suffix {
        Some(s) => format!("xs_{user}_{s}"),
        None => format!("xs_{user}"),
    }
}

impl Options {
    /// Fill in derived values and validate (see [`finalize`]). Validation errors name the
    /// flow, since no file:line is known here.
    pub fn finalize(
        &mut self,
        ctx: &FinalizeContext<'_>,
    ) -> Result<Vec<ConfigWarning>, ConfigError> {
        finalize(self, ctx, &HashMap::new())
    }
}

fn check_choice(
    value: &mut Option<String>,
    name: &'static str,
    choices: &[&str],
    origin: Origin,
) -> Result<(), ConfigError> {
    let Some(v) = value.as_mut() else {
        return Ok(());
    };
    let lower = v.to_ascii_lowercase();
    if choices.contains(&lower.as_str()) {
        *v = lower;
        Ok(())
    } else {
        Err(ConfigError::bad_value(
            origin,
            name,
            format!("one of {}", choices.join(", ")),
            v,
        ))
    }
}

/// Derived values (reference 3.7) and validation. `origins` tells where each option was set,
/// so errors can name file:line.
pub(crate) fn finalize(
    o: &mut Options,
    ctx: &FinalizeContext<'_>,
    origins: &HashMap<&'static str, Origin>,
) -> Result<Vec<ConfigWarning>, ConfigError> {
    let flow = format!("{}/{}", ctx.component, ctx.config);
    let derived = Origin::Derived(flow.clone());
    let at = |name: &str| {
        origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| derived.clone())
    };
    let mut warnings = Vec::new();

    check_choice(
        &mut o.inline_encoding,
        "inlineEncoding",
        &["guess", "text", "binary"],
        at("inlineEncoding"),
    )?;
    check_choice(
        &mut o.post_format,
        "post_format",
        &["v02", "v03", "wis"],
        at("post_format"),
    )?;
    check_choice(
        &mut o.tls_rigour,
        "tlsRigour",
        &["lax", "normal", "strict"],
        at("tlsRigour"),
    )?;
    check_choice(
        &mut o.nodupe_basis,
        "nodupe_basis",
        &[
            "path",
            "name",
            "data",
            "data_only",
            "path_only",
            "name_only",
        ],
        at("nodupe_basis"),
    )?;
    check_choice(
        &mut o.nodupe_driver,
        "nodupe_driver",
        &["disk", "redis"],
        at("nodupe_driver"),
    )?;
    check_choice(
        &mut o.retry_driver,
        "retry_driver",
        &["disk", "redis"],
        at("retry_driver"),
    )?;
    check_choice(
        &mut o.log_level,
        "logLevel",
        &[
            "debug", "info", "warning", "warn", "error", "critical", "notset", "none",
        ],
        at("logLevel"),
    )?;
    if o.log_level.as_deref() == Some("none") {
        o.log_level = Some("critical".to_string());
    }

    // poll: the broker is the post broker unless given (sr3 one_config).
    if ctx.component == Component::Poll && o.broker.is_none() {
        o.broker = o.post_broker.clone();
    }

    if o.retry_ttl.is_none() {
        o.retry_ttl = o.expire;
    }
    if o.retry_ttl == Some(0.0) {
        o.retry_ttl = None;
    }

    let user = broker_user(o.broker.as_ref(), ctx.creds);
    let post_user = broker_user(o.post_broker.as_ref(), ctx.creds);

    if o.post_broker.is_some()
        && o.post_exchange.is_none()
        && let Some(u) = &post_user
    {
        o.post_exchange = Some(user_exchange(u, o.post_exchange_suffix.as_deref()));
    }

    // The exchange when none is given: a poll consumes its own posts; others xpublic/xs_<user>.
    let default_x = if ctx.component == Component::Poll && o.post_exchange.is_some() {
        o.post_exchange.clone()
    } else {
        user.as_deref()
            .map(|u| default_exchange(u, o.exchange_suffix.as_deref()))
    };
    if o.exchange.is_none() {
        o.exchange = default_x.clone();
    }

    if o.source.is_none() && !o.source_from_exchange {
        o.source = post_user.clone().or_else(|| user.clone());
    }

    // A subtopic before any exchange line binds to the default exchange.
    for b in &mut o.bindings {
        if b.exchange.is_none() {
            b.exchange = default_x.clone();
        }
    }
    if o.bindings.is_empty() && o.broker.is_some() && o.exchange.is_some() {
        o.bindings.push(Binding {
            exchange: o.exchange.clone(),
            topic_prefix: o.topic_prefix.clone(),
            subtopic: "#".to_string(),
        });
    }

    if o.post_topic_prefix.is_none() {
        o.post_topic_prefix = Some(o.topic_prefix.clone());
    }
    if let Some(first) = o.post_topic_prefix.as_ref().and_then(|p| p.first())
        && (first == "v02" || first == "v03")
    {
        o.post_format = Some(first.clone());
    }

    if o.message_count_max > 0 && o.batch > o.message_count_max {
        o.batch = o.message_count_max;
    }

    if ctx.component == Component::Poll
        && o.scheduled_interval == 0.0
        && o.scheduled_hour.is_empty()
        && o.scheduled_minute.is_empty()
        && o.scheduled_time.is_empty()
        && o.sleep > 1.0
    {
        o.scheduled_interval = o.sleep;
        o.sleep = 1.0;
    }

    if let Some(u) = &user {
        let expanded = {
            let vars = NamedVars {
                opts: o,
                program: ctx.component.as_str(),
                config: ctx.config,
                env: ctx.env,
                creds: ctx.creds,
            };
            let x = |t: &str| {
                expand_core(
                    t,
                    Mode::Parse,
                    jiff::Timestamp::UNIX_EPOCH,
                    0.0,
                    false,
                    None,
                    &vars,
                )
            };
            match &o.queue_name {
                Some(q) => x(q),
                None => {
                    let share = x(o
                        .queue_share
                        .as_deref()
                        .unwrap_or("${USER}_${HOSTNAME}_${RAND8}"));
                    crate::expand::Expansion {
                        text: default_queue_name(u, ctx.component, ctx.config, &share.text),
                        unresolved: share.unresolved,
                    }
                }
            }
        };
        for name in &expanded.unresolved {
            warnings.push(ConfigWarning::new(
                at("queueName"),
                format!("queueName: unknown variable ${{{}}} left as is", echo(name)),
            ));
        }
        if !expanded.text.starts_with(&format!("q_{u}")) {
            warnings.push(ConfigWarning::new(
                at("queueName"),
                format!(
                    "queueName {} does not start with q_{u}: brokers usually refuse it",
                    echo(&expanded.text)
                ),
            ));
        }
        o.queue_name = Some(expanded.text);
    }

    if o.post_base_url.is_none() {
        o.post_base_url = match ctx.component {
            Component::Poll => o.poll_url.clone(),
            Component::Sender => o.send_to.clone(),
            _ => None,
        };
    }

    if o.post_base_dir.is_none() {
        let pbu = o.post_base_url.as_ref().map(|u| u.expose().to_string());
        o.post_base_dir = if let Some(d) = &o.post_document_root {
            warnings.push(ConfigWarning::new(
                at("post_documentRoot"),
                "use post_baseDir instead of post_documentRoot",
            ));
            Some(ctx.env.expand_tilde(d))
        } else if let Some(d) = &o.document_root {
            warnings.push(ConfigWarning::new(
                at("documentRoot"),
                "use post_baseDir instead of documentRoot",
            ));
            Some(ctx.env.expand_tilde(d))
        } else if let Some(u) = pbu.as_deref().filter(|u| u.starts_with("file:")) {
            Some(if u.starts_with("file://") {
                url_path(u).to_string()
            } else {
                u[5..].to_string()
            })
        } else if let Some(u) = pbu.as_deref().filter(|u| u.starts_with("sftp:")) {
            Some(url_path(u).to_string())
        } else {
            o.base_dir.as_ref().map(|d| ctx.env.expand_tilde(d))
        };
    }

    if let Some(d) = &o.directory {
        o.directory = Some(ctx.env.expand_tilde(d));
    }
    if ctx.component != Component::Poll {
        o.path = o.path.iter().map(|p| ctx.env.expand_tilde(p)).collect();
    }

    if matches!(ctx.component, Component::Poll | Component::Post) && o.instances > 1 {
        warnings.push(ConfigWarning::new(
            at("instances"),
            format!(
                "instances {}: a {} runs one instance (use vip for several nodes)",
                o.instances, ctx.component
            ),
        ));
        o.instances = 1;
    }
    if o.run_state_threshold_hung < o.housekeeping {
        warnings.push(ConfigWarning::new(
            at("runStateThreshold_hung"),
            "runStateThreshold_hung is lower than housekeeping: status may think the flow is hung",
        ));
    }
    let consumer = matches!(
        ctx.component,
        Component::Subscribe
            | Component::Sarra
            | Component::Sender
            | Component::Shovel
            | Component::Winnow
            | Component::Report
    );
    if consumer && o.broker.is_none() {
        warnings.push(ConfigWarning::new(
            derived.clone(),
            format!("no broker: a {} needs one", ctx.component),
        ));
    } else if o.broker.is_none() && o.post_broker.is_none() {
        warnings.push(ConfigWarning::new(
            derived,
            "both broker and post_broker are unset",
        ));
    }
    Ok(warnings)
}
