//! `solec contact add|remove|list`: the contact list, over this project's
//! extension PDUs ContactAdd 0x80, ContactRemove 0x81 and ContactList 0x82
//! (answered by Contact 0x83 PDUs, then Success).

use super::connect::{self, ConnectArgs, EXIT_STATUS};
use super::Failure;
use crate::proto::{self, Pdu};
use std::io::Write as _;

/// Manage your contacts: a direct message needs each user to have the other
/// as a contact.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ContactCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ContactCommand {
    /// Add a user of your server to your contacts
    ///
    /// Adding a contact you already have changes nothing and succeeds. Bob
    /// can message you once you have added him and he has added you.
    #[command(after_long_help = EXIT_STATUS)]
    Add(AddressArgs),

    /// Remove a user from your contacts
    ///
    /// Removing an address that is not a contact is refused (not found,
    /// 0x02).
    #[command(after_long_help = EXIT_STATUS)]
    Remove(AddressArgs),

    /// Print your contacts, one address per line, sorted
    #[command(after_long_help = EXIT_STATUS)]
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddressArgs {
    /// The user's address; without @SERVER, on the server of --user
    #[arg(value_name = "ADDRESS")]
    pub address: String,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        ContactCommand::Add(a) => change(&a, true),
        ContactCommand::Remove(a) => change(&a, false),
        ContactCommand::List(a) => list(&a.connect),
    }
}

/// ContactAdd (`add`) or ContactRemove.
fn change(args: &AddressArgs, add: bool) -> Result<(), Failure> {
    let login = args.connect.login()?;
    let address = args.connect.address(&args.address)?;
    let contact = proto::Contact { address: &address };
    let (request, what) = match add {
        true => (Pdu::ContactAdd(contact), "contact add"),
        false => (Pdu::ContactRemove(contact), "contact remove"),
    };
    connect::one_request(&login, &request, &format!("{what} {address}"))
}

fn list(args: &ConnectArgs) -> Result<(), Failure> {
    let login = args.login()?;
    let contacts = smol::block_on(async {
        let mut client = connect::connect(&login).await?;
        client
            .contacts()
            .await
            .map_err(connect::failure)?
            .map_err(|e| connect::refused("contact list", e))
    })?;
    let mut out = std::io::stdout().lock();
    for contact in contacts {
        writeln!(out, "{contact}")?;
    }
    Ok(())
}
