// Renders saved results (decode.mjs / chromium.mjs --json files) as the Markdown of the
// README's Performance section: one heading and table per file.
//
//   node report.mjs results/node.json results/chromium.json ...
import { readFileSync } from 'node:fs';
import { table } from './harness.mjs';

const names = [{ name: 'haagenti' }, { name: 'zstd-wasm' }, { name: 'fzstd' }];
for (const file of process.argv.slice(2)) {
  const { env, opts, rows } = JSON.parse(readFileSync(file, 'utf8'));
  const pk = env.packages;
  console.log(`#### ${env.runtime.split(' (')[0]} — ${env.module.path.split('/').slice(-2).join('/')}\n`);
  console.log(`${env.date}; ${env.cpu}, ${env.cores} cores, ${env.memoryGiB} GiB; load average ${env.loadavg} ` +
    `before, ${env.loadavgAfter} after. ${env.runtime}; haagenti ${env.module.version} at ${env.commit} ` +
    `(\`${env.module.api}\`, ${env.module.bytes} B wasm, sha256 ${env.module.sha256}); ` +
    `@bokuweb/zstd-wasm ${pk['@bokuweb/zstd-wasm']}, fzstd ${pk.fzstd}. ` +
    `${opts.runs} runs of ${opts.warmup} warm-up + ${opts.rounds} timed rounds.\n`);
  console.log(table(rows, names));
  console.log('');
}
