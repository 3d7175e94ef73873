// A zstd decoder kept between calls, over the module's `ZstdDecoder`: its tables and one output
// buffer in WebAssembly memory are reused, so a caller can read the output where it is
// (`decodeView`), copy it into an array of its own (`decodeInto`) or take a fresh copy
// (`decode`). Shared by the full and the decoder-only entries.

/** What the class needs of the WebAssembly `ZstdDecoder`. */
export interface RawZstdDecoder {
  decodeRetained(data: Uint8Array): number;
  retainedPtr(): number;
  releaseBuffer(): void;
  free(): void;
}

/** Options of `ZstdDecoder`. */
export interface ZstdDecoderOptions {
  /** Largest output of one call, in bytes (default 1 GiB); more throws. */
  maxOutput?: number;
}

/**
 * A reusable zstd decoder. Every call decodes all the frames of its input; a corrupt input,
 * one that ends early or one whose output passes `maxOutput` throws an `Error` saying so.
 *
 * The fastest call is `decodeView`, which copies nothing: the bytes it returns are a view of
 * the decoder's buffer in WebAssembly memory, valid until the next call into this module (any
 * call may reuse or move that memory); copy them (`view.slice()`) to keep them. `decodeInto`
 * copies into the caller's array, `decode` into a new one. The buffer keeps the size of the
 * largest output so far until `releaseBuffer()`; `free()` frees the decoder.
 */
export class ZstdDecoderBase {
  #raw: RawZstdDecoder | undefined;
  readonly #memory: () => WebAssembly.Memory;

  protected constructor(raw: RawZstdDecoder, memory: () => WebAssembly.Memory) {
    this.#raw = raw;
    this.#memory = memory;
  }

  #live(): RawZstdDecoder {
    if (!this.#raw) throw new Error("haagenti: this ZstdDecoder was freed");
    return this.#raw;
  }

  /** Decodes `data`; returns a view of the output in WebAssembly memory (no copy, see above). */
  decodeView(data: Uint8Array): Uint8Array {
    const raw = this.#live();
    // Decoding first: it may grow the memory, which replaces its buffer.
    const n = raw.decodeRetained(data);
    return new Uint8Array(this.#memory().buffer, raw.retainedPtr(), n);
  }

  /** Decodes `data` into `out` from its start; returns the number of bytes written. */
  decodeInto(data: Uint8Array, out: Uint8Array): number {
    const view = this.decodeView(data);
    if (view.length > out.length) {
      throw new RangeError(`haagenti: the output takes ${view.length} bytes; the array holds ${out.length}`);
    }
    out.set(view);
    return view.length;
  }

  /** Decodes `data` into a new array. */
  decode(data: Uint8Array): Uint8Array {
    return this.decodeView(data).slice();
  }

  /** Frees the output buffer (the next call allocates one again). */
  releaseBuffer(): void {
    this.#live().releaseBuffer();
  }

  /** Frees the decoder; calling it again is harmless, using the decoder afterwards throws. */
  free(): void {
    this.#raw?.free();
    this.#raw = undefined;
  }
}
