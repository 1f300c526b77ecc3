//! # pitcher-config
//!
//! The sr3 configuration language for Pitcher: existing sr3 `.conf` files are read unchanged
//! into typed, validated [`Options`] for one flow; plus `credentials.conf`, variable expansion,
//! accept/reject masks and destination placement.
//!
//! ## Loading a flow
//!
//! ```no_run
//! use pitcher_config::{Component, ConfigDir};
//!
//! let dir = ConfigDir::resolve(None)?; // --config-dir, $PITCHER_CONFIG_DIR, $XDG_CONFIG_HOME/pitcher, ~/.config/pitcher
//! for f in dir.list_flows()? {
//!     println!("{}/{}", f.component, f.name);
//! }
//! let flow = dir.load_flow(Component::Subscribe, "wx", &["--batch".into(), "10".into()])?;
//! for w in &flow.warnings {
//!     eprintln!("warning: {w}");
//! }
//! println!("{}", flow.show());
//! # Ok::<(), pitcher_config::ConfigError>(())
//! ```
//!
//! Layers, in sr3's order (later wins): built-in defaults (sr3's *code* defaults, see
//! OPTIONS.md) -> `<root>/admin.conf` -> `<root>/default.conf` -> component defaults
//! ([`Component::default_lines`]) -> `<root>/<component>/<name>.conf` -> command-line options
//! (`--option value`, `--option=value`, `--flag`) -> `finalize()` (derived values: exchange,
//! post_exchange, source, queue name, default binding, post_topicPrefix, post_baseDir, ...).
//!
//! ## The language
//!
//! One `keyword value...` per line; a line whose first non-blank character is `#` is a
//! comment. Keywords are case-sensitive; old names are accepted ([`synonyms`]). Statements:
//! `include`/`config`, `declare env|source|subscriber|exchange|option`, `set`, `header`,
//! `accept`/`reject` (each captures `directory`, `mirror`, `strip`, `flatten`, `filename`
//! current at its line), `subtopic` (captures `exchange` and `topicPrefix`), `callback`,
//! `callback_prepend`, `import`. Unknown keywords are kept in [`Options::extra`] with a warning;
//! v2 plugin lines are kept in [`Options::v2_plugins`] with a warning that they are not
//! supported.
//!
//! One table (`options!` in `options.rs`) defines every option: its field, keyword, kind,
//! default and help. Parsing, [`show`](LoadedFlow::show) and OPTIONS.md all come from it.
//!
//! ## Errors and warnings
//!
//! Errors stop loading and name the place: `subscribe/wx.conf:12: batch: expected a count like
//! 100 or 1k, got "many"`, or `command line: --batch: ...`. Warnings ([`ConfigWarning`]) are
//! returned as data and also logged with `tracing::warn!`. Passwords never appear in errors,
//! warnings, `Debug` output or `show` ([`mask_url`]).
//!
//! ## Deliberate differences from sr3
//!
//! * winnow applies `nodupe_ttl 300` (sr3's code defines but never applies it).
//! * Date expansion is in UTC (sr3 uses local time).
//! * Flag values must be true/yes/on/1 or false/no/off/0; bad values, regexes, includes are
//!   errors rather than log lines.
//! * `acceptUnmatched` from default.conf is honoured; `flatten` with `mirror on` flattens into
//!   the directory itself; relPaths are normalised (no leading `/`, no empty elements).
//! * Unknown `${VARIABLES}` are left as written, as in sr3, with a warning at parse time.
//!
//! See OPTIONS.md for the full list.

mod component;
mod credentials;
mod dirs;
mod docs;
mod env;
mod error;
mod expand;
mod finalize;
mod kind;
mod load;
mod masks;
mod options;
mod parser;
mod pattern;
mod placement;
mod secret;
mod show;
pub mod synonyms;
pub mod value;

pub use component::Component;
pub use credentials::{Credential, CredentialDb, CredentialError};
pub use dirs::{CONFIG_DIR_ENV, ConfigDir, FlowEntry, parse_flow_spec};
pub use docs::options_markdown;
pub use env::{Environment, rand8, randid};
pub use error::{ConfigError, ConfigWarning, Origin};
pub use expand::{Expander, Expansion, MessageVars};
pub use finalize::{FinalizeContext, default_exchange, default_queue_name};
pub use kind::{OptionKind, Strip};
pub use load::{FlowLoader, LoadedFlow, load_flow};
pub use masks::{
    Acceptance, Decision, Filtered, Mask, PlacementSpec, REJECT_CODE, filter, match_url,
};
pub use options::{
    Binding, FILE_EVENTS, LOG_EVENTS, OPTIONS, OptionSpec, Options, STATEMENTS, option_spec,
};
pub use pattern::{BACKTRACK_LIMIT, MatchAborted, Pattern};
pub use placement::{MessagePaths, Placement, PlacementError, place, sundew_filename};
pub use secret::{ConfigUrl, MASK, mask_passwords_in_text, mask_url};
pub use show::render as render_show;
