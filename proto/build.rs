//! Compiles `contactscore/v1/*.proto` with protox (pure Rust, so no `protoc` binary is needed on
//! build machines) and generates prost messages plus tonic client and server stubs. The encoded
//! file descriptor set is written beside them for gRPC server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["contactscore/v1/contactscore.proto"];
    println!("cargo:rerun-if-changed=contactscore");
    let fds = protox::compile(protos, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("contactscore_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
