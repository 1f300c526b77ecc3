//! Components (reference 2.1) and their default options.

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;

/// A component: what a flow does. All run the same loop; they differ by defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// Download announced files.
    Subscribe,
    /// Download and re-announce (a pump).
    Sarra,
    /// Send files to a remote server.
    Sender,
    /// Copy messages between exchanges.
    Shovel,
    /// Copy messages, suppressing duplicates.
    Winnow,
    /// Route reports (a shovel).
    Report,
    /// Announce given files once.
    Post,
    /// Announce files as they change.
    Watch,
    /// Announce files listed on a remote server.
    Poll,
    /// Generic: whatever callbacks configure.
    Flow,
    /// sarrac's C poster: recognised for listing only.
    Cpost,
    /// sarrac's C pump: recognised for listing only.
    Cpump,
}

impl Component {
    /// Every component Pitcher runs.
    pub const RUNNABLE: [Component; 10] = [
        Component::Subscribe,
        Component::Sarra,
        Component::Sender,
        Component::Shovel,
        Component::Winnow,
        Component::Report,
        Component::Post,
        Component::Watch,
        Component::Poll,
        Component::Flow,
    ];

    /// Every component name recognised in a configuration tree (including `cpost`, `cpump`).
    pub const ALL: [Component; 12] = [
        Component::Subscribe,
        Component::Sarra,
        Component::Sender,
        Component::Shovel,
        Component::Winnow,
        Component::Report,
        Component::Post,
        Component::Watch,
        Component::Poll,
        Component::Flow,
        Component::Cpost,
        Component::Cpump,
    ];

    /// The sr3 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Subscribe => "subscribe",
            Component::Sarra => "sarra",
            Component::Sender => "sender",
            Component::Shovel => "shovel",
            Component::Winnow => "winnow",
            Component::Report => "report",
            Component::Post => "post",
            Component::Watch => "watch",
            Component::Poll => "poll",
            Component::Flow => "flow",
            Component::Cpost => "cpost",
            Component::Cpump => "cpump",
        }
    }

    /// Whether Pitcher runs this component (false for `cpost`/`cpump`).
    pub fn is_runnable(self) -> bool {
        !matches!(self, Component::Cpost | Component::Cpump)
    }

    /// The component's default options, as configuration lines (applied after `admin.conf`
    /// and `default.conf`, before the flow's file). Code defaults of sr3 (reference 2.1), plus
    /// Pitcher's decision for winnow (`nodupe_ttl 300`, which sr3's code never applies).
    pub fn default_lines(self) -> &'static str {
        match self {
            Component::Subscribe => "download on\nmirror off\n",
            Component::Sarra | Component::Sender => "download on\n",
            Component::Shovel | Component::Report => "nodupe_ttl 0\ndownload off\n",
            Component::Winnow => "nodupe_ttl 300\ndownload off\n",
            Component::Post => {
                "sleep -1\nblockSize 1\nnodupe_ttl 0\nfollow_symlinks off\nidentity sha512\n"
            }
            Component::Watch => "sleep 5\nblockSize 1\n",
            Component::Poll => {
                "identity cod,sha512\nnodupe_ttl 25200\nfileAgeMax 30d\nblockSize 1\n"
            }
            Component::Flow | Component::Cpost | Component::Cpump => "",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Component {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Component::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| ConfigError::UnknownComponent {
                name: crate::error::echo(s),
                expected: Component::RUNNABLE.map(Component::as_str).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Component::ALL {
            assert_eq!(c.as_str().parse::<Component>().ok(), Some(c));
            assert_eq!(c.to_string(), c.as_str());
        }
        let e = "subscriber"
            .parse::<Component>()
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "unknown component \"subscriber\": expected one of subscribe, sarra, sender, shovel, winnow, report, post, watch, poll, flow"
            )
        );
        assert!(!Component::Cpost.is_runnable());
        assert!(Component::Poll.is_runnable());
    }
}
