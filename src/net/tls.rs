//! The certificate authorities keyfix trusts: the operating system's, plus those of
//! `SSL_CERT_FILE` (a PEM file) and `SSL_CERT_DIR` (directories of PEM files, separated as in
//! `PATH`). Left to itself, reqwest verifies with rustls-platform-verifier, which on Linux reads
//! the system's store through rustls-native-certs, where either variable *replaces* the system's
//! store, and which on macOS and Windows asks the system alone, ignoring both. keyfix builds one
//! rustls configuration here instead, with the variables adding to the system's store everywhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, ClientConfig};
use tracing::{debug, warn};

/// Where the extra authorities come from: the two variables' values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustEnv {
    pub cert_file: Option<PathBuf>,
    pub cert_dirs: Vec<PathBuf>,
}

impl TrustEnv {
    pub fn from_env() -> TrustEnv {
        let set = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        TrustEnv {
            cert_file: set("SSL_CERT_FILE").map(PathBuf::from),
            cert_dirs: set("SSL_CERT_DIR")
                .map(|dirs| {
                    std::env::split_paths(&dirs)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The certificates the variables name. A file or directory that cannot be read, or holds
    /// no certificate, is reported on stderr and otherwise skipped, as the system's store is
    /// still there to use.
    pub fn certificates(&self) -> Vec<CertificateDer<'static>> {
        let mut found = Vec::new();
        if let Some(file) = &self.cert_file {
            found.extend(read_certificates("SSL_CERT_FILE", Some(file), None));
        }
        for dir in &self.cert_dirs {
            found.extend(read_certificates("SSL_CERT_DIR", None, Some(dir)));
        }
        found
    }
}

fn read_certificates(
    var: &str,
    file: Option<&Path>,
    dir: Option<&Path>,
) -> Vec<CertificateDer<'static>> {
    let path = file.or(dir).expect("a file or a directory");
    let result = rustls_native_certs::load_certs_from_paths(file, dir);
    for error in &result.errors {
        warn!("{var}: {error}");
    }
    if result.certs.is_empty() && result.errors.is_empty() {
        warn!("{var}: {} holds no PEM certificate", path.display());
    }
    debug!(
        "{var}: {} certificate(s) from {}",
        result.certs.len(),
        path.display()
    );
    result.certs
}

/// The rustls configuration both clients use: ring, TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 offered,
/// the certificate authorities above.
pub fn client_config(env: &TrustEnv) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut config = platform::with_roots(builder, provider, env.certificates())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Linux and the other Unix systems: the system's store is a bundle file or a directory of PEM
/// files in one of a few known places (each distribution's bundle lies in one of those
/// directories); every one that exists is read, whatever `SSL_CERT_FILE` and `SSL_CERT_DIR` say.
#[cfg(not(any(target_vendor = "apple", windows)))]
mod platform {
    use std::path::Path;
    use std::sync::Arc;

    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::CertificateDer;
    use rustls::{ClientConfig, ConfigBuilder, RootCertStore, WantsVerifier};
    use tracing::debug;

    /// The authorities of the system's `dirs`, and `extra`.
    pub fn roots<'a>(
        dirs: impl IntoIterator<Item = &'a Path>,
        extra: Vec<CertificateDer<'static>>,
    ) -> RootCertStore {
        let mut certificates = Vec::new();
        for dir in dirs {
            certificates.extend(rustls_native_certs::load_certs_from_paths(None, Some(dir)).certs);
        }
        certificates.extend(extra);
        certificates.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
        certificates.dedup();
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(certificates);
        debug!(
            "{added} certificate authorities trusted ({ignored} unreadable certificates ignored)"
        );
        roots
    }

    pub fn with_roots(
        builder: ConfigBuilder<ClientConfig, WantsVerifier>,
        _provider: Arc<CryptoProvider>,
        extra: Vec<CertificateDer<'static>>,
    ) -> Result<ClientConfig, String> {
        // An empty store is not refused here: plain-http URLs still work, and an https one
        // then fails with the certificate's issuer unknown, which is what the user must fix.
        let roots = roots(openssl_probe::candidate_cert_dirs(), extra);
        Ok(builder.with_root_certificates(roots).with_no_client_auth())
    }
}

/// macOS and Windows: the system verifies, with the variables' authorities added to its own.
#[cfg(any(target_vendor = "apple", windows))]
mod platform {
    use std::sync::Arc;

    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::CertificateDer;
    use rustls::{ClientConfig, ConfigBuilder, WantsVerifier};

    pub fn with_roots(
        builder: ConfigBuilder<ClientConfig, WantsVerifier>,
        provider: Arc<CryptoProvider>,
        extra: Vec<CertificateDer<'static>>,
    ) -> Result<ClientConfig, String> {
        let verifier = if extra.is_empty() {
            rustls_platform_verifier::Verifier::new(provider)
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
        }
        .map_err(|e| e.to_string())?;
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth())
    }
}

/// Why a server's certificate was refused, in the words of the one-line error.
pub fn refusal(error: &CertificateError) -> String {
    match error {
        CertificateError::UnknownIssuer => "not issued by a trusted authority".to_owned(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "it names another host".to_owned()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "it has expired".to_owned()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "it is not valid yet (is the clock right?)".to_owned()
        }
        CertificateError::Revoked => "it has been revoked".to_owned(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "it is not meant for a server".to_owned()
        }
        other => format!("it was refused ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_variables_name_but_cannot_be_read_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        assert!(TrustEnv::default().certificates().is_empty());
        let missing = TrustEnv {
            cert_file: Some(dir.path().join("missing.pem")),
            cert_dirs: vec![dir.path().join("nowhere")],
        };
        assert!(missing.certificates().is_empty());
        std::fs::write(dir.path().join("notes.txt"), "no certificate here").unwrap();
        let empty = TrustEnv {
            cert_file: Some(dir.path().join("notes.txt")),
            cert_dirs: vec![dir.path().to_owned()],
        };
        assert!(empty.certificates().is_empty());
        // The configuration is still built: the system's store stands.
        assert!(client_config(&missing).is_ok());
    }

    #[cfg(not(any(target_vendor = "apple", windows)))]
    #[test]
    fn ssl_cert_file_and_ssl_cert_dir_add_to_the_system_store() {
        use keyfix_sim::tls::Authority;
        use rustls::client::danger::ServerCertVerifier;
        use rustls::client::WebPkiServerVerifier;
        use rustls::pki_types::{pem::PemObject, ServerName, UnixTime};

        let system = Authority::new("system").unwrap();
        let file = Authority::new("file").unwrap();
        let dir = Authority::new("dir").unwrap();
        let stranger = Authority::new("stranger").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let place = |name: &str, authority: &Authority| {
            let path = tmp.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, authority.cert_pem()).unwrap();
            path
        };
        place("system/ca.pem", &system);
        let env = TrustEnv {
            cert_file: Some(place("file.pem", &file)),
            cert_dirs: vec![place("dir/a.pem", &dir).parent().unwrap().to_owned()],
        };
        let roots = platform::roots([tmp.path().join("system").as_path()], env.certificates());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        let verify = |authority: &Authority| {
            let identity = authority.issue(&["github.example.com"]).unwrap();
            let leaf = CertificateDer::pem_slice_iter(identity.cert_chain_pem.as_bytes())
                .next()
                .unwrap()
                .unwrap();
            let name = ServerName::try_from("github.example.com").unwrap();
            verifier.verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
        };
        for authority in [&system, &file, &dir] {
            assert!(verify(authority).is_ok());
        }
        assert_eq!(
            verify(&stranger).unwrap_err(),
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        );
    }

    #[test]
    fn refusals_read_as_a_reason() {
        assert_eq!(
            refusal(&CertificateError::UnknownIssuer),
            "not issued by a trusted authority"
        );
        assert_eq!(
            refusal(&CertificateError::NotValidForName),
            "it names another host"
        );
        assert!(refusal(&CertificateError::BadSignature).contains("BadSignature"));
    }
}
