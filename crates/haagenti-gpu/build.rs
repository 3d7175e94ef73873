//! Target conditions, named once: `wasm` (the browser, through WebGPU) and `native` (wgpu-core
//! over Vulkan, Metal or DX12).

fn main() {
    cfg_aliases::cfg_aliases! {
        wasm: { target_arch = "wasm32" },
        native: { not(target_arch = "wasm32") },
    }
}
