// Compiled with `tsc --noEmit` by types.test.mjs: the package's types as a user sees them.
import { compress, decompress, detectFormat, healthCheck, init, type FormatName, type HealthInfo } from "haagenti";

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
