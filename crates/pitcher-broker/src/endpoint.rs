//! Where a broker is and how to log in: parsed from a config URL plus its credentials.

use std::fmt;

use percent_encoding::percent_decode_str;

use crate::error::BrokerError;

/// The protocol spoken to a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Amqp,
    Amqps,
    Mqtt,
    Mqtts,
}

impl Protocol {
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Amqp => 5672,
            Protocol::Amqps => 5671,
            Protocol::Mqtt => 1883,
            Protocol::Mqtts => 8883,
        }
    }

    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Amqp => "amqp",
            Protocol::Amqps => "amqps",
            Protocol::Mqtt => "mqtt",
            Protocol::Mqtts => "mqtts",
        }
    }

    pub fn is_amqp(self) -> bool {
        matches!(self, Protocol::Amqp | Protocol::Amqps)
    }
}

/// A broker address with its login. `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub user: String,
    password: String,
    /// AMQP virtual host (`/` when the URL has no path).
    pub vhost: String,
}

impl Endpoint {
    /// Parses `amqp[s]|mqtt[s]://user[:password]@host[:port]/vhost`. The password given here wins
    /// over one in the URL (callers pass the one from credentials.conf). AMQP without a user logs in
    /// as anonymous/anonymous, as sr3 does.
    pub fn parse(url: &str, password: Option<&str>) -> Result<Self, BrokerError> {
        let masked = mask(url);
        let bad = |why: &str| BrokerError::InvalidUrl {
            url: masked.clone(),
            why: why.to_string(),
        };
        let u = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let protocol = match u.scheme() {
            "amqp" => Protocol::Amqp,
            "amqps" => Protocol::Amqps,
            "mqtt" => Protocol::Mqtt,
            "mqtts" => Protocol::Mqtts,
            other => {
                return Err(bad(&format!(
                    "unsupported scheme {other:?} (expected amqp, amqps, mqtt or mqtts)"
                )));
            }
        };
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let mut user = decode(u.username());
        let mut pass = password
            .map(str::to_string)
            .or_else(|| u.password().map(decode))
            .unwrap_or_default();
        if user.is_empty() && protocol.is_amqp() {
            user = "anonymous".into();
            if pass.is_empty() {
                pass = "anonymous".into();
            }
        }
        let path = u.path().trim_start_matches('/');
        let vhost = if path.is_empty() {
            "/".to_string()
        } else {
            decode(path)
        };
        Ok(Endpoint {
            protocol,
            host,
            port: u.port().unwrap_or(protocol.default_port()),
            user,
            password: pass,
            vhost,
        })
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// `scheme://user@host:port/vhost`, for logs and errors.
    pub fn masked(&self) -> String {
        let user = if self.user.is_empty() {
            String::new()
        } else {
            format!("{}@", self.user)
        };
        let vhost = if self.protocol.is_amqp() && self.vhost != "/" {
            format!("/{}", self.vhost)
        } else {
            "/".into()
        };
        format!(
            "{}://{}{}:{}{}",
            self.protocol.scheme(),
            user,
            self.host,
            self.port,
            vhost
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.masked())
    }
}

/// A URL with any password replaced by `***`.
fn mask(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable URL>".to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_amqp_and_mqtt() {
        let e = Endpoint::parse("amqp://bob@localhost/", Some("s3cr/t")).unwrap();
        assert_eq!(
            (
                e.protocol,
                e.host.as_str(),
                e.port,
                e.user.as_str(),
                e.vhost.as_str()
            ),
            (Protocol::Amqp, "localhost", 5672, "bob", "/")
        );
        assert_eq!(e.password(), "s3cr/t");
        let e = Endpoint::parse("amqps://u:p%40ss@h:1234/v%2fh", None).unwrap();
        assert_eq!(
            (e.port, e.password(), e.vhost.as_str()),
            (1234, "p@ss", "v/h")
        );
        let e = Endpoint::parse("amqp://dd.weather.gc.ca", None).unwrap();
        assert_eq!((e.user.as_str(), e.password()), ("anonymous", "anonymous"));
        let e = Endpoint::parse("mqtt://u@127.0.0.1:25883", Some("x")).unwrap();
        assert_eq!((e.protocol, e.port), (Protocol::Mqtt, 25883));
        assert!(Endpoint::parse("http://h/", None).is_err());
        assert!(Endpoint::parse("not a url", None).is_err());
    }

    #[test]
    fn never_shows_the_password() {
        let e = Endpoint::parse("amqp://bob:hunter2@localhost/", None).unwrap();
        assert!(!format!("{e} {e:?}").contains("hunter2"));
        let err = Endpoint::parse("ftp://bob:hunter2@h/", None).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
