// WebAssembly SIMD (simd128) detection, done once at load time.

/**
 * The smallest module that needs simd128: one function `() -> v128` whose body is
 * `i32.const 0; i8x16.splat`. Engines without SIMD refuse to validate it.
 */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0x0b, // code: i32.const 0, i8x16.splat, end
]);

/** Whether this engine runs WebAssembly SIMD (simd128). */
export function simdSupported(): boolean {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The build of the WebAssembly module that is (or will be) loaded. */
export type Backend = "simd128" | "baseline";
