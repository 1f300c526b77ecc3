//! Where a broker is and how to log in: parsed from a config URL plus its credentials.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

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
    /// How `amqps://` and `mqtts://` connections check the broker's certificate.
    pub tls: TlsSettings,
}

/// TLS settings for `amqps://` and `mqtts://`.
///
/// By default the broker's certificate chain and host name are verified against the system's
/// root certificates (loaded with `rustls-native-certs`, so `SSL_CERT_FILE` / `SSL_CERT_DIR`
/// replace them when set) plus the certificates in `ca_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Verify the certificate and host name. `false` is sr3's `tlsRigour lax`: any certificate is
    /// accepted (the connection is encrypted, but the broker is not authenticated).
    pub verify: bool,
    /// A PEM file of extra trusted CA certificates, added to the system roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            verify: true,
            ca_file: None,
        }
    }
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
            tls: TlsSettings::default(),
        })
    }

    /// The same endpoint with these TLS settings.
    pub fn with_tls(mut self, tls: TlsSettings) -> Self {
        self.tls = tls;
        self
    }

    /// Is this a TLS connection (`amqps`, `mqtts`)?
    pub fn is_tls(&self) -> bool {
        matches!(self.protocol, Protocol::Amqps | Protocol::Mqtts)
    }

    /// The trusted roots: the system's plus `tls.ca_file`'s.
    pub(crate) fn tls_roots(&self) -> Result<Vec<CertificateDer<'static>>, BrokerError> {
        let loaded = rustls_native_certs::load_native_certs();
        for e in &loaded.errors {
            tracing::debug!(broker = %self, "loading system root certificates: {e}");
        }
        let mut roots = loaded.certs;
        if let Some(path) = &self.tls.ca_file {
            let bad = |why: String| BrokerError::Tls {
                broker: self.masked(),
                reason: format!("CA file {}: {why}", path.display()),
            };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no PEM certificate in it".into()));
            }
            roots.extend(certs);
        }
        Ok(roots)
    }

    /// A rustls client configuration (ring) following `tls`.
    pub(crate) fn tls_client_config(&self) -> Result<Arc<rustls::ClientConfig>, BrokerError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let fail = |e: rustls::Error| BrokerError::Tls {
            broker: self.masked(),
            reason: e.to_string(),
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(fail)?;
        let config = if self.tls.verify {
            let mut store = rustls::RootCertStore::empty();
            let (_added, ignored) = store.add_parsable_certificates(self.tls_roots()?);
            if ignored > 0 {
                tracing::debug!(broker = %self, "{ignored} unusable root certificates ignored");
            }
            builder.with_root_certificates(store).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        };
        Ok(Arc::new(config))
    }

    /// The error for a failed connection whose message says the certificate was refused, if so.
    pub(crate) fn certificate_refused(&self, text: &str) -> Option<BrokerError> {
        let lower = text.to_ascii_lowercase();
        let refused = [
            "invalid peer certificate",
            "unknownissuer",
            "notvalidforname",
            "certificate verify failed",
            "badsignature",
            "certexpired",
        ]
        .iter()
        .any(|w| lower.contains(w));
        refused.then(|| BrokerError::CertificateRefused {
            broker: self.masked(),
            reason: crate::amqp::scrub(self, text),
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

/// sr3's `tlsRigour lax`: any certificate, any host name. Signatures are still checked, so the
/// handshake itself is sound; only the broker's identity is not.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
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
        let e = Endpoint::parse("mqtts://u@h", Some("x")).unwrap();
        assert_eq!(
            (e.protocol, e.port, e.is_tls()),
            (Protocol::Mqtts, 8883, true)
        );
        let e = Endpoint::parse("amqps://u@h/", Some("x")).unwrap();
        assert_eq!(
            (e.port, e.tls.verify, e.tls.ca_file.is_none()),
            (5671, true, true)
        );
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
