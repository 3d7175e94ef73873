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
    let mut frames = FrameDecoder::new();
    frames.push(body);
    let mut message = None;
    while let Some(frame) = frames.next_frame()? {
        match frame {
            Frame::Message(payload) if message.is_none() => {
                message = Some(M::decode(payload.as_slice()).map_err(|e| GrpcWebError::Decode(e.to_string()))?);
            }
            Frame::Message(_) => return Err(GrpcWebError::UnsupportedFlag { flag: 0 }),
            Frame::Trailers => {}
        }
    }
    frames.finish()?;
    message.ok_or(GrpcWebError::MissingMessage)
}

/// One frame of a gRPC-web body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A message's protobuf bytes.
    Message(Vec<u8>),
    /// The trailers, with `grpc-status` 0 (a non-zero status is returned as an error).
    Trailers,
}

/// Splits a gRPC-web body that arrives in pieces (a server stream read from `fetch`) into
/// frames. Memory is bounded by [`MAX_FRAME_LEN`] plus one piece: a longer frame is refused
/// from its header, before its payload is buffered.
///
/// ```
/// use haagenti_proto::grpc_web::{Frame, FrameDecoder};
/// let mut frames = FrameDecoder::new();
/// frames.push(&[0, 0, 0]);
/// assert_eq!(frames.next_frame(), Ok(None));
/// frames.push(&[0, 2, 8, 1]);
/// assert_eq!(frames.next_frame(), Ok(Some(Frame::Message(vec![8, 1]))));
/// ```
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already returned as frames.
    pos: usize,
    /// Whether the trailers arrived: nothing may follow them.
    ended: bool,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        FrameDecoder::default()
    }

    /// Appends the next piece of the body.
    pub fn push(&mut self, piece: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= 64 * 1024 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(piece);
    }

    /// The next complete frame, or `None` until more bytes arrive. Errors on an oversized
    /// frame, an unknown flag, data after the trailers or a non-zero `grpc-status`.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, GrpcWebError> {
        let rest = &self.buf[self.pos..];
        let Some(header) = rest.get(..5) else { return Ok(None) };
        if self.ended {
            return Err(GrpcWebError::UnsupportedFlag { flag: header[0] });
        }
        let flag = header[0];
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(GrpcWebError::FrameTooLarge { len });
        }
        if flag != 0x00 && flag != 0x80 {
            return Err(GrpcWebError::UnsupportedFlag { flag });
        }
        let Some(payload) = rest.get(5..5 + len) else { return Ok(None) };
        let frame = if flag == 0x80 {
            check_trailers(payload)?;
            self.ended = true;
            Frame::Trailers
        } else {
            Frame::Message(payload.to_vec())
        };
        self.pos += 5 + len;
        Ok(Some(frame))
    }

    /// Whether the trailers have arrived (the call ended with status 0).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Checks that the body did not end inside a frame.
    pub fn finish(&self) -> Result<(), GrpcWebError> {
        if self.pos == self.buf.len() { Ok(()) } else { Err(GrpcWebError::Truncated) }
    }
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

    #[test]
    fn frames_split_anywhere_decode_the_same() {
        let msg = HealthResponse { version: "1.2.3".into(), echo: "x".repeat(300), ..Default::default() };
        let mut body = encode_request(&msg);
        body.extend_from_slice(&encode_request(&msg));
        let trailers = b"grpc-status:0\r\n";
        body.push(0x80);
        body.extend_from_slice(&(trailers.len() as u32).to_be_bytes());
        body.extend_from_slice(trailers);
        for step in [1, 2, 3, 5, 7, 64, body.len()] {
            let mut frames = FrameDecoder::new();
            let mut got = Vec::new();
            for piece in body.chunks(step) {
                frames.push(piece);
                while let Some(frame) = frames.next_frame().unwrap() {
                    got.push(frame);
                }
            }
            frames.finish().unwrap();
            assert!(frames.ended());
            assert_eq!(got.len(), 3, "step {step}");
            for frame in &got[..2] {
                let Frame::Message(bytes) = frame else { panic!("step {step}: {frame:?}") };
                assert_eq!(HealthResponse::decode(bytes.as_slice()).unwrap(), msg);
            }
            assert_eq!(got[2], Frame::Trailers);
        }
    }

    #[test]
    fn bad_frames_are_refused_from_their_header() {
        let mut frames = FrameDecoder::new();
        frames.push(&[0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(frames.next_frame(), Err(GrpcWebError::FrameTooLarge { len: u32::MAX as usize }));
        let mut frames = FrameDecoder::new();
        frames.push(&[1, 0, 0, 0, 9]);
        assert_eq!(frames.next_frame(), Err(GrpcWebError::UnsupportedFlag { flag: 1 }));
        let mut frames = FrameDecoder::new();
        frames.push(&[0, 0, 0, 0, 4, 1]);
        assert_eq!(frames.next_frame(), Ok(None));
        assert_eq!(frames.finish(), Err(GrpcWebError::Truncated));
        let mut frames = FrameDecoder::new();
        frames.push(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(frames.next_frame(), Ok(Some(Frame::Trailers)));
        assert_eq!(frames.next_frame(), Err(GrpcWebError::UnsupportedFlag { flag: 0 }));
    }
}
