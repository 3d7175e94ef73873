import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  // Pre-bundling would move the package away from the .wasm file it loads by relative URL.
  optimizeDeps: { exclude: ["haagenti"] },
  // Built files go to static/: the server's /assets/{name}/manifest.json are asset manifests.
  build: { outDir: "dist", assetsDir: "static", emptyOutDir: true, target: "es2022" },
});
