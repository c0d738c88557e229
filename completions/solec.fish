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

complete -c solec -n "__fish_solec_needs_command" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_needs_command" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_needs_command" -f -a "serve" -d '(in progress)'
complete -c solec -n "__fish_solec_needs_command" -f -a "user" -d '(in progress)'
complete -c solec -n "__fish_solec_needs_command" -f -a "send" -d '(in progress)'
complete -c solec -n "__fish_solec_needs_command" -f -a "history" -d '(in progress)'
complete -c solec -n "__fish_solec_needs_command" -f -a "contact" -d '(in progress)'
complete -c solec -n "__fish_solec_needs_command" -f -a "channel" -d '(in progress)'
complete -c solec -n "__fish_solec_needs_command" -f -a "decode" -d 'Decode captured SOLEC traffic from hex dumps or raw bytes'
complete -c solec -n "__fish_solec_needs_command" -f -a "encode" -d 'Print the hex of a PDU built from arguments'
complete -c solec -n "__fish_solec_needs_command" -f -a "bench" -d '(in progress)'
complete -c solec -n "__fish_solec_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c solec -n "__fish_solec_using_subcommand serve" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand serve" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand user" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand user" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand send" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand send" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand history" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand history" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand contact" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand contact" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand channel" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand channel" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand decode" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand decode" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand encode" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand encode" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand bench" -s h -l help -d 'Print help'
complete -c solec -n "__fish_solec_using_subcommand bench" -s V -l version -d 'Print version'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "serve" -d '(in progress)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "user" -d '(in progress)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "send" -d '(in progress)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "history" -d '(in progress)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "contact" -d '(in progress)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "channel" -d '(in progress)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "decode" -d 'Decode captured SOLEC traffic from hex dumps or raw bytes'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "encode" -d 'Print the hex of a PDU built from arguments'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "bench" -d '(in progress)'
complete -c solec -n "__fish_solec_using_subcommand help; and not __fish_seen_subcommand_from serve user send history contact channel decode encode bench help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
