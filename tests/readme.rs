//! `README.md` is what a newcomer reads first; these tests keep its promises.
//!
//! It must open with the two commands the project is run and tested with,
//! list every config key, show every exit code, and its TLS snippet must be
//! valid config.

use solec::cli::exit;
use solec::server::config;

const README: &str = include_str!("../README.md");

/// The lines of the first fenced block, comments and padding removed.
fn opening_commands() -> Vec<&'static str> {
    README
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .collect()
}

#[test]
fn opens_with_the_run_and_test_commands() {
    assert!(README.starts_with("# solec\n\n```sh\n"));
    assert_eq!(
        opening_commands(),
        ["cargo run --release -- serve", "cargo test --all-targets"]
    );
}

#[test]
fn ci_runs_the_readme_test_command_last() {
    let ci = include_str!("../.ci/run");
    let last = ci.lines().rev().find(|l| !l.trim().is_empty());
    assert_eq!(last, Some(opening_commands()[1]));
}

#[test]
fn config_table_lists_every_key() {
    for key in crate::packaging::config_keys() {
        let row = format!("| `{key}` ");
        assert!(
            README.contains(&row),
            "README.md has no config row for `{key}`"
        );
    }
}

#[test]
fn exit_code_table_lists_every_code() {
    let codes = [
        exit::OK,
        exit::FAILURE,
        exit::USAGE,
        exit::CONNECT,
        exit::AUTH,
        exit::REFUSED,
    ];
    for code in codes {
        let row = format!("| {code} ");
        assert!(
            README.contains(&row),
            "README.md has no row for exit code {code}"
        );
    }
}

#[test]
fn tls_snippet_is_valid_config() {
    let snippet = README
        .lines()
        .skip_while(|l| *l != "```ron")
        .nth(1)
        .expect("a ```ron block with the TLS key");
    let file = config::parse(&format!("({snippet})")).unwrap_or_else(|e| panic!("{snippet}: {e}"));
    assert!(file.tls.is_some());
}
