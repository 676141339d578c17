use clap::Parser;

fn main() {
    let cli = sim::cli::Cli::parse();
    let code = match sim::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    };
    std::process::exit(code);
}
