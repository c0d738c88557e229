//! `solec radio`: the airtime calculator, the modem emulator, and SOLEC
//! sessions carried end to end through pseudo-terminals.

use crate::util::*;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn radio_airtime_matches_the_semtech_example() {
    let out = run(
        &[
            "radio", "airtime", "--sf", "9", "--bw", "125", "--cr", "5", "--bytes", "13",
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "164.864\n");
}

#[test]
fn radio_airtime_takes_every_formula_input() {
    let cases: &[(&[&str], &str)] = &[
        (&["--sf", "12", "--bytes", "50"], "2301.952\n"),
        (
            &["--sf", "12", "--bytes", "50", "--ldro", "off"],
            "2138.112\n",
        ),
        (&["--sf", "7", "--bw", "500", "--bytes", "50"], "24.384\n"),
        (
            &["--sf", "9", "--bytes", "13", "--preamble", "12"],
            "181.248\n",
        ),
        (&["--sf", "9", "--bytes", "13", "--no-crc"], "144.384\n"),
        (
            &["--sf", "9", "--bytes", "13", "--implicit-header"],
            "144.384\n",
        ),
    ];
    for (args, want) in cases {
        let mut full = vec!["radio", "airtime"];
        full.extend_from_slice(args);
        let out = run(&full, b"");
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(stdout(&out), *want, "{args:?}");
    }
}

#[test]
fn radio_airtime_refuses_bad_values_with_status_2() {
    for args in [
        &["--sf", "13", "--bytes", "5"][..],
        &["--cr", "9", "--bytes", "5"],
        &["--bw", "100", "--bytes", "5"],
        &["--bytes", "256"],
    ] {
        let mut full = vec!["radio", "airtime"];
        full.extend_from_slice(args);
        let out = run(&full, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty());
    }
}
