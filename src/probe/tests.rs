use super::*;
use crate::key::tests::sample_api_key;

fn spec_with_env() -> ProbeSpec {
    ProbeSpec {
        jobs: vec![
            ProbeJob {
                environment: None,
                secret_names: vec!["ANTHROPIC_API_KEY".into()],
                runs_on: vec!["ubuntu-latest".into()],
                base_url: default_base_url(),
            },
            ProbeJob {
                environment: Some("prod eu".into()),
                secret_names: vec!["PROD_KEY".into(), "ANTHROPIC_API_KEY".into()],
                runs_on: vec!["self-hosted".into(), "linux".into()],
                base_url: BaseUrl::Variable("LLM_GATEWAY".into()),
            },
        ],
    }
}

#[test]
fn the_workflow_uses_only_the_allowed_expression_forms() {
    let text = render(&spec_with_env());
    assert_eq!(installed_version(&text), Some(VERSION));
    assert!(!text.contains("uses:"));
    assert!(text.contains("permissions: {}"));
    let mut rest = text.as_str();
    let mut seen = Vec::new();
    while let Some(start) = rest.find("${{") {
        let end = rest[start..].find("}}").unwrap() + start + 2;
        seen.push(rest[start..end].to_owned());
        rest = &rest[end..];
    }
    for expression in &seen {
        let inner = expression
            .trim_start_matches("${{")
            .trim_end_matches("}}")
            .trim();
        let allowed = ["secrets.", "inputs.", "vars."]
            .iter()
            .any(|p| inner.starts_with(p))
            || inner == "github.run_id";
        assert!(allowed, "{expression}");
    }
    assert!(seen.contains(&"${{ secrets.PROD_KEY }}".to_owned()));
    assert!(text.contains("environment: 'prod eu'"));
    assert!(
        text.contains("  probe-prod-eu-"),
        "a hash tells it from prod-eu"
    );
    assert!(text.contains("runs-on: ['self-hosted', 'linux']"));
    assert!(text.contains("KEYFIX_BASE_URL: ${{ vars.ANTHROPIC_BASE_URL }}"));
    assert!(text.contains("KEYFIX_BASE_URL: ${{ vars.LLM_GATEWAY }}"));
}

#[test]
fn every_expression_in_a_step_sits_in_env() {
    let text = render(&spec_with_env());
    let mut in_run = false;
    for line in text.lines() {
        if line.trim_start().starts_with("run: |") {
            in_run = true;
            continue;
        }
        if in_run && line.trim() == "KEYFIX_PROBE" {
            in_run = false;
        }
        if in_run {
            assert!(
                !line.contains("${{"),
                "an expression inside the script: {line}"
            );
        }
    }
}

#[test]
fn the_base_url_follows_the_claude_step() {
    assert_eq!(
        base_url_of("https://gateway.example.com/anthropic"),
        Some(BaseUrl::Literal(
            "https://gateway.example.com/anthropic".into()
        ))
    );
    assert_eq!(
        base_url_of("${{ vars.LLM_GATEWAY }}"),
        Some(BaseUrl::Variable("LLM_GATEWAY".into()))
    );
    assert_eq!(base_url_of("${{ secrets.URL }}"), None);
    assert_eq!(base_url_of("$(curl evil)"), None);
    let mut spec = ProbeSpec::single("ANTHROPIC_API_KEY");
    spec.jobs[0].base_url = BaseUrl::Literal("https://gw.example.com".into());
    assert!(render(&spec).contains("KEYFIX_BASE_URL: 'https://gw.example.com'"));
}

#[test]
fn the_report_line_is_found_and_the_echoed_script_is_not() {
    let line = r#"keyfix-probe-report: {"version":1,"correlation_id":"c-1","environment":null,"run_id":"7","secrets":[{"name":"ANTHROPIC_API_KEY","present":true,"length":108,"kind":"api03","defects":[],"well_formed":true,"fingerprint":"0123456789abcdef","calls":[{"call":"models","status":200,"latency_ms":80},{"call":"messages","model":"claude-x","status":400,"error_type":"invalid_request_error","message":"Your credit balance is too low","organization_id":"aaaaaaaaaaaaaaaa","latency_ms":190}]}]}"#;
    let log = format!(
        "\u{feff}2026-11-23T22:49:09.1000000Z           print(\"keyfix-probe-report: \" + json.dumps(report))\n2026-11-23T22:49:10.2000000Z {line}\n"
    );
    let report = find_report(&log, "c-1").expect("the report");
    assert_eq!(report.secrets.len(), 1);
    assert!(
        find_report(&log, "other").is_none(),
        "another run's report is not taken"
    );
    let evidence = report.secrets[0].evidence();
    assert!(evidence.shape.is_clean_api_key());
    assert_eq!(evidence.calls.len(), 2);
    assert_eq!(evidence.calls[1].model.as_deref(), Some("claude-x"));
    assert_eq!(evidence.fingerprint.unwrap().as_str(), "0123456789abcdef");
}

/// The probe's Python reads a value's shape exactly as keyfix does.
#[test]
fn the_probe_reads_shapes_like_keyfix() {
    let key = sample_api_key('Q');
    let body: String = std::iter::repeat_n('a', 93).collect();
    let values = [
        key.clone(),
        format!("{key}\n"),
        format!(" {key}"),
        format!("\"{key}\""),
        format!("\u{feff}{key}"),
        format!("{key}\u{200b}"),
        format!("{}  {}", &key[..40], &key[40..]),
        format!("sk-ant-oat01-{body}"),
        format!("sk-ant-admin01-{body}AA"),
        key[..100].to_owned(),
        String::new(),
        "hunter2".to_owned(),
    ];
    let script = format!(
        "import json,os,sys\nos.environ.update(KEYFIX_PROBE_VERSION='1',KEYFIX_NONCE='n',KEYFIX_MODEL='m',KEYFIX_SECRET_NAMES='',KEYFIX_CORRELATION_ID='c')\n{}\nfor v in json.loads(sys.stdin.read()):\n    print(json.dumps(shape(v)[0]))\n",
        SCRIPT.split("\nnames = ").next().unwrap()
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&values).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let lines: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .collect();
    assert_eq!(lines.len(), values.len());
    for (value, line) in values.iter().zip(lines) {
        let mut shape: serde_json::Value = serde_json::from_str(line).unwrap();
        shape["name"] = "ANTHROPIC_API_KEY".into();
        let report: SecretReport = serde_json::from_value(shape).unwrap();
        assert_eq!(report.evidence().shape, Shape::of(value), "{value:?}");
    }
}

#[test]
fn a_hostile_environment_name_stays_one_scalar_and_gets_its_own_job() {
    let hostile = "it's prod: #1 \"eu\"/west ${ x } *a &b";
    let mut spec = ProbeSpec::single("ANTHROPIC_API_KEY");
    for env in [hostile, "eu west", "eu-west"] {
        let mut job = spec.jobs[0].clone();
        job.environment = Some(env.to_owned());
        spec.jobs.push(job);
    }
    let text = render(&spec);
    let parsed: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let jobs = parsed["jobs"].as_mapping().unwrap();
    assert_eq!(jobs.len(), 4, "every environment its own job:\n{text}");
    for job in &spec.jobs {
        let declared = &parsed["jobs"][job.id().as_str()];
        assert_eq!(
            declared["environment"].as_str(),
            job.environment.as_deref(),
            "{text}"
        );
        assert_eq!(
            declared["steps"][0]["env"]["KEYFIX_ENVIRONMENT"].as_str(),
            Some(job.environment.as_deref().unwrap_or("")),
        );
    }
}
