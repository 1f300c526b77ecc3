//! `show`: the resolved options of a flow in configuration syntax.
//!
//! Options come in table order (the order of OPTIONS.md), one `option value` per line; then the
//! statements (declare, header, set, callbacks, kept unknown keywords); then the bindings as
//! `exchange`/`topicPrefix`/`subtopic` triples; then the masks, each preceded by the placement
//! options it captured; after the bindings and the masks, the final values of the options they
//! changed are repeated, so that parsing the output gives the same options again. Passwords are
//! masked in every URL (regexes of accept/reject/strip are left as written); durations are in
//! seconds, sizes in bytes.

use std::fmt::Write as _;

use crate::component::Component;
use crate::kind::{Slot, join_topic};
use crate::masks::PlacementSpec;
use crate::options::{OPTIONS, Options};
use crate::secret::mask_passwords_in_text;

fn line(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} {value}");
}

fn placement_lines(out: &mut String, p: &PlacementSpec) {
    let spec = |n| crate::options::option_spec(n).map(|s| s.kind);
    line(out, "directory", p.directory.as_deref().unwrap_or("None"));
    line(out, "mirror", if p.mirror { "on" } else { "off" });
    if let Some(k) = spec("strip") {
        for v in p.strip.render(k) {
            line(out, "strip", &v);
        }
    }
    line(out, "flatten", p.flatten.as_deref().unwrap_or("None"));
    line(out, "filename", p.filename.as_deref().unwrap_or("None"));
}

/// Render `o` (the options of a `component` flow) as configuration text.
pub fn render(o: &Options, component: Component, title: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(t) = title {
        let _ = writeln!(out, "# {t}");
    }
    for spec in OPTIONS {
        let values = o.render_option(spec.name).unwrap_or_default();
        if spec.name == "broker" && component == Component::Poll {
            // In a poll, `broker` means post_broker: the derived broker cannot be written back.
            for v in values {
                let _ = writeln!(
                    out,
                    "# broker {v} (derived: in a poll, broker means post_broker)"
                );
            }
            continue;
        }
        for v in values {
            line(&mut out, spec.name, &v);
        }
    }
    for (k, v) in &o.env {
        line(&mut out, "declare env", &format!("{k}={v}"));
    }
    for (user, role) in &o.declared_users {
        if role != "feeder" {
            line(&mut out, &format!("declare {role}"), user);
        }
    }
    for x in &o.declared_exchanges {
        line(&mut out, "declare exchange", x);
    }
    for x in &o.declared_options {
        line(&mut out, "declare option", x);
    }
    for (k, v) in &o.headers {
        line(&mut out, "header", &format!("{k}={v}"));
    }
    for (k, v) in &o.settings {
        line(&mut out, "set", &format!("{k} {v}"));
    }
    for m in &o.imports {
        line(&mut out, "import", m);
    }
    for c in o.callbacks_prepend.iter().rev() {
        line(&mut out, "callback_prepend", c);
    }
    for c in &o.callbacks {
        line(&mut out, "callback", c);
    }
    for (k, v) in o.v2_plugins.iter().chain(&o.extra) {
        line(&mut out, k, v);
    }
    if !o.bindings.is_empty() {
        out.push_str("# bindings\n");
        for b in &o.bindings {
            line(
                &mut out,
                "exchange",
                b.exchange.as_deref().unwrap_or("None"),
            );
            line(&mut out, "topicPrefix", &join_topic(&b.topic_prefix));
            line(&mut out, "subtopic", &b.subtopic);
        }
        line(
            &mut out,
            "exchange",
            o.exchange.as_deref().unwrap_or("None"),
        );
        line(&mut out, "topicPrefix", &join_topic(&o.topic_prefix));
    }
    if !o.masks.is_empty() {
        out.push_str("# masks\n");
        for m in &o.masks {
            placement_lines(&mut out, &m.placement);
            let verb = if m.accept { "accept" } else { "reject" };
            let mut words = vec![m.pattern.as_str().to_string()];
            words.extend(m.args.iter().cloned());
            line(&mut out, verb, &words.join(" "));
        }
        placement_lines(&mut out, &PlacementSpec::from_options(o));
    }
    // Mask passwords in every line, except regexes (a regex is not a URL, and masking would
    // change what it matches).
    out.lines()
        .map(|l| {
            let key = l.split(' ').next().unwrap_or("");
            if matches!(key, "accept" | "reject" | "strip") {
                format!("{l}\n")
            } else {
                format!("{}\n", mask_passwords_in_text(l))
            }
        })
        .collect()
}
