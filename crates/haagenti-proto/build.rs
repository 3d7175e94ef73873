//! Compiles the .proto files with protox (pure Rust, no `protoc` binary) and generates prost
//! messages, plus tonic service code when the `grpc` feature is on.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/haagenti/v1/fragments.proto"];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    tonic_prost_build::configure().build_server(grpc).build_client(grpc).build_transport(false).compile_fds(fds)?;
    Ok(())
}
