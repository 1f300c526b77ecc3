//! The line parser: `keyword value...`, comments, synonyms, statements (include, declare, set,
//! header, accept/reject, subtopic, callbacks), variable expansion at parse time, and the
//! command line (`--option value`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::component::Component;
use crate::credentials::CredentialDb;
use crate::env::Environment;
use crate::error::{ConfigError, ConfigWarning, Origin, echo};
use crate::expand::{Mode, NamedVars, expand_core};
use crate::kind::{OptionKind, SlotError};
use crate::options::{Options, option_spec};
use crate::synonyms::canonical;
use crate::value::{parse_duration, parse_flag};

mod statements;

/// Largest configuration file read.
pub(crate) const MAX_FILE: u64 = 16 * 1024 * 1024;
/// Deepest include nesting.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 32;

/// v2 plugin entry points: kept in `Options::v2_plugins`, reported as not supported.
const V2_ENTRY_POINTS: &[&str] = &[
    "do_download",
    "do_get",
    "do_poll",
    "do_put",
    "do_send",
    "do_task",
    "do_data",
    "on_message",
    "on_file",
    "on_heartbeat",
    "on_housekeeping",
    "on_html_page",
    "on_line",
    "on_part",
    "on_post",
    "on_report",
    "on_start",
    "on_stop",
    "on_watch",
    "plugin",
    "destfn_script",
];

/// Obsolete v2 options that sr3 ignores.
const V2_OBSOLETE: &[&str] = &[
    "cache_stat",
    "cluster_aliases",
    "from_cluster",
    "to_clusters",
    "ls_file_index",
    "file_total_interval",
    "post_total_interval",
    "post_log_format",
    "msg_total_interval",
    "parts",
    "pump",
    "pump_flag",
    "reconnect",
    "report_daemons",
    "restore",
    "retry_mode",
    "save",
    "set_passwords",
    "windows_run",
    "xattr_disable",
];

/// Queue options: setting them after a `subtopic` line is suspicious (sr3 warns).
const QUEUE_OPTIONS: &[&str] = &[
    "auto_delete",
    "broker",
    "clean_session",
    "durable",
    "exchangeSuffix",
    "expire",
    "max_inflight_messages",
    "prefetch",
    "qos",
    "queueBind",
    "queueDeclare",
    "receiveMaximum",
    "tlsRigour",
];

/// Decode a file's bytes as UTF-8, or say where it is not.
pub(crate) fn utf8_text(bytes: Vec<u8>, label: &str) -> Result<String, ConfigError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ConfigError::NotUtf8 {
            file: label.to_string(),
            line,
            offset,
        }
    })
}

/// Parses configuration text into `Options`, layer after layer.
pub(crate) struct Parser<'a> {
    pub opts: Options,
    pub warnings: Vec<ConfigWarning>,
    /// Where each option was last set (for validation errors in finalize).
    pub origins: HashMap<&'static str, Origin>,
    component: Component,
    config: String,
    root: PathBuf,
    env: &'a Environment,
    creds: &'a CredentialDb,
    /// Canonical paths of the files being parsed (include loop detection), with labels.
    stack: Vec<(PathBuf, String)>,
    subtopic_seen: bool,
}

impl<'a> Parser<'a> {
    pub fn new(
        component: Component,
        config: &str,
        root: &Path,
        env: &'a Environment,
        creds: &'a CredentialDb,
    ) -> Self {
        Parser {
            opts: Options::default(),
            warnings: Vec::new(),
            origins: HashMap::new(),
            component,
            config: config.to_string(),
            root: root.to_path_buf(),
            env,
            creds,
            stack: Vec::new(),
            subtopic_seen: false,
        }
    }

    /// How a file is named in messages: relative to the configuration root when inside it.
    pub fn label(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn warn(&mut self, origin: &Origin, message: impl Into<String>) {
        self.warnings
            .push(ConfigWarning::new(origin.clone(), message));
    }

    /// Parse a file. `from` is the include line that asked for it, if any.
    pub fn parse_file(&mut self, path: &Path, from: Option<&Origin>) -> Result<(), ConfigError> {
        let label = self.label(path);
        let unreadable = |source| ConfigError::Unreadable {
            file: label.clone(),
            source,
        };
        let canonical_path = std::fs::canonicalize(path).map_err(unreadable)?;
        let origin = from.cloned().unwrap_or(Origin::File {
            file: label.clone(),
            line: 0,
        });
        if self.stack.iter().any(|(p, _)| *p == canonical_path) {
            let mut chain: Vec<&str> = self.stack.iter().map(|(_, l)| l.as_str()).collect();
            chain.push(&label);
            return Err(ConfigError::IncludeLoop {
                origin,
                chain: chain.join(" -> "),
            });
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::IncludeTooDeep {
                origin,
                limit: MAX_INCLUDE_DEPTH,
            });
        }
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        if meta.len() > MAX_FILE {
            return Err(ConfigError::TooLarge {
                file: label,
                size: meta.len(),
                limit: MAX_FILE,
            });
        }
        let bytes = std::fs::read(path).map_err(unreadable)?;
        let text = utf8_text(bytes, &label)?;
        self.stack.push((canonical_path, label.clone()));
        let dir = path.parent().map(Path::to_path_buf);
        let result = text.lines().enumerate().try_for_each(|(i, line)| {
            let origin = Origin::File {
                file: label.clone(),
                line: i + 1,
            };
            self.parse_line(line, &origin, dir.as_deref())
        });
        self.stack.pop();
        result
    }

    /// Parse text that is not a file (component defaults).
    pub fn parse_text(&mut self, text: &str, origin: &Origin) -> Result<(), ConfigError> {
        text.lines()
            .try_for_each(|line| self.parse_line(line, origin, None))
    }

    /// Parse one line of a file.
    fn parse_line(
        &mut self,
        line: &str,
        origin: &Origin,
        dir: Option<&Path>,
    ) -> Result<(), ConfigError> {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(());
        }
        let mut words = trimmed.split_whitespace();
        let keyword = words.next().unwrap_or_default();
        let values: Vec<String> = words.map(str::to_string).collect();
        self.apply(keyword, keyword, values, origin, dir)
    }

    /// Parse command-line options: `--name value...`, `--name=value`, or `--flag`.
    pub fn parse_cli(&mut self, args: &[String]) -> Result<(), ConfigError> {
        let origin = Origin::CommandLine;
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for arg in args {
            if let Some(opt) = arg.strip_prefix("--") {
                let (name, value) = match opt.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (opt, None),
                };
                if name.is_empty() || name.chars().any(char::is_whitespace) {
                    return Err(ConfigError::invalid(
                        origin,
                        &echo(arg),
                        "expected an option like --batch 10 or --batch=10",
                    ));
                }
                groups.push((
                    name.to_string(),
                    value.map(str::to_string).into_iter().collect(),
                ));
            } else if let Some((_, values)) = groups.last_mut() {
                values.push(arg.clone());
            } else {
                return Err(ConfigError::invalid(
                    origin,
                    &format!("\"{}\"", echo(arg)),
                    "unexpected argument: options look like --name value",
                ));
            }
        }
        for (name, values) in groups {
            // Values on the command line may hold spaces: split them into words as a line would.
            let words: Vec<String> = values
                .iter()
                .flat_map(|v| v.split_whitespace().map(str::to_string))
                .collect();
            self.apply(&name, &format!("--{name}"), words, &origin, None)?;
        }
        Ok(())
    }

    /// Expand `${...}` in values at parse time.
    fn expand_values(&mut self, canon: &str, values: Vec<String>, origin: &Origin) -> Vec<String> {
        if matches!(canon, "queueName" | "queueShare") || !values.iter().any(|v| v.contains("${")) {
            return values;
        }
        let vars = NamedVars {
            opts: &self.opts,
            program: self.component.as_str(),
            config: &self.config,
            env: self.env,
            creds: Some(self.creds),
        };
        let mut unresolved = Vec::new();
        let out = values
            .iter()
            .map(|v| {
                let e = expand_core(
                    v,
                    Mode::Parse,
                    jiff::Timestamp::UNIX_EPOCH,
                    0.0,
                    false,
                    None,
                    &vars,
                );
                unresolved.extend(e.unresolved);
                e.text
            })
            .collect();
        for name in unresolved {
            self.warn(
                origin,
                format!("unknown variable ${{{}}} left as is", echo(&name)),
            );
        }
        out
    }

    /// Apply one `keyword values...` (from a file line or a command-line option).
    fn apply(
        &mut self,
        keyword: &str,
        display: &str,
        values: Vec<String>,
        origin: &Origin,
        dir: Option<&Path>,
    ) -> Result<(), ConfigError> {
        let canon = canonical(keyword, self.component);
        let values = self.expand_values(canon, values, origin);
        let joined = values.join(" ");
        match canon {
            "include" => self.include(display, &joined, origin, dir),
            "declare" => self.declare(display, &values, origin),
            "set" => {
                let Some((key, rest)) = values.split_first().filter(|(_, r)| !r.is_empty()) else {
                    return Err(ConfigError::invalid(
                        origin.clone(),
                        display,
                        "expected set <module.Class>.<option> <value>",
                    ));
                };
                self.opts.settings.insert(key.clone(), rest.join(" "));
                Ok(())
            }
            "header" => match joined.split_once('=') {
                Some((name, value)) if !name.is_empty() => {
                    self.opts
                        .headers
                        .insert(name.to_string(), value.to_string());
                    Ok(())
                }
                _ => Err(ConfigError::bad_value(
                    origin.clone(),
                    display,
                    "name=value",
                    &joined,
                )),
            },
            "accept" | "reject" => self.mask(canon == "accept", display, &values, origin),
            "subtopic" => self.subtopic(display, &values, origin),
            "callback" | "callback_prepend" | "import" => {
                if joined.is_empty() {
                    return Err(ConfigError::bad_value(
                        origin.clone(),
                        display,
                        "a callback or module name",
                        "",
                    ));
                }
                let list = match canon {
                    "callback" => &mut self.opts.callbacks,
                    "callback_prepend" => &mut self.opts.callbacks_prepend,
                    _ => &mut self.opts.imports,
                };
                if canon == "import" || !list.contains(&joined) {
                    if canon == "callback_prepend" {
                        list.insert(0, joined);
                    } else {
                        list.push(joined);
                    }
                }
                Ok(())
            }
            "debug" => {
                let on = values.is_empty()
                    || parse_flag(&values[0])
                        .map_err(|e| ConfigError::bad_value(origin.clone(), display, e, &joined))?;
                if on {
                    self.opts.log_level = Some("debug".to_string());
                    self.origins.insert("logLevel", origin.clone());
                }
                Ok(())
            }
            "no_download" | "notify_only" => {
                self.opts.download = false;
                self.warn(
                    origin,
                    format!("obsolete v2 option {display}: converted to download off"),
                );
                Ok(())
            }
            _ if V2_OBSOLETE.contains(&canon) => {
                self.warn(origin, format!("obsolete v2 option {display} ignored"));
                Ok(())
            }
            _ if V2_ENTRY_POINTS.contains(&canon) => {
                self.v2_plugin(canon, display, &joined, origin);
                Ok(())
            }
            _ => match option_spec(canon) {
                Some(spec) => self.set_option(spec.name, spec.kind, display, &values, origin),
                None => {
                    if !self.opts.declared_options.iter().any(|d| d == canon) {
                        self.warn(
                            origin,
                            format!("unknown option {} (kept for callbacks)", echo(display)),
                        );
                    }
                    self.opts.extra.push((keyword.to_string(), joined));
                    Ok(())
                }
            },
        }
    }

    fn set_option(
        &mut self,
        name: &'static str,
        kind: OptionKind,
        display: &str,
        values: &[String],
        origin: &Origin,
    ) -> Result<(), ConfigError> {
        let value = if values.is_empty() {
            if kind == OptionKind::Flag {
                "true".to_string()
            } else {
                return Err(ConfigError::bad_value(
                    origin.clone(),
                    display,
                    kind.expected(),
                    "",
                ));
            }
        } else if kind.single_word() {
            if values.len() > 1 {
                self.warn(
                    origin,
                    format!(
                        "{display}: only the first word is used; ignored: {}",
                        echo(&values[1..].join(" "))
                    ),
                );
            }
            values[0].clone()
        } else {
            values.join(" ")
        };
        let Some(slot) = self.opts.slot_mut(name) else {
            return Err(ConfigError::invalid(
                origin.clone(),
                display,
                "internal error: option without a field",
            ));
        };
        match slot.set(kind, &value) {
            Ok(()) => {}
            Err(SlotError::Expected(e)) => {
                return Err(ConfigError::bad_value(origin.clone(), display, e, &value));
            }
            Err(SlotError::Regex(reason)) => {
                return Err(ConfigError::BadRegex {
                    origin: origin.clone(),
                    option: display.to_string(),
                    pattern: echo(&value),
                    reason,
                });
            }
            Err(SlotError::Internal) => {
                return Err(ConfigError::invalid(
                    origin.clone(),
                    display,
                    "internal error: option kind does not fit its field",
                ));
            }
        }
        self.origins.insert(name, origin.clone());
        self.after_set(name, &value, origin);
        Ok(())
    }

    /// Side effects of some options (sr3 behaviour).
    fn after_set(&mut self, name: &'static str, value: &str, origin: &Origin) {
        match name {
            "inflight" if value.starts_with(|c: char| c.is_ascii_digit()) => {
                if let Ok(secs) = parse_duration(value, None) {
                    self.opts.file_age_min = secs;
                }
            }
            "logReject" if self.opts.log_reject => {
                self.opts.log_events.insert("reject".to_string());
            }
            "logDuplicates" if self.opts.log_duplicates => {
                self.opts.log_events.insert("nodupe".to_string());
            }
            "feeder" => {
                if let Some(user) = self.opts.feeder.as_ref().and_then(|u| u.username()) {
                    self.opts.declared_users.insert(user, "feeder".to_string());
                }
            }
            _ => {}
        }
        if self.subtopic_seen && QUEUE_OPTIONS.contains(&name) && *origin != Origin::CommandLine {
            self.warn(
                origin,
                format!("{name} should appear before subtopic (it applies to the queue)"),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(component: Component, text: &str) -> Result<Parser<'static>, ConfigError> {
        let env: &'static Environment =
            Box::leak(Box::new(Environment::fixed("h", &[("USER", "u")])));
        let creds: &'static CredentialDb = Box::leak(Box::new(CredentialDb::new()));
        let mut p = Parser::new(component, "t", Path::new("/nonexistent"), env, creds);
        let origin = Origin::File {
            file: "t.conf".into(),
            line: 1,
        };
        for line in text.lines() {
            p.parse_line(line, &origin, None)?;
        }
        Ok(p)
    }

    #[test]
    fn comments_and_blank_lines() {
        let p = parse(Component::Flow, "  # c\n\n\t\nbatch 10\n   #batch 20\n").unwrap();
        assert_eq!(p.opts.batch, 10);
    }

    #[test]
    fn utf8_error_names_line() {
        let e = utf8_text(b"a\nb\n\xff".to_vec(), "f.conf").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.conf:3: not valid UTF-8 text (bad byte at offset 4); configuration files must be UTF-8"
        );
    }

    #[test]
    fn flag_bare_and_error() {
        let p = parse(Component::Flow, "mirror off\nmirror\n").unwrap();
        assert!(p.opts.mirror);
        let e = parse(Component::Flow, "mirror maybe").err().unwrap();
        assert_eq!(
            e.to_string(),
            "t.conf:1: mirror: expected a flag: true/false, yes/no, on/off or 1/0, got \"maybe\""
        );
    }

    #[test]
    fn extra_words_warn() {
        let p = parse(Component::Flow, "batch 10 # ten").unwrap();
        assert_eq!(p.opts.batch, 10);
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn cli_groups() {
        let env = Environment::fixed("h", &[]);
        let creds = CredentialDb::new();
        let mut p = Parser::new(Component::Flow, "t", Path::new("/x"), &env, &creds);
        let args: Vec<String> = [
            "--batch",
            "7",
            "--mirror",
            "--sleep=-1",
            "--accept",
            ".*x.*",
            "--directory",
            "/a b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        p.parse_cli(&args).unwrap();
        assert_eq!(p.opts.batch, 7);
        assert!(p.opts.mirror);
        assert_eq!(p.opts.sleep, -1.0);
        assert_eq!(p.opts.masks.len(), 1);
        assert_eq!(p.opts.directory.as_deref(), Some("/a b"));
        let e = p.parse_cli(&["stray".to_string()]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("command line: \"stray\": unexpected argument"),
            "{e}"
        );
        let e = p
            .parse_cli(&["--batch".to_string(), "many".to_string()])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "command line: --batch: expected a count like 100 or 1k, got \"many\""
        );
    }
}
