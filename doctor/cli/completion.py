"""``aml-doctor completion bash|zsh|fish``: completion scripts made from the parser itself, so a
new flag is completed without anyone editing a script.

    source <(aml-doctor completion bash)                        # ~/.bashrc
    source <(aml-doctor completion zsh)                         # ~/.zshrc (through bashcompinit)
    aml-doctor completion fish > ~/.config/fish/completions/aml-doctor.fish

The zsh script loads the bash one through zsh's ``bashcompinit``, as az's does. Each names both
``aml-doctor`` and the kubectl plugin's ``kubectl-aml_doctor``.
"""

from __future__ import annotations

import argparse

from aml_doctor.cli.options import FORMATS

HELP = "print a shell completion script: bash, zsh or fish"
PROGRAMS = ("aml-doctor", "kubectl-aml_doctor")
SHELLS = ("bash", "zsh", "fish")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=SHELLS, help="bash: source <(aml-doctor completion bash); zsh and fish likewise")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({o for a in parser._actions for o in a.option_strings})  # noqa: SLF001 - argparse has no public list


def _value_words(parser: argparse.ArgumentParser) -> dict[str, str]:
    """option -> its choices, or ``__file__`` when it takes a path."""
    out = {}
    for a in parser._actions:  # noqa: SLF001
        if not a.option_strings or a.nargs == 0:
            continue
        if a.choices:
            words = " ".join(a.choices)
        elif a.dest == "format":
            words = " ".join(FORMATS)
        elif a.metavar in ("FILE", "DIR", "BUNDLE", "CONFIG_JSON", "MODULE_OR_PATH") or a.dest in ("kubeconfig", "output_file"):
            words = "__file__"
        else:
            continue
        for o in a.option_strings:
            out[o] = words
    return out


def _tables(top):
    """The command names and helps, the top-level parser, and each command's parser."""
    return {name: p.description for name, p in top.commands.items()}, top, top.commands


def bash(parser) -> str:
    commands, top, per_command = _tables(parser)
    values = _value_words(top)
    for p in per_command.values():
        for option, words in _value_words(p).items():
            values.setdefault(option, words)  # -o: the report formats, except collect's (below)
    files = 'COMPREPLY=($(compgen -f -- "$cur"))'
    value_cases = "\n".join(
        "        " + o + ") " + (files if w == "__file__" else 'COMPREPLY=($(compgen -W "' + w + '" -- "$cur"))') + "; return;;"
        for o, w in sorted(values.items())
    )
    command_cases = "\n".join(
        f"        {name}) opts=\"{' '.join(_options(p))}"
        + (" bash zsh fish" if name == "completion" else "")
        + (" " + " ".join(c for c in commands if c != "help") if name == "help" else "")
        + '";;'
        for name, p in per_command.items()
    )
    return f"""# aml-doctor completion for bash: source <(aml-doctor completion bash)
_aml_doctor() {{
    local cur prev cmd opts w
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    cmd=""
    for w in "${{COMP_WORDS[@]:1:$((COMP_CWORD-1))}}"; do
        case "$w" in
            {'|'.join(commands)}) cmd="$w"; break;;
            -*) ;;
            *) break;;
        esac
    done
    if [ "$cmd" = collect ] && [ "$prev" = -o ]; then COMPREPLY=($(compgen -f -- "$cur")); return; fi
    if [ "$cmd" = rules ] || [ "$cmd" = version ]; then
        case "$prev" in -o|--output|-f|--format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return;; esac
    fi
    case "$prev" in
{value_cases}
    esac
    case "$cmd" in
{command_cases}
        *) opts="{' '.join(commands)} {' '.join(_options(top))}";;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}}
complete -o default -F _aml_doctor {' '.join(PROGRAMS)}
"""


def zsh(parser) -> str:
    # bashcompinit's `complete` registers through compdef, which compinit defines.
    return ("# aml-doctor completion for zsh: source <(aml-doctor completion zsh)\n"
            "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit -u; }\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + bash(parser).split("\n", 1)[1])


def fish(parser) -> str:
    commands, top, per_command = _tables(parser)
    out = ["# aml-doctor completion for fish: aml-doctor completion fish > ~/.config/fish/completions/aml-doctor.fish"]
    names = " ".join(commands)
    for program in PROGRAMS:
        for name, text in commands.items():
            out.append(f"complete -c {program} -f -n 'not __fish_seen_subcommand_from {names}' -a {name} -d {_fish_quote(text)}")
        for scope, parser in [("not __fish_seen_subcommand_from " + names, top)] + [
                (f"__fish_seen_subcommand_from {n}", p) for n, p in per_command.items()]:
            values = _value_words(parser)
            for a in parser._actions:  # noqa: SLF001
                longs = [o[2:] for o in a.option_strings if o.startswith("--")]
                shorts = [o[1:] for o in a.option_strings if len(o) == 2]
                if not longs and not shorts:
                    continue
                flags = " ".join([f"-l {x}" for x in longs] + [f"-s {x}" for x in shorts])
                words = values.get(a.option_strings[0], "")
                arg = " -r -F" if words == "__file__" else (f" -x -a {_fish_quote(words)}" if words else "")
                out.append(f"complete -c {program} -n {_fish_quote(scope)} {flags}{arg} -d {_fish_quote((a.help or '')[:70])}")
        out.append(f"complete -c {program} -f -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'")
    return "\n".join(out) + "\n"


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def script(shell: str, parser) -> str:
    """The completion script for ``shell``, made from ``parser`` (main's, with ``parser.commands``)."""
    return {"bash": bash, "zsh": zsh, "fish": fish}[shell](parser)
