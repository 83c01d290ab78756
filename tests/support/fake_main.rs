//! The fake orchestrator as a program, for `make demo` and the benchmarks:
//! the same code the integration tests start in-process.
//!
//! Usage: fake-orchestrator [--port N] [--cdn-port N] [--synthetic N] [--stats N] [--extra]
//! [--overlap-pages K] [--buzz N] [--tls] [--url-file PATH]
//!
//! `--stats N` adds N generated workflows to the store (the `stats`
//! dataset), `--extra` lists the workflows of `fixtures/workflows/extra/`,
//! `--overlap-pages K` makes each listing page start K items before the
//! end of the previous one, `--buzz N` leaves N Buzz to spend on submits
//! (a million by default), `--tls` serves https with the test certificate
//! of `fixtures/tls/` (trust `fixtures/tls/ca.pem` through SSL_CERT_FILE).

#[path = "fake/mod.rs"]
mod fake;

fn main() {
    let mut opts = fake::Options::default();
    let mut url_file = None;
    let mut overlap = 0;
    let mut buzz = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&arg));
        match arg.as_str() {
            "--port" => opts.port = value().parse().unwrap_or_else(|_| usage("--port")),
            "--cdn-port" => opts.cdn_port = value().parse().unwrap_or_else(|_| usage("--cdn-port")),
            "--synthetic" => {
                opts.synthetic = value().parse().unwrap_or_else(|_| usage("--synthetic"))
            }
            "--stats" => opts.stats = value().parse().unwrap_or_else(|_| usage("--stats")),
            "--extra" => opts.extra = true,
            "--tls" => opts.tls = true,
            "--overlap-pages" => {
                overlap = value().parse().unwrap_or_else(|_| usage("--overlap-pages"))
            }
            "--buzz" => buzz = Some(value().parse().unwrap_or_else(|_| usage("--buzz"))),
            "--url-file" => url_file = Some(value()),
            _ => usage(&arg),
        }
    }
    let server = fake::Fake::start_with(opts);
    server.overlap_pages(overlap);
    if let Some(n) = buzz {
        server.set_buzz(n);
    }
    // The URL file is written last: once it is there, so is this line.
    println!(
        "fake orchestrator: API {} CDN {} (token {})",
        server.url,
        server.cdn_url,
        fake::TOKEN
    );
    if let Some(path) = url_file {
        std::fs::write(&path, format!("{}\n", server.url)).expect("write --url-file");
    }
    loop {
        std::thread::park();
    }
}

fn usage(arg: &str) -> ! {
    eprintln!("fake-orchestrator: bad argument {arg}\nusage: fake-orchestrator [--port N] [--cdn-port N] [--synthetic N] [--stats N] [--extra] [--overlap-pages K] [--buzz N] [--tls] [--url-file PATH]");
    std::process::exit(2);
}
