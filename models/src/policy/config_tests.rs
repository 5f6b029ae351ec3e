//! Tests of the policy configuration: `examples/policy.toml` equals the defaults, presets
//! validate, overrides apply, and bad values are rejected with the key named.
//!
//! The example is read with the real `toml` parser (a dev-dependency only), as the server will.

use super::*;
use crate::policy::window::DAY_SECS;

fn parse(text: &str) -> PolicyConfig {
    toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
}

fn err_of(c: PolicyConfig) -> String {
    match c.validate() {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn example_file_documents_the_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/policy.toml");
    let text = std::fs::read_to_string(path).expect("examples/policy.toml");
    let cfg = parse(&text);
    assert_eq!(cfg, PolicyConfig::default());
    // Every key of the config appears (set or, for `windows`, documented) in the example.
    let json = serde_json::to_value(PolicyConfig::default()).expect("json");
    for key in json.as_object().expect("object").keys() {
        assert!(
            text.contains(key.as_str()),
            "examples/policy.toml lacks {key}"
        );
    }
    // The commented-out override example is itself valid.
    let uncommented: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with('[') || l.contains(" = ["))
        .map(|l| format!("{l}\n"))
        .collect();
    let over = parse(&uncommented);
    assert_eq!(over.windows.len(), 2);
    over.validate().expect("override example validates");
}

#[test]
fn presets_validate_and_differ() {
    for name in PRESETS {
        let p = PolicyConfig::preset(name).and_then(PolicyConfig::validate);
        assert!(p.is_ok(), "{name}");
    }
    let d = Policy::default();
    let us = PolicyConfig::preset("us_tcpa").and_then(PolicyConfig::validate);
    let br = PolicyConfig::preset("br").and_then(PolicyConfig::validate);
    let (us, br) = (us.expect("us"), br.expect("br"));
    assert_eq!(br.windows(Channel::Voice), d.windows(Channel::Voice));
    assert_eq!(us.windows(Channel::Sms).day(6), &[(8 * 3600, 21 * 3600)]);
    assert_eq!(d.windows(Channel::Sms).day(6), &[] as &[(u32, u32)]);
    assert_eq!(us.windows(Channel::Email), &Week::always());
    let e = PolicyConfig::preset("eu").map(|_| ()).expect_err("unknown");
    assert!(e.to_string().contains("preset"), "{e}");
}

#[test]
fn overrides_replace_a_channels_windows() {
    let cfg = parse(
        "preset = \"us_tcpa\"\n[windows.whatsapp]\nmon = [\"10:00-12:00\", \"11:00-13:30\"]\n",
    );
    let p = cfg.validate().expect("valid");
    assert_eq!(p.windows(Channel::Whatsapp).day(0), &[(36_000, 48_600)]);
    assert!(p.windows(Channel::Whatsapp).day(1).is_empty());
    assert_eq!(p.windows(Channel::Voice).day(1), &[(8 * 3600, 21 * 3600)]);
}

#[test]
fn bad_configs_name_the_key() {
    let cases: Vec<(PolicyConfig, &str)> = vec![
        (
            PolicyConfig {
                max_attempts_per_local_day: 0,
                ..PolicyConfig::default()
            },
            "max_attempts_per_local_day",
        ),
        (
            PolicyConfig {
                max_attempts_per_7_days: 0,
                ..PolicyConfig::default()
            },
            "max_attempts_per_7_days",
        ),
        (
            PolicyConfig {
                cooldown_after_engaged_hours: 100_000,
                ..PolicyConfig::default()
            },
            "cooldown_after_engaged_hours",
        ),
        (
            PolicyConfig {
                invalid_suppression_days: 100_000,
                ..PolicyConfig::default()
            },
            "invalid_suppression_days",
        ),
        (
            PolicyConfig {
                preset: "nope".into(),
                ..PolicyConfig::default()
            },
            "preset",
        ),
    ];
    for (cfg, key) in cases {
        let e = err_of(cfg);
        assert!(e.contains(key), "{e}");
    }
    for bad in [
        "21:00-09:00",
        "09:00-09:00",
        "9:00-10:00",
        "10:00-24:30",
        "25:00-26:00",
        "x",
    ] {
        let text = format!("[windows.sms]\nsat = [\"10:00-11:00\", \"{bad}\"]\n");
        let e = err_of(parse(&text));
        assert!(e.contains("windows.sms.sat[1]"), "{e}");
    }
    // Unknown keys and channels are rejected by serde.
    let unknown = serde_json::from_str::<PolicyConfig>(r#"{"max_attempts_per_day": 3}"#);
    assert!(unknown.is_err_and(|e| e.to_string().contains("max_attempts_per_day")));
    let chan = serde_json::from_str::<PolicyConfig>(r#"{"windows": {"fax": {}}}"#);
    assert!(chan.is_err_and(|e| e.to_string().contains("fax")));
    // "00:00-24:00" is the whole day.
    let all = parse("[windows.voice]\nsun = [\"00:00-24:00\"]\n").validate();
    assert_eq!(
        all.expect("valid").windows(Channel::Voice).day(6),
        &[(0, DAY_SECS)]
    );
}
