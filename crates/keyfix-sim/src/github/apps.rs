//! GitHub Apps: the JWT an App signs (RS256, checked against the App's public key, `iss`, `iat`
//! and `exp` as GitHub checks them, with GitHub's 401 messages), the lookups of its
//! installations, and installation tokens (`ghs_…`) that expire and carry the installation's
//! permissions and repositories.

use std::sync::Arc;

use anyhow::{bail, Context};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine;
use rand::Rng;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use serde_json::{json, Value};

use super::state::{App, GithubState, Installation, InstallationToken};
use super::{error, json_response, not_found, objects, Caller};
use crate::scenario::OwnerKind;
use crate::World;

pub const UNDECODABLE: &str = "A JSON web token could not be decoded";
pub const NO_INTEGRATION: &str = "Integration not found";
pub const ISS_NOT_INTEGER: &str = "'Issuer' claim ('iss') must be an Integer";
pub const EXP_INVALID: &str = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
pub const EXP_TOO_FAR: &str = "'Expiration time' claim ('exp') is too far in the future";
pub const IAT_INVALID: &str = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
pub const NOT_ACCESSIBLE: &str = "Resource not accessible by integration";

/// The longest a JWT may live from now, as GitHub allows.
const MAX_AHEAD_SECS: u64 = 600;

pub fn routes() -> Router<Arc<World>> {
    Router::new()
        .route("/orgs/{owner}/installation", get(org_installation))
        .route("/users/{owner}/installation", get(user_installation))
        .route("/repos/{owner}/{repo}/installation", get(repo_installation))
        .route("/app/installations/{id}/access_tokens", post(access_tokens))
}

/// Paths only an App's JWT may call.
pub fn is_app_endpoint(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["app", ..]
            | ["orgs", _, "installation"]
            | ["users", _, "installation"]
            | ["repos", _, _, "installation"]
    )
}

/// Three base64url parts, the first a JSON header: a JWT rather than a token.
pub fn looks_like_jwt(value: &str) -> bool {
    value.split('.').count() == 3 && value.starts_with("eyJ")
}

/// The RSAPublicKey (PKCS#1 DER) inside a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), as ring
/// verifies signatures with it.
pub fn rsa_public_key(pem: &str) -> anyhow::Result<Vec<u8>> {
    let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("not a PEM PUBLIC KEY ({e:?})"))?;
    let (tag, body, _) = tlv(spki.as_ref()).context("not DER")?;
    if tag != 0x30 {
        bail!("not a SubjectPublicKeyInfo");
    }
    let (tag, algorithm, rest) = tlv(body).context("no algorithm")?;
    const RSA_ENCRYPTION: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    if tag != 0x30 || !algorithm.starts_with(RSA_ENCRYPTION) {
        bail!("not an RSA public key");
    }
    let (tag, bits, _) = tlv(rest).context("no key")?;
    match bits.split_first() {
        Some((0, key)) if tag == 0x03 => Ok(key.to_vec()),
        _ => bail!("the key's BIT STRING is malformed"),
    }
}

/// One DER element: its tag, its contents, and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |len, byte| (len << 8) | usize::from(*byte));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn decode_part(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()
}

/// The claims of a JWT, unverified.
fn claims_of(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    serde_json::from_slice(&decode_part(payload)?).ok()
}

/// The App a JWT's `iss` names, verified or not: how the request log names the JWT.
pub fn issuer<'a>(apps: &'a [App], jwt: &str) -> Option<&'a App> {
    let iss = claims_of(jwt)?.get("iss")?.clone();
    find_issuer(apps, &iss).ok()
}

fn find_issuer<'a>(apps: &'a [App], iss: &Value) -> Result<&'a App, &'static str> {
    let id = match iss {
        Value::Number(n) => n.as_u64().ok_or(ISS_NOT_INTEGER)?,
        Value::String(s) => match s.parse::<u64>() {
            Ok(id) => id,
            Err(_) => {
                return apps
                    .iter()
                    .find(|a| a.client_id == *s)
                    .ok_or(ISS_NOT_INTEGER)
            }
        },
        _ => return Err(ISS_NOT_INTEGER),
    };
    apps.iter().find(|a| a.id == id).ok_or(NO_INTEGRATION)
}

/// Checks a JWT as GitHub does: its form, its issuer, its RS256 signature with that App's
/// public key, and its times (`now` in epoch seconds). `Err` is GitHub's 401 message.
pub fn verify_jwt(apps: &[App], jwt: &str, now: u64) -> Result<usize, &'static str> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header_part, payload, signature] = parts.as_slice() else {
        return Err(UNDECODABLE);
    };
    let header: Value = decode_part(header_part)
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(UNDECODABLE)?;
    if header["alg"] != "RS256" {
        return Err(UNDECODABLE);
    }
    let claims = claims_of(jwt).ok_or(UNDECODABLE)?;
    let signature = decode_part(signature).ok_or(UNDECODABLE)?;
    let app = find_issuer(apps, claims.get("iss").unwrap_or(&Value::Null))?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &app.public_key)
        .verify(format!("{header_part}.{payload}").as_bytes(), &signature)
        .map_err(|_| UNDECODABLE)?;
    let exp = claims["exp"].as_u64().ok_or(EXP_INVALID)?;
    if exp <= now {
        return Err(EXP_INVALID);
    }
    if exp > now + MAX_AHEAD_SECS {
        return Err(EXP_TOO_FAR);
    }
    let iat = claims["iat"].as_u64().ok_or(IAT_INVALID)?;
    if iat > now {
        return Err(IAT_INVALID);
    }
    Ok(apps
        .iter()
        .position(|a| a.id == app.id)
        .expect("found above"))
}

/// GitHub's refusal of an installation token's request outside the installation: another
/// owner's repository (or one the installation was not given) is not there; another
/// organization's settings are not accessible.
pub fn out_of_scope(installation: &Installation, path: &str) -> Option<Response> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["repos", owner, repo, ..] => (!installation.sees(owner, repo)).then(not_found),
        ["orgs", org, next, ..]
            if *next != "repos" && !org.eq_ignore_ascii_case(&installation.account) =>
        {
            Some(error(StatusCode::FORBIDDEN, NOT_ACCESSIBLE))
        }
        _ => None,
    }
}

/// An `installation`, as GitHub answers an App's lookup of one.
fn installation_json(world: &World, state: &GithubState, installation: &Installation) -> Value {
    let app = state.apps.iter().find(|a| a.id == installation.app_id);
    let account = state.owner(&installation.account);
    let kind = match account.map(|o| o.kind) {
        Some(OwnerKind::User) => "User",
        _ => "Organization",
    };
    let settings = match kind {
        "User" => format!("{}/settings/installations", world.github_origin()),
        _ => format!(
            "{}/organizations/{}/settings/installations",
            world.github_origin(),
            installation.account
        ),
    };
    json!({
        "id": installation.id,
        "account": account.map(|o| objects::owner_as_user(world, o)),
        "access_tokens_url": format!("{}/app/installations/{}/access_tokens", world.github_url(), installation.id),
        "repositories_url": format!("{}/installation/repositories", world.github_url()),
        "html_url": format!("{settings}/{}", installation.id),
        "app_id": installation.app_id,
        "app_slug": app.map(|a| a.name.clone()),
        "client_id": app.map(|a| a.client_id.clone()),
        "target_id": account.map(|o| o.id),
        "target_type": kind,
        "permissions": installation.permissions,
        "repository_selection": installation.selection(),
        "events": [],
        "single_file_name": null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "suspended_by": null,
        "suspended_at": null,
        "created_at": objects::CREATED,
        "updated_at": objects::CREATED,
    })
}

fn installation_answer(
    world: &World,
    state: &GithubState,
    caller: &Caller,
    found: impl Fn(&Installation) -> bool,
) -> Response {
    let Some(app_id) = caller.app else {
        return error(StatusCode::UNAUTHORIZED, UNDECODABLE);
    };
    match state
        .installations
        .iter()
        .find(|i| i.app_id == app_id && found(i))
    {
        Some(installation) => json_response(
            StatusCode::OK,
            installation_json(world, state, installation),
        ),
        None => not_found(),
    }
}

fn account_of_kind(state: &GithubState, login: &str, kind: OwnerKind) -> Option<String> {
    state
        .owner(login)
        .filter(|o| o.kind == kind)
        .map(|o| o.login.clone())
}

/// `GET /orgs/{org}/installation`: the App's installation on an organization.
async fn org_installation(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
) -> Response {
    let state = world.github.lock().expect("github state");
    let Some(login) = account_of_kind(&state, &org, OwnerKind::Organization) else {
        return not_found();
    };
    installation_answer(&world, &state, &caller, |i| {
        i.account.eq_ignore_ascii_case(&login)
    })
}

/// `GET /users/{user}/installation`: the App's installation on a user's account.
async fn user_installation(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
) -> Response {
    let state = world.github.lock().expect("github state");
    let Some(login) = account_of_kind(&state, &user, OwnerKind::User) else {
        return not_found();
    };
    installation_answer(&world, &state, &caller, |i| {
        i.account.eq_ignore_ascii_case(&login)
    })
}

/// `GET /repos/{owner}/{repo}/installation`: the installation that can see the repository.
async fn repo_installation(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let state = world.github.lock().expect("github state");
    if state.repo(&owner, &repo).is_none() {
        return not_found();
    }
    installation_answer(&world, &state, &caller, |i| i.sees(&owner, &repo))
}

/// `POST /app/installations/{id}/access_tokens`: 201 with a new installation token, its expiry,
/// the installation's permissions and its repository selection.
async fn access_tokens(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<u64>,
) -> Response {
    let Some(app_id) = caller.app else {
        return error(StatusCode::UNAUTHORIZED, UNDECODABLE);
    };
    let lifetime_ms = world.scenario.github.installation_token_lifetime_secs * 1000;
    let mut state = world.github.lock().expect("github state");
    let Some(installation) = state
        .installations
        .iter()
        .find(|i| i.id == id && i.app_id == app_id)
    else {
        return not_found();
    };
    let app = state
        .apps
        .iter()
        .find(|a| a.id == app_id)
        .expect("the caller's App");
    let expires_at_ms = crate::time::now_epoch_millis() + lifetime_ms;
    let value: String = rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(36)
        .map(char::from)
        .collect();
    let token = InstallationToken {
        value: format!("ghs_{value}"),
        name: format!("{}@{}", app.name, installation.account),
        installation: installation.id,
        expires_at_ms,
    };
    let body = json!({
        "token": token.value,
        "expires_at": crate::time::rfc3339(expires_at_ms),
        "permissions": installation.permissions,
        "repository_selection": installation.selection(),
    });
    state.installation_tokens.push(token);
    json_response(StatusCode::CREATED, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
    use rustls_pki_types::PrivateKeyDer;

    const PRIVATE: &str = include_str!("../../../../tests/fixtures/github-app-test-key.pem");
    const PUBLIC: &str = include_str!("../../../../tests/fixtures/github-app-test-key.pub.pem");
    const OTHER_PRIVATE: &str =
        include_str!("../../../../tests/fixtures/github-app-test-key-pkcs8.pem");
    const OTHER_PUBLIC: &str =
        include_str!("../../../../tests/fixtures/github-app-test-key-pkcs8.pub.pem");
    const NOW: u64 = 1_800_000_000;

    fn apps() -> Vec<App> {
        vec![
            App {
                id: 101,
                name: "one".into(),
                client_id: "Iv23liOne".into(),
                public_key: rsa_public_key(PUBLIC).unwrap(),
                remaining: 5000,
            },
            App {
                id: 202,
                name: "two".into(),
                client_id: "Iv23liTwo".into(),
                public_key: rsa_public_key(OTHER_PUBLIC).unwrap(),
                remaining: 5000,
            },
        ]
    }

    fn sign(private: &str, header: &Value, claims: &Value) -> String {
        let encode =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", encode(header), encode(claims));
        let pair = match PrivateKeyDer::from_pem_slice(private.as_bytes()).unwrap() {
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()).unwrap(),
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()).unwrap(),
            _ => unreachable!(),
        };
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .unwrap();
        format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
        )
    }

    fn jwt(private: &str, claims: Value) -> String {
        sign(private, &json!({"alg": "RS256", "typ": "JWT"}), &claims)
    }

    fn good(iss: Value) -> Value {
        json!({"iat": NOW - 60, "exp": NOW + 540, "iss": iss})
    }

    #[test]
    fn a_jwt_signed_by_the_app_s_key_is_taken() {
        let apps = apps();
        assert!(looks_like_jwt(&jwt(PRIVATE, good(json!(101)))));
        assert_eq!(
            verify_jwt(&apps, &jwt(PRIVATE, good(json!(101))), NOW),
            Ok(0)
        );
        assert_eq!(
            verify_jwt(&apps, &jwt(OTHER_PRIVATE, good(json!(202))), NOW),
            Ok(1)
        );
        assert_eq!(
            verify_jwt(&apps, &jwt(PRIVATE, good(json!("Iv23liOne"))), NOW),
            Ok(0),
            "the client ID as iss"
        );
        assert_eq!(
            verify_jwt(&apps, &jwt(PRIVATE, good(json!("101"))), NOW),
            Ok(0)
        );
    }

    #[test]
    fn github_s_refusals() {
        let apps = apps();
        let cases = [
            (jwt(OTHER_PRIVATE, good(json!(101))), UNDECODABLE),
            (jwt(PRIVATE, good(json!(999))), NO_INTEGRATION),
            (jwt(PRIVATE, good(json!("my-app"))), ISS_NOT_INTEGER),
            (jwt(PRIVATE, good(json!(null))), ISS_NOT_INTEGER),
            (
                jwt(
                    PRIVATE,
                    json!({"iat": NOW - 700, "exp": NOW - 100, "iss": 101}),
                ),
                EXP_INVALID,
            ),
            (
                jwt(PRIVATE, json!({"iat": NOW, "exp": NOW + 700, "iss": 101})),
                EXP_TOO_FAR,
            ),
            (
                jwt(
                    PRIVATE,
                    json!({"iat": NOW + 100, "exp": NOW + 500, "iss": 101}),
                ),
                IAT_INVALID,
            ),
            (
                jwt(PRIVATE, json!({"exp": NOW + 500, "iss": 101})),
                IAT_INVALID,
            ),
            (
                sign(PRIVATE, &json!({"alg": "none"}), &good(json!(101))),
                UNDECODABLE,
            ),
            ("eyJ.not.ajwt".to_owned(), UNDECODABLE),
        ];
        for (token, message) in cases {
            assert_eq!(verify_jwt(&apps, &token, NOW), Err(message), "{token}");
        }
        let mut tampered = jwt(PRIVATE, good(json!(101)));
        let forged = jwt(
            PRIVATE,
            json!({"iat": NOW - 60, "exp": NOW + 540, "iss": 202}),
        );
        let forged_claims = forged.split('.').nth(1).unwrap();
        let parts: Vec<&str> = tampered.split('.').collect();
        tampered = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(verify_jwt(&apps, &tampered, NOW), Err(UNDECODABLE));
    }

    #[test]
    fn public_keys_are_read_from_pem() {
        let key = rsa_public_key(PUBLIC).unwrap();
        assert_eq!(key[0], 0x30, "an RSAPublicKey SEQUENCE");
        assert!(
            rsa_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err()
        );
        assert!(
            rsa_public_key(PRIVATE).is_err(),
            "a private key is not a public key"
        );
    }

    #[test]
    fn app_endpoints() {
        for path in [
            "/app/installations/1/access_tokens",
            "/orgs/acme/installation",
            "/users/alice/installation",
            "/repos/acme/app/installation",
        ] {
            assert!(is_app_endpoint(path), "{path}");
        }
        for path in [
            "/repos/acme/app",
            "/orgs/acme",
            "/repos/acme/installation/contents/x",
        ] {
            assert!(!is_app_endpoint(path), "{path}");
        }
    }
}
