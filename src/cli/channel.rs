//! `solec channel join|leave|mode`: channel membership, all through the
//! draft's UserMode PDU; and `solec channel delete`, an admin command that
//! goes through the admin socket like `solec user`.

use super::connect::{self, ConnectArgs, EXIT_STATUS};
use super::serve::DataArgs;
use super::{exit, names, Failure};
use crate::proto::{Mode, Pdu, UserMode};
use crate::server::admin::{Reply, Request};
use crate::server::config::Config;

/// Join and leave channels, and set members' modes.
///
/// CHANNEL is a channel address such as #general@localhost; the `#` and the
/// @SERVER may be left out (`general` means #general@SERVER, the server of
/// --user).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ChannelCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ChannelCommand {
    /// Join a channel, creating it if it does not exist
    ///
    /// Whoever creates a channel is its operator. Joining a channel you are
    /// in changes nothing; a banned user is refused (unauthorized, 0x03).
    #[command(after_long_help = EXIT_STATUS)]
    Join(ChannelArgs),

    /// Leave a channel
    ///
    /// Leaving a channel you are not in is refused (not found, 0x02).
    #[command(after_long_help = EXIT_STATUS)]
    Leave(ChannelArgs),

    /// Set a user's mode in a channel (operators only)
    ///
    /// MODE is leave (or kick, or 0), member (1), operator (op, 2) or ban
    /// (banned, 3), spelt as `solec encode user-mode` also takes them; a ban
    /// is recorded even for a user who is not a member. Only an
    /// operator of the channel may do this, except leaving or joining
    /// yourself; others are refused (unauthorized, 0x03).
    #[command(after_long_help = EXIT_STATUS)]
    Mode(ModeArgs),

    /// Delete a channel with its modes, bans and messages (admin)
    ///
    /// An admin command, like `solec user`: it goes through the admin
    /// socket of the server running on the data directory, or changes the
    /// store itself when none runs. Members' sessions stay open; a later
    /// join creates the channel anew. CHANNEL without @SERVER is on the
    /// server of the config (its `name`). Exit status 5 for no such
    /// channel.
    Delete(DeleteArgs),
}

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The channel's address
    #[arg(value_name = "CHANNEL")]
    pub channel: String,

    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, clap::Args)]
pub struct ChannelArgs {
    /// The channel's address
    #[arg(value_name = "CHANNEL")]
    pub channel: String,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, clap::Args)]
pub struct ModeArgs {
    /// The channel's address
    #[arg(value_name = "CHANNEL")]
    pub channel: String,

    /// The user's address; without @SERVER, on the server of --user
    #[arg(value_name = "USER")]
    pub member: String,

    /// The new mode
    #[arg(value_name = "MODE", value_parser = mode_parser())]
    pub mode: Mode,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// The four modes by name, each with its number and other spellings. The
/// spellings are those of [`names::modes`] (shared with `solec encode`),
/// which a test below holds this list to.
fn mode_parser() -> impl clap::builder::TypedValueParser<Value = Mode> {
    use clap::builder::{PossibleValue, TypedValueParser as _};
    let values = [
        PossibleValue::new("leave")
            .aliases(["kick", "0"])
            .help("0, also `kick`: out of the channel, lifting a ban"),
        PossibleValue::new("member")
            .alias("1")
            .help("1: in the channel, lifting a ban"),
        PossibleValue::new("operator")
            .aliases(["op", "2"])
            .help("2, also `op`: may set others' modes"),
        PossibleValue::new("ban")
            .aliases(["banned", "3"])
            .help("3: out, and kept out until kicked or made a member"),
    ];
    // The parser hands back the spelling given, alias or not; a digit is
    // the mode's own number.
    clap::builder::PossibleValuesParser::new(values).map(|word| {
        let number = word.parse::<u8>().ok().map(Mode::from);
        names::mode(&word)
            .or(number)
            .unwrap_or(Mode::Unknown(u8::MAX))
    })
}

pub fn run(args: Args) -> Result<(), Failure> {
    let (connect, channel, user, mode, what) = match &args.command {
        ChannelCommand::Join(a) => (&a.connect, &a.channel, None, Mode::Member, "join"),
        ChannelCommand::Leave(a) => (&a.connect, &a.channel, None, Mode::Leave, "leave"),
        ChannelCommand::Mode(a) => (&a.connect, &a.channel, Some(&a.member), a.mode, "mode"),
        ChannelCommand::Delete(a) => return delete(a),
    };
    let login = connect.login()?;
    let channel = connect.channel(channel)?;
    let user = match user {
        Some(user) => connect.address(user)?,
        None => login.user.clone(),
    };
    let request = Pdu::UserMode(UserMode {
        user_address: &user,
        channel_address: &channel,
        mode,
    });
    let described = match what {
        "mode" => format!("mode {channel} {user} {}", mode.describe()),
        _ => format!("{what} {channel}"),
    };
    connect::one_request(&login, &request, &described)
}

/// `solec channel delete`: an admin request, as `solec user` sends them.
fn delete(args: &DeleteArgs) -> Result<(), Failure> {
    let channel = |config: &Config| {
        let name = args.channel.trim_start_matches('#');
        match name.contains('@') {
            true => format!("#{name}"),
            false => format!("#{name}@{}", config.name),
        }
    };
    let reply = super::user::admin_request(args.data.clone(), |config| Request::ChannelDelete {
        channel: channel(config),
    })?;
    match reply {
        Reply { ok: true, .. } => Ok(()),
        Reply { error, .. } => Err(Failure::new(
            exit::REFUSED,
            error.unwrap_or_else(|| "refused".into()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn parse_mode(spelling: &str) -> Result<Mode, clap::Error> {
        let argv = [
            "solec", "channel", "mode", "c", "u", spelling, "--user", "a@b",
        ];
        let cli = crate::cli::Cli::try_parse_from(argv)?;
        let crate::cli::Command::Channel(Args {
            command: ChannelCommand::Mode(args),
        }) = cli.command
        else {
            panic!("not channel mode");
        };
        Ok(args.mode)
    }

    #[test]
    fn every_spelling_of_a_mode() {
        for (spellings, want) in [
            (&["leave", "kick", "0"][..], Mode::Leave),
            (&["member", "1"], Mode::Member),
            (&["operator", "op", "2"], Mode::Operator),
            (&["ban", "banned", "3"], Mode::Banned),
        ] {
            for &spelling in spellings {
                assert_eq!(parse_mode(spelling).unwrap(), want, "{spelling}");
            }
        }
        assert!(parse_mode("lurker").is_err());
        assert!(parse_mode("4").is_err());
    }

    /// `channel mode` and `encode user-mode` take the same words.
    #[test]
    fn the_same_spellings_as_encode() {
        use clap::builder::TypedValueParser as _;
        let parser = mode_parser();
        let values = parser.possible_values().unwrap();
        let mut here: Vec<String> = values
            .flat_map(|v| {
                v.get_name_and_aliases()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|w| w.parse::<u8>().is_err())
            .collect();
        let mut shared: Vec<String> = names::modes()
            .iter()
            .flat_map(|n| std::iter::once(n.name.clone()).chain(n.aliases.clone()))
            .collect();
        here.sort();
        shared.sort();
        assert_eq!(here, shared);
        for word in &shared {
            assert_eq!(Some(parse_mode(word).unwrap()), names::mode(word), "{word}");
        }
    }
}
