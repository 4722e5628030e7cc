//! GitHub's budgets in words: what a run spent of them, and what is left.

use crate::github::client::Spent;

use super::counted;

/// "1022 requests (3 of them answered 304, not counted) and 20 GraphQL queries (20 points)".
pub fn spent(spent: &Spent) -> String {
    let mut text = counted(spent.rest_requests as usize, "request");
    if spent.not_modified > 0 {
        text.push_str(&format!(
            " ({} of them answered 304, not counted)",
            spent.not_modified
        ));
    }
    if spent.graphql_queries > 0 {
        let queries = match spent.graphql_queries {
            1 => "1 GraphQL query".to_owned(),
            n => format!("{n} GraphQL queries"),
        };
        let points = counted(spent.graphql_points as usize, "point");
        text.push_str(&format!(" and {queries} ({points})"));
    }
    text
}

/// "4978 of 5000 requests left until 2026-12-04T03:05:00Z, and 4980 GraphQL points".
pub fn left(spent: &Spent) -> String {
    let mut text = match spent.left {
        Some(left) => {
            let reset = std::time::UNIX_EPOCH + std::time::Duration::from_secs(left.reset);
            format!(
                "{} of {} requests left until {}",
                left.remaining,
                left.limit,
                humantime::format_rfc3339_seconds(reset)
            )
        }
        None => "the requests left unknown".to_owned(),
    };
    if let Some(points) = spent.graphql_left {
        text.push_str(&format!(", and {points} GraphQL points"));
    }
    text
}
