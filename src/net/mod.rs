//! How keyfix reaches the network, the same for the GitHub and the Anthropic client: the proxies
//! of the environment ([`proxy`]) and the certificate authorities it trusts ([`tls`]), read once
//! per process, and the one-line error for a certificate that is not trusted.

pub mod proxy;
pub mod tls;

use std::sync::{Arc, OnceLock};

pub use proxy::{Proxies, ProxyError, ProxyUrl};
use tls::TrustEnv;

/// The network settings of the environment, shared by every HTTP client keyfix builds.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

struct Inner {
    proxies: Result<Proxies, ProxyError>,
    trust: TrustEnv,
    /// Built on first use, once: reading the system's store takes a moment.
    tls: OnceLock<Result<rustls::ClientConfig, String>>,
}

/// Why no client could be built from the settings.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error("could not set up TLS: {0}")]
    Tls(String),
}

/// A server's certificate that keyfix does not trust: nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("could not verify the TLS certificate of {host}: {reason}; if your organization uses its own certificate authority, point SSL_CERT_FILE at its certificate")]
pub struct CertificateRejected {
    pub host: String,
    pub reason: String,
}

impl Network {
    /// Reads the proxy and certificate variables now.
    pub fn from_env() -> Network {
        Network {
            inner: Arc::new(Inner {
                proxies: Proxies::from_env(),
                trust: TrustEnv::from_env(),
                tls: OnceLock::new(),
            }),
        }
    }

    /// The process's settings, read from the environment on first use and shared after.
    pub fn system() -> Network {
        static SYSTEM: OnceLock<Network> = OnceLock::new();
        SYSTEM.get_or_init(Network::from_env).clone()
    }

    /// A reqwest client builder that takes the proxies and trusts the authorities; each client
    /// adds its own settings (agent, timeouts, redirects).
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder, SetupError> {
        let proxies = self.inner.proxies.clone()?;
        let tls = self
            .inner
            .tls
            .get_or_init(|| tls::client_config(&self.inner.trust))
            .clone()
            .map_err(SetupError::Tls)?;
        tracing::debug!(?proxies, "network settings");
        let builder = reqwest::Client::builder().tls_backend_preconfigured(tls);
        Ok(if proxies.is_empty() {
            // Not even reqwest's own reading of the same variables.
            builder.no_proxy()
        } else {
            builder.proxy(reqwest::Proxy::custom(move |url| {
                proxies.for_url(url).map(ProxyUrl::expose)
            }))
        })
    }

    /// The proxy a request to `url` goes through, if any.
    pub fn proxy_for(&self, url: &str) -> Option<&ProxyUrl> {
        let proxies = self.inner.proxies.as_ref().ok()?;
        proxies.for_url(&url::Url::parse(url).ok()?)
    }

    /// What went wrong reaching `url`, naming the proxy the request went through, if any.
    pub fn describe_failure(&self, url: &str, error: &(dyn std::error::Error + 'static)) -> String {
        let detail = root_cause(error);
        match self.proxy_for(url) {
            Some(proxy) => format!("{detail}, through {proxy}"),
            None => detail,
        }
    }
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("proxies", &self.inner.proxies)
            .field("trust", &self.inner.trust)
            .finish()
    }
}

/// The innermost error's text: "connection refused" rather than "error sending request".
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The certificate refusal behind `error`, a failed request to `url`, if that is what it was.
pub fn certificate_rejected(
    error: &(dyn std::error::Error + 'static),
    url: &str,
) -> Option<CertificateRejected> {
    let rustls::Error::InvalidCertificate(refused) = find_rustls_error(error)? else {
        return None;
    };
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned());
    Some(CertificateRejected {
        host,
        reason: tls::refusal(refused),
    })
}

/// The rustls error in `error`'s chain. It reaches reqwest inside an io::Error (inside another
/// one, on a direct connection), and an io::Error's `source` skips what it wraps.
fn find_rustls_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        let wrapped = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(found) = wrapped.and_then(|inner| find_rustls_error(inner)) {
            return Some(found);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(std::io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_refused_certificate_is_found_inside_the_io_error_that_carries_it() {
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let error = Wrapper(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            refused,
        ));
        let found = certificate_rejected(&error, "https://github.example.com:8443/api/v3").unwrap();
        assert_eq!(
            found.to_string(),
            "could not verify the TLS certificate of github.example.com: not issued by a trusted \
             authority; if your organization uses its own certificate authority, point \
             SSL_CERT_FILE at its certificate"
        );
        // A direct connection wraps it twice.
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        let twice = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            refused,
        ));
        let found = certificate_rejected(&Wrapper(twice), "https://[::1]:8443").unwrap();
        assert_eq!(
            (found.host.as_str(), found.reason.as_str()),
            ("[::1]", "it names another host")
        );
        let other = Wrapper(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(certificate_rejected(&other, "https://h"), None);
        let alert = Wrapper(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::DecryptError,
        ));
        assert_eq!(certificate_rejected(&alert, "https://h"), None);
    }
}
