//! The gRPC contract `contactscore.v1`, generated from `proto/contactscore/v1/contactscore.proto`:
//! messages, the `ContactScoring` client and server stubs, and the encoded file descriptor set
//! that server reflection publishes (so `grpcurl` works without the proto files).

#![allow(missing_docs, clippy::all, clippy::wildcard_enum_match_arm)]

/// Package `contactscore.v1`.
pub mod v1 {
    tonic::include_proto!("contactscore.v1");
}

/// The encoded `FileDescriptorSet` of the contract, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/contactscore_descriptor.bin"));

pub use prost_types::Timestamp;
