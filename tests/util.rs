//! The test harness: temp dirs, the `solec` binary, spawned servers that die
//! with the test, and raw-byte clients that assert on exact bytes.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Asserts two byte strings are equal, showing both as spaced hex.
#[macro_export]
macro_rules! assert_bytes {
    ($got:expr, $want:expr $(,)?) => {{
        let (got, want): (&[u8], &[u8]) = (&$got[..], &$want[..]);
        if got != want {
            panic!(
                "bytes differ\n  got:  {}\n  want: {}",
                $crate::util::spaced_hex(got),
                $crate::util::spaced_hex(want)
            );
        }
    }};
}

pub fn spaced_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Hex with any spaces removed, as bytes.
pub fn unhex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(clean).expect("test hex")
}

/// A command for the `solec` binary under test.
pub fn solec() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_solec"));
    cmd.env_remove("SOLEC_SERVER")
        .env_remove("SOLEC_USER")
        .env_remove("SOLEC_PASSWORD")
        .env("NO_COLOR", "1");
    cmd
}

/// Runs `solec ARGS` with `stdin`, returning its output.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    run_cmd(solec().args(args), stdin)
}

/// Runs a prepared command with `stdin`, failing the test if it hangs.
pub fn run_cmd(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn solec");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = wait_output(child);
    writer.join().unwrap();
    output
}

fn wait_output(mut child: Child) -> Output {
    let deadline = Instant::now() + TIMEOUT * 3;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "solec did not exit in time; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A temporary directory removed when dropped.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new() -> Self {
        TempDir(tempfile::tempdir().expect("temp dir"))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}
