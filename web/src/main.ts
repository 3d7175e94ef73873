import { compress, decompressFormat, healthCheck, init, version, type FormatName } from "haagenti";

function row(cells: string[], header = false): HTMLTableRowElement {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const cell = document.createElement(header ? "th" : "td");
    cell.textContent = text;
    tr.append(cell);
  }
  return tr;
}

function showHealth(fields: [string, string][], state: "ok" | "error"): void {
  const dl = document.getElementById("health")!;
  dl.replaceChildren();
  for (const [name, value] of fields) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.field = name.toLowerCase();
    dl.append(dt, dd);
  }
  dl.dataset.state = state;
}

async function main(): Promise<void> {
  await init();
  try {
    const info = await healthCheck(location.origin, "demo-page");
    showHealth(
      [
        ["Status", info.status],
        ["Protocol", info.protocol],
        ["Server version", info.version],
        ["Uptime", `${info.uptimeSeconds} s`],
        ["Module version", version()],
      ],
      "ok",
    );
  } catch (e) {
    showHealth([["Status", `unreachable: ${(e as Error).message}`]], "error");
  }

  const table = document.getElementById("codecs")!;
  const text = new TextEncoder().encode(document.body.innerText.repeat(20));
  table.append(row(["format", "bytes in", "bytes out", "round trip"], true));
  for (const format of ["lz4", "gzip", "zlib", "deflate", "brotli"] as FormatName[]) {
    const packed = compress(format, text);
    const back = decompressFormat(format, packed);
    const same = back.length === text.length && back.every((b, i) => b === text[i]);
    table.append(row([format, String(text.length), String(packed.length), same ? "exact" : "DIFFERS"]));
  }
  table.dataset.state = "ok";
}

main().catch((e) => {
  showHealth([["Status", `failed to start: ${(e as Error).message}`]], "error");
});
