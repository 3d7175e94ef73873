// The static file answer shared by the pages' servers (chromium.mjs, ab-chromium.mjs).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

/** Answers `res` with `file` (a path already checked to lie inside a served root, or null). */
export function sendFile(res, url, file) {
  // @bokuweb/zstd-wasm's web build imports without file extensions (and a directory by its
  // name): redirect, so that the module's own relative imports resolve from its real URL.
  if (file && !existsSync(file) && existsSync(`${file}.js`)) {
    res.writeHead(302, { location: `${url.pathname}.js` }).end();
    return;
  }
  if (file && existsSync(join(file, 'index.js'))) {
    res.writeHead(302, { location: `${url.pathname}/index.js` }).end();
    return;
  }
  if (!file || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  createReadStream(file).pipe(res);
}
