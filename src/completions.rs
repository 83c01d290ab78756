//! Shell completion scripts, written from the command table in `help`, so
//! that a command or option added there is completed everywhere.

use std::io::{self, Write};

use crate::help::{CommandSpec, COMMANDS, GLOBAL_OPTIONS};

pub fn write(w: &mut impl Write, shell: &str) -> io::Result<()> {
    match shell {
        "bash" => bash(w),
        "zsh" => zsh(w),
        _ => fish(w),
    }
}

fn names() -> Vec<&'static str> {
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
        .collect()
}

/// Options as typed at a prompt: `--take=` completes as `--take=`.
fn options(c: &CommandSpec) -> Vec<&'static str> {
    c.options.iter().chain(GLOBAL_OPTIONS).copied().collect()
}

fn bash(w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "# bash completion for civitai-orch")?;
    writeln!(w, "_civitai_orch() {{")?;
    writeln!(w, "    local cur cmd i")?;
    writeln!(w, "    cur=\"${{COMP_WORDS[COMP_CWORD]}}\"")?;
    writeln!(w, "    cmd=\"\"")?;
    writeln!(w, "    for ((i = 1; i < COMP_CWORD; i++)); do")?;
    writeln!(w, "        case \"${{COMP_WORDS[i]}}\" in -*) ;; *) cmd=\"${{COMP_WORDS[i]}}\"; break ;; esac")?;
    writeln!(w, "    done")?;
    writeln!(w, "    case \"$cmd\" in")?;
    for c in COMMANDS {
        let mut pattern = vec![c.name];
        pattern.extend(c.aliases);
        let words = if c.name == "help" || c.name == "completions" {
            let extra: Vec<&str> = if c.name == "help" {
                names()
            } else {
                vec!["bash", "zsh", "fish"]
            };
            extra.join(" ")
        } else {
            options(c).join(" ")
        };
        writeln!(w, "        {})", pattern.join("|"))?;
        writeln!(
            w,
            "            COMPREPLY=($(compgen -W \"{words}\" -- \"$cur\")) ;;"
        )?;
    }
    writeln!(w, "        *)")?;
    writeln!(
        w,
        "            COMPREPLY=($(compgen -W \"{} {}\" -- \"$cur\")) ;;",
        names().join(" "),
        GLOBAL_OPTIONS.join(" ")
    )?;
    writeln!(w, "    esac")?;
    writeln!(
        w,
        "    [[ \"${{COMPREPLY[0]}}\" == *= ]] && compopt -o nospace 2>/dev/null"
    )?;
    writeln!(w, "    return 0")?;
    writeln!(w, "}}")?;
    writeln!(w, "complete -F _civitai_orch civitai-orch")
}

fn zsh(w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "#compdef civitai-orch")?;
    writeln!(w, "_civitai_orch() {{")?;
    writeln!(w, "    local -a commands")?;
    writeln!(w, "    commands=(")?;
    for c in COMMANDS {
        for name in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
            writeln!(w, "        '{name}:{}'", c.summary.replace('\'', ""))?;
        }
    }
    writeln!(w, "    )")?;
    writeln!(w, "    if (( CURRENT == 2 )); then")?;
    writeln!(w, "        _describe 'command' commands")?;
    writeln!(w, "        return")?;
    writeln!(w, "    fi")?;
    writeln!(w, "    case \"${{words[2]}}\" in")?;
    for c in COMMANDS {
        let mut pattern = vec![c.name];
        pattern.extend(c.aliases);
        let words = if c.name == "help" {
            names().join(" ")
        } else if c.name == "completions" {
            "bash zsh fish".to_string()
        } else {
            options(c).join(" ")
        };
        writeln!(
            w,
            "        {}) compadd -S '' -- {words} ;;",
            pattern.join("|")
        )?;
    }
    writeln!(w, "    esac")?;
    writeln!(w, "}}")?;
    writeln!(w, "compdef _civitai_orch civitai-orch")
}

fn fish(w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "# fish completion for civitai-orch")?;
    writeln!(w, "complete -c civitai-orch -f")?;
    let all = names().join(" ");
    for c in COMMANDS {
        for name in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
            writeln!(
                w,
                "complete -c civitai-orch -n 'not __fish_seen_subcommand_from {all}' -a {name} -d '{}'",
                c.summary.replace('\'', "")
            )?;
        }
        let seen = std::iter::once(c.name)
            .chain(c.aliases.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        for opt in c.options {
            let long = opt.trim_start_matches("--").trim_end_matches('=');
            let takes = if opt.ends_with('=') { " -r" } else { "" };
            writeln!(
                w,
                "complete -c civitai-orch -n '__fish_seen_subcommand_from {seen}' -l {long}{takes}"
            )?;
        }
    }
    for opt in GLOBAL_OPTIONS {
        let long = opt.trim_start_matches("--").trim_end_matches('=');
        let takes = if opt.ends_with('=') { " -r" } else { "" };
        writeln!(w, "complete -c civitai-orch -l {long}{takes}")?;
    }
    writeln!(
        w,
        "complete -c civitai-orch -n '__fish_seen_subcommand_from completions' -a 'bash zsh fish'"
    )?;
    writeln!(
        w,
        "complete -c civitai-orch -n '__fish_seen_subcommand_from help' -a '{all}'"
    )
}
