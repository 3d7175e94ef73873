//! Every WGSL kernel parses and validates with naga (what wgpu runs before any backend sees
//! a shader), with every capability off: they use nothing beyond core WGSL.

#![cfg(not(target_arch = "wasm32"))]

use naga::valid::{Capabilities, ValidationFlags, Validator};

#[test]
fn every_kernel_validates() {
    for (name, source) in haagenti_gpu::kernels::ALL {
        let module =
            naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        Validator::new(ValidationFlags::all(), Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        assert!(module.entry_points.iter().all(|e| e.stage == naga::ShaderStage::Compute), "{name}: compute only");
        assert!(!module.entry_points.is_empty(), "{name}: no entry point");
    }
}

#[test]
fn the_blit_shader_validates() {
    let source = haagenti_gpu::kernels::BLIT;
    let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("blit: {}", e.emit_to_string(source)));
    Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("blit: {}", e.emit_to_string(source)));
    let stages: Vec<_> = module.entry_points.iter().map(|e| e.stage).collect();
    assert_eq!(stages, [naga::ShaderStage::Vertex, naga::ShaderStage::Fragment]);
}

#[test]
fn a_broken_kernel_is_refused() {
    // The check can fail: the NCT kernel with a type error in it.
    let broken = haagenti_gpu::kernels::NCT.replace("let v = sh[lid];", "let v: u32 = sh[lid];");
    let module = naga::front::wgsl::parse_str(&broken);
    let refused = match module {
        Err(_) => true,
        Ok(m) => Validator::new(ValidationFlags::all(), Capabilities::empty()).validate(&m).is_err(),
    };
    assert!(refused);
}
