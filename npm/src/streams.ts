// Web-stream decompression over the module's push-based `StreamDecoder`: a `{ readable,
// writable }` pair for `pipeThrough`, with backpressure both ways and bounded memory.

/** What the streams need of the WebAssembly `StreamDecoder` class. */
export interface RawStreamDecoder {
  write(chunk: Uint8Array): void;
  end(): void;
  read(max: number): Uint8Array;
  free(): void;
}

/** Options of the decompression streams. */
export interface DecompressionStreamOptions {
  /**
   * Largest total output in bytes (default 1 GiB); more errors the stream. Bounds what a small
   * malicious input can make the decoder produce.
   */
  maxOutput?: number;
  /**
   * zstd only: the largest window (history) a frame may ask for, in bytes (default 2^27,
   * 128 MiB, the reference decoder's default). The decoder's memory is about this window plus
   * 256 KiB, so lower it to bound memory; frames asking for more error the stream.
   */
  maxWindow?: number;
  /** Largest chunk the readable side produces, in bytes (default 65536, at most 1 MiB). */
  chunkSize?: number;
}

/** Bytes of input handed to the decoder at a time. */
const PIECE = 64 * 1024;

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("haagenti: a decompression stream takes BufferSource chunks (Uint8Array, ArrayBuffer, views)");
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * A decompression stream: write compressed bytes to `writable` (or `pipeThrough` it) and read
 * the decompressed bytes from `readable`. Corrupt input, input that ends early and output beyond
 * `maxOutput` error both sides with an `Error` saying what was wrong.
 */
export class DecodingStream implements ReadableWritablePair<Uint8Array, BufferSource> {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<BufferSource>;

  protected constructor(create: () => RawStreamDecoder, options: DecompressionStreamOptions = {}) {
    const chunkSize = Math.max(1, Math.min(1 << 20, Math.floor(options.chunkSize ?? 65536) || 65536));
    let decoder: RawStreamDecoder | undefined = create();
    let input: Uint8Array | undefined;
    let offset = 0;
    let written: { resolve: () => void; reject: (e: Error) => void } | undefined;
    let wakeReader: (() => void) | undefined;
    let ended = false;
    let failure: Error | undefined;
    let readableController: ReadableStreamDefaultController<Uint8Array> | undefined;
    let writableController: WritableStreamDefaultController | undefined;

    const wake = () => {
      const w = wakeReader;
      wakeReader = undefined;
      w?.();
    };
    const dispose = () => {
      decoder?.free();
      decoder = undefined;
      input = undefined;
    };
    const fail = (e: unknown) => {
      if (failure) return;
      failure = asError(e);
      dispose();
      written?.reject(failure);
      written = undefined;
      readableController?.error(failure);
      writableController?.error(failure);
      wake();
    };

    this.readable = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          readableController = controller;
        },
        async pull(controller) {
          for (;;) {
            if (failure || !decoder) return;
            let out: Uint8Array;
            try {
              out = decoder.read(chunkSize);
            } catch (e) {
              fail(e);
              return;
            }
            if (out.length > 0) {
              controller.enqueue(out);
              return;
            }
            if (input && offset < input.length) {
              const piece = input.subarray(offset, offset + PIECE);
              offset += piece.length;
              try {
                decoder.write(piece);
              } catch (e) {
                fail(e);
                return;
              }
              continue;
            }
            if (input) {
              input = undefined;
              const w = written;
              written = undefined;
              w?.resolve();
            }
            if (ended) {
              dispose();
              controller.close();
              return;
            }
            await new Promise<void>((resolve) => {
              wakeReader = resolve;
            });
          }
        },
        cancel(reason) {
          fail(reason ?? new Error("haagenti: the decompression stream was cancelled"));
        },
      },
      { highWaterMark: 0 },
    );

    this.writable = new WritableStream<BufferSource>(
      {
        start(controller) {
          writableController = controller;
        },
        write(chunk) {
          if (failure) throw failure;
          let bytes: Uint8Array;
          try {
            bytes = toBytes(chunk);
          } catch (e) {
            fail(e);
            throw e;
          }
          if (bytes.length === 0) return;
          return new Promise<void>((resolve, reject) => {
            input = bytes;
            offset = 0;
            written = { resolve, reject };
            wake();
          });
        },
        close() {
          if (failure) throw failure;
          ended = true;
          decoder?.end();
          wake();
        },
        abort(reason) {
          fail(reason ?? new Error("haagenti: the decompression stream was aborted"));
        },
      },
      { highWaterMark: 1 },
    );
  }
}
