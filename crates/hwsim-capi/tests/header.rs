//! include/hwsim.h is what cbindgen generates from this crate today: the test fails when the
//! checked-in header is stale. `make header` (HWSIM_WRITE_HEADER=1) rewrites it.

use std::path::Path;

#[test]
fn checked_in_header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = dir.join("include/hwsim.h");
    if std::env::var_os("HWSIM_WRITE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/hwsim.h");
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is stale: run `make header` and commit the result",
        path.display()
    );
}
