"""What run_jobs.py and run_sync.py share: hand the command line to a syncer subcommand, unchanged.

The docker-kit image used to run image-syncer once per image from these two scripts. Their flags were
already syncer's flag names, so the shims only translate what argparse accepted and CLI11 does not: a unique
prefix of a long flag (`--auth=...` for `--auth-file=...`). Everything else, including `--flag=value` and
`--flag value`, passes through; syncer validates it and its exit status becomes the script's.
"""

import os
import sys


def expand_prefixes(args, flags):
    """`args` with every unambiguous prefix of a name in `flags` written out, as argparse would read it."""
    out = []
    for i, arg in enumerate(args):
        if arg == "--":
            # argparse's end of options: the rest is positional, for CLI11 too.
            return out + list(args[i:])
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name not in flags:
                matches = [f for f in flags if f.startswith(name)]
                if len(matches) == 1:
                    arg = matches[0] + eq + value
        out.append(arg)
    return out


def run(script, subcommand, flags):
    """Replace this process with `syncer SUBCOMMAND ARGS...`; syncer is found on PATH."""
    args = expand_prefixes(sys.argv[1:], flags)
    try:
        os.execvp("syncer", ["syncer", subcommand] + args)
    except OSError as e:
        sys.stderr.write("{}: cannot run syncer: {}; is it installed on PATH (/usr/local/bin/syncer)?\n"
                         .format(script, e.strerror))
        return 127
