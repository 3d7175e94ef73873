// Compiled with `tsc --noEmit` by types.test.mjs: the package's types as a user sees them.
import {
  backend,
  BrotliDecompressionStream,
  compress,
  HaagentiDecompressionStream,
  initSync,
  variant,
  ZstdDecoder,
  ZstdDecompressionStream,
  type Backend,
  type DecompressionStreamOptions,
  type StreamFormatName,
  decompress,
  detectFormat,
  fragmentId,
  healthCheck,
  holoEncodeImage,
  holoStream,
  init,
  openHct,
  type FormatName,
  type HctFile,
  type HealthInfo,
  type HoloEncodeOptions,
  type HoloStream,
  type ImageReconstruction,
  type PreviewFrame,
  type QualityPoint,
  type TensorEntry,
  type TensorReconstruction,
} from "haagenti";
import * as decoder from "haagenti/decode";

export async function main(): Promise<number> {
  await init();
  const format: FormatName = "brotli";
  const packed: Uint8Array = compress(format, new Uint8Array([1, 2, 3]), 5);
  const back: Uint8Array = decompress(packed, 1024);
  const found: FormatName | undefined = detectFormat(packed);
  const info: HealthInfo = await healthCheck("https://127.0.0.1:8443");
  const seconds: number = info.uptimeSeconds;
  return back.length + seconds + (found ? 1 : 0);
}

export function stream(fragments: Uint8Array[]): number {
  const s: HoloStream = holoStream({ previewIntervalMs: 50, maxPreviewResolution: 256 });
  let painted = 0;
  for (const f of fragments) {
    const frame: PreviewFrame | undefined = s.push(f, performance.now());
    if (frame) painted += frame.data.length / frame.channels;
  }
  const points: QualityPoint[] | undefined = s.curve();
  const rec: ImageReconstruction | TensorReconstruction = s.reconstruct();
  const size = rec.kind === "image" ? rec.pixels.length : rec.values.length;
  const id: string = fragmentId(fragments[0]);
  return painted + size + (points?.length ?? 0) + id.length;
}

export function tensors(bytes: Uint8Array): number {
  const file: HctFile = openHct(bytes);
  const list: TensorEntry[] = file.tensors();
  const first: Float32Array = file.readF32(list[0].name);
  const opts: HoloEncodeOptions = { encoding: "spectral", fragments: 4 };
  const frags: Uint8Array[] = holoEncodeImage(new Uint8Array(12), 2, 2, 3, opts);
  return first.length + frags.length;
}

export async function streams(response: Response): Promise<Uint8Array[]> {
  const options: DecompressionStreamOptions = { maxOutput: 1 << 20, maxWindow: 1 << 23, chunkSize: 4096 };
  const which: Backend = backend();
  const format: StreamFormatName = which === "simd128" ? "gzip" : "lz4";
  const a: ReadableStream<Uint8Array> = response.body!.pipeThrough(new ZstdDecompressionStream(options));
  const b: ReadableStream<Uint8Array> = response.body!.pipeThrough(new HaagentiDecompressionStream(format));
  const c: ReadableStream<Uint8Array> = response.body!.pipeThrough(new BrotliDecompressionStream());
  const d: ReadableStream<Uint8Array> = response.body!.pipeThrough(new decoder.ZstdDecompressionStream(options));
  const z = new ZstdDecoder({ maxOutput: 1 << 20 });
  const zd: decoder.ZstdDecoderOptions = { maxOutput: 1 << 10 };
  const view: Uint8Array = new decoder.ZstdDecoder(zd).decodeView(new Uint8Array(0));
  const n: number = z.decodeInto(new Uint8Array(0), view);
  z.free();
  const out: Uint8Array[] = [z.decode(new Uint8Array(n))];
  for (const s of [a, b, c, d]) {
    const r = await s.getReader().read();
    if (r.value) out.push(r.value);
  }
  return out;
}

export async function decodeOnly(bytes: Uint8Array, fragments: Uint8Array[]): Promise<number> {
  await decoder.init();
  decoder.initSync(bytes);
  initSync(bytes);
  const v: "full" | "decode" = decoder.variant();
  const which: Backend = decoder.backend();
  const out: Uint8Array = decoder.decompress(bytes, 1 << 20);
  const s: decoder.HoloStream = decoder.holoStream({ maxSamples: 1 << 20 });
  const frame: decoder.PreviewFrame | undefined = s.push(fragments[0], 0);
  const id: string = decoder.fragmentId(fragments[0]);
  return out.length + id.length + (frame?.width ?? 0) + v.length + which.length + variant().length;
}
