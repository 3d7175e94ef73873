//! gRPC-web message framing (the `application/grpc-web+proto` wire form).
//!
//! Each frame is one flag byte (`0x00` data, `0x80` trailers), a big-endian `u32` length and the
//! payload. Trailers are HTTP/1-style header lines carrying `grpc-status` and `grpc-message`.

use core::fmt;

use prost::Message;

/// Largest frame accepted from the network (16 MiB).
pub const MAX_FRAME_LEN: usize = 16 << 20;

/// An error while reading a gRPC-web response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrpcWebError {
    /// The body ended inside a frame.
    Truncated,
    /// A frame is larger than [`MAX_FRAME_LEN`].
    FrameTooLarge {
        /// The frame's declared length.
        len: usize,
    },
    /// A frame uses compression or an unknown flag.
    UnsupportedFlag {
        /// The flag byte.
        flag: u8,
    },
    /// The response had no data frame.
    MissingMessage,
    /// The message did not decode as protobuf.
    Decode(String),
    /// The server answered with a non-zero `grpc-status`.
    Status {
        /// The gRPC status code.
        code: u32,
        /// The `grpc-message` trailer.
        message: String,
    },
}

impl fmt::Display for GrpcWebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrpcWebError::Truncated => f.write_str("gRPC-web body ended inside a frame"),
            GrpcWebError::FrameTooLarge { len } => write!(f, "gRPC-web frame of {len} bytes is too large"),
            GrpcWebError::UnsupportedFlag { flag } => write!(f, "unsupported gRPC-web frame flag 0x{flag:02x}"),
            GrpcWebError::MissingMessage => f.write_str("gRPC-web response carried no message"),
            GrpcWebError::Decode(e) => write!(f, "bad protobuf message: {e}"),
            GrpcWebError::Status { code, message } => write!(f, "gRPC status {code}: {message}"),
        }
    }
}

impl core::error::Error for GrpcWebError {}

/// Frames `msg` as the body of a gRPC-web request.
pub fn encode_request<M: Message>(msg: &M) -> Vec<u8> {
    let len = msg.encoded_len();
    let mut out = Vec::with_capacity(5 + len);
    out.push(0);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    msg.encode(&mut out).expect("a Vec grows as needed");
    out
}

/// Reads a unary gRPC-web response body: one message, then trailers whose status must be 0.
pub fn decode_unary_response<M: Message + Default>(body: &[u8]) -> Result<M, GrpcWebError> {
    let mut pos = 0;
    let mut message = None;
    while pos < body.len() {
        let header = body.get(pos..pos + 5).ok_or(GrpcWebError::Truncated)?;
        let flag = header[0];
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(GrpcWebError::FrameTooLarge { len });
        }
        let payload = body.get(pos + 5..pos + 5 + len).ok_or(GrpcWebError::Truncated)?;
        pos += 5 + len;
        match flag {
            0x00 if message.is_none() => {
                message = Some(M::decode(payload).map_err(|e| GrpcWebError::Decode(e.to_string()))?);
            }
            0x80 => check_trailers(payload)?,
            flag => return Err(GrpcWebError::UnsupportedFlag { flag }),
        }
    }
    message.ok_or(GrpcWebError::MissingMessage)
}

fn check_trailers(block: &[u8]) -> Result<(), GrpcWebError> {
    let text = String::from_utf8_lossy(block);
    let mut code = 0;
    let mut message = String::new();
    for line in text.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else { continue };
        match name.trim().to_ascii_lowercase().as_str() {
            "grpc-status" => code = value.trim().parse().unwrap_or(2),
            "grpc-message" => message = value.trim().to_string(),
            _ => {}
        }
    }
    if code == 0 { Ok(()) } else { Err(GrpcWebError::Status { code, message }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{HealthRequest, HealthResponse};

    #[test]
    fn request_frame_layout() {
        let body = encode_request(&HealthRequest { client: "t".into() });
        assert_eq!(body[0], 0);
        assert_eq!(u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize, body.len() - 5);
        assert_eq!(HealthRequest::decode(&body[5..]).unwrap().client, "t");
    }

    #[test]
    fn response_with_trailers() {
        let msg = HealthResponse { version: "1".into(), ..Default::default() };
        let mut body = encode_request(&msg);
        let trailers = b"grpc-status:0\r\ngrpc-message:\r\n";
        body.push(0x80);
        body.extend_from_slice(&(trailers.len() as u32).to_be_bytes());
        body.extend_from_slice(trailers);
        assert_eq!(decode_unary_response::<HealthResponse>(&body).unwrap(), msg);
        assert_eq!(decode_unary_response::<HealthResponse>(&body[..body.len() - 3]), Err(GrpcWebError::Truncated));
    }

    #[test]
    fn error_status_is_reported() {
        let trailers = b"grpc-status: 5\r\ngrpc-message: not found\r\n";
        let mut body = vec![0x80];
        body.extend_from_slice(&(trailers.len() as u32).to_be_bytes());
        body.extend_from_slice(trailers);
        assert_eq!(
            decode_unary_response::<HealthResponse>(&body),
            Err(GrpcWebError::Status { code: 5, message: "not found".into() })
        );
    }
}
