//! `cargo run --example man > civitai-orch.1`: the man page (see man.rs).

#[path = "man.rs"]
mod man;

fn main() {
    print!("{}", man::page());
}
