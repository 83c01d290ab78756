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

// The word lists are built by pushing onto one String rather than with
// `collect`: each distinct iterator collected is code of its own.

/// `word` after a separator, unless it is the first.
fn push_word(out: &mut String, sep: char, word: &str) {
    if !out.is_empty() {
        out.push(sep);
    }
    out.push_str(word);
}

/// Every command name and alias, space-separated.
fn names() -> String {
    let mut out = String::new();
    for c in COMMANDS {
        out.push_str(&spellings(c, ' '));
        out.push(' ');
    }
    out.trim_end().to_string()
}

/// A command's name and aliases, joined by `sep`.
fn spellings(c: &CommandSpec, sep: char) -> String {
    let mut out = c.name.to_string();
    for a in c.aliases {
        push_word(&mut out, sep, a);
    }
    out
}

/// An option as typed at a prompt: `--take=` (a value follows), `--all`.
fn typed(o: &Opt) -> String {
    match o.takes {
        Takes::Value(_) => format!("--{}=", o.long),
        _ => format!("--{}", o.long),
    }
}

fn global_words() -> String {
    let mut out = String::new();
    for o in options::globals().filter(|o| !o.hidden) {
        push_word(&mut out, ' ', &typed(o));
    }
    out
}

/// What follows the command name: its own options and the global ones, or
/// the help topics, or the shells.
fn words_after(c: &CommandSpec) -> String {
    match c.name {
        "help" => names(),
        "completions" => "bash zsh fish".to_string(),
        _ => {
            let mut out = String::new();
            for o in options::of_command(c.name).filter(|o| !o.hidden) {
                push_word(&mut out, ' ', &typed(o));
            }
            push_word(&mut out, ' ', &global_words());
            out
        }
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
        writeln!(w, "        {})", spellings(c, '|'))?;
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
        names(),
        global_words()
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
        writeln!(
            w,
            "        {}) compadd -S '' -- {} ;;",
            spellings(c, '|'),
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
    let all = names();
    for c in COMMANDS {
        for name in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
            writeln!(
                w,
                "complete -c civitai-orch -n 'not __fish_seen_subcommand_from {all}' -a {name} -d '{}'",
                c.summary.replace('\'', "")
            )?;
        }
        let seen = spellings(c, ' ');
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
