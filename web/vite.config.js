import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  // Pre-bundling would move the package away from the .wasm file it loads by relative URL.
  optimizeDeps: { exclude: ["haagenti"] },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
});
