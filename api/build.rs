//! Rebuilds the crate when a migration changes: they are embedded at compile time, and cargo
//! would not otherwise notice a new migration directory.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
