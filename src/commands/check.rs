//! `keyfix check OWNER/REPO`: gather every piece of evidence about the key a Claude workflow
//! uses (workflows, scopes, the failed run, the probe, a reference key, the Admin API) and name
//! the cause. It changes no secret.

use crate::cli::{KeyInputArgs, ProbeRunArgs};
use crate::input;
use crate::outcome::{CheckReport, Failure, Finished, Found};
use crate::work::findings::{add_reference, gather, Subject, SubjectArgs};
use crate::work::Context;

pub struct CheckOptions {
    pub subject: SubjectArgs,
    pub probe: ProbeRunArgs,
    pub reference: KeyInputArgs,
}

pub async fn run(options: CheckOptions, ctx: &Context) -> Finished<CheckReport> {
    let mut found = Found::default();
    let result = diagnose(&options, ctx, &mut found).await;
    Finished::of(CheckReport { found }, result)
}

async fn diagnose(
    options: &CheckOptions,
    ctx: &Context,
    report: &mut Found,
) -> Result<(), Failure> {
    let subject = Subject::parse(&options.subject, report)?;
    let reference = input::key_from_flags(&options.reference)?;
    let client = ctx.github_client()?;
    let mut findings = gather(&client, &subject, &options.probe, ctx, report).await?;
    if let Some(reference) = &reference {
        add_reference(&mut findings, reference, ctx).await?;
    }
    report.diagnosis = Some(findings.diagnosis());
    Ok(())
}
