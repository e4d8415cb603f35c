//! GPU buffers that grow with what they mirror: replaced by one of the next
//! power of two when the data outgrows them, otherwise written in place
//! (only the new tail, where the data only grew).

/// A GPU buffer mirroring a CPU array that only grows (between compactions).
#[derive(Default)]
pub(crate) struct GrowingBuffer {
    pub buffer: Option<wgpu::Buffer>,
}

impl GrowingBuffer {
    /// Writes `contents[uploaded..]`, or all of `contents` into a new buffer
    /// (the next power of two) when it does not fit. `uploaded` is 0 after
    /// a compaction. Returns whether anything was written.
    pub(crate) fn write_tail(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        label: &str,
        usage: wgpu::BufferUsages,
        contents: &[u8],
        uploaded: usize,
    ) -> bool {
        let needed = contents.len() as u64;
        if needed == 0 {
            return false;
        }
        let mut from = uploaded.min(contents.len());
        if self.buffer.as_ref().is_none_or(|b| b.size() < needed) {
            self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: needed.next_power_of_two().max(4096),
                usage: usage | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
            from = 0;
        }
        // Copies must be a multiple of 4 bytes; every element here is.
        match &self.buffer {
            Some(buf) if from < contents.len() => {
                queue.write_buffer(buf, from as u64, &contents[from..]);
                true
            }
            _ => false,
        }
    }
}

#[derive(Default)]
pub(crate) struct PathBuffers {
    pub vertices: GrowingBuffer,
    pub indices: GrowingBuffer,
}

/// Writes `contents` into `slot`, replacing the buffer with a larger one
/// (the next power of two) when it does not fit.
pub(crate) fn write_growing(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    slot: &mut Option<wgpu::Buffer>,
    label: &str,
    usage: wgpu::BufferUsages,
    contents: &[u8],
) {
    if contents.is_empty() {
        return;
    }
    let needed = contents.len() as u64;
    if slot.as_ref().is_none_or(|b| b.size() < needed) {
        *slot = Some(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: needed.next_power_of_two().max(4096),
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }));
    }
    if let Some(buf) = slot {
        queue.write_buffer(buf, 0, contents);
    }
}
