// The browser and bundler entry of `haagenti`: call `await init()` once (it fetches the .wasm
// file, the simd128 build where supported), then use the functions.
export * from "./full.js";
