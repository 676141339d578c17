use clap::Parser;

fn main() {
    let cli = sim::cli::Cli::parse();
    if let Err(e) = sim::cli::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}
