//! The proxy a request takes, read from the environment as curl reads it: `https_proxy` for
//! https URLs and `http_proxy` for http ones, then `all_proxy`, each in lower case first and
//! then in upper case, an empty value counting as unset; `no_proxy` (or `NO_PROXY`) lists the
//! hosts reached directly. reqwest reads the same variables by itself, but upper case first,
//! with `host:port` entries of `NO_PROXY` never matching, and a proxy URL without a port taken to
//! mean port 80 where curl means 1080; keyfix reads them here, once, for both APIs.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};

/// Why a proxy variable cannot be used. Never holds the variable's value: it may carry a
/// password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{var} is not a proxy URL keyfix can use ({why}); write it as http://HOST:PORT, with USER:PASSWORD@ before HOST where the proxy asks for them")]
pub struct ProxyError {
    pub var: &'static str,
    pub why: &'static str,
}

/// One proxy: its URL, credentials included, kept secret; shown without them.
#[derive(Clone)]
pub struct ProxyUrl {
    url: SecretString,
    shown: String,
    /// The variable it came from.
    pub var: &'static str,
}

impl ProxyUrl {
    /// Reads a proxy variable's value as curl does: no `://` means `http://`, no port means 1080
    /// (443 for an https proxy).
    pub fn parse(var: &'static str, value: &str) -> Result<ProxyUrl, ProxyError> {
        let refuse = |why| ProxyError { var, why };
        let value = value.trim();
        let text = if value.contains("://") {
            value.to_owned()
        } else {
            format!("http://{value}")
        };
        let mut url = Url::parse(&text).map_err(|_| refuse("not a URL"))?;
        let default_port = match url.scheme() {
            "http" | "socks4" | "socks4a" | "socks5" | "socks5h" => 1080,
            "https" => 443,
            _ => {
                return Err(refuse(
                    "its scheme is not http, https, socks4, socks4a, socks5 or socks5h",
                ))
            }
        };
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refuse("it names no host"));
        }
        if url.port().is_none() {
            url.set_port(Some(default_port))
                .map_err(|_| refuse("not a URL"))?;
        }
        url.set_path("");
        url.set_query(None);
        url.set_fragment(None);
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        Ok(ProxyUrl {
            url: SecretString::from(url.to_string()),
            shown: shown.as_str().trim_end_matches('/').to_owned(),
            var,
        })
    }

    /// The URL reqwest connects through, credentials included: for reqwest only, never shown.
    pub fn expose(&self) -> Url {
        Url::parse(self.url.expose_secret()).expect("parsed when read")
    }

    /// The URL without its credentials.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (from {})", self.shown, self.var)
    }
}

impl std::fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the proxy {} ({})", self.shown, self.var)
    }
}

/// The proxies of the environment and the hosts they are not used for.
#[derive(Clone, Debug, Default)]
pub struct Proxies {
    pub https: Option<ProxyUrl>,
    pub http: Option<ProxyUrl>,
    pub no_proxy: NoProxy,
}

/// The first variable of `names` that is set and not empty, with its name.
fn first_set(
    get: &impl Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names.iter().find_map(|name| {
        get(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (*name, v))
    })
}

impl Proxies {
    /// Reads the variables through `get` (the process environment: [`Proxies::from_env`]).
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Proxies, ProxyError> {
        let pick = |names: &[&'static str]| -> Result<Option<ProxyUrl>, ProxyError> {
            let all = ["all_proxy", "ALL_PROXY"];
            match first_set(&get, names).or_else(|| first_set(&get, &all)) {
                Some((var, value)) => ProxyUrl::parse(var, &value).map(Some),
                None => Ok(None),
            }
        };
        Ok(Proxies {
            https: pick(&["https_proxy", "HTTPS_PROXY"])?,
            http: pick(&["http_proxy", "HTTP_PROXY"])?,
            no_proxy: first_set(&get, &["no_proxy", "NO_PROXY"])
                .map(|(_, value)| NoProxy::parse(&value))
                .unwrap_or_default(),
        })
    }

    pub fn from_env() -> Result<Proxies, ProxyError> {
        Proxies::read(|name| std::env::var(name).ok())
    }

    /// The proxy a request to `url` goes through, or `None` to go directly.
    pub fn for_url(&self, url: &Url) -> Option<&ProxyUrl> {
        let proxy = match url.scheme() {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        }?;
        let host = url.host()?;
        let port = url.port_or_known_default()?;
        (!self.no_proxy.matches(&host, port)).then_some(proxy)
    }

    pub fn is_empty(&self) -> bool {
        self.https.is_none() && self.http.is_none()
    }
}

/// `NO_PROXY`: comma-separated entries, each a host name (matching the name and every name
/// under it; leading `.` or `*.` and trailing `.` ignored, any case), an IP address or a CIDR
/// block (matching only a URL written with an address: names are not resolved for this), either
/// with `:PORT` to match that port only (`[v6]:PORT` for IPv6), or `*` for every host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    every_host: bool,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    pattern: Pattern,
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Domain(String),
    Network { address: IpAddr, prefix: u8 },
}

impl NoProxy {
    pub fn parse(value: &str) -> NoProxy {
        let mut no_proxy = NoProxy::default();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                no_proxy.every_host = true;
            } else if let Some(entry) = Entry::parse(entry) {
                no_proxy.entries.push(entry);
            }
        }
        no_proxy
    }

    pub fn matches(&self, host: &Host<&str>, port: u16) -> bool {
        self.every_host
            || self
                .entries
                .iter()
                .any(|entry| entry.port.is_none_or(|p| p == port) && entry.pattern.matches(host))
    }
}

impl Entry {
    fn parse(text: &str) -> Option<Entry> {
        // `[v6]` or `[v6]:port`
        if let Some(rest) = text.strip_prefix('[') {
            let (address, after) = rest.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(port) => Some(port.parse().ok()?),
                None if after.is_empty() => None,
                None => return None,
            };
            return Some(Entry {
                pattern: Pattern::network(address)?,
                port,
            });
        }
        if let Some(pattern) = Pattern::network(text) {
            return Some(Entry {
                pattern,
                port: None,
            });
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port.parse().ok()?)),
            _ => (text, None),
        };
        let pattern = Pattern::network(host).unwrap_or_else(|| {
            let name = host.strip_prefix('*').unwrap_or(host);
            Pattern::Domain(name.trim_matches('.').to_ascii_lowercase())
        });
        Some(Entry { pattern, port })
    }
}

impl Pattern {
    /// An address or a CIDR block.
    fn network(text: &str) -> Option<Pattern> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Pattern::Network { address, prefix })
    }

    fn matches(&self, host: &Host<&str>) -> bool {
        match (self, host) {
            (Pattern::Domain(domain), Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                !domain.is_empty()
                    && (name == *domain
                        || name
                            .strip_suffix(domain.as_str())
                            .is_some_and(|head| head.ends_with('.')))
            }
            (Pattern::Network { address, prefix }, Host::Ipv4(ip)) => {
                within(*address, *prefix, IpAddr::V4(*ip))
            }
            (Pattern::Network { address, prefix }, Host::Ipv6(ip)) => {
                within(*address, *prefix, IpAddr::V6(*ip))
            }
            _ => false,
        }
    }
}

/// Whether `ip` lies in the block `network/prefix`.
fn within(network: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (network, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn proxies(vars: &[(&str, &str)]) -> Result<Proxies, ProxyError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Proxies::read(|name| vars.get(name).cloned())
    }

    fn route(proxies: &Proxies, url: &str) -> Option<String> {
        proxies
            .for_url(&Url::parse(url).unwrap())
            .map(|p| format!("{} {}", p.var, p.shown()))
    }

    #[test]
    fn https_urls_take_https_proxy_then_all_proxy_in_either_case() {
        let p = proxies(&[("HTTPS_PROXY", "http://upper:3128")]).unwrap();
        assert_eq!(
            route(&p, "https://api.github.com/x").as_deref(),
            Some("HTTPS_PROXY http://upper:3128")
        );
        assert_eq!(route(&p, "http://api.github.com/x"), None);
        // Lower case first, as curl reads them.
        let p = proxies(&[
            ("HTTPS_PROXY", "http://upper:3128"),
            ("https_proxy", "http://lower:3128"),
        ])
        .unwrap();
        assert_eq!(
            route(&p, "https://h").as_deref(),
            Some("https_proxy http://lower:3128")
        );
        // An empty value is unset.
        let p = proxies(&[("https_proxy", ""), ("HTTPS_PROXY", "http://upper:1")]).unwrap();
        assert_eq!(
            route(&p, "https://h").as_deref(),
            Some("HTTPS_PROXY http://upper:1")
        );
        let p = proxies(&[("ALL_PROXY", "http://all:8080"), ("http_proxy", "plain:81")]).unwrap();
        assert_eq!(
            route(&p, "https://h").as_deref(),
            Some("ALL_PROXY http://all:8080")
        );
        assert_eq!(
            route(&p, "http://h").as_deref(),
            Some("http_proxy http://plain:81")
        );
        let p = proxies(&[("all_proxy", "http://a:1"), ("HTTP_PROXY", "http://b:2")]).unwrap();
        assert_eq!(
            route(&p, "https://h").as_deref(),
            Some("all_proxy http://a:1")
        );
        assert_eq!(
            route(&p, "http://h").as_deref(),
            Some("HTTP_PROXY http://b:2")
        );
        assert!(proxies(&[]).unwrap().is_empty());
        assert_eq!(route(&proxies(&[]).unwrap(), "https://h"), None);
    }

    #[test]
    fn proxy_urls_are_read_as_curl_reads_them() {
        let shown = |v: &str| ProxyUrl::parse("HTTPS_PROXY", v).map(|p| p.shown().to_owned());
        assert_eq!(shown("proxy.corp:3128").unwrap(), "http://proxy.corp:3128");
        assert_eq!(
            shown("http://proxy.corp").unwrap(),
            "http://proxy.corp:1080"
        );
        assert_eq!(shown("https://proxy.corp").unwrap(), "https://proxy.corp");
        assert_eq!(
            shown("socks5h://10.0.0.1").unwrap(),
            "socks5h://10.0.0.1:1080"
        );
        assert_eq!(shown("http://p:3128/").unwrap(), "http://p:3128");
        assert!(shown("ftp://p:21").is_err());
        assert!(shown("http://:3128").is_err());
        assert!(shown("http://[::1").is_err());
    }

    #[test]
    fn credentials_are_used_but_never_shown() {
        let p = ProxyUrl::parse("HTTPS_PROXY", "http://al%40ice:s3cr%3At@proxy:3128").unwrap();
        let exposed = p.expose();
        assert_eq!(exposed.username(), "al%40ice");
        assert_eq!(exposed.password(), Some("s3cr%3At"));
        for text in [format!("{p:?}"), p.to_string(), p.shown().to_owned()] {
            assert!(!text.contains("s3cr"), "{text}");
            assert!(
                !text.contains("al%40ice") && !text.contains("al@ice"),
                "{text}"
            );
        }
        assert_eq!(p.to_string(), "the proxy http://proxy:3128 (HTTPS_PROXY)");
        // A value that cannot be read is named by its variable alone.
        let error = ProxyUrl::parse("HTTPS_PROXY", "ftp://user:hunter2@p").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(error
            .to_string()
            .starts_with("HTTPS_PROXY is not a proxy URL"));
        let error = proxies(&[("https_proxy", "gopher://u:hunter2@p")]).unwrap_err();
        assert_eq!(error.var, "https_proxy");
        let debug = format!("{:?}", proxies(&[("HTTPS_PROXY", "http://u:hunter2@p:1")]));
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    fn bypassed(no_proxy: &str, url: &str) -> bool {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://p:1"),
            ("HTTP_PROXY", "http://p:1"),
            ("NO_PROXY", no_proxy),
        ])
        .unwrap();
        route(&p, url).is_none()
    }

    #[test]
    fn no_proxy_matches_hosts_and_the_names_under_them() {
        for entry in [
            "example.com",
            ".example.com",
            "*.example.com",
            "EXAMPLE.com.",
            "  example.com  ",
        ] {
            assert!(bypassed(entry, "https://example.com/x"), "{entry}");
            assert!(bypassed(entry, "https://api.Example.com/x"), "{entry}");
            assert!(bypassed(entry, "https://a.b.example.com./x"), "{entry}");
            assert!(!bypassed(entry, "https://notexample.com/x"), "{entry}");
            assert!(!bypassed(entry, "https://example.com.evil/x"), "{entry}");
        }
        assert!(bypassed(
            "other.org, github.example.com",
            "https://github.example.com"
        ));
        assert!(!bypassed("github.example.com", "https://example.com"));
        assert!(bypassed("*", "https://anything"));
        assert!(bypassed("a.org,*", "https://anything"));
        assert!(!bypassed("", "https://anything"));
        assert!(!bypassed(",,", "https://anything"));
    }

    #[test]
    fn no_proxy_matches_a_port_where_one_is_given() {
        assert!(bypassed(
            "github.example.com:8443",
            "https://github.example.com:8443/x"
        ));
        assert!(!bypassed(
            "github.example.com:8443",
            "https://github.example.com/x"
        ));
        assert!(bypassed(
            "github.example.com:443",
            "https://github.example.com/x"
        ));
        assert!(bypassed("example.com:80", "http://api.example.com/x"));
        assert!(!bypassed("example.com:80", "https://api.example.com/x"));
        assert!(bypassed("127.0.0.1:8080", "http://127.0.0.1:8080"));
        assert!(!bypassed("127.0.0.1:8080", "http://127.0.0.1:8081"));
        assert!(bypassed("[::1]:8080", "http://[::1]:8080"));
        assert!(!bypassed("[::1]:8080", "http://[::1]:9"));
        // Not a port: the entry is ignored rather than read as something else.
        assert!(!bypassed("example.com:https", "https://example.com"));
    }

    #[test]
    fn no_proxy_matches_addresses_and_blocks_of_them() {
        assert!(bypassed("127.0.0.1", "https://127.0.0.1:4000"));
        assert!(!bypassed("127.0.0.1", "https://127.0.0.2"));
        assert!(bypassed("127.0.0.0/8", "https://127.9.9.9"));
        assert!(bypassed("10.0.0.0/8,192.168.0.0/16", "http://192.168.4.2"));
        assert!(!bypassed("10.0.0.0/8", "http://11.0.0.1"));
        assert!(bypassed("0.0.0.0/0", "http://8.8.8.8"));
        assert!(bypassed("::1", "https://[::1]:8443"));
        assert!(bypassed("[::1]", "https://[::1]"));
        assert!(bypassed("fd00::/8", "https://[fd12::5]"));
        assert!(!bypassed("fd00::/8", "https://[fe80::1]"));
        // Names are not resolved: an address entry does not match a name, nor a name an address.
        assert!(!bypassed("127.0.0.1", "https://localhost"));
        assert!(!bypassed("localhost", "https://127.0.0.1"));
        assert!(bypassed("localhost", "https://localhost:1234"));
        // Loopback is proxied like any other host unless NO_PROXY names it, as in curl.
        assert!(!bypassed("example.com", "https://127.0.0.1"));
        assert!(!bypassed("127.0.0.0/33", "https://127.0.0.1"));
    }
}
