//! The GraphQL subset, asked as any client would: an owner's repositories paged with their
//! default branch, archived flag and workflow texts; repositories by alias; GitHub's errors
//! (not found, undefined field, pagination bounds, node limit, rate limit); points as GitHub
//! counts them, from a budget apart from REST's; Enterprise Server's `/api/graphql`.

mod common;

use common::{github, send, Answer};
use keyfix_sim::{Scenario, Sim};
use serde_json::{json, Value};

const WORLD: &str = r#"
[[owners]]
login = "acme"

[[owners]]
login = "ada"
kind = "user"

[[repos]]
owner = "acme"
name = "svc-{n}"
count = 5
private = false
files = { ".github/workflows/claude.yml" = "on: push\n", ".github/workflows/sub/x.yml" = "x", "README.md" = "hi" }

[[repos]]
owner = "acme"
name = "old"
private = false
archived = true

[[repos]]
owner = "acme"
name = "secret"
private = true

[[tokens]]
name = "default"
scopes = ["repo"]

[[tokens]]
name = "narrow"
permissions = ["metadata:read", "contents:read"]
repositories = ["acme/svc-1"]
"#;

fn start(extra: &str) -> Sim {
    common::start(Scenario::from_toml(&format!("{extra}\n{WORLD}")).expect("a valid scenario"))
}

fn query(sim: &Sim, token: &str, text: &str, variables: Value) -> Answer {
    let body = json!({"query": text, "variables": variables});
    let answer = github(sim, token, "POST", "/graphql", Some(body)).expect("an answer");
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer
}

const LISTING: &str = r#"
query($login: String!, $after: String) {
  repositoryOwner(login: $login) {
    __typename
    repositories(first: 2, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        name nameWithOwner isArchived owner { login }
        defaultBranchRef { name }
        workflows: object(expression: "HEAD:.github/workflows") {
          ... on Tree { entries { name type object { ... on Blob { text byteSize isTruncated isBinary } } } }
        }
      }
    }
  }
  rateLimit { cost remaining limit used resetAt }
}
"#;

#[test]
fn an_owners_repositories_come_in_pages_with_their_workflow_texts() {
    let sim = start("");
    let mut names = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let answer = query(
            &sim,
            "default",
            LISTING,
            json!({"login": "acme", "after": after}),
        );
        assert!(answer.body.get("errors").is_none(), "{}", answer.body);
        let owner = &answer.body["data"]["repositoryOwner"];
        assert_eq!(owner["__typename"], "Organization");
        let connection = &owner["repositories"];
        assert_eq!(connection["totalCount"], 7);
        for node in connection["nodes"].as_array().unwrap() {
            names.push(node["name"].as_str().unwrap().to_owned());
            if node["name"] == "svc-1" {
                assert_eq!(node["nameWithOwner"], "acme/svc-1");
                assert_eq!(node["owner"]["login"], "acme");
                assert_eq!(node["defaultBranchRef"]["name"], "main");
                let entries = node["workflows"]["entries"].as_array().unwrap();
                let file = entries.iter().find(|e| e["name"] == "claude.yml").unwrap();
                assert_eq!(file["type"], "blob");
                assert_eq!(file["object"]["text"], "on: push\n");
                assert_eq!(file["object"]["byteSize"], 9);
                assert_eq!(file["object"]["isTruncated"], false);
                let dir = entries.iter().find(|e| e["name"] == "sub").unwrap();
                assert_eq!(dir["type"], "tree");
                assert_eq!(
                    dir["object"],
                    json!({}),
                    "a Blob fragment does not apply to a Tree"
                );
            }
            if node["name"] == "old" {
                assert_eq!(node["isArchived"], true);
                assert_eq!(node["workflows"], Value::Null, "no such tree");
            }
        }
        let limit = &answer.body["data"]["rateLimit"];
        assert_eq!(limit["cost"], 1);
        assert_eq!(
            answer.header("x-ratelimit-resource"),
            Some("graphql"),
            "a budget of its own"
        );
        assert_eq!(
            answer.header("x-ratelimit-remaining").unwrap(),
            limit["remaining"].to_string()
        );
        pages += 1;
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 4);
    assert_eq!(names.len(), 7, "{names:?}");
    assert!(names.contains(&"secret".to_owned()), "the token sees it");
}

#[test]
fn repositories_by_alias_and_what_is_not_found() {
    let sim = start("");
    let text = r#"{
      a: repository(owner: "acme", name: "svc-2") { name isArchived }
      b: repository(owner: "acme", name: "nope") { name }
      c: organization(login: "ada") { login }
      d: user(login: "ada") { login }
    }"#;
    let answer = query(&sim, "default", text, Value::Null);
    let data = &answer.body["data"];
    assert_eq!(data["a"], json!({"name": "svc-2", "isArchived": false}));
    assert_eq!(data["b"], Value::Null);
    assert_eq!(data["c"], Value::Null);
    assert_eq!(data["d"]["login"], "ada");
    let errors = answer.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0]["type"], "NOT_FOUND");
    assert_eq!(errors[0]["path"], json!(["b"]));
    assert_eq!(
        errors[0]["message"],
        "Could not resolve to a Repository with the name 'acme/nope'."
    );
    assert_eq!(errors[1]["path"], json!(["c"]));
}

#[test]
fn a_token_given_some_repositories_sees_only_those_and_public_ones() {
    let sim = start("");
    let text = r#"{
      mine: repository(owner: "acme", name: "svc-1") { name }
      hidden: repository(owner: "acme", name: "secret") { name }
      acme: organization(login: "acme") { repositories(first: 100) { nodes { name } } }
    }"#;
    let answer = query(&sim, "narrow", text, Value::Null);
    assert_eq!(answer.body["data"]["mine"]["name"], "svc-1");
    assert_eq!(answer.body["data"]["hidden"], Value::Null);
    let listed = answer.body["data"]["acme"]["repositories"]["nodes"]
        .as_array()
        .unwrap();
    assert!(listed.iter().all(|r| r["name"] != "secret"));
    assert_eq!(listed.len(), 6);
}

#[test]
fn a_field_github_does_not_have_fails_the_whole_query() {
    let sim = start("");
    let text = r#"{ repository(owner: "acme", name: "svc-1") { name stars } }"#;
    let answer = query(&sim, "default", text, Value::Null);
    assert!(answer.body.get("data").is_none(), "{}", answer.body);
    let error = &answer.body["errors"][0];
    assert_eq!(error["extensions"]["code"], "undefinedField");
    assert_eq!(
        error["message"],
        "Field 'stars' doesn't exist on type 'Repository'"
    );
    assert_eq!(error["path"], json!(["query", "repository", "stars"]));
}

#[test]
fn pagination_bounds_and_the_node_limit_are_enforced_before_anything_runs() {
    let sim = start("");
    let unbounded = query(
        &sim,
        "default",
        r#"{ organization(login: "acme") { repositories { totalCount } } }"#,
        Value::Null,
    );
    assert_eq!(
        unbounded.body["errors"][0]["type"],
        "MISSING_PAGINATION_BOUNDARIES"
    );
    let excessive = query(
        &sim,
        "default",
        r#"{ organization(login: "acme") { repositories(first: 101) { totalCount } } }"#,
        Value::Null,
    );
    assert_eq!(excessive.body["errors"][0]["type"], "EXCESSIVE_PAGINATION");
    assert_eq!(
        excessive.body["errors"][0]["message"],
        "Requesting 101 records on the `repositories` connection exceeds the `first` limit of 100 records."
    );
    // 100 aliases of 100 × 100 repositories: a million nodes.
    let fields: String = (0..100)
        .map(|i| format!("o{i}: organization(login: \"acme\") {{ repositories(first: 100) {{ nodes {{ owner {{ ... on Organization {{ repositories(first: 100) {{ totalCount }} }} }} }} }} }}\n"))
        .collect();
    let huge = query(&sim, "default", &format!("{{ {fields} }}"), Value::Null);
    assert_eq!(huge.body["errors"][0]["type"], "MAX_NODE_LIMIT_EXCEEDED");
    assert!(huge.body.get("data").is_none());
}

#[test]
fn points_follow_githubs_formula_and_run_out_apart_from_rest() {
    let sim = start("[github]\nrate_limit = 60\n");
    // Two connections: 1 request for the outer, 100 for the inner one per outer node: 101
    // requests, 1 point.
    let nested = r#"{ organization(login: "acme") { repositories(first: 100) { nodes { owner { ... on Organization { repositories(first: 100) { totalCount } } } } } } rateLimit { cost } }"#;
    let answer = query(&sim, "default", nested, Value::Null);
    assert_eq!(answer.body["data"]["rateLimit"]["cost"], 1);
    // 40 aliases of 100-record connections, each with a 100-record one inside: 40 × 101 = 4,040
    // requests, 40 points; a second such query does not fit what is left of 60.
    let fields: String = (0..40)
        .map(|i| format!("o{i}: organization(login: \"acme\") {{ repositories(first: 100) {{ nodes {{ owner {{ ... on Organization {{ repositories(first: 100) {{ totalCount }} }} }} }} }} }}\n"))
        .collect();
    let costly = format!("{{ {fields} rateLimit {{ cost remaining used }} }}");
    let answer = query(&sim, "default", &costly, Value::Null);
    assert_eq!(answer.body["data"]["rateLimit"]["cost"], 40);
    assert_eq!(answer.body["data"]["rateLimit"]["used"], 41);
    assert_eq!(answer.body["data"]["rateLimit"]["remaining"], 19);
    let refused = query(&sim, "default", &costly, Value::Null);
    assert_eq!(refused.body["errors"][0]["type"], "RATE_LIMITED");
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("19"));
    // REST's budget is untouched by GraphQL's points.
    let rest = github(&sim, "default", "GET", "/repos/acme/svc-1", None).unwrap();
    assert_eq!(rest.header("x-ratelimit-remaining"), Some("59"));
    assert_eq!(rest.header("x-ratelimit-resource"), Some("core"));
}

#[test]
fn a_bad_token_is_refused_with_401_and_a_parse_error_is_an_error() {
    let sim = start("");
    let body = json!({"query": "{ viewer { login } }"});
    let authorization = ("authorization", "Bearer nope".to_owned());
    let refused = send(
        &sim.github_api_url(),
        "POST",
        "/graphql",
        &[authorization],
        Some(body),
    )
    .unwrap();
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["message"], "Bad credentials");
    let broken = query(&sim, "default", "{ repository(owner: ", Value::Null);
    assert!(broken.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("parse"));
}

#[test]
fn enterprise_server_answers_graphql_at_api_graphql() {
    let sim = start("[github]\npath_prefix = \"/api/v3\"\n");
    let origin = sim.world().github_origin();
    let authorization = ("authorization", format!("Bearer {}", sim.token("default")));
    let body = json!({"query": r#"{ repository(owner: "acme", name: "svc-3") { name } }"#});
    let answer = send(
        &origin,
        "POST",
        "/api/graphql",
        std::slice::from_ref(&authorization),
        Some(body),
    )
    .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["repository"]["name"], "svc-3");
    let rest = send(
        &origin,
        "GET",
        "/api/v3/repos/acme/svc-3",
        &[authorization],
        None,
    )
    .unwrap();
    assert_eq!(rest.status, 200, "REST stays under /api/v3");
}
