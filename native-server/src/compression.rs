//! The `haagenti.v1.CompressionService`: every codec of `haagenti-codec` over gRPC.
