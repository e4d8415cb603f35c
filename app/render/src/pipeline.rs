//! The canvas shader's pipelines (grid, shapes, paths, tiles), which all
//! blend premultiplied colour the same way, and the uniform block they read.

use bytemuck::{Pod, Zeroable};

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct Globals {
    pub viewport_px: [f32; 2],
    pub origin_in_world: [f32; 2],
    pub pixels_per_unit: f32,
    pub grid_spacing: f32,
    pub grid_columns: f32,
    pub grid_rows: f32,
    pub background: [f32; 4],
    pub grid_color: [f32; 4],
}

/// What a canvas pipeline draws into.
#[derive(Clone, Copy)]
pub(crate) struct PipelineTarget {
    pub format: wgpu::TextureFormat,
    pub sample_count: u32,
}

/// Which entry points of the canvas shader a pipeline runs, on what.
pub(crate) struct PipelineStages<'a> {
    pub label: &'a str,
    pub vs: &'a str,
    pub fs: &'a str,
    pub buffers: &'a [Option<wgpu::VertexBufferLayout<'a>>],
    pub topology: wgpu::PrimitiveTopology,
}

/// A pipeline of the canvas shader: every canvas pipeline (grid, shapes,
/// paths, tiles) blends premultiplied colour the same way.
pub(crate) fn canvas_pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    shader: &wgpu::ShaderModule,
    target: PipelineTarget,
    stages: PipelineStages<'_>,
) -> wgpu::RenderPipeline {
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(stages.label),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module: shader,
            entry_point: Some(stages.vs),
            compilation_options: Default::default(),
            buffers: stages.buffers,
        },
        primitive: wgpu::PrimitiveState {
            topology: stages.topology,
            ..Default::default()
        },
        depth_stencil: None,
        multisample: wgpu::MultisampleState {
            count: target.sample_count,
            ..Default::default()
        },
        fragment: Some(wgpu::FragmentState {
            module: shader,
            entry_point: Some(stages.fs),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format: target.format,
                blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}
