//! Whose credential a request needs, read from its path. With GitHub App credentials every owner
//! (user or organization) has its own installation, and so its own token: a request goes out
//! with the token of the owner its path names.

/// What a request's path says about the credential it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/repos/{owner}/{repo}/…`
    Repo { owner: String, repo: String },
    /// `/orgs/{org}` and below.
    Org(String),
    /// `/users/{user}` and below: a user, or an organization looked up as a user.
    User(String),
    /// `/app` and below: the App itself, authenticated with its JWT.
    App,
    /// Anything else (`/user`, `/rate_limit`, `/graphql`, `/repositories/{id}`…): no owner.
    Unowned,
}

impl Route {
    /// The route of `path`: a path under the API (`/repos/…`, with its query), or an absolute
    /// URL under `api_url` (a `Link` header's); an absolute URL elsewhere names no owner.
    pub fn of(path: &str, api_url: &str) -> Route {
        let relative = if path.starts_with('/') {
            Some(path)
        } else {
            path.strip_prefix(api_url.trim_end_matches('/'))
                .filter(|rest| rest.starts_with('/'))
        };
        let Some(relative) = relative else {
            return Route::Unowned;
        };
        let path = relative
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .trim_matches('/');
        let mut parts = path.split('/');
        let first = parts.next().unwrap_or_default();
        let owner = parts.next().filter(|o| !o.is_empty()).map(str::to_owned);
        match (first, owner) {
            ("repos", Some(owner)) => match parts.next().filter(|r| !r.is_empty()) {
                Some(repo) => Route::Repo {
                    owner,
                    repo: repo.to_owned(),
                },
                None => Route::Unowned,
            },
            ("orgs", Some(owner)) => Route::Org(owner),
            ("users", Some(owner)) => Route::User(owner),
            ("app", _) => Route::App,
            _ => Route::Unowned,
        }
    }

    /// The owner whose installation serves this route.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Route::Repo { owner, .. } | Route::Org(owner) | Route::User(owner) => Some(owner),
            Route::App | Route::Unowned => None,
        }
    }

    /// The App's lookups of the owner's installation, in order: the repository's, the
    /// organization's, or the user's and then the organization's (a `/users/{login}` path may
    /// name either kind of account).
    pub fn installation_lookups(&self) -> Vec<String> {
        match self {
            Route::Repo { owner, repo } => vec![format!("/repos/{owner}/{repo}/installation")],
            Route::Org(org) => vec![format!("/orgs/{org}/installation")],
            Route::User(login) => vec![
                format!("/users/{login}/installation"),
                format!("/orgs/{login}/installation"),
            ],
            Route::App | Route::Unowned => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "http://127.0.0.1:9999/api/v3";

    fn route(path: &str) -> Route {
        Route::of(path, API)
    }

    #[test]
    fn the_owner_comes_from_the_path() {
        assert_eq!(
            route("/repos/acme/app/actions/secrets/ANTHROPIC_API_KEY"),
            Route::Repo {
                owner: "acme".into(),
                repo: "app".into()
            }
        );
        assert_eq!(
            route("/repos/acme/app"),
            Route::Repo {
                owner: "acme".into(),
                repo: "app".into()
            }
        );
        assert_eq!(
            route("/repos/acme/app/contents/.github/workflows?ref=main"),
            Route::Repo {
                owner: "acme".into(),
                repo: "app".into()
            }
        );
        assert_eq!(
            route("/orgs/acme-labs/actions/secrets/K/repositories"),
            Route::Org("acme-labs".into())
        );
        assert_eq!(route("/orgs/acme-labs"), Route::Org("acme-labs".into()));
        assert_eq!(route("/users/alice"), Route::User("alice".into()));
        assert_eq!(
            route("/users/alice/repos?per_page=100"),
            Route::User("alice".into())
        );
        assert_eq!(route("/repos/acme/app").owner(), Some("acme"));
    }

    #[test]
    fn absolute_urls_under_the_api_are_read_as_paths() {
        assert_eq!(
            route(&format!("{API}/orgs/acme/repos?per_page=100&page=2")),
            Route::Org("acme".into())
        );
        assert_eq!(
            route("https://elsewhere.example/orgs/acme/repos"),
            Route::Unowned,
            "another host names no owner"
        );
        assert_eq!(
            route("http://127.0.0.1:9999/api/v3x/orgs/acme"),
            Route::Unowned,
            "a prefix that only looks like the API's"
        );
    }

    #[test]
    fn paths_without_an_owner() {
        for path in [
            "/user",
            "/rate_limit",
            "/graphql",
            "/repositories/123/actions/secrets?page=2",
            "/organizations/9/repos",
            "/repos/acme",
            "/repos//app",
            "/orgs/",
            "/",
            "",
        ] {
            assert_eq!(route(path), Route::Unowned, "{path:?}");
            assert_eq!(route(path).owner(), None);
            assert!(route(path).installation_lookups().is_empty());
        }
        assert_eq!(route("/app/installations/5/access_tokens"), Route::App);
        assert_eq!(route("/app"), Route::App);
    }

    #[test]
    fn each_route_has_its_installation_lookup() {
        assert_eq!(
            route("/repos/acme/app/actions/runs").installation_lookups(),
            ["/repos/acme/app/installation"]
        );
        assert_eq!(
            route("/orgs/acme/actions/secrets").installation_lookups(),
            ["/orgs/acme/installation"]
        );
        assert_eq!(
            route("/users/acme").installation_lookups(),
            ["/users/acme/installation", "/orgs/acme/installation"]
        );
    }
}
