//! An R*-tree over element bounds: which elements a viewport or a pointer
//! can touch, before any exact test. Coarse by design: it answers with
//! candidates whose bounds intersect; [`super::Scene`] does the exact tests and
//! the ordering.

use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::geom::{Rect, Vec2};

type Entry = GeomWithData<Rectangle<[f64; 2]>, String>;

/// Element ids keyed by their world bounds.
#[derive(Debug, Default)]
pub struct SpatialIndex {
    tree: RTree<Entry>,
}

fn entry(id: String, r: Rect) -> Entry {
    GeomWithData::new(
        Rectangle::from_corners(r.min.to_array(), r.max.to_array()),
        id,
    )
}

fn aabb(r: &Rect) -> AABB<[f64; 2]> {
    AABB::from_corners(r.min.to_array(), r.max.to_array())
}

impl SpatialIndex {
    pub fn new() -> SpatialIndex {
        SpatialIndex::default()
    }

    /// Builds the tree in one go (faster and better balanced than inserting
    /// one by one).
    pub fn bulk_load(entries: Vec<(String, Rect)>) -> SpatialIndex {
        SpatialIndex {
            tree: RTree::bulk_load(entries.into_iter().map(|(id, r)| entry(id, r)).collect()),
        }
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn insert(&mut self, id: String, bounds: Rect) {
        self.tree.insert(entry(id, bounds));
    }

    /// Removes the entry inserted with exactly these id and bounds.
    pub fn remove(&mut self, id: &str, bounds: Rect) -> bool {
        self.tree.remove(&entry(id.to_owned(), bounds)).is_some()
    }

    /// Ids whose bounds intersect `rect` (touching counts), in no order.
    pub fn intersecting(&self, rect: &Rect) -> impl Iterator<Item = &str> {
        self.tree
            .locate_in_envelope_intersecting(&aabb(rect))
            .map(|e| e.data.as_str())
    }

    /// Ids whose bounds lie wholly inside `rect`, in no order.
    pub fn contained_in(&self, rect: &Rect) -> impl Iterator<Item = &str> {
        self.tree
            .locate_in_envelope(&aabb(rect))
            .map(|e| e.data.as_str())
    }

    /// Bounds of everything indexed, `None` when empty.
    pub fn bounds(&self) -> Option<Rect> {
        if self.is_empty() {
            return None;
        }
        let env = self.tree.root().envelope();
        Some(Rect::from_corners(
            Vec2::from(env.lower()),
            Vec2::from(env.upper()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: f64, y: f64, w: f64, h: f64) -> Rect {
        Rect::from_min_size(Vec2::new(x, y), Vec2::new(w, h))
    }

    #[test]
    fn insert_query_remove() {
        let mut index = SpatialIndex::bulk_load(vec![
            ("a".into(), r(0.0, 0.0, 10.0, 10.0)),
            ("b".into(), r(100.0, 100.0, 10.0, 10.0)),
        ]);
        index.insert("c".into(), r(5.0, 5.0, 10.0, 10.0));
        let mut hits: Vec<&str> = index.intersecting(&r(8.0, 8.0, 1.0, 1.0)).collect();
        hits.sort();
        assert_eq!(hits, ["a", "c"]);
        let inside: Vec<&str> = index.contained_in(&r(-1.0, -1.0, 12.0, 12.0)).collect();
        assert_eq!(inside, ["a"]);
        assert_eq!(index.bounds(), Some(r(0.0, 0.0, 110.0, 110.0)));
        assert!(!index.remove("a", r(0.0, 0.0, 10.0, 11.0)));
        assert!(index.remove("a", r(0.0, 0.0, 10.0, 10.0)));
        assert_eq!(index.len(), 2);
        assert_eq!(
            index
                .intersecting(&r(8.0, 8.0, 1.0, 1.0))
                .collect::<Vec<_>>(),
            ["c"]
        );
    }
}
