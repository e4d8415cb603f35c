//! The tools driven by synthetic events against a real board and scene.

use std::sync::{Arc, Mutex};

use touchpoint_crdt::{Anchor, Body, Changes, Element, Subscription};

use super::*;

/// A board, its scene kept current from change events, and the tools.
struct Desk {
    board: Board,
    scene: Scene,
    tools: Tools,
    queue: Arc<Mutex<Vec<Changes>>>,
    _sub: Subscription,
    /// Transactions (change events) seen since the last `take_transactions`.
    transactions: usize,
}

impl Desk {
    fn new() -> Desk {
        let board = Board::with_client_id(1);
        let (sub, queue) = board.change_queue();
        Desk {
            scene: Scene::build(&board),
            board,
            tools: Tools::new(),
            queue,
            _sub: sub,
            transactions: 0,
        }
    }

    fn sync(&mut self) {
        let pending: Vec<Changes> = std::mem::take(&mut *self.queue.lock().unwrap());
        self.transactions += pending.len();
        for c in &pending {
            self.scene.apply(&self.board, c);
        }
        self.tools.prune_selection(&self.scene);
    }

    /// Sets up board content outside any gesture (not counted).
    fn create(&mut self, new: NewElement) -> String {
        let id = self.board.create(new).unwrap();
        self.sync();
        self.transactions = 0;
        id
    }

    fn send(&mut self, input: Input) -> Response {
        let mut ctx = ToolContext {
            board: &mut self.board,
            scene: &self.scene,
            units_per_pixel: 1.0,
        };
        let response = self.tools.handle(&input, &mut ctx).unwrap();
        self.sync();
        response
    }

    fn take_transactions(&mut self) -> usize {
        std::mem::take(&mut self.transactions)
    }

    fn click(&mut self, x: f64, y: f64) -> Response {
        self.send(Input::down(x, y));
        self.send(Input::up(x, y))
    }

    fn drag(&mut self, from: (f64, f64), to: (f64, f64), m: Modifiers) -> Response {
        self.send(Input::down(from.0, from.1).with(m));
        for i in 1..=4 {
            let t = f64::from(i) / 4.0;
            let (x, y) = (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t);
            self.send(Input::moved(x, y).with(m));
        }
        self.send(Input::up(to.0, to.1).with(m))
    }

    fn press(&mut self, c: char, m: Modifiers) -> Response {
        self.send(Input::key(Key::Char(c)).with(m))
    }

    fn element(&self, id: &str) -> Element {
        self.board.element(id).unwrap()
    }

    fn selection(&self) -> Vec<&str> {
        self.tools.selection().iter().map(String::as_str).collect()
    }

    /// Ids created by the last gesture: everything not in `before`.
    fn new_ids(&self, before: &[String]) -> Vec<String> {
        let mut ids: Vec<String> = self
            .board
            .z_order()
            .into_iter()
            .filter(|id| !before.contains(id))
            .collect();
        ids.sort();
        ids
    }
}

fn sticky_at(x: f64, y: f64) -> NewElement {
    NewElement::sticky(x, y, "")
}

#[test]
fn click_selects_the_topmost_and_shift_click_toggles() {
    let mut d = Desk::new();
    let low = d.create(sticky_at(0.0, 0.0));
    let high = d.create(sticky_at(100.0, 100.0));
    let other = d.create(sticky_at(500.0, 0.0));
    d.click(150.0, 150.0);
    assert_eq!(d.selection(), [high.as_str()]);
    d.click(50.0, 50.0);
    assert_eq!(d.selection(), [low.as_str()]);
    d.send(Input::down(600.0, 100.0).with(Modifiers::SHIFT));
    d.send(Input::up(600.0, 100.0).with(Modifiers::SHIFT));
    let mut both = vec![low.as_str(), other.as_str()];
    both.sort();
    assert_eq!(d.selection(), both);
    d.send(Input::down(50.0, 50.0).with(Modifiers::SHIFT));
    d.send(Input::up(50.0, 50.0).with(Modifiers::SHIFT));
    assert_eq!(d.selection(), [other.as_str()]);
    // A click on the empty canvas clears the selection.
    d.click(2000.0, 2000.0);
    assert!(d.selection().is_empty());
    assert_eq!(d.take_transactions(), 0, "selecting edits nothing");
}

#[test]
fn dragging_the_selection_is_one_transaction_and_one_undo_step() {
    let mut d = Desk::new();
    let a = d.create(sticky_at(0.0, 0.0));
    let b = d.create(sticky_at(300.0, 0.0));
    d.click(100.0, 100.0);
    d.send(Input::down(400.0, 100.0).with(Modifiers::SHIFT));
    d.send(Input::up(400.0, 100.0).with(Modifiers::SHIFT));
    assert_eq!(d.tools.selection().len(), 2);

    d.send(Input::down(100.0, 100.0));
    for step in 1..=10 {
        d.send(Input::moved(
            100.0 + 10.0 * f64::from(step),
            100.0 + 5.0 * f64::from(step),
        ));
    }
    // Mid-drag: the preview moves, the document does not.
    let mut ids = vec![a.clone(), b.clone()];
    ids.sort();
    assert_eq!(
        d.tools.preview(),
        Some(Preview::Move {
            ids,
            offset: Vec2::new(100.0, 50.0)
        })
    );
    assert_eq!(d.element(&a).geom.x, 0.0);
    assert_eq!(d.take_transactions(), 0);
    let preview_items = d.tools.preview().unwrap().items(&d.scene);
    assert_eq!(preview_items.len(), 2, "two empty stickies: one shape each");

    let r = d.send(Input::up(200.0, 150.0));
    assert!(r.edited);
    assert_eq!(d.take_transactions(), 1);
    assert_eq!((d.element(&a).geom.x, d.element(&a).geom.y), (100.0, 50.0));
    assert_eq!((d.element(&b).geom.x, d.element(&b).geom.y), (400.0, 50.0));
    assert_eq!(d.tools.preview(), None);

    // One undo puts both back; the step before it is b's creation.
    assert!(d.board.undo());
    assert_eq!((d.element(&a).geom.x, d.element(&b).geom.x), (0.0, 300.0));
    assert!(d.board.undo());
    assert!(d.board.element(&b).is_none());
    assert!(d.board.element(&a).is_some());
}

#[test]
fn a_click_without_drag_moves_nothing() {
    let mut d = Desk::new();
    let a = d.create(sticky_at(0.0, 0.0));
    d.send(Input::down(100.0, 100.0));
    d.send(Input::moved(101.0, 101.0));
    let r = d.send(Input::up(101.0, 101.0));
    assert!(!r.edited);
    assert_eq!(d.take_transactions(), 0);
    assert_eq!(d.element(&a).geom.x, 0.0);
    assert_eq!(d.selection(), [a.as_str()]);
}

#[test]
fn marquee_selects_what_it_meets_but_frames_only_when_enclosed() {
    let mut d = Desk::new();
    let frame = d.create(NewElement::frame(
        "F",
        Geometry::new(0.0, 0.0, 1000.0, 1000.0),
    ));
    let a = d.create(sticky_at(100.0, 100.0).with_parent(&frame));
    let b = d.create(sticky_at(400.0, 100.0).with_parent(&frame));
    let c = d.create(sticky_at(100.0, 600.0).with_parent(&frame));
    // Starts inside the frame's empty area, touches a and b partly.
    d.drag((50.0, 50.0), (450.0, 150.0), Modifiers::NONE);
    let mut ab = vec![a.as_str(), b.as_str()];
    ab.sort();
    assert_eq!(d.selection(), ab);
    // Shift adds to the selection.
    d.drag((50.0, 650.0), (150.0, 700.0), Modifiers::SHIFT);
    let mut abc = vec![a.as_str(), b.as_str(), c.as_str()];
    abc.sort();
    assert_eq!(d.selection(), abc);
    // Escape during a marquee gives back the selection it started from.
    d.send(Input::down(-100.0, -100.0).with(Modifiers::SHIFT));
    d.send(Input::moved(1100.0, 1100.0).with(Modifiers::SHIFT));
    assert_eq!(d.tools.selection().len(), 4, "live: the frame too");
    d.send(Input::key(Key::Escape));
    d.send(Input::up(1100.0, 1100.0));
    assert_eq!(d.selection(), abc);
    // A marquee around everything takes the frame too.
    d.drag((-100.0, -100.0), (1100.0, 1100.0), Modifiers::NONE);
    assert_eq!(d.tools.selection().len(), 4);
    assert!(d.tools.selection().contains(&frame));
    assert_eq!(d.take_transactions(), 0);
}

#[test]
fn corner_handle_resizes_about_the_opposite_corner_in_one_transaction() {
    let mut d = Desk::new();
    let s = d.create(NewElement::shape(
        ShapeKind::Rect,
        Geometry::new(100.0, 100.0, 200.0, 100.0),
    ));
    d.click(200.0, 150.0);
    assert_eq!(d.selection(), [s.as_str()]);
    // Grab the bottom-right handle (a little off the exact corner).
    d.drag((302.0, 203.0), (402.0, 303.0), Modifiers::NONE);
    assert_eq!(d.take_transactions(), 1);
    let g = d.element(&s).geom;
    assert_eq!((g.x, g.y), (100.0, 100.0), "top-left stays");
    assert_eq!((g.w, g.h), (300.0, 200.0));
    // The top-left handle; the bottom-right corner stays put.
    d.drag((100.0, 100.0), (150.0, 0.0), Modifiers::NONE);
    let g = d.element(&s).geom;
    assert_eq!((g.x, g.y, g.x + g.w, g.y + g.h), (150.0, 0.0, 400.0, 300.0));
    assert!(d.board.undo());
    assert_eq!(d.element(&s).geom.w, 300.0);
}

#[test]
fn n_places_a_sticky_centred_at_the_click() {
    let mut d = Desk::new();
    d.press('n', Modifiers::NONE);
    assert_eq!(d.tools.tool(), ToolKind::Sticky);
    let r = d.click(500.0, 400.0);
    assert!(r.edited);
    let id = r.edit_text.clone().expect("the new note opens for typing");
    let el = d.element(&id);
    assert!(matches!(el.body, Body::Sticky { .. }));
    assert_eq!(el.geom, Geometry::new(400.0, 300.0, 200.0, 200.0));
    assert_eq!(d.selection(), [id.as_str()]);
    assert_eq!(d.tools.tool(), ToolKind::Select);
    assert_eq!(d.take_transactions(), 1);
}

#[test]
fn shape_tool_drags_out_a_box() {
    let mut d = Desk::new();
    d.tools.set_tool(ToolKind::Shape(ShapeKind::Ellipse));
    d.send(Input::down(300.0, 300.0));
    d.send(Input::moved(100.0, 250.0));
    assert_eq!(
        d.tools.preview(),
        Some(Preview::Create {
            kind: Kind::Shape,
            shape: ShapeKind::Ellipse,
            geom: Geometry::new(100.0, 250.0, 200.0, 50.0)
        })
    );
    assert!(!d.tools.preview().unwrap().items(&d.scene).is_empty());
    let r = d.send(Input::up(100.0, 250.0));
    let id = d.selection()[0].to_owned();
    assert!(r.edited && r.edit_text.is_none());
    let el = d.element(&id);
    assert_eq!(el.geom, Geometry::new(100.0, 250.0, 200.0, 50.0));
    assert!(matches!(
        el.body,
        Body::Shape {
            shape: ShapeKind::Ellipse,
            ..
        }
    ));
    // S brings back the last outline; Shift makes a square.
    d.press('s', Modifiers::NONE);
    assert_eq!(d.tools.tool(), ToolKind::Shape(ShapeKind::Ellipse));
    d.drag((0.0, 0.0), (-50.0, 120.0), Modifiers::SHIFT);
    let id = d.selection()[0].to_owned();
    assert_eq!(
        d.element(&id).geom,
        Geometry::new(-120.0, 0.0, 120.0, 120.0)
    );
    // A plain click places a default-sized shape.
    d.press('s', Modifiers::NONE);
    d.click(1000.0, 1000.0);
    let id = d.selection()[0].to_owned();
    assert_eq!(
        d.element(&id).geom,
        Geometry::new(950.0, 950.0, 100.0, 100.0)
    );
}

#[test]
fn text_tool_places_a_text_box_and_opens_it() {
    let mut d = Desk::new();
    d.press('T', Modifiers::SHIFT);
    assert_eq!(d.tools.tool(), ToolKind::Text);
    let r = d.click(10.0, 20.0);
    let id = r.edit_text.expect("opens for typing");
    let el = d.element(&id);
    assert!(matches!(el.body, Body::Text { .. }));
    assert_eq!((el.geom.x, el.geom.y + el.geom.h / 2.0), (10.0, 20.0));
}

#[test]
fn pen_stroke_becomes_one_ink_element() {
    let mut d = Desk::new();
    d.press('p', Modifiers::NONE);
    d.send(Input::down(10.0, 10.0));
    for i in 1..=20 {
        let x = 10.0 + f64::from(i) * 5.0;
        d.send(Input::moved(x, 10.0 + (x / 20.0).sin() * 30.0));
    }
    // A repeated position adds no point.
    d.send(Input::moved(110.0, 10.0 + (110.0f64 / 20.0).sin() * 30.0));
    assert!(matches!(d.tools.preview(), Some(Preview::Ink { ref points }) if points.len() == 21));
    assert_eq!(d.take_transactions(), 0);
    let r = d.send(Input::up(110.0, 10.0 + (110.0f64 / 20.0).sin() * 30.0));
    assert!(r.edited);
    assert_eq!(d.take_transactions(), 1);
    let els = d.board.elements();
    assert_eq!(els.len(), 1);
    let Body::Ink { points } = &els[0].body else {
        panic!("not ink: {:?}", els[0].body);
    };
    assert_eq!(points.len(), 21);
    // Stored relative to the stroke's box.
    let first = Vec2::new(
        els[0].geom.x + f64::from(points[0][0]),
        els[0].geom.y + f64::from(points[0][1]),
    );
    assert!(first.distance(Vec2::new(10.0, 10.0)) < 1e-3);
    // The pen stays on for the next stroke.
    assert_eq!(d.tools.tool(), ToolKind::Pen);
    assert!(d.board.undo());
    assert!(d.board.is_empty());
}

#[test]
fn connector_binds_to_the_nearest_anchors_or_stays_free() {
    let mut d = Desk::new();
    let a = d.create(NewElement::shape(
        ShapeKind::Rect,
        Geometry::new(0.0, 0.0, 100.0, 100.0),
    ));
    let b = d.create(NewElement::shape(
        ShapeKind::Rect,
        Geometry::new(400.0, 0.0, 100.0, 100.0),
    ));
    d.press('l', Modifiers::NONE);
    // Press near a's right side, release near b's left side.
    d.send(Input::down(90.0, 40.0));
    d.send(Input::moved(250.0, 45.0));
    assert_eq!(
        d.tools.preview(),
        Some(Preview::Connector {
            from: Vec2::new(100.0, 50.0),
            to: Vec2::new(250.0, 45.0)
        })
    );
    let r = d.send(Input::up(410.0, 60.0));
    assert!(r.edited);
    assert_eq!(d.take_transactions(), 1);
    let id = d.selection()[0].to_owned();
    let Body::Connector { from, to, .. } = d.element(&id).body else {
        panic!("not a connector");
    };
    assert_eq!(
        from,
        End {
            point: [100.0, 50.0],
            ..End::bound(&a, Anchor::Right)
        }
    );
    assert_eq!(
        to,
        End {
            point: [400.0, 50.0],
            ..End::bound(&b, Anchor::Left)
        }
    );
    assert_eq!(
        d.scene.connectors_bound_to(&a).collect::<Vec<_>>(),
        [id.as_str()]
    );

    // From a's bottom into empty space: the far end is free.
    d.press('l', Modifiers::NONE);
    d.drag((50.0, 95.0), (50.0, 300.0), Modifiers::NONE);
    let id2 = d.selection()[0].to_owned();
    let Body::Connector { from, to, .. } = d.element(&id2).body else {
        panic!("not a connector");
    };
    assert_eq!(
        from.binding.map(|b| (b.id, b.anchor)),
        Some((a.clone(), Anchor::Bottom))
    );
    assert_eq!(to, End::free(50.0, 300.0));

    // A click makes nothing.
    d.press('l', Modifiers::NONE);
    let before = d.board.len();
    d.click(50.0, 50.0);
    assert_eq!(d.board.len(), before);
    assert_eq!(d.take_transactions(), 1, "the second connector only");
}

#[test]
fn frame_tool_adopts_elements_wholly_inside() {
    let mut d = Desk::new();
    let inside = d.create(sticky_at(100.0, 100.0));
    let straddling = d.create(sticky_at(500.0, 100.0));
    let line = d.create(NewElement::connector(
        End::free(150.0, 400.0),
        End::free(300.0, 450.0),
    ));
    let before: Vec<String> = d.board.z_order();
    d.press('f', Modifiers::NONE);
    let r = d.drag((50.0, 50.0), (600.0, 500.0), Modifiers::NONE);
    assert!(r.edited);
    let new = d.new_ids(&before);
    assert_eq!(new.len(), 1);
    let frame = &new[0];
    let el = d.element(frame);
    assert!(matches!(el.body, Body::Frame { .. }));
    assert_eq!(el.geom, Geometry::new(50.0, 50.0, 550.0, 450.0));
    assert_eq!(d.element(&inside).parent.as_deref(), Some(frame.as_str()));
    assert_eq!(d.element(&line).parent.as_deref(), Some(frame.as_str()));
    assert_eq!(d.element(&straddling).parent, None);
    // Create and adopt in one transaction: one undo step.
    assert_eq!(d.take_transactions(), 1);
    let mut children: Vec<&str> = d.scene.children_of(frame).collect();
    children.sort();
    let mut expected = vec![inside.as_str(), line.as_str()];
    expected.sort();
    assert_eq!(children, expected);
    // Drawn as a group: frame, then its children, then what is above.
    let order: Vec<&str> = d.scene.iter().map(|e| e.id()).collect();
    assert_eq!(order[order.len() - 3], frame.as_str());
    // Moving the frame moves its children.
    d.click(55.0, 40.0);
    assert_eq!(d.selection(), [frame.as_str()]);
    d.drag((55.0, 40.0), (155.0, 40.0), Modifiers::NONE);
    assert_eq!(d.element(&inside).geom.x, 200.0);
    assert_eq!(d.element(&straddling).geom.x, 500.0);
}

#[test]
fn delete_and_backspace_remove_the_selection_as_one_step() {
    let mut d = Desk::new();
    let a = d.create(sticky_at(0.0, 0.0));
    let b = d.create(sticky_at(300.0, 0.0));
    d.press('a', Modifiers::CTRL);
    assert_eq!(d.tools.selection().len(), 2);
    let r = d.send(Input::key(Key::Delete));
    assert!(r.edited);
    assert_eq!(d.take_transactions(), 1);
    assert!(d.board.is_empty());
    assert!(d.selection().is_empty());
    assert!(d.press('z', Modifiers::CTRL).edited);
    assert_eq!(d.board.len(), 2);
    d.click(100.0, 100.0);
    d.send(Input::key(Key::Backspace));
    assert!(d.board.element(&a).is_none());
    assert!(d.board.element(&b).is_some());
    // Nothing selected: nothing happens.
    assert!(!d.send(Input::key(Key::Delete)).edited);
}

#[test]
fn undo_and_redo_shortcuts() {
    let mut d = Desk::new();
    d.press('n', Modifiers::NONE);
    d.click(0.0, 0.0);
    assert_eq!(d.board.len(), 1);
    assert!(d.press('z', Modifiers::CTRL).edited);
    assert!(d.board.is_empty());
    assert!(d.press('Z', Modifiers::CTRL_SHIFT).edited);
    assert_eq!(d.board.len(), 1);
    assert!(d.press('z', Modifiers::CTRL).edited);
    let cmd = Modifiers {
        meta: true,
        ..Modifiers::NONE
    };
    assert!(d.press('y', cmd).edited, "Command+Y redoes too");
    assert_eq!(d.board.len(), 1);
    assert!(
        !d.press('Z', Modifiers::CTRL_SHIFT).edited,
        "nothing left to redo"
    );
    // The undone sticky's selection was pruned when it left the scene.
    d.press('z', Modifiers::CTRL);
    assert!(d.selection().is_empty());
}

#[test]
fn shortcuts_switch_tools_and_ignore_command_chords() {
    let mut d = Desk::new();
    for (c, tool) in [
        ('n', ToolKind::Sticky),
        ('s', ToolKind::Shape(ShapeKind::Rect)),
        ('t', ToolKind::Text),
        ('p', ToolKind::Pen),
        ('l', ToolKind::Connector),
        ('f', ToolKind::Frame),
        ('v', ToolKind::Select),
    ] {
        d.press(c, Modifiers::NONE);
        assert_eq!(d.tools.tool(), tool, "{c}");
    }
    d.press('n', Modifiers::CTRL);
    assert_eq!(d.tools.tool(), ToolKind::Select);
    d.press('p', Modifiers::NONE);
    d.send(Input::key(Key::Escape));
    assert_eq!(d.tools.tool(), ToolKind::Select);
}

#[test]
fn escape_cancels_a_drag_without_editing() {
    let mut d = Desk::new();
    let a = d.create(sticky_at(0.0, 0.0));
    d.send(Input::down(100.0, 100.0));
    d.send(Input::moved(300.0, 300.0));
    assert!(d.tools.preview().is_some());
    // Delete is ignored mid-gesture.
    d.send(Input::key(Key::Delete));
    d.send(Input::key(Key::Escape));
    assert!(d.tools.is_idle());
    let r = d.send(Input::up(300.0, 300.0));
    assert!(!r.edited);
    assert_eq!(d.element(&a).geom.x, 0.0);
    assert_eq!(d.take_transactions(), 0);
    assert_eq!(d.selection(), [a.as_str()], "escape left the selection");
    d.send(Input::key(Key::Escape));
    assert!(d.selection().is_empty());
}

#[test]
fn double_click_opens_text_of_the_element_under_the_pointer() {
    let mut d = Desk::new();
    let a = d.create(sticky_at(0.0, 0.0));
    let ink = d.create(NewElement::ink(&[[500.0, 0.0], [600.0, 0.0]]));
    let r = d.send(Input::DoubleClick {
        pos: Vec2::new(50.0, 50.0),
        modifiers: Modifiers::NONE,
    });
    assert_eq!(r.edit_text, Some(a.clone()));
    let r = d.send(Input::DoubleClick {
        pos: Vec2::new(550.0, 0.0),
        modifiers: Modifiers::NONE,
    });
    assert_eq!(r.edit_text, None, "ink holds no text");
    assert_eq!(d.selection(), [ink.as_str()]);
    // Enter opens the single selected element that holds text.
    d.click(50.0, 50.0);
    assert_eq!(d.send(Input::key(Key::Enter)).edit_text, Some(a));
}

#[test]
fn moving_an_element_deleted_meanwhile_edits_nothing() {
    let mut d = Desk::new();
    let a = d.create(sticky_at(0.0, 0.0));
    d.send(Input::down(100.0, 100.0));
    d.send(Input::moved(300.0, 300.0));
    // A collaborator deletes it mid-drag.
    let mut other = Board::from_update_with_client_id(&d.board.encode(), 2).unwrap();
    other.delete(&[&a]).unwrap();
    d.board
        .apply_update(&other.encode_diff(&d.board.state_vector()))
        .unwrap();
    d.sync();
    d.take_transactions();
    let r = d.send(Input::up(300.0, 300.0));
    assert!(!r.edited);
    assert_eq!(d.take_transactions(), 0);
}

#[test]
fn rotate_handle_turns_the_selection_in_one_transaction() {
    let mut d = Desk::new();
    let id = d.create(NewElement::shape(
        ShapeKind::Rect,
        Geometry::new(0.0, 0.0, 100.0, 100.0),
    ));
    d.click(50.0, 50.0);
    assert!(d.tools.selection().contains(&id));
    // The handle sits above the top edge's middle.
    let handle_y = -ROTATE_HANDLE_OFFSET_PX;
    d.send(Input::down(50.0, handle_y));
    d.send(Input::moved(150.0, 50.0));
    assert!(matches!(d.tools.preview(), Some(Preview::Resize { .. })));
    d.send(Input::up(200.0, 50.0));
    assert_eq!(d.take_transactions(), 1);
    let rot = d.board.element(&id).unwrap().geom.rot;
    assert!((rot - 90.0).abs() < 1e-6, "{rot}");
    // One undo puts it back.
    d.send(Input::key(Key::Char('z')).with(Modifiers::CTRL));
    assert_eq!(d.board.element(&id).unwrap().geom.rot, 0.0);
}

/// A grid at the origin: stages "A" and "B", one cards lane "Do" and a
/// `line` lane below it. Cell (Do, A) spans x 220..540, y 64..304; (Do, B)
/// spans x 540..860.
fn grid(d: &mut Desk) -> touchpoint_crdt::CreatedGrid {
    use touchpoint_crdt::{LaneRole, NewGrid, NewLane, NewStage};
    let mut g = NewGrid::new("Map", 0.0, 0.0);
    g.stages = vec![NewStage::new("A"), NewStage::new("B")];
    g.lanes = vec![
        NewLane::new("Do", LaneRole::Cards),
        NewLane::new("Line", LaneRole::Line),
    ];
    let c = d.board.create_grid(g).unwrap();
    d.sync();
    d.transactions = 0;
    c
}

#[test]
fn dragging_a_sticky_into_a_cell_makes_it_a_member_and_out_again_frees_it() {
    use touchpoint_crdt::CellRef;
    let mut d = Desk::new();
    let g = grid(&mut d);
    let s = d.create(sticky_at(1000.0, 0.0));
    // Drop the sticky's centre (1100, 100) into cell (Do, B).
    d.drag((1100.0, 100.0), (700.0, 180.0), Modifiers::default());
    let cell = CellRef {
        grid: g.id.clone(),
        lane: g.lanes[0].clone(),
        stage: g.stages[1].clone(),
    };
    assert_eq!(d.board.cell_of(&s), Some(cell.clone()));
    // The layout put it in the cell's first slot, not where it was dropped.
    let geom = d.element(&s).geom;
    assert_eq!((geom.x, geom.y), (540.0 + 16.0, 64.0 + 16.0));
    assert!(d.take_transactions() >= 1);
    // One undo step takes back both the move and the membership.
    d.press('z', Modifiers::CTRL);
    assert_eq!(d.board.cell_of(&s), None);
    assert_eq!(d.element(&s).geom.x, 1000.0);
    d.press('z', Modifiers::CTRL_SHIFT);
    assert_eq!(d.board.cell_of(&s), Some(cell));
    // Dragged out below the grid, it is free again and stays where dropped.
    d.drag((656.0, 180.0), (656.0, 900.0), Modifiers::default());
    assert_eq!(d.board.cell_of(&s), None);
    assert_eq!(d.element(&s).geom.y, 80.0 + 720.0);
    // A drag over nothing but the empty canvas is one transaction, as before.
    d.take_transactions();
    d.drag((656.0, 900.0), (1656.0, 900.0), Modifiers::default());
    assert_eq!(d.take_transactions(), 1);
}

#[test]
fn the_sticky_tool_inside_a_cell_creates_the_sticky_in_it() {
    let mut d = Desk::new();
    let g = grid(&mut d);
    d.press('n', Modifiers::default());
    let before = d.board.z_order();
    d.click(300.0, 200.0);
    let new = d.new_ids(&before);
    assert_eq!(new.len(), 1);
    let cell = d.board.cell_of(&new[0]).unwrap();
    assert_eq!(
        (cell.lane, cell.stage),
        (g.lanes[0].clone(), g.stages[0].clone())
    );
    // Created in its cell in one undo step.
    d.press('z', Modifiers::CTRL);
    assert!(d.board.element(&new[0]).is_none());
    assert!(d.board.element(&g.id).is_some());
    // Outside every grid (and on a line lane) it is a free sticky.
    d.press('n', Modifiers::default());
    let before = d.board.z_order();
    d.click(300.0, 320.0);
    let new = d.new_ids(&before);
    assert_eq!(d.board.cell_of(&new[0]), None);
}

#[test]
fn a_grid_has_no_resize_or_rotate_handles() {
    let mut d = Desk::new();
    let g = grid(&mut d);
    d.click(100.0, 30.0);
    assert_eq!(d.selection(), [g.id.as_str()]);
    assert!(!select::resizable(d.scene.get(&g.id).unwrap()));
    // Where a handle would be, a press moves the grid instead.
    let before = d.element(&g.id).geom;
    d.drag((0.0, 0.0), (50.0, 40.0), Modifiers::default());
    let after = d.element(&g.id).geom;
    assert_eq!((after.x, after.y), (before.x + 50.0, before.y + 40.0));
    assert_eq!(
        (after.w, after.h, after.rot),
        (before.w, before.h, before.rot)
    );
}

#[test]
fn dragging_a_connector_end_rebinds_it_or_frees_it() {
    let mut d = Desk::new();
    let a = d.create(NewElement::sticky(0.0, 0.0, "a"));
    let b = d.create(NewElement::sticky(400.0, 0.0, "b"));
    let c = d.create(NewElement::sticky(0.0, 400.0, "c"));
    let conn = d.create(NewElement::connector(
        End::bound(&a, Anchor::Right),
        End::bound(&b, Anchor::Left),
    ));
    d.tools.set_selection([conn.clone()]);
    // Drag the "to" end (at b's left anchor, 400,100) onto c's top.
    d.send(Input::down(400.0, 100.0));
    d.send(Input::moved(200.0, 300.0));
    assert!(matches!(d.tools.preview(), Some(Preview::Connector { .. })));
    d.send(Input::up(100.0, 410.0));
    assert_eq!(d.take_transactions(), 1);
    let el = d.board.element(&conn).unwrap();
    let Body::Connector { from, to, .. } = &el.body else {
        panic!("not a connector")
    };
    assert_eq!(from.binding.as_ref().unwrap().id, a, "the other end stays");
    assert_eq!(to.binding.as_ref().unwrap().id, c);
    assert_eq!(to.binding.as_ref().unwrap().anchor, Anchor::Top);
    // Now drag it to empty canvas: it comes free there.
    d.send(Input::down(100.0, 400.0));
    d.send(Input::up(900.0, 900.0));
    let el = d.board.element(&conn).unwrap();
    let Body::Connector { to, .. } = &el.body else {
        panic!("not a connector")
    };
    assert!(to.binding.is_none());
    assert_eq!(to.point, [900.0, 900.0]);
    // One undo step per drag.
    d.send(Input::key(Key::Char('z')).with(Modifiers::CTRL));
    let el = d.board.element(&conn).unwrap();
    let Body::Connector { to, .. } = &el.body else {
        panic!("not a connector")
    };
    assert_eq!(to.binding.as_ref().unwrap().id, c);
}
