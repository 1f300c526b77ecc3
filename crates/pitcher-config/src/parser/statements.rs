//! The statements of the language: include, declare, accept/reject, subtopic, v2 plugin lines.

use std::path::{Path, PathBuf};

use super::Parser;
use crate::error::{ConfigError, Origin, echo};
use crate::masks::{Mask, PlacementSpec};
use crate::options::Binding;
use crate::pattern::Pattern;

/// First word of a Sundew file name option after an accept regex.
const FILENAME_KEYWORDS: &[&str] = &[
    "None",
    "DESTFN",
    "DESTFNSCRIPT",
    "HEADFN",
    "NONE",
    "NONESENDER",
    "SATNET",
    "SENDER",
    "WHATFN",
    "TIME",
];

impl Parser<'_> {
    pub(super) fn v2_plugin(&mut self, canon: &str, display: &str, value: &str, origin: &Origin) {
        let v = value.trim_end_matches(".py");
        let converted = match (canon, v) {
            ("on_message", "msg_log" | "msg_rawlog") => Some("after_accept"),
            ("on_post", "post_log") => Some("after_work"),
            _ => None,
        };
        if let Some(event) = converted {
            self.opts.log_events.insert(event.to_string());
            self.warn(
                origin,
                format!(
                    "v2 plugin line \"{display} {}\" converted to logEvents +{event}",
                    echo(value)
                ),
            );
            return;
        }
        self.opts
            .v2_plugins
            .push((canon.to_string(), value.to_string()));
        self.warn(
            origin,
            format!(
                "v2 plugin line \"{display} {}\" is not supported by Pitcher (kept, ignored)",
                echo(value)
            ),
        );
    }

    pub(super) fn mask(
        &mut self,
        accept: bool,
        display: &str,
        values: &[String],
        origin: &Origin,
    ) -> Result<(), ConfigError> {
        let Some((pattern, rest)) = values.split_first() else {
            return Err(ConfigError::bad_value(
                origin.clone(),
                display,
                "a regular expression",
                "",
            ));
        };
        let is_filename = |w: &str| {
            let head = w.split(':').next().unwrap_or("");
            FILENAME_KEYWORDS.contains(&head.split('=').next().unwrap_or(""))
        };
        let (filename, args) = match rest.split_first() {
            Some((first, more)) if is_filename(first) => {
                (Some(first.clone()).filter(|f| f != "None"), more.to_vec())
            }
            _ => (self.opts.filename.clone(), rest.to_vec()),
        };
        let compiled = Pattern::anchored(pattern).map_err(|reason| ConfigError::BadRegex {
            origin: origin.clone(),
            option: display.to_string(),
            pattern: echo(pattern),
            reason,
        })?;
        let mut placement = PlacementSpec::from_options(&self.opts);
        placement.directory = placement.directory.map(|d| self.env.expand_tilde(&d));
        placement.filename = filename;
        self.opts.masks.push(Mask {
            pattern: compiled,
            accept,
            placement,
            args,
        });
        Ok(())
    }

    pub(super) fn subtopic(
        &mut self,
        display: &str,
        values: &[String],
        origin: &Origin,
    ) -> Result<(), ConfigError> {
        let Some(sub) = values.first() else {
            return Err(ConfigError::bad_value(
                origin.clone(),
                display,
                "a subtopic like *.WXO-DD.# (or None)",
                "",
            ));
        };
        if values.len() > 1 {
            self.warn(origin, format!("{display}: only the first word is used"));
        }
        if sub == "None" {
            self.opts.bindings.clear();
            return Ok(());
        }
        self.subtopic_seen = true;
        self.opts.bindings.push(Binding {
            exchange: self.opts.exchange.clone(),
            topic_prefix: self.opts.topic_prefix.clone(),
            subtopic: sub.clone(),
        });
        Ok(())
    }

    pub(super) fn declare(
        &mut self,
        display: &str,
        values: &[String],
        origin: &Origin,
    ) -> Result<(), ConfigError> {
        let what = values.first().map(String::as_str).unwrap_or("");
        let arg = values.get(1).cloned();
        match (what, arg) {
            ("env" | "envvar" | "var" | "value", Some(_)) => {
                let def = values[1..].join(" ");
                match def.split_once('=') {
                    Some((name, value)) if !name.is_empty() => {
                        self.opts.env.insert(name.to_string(), value.to_string());
                        Ok(())
                    }
                    _ => Err(ConfigError::bad_value(
                        origin.clone(),
                        &format!("{display} {what}"),
                        "NAME=value",
                        &def,
                    )),
                }
            }
            ("option" | "o", Some(name)) => {
                self.opts.declared_options.push(name);
                Ok(())
            }
            ("source" | "subscriber" | "subscribe", Some(user)) => {
                self.opts.declared_users.insert(user, what.to_string());
                Ok(())
            }
            ("exchange", Some(x)) => {
                self.opts.declared_exchanges.push(x);
                Ok(())
            }
            _ => Err(ConfigError::bad_value(
                origin.clone(),
                display,
                "declare env NAME=value, declare source|subscriber <user>, declare exchange <name> or declare option <name>",
                &values.join(" "),
            )),
        }
    }

    pub(super) fn include(
        &mut self,
        display: &str,
        name: &str,
        origin: &Origin,
        dir: Option<&Path>,
    ) -> Result<(), ConfigError> {
        if name.is_empty() {
            return Err(ConfigError::bad_value(
                origin.clone(),
                display,
                "a file name",
                "",
            ));
        }
        let expanded = self.env.expand_tilde(name);
        let p = Path::new(&expanded);
        let mut bases: Vec<PathBuf> = Vec::new();
        if p.is_absolute() {
            bases.push(p.to_path_buf());
        } else {
            if let Some(d) = dir {
                bases.push(d.join(p));
            }
            let at_root = self.root.join(p);
            if !bases.contains(&at_root) {
                bases.push(at_root);
            }
        }
        let mut searched = Vec::new();
        for base in &bases {
            let mut candidates = vec![base.clone()];
            if base.extension().is_none() {
                for ext in ["inc", "conf"] {
                    let mut c = base.clone().into_os_string();
                    c.push(".");
                    c.push(ext);
                    candidates.push(PathBuf::from(c));
                }
            }
            for c in candidates {
                if c.is_file() {
                    return self.parse_file(&c, Some(origin));
                }
            }
            let dir = base.parent().unwrap_or(base);
            searched.push(match self.label(dir) {
                l if l.is_empty() => self.root.display().to_string(),
                l => l,
            });
        }
        Err(ConfigError::IncludeNotFound {
            origin: origin.clone(),
            name: echo(name),
            searched: searched.join(", "),
        })
    }
}
