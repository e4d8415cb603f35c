//! Rendering with no window: a GPU chosen without a surface, an sRGB
//! texture to draw into, and a read-back to RGBA bytes and PNG. Used by
//! `touchpoint render`, the render tests and the benchmarks; it works on
//! Mesa's software Vulkan (lavapipe) as on a real GPU.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{RenderError, Renderer};
use touchpoint_scene::camera::Camera;
use touchpoint_scene::scene::Scene;

/// The format offscreen images are drawn in: 8-bit sRGB, so blending happens
/// in linear light and the bytes read back are ready for PNG.
pub const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

/// A device and queue with no surface, and the sample count its format allows.
pub struct GpuContext {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// [`super::SAMPLE_COUNT`] (1): no MSAA.
    pub sample_count: u32,
    /// Set by the device-lost callback; checked after each frame.
    lost: LostFlag,
}

/// The adapter to draw with: high performance first, a software one such as
/// lavapipe is fine; with `surface`, one that can present to it. Shared by
/// the offscreen context and the window.
pub fn pick_adapter(
    instance: &wgpu::Instance,
    backends: wgpu::Backends,
    surface: Option<&wgpu::Surface<'_>>,
) -> Result<wgpu::Adapter, RenderError> {
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        force_fallback_adapter: false,
        compatible_surface: surface,
        apply_limit_buckets: false,
    }))
    .map_err(|e| {
        tracing::debug!("request_adapter: {e}");
        RenderError::NoAdapter {
            backends: backends
                .iter_names()
                .map(|(name, _)| name.to_lowercase())
                .collect::<Vec<_>>()
                .join(", "),
        }
    })?;
    let info = adapter.get_info();
    tracing::info!(
        "GPU adapter: {} ({:?}, {:?})",
        info.name,
        info.backend,
        info.device_type
    );
    Ok(adapter)
}

/// Set (to the reason) by wgpu's device-lost callback.
pub type LostFlag = Arc<Mutex<Option<String>>>;

/// A device and queue on `adapter` with the limits the renderer needs, and
/// a flag the device-lost callback fills in (checked after frames).
pub fn open_device(
    adapter: &wgpu::Adapter,
    label: &str,
) -> Result<(wgpu::Device, wgpu::Queue, LostFlag), RenderError> {
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some(label),
        required_features: wgpu::Features::empty(),
        required_limits: wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits()),
        ..Default::default()
    }))
    .map_err(|source| RenderError::RequestDevice {
        adapter: adapter.get_info().name,
        source,
    })?;
    let lost = Arc::new(Mutex::new(None));
    let flag = Arc::clone(&lost);
    device.set_device_lost_callback(move |reason, message| {
        if let Ok(mut slot) = flag.lock() {
            *slot = Some(format!("{reason:?}: {message}"));
        }
    });
    Ok((device, queue, lost))
}

impl GpuContext {
    /// Picks an adapter without a surface: backends from `WGPU_BACKEND`
    /// (`vulkan`, `gl`, `metal`, `dx12`, comma-separated), else the primary
    /// ones; a software adapter such as lavapipe is fine.
    pub fn new() -> Result<GpuContext, RenderError> {
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        desc.flags = wgpu::InstanceFlags::from_build_config().with_env();
        let instance = wgpu::Instance::new(desc);
        let adapter = pick_adapter(&instance, backends, None)?;
        let (device, queue, lost) = open_device(&adapter, "touchpoint")?;
        // The renderer antialiases everything itself (SDF shapes, strokes
        // and fill fringes), and MSAA's clear and resolve are most of a
        // frame on a software rasteriser; see `super::SAMPLE_COUNT`.
        let sample_count = super::SAMPLE_COUNT;
        Ok(GpuContext {
            adapter,
            device,
            queue,
            sample_count,
            lost,
        })
    }

    /// "name (backend)" of the adapter, for logs and benchmark reports.
    pub fn describe(&self) -> String {
        let info = self.adapter.get_info();
        format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
    }

    /// A renderer for offscreen targets of this context.
    pub fn renderer(&self) -> Renderer {
        Renderer::new(&self.device, &self.queue, FORMAT, self.sample_count)
    }

    fn check_lost(&self) -> Result<(), RenderError> {
        match self.lost.lock().ok().and_then(|s| s.clone()) {
            Some(why) => Err(RenderError::DeviceLost(why)),
            None => Ok(()),
        }
    }
}

/// A texture to render into, its multisampled companion, and a buffer to
/// read it back through.
pub struct OffscreenTarget {
    width: u32,
    height: u32,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    msaa_view: Option<wgpu::TextureView>,
    readback: wgpu::Buffer,
    /// Bytes per row in `readback`: a multiple of 256, as copies require.
    padded_row: u32,
    /// What the pass clears to: the canvas colour, or transparent for a
    /// PNG export without background.
    clear: wgpu::Color,
}

impl OffscreenTarget {
    pub fn new(gpu: &GpuContext, width: u32, height: u32) -> Result<OffscreenTarget, RenderError> {
        if width == 0 || height == 0 {
            return Err(RenderError::Empty { width, height });
        }
        let max = gpu.device.limits().max_texture_dimension_2d;
        if width > max || height > max {
            return Err(RenderError::TooLarge { width, height, max });
        }
        let size = wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        };
        let texture = |label: &str, samples: u32, usage: wgpu::TextureUsages| {
            gpu.device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size,
                mip_level_count: 1,
                sample_count: samples,
                dimension: wgpu::TextureDimension::D2,
                format: FORMAT,
                usage,
                view_formats: &[],
            })
        };
        let resolved = texture(
            "offscreen",
            1,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let msaa_view = (gpu.sample_count > 1).then(|| {
            texture(
                "offscreen msaa",
                gpu.sample_count,
                wgpu::TextureUsages::RENDER_ATTACHMENT,
            )
            .create_view(&Default::default())
        });
        let padded_row = (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let readback = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("offscreen readback"),
            size: u64::from(padded_row) * u64::from(height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        Ok(OffscreenTarget {
            width,
            height,
            view: resolved.create_view(&Default::default()),
            texture: resolved,
            msaa_view,
            readback,
            padded_row,
            clear: Renderer::clear_color(),
        })
    }

    /// The same target clearing to `color` instead of the canvas colour.
    pub fn with_clear(mut self, color: wgpu::Color) -> OffscreenTarget {
        self.clear = color;
        self
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Draws one frame and waits for the GPU to finish it.
    pub fn render(
        &self,
        gpu: &GpuContext,
        renderer: &mut Renderer,
        scene: &Scene,
        camera: &Camera,
    ) -> Result<super::FrameStats, RenderError> {
        self.encode_and_submit(gpu, renderer, scene, camera, false)
    }

    /// [`OffscreenTarget::render`], timed: the CPU's `prepare` apart from
    /// recording, submitting and waiting for the GPU (benchmarks).
    pub fn render_timed(
        &self,
        gpu: &GpuContext,
        renderer: &mut Renderer,
        scene: &Scene,
        camera: &Camera,
    ) -> Result<FrameTiming, RenderError> {
        let mut timing = FrameTiming::default();
        let stats =
            self.encode_and_submit_timed(gpu, renderer, scene, camera, false, &mut timing)?;
        timing.stats = stats;
        Ok(timing)
    }

    /// Draws one frame and reads it back as tightly packed RGBA rows (sRGB,
    /// straight alpha; the canvas is opaque).
    pub fn render_rgba(
        &self,
        gpu: &GpuContext,
        renderer: &mut Renderer,
        scene: &Scene,
        camera: &Camera,
    ) -> Result<Vec<u8>, RenderError> {
        self.encode_and_submit(gpu, renderer, scene, camera, true)?;
        let slice = self.readback.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        gpu.device.poll(wgpu::PollType::wait_indefinitely())?;
        gpu.check_lost()?;
        rx.recv()
            .map_err(|_| RenderError::Readback("the map callback never ran".into()))?
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        let mut rgba = Vec::with_capacity((self.width * self.height * 4) as usize);
        {
            let view = slice
                .get_mapped_range()
                .map_err(|e| RenderError::Readback(e.to_string()))?;
            for row in view.chunks_exact(self.padded_row as usize) {
                rgba.extend_from_slice(&row[..(self.width * 4) as usize]);
            }
        }
        self.readback.unmap();
        Ok(rgba)
    }

    fn encode_and_submit(
        &self,
        gpu: &GpuContext,
        renderer: &mut Renderer,
        scene: &Scene,
        camera: &Camera,
        copy_out: bool,
    ) -> Result<super::FrameStats, RenderError> {
        let mut timing = FrameTiming::default();
        self.encode_and_submit_timed(gpu, renderer, scene, camera, copy_out, &mut timing)
    }

    fn encode_and_submit_timed(
        &self,
        gpu: &GpuContext,
        renderer: &mut Renderer,
        scene: &Scene,
        camera: &Camera,
        copy_out: bool,
        timing: &mut FrameTiming,
    ) -> Result<super::FrameStats, RenderError> {
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let start = Instant::now();
        let stats = renderer.prepare(scene, camera);
        let prepared = Instant::now();
        timing.prepare = prepared - start;
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("offscreen frame"),
            });
        {
            let (view, resolve_target) = match &self.msaa_view {
                Some(msaa) => (msaa, Some(&self.view)),
                None => (&self.view, None),
            };
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("canvas"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(self.clear),
                        // The resolved texture is what we keep.
                        store: if resolve_target.is_some() {
                            wgpu::StoreOp::Discard
                        } else {
                            wgpu::StoreOp::Store
                        },
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            renderer.draw(&mut pass);
        }
        if copy_out {
            encoder.copy_texture_to_buffer(
                wgpu::TexelCopyTextureInfo {
                    texture: &self.texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::TexelCopyBufferInfo {
                    buffer: &self.readback,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(self.padded_row),
                        rows_per_image: Some(self.height),
                    },
                },
                wgpu::Extent3d {
                    width: self.width,
                    height: self.height,
                    depth_or_array_layers: 1,
                },
            );
        }
        gpu.queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RenderError::Gpu(e.to_string()));
        }
        gpu.device.poll(wgpu::PollType::wait_indefinitely())?;
        timing.gpu = prepared.elapsed();
        gpu.check_lost()?;
        Ok(stats)
    }
}

/// One offscreen frame's wall-clock split ([`OffscreenTarget::render_timed`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameTiming {
    pub stats: super::FrameStats,
    /// [`Renderer::prepare`]: culling, instances, uploads, text layout.
    pub prepare: Duration,
    /// Recording the pass, submitting it and waiting for the GPU (on
    /// lavapipe: the CPU rasteriser's work).
    pub gpu: Duration,
}

/// Encodes tightly packed sRGB RGBA rows as a PNG.
pub fn write_png(out: impl Write, width: u32, height: u32, rgba: &[u8]) -> Result<(), RenderError> {
    let mut encoder = ::png::Encoder::new(out, width, height);
    encoder.set_color(::png::ColorType::Rgba);
    encoder.set_depth(::png::BitDepth::Eight);
    encoder.set_source_srgb(::png::SrgbRenderingIntent::Perceptual);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgba)?;
    writer.finish()?;
    Ok(())
}
