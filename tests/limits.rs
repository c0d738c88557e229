//! Limits on what one user can make the server hold or do: channels that
//! go with their last member, the last operator's hand-over, channel
//! deletion by the admin, the per-user rate limit and storage quota.

use crate::util::*;

const T: u64 = 1_700_000_000;

/// Joining and leaving many channels leaves nothing behind: creation
/// still works past `max_channels` joins, before and after a restart, and
/// a channel created anew does not bring back the old one's messages.
#[test]
fn channels_whose_last_member_left_do_not_count() {
    let mut s = Server::start_with_config("(max_channels: 3)");
    s.add_user("alice", "pw");
    let mut a = s.login("alice", "pw");
    for i in 0..20 {
        let ch = format!("#c{i}@localhost");
        a.send(&user_mode("alice@localhost", &ch, 1));
        a.expect(&SUCCESS);
        a.send(&message("alice@localhost", &ch, T, "old"));
        a.expect(&SUCCESS);
        a.send(&user_mode("alice@localhost", &ch, 0));
        a.expect(&SUCCESS);
    }
    drop(a);
    s.restart();
    let mut a = s.login("alice", "pw");
    for i in 0..3 {
        a.send(&user_mode(
            "alice@localhost",
            &format!("#c{i}@localhost"),
            1,
        ));
        a.expect(&SUCCESS);
    }
    a.send(&user_mode("alice@localhost", "#c3@localhost", 1));
    a.expect(&error(0x81));
    a.send(&history("#c0@localhost", 0, 10, 0));
    a.expect(&SUCCESS);
}

/// The only operator of a channel with other members cannot leave or ban
/// themselves until they made someone else an operator.
#[test]
fn the_last_operator_hands_over_before_leaving() {
    let s = Server::start();
    s.add_user("alice", "pw");
    s.add_user("bob", "pw");
    let ch = "#c@localhost";
    let mut a = s.login("alice", "pw");
    let mut b = s.login("bob", "pw");
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    b.send(&user_mode("bob@localhost", ch, 1));
    b.expect(&SUCCESS);
    for mode in [0, 3] {
        a.send(&user_mode("alice@localhost", ch, mode));
        a.expect(&error(0x03));
    }
    a.send(&user_mode("bob@localhost", ch, 2));
    a.expect(&SUCCESS);
    a.send(&user_mode("alice@localhost", ch, 0));
    a.expect(&SUCCESS);
    // Bob runs the channel now: he can kick, so he is its operator.
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    b.send(&user_mode("alice@localhost", ch, 0));
    b.expect(&SUCCESS);
}
