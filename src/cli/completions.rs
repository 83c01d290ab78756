//! Shell completion scripts, written from the command table in `help` and
//! the option table in `options`, so that a command or option added there
//! is completed everywhere.

use std::io::{self, Write};

use super::help::{CommandSpec, COMMANDS};
use super::options::{self, Opt, Takes};

pub fn write(w: &mut impl Write, shell: &str) -> io::Result<()> {
    match shell {
        "bash" => bash(w),
        "zsh" => zsh(w),
        _ => fish(w),
    }
}

fn names() -> Vec<&'static str> {
    COMMANDS.iter().flat_map(spellings).collect()
}

fn spellings(c: &CommandSpec) -> impl Iterator<Item = &'static str> {
    std::iter::once(c.name).chain(c.aliases.iter().copied())
}

/// An option as typed at a prompt: `--take=` (a value follows), `--all`.
fn typed(o: &Opt) -> String {
    match o.takes {
        Takes::Value(_) => format!("--{}=", o.long),
        _ => format!("--{}", o.long),
    }
}

fn global_words() -> Vec<String> {
    options::globals()
        .filter(|o| !o.hidden)
        .map(typed)
        .collect()
}

/// The command's own options, then the global ones.
fn option_words(c: &CommandSpec) -> Vec<String> {
    options::of_command(c.name)
        .filter(|o| !o.hidden)
        .map(typed)
        .chain(global_words())
        .collect()
}

/// What follows the command name: options, or the help topics / shells.
fn words_after(c: &CommandSpec) -> String {
    match c.name {
        "help" => names().join(" "),
        "completions" => "bash zsh fish".to_string(),
        _ => option_words(c).join(" "),
    }
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
        let pattern: Vec<&str> = spellings(c).collect();
        writeln!(w, "        {})", pattern.join("|"))?;
        writeln!(
            w,
            "            COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")) ;;",
            words_after(c)
        )?;
    }
    writeln!(w, "        *)")?;
    writeln!(
        w,
        "            COMPREPLY=($(compgen -W \"{} {}\" -- \"$cur\")) ;;",
        names().join(" "),
        global_words().join(" ")
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
        for name in spellings(c) {
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
        let pattern: Vec<&str> = spellings(c).collect();
        writeln!(
            w,
            "        {}) compadd -S '' -- {} ;;",
            pattern.join("|"),
            words_after(c)
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
        for name in spellings(c) {
            writeln!(
                w,
                "complete -c civitai-orch -n 'not __fish_seen_subcommand_from {all}' -a {name} -d '{}'",
                c.summary.replace('\'', "")
            )?;
        }
        let seen = spellings(c).collect::<Vec<_>>().join(" ");
        for o in options::of_command(c.name).filter(|o| !o.hidden) {
            writeln!(
                w,
                "complete -c civitai-orch -n '__fish_seen_subcommand_from {seen}' {}",
                fish_spec(o)
            )?;
        }
    }
    for o in options::globals().filter(|o| !o.hidden) {
        writeln!(w, "complete -c civitai-orch {}", fish_spec(o))?;
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

/// `-l take -r`, with `-s j` for a short spelling and a description.
fn fish_spec(o: &Opt) -> String {
    let mut spec = format!("-l {}", o.long);
    if let Some(c) = o.short {
        spec.push_str(&format!(" -s {c}"));
    }
    if matches!(o.takes, Takes::Value(_)) {
        spec.push_str(" -r");
    }
    let doc = o.doc.lines().next().unwrap_or("").replace('\'', "");
    spec.push_str(&format!(" -d '{doc}'"));
    spec
}
