//! Synthetic boards for benchmarks and stress tests: large, deterministic,
//! with the mix of a busy workshop board, built through the public edits.

use touchpoint_crdt::{Anchor, Board, EditError, End, Geometry, NewElement, ShapeKind};

/// Cells of the grid the elements sit on, in world units.
pub const CELL: f64 = 250.0;
/// Columns of the grid.
pub const COLUMNS: usize = 300;
/// Elements per `create_many` call (one transaction each).
const BATCH: usize = 1_000;

/// World position of the `i`-th element's cell.
pub fn cell(i: usize) -> (f64, f64) {
    ((i % COLUMNS) as f64 * CELL, (i / COLUMNS) as f64 * CELL)
}

/// A board of `n` elements: per group of ten, five stickies with text
/// ("Note {i} about the service"), three shapes (every outline in turn) and
/// two ink strokes of 16 points, one per grid cell; then one connector per
/// hundred elements, bound from a sticky (right anchor) to a shape of the same
/// group (left anchor). Returns the board and the ids of the elements that are
/// not connectors, in creation order.
pub fn grid_board(n: usize, client_id: u64) -> Result<(Board, Vec<String>), EditError> {
    let mut board = Board::with_client_id(client_id);
    let connectors = n / 100;
    let news: Vec<NewElement> = (0..n - connectors)
        .map(|i| {
            let (x, y) = cell(i);
            match i % 10 {
                0..=4 => NewElement::sticky(x, y, &format!("Note {i} about the service")),
                5..=7 => NewElement::shape(
                    ShapeKind::ALL[i % ShapeKind::ALL.len()],
                    Geometry::new(x, y, 180.0, 120.0),
                ),
                _ => {
                    let pts: Vec<[f32; 2]> = (0..16)
                        .map(|k| [x as f32 + k as f32 * 10.0, y as f32 + (k % 3) as f32 * 20.0])
                        .collect();
                    NewElement::ink(&pts)
                }
            }
        })
        .collect();
    let mut ids = Vec::with_capacity(n);
    for chunk in news.chunks(BATCH) {
        ids.extend(board.create_many(chunk.to_vec())?);
    }
    // Sticky k * 90 and the shape five places on, in the same group of ten.
    let links: Vec<NewElement> = (0..connectors)
        .map(|k| {
            NewElement::connector(
                End::bound(&ids[k * 90], Anchor::Right),
                End::bound(&ids[k * 90 + 5], Anchor::Left),
            )
        })
        .collect();
    for chunk in links.chunks(BATCH) {
        board.create_many(chunk.to_vec())?;
    }
    Ok((board, ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_board_has_the_documented_mix() {
        let (board, ids) = grid_board(1_000, 1).unwrap();
        assert_eq!(board.len(), 1_000);
        assert_eq!(ids.len(), 990);
        let kinds = board.elements().iter().fold([0usize; 6], |mut acc, e| {
            acc[e.kind() as usize] += 1;
            acc
        });
        // sticky, shape, text, ink, connector, frame
        assert_eq!(kinds, [495, 297, 0, 198, 10, 0]);
    }
}
