// The fragment server's client: list assets, read manifests, and stream an asset adaptively
// over gRPC-web (or plain GETs of /fragments/{id}), painting previews as fragments arrive.

import type {
  AssetManifest,
  AssetSummary,
  ClientStats,
  PreviewFrame,
  StreamAssetOptions as WasmStreamOptions,
  StreamBudget,
  StreamProgress,
  StreamResult,
} from "../wasm/haagenti_wasm.js";

export type { AssetManifest, AssetSummary, ClientStats, StreamBudget, StreamProgress, StreamResult };

/** A preview as `streamAsset` hands it over: the frame, the progress, and for images an `ImageData`. */
export type StreamPreview = PreviewFrame &
  StreamProgress & {
    /** The preview as RGBA pixels, where `ImageData` exists (browsers, workers). */
    imageData?: ImageData;
    /** For tensors: the reconstructed values so far. */
    values?: Float32Array;
    /** Drawn on WebGPU onto the canvas given to `enableWebGpu` (no pixels here). */
    gpu?: boolean;
  };

/** Options of `streamAsset`. */
export interface StreamAssetOptions extends Omit<WasmStreamOptions, "onPreview"> {
  /** Called with each preview; paint `preview.imageData` with `ctx.putImageData`. */
  onPreview?: (preview: StreamPreview) => void;
}

/**
 * A preview's pixels as RGBA `ImageData` (gray previews are spread over R, G and B). An RGBA
 * preview's `ImageData` shares its bytes with `preview.data` (no copy: the frame's array is its own).
 */
export function previewToImageData(preview: PreviewFrame): ImageData {
  const { width, height, channels, data } = preview;
  if (channels === 4 && data.length === width * height * 4) {
    return new ImageData(new Uint8ClampedArray(data.buffer as ArrayBuffer, data.byteOffset, data.length), width, height);
  }
  const rgba = new Uint8ClampedArray(width * height * 4);
  if (channels === 4) {
    rgba.set(data);
  } else {
    for (let i = 0, j = 0; i < width * height; i++, j += 4) {
      const v = data[i * channels];
      rgba[j] = v;
      rgba[j + 1] = v;
      rgba[j + 2] = v;
      rgba[j + 3] = 255;
    }
  }
  return new ImageData(rgba, width, height);
}

/** Bridges `streamAsset`'s options to the module, adding `imageData` where it can be made. */
export function streamOptions(options: StreamAssetOptions): WasmStreamOptions {
  const { onPreview, ...rest } = options;
  if (!onPreview) return rest;
  const hasImageData = typeof ImageData !== "undefined";
  return {
    ...rest,
    onPreview: (frame) => {
      const preview = frame as StreamPreview;
      if (hasImageData && preview.values === undefined && !preview.gpu) preview.imageData = previewToImageData(frame);
      onPreview(preview);
    },
  };
}


