//! The device, its queue and the compiled kernels; buffer helpers and read-back.

use crate::error::GpuError;
use crate::kernels;
use wgpu::util::DeviceExt;

/// Compute pipelines, one per kernel entry point.
#[derive(Clone)]
pub(crate) struct Pipelines {
    pub(crate) nct: wgpu::ComputePipeline,
    pub(crate) planes: wgpu::ComputePipeline,
    pub(crate) hadamard: wgpu::ComputePipeline,
    pub(crate) idct: wgpu::ComputePipeline,
    pub(crate) rgba: wgpu::ComputePipeline,
    pub(crate) refine: wgpu::ComputePipeline,
    pub(crate) bitgroups: wgpu::ComputePipeline,
    pub(crate) bitgroups_rgba: wgpu::ComputePipeline,
    pub(crate) accumulate: wgpu::ComputePipeline,
    pub(crate) half: wgpu::ComputePipeline,
    pub(crate) quant: wgpu::ComputePipeline,
    pub(crate) lowrank: wgpu::ComputePipeline,
    pub(crate) lowrank_rgba: wgpu::ComputePipeline,
}

/// A GPU decoder: a `wgpu` device and queue (its own, or an application's) with the kernels
/// compiled for it. Cloning is cheap (the handles are shared).
#[derive(Clone)]
pub struct GpuDecoder {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: Option<wgpu::AdapterInfo>,
    pub(crate) pipelines: Pipelines,
}

impl core::fmt::Debug for GpuDecoder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GpuDecoder").field("adapter", &self.adapter_summary()).finish_non_exhaustive()
    }
}

impl GpuDecoder {
    /// Finds an adapter (high-performance preference; `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` and
    /// the other `wgpu` environment variables apply natively) and opens a device on it.
    /// [`GpuError::NoAdapter`] when there is none: the CPU decoders then do the work.
    pub async fn request() -> Result<Self, GpuError> {
        #[cfg(native)]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        #[cfg(wasm)]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle();
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        Self::new(&adapter).await
    }

    /// [`GpuDecoder::request`], blocking (native only).
    #[cfg(native)]
    pub fn request_blocking() -> Result<Self, GpuError> {
        pollster::block_on(Self::request())
    }

    /// Opens a device on `adapter` with the adapter's own limits (so large tensors fit in one
    /// buffer where the hardware allows).
    pub async fn new(adapter: &wgpu::Adapter) -> Result<Self, GpuError> {
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("haagenti-gpu"),
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let mut gpu = Self::from_device(device, queue);
        gpu.info = Some(adapter.get_info());
        Ok(gpu)
    }

    /// Uses an application's device and queue (so it shares them), compiling the kernels on it.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let pipeline = |label: &str, source: &str, entry: &str| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let pipelines = Pipelines {
            nct: pipeline("nct", kernels::NCT, "decode"),
            planes: pipeline("planes", kernels::PLANES, "unplane"),
            hadamard: pipeline("hadamard", kernels::HADAMARD, "inverse"),
            idct: pipeline("spectral idct", kernels::SPECTRAL, "idct"),
            rgba: pipeline("spectral rgba", kernels::SPECTRAL, "to_rgba"),
            refine: pipeline("refine", kernels::REFINE, "dequant"),
            bitgroups: pipeline("bit groups", kernels::BITGROUPS, "samples"),
            bitgroups_rgba: pipeline("bit groups rgba", kernels::BITGROUPS, "to_rgba"),
            accumulate: pipeline("spectral accumulate", kernels::ACCUMULATE, "accumulate"),
            half: pipeline("half", kernels::HALF, "pack"),
            quant: pipeline("quant", kernels::QUANT, "dequant"),
            lowrank: pipeline("lowrank", kernels::LOWRANK, "matrix"),
            lowrank_rgba: pipeline("lowrank rgba", kernels::LOWRANK, "to_rgba"),
        };
        GpuDecoder { device, queue, info: None, pipelines }
    }

    /// The device (to build on the buffers it returns).
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The queue the kernels are submitted to.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The adapter's description, where this decoder opened the device itself.
    pub fn adapter_info(&self) -> Option<&wgpu::AdapterInfo> {
        self.info.as_ref()
    }

    /// One line naming the adapter: `"llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu)"`.
    pub fn adapter_summary(&self) -> String {
        match &self.info {
            Some(i) => format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type),
            None => "an application's device".to_string(),
        }
    }

    /// The largest buffer one binding may see.
    pub(crate) fn max_binding(&self) -> u64 {
        let l = self.device.limits();
        l.max_storage_buffer_binding_size.min(l.max_buffer_size)
    }

    /// A storage buffer holding `bytes` (padded to 4 bytes, at least 4).
    pub(crate) fn storage(&self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        let mut padded;
        let contents = if !bytes.len().is_multiple_of(4) || bytes.is_empty() {
            padded = bytes.to_vec();
            padded.resize(bytes.len().div_ceil(4).max(1) * 4, 0);
            &padded[..]
        } else {
            bytes
        };
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        })
    }

    /// A uniform buffer holding `words`.
    pub(crate) fn uniform(&self, words: &[u32]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: &words_to_bytes(words),
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    /// An output buffer of `size` bytes (rounded up to 4) the kernels write and callers read.
    pub(crate) fn output(&self, label: &str, size: u64) -> Result<wgpu::Buffer, GpuError> {
        let size = size.div_ceil(4).max(1) * 4;
        let limit = self.device.limits().max_buffer_size;
        if size > limit {
            return Err(GpuError::TooLarge { what: "the output", bytes: size, limit });
        }
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }))
    }

    /// [`Self::dispatch`] with `buffers` bound whole, in order, from binding 0.
    pub(crate) fn dispatch_buffers(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
        grid: (u32, u32),
    ) {
        let entries: Vec<(u32, wgpu::BindingResource<'_>)> =
            buffers.iter().enumerate().map(|(i, b)| (i as u32, b.as_entire_binding())).collect();
        self.dispatch(pipeline, &entries, grid);
    }

    /// Runs `pipeline` over `workgroups` workgroups with `entries` bound to group 0, spread
    /// over two dimensions past the per-dimension limit; `groups_x` is what the shader needs
    /// to rebuild the linear index.
    pub(crate) fn dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        entries: &[(u32, wgpu::BindingResource<'_>)],
        (x, y): (u32, u32),
    ) {
        let layout = pipeline.get_bind_group_layout(0);
        let entries: Vec<wgpu::BindGroupEntry<'_>> = entries
            .iter()
            .map(|(binding, resource)| wgpu::BindGroupEntry { binding: *binding, resource: resource.clone() })
            .collect();
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &entries,
        });
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
        self.queue.submit([encoder.finish()]);
    }

    /// The two-dimensional grid for `n` workgroups: `(x, y)` with `x * y >= n`.
    pub(crate) fn grid(&self, n: u64) -> Result<(u32, u32), GpuError> {
        let max = u64::from(self.device.limits().max_compute_workgroups_per_dimension);
        let x = n.clamp(1, max);
        let y = n.div_ceil(x).max(1);
        if y > max {
            return Err(GpuError::TooLarge { what: "the dispatch (workgroups)", bytes: n, limit: max * max });
        }
        Ok((x as u32, y as u32))
    }

    /// Copies `buffer` back to the host. Natively this waits for the device; in the browser
    /// it resolves when WebGPU has mapped the copy.
    pub async fn read_bytes(&self, buffer: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        let size = buffer.size();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read back"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Readback(format!("copying for read-back: {e}")));
        }
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(native)]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Readback(e.to_string()))?;
        rx.await
            .map_err(|_| GpuError::Readback("the device dropped the mapping".into()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let bytes = staging.slice(..).get_mapped_range().map_err(|e| GpuError::Readback(e.to_string()))?.to_vec();
        staging.unmap();
        Ok(bytes)
    }

    /// [`Self::read_bytes`] as `f32` values.
    pub async fn read_f32(&self, buffer: &wgpu::Buffer) -> Result<Vec<f32>, GpuError> {
        let bytes = self.read_bytes(buffer).await?;
        Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    /// [`Self::read_bytes`], blocking (native only).
    #[cfg(native)]
    pub fn read_bytes_blocking(&self, buffer: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        pollster::block_on(self.read_bytes(buffer))
    }

    /// Waits until the device has finished everything submitted (native; a no-op in the
    /// browser, where completion is observed through [`Self::read_bytes`]).
    pub fn wait(&self) -> Result<(), GpuError> {
        #[cfg(native)]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Readback(e.to_string()))?;
        Ok(())
    }
}

/// Little-endian bytes of `words`.
pub(crate) fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}
