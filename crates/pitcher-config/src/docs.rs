//! OPTIONS.md, generated from the option table (a test keeps the file in the crate current).

use std::fmt::Write as _;

use crate::component::Component;
use crate::options::{OPTIONS, Options, STATEMENTS};
use crate::synonyms::SYNONYMS;

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The component defaults that set `name`, as `component value` pairs.
fn component_defaults(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for c in Component::RUNNABLE {
        for line in c.default_lines().lines() {
            if let Some((k, v)) = line.split_once(' ')
                && k == name
            {
                out.push(format!("{c}: `{v}`"));
            }
        }
    }
    out
}

/// The text of OPTIONS.md.
pub fn options_markdown() -> String {
    let mut md = String::new();
    let defaults = Options::default();
    md.push_str(
        "# pitcher-config options\n\n\
         Generated from the option table in `src/options.rs` (run `UPDATE_OPTIONS_MD=1 cargo test -p pitcher-config options_md` to refresh).\n\n\
         Keywords are case-sensitive, as in sr3. Defaults are sr3's *code* defaults (3.00.56rc2), not its documentation's.\n\
         A value is `None` to unset a `str`/`url` option or to empty a `list`/`set`.\n\n\
         Kinds: **count**/**size** `100`, `1k`=1000, `1kb`/`1Ki`=1024, `1M`=1 000 000, `1MB`=1 048 576 (also g, t); \
         **duration** seconds, `30`, `0.5`, `5m`, `1h30m`, `2d`, `1w`, `off`/`none`/`false`=0; \
         **flag** bare keyword = true, `true/yes/on/1` or `false/no/off/0` (anything else is an error); \
         **list** each line appends; **set** `+a` adds, `-a` removes, `a,b` or `a|b` replaces, `all`; \
         **str** the rest of the line, last wins; **octal** `644`, `0644`, `0o644`.\n\n\
         ## Deliberate differences from sr3\n\n\
         * winnow: `nodupe_ttl 300` is applied (sr3's code defines it but never applies it: reference Q3).\n\
         * Date variables (`${YYYYMMDD}`, `${%Y...}`) are expanded in UTC, not local time (reference Q14).\n\
         * Flag values other than true/yes/on/1/false/no/off/0 are errors (sr3 takes them as False).\n\
         * Bad values, bad regexes, missing include files and include loops are errors naming file:line (sr3 logs and goes on).\n\
         * `acceptUnmatched` set in default.conf is honoured (sr3 forces it back to True after default.conf).\n\
         * `flatten` with `mirror on` puts the flattened name directly in the directory (sr3 also keeps the source directories).\n\
         * `strip N` larger than the path keeps the file name only; relPaths never get a leading `/` or empty elements.\n\
         * Unmatched messages with `acceptUnmatched off` are rejected with 404 (like masks).\n\
         * `h` means `header` (sr3: help); `b` in a poll means `post_broker`, like `broker` (sr3 keeps `b` as broker).\n\
         * Unknown `${VARIABLES}` are left as written (as in sr3) and reported as warnings with file:line; \
         `${USER}` falls back to `$LOGNAME`, then to the name of `$HOME`.\n\
         * A subtopic before any `exchange` line binds to the default exchange (`xpublic` or `xs_<user>`), decided in finalize.\n\
         * Options taking one value (count, flag, duration, ...) use the first word and warn about the rest (sr3 ignores the rest silently).\n\
         * `transferConcurrency`, `sshAcceptUnknownHosts` and `sshKnownHosts` are Pitcher's own: sr3 accepts any SFTP host key, \
         Pitcher checks them against known_hosts unless told otherwise.\n\n\
         ## Not implemented\n\n\
         * Sundew directory fields (`${T1}`, `${CCCC}`, `${RYYYY}`, ...) and the file name options SENDER, NONESENDER, \
         SATNET=, DESTFNSCRIPT= (placement returns an \"unsupported\" error, 422).\n\
         * Remote configurations (`http:` config names) and sr3's package `examples/` include search path.\n\
         * Only a few v2 plugin lines are converted (msg_log, msg_rawlog, post_log, no_download, notify_only); the others are kept and reported.\n\
         * Queue name persistence (`.qname`, `subscriptions.json`) is the caller's job: persist `queueName` after the first load and pass it back (`--queueName`).\n\n\
         ## Options\n\n\
         | option | kind | default | component defaults | meaning |\n\
         |---|---|---|---|---|\n",
    );
    for spec in OPTIONS {
        let default = defaults
            .render_option(spec.name)
            .unwrap_or_default()
            .join(", ");
        let default = if default == "None" {
            "unset".to_string()
        } else {
            format!("`{}`", cell(&default))
        };
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} |",
            spec.name,
            spec.kind.name(),
            default,
            component_defaults(spec.name).join("<br>"),
            cell(spec.help)
        );
    }
    md.push_str("\n## Statements\n\n| statement | meaning |\n|---|---|\n");
    for (s, help) in STATEMENTS {
        let _ = writeln!(md, "| `{}` | {} |", cell(s), cell(help));
    }
    md.push_str(
        "\n## Synonyms\n\nOld names accepted for the canonical ones. In a poll, `broker` means `post_broker` \
         and `destination` means `pollUrl`; elsewhere `destination` means `sendTo`. v2 plugin lines \
         (`on_message`, `plugin`, `do_download`, ...) are kept and reported as not supported.\n\n\
         | old | canonical |\n|---|---|\n",
    );
    for (old, new) in SYNONYMS {
        let _ = writeln!(md, "| `{old}` | `{new}` |");
    }
    md
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// OPTIONS.md must match the table. `UPDATE_OPTIONS_MD=1` rewrites it.
    #[test]
    fn options_md_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("OPTIONS.md");
        let want = options_markdown();
        if std::env::var_os("UPDATE_OPTIONS_MD").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "OPTIONS.md is out of date: run UPDATE_OPTIONS_MD=1 cargo test -p pitcher-config options_md"
        );
        for spec in OPTIONS {
            assert!(want.contains(&format!("| `{}` |", spec.name)));
        }
    }
}
