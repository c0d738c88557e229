# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_solec_global_optspecs
    string join \n h/help V/version
end

function __fish_solec_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_solec_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_solec_using_subcommand
    set -l cmd (__fish_solec_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c solec -n "__fish_solec_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_needs_command" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_needs_command" -f -a "serve" -d 'Run the SOLEC server'
complete -c solec -n "__fish_solec_needs_command" -f -a "user" -d 'Manage user accounts (works whether or not `solec serve` is running)'
complete -c solec -n "__fish_solec_needs_command" -f -a "store" -d 'Verify the store, or copy it while the server runs'
complete -c solec -n "__fish_solec_needs_command" -f -a "federate" -d 'Manage this server\'s known peers: the servers it federates with, each proven by its Ed25519 key (works whether or not `solec serve` is running)'
complete -c solec -n "__fish_solec_needs_command" -f -a "send" -d 'Send a message to a user or a channel'
complete -c solec -n "__fish_solec_needs_command" -f -a "history" -d 'Print the messages of a conversation with a user or in a channel'
complete -c solec -n "__fish_solec_needs_command" -f -a "contact" -d 'Manage your contacts: a direct message needs each user to have the other as a contact'
complete -c solec -n "__fish_solec_needs_command" -f -a "channel" -d 'Join and leave channels, and set members\' modes'
complete -c solec -n "__fish_solec_needs_command" -f -a "decode" -d 'Decode captured SOLEC traffic from hex dumps or raw bytes'
complete -c solec -n "__fish_solec_needs_command" -f -a "encode" -d 'Print the hex of a PDU built from arguments'
complete -c solec -n "__fish_solec_needs_command" -f -a "bench" -d 'Measure a solec server on this machine: throughput, latency, CPU and memory, for sizing the hardware it will run on'
complete -c solec -n "__fish_solec_needs_command" -f -a "radio" -d 'Carry SOLEC connections over a serial-attached LoRa modem'
complete -c solec -n "__fish_solec_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand serve" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand serve" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand serve" -l listen -d 'Address to listen on for plain TCP (repeatable) [default: 127.0.0.1:7447]' -r
complete -c solec -n "__fish_solec_using_subcommand serve" -l name -d 'Server name: the part after `@` in local addresses [default: localhost]' -r
complete -c solec -n "__fish_solec_using_subcommand serve" -l log -d 'Log level: error, warn, info or debug [default: info]' -r
complete -c solec -n "__fish_solec_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand serve" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand user; and not __fish_seen_subcommand_from add del list passwd help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand user; and not __fish_seen_subcommand_from add del list passwd help" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand user; and not __fish_seen_subcommand_from add del list passwd help" -f -a "add" -d 'Create a user; the password is asked twice on a terminal'
complete -c solec -n "__fish_solec_using_subcommand user; and not __fish_seen_subcommand_from add del list passwd help" -f -a "del" -d 'Delete a user with their contacts, channel memberships and direct conversations; their sessions are closed. Their channel messages stay'
complete -c solec -n "__fish_solec_using_subcommand user; and not __fish_seen_subcommand_from add del list passwd help" -f -a "list" -d 'List user names, one per line'
complete -c solec -n "__fish_solec_using_subcommand user; and not __fish_seen_subcommand_from add del list passwd help" -f -a "passwd" -d 'Change a user\'s password'
complete -c solec -n "__fish_solec_using_subcommand user; and not __fish_seen_subcommand_from add del list passwd help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from add" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from add" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from add" -l password-stdin -d 'Read the password from the first line of standard input: its line ending (\\n or \\r\\n) is not part of it, as for the clients\' --password-stdin. It must not be empty, nor hold control characters other than tab, nor be longer than 256 bytes, so that every client can send it'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from del" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from del" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from del" -l password-stdin -d 'Read the password from the first line of standard input: its line ending (\\n or \\r\\n) is not part of it, as for the clients\' --password-stdin. It must not be empty, nor hold control characters other than tab, nor be longer than 256 bytes, so that every client can send it'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from del" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from list" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from list" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from passwd" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from passwd" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from passwd" -l password-stdin -d 'Read the password from the first line of standard input: its line ending (\\n or \\r\\n) is not part of it, as for the clients\' --password-stdin. It must not be empty, nor hold control characters other than tab, nor be longer than 256 bytes, so that every client can send it'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from passwd" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from passwd" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "add" -d 'Create a user; the password is asked twice on a terminal'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "del" -d 'Delete a user with their contacts, channel memberships and direct conversations; their sessions are closed. Their channel messages stay'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "list" -d 'List user names, one per line'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "passwd" -d 'Change a user\'s password'
complete -c solec -n "__fish_solec_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand store; and not __fish_seen_subcommand_from check backup help" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand store; and not __fish_seen_subcommand_from check backup help" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand store; and not __fish_seen_subcommand_from check backup help" -f -a "check" -d 'Verify a store no server holds: redb\'s page checksums, every message\'s checksum, the History index and every reverse index. Prints a summary; exits 0 if clean, 1 if damage was found, 2 if the check cannot run (no such store, or a server holds it: check a backup). The file is never written'
complete -c solec -n "__fish_solec_using_subcommand store; and not __fish_seen_subcommand_from check backup help" -f -a "backup" -d 'Write a consistent copy of the store to a new file, then check it. With a server running on the data directory the server makes the copy, holding every message it acknowledged before the backup began; otherwise this command copies the file itself'
complete -c solec -n "__fish_solec_using_subcommand store; and not __fish_seen_subcommand_from check backup help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from check" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from check" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from backup" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from backup" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from backup" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from backup" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "check" -d 'Verify a store no server holds: redb\'s page checksums, every message\'s checksum, the History index and every reverse index. Prints a summary; exits 0 if clean, 1 if damage was found, 2 if the check cannot run (no such store, or a server holds it: check a backup). The file is never written'
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "backup" -d 'Write a consistent copy of the store to a new file, then check it. With a server running on the data directory the server makes the copy, holding every message it acknowledged before the backup began; otherwise this command copies the file itself'
complete -c solec -n "__fish_solec_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand federate; and not __fish_seen_subcommand_from key add remove list ping help" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand federate; and not __fish_seen_subcommand_from key add remove list ping help" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand federate; and not __fish_seen_subcommand_from key add remove list ping help" -f -a "key" -d 'Print this server\'s name and public key, `NAME ed25519:BASE64`, the line the other server\'s admin gives to `federate add`. Nothing secret is printed. The key pair is created in the data directory (server.key, mode 0600) if there is none yet'
complete -c solec -n "__fish_solec_using_subcommand federate; and not __fish_seen_subcommand_from key add remove list ping help" -f -a "add" -d 'Add a known peer, or replace one added before; links proven with its old entry are closed'
complete -c solec -n "__fish_solec_using_subcommand federate; and not __fish_seen_subcommand_from key add remove list ping help" -f -a "remove" -d 'Forget a known peer added with `add`; its links are closed'
complete -c solec -n "__fish_solec_using_subcommand federate; and not __fish_seen_subcommand_from key add remove list ping help" -f -a "list" -d 'List known peers: address, key fingerprint, link state, messages queued for it, last success and last error'
complete -c solec -n "__fish_solec_using_subcommand federate; and not __fish_seen_subcommand_from key add remove list ping help" -f -a "ping" -d 'Connect to a peer, prove who we are and check its proof, and print the round trip. Exits 0 only if both proofs held; 3 if the peer cannot be reached or does not answer in time, 5 if a proof failed'
complete -c solec -n "__fish_solec_using_subcommand federate; and not __fish_seen_subcommand_from key add remove list ping help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from key" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from key" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from key" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from key" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from add" -l key -d 'Its public key, as its `solec federate key` prints it' -r
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from add" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from add" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from add" -l tls -d 'Its address is a TLS listener: the link runs inside TLS, and the peer\'s certificate must be trusted by this machine\'s CA store (OpenSSL\'s; SSL_CERT_FILE names another) for its host name'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from remove" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from remove" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from list" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from list" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from list" -l json -d 'One JSON object per peer per line: name, address, key, fingerprint, tls, source (config or store), link (up or down), queued, last_success (Unix seconds or null), last_error ([Unix seconds, text] or null), given_up (relays refused or expired since the server started), last_given_up ([Unix seconds, text] or null)'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from ping" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from ping" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from ping" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from ping" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from help" -f -a "key" -d 'Print this server\'s name and public key, `NAME ed25519:BASE64`, the line the other server\'s admin gives to `federate add`. Nothing secret is printed. The key pair is created in the data directory (server.key, mode 0600) if there is none yet'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a known peer, or replace one added before; links proven with its old entry are closed'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Forget a known peer added with `add`; its links are closed'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from help" -f -a "list" -d 'List known peers: address, key fingerprint, link state, messages queued for it, last success and last error'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from help" -f -a "ping" -d 'Connect to a peer, prove who we are and check its proof, and print the round trip. Exits 0 only if both proofs held; 3 if the peer cannot be reached or does not answer in time, 5 if a proof failed'
complete -c solec -n "__fish_solec_using_subcommand federate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand send" -l server -d 'Server to connect to, as HOST:PORT (HOST alone means port 7447)' -r
complete -c solec -n "__fish_solec_using_subcommand send" -l user -d 'Your full address, like alice@localhost: the login name, and the source of what you send' -r
complete -c solec -n "__fish_solec_using_subcommand send" -l password-file -d 'Read the password from the first line of FILE' -r -F
complete -c solec -n "__fish_solec_using_subcommand send" -l ca -d 'With --tls, also trust the PEM certificate(s) in FILE: a private CA, or the server\'s self-signed certificate' -r -F
complete -c solec -n "__fish_solec_using_subcommand send" -l timeout -d 'Give up (exit status 3) when the server sends nothing for SECONDS while a reply is owed; `history --follow` waits for new messages without limit. Connecting and logging in may take this long too, when it is over 10 s (a slow link such as `solec radio`)' -r
complete -c solec -n "__fish_solec_using_subcommand send" -l password-stdin -d 'Read the password from the first line of standard input'
complete -c solec -n "__fish_solec_using_subcommand send" -l tls -d 'Connect with TLS; the server\'s certificate must name the host of --server'
complete -c solec -n "__fish_solec_using_subcommand send" -l no-token -d 'Log in with the password only: neither use nor keep a session token'
complete -c solec -n "__fish_solec_using_subcommand send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand send" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand history" -l since -d 'Only messages sent at or after TIME: RFC 3339 in UTC (2023-11-14T22:13:20Z), a date (2023-11-14, meaning midnight UTC), or Unix seconds' -r
complete -c solec -n "__fish_solec_using_subcommand history" -l count -d 'Print at most N messages [default: all of them]' -r
complete -c solec -n "__fish_solec_using_subcommand history" -l offset -d 'Skip the first N messages (counted from --since)' -r
complete -c solec -n "__fish_solec_using_subcommand history" -l server -d 'Server to connect to, as HOST:PORT (HOST alone means port 7447)' -r
complete -c solec -n "__fish_solec_using_subcommand history" -l user -d 'Your full address, like alice@localhost: the login name, and the source of what you send' -r
complete -c solec -n "__fish_solec_using_subcommand history" -l password-file -d 'Read the password from the first line of FILE' -r -F
complete -c solec -n "__fish_solec_using_subcommand history" -l ca -d 'With --tls, also trust the PEM certificate(s) in FILE: a private CA, or the server\'s self-signed certificate' -r -F
complete -c solec -n "__fish_solec_using_subcommand history" -l timeout -d 'Give up (exit status 3) when the server sends nothing for SECONDS while a reply is owed; `history --follow` waits for new messages without limit. Connecting and logging in may take this long too, when it is over 10 s (a slow link such as `solec radio`)' -r
complete -c solec -n "__fish_solec_using_subcommand history" -l json -d 'Print one JSON object per line with the draft\'s field names: source_address, target_address, send_time (Unix seconds, a number) and message_content'
complete -c solec -n "__fish_solec_using_subcommand history" -l follow -d 'After the history, print new messages as they arrive, until interrupted'
complete -c solec -n "__fish_solec_using_subcommand history" -l password-stdin -d 'Read the password from the first line of standard input'
complete -c solec -n "__fish_solec_using_subcommand history" -l tls -d 'Connect with TLS; the server\'s certificate must name the host of --server'
complete -c solec -n "__fish_solec_using_subcommand history" -l no-token -d 'Log in with the password only: neither use nor keep a session token'
complete -c solec -n "__fish_solec_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand history" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand contact; and not __fish_seen_subcommand_from add remove list help" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand contact; and not __fish_seen_subcommand_from add remove list help" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand contact; and not __fish_seen_subcommand_from add remove list help" -f -a "add" -d 'Add a user of your server to your contacts'
complete -c solec -n "__fish_solec_using_subcommand contact; and not __fish_seen_subcommand_from add remove list help" -f -a "remove" -d 'Remove a user from your contacts'
complete -c solec -n "__fish_solec_using_subcommand contact; and not __fish_seen_subcommand_from add remove list help" -f -a "list" -d 'Print your contacts, one address per line, sorted'
complete -c solec -n "__fish_solec_using_subcommand contact; and not __fish_seen_subcommand_from add remove list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -l server -d 'Server to connect to, as HOST:PORT (HOST alone means port 7447)' -r
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -l user -d 'Your full address, like alice@localhost: the login name, and the source of what you send' -r
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -l password-file -d 'Read the password from the first line of FILE' -r -F
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -l ca -d 'With --tls, also trust the PEM certificate(s) in FILE: a private CA, or the server\'s self-signed certificate' -r -F
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -l timeout -d 'Give up (exit status 3) when the server sends nothing for SECONDS while a reply is owed; `history --follow` waits for new messages without limit. Connecting and logging in may take this long too, when it is over 10 s (a slow link such as `solec radio`)' -r
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -l password-stdin -d 'Read the password from the first line of standard input'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -l tls -d 'Connect with TLS; the server\'s certificate must name the host of --server'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -l no-token -d 'Log in with the password only: neither use nor keep a session token'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -l server -d 'Server to connect to, as HOST:PORT (HOST alone means port 7447)' -r
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -l user -d 'Your full address, like alice@localhost: the login name, and the source of what you send' -r
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -l password-file -d 'Read the password from the first line of FILE' -r -F
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -l ca -d 'With --tls, also trust the PEM certificate(s) in FILE: a private CA, or the server\'s self-signed certificate' -r -F
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -l timeout -d 'Give up (exit status 3) when the server sends nothing for SECONDS while a reply is owed; `history --follow` waits for new messages without limit. Connecting and logging in may take this long too, when it is over 10 s (a slow link such as `solec radio`)' -r
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -l password-stdin -d 'Read the password from the first line of standard input'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -l tls -d 'Connect with TLS; the server\'s certificate must name the host of --server'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -l no-token -d 'Log in with the password only: neither use nor keep a session token'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -l server -d 'Server to connect to, as HOST:PORT (HOST alone means port 7447)' -r
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -l user -d 'Your full address, like alice@localhost: the login name, and the source of what you send' -r
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -l password-file -d 'Read the password from the first line of FILE' -r -F
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -l ca -d 'With --tls, also trust the PEM certificate(s) in FILE: a private CA, or the server\'s self-signed certificate' -r -F
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -l timeout -d 'Give up (exit status 3) when the server sends nothing for SECONDS while a reply is owed; `history --follow` waits for new messages without limit. Connecting and logging in may take this long too, when it is over 10 s (a slow link such as `solec radio`)' -r
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -l password-stdin -d 'Read the password from the first line of standard input'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -l tls -d 'Connect with TLS; the server\'s certificate must name the host of --server'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -l no-token -d 'Log in with the password only: neither use nor keep a session token'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a user of your server to your contacts'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a user from your contacts'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "list" -d 'Print your contacts, one address per line, sorted'
complete -c solec -n "__fish_solec_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand channel; and not __fish_seen_subcommand_from join leave mode delete help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand channel; and not __fish_seen_subcommand_from join leave mode delete help" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand channel; and not __fish_seen_subcommand_from join leave mode delete help" -f -a "join" -d 'Join a channel, creating it if it does not exist'
complete -c solec -n "__fish_solec_using_subcommand channel; and not __fish_seen_subcommand_from join leave mode delete help" -f -a "leave" -d 'Leave a channel'
complete -c solec -n "__fish_solec_using_subcommand channel; and not __fish_seen_subcommand_from join leave mode delete help" -f -a "mode" -d 'Set a user\'s mode in a channel (operators only)'
complete -c solec -n "__fish_solec_using_subcommand channel; and not __fish_seen_subcommand_from join leave mode delete help" -f -a "delete" -d 'Delete a channel with its modes, bans and messages (admin)'
complete -c solec -n "__fish_solec_using_subcommand channel; and not __fish_seen_subcommand_from join leave mode delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -l server -d 'Server to connect to, as HOST:PORT (HOST alone means port 7447)' -r
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -l user -d 'Your full address, like alice@localhost: the login name, and the source of what you send' -r
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -l password-file -d 'Read the password from the first line of FILE' -r -F
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -l ca -d 'With --tls, also trust the PEM certificate(s) in FILE: a private CA, or the server\'s self-signed certificate' -r -F
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -l timeout -d 'Give up (exit status 3) when the server sends nothing for SECONDS while a reply is owed; `history --follow` waits for new messages without limit. Connecting and logging in may take this long too, when it is over 10 s (a slow link such as `solec radio`)' -r
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -l password-stdin -d 'Read the password from the first line of standard input'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -l tls -d 'Connect with TLS; the server\'s certificate must name the host of --server'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -l no-token -d 'Log in with the password only: neither use nor keep a session token'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from join" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -l server -d 'Server to connect to, as HOST:PORT (HOST alone means port 7447)' -r
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -l user -d 'Your full address, like alice@localhost: the login name, and the source of what you send' -r
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -l password-file -d 'Read the password from the first line of FILE' -r -F
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -l ca -d 'With --tls, also trust the PEM certificate(s) in FILE: a private CA, or the server\'s self-signed certificate' -r -F
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -l timeout -d 'Give up (exit status 3) when the server sends nothing for SECONDS while a reply is owed; `history --follow` waits for new messages without limit. Connecting and logging in may take this long too, when it is over 10 s (a slow link such as `solec radio`)' -r
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -l password-stdin -d 'Read the password from the first line of standard input'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -l tls -d 'Connect with TLS; the server\'s certificate must name the host of --server'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -l no-token -d 'Log in with the password only: neither use nor keep a session token'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from leave" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -l server -d 'Server to connect to, as HOST:PORT (HOST alone means port 7447)' -r
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -l user -d 'Your full address, like alice@localhost: the login name, and the source of what you send' -r
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -l password-file -d 'Read the password from the first line of FILE' -r -F
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -l ca -d 'With --tls, also trust the PEM certificate(s) in FILE: a private CA, or the server\'s self-signed certificate' -r -F
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -l timeout -d 'Give up (exit status 3) when the server sends nothing for SECONDS while a reply is owed; `history --follow` waits for new messages without limit. Connecting and logging in may take this long too, when it is over 10 s (a slow link such as `solec radio`)' -r
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -l password-stdin -d 'Read the password from the first line of standard input'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -l tls -d 'Connect with TLS; the server\'s certificate must name the host of --server'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -l no-token -d 'Log in with the password only: neither use nor keep a session token'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from mode" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from delete" -l data -d 'Data directory holding the store (solec.redb) and the admin socket [default: $XDG_DATA_HOME/solec, else ~/.local/share/solec]' -r -F
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from delete" -l config -d 'RON config file (see packaging/solec.ron); flags override its values' -r -F
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from help" -f -a "join" -d 'Join a channel, creating it if it does not exist'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from help" -f -a "leave" -d 'Leave a channel'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from help" -f -a "mode" -d 'Set a user\'s mode in a channel (operators only)'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a channel with its modes, bans and messages (admin)'
complete -c solec -n "__fish_solec_using_subcommand channel; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand decode" -l raw -d 'Read raw binary bytes from FILE (`-` for standard input) instead of hex' -r -F
complete -c solec -n "__fish_solec_using_subcommand decode" -l json -d 'Print one JSON object per PDU per line instead of text blocks'
complete -c solec -n "__fish_solec_using_subcommand decode" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand decode" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "success" -d '0x01 Success (no payload)'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "error" -d '0x02 Error'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "handshake" -d '0x03 Handshake, by default the one a client of this version sends'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "user-auth" -d '0x04 UserAuth'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "message" -d '0x05 Message'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "server-auth" -d '0x06 ServerAuth'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "user-mode" -d '0x07 UserMode'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "history" -d '0x08 History'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "contact-add" -d '0x80 ContactAdd (extension)'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "contact-remove" -d '0x81 ContactRemove (extension)'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "contact-list" -d '0x82 ContactList (extension; no payload)'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "contact" -d '0x83 Contact (extension)'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "test" -d '0xFF Test'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "raw" -d 'Any type code with any payload, for PDUs this tool has no shape for or deliberately malformed ones'
complete -c solec -n "__fish_solec_using_subcommand encode; and not __fish_seen_subcommand_from success error handshake user-auth message server-auth user-mode history contact-add contact-remove contact-list contact test raw help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from success" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from success" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from success" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from error" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from error" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from error" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from handshake" -l major -d 'ver_major' -r
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from handshake" -l minor -d 'ver_minor' -r
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from handshake" -l conn-type -d 'conn_type: a number, or a name' -r -f -a "user\t'0x01, user -> server'
server\t'0x02, server -> server'"
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from handshake" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from handshake" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from handshake" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from user-auth" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from user-auth" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from user-auth" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from message" -l from -d 'source_address, e.g. alice@example.org' -r
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from message" -l to -d 'target_address: a user or a #channel@server' -r
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from message" -l time -d 'send_time: Unix seconds, or a UTC time as `solec decode` shows it (2023-11-14T22:13:20Z); the current time by default' -r
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from message" -l text -d 'message_content' -r
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from message" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from message" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from message" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from server-auth" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from server-auth" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from server-auth" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from user-mode" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from user-mode" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from user-mode" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from history" -l since -d 'since: Unix seconds, or a UTC time (2023-11-14T22:13:20Z)' -r
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from history" -l count -d 'count: how many messages at most' -r
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from history" -l offset -d 'offset: how many matching messages to skip' -r
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from history" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from history" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from history" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact-add" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact-add" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact-add" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact-remove" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact-remove" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact-remove" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact-list" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact-list" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact-list" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from contact" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from test" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from raw" -l spaced -d 'Separate the bytes with spaces'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from raw" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from raw" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "success" -d '0x01 Success (no payload)'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "error" -d '0x02 Error'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "handshake" -d '0x03 Handshake, by default the one a client of this version sends'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "user-auth" -d '0x04 UserAuth'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "message" -d '0x05 Message'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "server-auth" -d '0x06 ServerAuth'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "user-mode" -d '0x07 UserMode'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "history" -d '0x08 History'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "contact-add" -d '0x80 ContactAdd (extension)'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "contact-remove" -d '0x81 ContactRemove (extension)'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "contact-list" -d '0x82 ContactList (extension; no payload)'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "contact" -d '0x83 Contact (extension)'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "test" -d '0xFF Test'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "raw" -d 'Any type code with any payload, for PDUs this tool has no shape for or deliberately malformed ones'
complete -c solec -n "__fish_solec_using_subcommand encode; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand bench" -l pairs -d 'Sender/receiver pairs' -r
complete -c solec -n "__fish_solec_using_subcommand bench" -l messages -d 'Messages each sender sends' -r
complete -c solec -n "__fish_solec_using_subcommand bench" -l size -d 'Bytes of message_content per message (at least 24: the stamp)' -r
complete -c solec -n "__fish_solec_using_subcommand bench" -l window -d 'Requests each sender keeps unacknowledged (at most 1000: past the server\'s max_outbound_queue of 1024 it stops reading the sender)' -r
complete -c solec -n "__fish_solec_using_subcommand bench" -l rate -d 'Pace all senders together at R messages per second in total [default: as fast as possible]' -r
complete -c solec -n "__fish_solec_using_subcommand bench" -l idle -d 'Idle authenticated connections to open, and close, before the load (0 skips it)' -r
complete -c solec -n "__fish_solec_using_subcommand bench" -l logins -d 'Also time N password logins and N session-token logins of one user, 16 at a time, each closed at its Success, and print both rates (0 skips it)' -r
complete -c solec -n "__fish_solec_using_subcommand bench" -l floor-appends -d 'Appends, each followed by fdatasync, timed for the floor (fewer if 2 s run out first; 0 skips it)' -r
complete -c solec -n "__fish_solec_using_subcommand bench" -l temp-dir -d 'Directory to create the server\'s temporary data directory in; put it on the disk the real server will use, since /tmp may be in memory [default: $TMPDIR, else /tmp]' -r -F
complete -c solec -n "__fish_solec_using_subcommand bench" -l no-baseline -d 'Skip the in-process relay baseline'
complete -c solec -n "__fish_solec_using_subcommand bench" -l federated -d 'Also run the load from a.bench to b.bench, two federated servers, and a restart of b.bench (see above)'
complete -c solec -n "__fish_solec_using_subcommand bench" -l json -d 'Print the report as one JSON object'
complete -c solec -n "__fish_solec_using_subcommand bench" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand bench" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l device -d 'Serial port of the modem (/dev/ttyUSB0, /dev/serial0, an emulator\'s PATH)' -r -F
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l modem -d 'Host protocol of the modem' -r -f -a "rnode\t'RNode firmware: KISS with RNode\'s commands, flow control by READY'
kiss\t'A plain KISS TNC'
rylr\t'REYAX RYLR896/998 AT commands, data as Base64 text'
transparent\t'Ebyte E22/E32-style transparent UART modules and the Waveshare HAT'
auto\t'Probe the port: RNode answers DETECT, an RYLR answers AT'"
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l listen -d 'Accept local SOLEC connections on ADDR and carry them over the air (repeatable)' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l connect -d 'Hand connections arriving over the air to the server at ADDR (repeatable: the first that answers)' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l region -d 'Regional limits: duty cycle, dwell time, power, band' -r -f -a "eu868\t'EU 863–870 MHz; the duty cycle and power follow the ETSI sub-band of --freq (default 869.525 MHz: 10 %, 27 dBm)'
eu433\t'EU 433.05–434.79 MHz: 10 %, 10 dBm'
us915\t'US 902–928 MHz: no duty cycle, 400 ms dwell below 500 kHz, 30 dBm'
anz\t'Australia and New Zealand 915–928 MHz: no duty cycle, 30 dBm'"
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l freq -d 'Centre frequency in Hz [default: the region\'s, e.g. 869525000 for eu868]' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l sf -d 'Spreading factor, 7 to 12' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l bw -d 'Bandwidth in kHz: 7.8, 10.4, 15.6, 20.8, 31.25, 41.7, 62.5, 125, 250 or 500' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l cr -d 'Coding rate 4/N, N from 5 to 8' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l power -d 'Transmit power in dBm [default: 14, or the region\'s maximum if lower]' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l baud -d 'Serial speed' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l duty-cycle -d 'Duty cycle in percent of any hour, instead of the region\'s' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -l log -d 'Log level: error, warn, info or debug' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -f -a "airtime" -d 'Print the time on air of one LoRa frame, in milliseconds'
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -f -a "emulate" -d 'Emulate LoRa modems on pseudo-terminals, joined by one radio channel'
complete -c solec -n "__fish_solec_using_subcommand radio; and not __fish_seen_subcommand_from airtime emulate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -l sf -d 'Spreading factor, 7 to 12' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -l bw -d 'Bandwidth in kHz: 7.8, 10.4, 15.6, 20.8, 31.25, 41.7, 62.5, 125, 250 or 500' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -l cr -d 'Coding rate 4/N, N from 5 to 8' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -l bytes -d 'Payload bytes in the frame' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -l preamble -d 'Programmed preamble length in symbols' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -l ldro -d 'Low-data-rate optimisation: auto, on or off' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -l implicit-header -d 'Implicit header mode (no LoRa header on air)'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -l no-crc -d 'Payload CRC off'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from airtime" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l modem -d 'Modem kind to behave as' -r -f -a "rnode\t'RNode firmware: KISS with RNode\'s commands, flow control by READY'
kiss\t'A plain KISS TNC'
rylr\t'REYAX RYLR896/998 AT commands, data as Base64 text'
transparent\t'Ebyte E22/E32-style transparent UART modules and the Waveshare HAT'
auto\t'Probe the port: RNode answers DETECT, an RYLR answers AT'"
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l port -d 'Where to put a port\'s symlink (repeatable, at least two)' -r -F
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l sf -d 'Spreading factor, 7 to 12' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l bw -d 'Bandwidth in kHz: 7.8, 10.4, 15.6, 20.8, 31.25, 41.7, 62.5, 125, 250 or 500' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l cr -d 'Coding rate 4/N, N from 5 to 8' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l loss -d 'Probability that a frame is lost, 0 to 1' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l burst-len -d 'Mean burst length in frames, with --burst-loss' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l seed -d 'Seed for losses and backoff, for repeatable runs' -r
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l log -d 'Write one JSON line per frame on air to FILE, flushed per frame: {"t_ms":…,"from":PATH,"bytes":N,"airtime_ms":…,"lost":bool}' -r -F
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -l burst-loss -d 'Lose frames in bursts (Gilbert–Elliott) averaging --burst-len frames, at the long-run rate of --loss'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from emulate" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from help" -f -a "airtime" -d 'Print the time on air of one LoRa frame, in milliseconds'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from help" -f -a "emulate" -d 'Emulate LoRa modems on pseudo-terminals, joined by one radio channel'
complete -c solec -n "__fish_solec_using_subcommand radio; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "serve" -d 'Run the SOLEC server'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "user" -d 'Manage user accounts (works whether or not `solec serve` is running)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "store" -d 'Verify the store, or copy it while the server runs'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "federate" -d 'Manage this server\'s known peers: the servers it federates with, each proven by its Ed25519 key (works whether or not `solec serve` is running)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "send" -d 'Send a message to a user or a channel'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "history" -d 'Print the messages of a conversation with a user or in a channel'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "contact" -d 'Manage your contacts: a direct message needs each user to have the other as a contact'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "channel" -d 'Join and leave channels, and set members\' modes'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "decode" -d 'Decode captured SOLEC traffic from hex dumps or raw bytes'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "encode" -d 'Print the hex of a PDU built from arguments'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "bench" -d 'Measure a solec server on this machine: throughput, latency, CPU and memory, for sizing the hardware it will run on'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "radio" -d 'Carry SOLEC connections over a serial-attached LoRa modem'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user store federate send history contact channel decode encode bench radio help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "add" -d 'Create a user; the password is asked twice on a terminal'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "del" -d 'Delete a user with their contacts, channel memberships and direct conversations; their sessions are closed. Their channel messages stay'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "list" -d 'List user names, one per line'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "passwd" -d 'Change a user\'s password'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from store" -f -a "check" -d 'Verify a store no server holds: redb\'s page checksums, every message\'s checksum, the History index and every reverse index. Prints a summary; exits 0 if clean, 1 if damage was found, 2 if the check cannot run (no such store, or a server holds it: check a backup). The file is never written'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from store" -f -a "backup" -d 'Write a consistent copy of the store to a new file, then check it. With a server running on the data directory the server makes the copy, holding every message it acknowledged before the backup began; otherwise this command copies the file itself'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from federate" -f -a "key" -d 'Print this server\'s name and public key, `NAME ed25519:BASE64`, the line the other server\'s admin gives to `federate add`. Nothing secret is printed. The key pair is created in the data directory (server.key, mode 0600) if there is none yet'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from federate" -f -a "add" -d 'Add a known peer, or replace one added before; links proven with its old entry are closed'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from federate" -f -a "remove" -d 'Forget a known peer added with `add`; its links are closed'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from federate" -f -a "list" -d 'List known peers: address, key fingerprint, link state, messages queued for it, last success and last error'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from federate" -f -a "ping" -d 'Connect to a peer, prove who we are and check its proof, and print the round trip. Exits 0 only if both proofs held; 3 if the peer cannot be reached or does not answer in time, 5 if a proof failed'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from contact" -f -a "add" -d 'Add a user of your server to your contacts'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from contact" -f -a "remove" -d 'Remove a user from your contacts'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from contact" -f -a "list" -d 'Print your contacts, one address per line, sorted'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from channel" -f -a "join" -d 'Join a channel, creating it if it does not exist'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from channel" -f -a "leave" -d 'Leave a channel'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from channel" -f -a "mode" -d 'Set a user\'s mode in a channel (operators only)'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from channel" -f -a "delete" -d 'Delete a channel with its modes, bans and messages (admin)'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "success" -d '0x01 Success (no payload)'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "error" -d '0x02 Error'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "handshake" -d '0x03 Handshake, by default the one a client of this version sends'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "user-auth" -d '0x04 UserAuth'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "message" -d '0x05 Message'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "server-auth" -d '0x06 ServerAuth'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "user-mode" -d '0x07 UserMode'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "history" -d '0x08 History'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "contact-add" -d '0x80 ContactAdd (extension)'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "contact-remove" -d '0x81 ContactRemove (extension)'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "contact-list" -d '0x82 ContactList (extension; no payload)'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "contact" -d '0x83 Contact (extension)'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "test" -d '0xFF Test'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from encode" -f -a "raw" -d 'Any type code with any payload, for PDUs this tool has no shape for or deliberately malformed ones'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from radio" -f -a "airtime" -d 'Print the time on air of one LoRa frame, in milliseconds'
complete -c solec -n "__fish_solec_using_subcommand help; and __fish_seen_subcommand_from radio" -f -a "emulate" -d 'Emulate LoRa modems on pseudo-terminals, joined by one radio channel'
