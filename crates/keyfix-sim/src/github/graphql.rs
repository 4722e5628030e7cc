//! The subset of GitHub's GraphQL API that keyfix's discovery reads, with GitHub's type and field
//! names: an owner's repositories (paged), a repository by name (as many aliases as a query
//! holds), each with its default branch, archived flag and the files of a tree
//! (`object(expression: "HEAD:.github/workflows")`), and `rateLimit`. Queries are parsed as
//! GraphQL (aliases, variables, fragments) and answered in GitHub's shapes: `data` with `errors`
//! beside it (`NOT_FOUND`, `FORBIDDEN`, `RATE_LIMITED`, `EXCESSIVE_PAGINATION`,
//! `MISSING_PAGINATION_BOUNDARIES`, `MAX_NODE_LIMIT_EXCEEDED`, `undefinedField`).
//!
//! Points are counted as GitHub documents them: every connection costs the requests it takes
//! (the product of the `first`s of the connections it sits in), their sum divided by 100, at
//! least 1, from a budget of its own (`x-ratelimit-resource: graphql`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use base64::Engine;
use graphql_parser::query::{
    Definition, Document, Field, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
    TypeCondition, Value as Gql,
};
use serde_json::{json, Map, Value};

use super::state::{tree_sha, File, GithubState, Owner, Perm, Repo};
use super::{error, json_response, Caller};
use crate::scenario::OwnerKind;
use crate::World;

/// GitHub's most nodes one query may reach.
pub const NODE_LIMIT: u64 = 500_000;
/// The most records one connection gives.
pub const PAGE_MAX: u64 = 100;
/// The longest `Blob.text` the simulator sends; a longer blob's text is cut there and
/// `isTruncated` says so.
pub const BLOB_TEXT_MAX: usize = 512 * 1024;

pub fn routes() -> Router<Arc<World>> {
    Router::new().route("/graphql", post(graphql))
}

type Doc<'a> = Document<'a, &'a str>;
type Set<'a> = SelectionSet<'a, &'a str>;
type Fld<'a> = Field<'a, &'a str>;

#[derive(serde::Deserialize)]
struct Request {
    query: String,
    #[serde(default)]
    variables: Option<Map<String, Value>>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

async fn graphql(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Request>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
    };
    let document = match graphql_parser::parse_query::<&str>(&request.query) {
        Ok(document) => document,
        Err(e) => {
            let message = e.to_string();
            return answer(json!({"errors": [{"message": message.trim()}]}), None);
        }
    };
    let Some(operation) = operation(&document, request.operation_name.as_deref()) else {
        return answer(
            json!({"errors": [{"message": "This simulator answers one query operation (no mutations, no subscriptions)"}]}),
            None,
        );
    };
    let fragments: HashMap<&str, &FragmentDefinition<&str>> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Fragment(f) => Some((f.name, f)),
            Definition::Operation(_) => None,
        })
        .collect();
    let variables = request.variables.unwrap_or_default();
    let shape = Shape {
        fragments: &fragments,
        variables: &variables,
    };
    let cost = match shape.cost(operation, 1) {
        Ok(cost) => cost,
        Err(refusal) => return answer(json!({"errors": [refusal]}), None),
    };
    if cost.nodes > NODE_LIMIT {
        let message = format!("This query requests up to {} possible nodes which exceeds the maximum limit of {NODE_LIMIT}.", cost.nodes);
        return answer(
            json!({"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": message}]}),
            None,
        );
    }
    let points = cost.points();
    let limit = world.scenario.github.rate_limit;
    let mut state = world.github.lock().expect("github state");
    state.renew_budgets(limit, world.scenario.github.rate_window_secs);
    let used = state.graphql_used.entry(caller.token.clone()).or_default();
    if *used + points > limit {
        let used = *used;
        let budget = Budget {
            limit,
            used,
            reset: state.rate_reset,
        };
        let message = "API rate limit already exceeded for user ID 1.";
        return answer(
            json!({"errors": [{"type": "RATE_LIMITED", "code": "graphql_rate_limit", "message": message}]}),
            Some(budget),
        );
    }
    *used += points;
    let budget = Budget {
        limit,
        used: *used,
        reset: state.rate_reset,
    };
    let mut run = Run {
        world: &world,
        state: &state,
        caller: &caller,
        shape,
        budget,
        points,
        nodes: cost.nodes,
        errors: Vec::new(),
        undefined: Vec::new(),
    };
    let data = run.object(&Node::Query, operation, &[]);
    let body = if !run.undefined.is_empty() {
        json!({"errors": run.undefined})
    } else if run.errors.is_empty() {
        json!({"data": data})
    } else {
        json!({"data": data, "errors": run.errors})
    };
    answer(body, Some(budget))
}

/// The operation to run: the one named, or the only one.
fn operation<'d, 'a>(document: &'d Doc<'a>, name: Option<&str>) -> Option<&'d Set<'a>> {
    let mut operations = document.definitions.iter().filter_map(|d| match d {
        Definition::Operation(o) => Some(o),
        Definition::Fragment(_) => None,
    });
    let chosen = match name {
        Some(name) => operations
            .find(|o| matches!(o, OperationDefinition::Query(q) if q.name == Some(name)))?,
        None => {
            let first = operations.next()?;
            if operations.next().is_some() {
                return None;
            }
            first
        }
    };
    match chosen {
        OperationDefinition::SelectionSet(set) => Some(set),
        OperationDefinition::Query(query) => Some(&query.selection_set),
        _ => None,
    }
}

#[derive(Clone, Copy)]
struct Budget {
    limit: u64,
    used: u64,
    /// Epoch seconds.
    reset: u64,
}

/// GraphQL answers with 200 whatever their errors; the budget's headers are the GraphQL one's.
fn answer(body: Value, budget: Option<Budget>) -> Response {
    let mut response = json_response(StatusCode::OK, body);
    if let Some(budget) = budget {
        let headers = response.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", budget.limit.to_string()),
            (
                "x-ratelimit-remaining",
                budget.limit.saturating_sub(budget.used).to_string(),
            ),
            ("x-ratelimit-used", budget.used.to_string()),
            ("x-ratelimit-reset", budget.reset.to_string()),
            ("x-ratelimit-resource", "graphql".to_owned()),
        ] {
            headers.insert(name, HeaderValue::from_str(&value).expect("ascii"));
        }
    }
    response
}

/// What the query asks for before it is run: its cost, and its fields as fragments apply.
#[derive(Clone, Copy)]
struct Shape<'q, 'a> {
    fragments: &'q HashMap<&'a str, &'q FragmentDefinition<'a, &'a str>>,
    variables: &'q Map<String, Value>,
}

#[derive(Default)]
struct Cost {
    /// The requests the connections take.
    requests: u64,
    nodes: u64,
}

impl Cost {
    fn points(&self) -> u64 {
        ((self.requests as f64 / 100.0).round() as u64).max(1)
    }
}

/// The fields of the simulator's schema that are connections.
const CONNECTIONS: &[&str] = &["repositories"];

impl<'q, 'a> Shape<'q, 'a> {
    /// Every field of `set` and of the fragments in it whatever their type (a fragment that
    /// does not apply to `typename` is left out when `typename` is given).
    fn fields(&self, set: &'q Set<'a>, typename: Option<&str>) -> Vec<&'q Fld<'a>> {
        let mut out = Vec::new();
        for item in &set.items {
            match item {
                Selection::Field(field) => out.push(field),
                Selection::InlineFragment(inline) => {
                    let applies = match (&inline.type_condition, typename) {
                        (Some(TypeCondition::On(on)), Some(t)) => applies(on, t),
                        _ => true,
                    };
                    if applies {
                        out.extend(self.fields(&inline.selection_set, typename));
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.fragments.get(spread.fragment_name) {
                        let TypeCondition::On(on) = &fragment.type_condition;
                        if typename.is_none_or(|t| applies(on, t)) {
                            out.extend(self.fields(&fragment.selection_set, typename));
                        }
                    }
                }
            }
        }
        out
    }

    /// An argument's value, variables resolved.
    fn argument(&self, field: &Fld<'a>, name: &str) -> Value {
        field
            .arguments
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Value::Null, |(_, v)| self.value(v))
    }

    fn value(&self, value: &Gql<'a, &'a str>) -> Value {
        match value {
            Gql::Variable(name) => self.variables.get(*name).cloned().unwrap_or(Value::Null),
            Gql::Int(n) => n.as_i64().map_or(Value::Null, Value::from),
            Gql::Float(f) => json!(f),
            Gql::String(s) => json!(s),
            Gql::Boolean(b) => json!(b),
            Gql::Null => Value::Null,
            Gql::Enum(e) => json!(e),
            Gql::List(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Gql::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), self.value(v)))
                    .collect(),
            ),
        }
    }

    /// The requests and nodes of `set`, reached `multiplier` times; GitHub's refusal of a
    /// connection without bounds or with too many records.
    fn cost(&self, set: &'q Set<'a>, multiplier: u64) -> Result<Cost, Value> {
        let mut cost = Cost::default();
        for field in self.fields(set, None) {
            let mut inner = multiplier;
            if CONNECTIONS.contains(&field.name) {
                let first = self.argument(field, "first");
                let last = self.argument(field, "last");
                let Some(records) = first.as_u64().or(last.as_u64()) else {
                    return Err(json!({
                        "type": "MISSING_PAGINATION_BOUNDARIES",
                        "path": [field.name],
                        "locations": [location(field)],
                        "message": format!("You must provide a `first` or `last` value to properly paginate the `{}` connection.", field.name),
                    }));
                };
                if records > PAGE_MAX {
                    let which = if first.is_null() { "last" } else { "first" };
                    return Err(json!({
                        "type": "EXCESSIVE_PAGINATION",
                        "path": [field.name],
                        "locations": [location(field)],
                        "message": format!("Requesting {records} records on the `{}` connection exceeds the `{which}` limit of {PAGE_MAX} records.", field.name),
                    }));
                }
                cost.requests += multiplier;
                inner = multiplier * records;
                cost.nodes += inner;
            }
            let nested = self.cost(&field.selection_set, inner)?;
            cost.requests += nested.requests;
            cost.nodes += nested.nodes;
        }
        Ok(cost)
    }
}

/// Whether a fragment on `on` applies to an object of type `typename`.
fn applies(on: &str, typename: &str) -> bool {
    on == typename
        || match on {
            "RepositoryOwner" | "Actor" => matches!(typename, "Organization" | "User"),
            "GitObject" => matches!(typename, "Tree" | "Blob"),
            "Node" => true,
            _ => false,
        }
}

fn location(field: &Fld) -> Value {
    json!({"line": field.position.line, "column": field.position.column})
}

/// An object of the schema the query reaches.
enum Node<'s> {
    Query,
    RateLimit,
    Owner(&'s Owner),
    Repos {
        page: Vec<&'s Repo>,
        offset: usize,
        total: usize,
    },
    PageInfo {
        start: Option<String>,
        end: Option<String>,
        next: bool,
        previous: bool,
    },
    Repo(&'s Repo),
    Ref(&'s str),
    Tree {
        files: Vec<(&'s str, &'s File)>,
    },
    Entry {
        name: String,
        path: String,
        object: Box<Node<'s>>,
    },
    Blob(&'s File),
}

impl Node<'_> {
    fn typename(&self) -> &'static str {
        match self {
            Node::Query => "Query",
            Node::RateLimit => "RateLimit",
            Node::Owner(o) if o.kind == OwnerKind::Organization => "Organization",
            Node::Owner(_) => "User",
            Node::Repos { .. } => "RepositoryConnection",
            Node::PageInfo { .. } => "PageInfo",
            Node::Repo(_) => "Repository",
            Node::Ref(_) => "Ref",
            Node::Tree { .. } => "Tree",
            Node::Entry { .. } => "TreeEntry",
            Node::Blob(_) => "Blob",
        }
    }
}

struct Run<'q, 'a, 's> {
    world: &'s World,
    state: &'s GithubState,
    caller: &'s Caller,
    shape: Shape<'q, 'a>,
    budget: Budget,
    points: u64,
    nodes: u64,
    errors: Vec<Value>,
    undefined: Vec<Value>,
}

/// A field's value, or why it has none.
enum Resolved<'s> {
    Scalar(Value),
    Object(Node<'s>),
    List(Vec<Node<'s>>),
    /// A null, with GitHub's error for it.
    Refused {
        kind: &'static str,
        message: String,
    },
    Undefined,
}

impl<'q, 'a, 's> Run<'q, 'a, 's> {
    fn object(&mut self, node: &Node<'s>, set: &'q Set<'a>, path: &[Value]) -> Value {
        let typename = node.typename();
        let mut out = Map::new();
        for field in self.shape.fields(set, Some(typename)) {
            let key = field.alias.unwrap_or(field.name);
            let mut at = path.to_vec();
            at.push(json!(key));
            let value = if field.name == "__typename" {
                json!(typename)
            } else {
                match self.field(node, field) {
                    Resolved::Scalar(v) => v,
                    Resolved::Object(inner) => self.object(&inner, &field.selection_set, &at),
                    Resolved::List(items) => Value::Array(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, item)| {
                                let mut at = at.clone();
                                at.push(json!(i));
                                self.object(item, &field.selection_set, &at)
                            })
                            .collect(),
                    ),
                    Resolved::Refused { kind, message } => {
                        self.errors.push(json!({
                            "type": kind, "path": at, "locations": [location(field)], "message": message,
                        }));
                        Value::Null
                    }
                    Resolved::Undefined => {
                        let mut at = vec![json!("query")];
                        at.extend(path.iter().filter(|p| p.is_string()).cloned());
                        at.push(json!(field.name));
                        self.undefined.push(json!({
                            "path": at,
                            "extensions": {"code": "undefinedField", "typeName": typename, "fieldName": field.name},
                            "locations": [location(field)],
                            "message": format!("Field '{}' doesn't exist on type '{typename}'", field.name),
                        }));
                        Value::Null
                    }
                }
            };
            out.insert(key.to_owned(), value);
        }
        Value::Object(out)
    }

    fn field(&self, node: &Node<'s>, field: &'q Fld<'a>) -> Resolved<'s> {
        let arg = |name| self.shape.argument(field, name);
        let string = |name| arg(name).as_str().map(str::to_owned).unwrap_or_default();
        match node {
            Node::Query => self.query_field(
                field.name,
                &string("login"),
                &string("owner"),
                &string("name"),
            ),
            Node::RateLimit => Resolved::Scalar(match field.name {
                "cost" => json!(self.points),
                "limit" => json!(self.budget.limit),
                "remaining" => json!(self.budget.limit.saturating_sub(self.budget.used)),
                "used" => json!(self.budget.used),
                "resetAt" => json!(iso8601(self.budget.reset)),
                "nodeCount" => json!(self.nodes),
                _ => return Resolved::Undefined,
            }),
            Node::Owner(owner) => match field.name {
                "login" => Resolved::Scalar(json!(owner.login)),
                "databaseId" => Resolved::Scalar(json!(owner.id)),
                "id" => Resolved::Scalar(json!(node_id("O", owner.id))),
                "repositories" => self.repositories(owner, field),
                _ => Resolved::Undefined,
            },
            Node::Repos {
                page,
                offset,
                total,
            } => match field.name {
                "totalCount" => Resolved::Scalar(json!(total)),
                "nodes" => Resolved::List(page.iter().map(|r| Node::Repo(r)).collect()),
                "pageInfo" => Resolved::Object(Node::PageInfo {
                    start: (!page.is_empty()).then(|| cursor(*offset)),
                    end: (!page.is_empty()).then(|| cursor(offset + page.len() - 1)),
                    next: offset + page.len() < *total,
                    previous: *offset > 0,
                }),
                _ => Resolved::Undefined,
            },
            Node::PageInfo {
                start,
                end,
                next,
                previous,
            } => Resolved::Scalar(match field.name {
                "startCursor" => json!(start),
                "endCursor" => json!(end),
                "hasNextPage" => json!(next),
                "hasPreviousPage" => json!(previous),
                _ => return Resolved::Undefined,
            }),
            Node::Repo(repo) => self.repo_field(repo, field),
            Node::Ref(name) => Resolved::Scalar(match field.name {
                "name" => json!(name),
                "prefix" => json!("refs/heads/"),
                _ => return Resolved::Undefined,
            }),
            Node::Tree { files } => match field.name {
                "oid" => Resolved::Scalar(json!(tree_oid(files))),
                "entries" => Resolved::List(entries(files)),
                _ => Resolved::Undefined,
            },
            Node::Entry { name, path, object } => match field.name {
                "name" => Resolved::Scalar(json!(name)),
                "path" => Resolved::Scalar(json!(path)),
                "type" => Resolved::Scalar(json!(match **object {
                    Node::Tree { .. } => "tree",
                    _ => "blob",
                })),
                "mode" => Resolved::Scalar(json!(match **object {
                    Node::Tree { .. } => 16384,
                    _ => 33188,
                })),
                "oid" => Resolved::Scalar(match &**object {
                    Node::Tree { files } => json!(tree_oid(files)),
                    Node::Blob(file) => json!(file.sha),
                    _ => Value::Null,
                }),
                "object" => Resolved::Object(match &**object {
                    Node::Tree { files } => Node::Tree {
                        files: files.clone(),
                    },
                    Node::Blob(file) => Node::Blob(file),
                    _ => return Resolved::Scalar(Value::Null),
                }),
                _ => Resolved::Undefined,
            },
            Node::Blob(file) => match blob_field(file, field.name) {
                Some(value) => Resolved::Scalar(value),
                None => Resolved::Undefined,
            },
        }
    }

    fn query_field(&self, name: &str, login: &str, owner: &str, repo: &str) -> Resolved<'s> {
        let found = self.state.owner(login);
        match name {
            "rateLimit" => Resolved::Object(Node::RateLimit),
            "repositoryOwner" => match found {
                Some(o) => Resolved::Object(Node::Owner(o)),
                None => Resolved::Scalar(Value::Null),
            },
            "organization" => match found.filter(|o| o.kind == OwnerKind::Organization) {
                Some(o) => Resolved::Object(Node::Owner(o)),
                None => Resolved::Refused {
                    kind: "NOT_FOUND",
                    message: format!(
                        "Could not resolve to an Organization with the login of '{login}'."
                    ),
                },
            },
            "user" => match found.filter(|o| o.kind != OwnerKind::Organization) {
                Some(o) => Resolved::Object(Node::Owner(o)),
                None => Resolved::Refused {
                    kind: "NOT_FOUND",
                    message: format!("Could not resolve to a User with the login of '{login}'."),
                },
            },
            "repository" => match self.state.repo(owner, repo).filter(|r| self.sees(r)) {
                Some(r) => Resolved::Object(Node::Repo(r)),
                None => Resolved::Refused {
                    kind: "NOT_FOUND",
                    message: format!(
                        "Could not resolve to a Repository with the name '{owner}/{repo}'."
                    ),
                },
            },
            _ => Resolved::Undefined,
        }
    }

    /// Whether the caller can see `repo`: a public one, or one its token or installation was
    /// given, as the REST listing decides.
    fn sees(&self, repo: &Repo) -> bool {
        super::repos::visible_to(self.state, self.caller, repo)
    }

    fn repositories(&self, owner: &'s Owner, field: &'q Fld<'a>) -> Resolved<'s> {
        let arg = |name| self.shape.argument(field, name);
        let archived = arg("isArchived").as_bool();
        let listed: Vec<&Repo> = self
            .state
            .repos
            .iter()
            .filter(|r| r.owner.eq_ignore_ascii_case(&owner.login))
            .filter(|r| self.sees(r))
            .filter(|r| archived.is_none_or(|a| r.archived == a))
            .collect();
        let total = listed.len();
        let offset = match arg("after") {
            Value::Null => 0,
            Value::String(after) => match decode_cursor(&after) {
                Some(at) => at + 1,
                None => {
                    return Resolved::Refused {
                        kind: "INVALID_CURSOR_ARGUMENTS",
                        message: format!("`{after}` does not appear to be a valid cursor."),
                    }
                }
            },
            _ => 0,
        };
        let first = arg("first").as_u64().or(arg("last").as_u64()).unwrap_or(0) as usize;
        let page = listed.into_iter().skip(offset).take(first).collect();
        Resolved::Object(Node::Repos {
            page,
            offset,
            total,
        })
    }

    fn repo_field(&self, repo: &'s Repo, field: &'q Fld<'a>) -> Resolved<'s> {
        let owner = self.state.owner(&repo.owner);
        Resolved::Scalar(match field.name {
            "name" => json!(repo.name),
            "nameWithOwner" => json!(repo.full_name()),
            "isArchived" => json!(repo.archived),
            "isPrivate" => json!(repo.private),
            "isFork" => json!(false),
            "databaseId" => json!(repo.id),
            "id" => json!(node_id("R", repo.id)),
            "url" => json!(format!(
                "{}/{}",
                self.world.github_origin(),
                repo.full_name()
            )),
            "owner" => {
                return match owner {
                    Some(o) => Resolved::Object(Node::Owner(o)),
                    None => Resolved::Scalar(Value::Null),
                }
            }
            "defaultBranchRef" => return Resolved::Object(Node::Ref(&repo.default_branch)),
            "object" => return self.object_at(repo, field),
            _ => return Resolved::Undefined,
        })
    }

    /// `object(expression: "REV:PATH")`: the blob or tree at PATH of REV (`HEAD`, a branch, a
    /// tag or a commit), null where there is none.
    fn object_at(&self, repo: &'s Repo, field: &'q Fld<'a>) -> Resolved<'s> {
        if !self.caller.perms.contains(&Perm::ContentsRead) {
            return Resolved::Refused {
                kind: "FORBIDDEN",
                message: "Resource not accessible by personal access token".to_owned(),
            };
        }
        let expression = self.shape.argument(field, "expression");
        let expression = expression.as_str().unwrap_or_default();
        let (revision, path) = expression.split_once(':').unwrap_or((expression, ""));
        let reference = (revision != "HEAD").then_some(revision);
        let Some(files) = repo.files_on(reference) else {
            return Resolved::Scalar(Value::Null);
        };
        let path = path.trim_matches('/');
        if let Some(file) = files.get(path) {
            return Resolved::Object(Node::Blob(file));
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let under: Vec<(&str, &File)> = files
            .iter()
            .filter_map(|(p, f)| Some((p.strip_prefix(&prefix)?, f)))
            .collect();
        if under.is_empty() {
            return Resolved::Scalar(Value::Null);
        }
        Resolved::Object(Node::Tree { files: under })
    }
}

/// The entries of a tree whose files are named relative to it: its files, and a tree for each
/// directory directly under it.
fn entries<'s>(files: &[(&'s str, &'s File)]) -> Vec<Node<'s>> {
    let mut dirs: BTreeMap<&str, Vec<(&'s str, &'s File)>> = BTreeMap::new();
    let mut out = Vec::new();
    for (path, file) in files {
        match path.split_once('/') {
            Some((dir, rest)) => dirs.entry(dir).or_default().push((rest, file)),
            None => out.push(Node::Entry {
                name: path.to_string(),
                path: path.to_string(),
                object: Box::new(Node::Blob(file)),
            }),
        }
    }
    out.extend(dirs.into_iter().map(|(dir, files)| Node::Entry {
        name: dir.to_owned(),
        path: dir.to_owned(),
        object: Box::new(Node::Tree { files }),
    }));
    out
}

fn blob_field(file: &File, name: &str) -> Option<Value> {
    let binary = file.text.contains('\0');
    let truncated = file.text.len() > BLOB_TEXT_MAX;
    Some(match name {
        "oid" => json!(file.sha),
        "abbreviatedOid" => json!(&file.sha[..7.min(file.sha.len())]),
        "byteSize" => json!(file.text.len()),
        "isBinary" => json!(binary),
        "isTruncated" => json!(truncated),
        "text" if binary => Value::Null,
        "text" => {
            let mut end = file.text.len().min(BLOB_TEXT_MAX);
            while !file.text.is_char_boundary(end) {
                end -= 1;
            }
            json!(&file.text[..end])
        }
        _ => return None,
    })
}

fn tree_oid(files: &[(&str, &File)]) -> String {
    let map: BTreeMap<String, File> = files
        .iter()
        .map(|(p, f)| (p.to_string(), (*f).clone()))
        .collect();
    tree_sha(&map)
}

fn node_id(kind: &str, id: u64) -> String {
    format!(
        "{kind}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.to_be_bytes())
    )
}

fn cursor(index: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("cursor:v2:{index}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("cursor:v2:")?
        .parse()
        .ok()
}

fn iso8601(epoch: u64) -> String {
    crate::time::rfc3339(epoch * 1000)
}
