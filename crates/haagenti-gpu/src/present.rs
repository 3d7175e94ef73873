//! Drawing a decoded texture onto a surface: in the browser a `<canvas>` (the HoloTensor
//! preview painted without its pixels passing through JavaScript), natively a window.

use crate::context::GpuDecoder;
use crate::error::GpuError;
use crate::kernels;

/// A surface and the pipeline that copies textures onto it, pixel for pixel.
pub struct Presenter {
    surface: wgpu::Surface<'static>,
    format: wgpu::TextureFormat,
    alpha: wgpu::CompositeAlphaMode,
    pipeline: wgpu::RenderPipeline,
    size: (u32, u32),
    /// The canvas behind the surface, resized with the texture (browser only).
    #[cfg(wasm)]
    canvas: Option<web_sys::HtmlCanvasElement>,
}

impl core::fmt::Debug for Presenter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Presenter").field("format", &self.format).field("size", &self.size).finish_non_exhaustive()
    }
}

impl Presenter {
    /// A presenter for `surface`, which `adapter` (the one `gpu` was opened on) can draw to.
    pub fn new(gpu: &GpuDecoder, adapter: &wgpu::Adapter, surface: wgpu::Surface<'static>) -> Result<Self, GpuError> {
        let caps = surface.get_capabilities(adapter);
        // A linear (non-sRGB) format, so that the bytes written are the texture's bytes.
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| matches!(f, wgpu::TextureFormat::Rgba8Unorm | wgpu::TextureFormat::Bgra8Unorm))
            .or_else(|| caps.formats.iter().copied().find(|f| !f.is_srgb()))
            .ok_or_else(|| GpuError::Unsupported("the surface offers no linear 8-bit format".into()))?;
        let alpha = caps.alpha_modes.first().copied().unwrap_or(wgpu::CompositeAlphaMode::Auto);
        let module = gpu.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("blit"),
            source: wgpu::ShaderSource::Wgsl(kernels::BLIT.into()),
        });
        let pipeline = gpu.device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("blit"),
            layout: None,
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState { format, blend: None, write_mask: wgpu::ColorWrites::ALL })],
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        Ok(Presenter {
            surface,
            format,
            alpha,
            pipeline,
            size: (0, 0),
            #[cfg(wasm)]
            canvas: None,
        })
    }

    /// The surface's format.
    pub fn format(&self) -> wgpu::TextureFormat {
        self.format
    }

    /// Draws `texture` (a 2-D colour texture, e.g. [`GpuDecoder::spectral_texture`]'s) onto
    /// the surface, sized to it (a canvas is resized to the texture's size).
    pub fn present(&mut self, gpu: &GpuDecoder, texture: &wgpu::Texture) -> Result<(), GpuError> {
        let size = (texture.width(), texture.height());
        if self.size != size {
            #[cfg(wasm)]
            if let Some(canvas) = &self.canvas {
                canvas.set_width(size.0);
                canvas.set_height(size.1);
            }
            self.surface.configure(
                &gpu.device,
                &wgpu::SurfaceConfiguration {
                    usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
                    format: self.format,
                    width: size.0,
                    height: size.1,
                    present_mode: wgpu::PresentMode::Fifo,
                    desired_maximum_frame_latency: 2,
                    alpha_mode: self.alpha,
                    color_space: Default::default(),
                    view_formats: vec![],
                },
            );
            self.size = size;
        }
        let frame = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(f) | wgpu::CurrentSurfaceTexture::Suboptimal(f) => f,
            other => return Err(GpuError::Unsupported(format!("no surface texture to draw on: {other:?}"))),
        };
        let view = frame.texture.create_view(&wgpu::TextureViewDescriptor::default());
        let src = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::TextureView(&src) }],
        });
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("blit"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.draw(0..3, 0..1);
        }
        gpu.queue.submit([encoder.finish()]);
        gpu.queue.present(frame);
        Ok(())
    }
}

#[cfg(wasm)]
impl GpuDecoder {
    /// A decoder on the browser's WebGPU adapter and a presenter drawing onto `canvas`
    /// (its `webgpu` context). [`GpuError::NoAdapter`] where the browser has no WebGPU.
    pub async fn for_canvas(canvas: web_sys::HtmlCanvasElement) -> Result<(Self, Presenter), GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let surface = instance
            .create_surface(wgpu::SurfaceTarget::Canvas(canvas.clone()))
            .map_err(|e| GpuError::NoAdapter(format!("no WebGPU context on the canvas: {e}")))?;
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                compatible_surface: Some(&surface),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let gpu = Self::new(&adapter).await?;
        let mut presenter = Presenter::new(&gpu, &adapter, surface)?;
        presenter.canvas = Some(canvas);
        Ok((gpu, presenter))
    }
}
