//! `README.md` is what a newcomer reads first; these tests keep its promises.
//!
//! It must open with the two commands the project is run and tested with,
//! list every config key, show every exit code, and its TLS snippet must be
//! valid config. Its quick start is run, line by line, against a real
//! server.

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
        [
            "cargo run --release -- serve",
            "cargo test --all-targets --no-fail-fast"
        ]
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
    for code in exit::ALL {
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

/// One shell line of the quick start, split the way `sh` would for the
/// forms the README uses: `export A=1 B=2`, `A=1 solec ...`, and
/// `printf 'TEXT' | solec ...`.
#[derive(Debug, Default)]
struct Line {
    export: bool,
    env: Vec<(String, String)>,
    stdin: String,
    args: Vec<String>,
}

/// Splits on spaces outside single quotes, the only quoting the README uses.
fn words(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    assert!(!quoted, "unbalanced quote in README line {line:?}");
    out.retain(|w| !w.is_empty());
    out
}

fn parse_line(text: &str) -> Line {
    let mut line = Line::default();
    let mut command = text;
    if let Some((printf, rest)) = text.split_once(" | ") {
        let words = words(printf);
        assert_eq!(words[0], "printf", "README pipes only printf: {text:?}");
        line.stdin = words[1].replace("\\n", "\n");
        command = rest;
    }
    let mut words = words(command).into_iter().peekable();
    line.export = words.next_if(|w| w == "export").is_some();
    while let Some(assignment) = words.next_if(|w| w.contains('=') && !w.starts_with('-')) {
        let (k, v) = assignment.split_once('=').unwrap();
        line.env.push((k.to_owned(), v.to_owned()));
    }
    line.args = words.collect();
    assert!(
        line.export || line.args.first().is_some_and(|w| w == "solec"),
        "README quick start line is not a solec command: {text:?}"
    );
    line
}

/// The `sh` lines of the quick start that talk to a running server.
fn quick_start_lines() -> Vec<Line> {
    let section = README
        .split("## Quick start")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Quick start section");
    let mut lines = Vec::new();
    let mut in_sh = false;
    for l in section.lines() {
        match l {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            // The harness runs the server, and the binary is already built.
            _ if in_sh && (l == "solec serve" || l.starts_with("cargo ")) => {}
            _ if in_sh && l.starts_with("export PATH=") => {}
            _ if in_sh => lines.push(parse_line(l)),
            _ => {}
        }
    }
    lines
}

/// Runs the quick start, line by line, against a real server: each command
/// must succeed, and bob must read alice's message.
#[test]
fn quick_start_works() {
    let server = crate::util::Server::start();
    // The quick start relies on the default data directory; point it at the
    // test server's through XDG_DATA_HOME.
    let xdg = crate::util::TempDir::new();
    std::os::unix::fs::symlink(server.dir.path(), xdg.join("solec")).unwrap();
    let mut exported: Vec<(String, String)> = Vec::new();
    let mut outputs = Vec::new();
    let lines = quick_start_lines();
    assert!(lines.len() >= 10, "only {} quick start lines", lines.len());
    for line in lines {
        if line.export {
            exported.extend(line.env);
            continue;
        }
        let mut cmd = crate::util::solec();
        cmd.args(&line.args[1..])
            .env("XDG_DATA_HOME", xdg.path())
            .env("SOLEC_SERVER", server.server_arg())
            .envs(exported.iter().cloned())
            .envs(line.env.iter().cloned());
        let out = crate::util::run_cmd(&mut cmd, line.stdin.as_bytes());
        assert!(
            out.status.success(),
            "README quick start: `{}` failed: {out:?}",
            line.args.join(" ")
        );
        outputs.push(String::from_utf8(out.stdout).unwrap());
    }
    assert!(
        outputs.iter().any(|o| o == "alice\nbob\n"),
        "user list: {outputs:?}"
    );
    assert!(
        outputs
            .iter()
            .any(|o| o.trim_end().ends_with(" alice@localhost: hi bob")),
        "bob's history: {outputs:?}"
    );
}
