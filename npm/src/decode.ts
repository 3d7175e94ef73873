// The browser and bundler entry of `haagenti/decode`: call `await init()` once, then decode.
export * from "./decoder.js";
