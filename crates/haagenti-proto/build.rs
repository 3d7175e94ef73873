//! Compiles the .proto files with protox (pure Rust, no `protoc` binary) and generates prost
//! messages, plus tonic service code when the `grpc` feature is on. The encoded descriptor set
//! is written beside them for gRPC server reflection.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/haagenti/v1/fragments.proto",
        "proto/haagenti/v1/fragment_service.proto",
        "proto/haagenti/v1/compression_service.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("haagenti_descriptor.bin"), fds.encode_to_vec())?;
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    // Fragment bytes as `bytes::Bytes`, so a server sends them from its cache without a copy.
    tonic_prost_build::configure()
        .bytes(".haagenti.v1.Fragment.data")
        .build_server(grpc)
        .build_client(grpc)
        .build_transport(false)
        .compile_fds(fds)?;
    Ok(())
}
