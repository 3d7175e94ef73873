//! Haagenti's wire protocol.
//!
//! The messages build everywhere (wasm32 included); the tonic server trait and client come with
//! the `grpc` feature. The gRPC-web framing helpers in [`grpc_web`] let a browser client speak
//! to the server without any JavaScript gRPC library.
#![forbid(unsafe_code)]

/// Version 1 of the protocol (`haagenti.v1`).
pub mod v1 {
    #![allow(missing_docs, unreachable_pub, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/haagenti.v1.rs"));
}

/// The encoded `FileDescriptorSet` of every .proto file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/haagenti_descriptor.bin"));

pub mod grpc_web;
