//! The window's GPU side: surface, device, the canvas renderer and egui's
//! renderer, and one frame's two passes.
//!
//! The canvas is drawn first (into a multisampled texture resolved onto the
//! surface when the renderer asks for MSAA); egui then draws the interface on top in a second pass that loads
//! what is there. The surface uses an sRGB format when the platform offers
//! one (the canvas renderer writes linear colours), which egui-wgpu handles
//! with its linear-framebuffer shader.

use std::sync::Arc;

use winit::window::Window;

use touchpoint_render::{FrameStats, RenderError, Renderer, offscreen};
use touchpoint_scene::camera::Camera;
use touchpoint_scene::scene::Scene;

/// Why the window could not draw.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("cannot create a drawing surface for the window: {0}")]
    Surface(#[from] wgpu::CreateSurfaceError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("the GPU device was lost: {0}")]
    Lost(String),
}

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    msaa: Option<wgpu::TextureView>,
    sample_count: u32,
    pub canvas: Renderer,
    pub egui: egui_wgpu::Renderer,
    adapter_name: String,
    lost: offscreen::LostFlag,
}

impl Gpu {
    pub fn new(
        window: Arc<Window>,
        display: winit::event_loop::OwnedDisplayHandle,
    ) -> Result<Gpu, GpuError> {
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let mut desc = wgpu::InstanceDescriptor::new_with_display_handle(Box::new(display));
        desc.backends = backends;
        desc.flags = wgpu::InstanceFlags::from_build_config().with_env();
        let instance = wgpu::Instance::new(desc);
        let size = window.inner_size();
        let surface = instance.create_surface(window)?;
        let adapter = offscreen::pick_adapter(&instance, backends, Some(&surface))?;
        let info = adapter.get_info();
        let adapter_name = format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type);
        let (device, queue, lost) = offscreen::open_device(&adapter, "touchpoint window")?;
        let caps = surface.get_capabilities(&adapter);
        let format = caps
            .formats
            .iter()
            .copied()
            .find(wgpu::TextureFormat::is_srgb)
            .or_else(|| caps.formats.first().copied())
            .unwrap_or(wgpu::TextureFormat::Bgra8UnormSrgb);
        if !format.is_srgb() {
            tracing::warn!("no sRGB surface format; canvas colours will look dark ({format:?})");
        }
        let alpha_mode = caps
            .alpha_modes
            .first()
            .copied()
            .unwrap_or(wgpu::CompositeAlphaMode::Auto);
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            width: size.width.max(1),
            height: size.height.max(1),
            present_mode: wgpu::PresentMode::AutoVsync,
            desired_maximum_frame_latency: 2,
            alpha_mode,
            view_formats: vec![],
            color_space: wgpu::SurfaceColorSpace::Auto,
        };
        surface.configure(&device, &config);
        // The renderer antialiases in its shaders (render::SAMPLE_COUNT);
        // MSAA would cost a software rasteriser most of its frame.
        let sample_count = if adapter
            .get_texture_format_features(format)
            .flags
            .sample_count_supported(touchpoint_render::SAMPLE_COUNT)
        {
            touchpoint_render::SAMPLE_COUNT
        } else {
            1
        };
        let mut canvas = Renderer::new(&device, &queue, format, sample_count);
        // Zoomed out, the canvas is drawn from cached tiles (render::tiles);
        // TOUCHPOINT_NO_TILES=1 draws every element every frame instead.
        if std::env::var_os("TOUCHPOINT_NO_TILES").is_none_or(|v| v.is_empty() || v == "0") {
            canvas.enable_tile_cache();
        }
        let egui = egui_wgpu::Renderer::new(&device, format, egui_wgpu::RendererOptions::default());
        let mut gpu = Gpu {
            device,
            queue,
            surface,
            config,
            msaa: None,
            sample_count,
            canvas,
            egui,
            adapter_name,
            lost,
        };
        gpu.make_msaa();
        Ok(gpu)
    }

    pub fn adapter_name(&self) -> &str {
        &self.adapter_name
    }

    pub fn max_texture_side(&self) -> usize {
        self.device.limits().max_texture_dimension_2d as usize
    }

    fn make_msaa(&mut self) {
        self.msaa = (self.sample_count > 1).then(|| {
            self.device
                .create_texture(&wgpu::TextureDescriptor {
                    label: Some("canvas msaa"),
                    size: wgpu::Extent3d {
                        width: self.config.width,
                        height: self.config.height,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: self.sample_count,
                    dimension: wgpu::TextureDimension::D2,
                    format: self.config.format,
                    usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
                    view_formats: &[],
                })
                .create_view(&Default::default())
        });
    }

    pub fn resize(&mut self, width: u32, height: u32) {
        if width == 0 || height == 0 {
            return;
        }
        self.config.width = width;
        self.config.height = height;
        self.surface.configure(&self.device, &self.config);
        self.make_msaa();
    }

    /// Draws one frame: the canvas, then egui's output on top.
    pub fn frame(
        &mut self,
        scene: &Scene,
        camera: &Camera,
        paint_jobs: &[egui::ClippedPrimitive],
        textures: &mut egui::TexturesDelta,
        pixels_per_point: f32,
    ) -> Result<FrameStats, GpuError> {
        if let Some(why) = self.lost.lock().ok().and_then(|s| s.clone()) {
            return Err(GpuError::Lost(why));
        }
        // Texture uploads and frees are applied even when no frame is
        // drawn: egui has moved on either way.
        for (id, deltas) in textures.set.drain() {
            for delta in deltas {
                self.egui
                    .update_texture(&self.device, &self.queue, id, &delta);
            }
        }
        let to_free: Vec<egui::TextureId> = textures.free.drain().collect();
        let result = self.draw(scene, camera, paint_jobs, pixels_per_point);
        for id in &to_free {
            self.egui.free_texture(id);
        }
        result
    }

    fn draw(
        &mut self,
        scene: &Scene,
        camera: &Camera,
        paint_jobs: &[egui::ClippedPrimitive],
        pixels_per_point: f32,
    ) -> Result<FrameStats, GpuError> {
        let frame = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(f)
            | wgpu::CurrentSurfaceTexture::Suboptimal(f) => f,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface.configure(&self.device, &self.config);
                return Ok(FrameStats::default());
            }
            other => {
                tracing::debug!("skipping a frame: {other:?}");
                return Ok(FrameStats::default());
            }
        };
        let view = frame.texture.create_view(&Default::default());
        let stats = self.canvas.prepare(scene, camera);
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: [self.config.width, self.config.height],
            pixels_per_point,
        };
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame"),
            });
        let extra =
            self.egui
                .update_buffers(&self.device, &self.queue, &mut encoder, paint_jobs, &screen);
        {
            // The multisampled target is only resolved, never read again.
            let (target, resolve, store) = match &self.msaa {
                Some(msaa) => (msaa, Some(&view), wgpu::StoreOp::Discard),
                None => (&view, None, wgpu::StoreOp::Store),
            };
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("canvas"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: target,
                    depth_slice: None,
                    resolve_target: resolve,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(Renderer::clear_color()),
                        store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            self.canvas.draw(&mut pass);
        }
        {
            let pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("egui"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Load,
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            let mut pass = pass.forget_lifetime();
            self.egui.render(&mut pass, paint_jobs, &screen);
        }
        self.queue
            .submit(extra.into_iter().chain(std::iter::once(encoder.finish())));
        self.queue.present(frame);
        Ok(stats)
    }
}
