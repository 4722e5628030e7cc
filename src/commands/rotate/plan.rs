//! What a rotation writes (`rotate.md`, the plan): one write per distinct scope and name, each
//! serving every target that reads it. Pure: resolutions in, plan out.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::github::secrets::{Resolution, Scope};
use crate::github::RepoName;

/// One secret name one target's Claude jobs read, and where they read it.
#[derive(Clone, Debug)]
pub struct SecretUse {
    pub resolution: Resolution,
    /// The models of the steps that read it.
    pub models: Vec<String>,
}

/// A target as surveyed: its secret uses in workflow file order.
#[derive(Clone, Debug)]
pub struct Surveyed {
    pub repo: RepoName,
    pub uses: Vec<SecretUse>,
}

/// Where one write goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Destination {
    /// The repository whose scope it is (for an organization secret, the first reader).
    pub repo: RepoName,
    pub scope: Scope,
    pub name: String,
}

impl Destination {
    /// What makes two writes the same: an organization secret is one for all its readers.
    fn key(&self) -> (String, Scope, String) {
        let place = match self.scope {
            Scope::Organization => self.repo.owner.to_ascii_lowercase(),
            _ => self.repo.to_string().to_ascii_lowercase(),
        };
        (place, self.scope.clone(), self.name.clone())
    }

    pub fn describe(&self) -> String {
        match &self.scope {
            Scope::Organization => format!("{} organization secret {}", self.repo.owner, self.name),
            Scope::Repository => format!("{} repository secret {}", self.repo, self.name),
            Scope::Environment(env) => {
                format!("{} environment {env} secret {}", self.repo, self.name)
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    pub id: usize,
    pub destination: Destination,
    /// Every model a job reading this secret runs: the key must work on all of them.
    pub models: BTreeSet<String>,
    /// A stale copy the job does not read, written because of `--include-shadowed`.
    pub shadowed: bool,
    /// Created as a repository secret: the name was defined nowhere the job can see.
    pub creates: bool,
    /// The secret's `updated_at` when surveyed: a write whose answer is lost is looked up
    /// against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// One line of the result: a target, a secret name, the scope its jobs read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub repo: RepoName,
    pub secret: String,
    pub scope: Scope,
    /// The write that serves it.
    pub write: usize,
    /// Copies at levels its jobs do not read.
    pub shadows: Vec<Scope>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub writes: Vec<Write>,
}

impl Plan {
    /// One write per distinct destination, in plan order (targets as given, each target's names
    /// in workflow file order).
    pub fn build(surveyed: &[Surveyed], include_shadowed: bool) -> Plan {
        let mut plan = Plan::default();
        for target in surveyed {
            for secret_use in &target.uses {
                let resolution = &secret_use.resolution;
                let (scope, creates) = match &resolution.reads {
                    Some(scope) => (scope.clone(), false),
                    None => (Scope::Repository, true),
                };
                let destination = Destination {
                    repo: target.repo.clone(),
                    scope: scope.clone(),
                    name: resolution.name.clone(),
                };
                let updated_at = resolution.updated_at(&scope).map(str::to_owned);
                let write =
                    plan.write_for(destination, &secret_use.models, false, creates, updated_at);
                plan.targets.push(Target {
                    repo: target.repo.clone(),
                    secret: resolution.name.clone(),
                    scope,
                    write,
                    shadows: resolution.shadows.clone(),
                });
                if include_shadowed {
                    for shadow in &resolution.shadows {
                        let destination = Destination {
                            repo: target.repo.clone(),
                            scope: shadow.clone(),
                            name: resolution.name.clone(),
                        };
                        let updated_at = resolution.updated_at(shadow).map(str::to_owned);
                        plan.write_for(destination, &secret_use.models, true, false, updated_at);
                    }
                }
            }
        }
        plan
    }

    /// The id of the write to `destination`, added if new; models merge into it.
    fn write_for(
        &mut self,
        destination: Destination,
        models: &[String],
        shadowed: bool,
        creates: bool,
        updated_at: Option<String>,
    ) -> usize {
        let key = destination.key();
        if let Some(write) = self.writes.iter_mut().find(|w| w.destination.key() == key) {
            write.models.extend(models.iter().cloned());
            // A copy that some target really reads is no longer only a shadow.
            write.shadowed &= shadowed;
            return write.id;
        }
        let id = self.writes.len();
        self.writes.push(Write {
            id,
            destination,
            models: models.iter().cloned().collect(),
            shadowed,
            creates,
            updated_at,
        });
        id
    }

    /// The targets a write serves.
    pub fn readers(&self, write: usize) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(move |t| t.write == write)
    }

    /// Every model some write must work on.
    pub fn models(&self) -> BTreeSet<String> {
        self.writes
            .iter()
            .flat_map(|w| w.models.iter().cloned())
            .collect()
    }

    /// The canary's write: the named repository's first, else the first target's that no
    /// organization secret serves, else the first.
    pub fn canary(&self, named: Option<&RepoName>) -> Option<usize> {
        let first_of = |repo: &RepoName| {
            self.targets
                .iter()
                .find(|t| &t.repo == repo)
                .map(|t| t.write)
        };
        if let Some(repo) = named {
            return first_of(repo);
        }
        self.targets
            .iter()
            .find(|t| t.scope != Scope::Organization)
            .or_else(|| self.targets.first())
            .map(|t| t.write)
    }

    pub fn count_by_scope(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Scope) -> bool| {
            self.writes
                .iter()
                .filter(|w| f(&w.destination.scope))
                .count()
        };
        (
            count(|s| matches!(s, Scope::Repository)),
            count(|s| matches!(s, Scope::Environment(_))),
            count(|s| matches!(s, Scope::Organization)),
        )
    }
}

/// How long `writes` take at one every `interval` seconds, and, where GitHub's documented
/// ceilings on content-creating requests (80 a minute, 500 an hour) would be slower, how long if
/// it counts secret writes against them (it does not document whether it does): each full
/// allowance is spent at the pace, then waited out to the end of its period.
pub fn duration_estimate(writes: usize, interval: f64) -> String {
    let at_pace = interval * writes.saturating_sub(1) as f64;
    let mut text = format!(
        "about {} at one write every {interval} s",
        whole_seconds(at_pace)
    );
    let after_first = writes.saturating_sub(1);
    let ceiling = [(500, 3600.0_f64, "500-an-hour"), (80, 60.0, "80-a-minute")]
        .into_iter()
        .find(|(allowance, _, _)| writes > *allowance)
        .map(|(allowance, period, name)| {
            let full_periods = (after_first / allowance) as f64;
            let rest = (after_first % allowance) as f64;
            (
                full_periods * period.max(interval * allowance as f64) + rest * interval,
                name,
            )
        })
        .filter(|(seconds, _)| *seconds > at_pace);
    if let Some((seconds, name)) = ceiling {
        text.push_str(&format!(
            "; about {} if GitHub counts secret writes against its {name} ceiling",
            whole_seconds(seconds)
        ));
    }
    text
}

fn whole_seconds(seconds: f64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(seconds.ceil() as u64)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duration_estimate_names_the_ceiling_that_would_slow_it() {
        assert_eq!(duration_estimate(4, 1.0), "about 3s at one write every 1 s");
        assert_eq!(
            duration_estimate(1000, 1.0),
            "about 16m 39s at one write every 1 s; about 1h 8m 19s if GitHub counts secret writes against its 500-an-hour ceiling"
        );
        assert_eq!(
            duration_estimate(101, 0.0),
            "about 0s at one write every 0 s; about 1m if GitHub counts secret writes against its 80-a-minute ceiling"
        );
        assert_eq!(
            duration_estimate(101, 1.0),
            "about 1m 40s at one write every 1 s"
        );
    }

    fn resolution(name: &str, reads: Option<Scope>, shadows: Vec<Scope>) -> Resolution {
        Resolution {
            name: name.to_owned(),
            environment: None,
            defined: Vec::new(),
            reads,
            shadows,
        }
    }

    fn target(repo: &str, uses: Vec<(Resolution, &str)>) -> Surveyed {
        Surveyed {
            repo: RepoName::parse(repo).unwrap(),
            uses: uses
                .into_iter()
                .map(|(resolution, model)| SecretUse {
                    resolution,
                    models: vec![model.to_owned()],
                })
                .collect(),
        }
    }

    fn mixed() -> Vec<Surveyed> {
        vec![
            target(
                "acme/a",
                vec![(resolution("K", Some(Scope::Organization), vec![]), "m1")],
            ),
            target(
                "acme/b",
                vec![(resolution("K", Some(Scope::Organization), vec![]), "m2")],
            ),
            target(
                "acme/own",
                vec![(resolution("K", Some(Scope::Repository), vec![]), "m1")],
            ),
            target(
                "acme/env",
                vec![(
                    resolution(
                        "K",
                        Some(Scope::Environment("prod".into())),
                        vec![Scope::Repository, Scope::Organization],
                    ),
                    "m1",
                )],
            ),
            target(
                "acme/stale",
                vec![(
                    resolution("K", Some(Scope::Repository), vec![Scope::Organization]),
                    "m1",
                )],
            ),
            target("acme/none", vec![(resolution("K", None, vec![]), "m1")]),
        ]
    }

    #[test]
    fn one_write_per_distinct_scope() {
        let plan = Plan::build(&mixed(), false);
        assert_eq!(plan.targets.len(), 6);
        let org: Vec<_> = plan
            .writes
            .iter()
            .filter(|w| w.destination.scope == Scope::Organization)
            .collect();
        assert_eq!(org.len(), 1, "one organization write for all its readers");
        assert_eq!(
            org[0].models.iter().cloned().collect::<Vec<_>>(),
            ["m1", "m2"]
        );
        assert_eq!(plan.readers(org[0].id).count(), 2);
        assert_eq!(
            plan.writes.len(),
            5,
            "org, own, env, stale repo, created repo"
        );
        assert!(plan
            .writes
            .iter()
            .any(|w| w.creates && w.destination.repo.name == "none"));
        assert_eq!(plan.count_by_scope(), (3, 1, 1));
    }

    #[test]
    fn shadowed_copies_are_written_only_when_asked() {
        let plan = Plan::build(&mixed(), true);
        let shadowed: Vec<_> = plan
            .writes
            .iter()
            .filter(|w| w.shadowed)
            .map(|w| w.destination.describe())
            .collect();
        assert_eq!(shadowed, ["acme/env repository secret K"], "{shadowed:?}");
        // The organization copy under env and stale is the same write as the one a and b read.
        assert_eq!(
            plan.writes
                .iter()
                .filter(|w| w.destination.scope == Scope::Organization)
                .count(),
            1
        );
        assert_eq!(plan.writes.len(), 6);
    }

    #[test]
    fn the_canary_avoids_organization_secrets() {
        let plan = Plan::build(&mixed(), false);
        let canary = plan.canary(None).unwrap();
        assert_eq!(plan.writes[canary].destination.repo.name, "own");
        let named = plan
            .canary(Some(&RepoName::parse("acme/env").unwrap()))
            .unwrap();
        assert_eq!(
            plan.writes[named].destination.scope,
            Scope::Environment("prod".into())
        );
    }

    #[test]
    fn the_plan_survives_a_journal_round_trip() {
        let plan = Plan::build(&mixed(), true);
        let text = serde_json::to_string(&plan).unwrap();
        assert_eq!(serde_json::from_str::<Plan>(&text).unwrap(), plan);
    }
}
