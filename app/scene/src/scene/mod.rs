//! The scene: the board as a display list, in world coordinates.
//!
//! Both the GPU renderer and the SVG writer draw from it, so what you export
//! is what you see. It knows nothing of wgpu, windows or text shaping: items
//! are primitives for signed-distance shaders, path commands to tessellate,
//! and text boxes to lay out (see [`item`]).
//!
//! **Drawing order.** Top-level elements (frames and elements outside frames)
//! in board order (`z`, ties by id, bytewise, as SCHEMA.md says). A frame is
//! drawn as a group: the frame, then its children in `z` order, clipped to the
//! frame's box, before whatever is above the frame. A child's `z` therefore
//! orders it only among its frame's children.
//!
//! **Incremental updates.** [`Scene::apply`] takes the change event of one
//! transaction and rebuilds only the elements it touched, plus the connectors
//! bound to them and, for a frame, its children (whose clip and order follow
//! the frame). Every rebuild stamps the element with a new revision, so a
//! renderer can cache meshes and text layouts per `(id, revision)`.
//!
//! **Damage.** Every element that leaves or enters the scene also logs its
//! bounds, so a cache of rendered pixels (the renderer's tiles) can redraw
//! just the parts of the world that changed ([`Scene::damage_since`]).

pub mod build;
pub mod index;
pub mod item;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use touchpoint_crdt::{Board, Body, Changes, Element, Kind};

use crate::geom::{OrientedRect, Rect, Vec2};
pub use build::element_items;
pub use index::SpatialIndex;
pub use item::{
    Item, LineCap, LineJoin, PathCmd, PathItem, Primitive, Rgba, ShapeItem, TextItem, VAlign,
};

/// Where an element sits in drawing order; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct OrderKey {
    /// `z` and id of the top-level element: the element itself or its frame.
    top_z: String,
    top_id: String,
    /// For a frame's child, its own `z` and id (after the frame: `None` sorts first).
    child: Option<(String, String)>,
}

/// One element's part of the display list.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneElement {
    /// The snapshot the items were built from.
    pub element: Element,
    /// Changes whenever the items are rebuilt; never reused for this id, even
    /// after the element is deleted and restored.
    pub revision: u64,
    /// The frame's box, for a frame's child: draw (and hit) only inside it.
    pub clip: Option<OrientedRect>,
    /// Back to front.
    pub items: Vec<Item>,
    /// Union of the items' bounds and the element's own box (world units),
    /// not clipped.
    pub bounds: Rect,
    /// For a connector, its resolved end points.
    pub ends: Option<[Vec2; 2]>,
    order: OrderKey,
    /// What the spatial index holds for this element (the clipped bounds);
    /// `None` when it is wholly clipped away.
    indexed: Option<Rect>,
}

impl SceneElement {
    pub fn id(&self) -> &str {
        &self.element.id
    }

    pub fn kind(&self) -> Kind {
        self.element.kind()
    }

    /// The bounds that can show on screen: `bounds` clipped to the frame.
    pub fn visible_bounds(&self) -> Option<Rect> {
        self.indexed
    }

    /// The element's box (its geometry), rotated.
    pub fn rect(&self) -> OrientedRect {
        OrientedRect::from_geometry(&self.element.geom)
    }

    /// Exact hit test at `p` with `tolerance` world units of slack (a few
    /// screen pixels at the current zoom). Rotation and outline count: the
    /// inside of an ellipse, diamond or triangle, near the line of ink and
    /// connectors. A frame is picked by its title or its border, not its
    /// inside, so a marquee can start in an empty part of a frame.
    pub fn hit(&self, p: Vec2, tolerance: f64) -> bool {
        if let Some(clip) = &self.clip
            && !clip.contains(p)
        {
            return false;
        }
        match self.kind() {
            Kind::Frame => {
                let title =
                    build::frame_title_box(&self.element.geom, self.element.style.font_size);
                title.contains(p) || self.items.iter().any(|i| i.hit(p, tolerance, false))
            }
            // An empty text box has no items but can still be picked.
            Kind::Text => {
                let r = self.rect();
                let l = r.local_from_world(p).abs();
                l.x <= r.half_size.x + tolerance && l.y <= r.half_size.y + tolerance
            }
            _ => self.items.iter().any(|i| i.hit(p, tolerance, true)),
        }
    }
}

/// What [`Scene::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Elements whose items were rebuilt (new revision).
    pub rebuilt: BTreeSet<String>,
    /// Elements that left the scene.
    pub removed: BTreeSet<String>,
}

/// Damage rects kept before the log is dropped; a cache that has not
/// caught up by then redraws everything.
const MAX_DAMAGE: usize = 4096;

/// Tells scenes apart, so a cache filled from one board is not reused for
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SceneId(u64);

impl Default for SceneId {
    fn default() -> SceneId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SceneId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// One entry of the damage log: an element left or took `bounds`.
#[derive(Debug, Clone, PartialEq)]
pub struct Damage {
    pub id: String,
    pub bounds: Rect,
}

/// A point in a scene's history: what a cache was last brought up to date
/// with ([`Scene::stamp`], [`Scene::damage_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SceneStamp {
    scene: SceneId,
    seq: u64,
}

/// The display list of one board; see the module docs.
#[derive(Debug, Default)]
pub struct Scene {
    id: SceneId,
    /// World bounds of elements that left or entered the scene, oldest
    /// first; `damage[0]` is number `damage_start` in the scene's history.
    damage: Vec<Damage>,
    damage_start: u64,
    elements: HashMap<String, SceneElement>,
    order: BTreeMap<OrderKey, String>,
    /// Frame id -> ids of the elements in it.
    children: HashMap<String, BTreeSet<String>>,
    /// Element id -> connectors with an end bound to it (the element may not
    /// exist: a connector can outlive its element, or arrive before it).
    bound: HashMap<String, BTreeSet<String>>,
    index: SpatialIndex,
    next_revision: u64,
}

impl Scene {
    pub fn new() -> Scene {
        Scene::default()
    }

    /// The scene of the whole board.
    pub fn build(board: &Board) -> Scene {
        let mut scene = Scene::new();
        let all = board.elements();
        let by_id: HashMap<&str, &Element> = all.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut entries = Vec::with_capacity(all.len());
        for el in &all {
            let parent = el.parent.as_deref().and_then(|p| by_id.get(p).copied());
            let ends = board.connector_points(el).map(|e| e.map(Vec2::from));
            let revision = scene.fresh_revision();
            entries.push(make_entry(el.clone(), parent, ends, revision));
        }
        let mut indexed = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some(r) = entry.indexed {
                indexed.push((entry.element.id.clone(), r));
            }
            scene.link(&entry);
            scene.elements.insert(entry.element.id.clone(), entry);
        }
        scene.index = SpatialIndex::bulk_load(indexed);
        scene
    }

    /// Brings the scene up to date after one transaction. Call it for every
    /// change event, local or remote, in order.
    pub fn apply(&mut self, board: &Board, changes: &Changes) -> Applied {
        let mut touched: BTreeSet<String> = changes
            .created
            .iter()
            .chain(&changes.changed)
            .chain(&changes.deleted)
            .cloned()
            .collect();
        // A frame's children follow its box (clip) and z (order).
        let children: Vec<String> = touched
            .iter()
            .filter_map(|id| self.children.get(id))
            .flatten()
            .cloned()
            .collect();
        touched.extend(children);
        // Connectors follow the elements they are bound to.
        let connectors: Vec<String> = touched
            .iter()
            .filter_map(|id| self.bound.get(id))
            .flatten()
            .cloned()
            .collect();
        touched.extend(connectors);

        let mut applied = Applied::default();
        for id in &touched {
            if self.remove(id).is_some() {
                applied.removed.insert(id.clone());
            }
        }
        for id in touched {
            let Some(el) = board.element(&id) else {
                continue;
            };
            let parent = el.parent.as_deref().and_then(|p| board.element(p));
            let ends = board.connector_points(&el).map(|e| e.map(Vec2::from));
            let revision = self.fresh_revision();
            let entry = make_entry(el, parent.as_ref(), ends, revision);
            self.insert(entry);
            applied.removed.remove(&id);
            applied.rebuilt.insert(id);
        }
        applied
    }

    fn fresh_revision(&mut self) -> u64 {
        self.next_revision += 1;
        self.next_revision
    }

    /// Adds an entry to the order and the reverse indexes (not the spatial index).
    fn link(&mut self, entry: &SceneElement) {
        let id = &entry.element.id;
        self.order.insert(entry.order.clone(), id.clone());
        if let Some(p) = &entry.element.parent {
            self.children
                .entry(p.clone())
                .or_default()
                .insert(id.clone());
        }
        for target in bound_ids(&entry.element) {
            self.bound
                .entry(target.to_owned())
                .or_default()
                .insert(id.clone());
        }
    }

    /// Logs world bounds whose pixels changed (see the module docs).
    fn damaged(&mut self, id: &str, bounds: Rect) {
        if self.damage.len() >= MAX_DAMAGE {
            self.damage_start += self.damage.len() as u64;
            self.damage.clear();
        }
        self.damage.push(Damage {
            id: id.to_owned(),
            bounds,
        });
    }

    /// Where the scene's history stands now.
    pub fn stamp(&self) -> SceneStamp {
        SceneStamp {
            scene: self.id,
            seq: self.damage_start + self.damage.len() as u64,
        }
    }

    /// What changed since `stamp`: `None` when `stamp` is from another
    /// scene or so old that the log no longer reaches it (redraw
    /// everything).
    pub fn damage_since(&self, stamp: SceneStamp) -> Option<&[Damage]> {
        if stamp.scene != self.id || stamp.seq < self.damage_start {
            return None;
        }
        let from = usize::try_from(stamp.seq - self.damage_start).ok()?;
        self.damage.get(from..)
    }

    fn insert(&mut self, entry: SceneElement) {
        self.damaged(&entry.element.id, entry.bounds);
        self.link(&entry);
        if let Some(r) = entry.indexed {
            self.index.insert(entry.element.id.clone(), r);
        }
        self.elements.insert(entry.element.id.clone(), entry);
    }

    fn remove(&mut self, id: &str) -> Option<SceneElement> {
        let entry = self.elements.remove(id)?;
        self.damaged(id, entry.bounds);
        self.order.remove(&entry.order);
        if let Some(r) = entry.indexed {
            self.index.remove(id, r);
        }
        if let Some(p) = &entry.element.parent {
            unlink(&mut self.children, p, id);
        }
        for target in bound_ids(&entry.element) {
            unlink(&mut self.bound, target, id);
        }
        Some(entry)
    }

    pub fn len(&self) -> usize {
        self.elements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&SceneElement> {
        self.elements.get(id)
    }

    /// Every element, back to front.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &SceneElement> {
        self.order.values().filter_map(|id| self.elements.get(id))
    }

    /// Every item with its element, back to front.
    pub fn items(&self) -> impl Iterator<Item = (&SceneElement, &Item)> {
        self.iter()
            .flat_map(|e| e.items.iter().map(move |i| (e, i)))
    }

    /// Connectors with an end bound to `id`, sorted.
    pub fn connectors_bound_to(&self, id: &str) -> impl Iterator<Item = &str> {
        self.bound.get(id).into_iter().flatten().map(String::as_str)
    }

    /// Elements inside frame `id`, sorted by id.
    pub fn children_of(&self, id: &str) -> impl Iterator<Item = &str> {
        self.children
            .get(id)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// The spatial index over visible bounds.
    pub fn index(&self) -> &SpatialIndex {
        &self.index
    }

    /// Bounds of everything visible, for zoom to fit; `None` on an empty board.
    pub fn world_bounds(&self) -> Option<Rect> {
        self.index.bounds()
    }

    fn sorted<'a>(&'a self, ids: impl Iterator<Item = &'a str>) -> Vec<&'a SceneElement> {
        let mut out: Vec<&SceneElement> = ids.filter_map(|id| self.elements.get(id)).collect();
        out.sort_by(|a, b| a.order.cmp(&b.order));
        out
    }

    /// Culling: the elements whose visible bounds meet `rect` (a viewport in
    /// world coordinates), back to front.
    pub fn query_rect(&self, rect: &Rect) -> Vec<&SceneElement> {
        self.sorted(self.index.intersecting(rect))
    }

    /// The elements among `ids` that exist, back to front.
    pub fn in_order<'a>(&'a self, ids: impl Iterator<Item = &'a str>) -> Vec<&'a SceneElement> {
        self.sorted(ids)
    }

    /// Elements whose visible bounds lie wholly inside `rect`, back to front.
    pub fn contained_in(&self, rect: &Rect) -> Vec<&SceneElement> {
        self.sorted(self.index.contained_in(rect))
    }

    /// Ids of the elements under `p`, topmost first, by exact shape (see
    /// [`SceneElement::hit`]); `tolerance` is in world units.
    pub fn hit_test(&self, p: Vec2, tolerance: f64) -> Vec<&str> {
        let near = Rect::point(p).expand(tolerance.max(0.0));
        let mut hits: Vec<&SceneElement> = self
            .sorted(self.index.intersecting(&near))
            .into_iter()
            .filter(|e| e.hit(p, tolerance))
            .collect();
        hits.reverse();
        hits.into_iter().map(SceneElement::id).collect()
    }

    /// The topmost element under `p`.
    pub fn topmost_at(&self, p: Vec2, tolerance: f64) -> Option<&str> {
        self.hit_test(p, tolerance).into_iter().next()
    }
}

fn unlink(map: &mut HashMap<String, BTreeSet<String>>, key: &str, id: &str) {
    if let Some(set) = map.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

/// Ids a connector's ends are bound to.
fn bound_ids(el: &Element) -> impl Iterator<Item = &str> {
    let ends = match &el.body {
        Body::Connector { from, to, .. } => vec![from, to],
        _ => Vec::new(),
    };
    ends.into_iter()
        .filter_map(|e| e.binding.as_ref().map(|b| b.id.as_str()))
}

/// Builds one element's entry. `parent` is its frame (already validated by the
/// board), `ends` a connector's resolved end points.
fn make_entry(
    element: Element,
    parent: Option<&Element>,
    ends: Option<[Vec2; 2]>,
    revision: u64,
) -> SceneElement {
    let items = build::element_items(&element, ends);
    let mut bounds = items.iter().map(Item::bounds).reduce(Rect::union);
    if element.kind() != Kind::Connector {
        let own = OrientedRect::from_geometry(&element.geom).bounds();
        bounds = Some(bounds.map_or(own, |b| b.union(own)));
    }
    let bounds = bounds.unwrap_or_else(|| Rect::point(Vec2::ZERO));
    let parent = parent.filter(|p| p.kind() == Kind::Frame && element.kind() != Kind::Frame);
    let clip = parent.map(|p| OrientedRect::from_geometry(&p.geom));
    let indexed = match &clip {
        Some(c) => bounds.intersection(c.bounds()),
        None => Some(bounds),
    };
    let order = match parent {
        Some(p) => OrderKey {
            top_z: p.z.clone(),
            top_id: p.id.clone(),
            child: Some((element.z.clone(), element.id.clone())),
        },
        None => OrderKey {
            top_z: element.z.clone(),
            top_id: element.id.clone(),
            child: None,
        },
    };
    SceneElement {
        element,
        revision,
        clip,
        items,
        bounds,
        ends,
        order,
        indexed,
    }
}

#[cfg(test)]
mod tests;
