//! `man/` and `completions/` are generated from the clap definitions and
//! committed, so packagers need no build step; this test keeps them honest.
//!
//! It renders every man page (`solec.1`, then one per subcommand at any
//! depth, `solec-user-add.1`) with clap_mangen and the bash, zsh and fish
//! completions with clap_complete, then compares them with the committed
//! files, byte for byte, including files that should no longer exist. With
//! `SOLEC_REGENERATE=1` it writes them instead. Only files this test owns are
//! touched: `man/solec*.1` and the three completion scripts.

use clap::CommandFactory;
use clap_complete::{Generator, Shell};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The one command that brings the committed files up to date.
const REGENERATE: &str = "SOLEC_REGENERATE=1 cargo test --test tests generated";

/// The shells completions are committed for.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Repo-relative path → expected bytes.
type Files = BTreeMap<PathBuf, Vec<u8>>;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every man page: the top-level one, then one per visible subcommand.
fn man_pages() -> Files {
    // No `solec help` page: `help` is clap's, not ours, and has no options.
    let mut cmd = solec::cli::Cli::command().disable_help_subcommand(true);
    // Building sets each subcommand's display name (`solec-user-add`),
    // which names its page.
    cmd.build();
    let mut out = Files::new();
    add_pages(cmd, &mut out);
    out
}

fn add_pages(cmd: clap::Command, out: &mut Files) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        add_pages(sub.clone(), out);
    }
    let man = clap_mangen::Man::new(cmd);
    let mut page = Vec::new();
    man.render(&mut page).expect("render man page");
    out.insert(Path::new("man").join(man.get_filename()), page);
}

fn completions() -> Files {
    SHELLS
        .iter()
        .map(|&shell| {
            let mut script = Vec::new();
            let mut cmd = solec::cli::Cli::command();
            clap_complete::generate(shell, &mut cmd, "solec", &mut script);
            (
                Path::new("completions").join(shell.file_name("solec")),
                script,
            )
        })
        .collect()
}

/// The committed files this test owns, by repo-relative path.
fn committed() -> Files {
    let mut out = Files::new();
    for (dir, owned) in [
        ("man", is_man_page as fn(&str) -> bool),
        ("completions", is_completion),
    ] {
        let Ok(entries) = fs::read_dir(root().join(dir)) else {
            continue;
        };
        for entry in entries {
            let name = entry.expect("read dir entry").file_name();
            let name = name.to_string_lossy();
            if owned(&name) {
                let rel = Path::new(dir).join(&*name);
                out.insert(rel.clone(), fs::read(root().join(rel)).expect("read"));
            }
        }
    }
    out
}

fn is_man_page(name: &str) -> bool {
    name.starts_with("solec") && name.ends_with(".1")
}

fn is_completion(name: &str) -> bool {
    SHELLS.iter().any(|s| s.file_name("solec") == name)
}

/// What differs between the committed and the expected files, one line each.
fn differences(want: &Files, have: &Files) -> Vec<String> {
    let mut out = Vec::new();
    for (path, bytes) in want {
        match have.get(path) {
            None => out.push(format!("missing: {}", path.display())),
            Some(h) if h != bytes => out.push(format!("stale:   {}", path.display())),
            Some(_) => {}
        }
    }
    for path in have.keys().filter(|p| !want.contains_key(*p)) {
        out.push(format!("extra:   {}", path.display()));
    }
    out
}

/// Writes every expected file and removes the committed ones no longer made.
fn regenerate(want: &Files, have: &Files) {
    for (path, bytes) in want {
        let full = root().join(path);
        fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        fs::write(&full, bytes).expect("write generated file");
    }
    for path in have.keys().filter(|p| !want.contains_key(*p)) {
        fs::remove_file(root().join(path)).expect("remove stale file");
    }
}

#[test]
fn man_pages_and_completions_are_current() {
    let mut want = man_pages();
    want.extend(completions());
    let have = committed();
    let diffs = differences(&want, &have);
    if std::env::var_os("SOLEC_REGENERATE").is_some_and(|v| v == "1") {
        regenerate(&want, &have);
        eprintln!("regenerated:\n  {}", diffs.join("\n  "));
        return;
    }
    assert!(
        diffs.is_empty(),
        "man pages or completions are out of date with the clap definitions:\n  {}\n\
         regenerate them with:\n  {REGENERATE}",
        diffs.join("\n  ")
    );
}

#[test]
fn every_subcommand_has_a_man_page() {
    let pages = man_pages();
    let cmd = solec::cli::Cli::command();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("man/solec-{}.1", sub.get_name());
        assert!(pages.contains_key(Path::new(&name)), "no page {name}");
    }
    assert!(pages.contains_key(Path::new("man/solec.1")));
}

#[test]
fn differences_name_missing_stale_and_extra_files() {
    let file = |p: &str, b: &[u8]| (PathBuf::from(p), b.to_vec());
    let want = Files::from([file("man/a.1", b"x"), file("man/b.1", b"y")]);
    let have = Files::from([file("man/b.1", b"old"), file("man/c.1", b"z")]);
    assert_eq!(
        differences(&want, &have),
        ["missing: man/a.1", "stale:   man/b.1", "extra:   man/c.1"]
    );
    assert!(differences(&want, &want).is_empty());
}
