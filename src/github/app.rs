//! GitHub App credentials (`cli.md`): the App's id and private key from the environment, and the
//! JSON web token (RS256) the App signs to look up its installations and take installation
//! tokens. The private key stays wrapped as a secret from the moment it is read; no part of it,
//! and no JWT, is ever printed, logged or written anywhere.

use std::fmt;
use std::path::Path;

use base64::Engine;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde_json::{json, Value};

use super::Error;

pub const APP_ID_VAR: &str = "KEYFIX_GITHUB_APP_ID";
pub const PRIVATE_KEY_VAR: &str = "KEYFIX_GITHUB_APP_PRIVATE_KEY";
pub const PRIVATE_KEY_FILE_VAR: &str = "KEYFIX_GITHUB_APP_PRIVATE_KEY_FILE";

/// GitHub allows clocks to differ: the JWT says it was issued a minute ago.
pub const ISSUED_BEFORE_SECS: u64 = 60;
/// And it lives ten minutes from then, GitHub's longest (so it ends 9 minutes from now).
pub const LIFETIME_SECS: u64 = 600;

/// A GitHub App: its id and its private key. `Debug` shows the id and where the key came from.
pub struct App {
    /// The App ID (digits) or its client ID (`Iv23…`), as given.
    pub id: String,
    key: SecretBox<PrivateKeyDer<'static>>,
    /// Where the key came from: a variable's name, or the file it names.
    pub key_source: String,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "App({}, private key from {}, redacted)",
            self.id, self.key_source
        )
    }
}

impl App {
    /// The App from `KEYFIX_GITHUB_APP_ID` with `KEYFIX_GITHUB_APP_PRIVATE_KEY` (PEM text) or
    /// `KEYFIX_GITHUB_APP_PRIVATE_KEY_FILE`; `None` when none of them is set. One of them set
    /// without the others, or a key that cannot sign, is an error (exit 4): nothing is sent.
    pub fn from_env() -> Result<Option<App>, Error> {
        App::from_vars(|name| std::env::var(name).ok())
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<App>, Error> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let id = set(APP_ID_VAR);
        let text = set(PRIVATE_KEY_VAR).map(SecretString::from);
        let file = set(PRIVATE_KEY_FILE_VAR);
        let config = |message: String| Error::AppConfig { message };
        let (pem, key_source) = match (text, file) {
            (None, None) if id.is_none() => return Ok(None),
            (None, None) => {
                return Err(config(format!(
                    "{APP_ID_VAR} is set but the App's private key is not: put it in \
                     {PRIVATE_KEY_VAR} (PEM text) or {PRIVATE_KEY_FILE_VAR} (its file)"
                )))
            }
            (Some(_), Some(_)) => {
                return Err(config(format!(
                    "both {PRIVATE_KEY_VAR} and {PRIVATE_KEY_FILE_VAR} are set: keep one"
                )))
            }
            (Some(text), None) => (text, PRIVATE_KEY_VAR.to_owned()),
            (None, Some(file)) => (read_key_file(Path::new(file.trim()))?, file),
        };
        let Some(id) = id.map(|id| id.trim().to_owned()) else {
            return Err(config(format!(
                "the GitHub App's private key is set but {APP_ID_VAR} is not: give the App ID \
                 from the App's settings page"
            )));
        };
        let key = parse_key(pem.expose_secret()).map_err(|detail| Error::AppKey {
            source_name: key_source.clone(),
            detail,
        })?;
        Ok(Some(App {
            id,
            key: SecretBox::new(Box::new(key)),
            key_source,
        }))
    }

    /// The JWT that authenticates as the App, signed with its key; `now` in epoch seconds.
    pub fn jwt(&self, now: u64) -> Result<SecretString, Error> {
        let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let header = encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = encode(claims(&self.id, now).to_string().as_bytes());
        let signing_input = format!("{header}.{claims}");
        let pair = key_pair(self.key.expose_secret()).map_err(|detail| Error::AppKey {
            source_name: self.key_source.clone(),
            detail,
        })?;
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| Error::AppKey {
            source_name: self.key_source.clone(),
            detail: "it could not sign".to_owned(),
        })?;
        Ok(SecretString::from(format!(
            "{signing_input}.{}",
            encode(&signature)
        )))
    }
}

/// The JWT's claims as GitHub documents them: issued a minute ago (clocks differ), expiring ten
/// minutes after that, issued by the App (its numeric id as a number; a client ID as text).
pub fn claims(id: &str, now: u64) -> Value {
    let iat = now.saturating_sub(ISSUED_BEFORE_SECS);
    let iss = match id.parse::<u64>() {
        Ok(number) => json!(number),
        Err(_) => json!(id),
    };
    json!({"iat": iat, "exp": iat + LIFETIME_SECS, "iss": iss})
}

fn read_key_file(path: &Path) -> Result<SecretString, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::AppKey {
        source_name: path.display().to_string(),
        detail: format!("it cannot be read ({})", e.kind()),
    })?;
    // Read as bytes and wrapped at once: the text is secret whatever it turns out to be.
    let bytes = secrecy::SecretSlice::from(bytes);
    match std::str::from_utf8(bytes.expose_secret()) {
        Ok(text) => Ok(SecretString::from(text.to_owned())),
        Err(_) => Err(Error::AppKey {
            source_name: path.display().to_string(),
            detail: "it is not PEM text".to_owned(),
        }),
    }
}

/// The RSA private key of PEM text (PKCS#1 `RSA PRIVATE KEY`, as GitHub's downloaded `.pem`
/// files are, or PKCS#8 `PRIVATE KEY`), checked by making a key pair of it. `Err` says what is
/// wrong in words that quote nothing of the text. A variable holding the PEM on one line with
/// `\n` escapes (as some secret stores keep it) is read as the lines they stand for.
fn parse_key(pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    let unescaped;
    let pem = if !pem.trim().contains('\n') && pem.contains("\\n") {
        unescaped = zeroize::Zeroizing::new(pem.replace("\\n", "\n"));
        unescaped.as_str()
    } else {
        pem
    };
    if !pem.contains("-----BEGIN ") {
        return Err("it holds no PEM block (-----BEGIN RSA PRIVATE KEY----- or \
                    -----BEGIN PRIVATE KEY-----)"
            .to_owned());
    }
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
        use rustls_pki_types::pem::Error as E;
        match e {
            E::NoItemsFound => "it holds no RSA PRIVATE KEY or PRIVATE KEY block".to_owned(),
            E::MissingSectionEnd { .. } => "its PEM block has no END line".to_owned(),
            E::Base64Decode(_) => "its PEM block is not valid base64".to_owned(),
            _ => "its PEM text does not parse".to_owned(),
        }
    })?;
    key_pair(&key)?;
    Ok(key)
}

fn key_pair(key: &PrivateKeyDer<'static>) -> Result<RsaKeyPair, String> {
    let pair = match key {
        PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
        PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
        _ => return Err("it is an EC key; a GitHub App's key is RSA".to_owned()),
    };
    pair.map_err(|why| format!("it is not an RSA private key keyfix can sign with ({why})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
    use secrecy::ExposeSecret;

    const PKCS1: &str = include_str!("../../tests/fixtures/github-app-test-key.pem");
    const PKCS8: &str = include_str!("../../tests/fixtures/github-app-test-key-pkcs8.pem");

    fn app(pem: &str) -> Result<Option<App>, Error> {
        let pem = pem.to_owned();
        App::from_vars(move |name| match name {
            APP_ID_VAR => Some("12345".to_owned()),
            PRIVATE_KEY_VAR => Some(pem.clone()),
            _ => None,
        })
    }

    fn decode(part: &str) -> Vec<u8> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap()
    }

    #[test]
    fn the_claims_are_github_s() {
        let now = 1_800_000_000;
        let claims = claims("12345", now);
        assert_eq!(claims["iat"], now - 60, "issued a minute in the past");
        assert_eq!(claims["exp"], now + 540, "at most ten minutes ahead");
        assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 600);
        assert_eq!(claims["iss"], json!(12345), "the App id, as a number");
        assert_eq!(
            super::claims("Iv23liAbCdEf", now)["iss"],
            "Iv23liAbCdEf",
            "a client ID as text"
        );
    }

    #[test]
    fn the_jwt_is_rs256_signed_with_the_app_s_key() {
        for pem in [PKCS1, PKCS8] {
            let app = app(pem).unwrap().unwrap();
            let jwt = app.jwt(1_800_000_000).unwrap();
            let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
            assert_eq!(parts.len(), 3);
            let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
            assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
            let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
            assert_eq!(claims, super::claims("12345", 1_800_000_000));
            let pair = key_pair(app.key.expose_secret()).unwrap();
            let public = UnparsedPublicKey::new(
                &RSA_PKCS1_2048_8192_SHA256,
                ring::signature::KeyPair::public_key(&pair)
                    .as_ref()
                    .to_vec(),
            );
            let signed = format!("{}.{}", parts[0], parts[1]);
            public
                .verify(signed.as_bytes(), &decode(parts[2]))
                .expect("the signature verifies with the App's public key");
            assert!(public.verify(b"something else", &decode(parts[2])).is_err());
        }
    }

    #[test]
    fn one_line_pem_with_escapes_is_read() {
        let escaped = PKCS1.replace('\n', "\\n");
        assert!(app(&escaped).unwrap().is_some());
    }

    #[test]
    fn keys_that_cannot_sign_are_refused_without_quoting_them() {
        let body_line = PKCS1.lines().nth(3).unwrap();
        let truncated: String = PKCS1.lines().take(10).collect::<Vec<_>>().join("\n");
        let cases = [
            "not a key at all".to_owned(),
            truncated,
            PKCS1.replace(body_line, &"A".repeat(body_line.len())),
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_owned(),
        ];
        for case in cases {
            let error = app(&case).unwrap_err();
            assert!(matches!(error, Error::AppKey { .. }), "{error}");
            let message = error.to_string();
            assert!(message.contains(PRIVATE_KEY_VAR), "{message}");
            assert!(!message.contains(&body_line[..20]), "{message}");
            assert!(!message.contains('\n'), "one line: {message}");
        }
    }

    #[test]
    fn the_variables_go_together() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            App::from_vars(move |name| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        assert!(vars(&[]).unwrap().is_none(), "no App: the token is used");
        assert!(matches!(
            vars(&[(APP_ID_VAR, "1")]),
            Err(Error::AppConfig { .. })
        ));
        assert!(matches!(
            vars(&[(PRIVATE_KEY_VAR, PKCS1)]),
            Err(Error::AppConfig { .. })
        ));
        assert!(matches!(
            vars(&[
                (APP_ID_VAR, "1"),
                (PRIVATE_KEY_VAR, PKCS1),
                (PRIVATE_KEY_FILE_VAR, "/k.pem")
            ]),
            Err(Error::AppConfig { .. })
        ));
        let missing = vars(&[
            (APP_ID_VAR, "1"),
            (PRIVATE_KEY_FILE_VAR, "/nonexistent/k.pem"),
        ]);
        let message = missing.unwrap_err().to_string();
        assert!(message.contains("/nonexistent/k.pem"), "{message}");
    }

    #[test]
    fn debug_shows_no_key() {
        let app = app(PKCS1).unwrap().unwrap();
        let shown = format!("{app:?}");
        assert!(!shown.contains("MII"), "{shown}");
        assert!(shown.contains("12345"));
    }
}
