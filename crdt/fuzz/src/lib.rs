//! The bodies of the `touchpoint-crdt` fuzz targets, as plain functions.
//!
//! Each `fuzz_targets/<name>.rs` binary calls one of these with libFuzzer's
//! input, and `crdt/tests/fuzz_corpus.rs` includes this file (`#[path]`) to
//! replay the committed corpus and the regressions through the very same
//! code under `cargo test`. A target "finds" something by panicking (or by
//! crashing the process: stack overflow, out of memory); every check below
//! is an `assert!` that states an invariant the crate promises.
//!
//! Dependencies: `touchpoint-crdt`, `yrs` (the types the protocol exposes),
//! `arbitrary` (structured inputs) and `serde_json` (an independent JSON
//! parser, standing in for JavaScript's `JSON.parse`). No I/O, no clock:
//! time is a fixed base instant plus offsets taken from the input.

use std::collections::HashMap;
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use touchpoint_crdt::protocol::{
    ErrorCode, Frame, FrameDecoder, FrameError, Hello, LENGTH_PREFIX_LEN, Limits, MAX_CLIENT_ID,
    MemberEvent, Refusal, Role, Room, Rooms, ServerMember, decode_presence_datagram,
    encode_presence_datagram,
};
use touchpoint_crdt::wire_check::check_update_v1;
use touchpoint_crdt::{Anchor, Board, End, Geometry, NewElement, ShapeKind, file};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::{ClientID, StateVector};

/// A target's body: one input, panics on a finding.
pub type Target = fn(&[u8]);

/// Every target, by name, for the replay test.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame_decoder", frame_decoder),
    ("awareness", awareness),
    ("apply_update", apply_update),
    ("tpboard_load", tpboard_load),
    ("server_member", server_member),
];

/// Panics that the crate catches on purpose (yrs asserting on malformed
/// input) must not count as findings: libFuzzer's hook aborts on every
/// panic, even a caught one. The crate's quiet hook swallows only those and
/// hands every other panic to the previous hook (libFuzzer's abort, or the
/// test harness).
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(touchpoint_crdt::panics::quiet_caught_engine_panics);
}

// ---------------------------------------------------------------- frames

/// Limits small enough that the fuzzer reaches every "too long" branch.
fn small_limits() -> Limits {
    Limits::DEFAULT
        .with_max_frame_len(64)
        .with_max_room_len(8)
        .with_max_token_len(16)
        .with_max_name_len(8)
        .with_max_reason_len(16)
}

/// Decodes `stream` as a whole with [`Frame::decode`]: the frames, the error
/// that ended it (a truncated last frame is not one) and the bytes used.
fn decode_whole(stream: &[u8], limits: &Limits) -> (Vec<Frame>, Option<FrameError>, usize) {
    let mut frames = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        match Frame::decode(&stream[pos..], limits) {
            Ok((frame, used)) => {
                assert!(used > LENGTH_PREFIX_LEN, "a frame used {used} bytes");
                frames.push(frame);
                pos += used;
            }
            Err(FrameError::Truncated { what: "frame" }) => break,
            Err(e) => return (frames, Some(e), pos),
        }
    }
    (frames, None, pos)
}

/// A decoded frame encodes to bytes that decode to the same frame.
fn assert_frame_round_trips(frame: &Frame, limits: &Limits) {
    let bytes = frame.encode();
    match Frame::decode(&bytes, limits) {
        Ok((again, used)) => {
            assert_eq!(&again, frame, "re-encoded frame decodes differently");
            assert_eq!(used, bytes.len(), "re-encoded frame has trailing bytes");
        }
        Err(e) => panic!("re-encoded {} frame does not decode: {e}", frame.kind()),
    }
}

/// Feeds one chunk and takes out every complete frame.
fn feed_and_drain(
    decoder: &mut FrameDecoder,
    chunk: &[u8],
    frames: &mut Vec<Frame>,
) -> Result<(), FrameError> {
    decoder.feed(chunk)?;
    while let Some(frame) = decoder.next_frame()? {
        frames.push(frame);
    }
    Ok(())
}

/// Arbitrary bytes, fed in arbitrary chunks to a [`FrameDecoder`]. Input:
/// `[flags][n][n chunk lengths][stream]`; bit 0 of `flags` picks small
/// limits. Checks: no panic; the chunked decoder yields exactly what
/// decoding the whole stream at once does (frames and error); it buffers no
/// more than one frame; every frame round-trips through `encode`; a stream
/// that parses as a presence datagram round-trips too.
pub fn frame_decoder(data: &[u8]) {
    setup();
    let [flags, n, rest @ ..] = data else {
        return;
    };
    let limits = if flags & 1 == 1 {
        small_limits()
    } else {
        Limits::DEFAULT
    };
    let n = usize::from(n % 16).min(rest.len());
    let (lens, stream) = rest.split_at(n);

    let mut decoder = FrameDecoder::new(limits);
    let mut frames = Vec::new();
    let mut error = None;
    let mut pos = 0;
    let mut i = 0;
    while pos < stream.len() && error.is_none() {
        let len = lens
            .get(i % lens.len().max(1))
            .map_or(stream.len(), |&l| usize::from(l));
        i += 1;
        if len == 0 {
            // An empty chunk changes nothing; then go on one byte at a time.
            error = feed_and_drain(&mut decoder, &[], &mut frames).err();
        }
        let end = (pos + len.max(1)).min(stream.len());
        if error.is_none() {
            error = feed_and_drain(&mut decoder, &stream[pos..end], &mut frames).err();
        }
        pos = end;
        assert!(
            decoder.buffered_len() <= LENGTH_PREFIX_LEN + limits.max_frame_len as usize,
            "decoder holds {} bytes after yielding every complete frame",
            decoder.buffered_len()
        );
    }

    let (whole_frames, whole_error, used) = decode_whole(stream, &limits);
    assert_eq!(frames, whole_frames, "chunked and whole decoding disagree");
    assert_eq!(error, whole_error, "chunked and whole decoding fail apart");
    if error.is_some() {
        assert!(decoder.is_failed(), "an error must spend the decoder");
        assert_eq!(decoder.feed(b"\0\0\0\x01\x04"), Ok(()));
        assert_eq!(decoder.next_frame(), Ok(None), "a spent decoder yields");
        assert_eq!(decoder.finish(), Ok(()));
    } else {
        assert_eq!(
            decoder.finish().is_ok(),
            used == stream.len(),
            "finish() disagrees with the bytes left over"
        );
    }
    for frame in &frames {
        assert_frame_round_trips(frame, &limits);
    }

    if let Ok((channel, update)) = decode_presence_datagram(stream, &limits) {
        assert_states_are_json(&update);
        let bytes = encode_presence_datagram(channel, &update);
        match decode_presence_datagram(&bytes, &limits) {
            Ok(again) => assert_eq!(again, (channel, update), "datagram round trip"),
            Err(e) => panic!("re-encoded datagram does not decode: {e}"),
        }
    }
}

// ------------------------------------------------------------- awareness

fn write_var_uint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn write_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_var_uint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `payload` (an awareness update) as a length-prefixed YJS frame.
fn awareness_frame(payload: &[u8]) -> Vec<u8> {
    let mut body = vec![4, 1]; // frame type YJS, y-protocols awareness
    write_var_bytes(&mut body, payload);
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// `payload` (an awareness update) as a presence datagram on `channel`.
fn awareness_datagram(channel: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_var_uint(&mut out, channel);
    out.push(1);
    write_var_bytes(&mut out, payload);
    out
}

/// Whether JavaScript's `JSON.parse` accepts `json`, as far as serde_json
/// can tell: serde_json refuses a few things JavaScript takes (lone UTF-16
/// surrogates, numbers past f64, nesting past 128), which count as accepted.
fn javascript_parses(json: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(_) => true,
        Err(e) => {
            let msg = e.to_string();
            msg.contains("surrogate") || msg.contains("out of range") || msg.contains("recursion")
        }
    }
}

/// The codec's promise: every presence state it lets through is JSON, by
/// yrs' parser (what it checks) and by an independent strict one (what a
/// JavaScript peer will run on it).
fn assert_states_are_json(update: &AwarenessUpdate) {
    for (client, entry) in &update.clients {
        assert!(
            client.get() <= MAX_CLIENT_ID,
            "client id {client} over 2^53"
        );
        assert!(
            yrs::Any::from_json(&entry.json).is_ok(),
            "state of {client} is not JSON to yrs: {:?}",
            entry.json
        );
        assert!(
            javascript_parses(&entry.json),
            "state of {client} passed the codec but JSON.parse would throw: {:?}",
            entry.json
        );
    }
}

/// A JSON value to build presence states from.
#[derive(Debug, Arbitrary)]
enum Json {
    Null,
    Bool(bool),
    Number(i32),
    Float(f64),
    Text(String),
    List(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn to_value(&self, depth: usize) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::from(*n),
            Json::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::Text(s) => Value::String(s.clone()),
            Json::List(items) if depth < 8 => {
                Value::Array(items.iter().map(|j| j.to_value(depth + 1)).collect())
            }
            Json::Object(fields) if depth < 8 => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value(depth + 1)))
                    .collect(),
            ),
            Json::List(_) | Json::Object(_) => Value::Null,
        }
    }
}

/// A presence state: generated JSON, or any text at all.
#[derive(Debug, Arbitrary)]
enum State {
    Json(Json),
    Raw(String),
}

/// Awareness messages, through a YJS frame and a presence datagram. Input
/// `[mode][rest]`: mode even, `rest` is the awareness update's bytes; odd,
/// `rest` drives `arbitrary` to build entries (client, clock, state).
/// Checks: frame and datagram agree; every decoded state is JSON (yrs and
/// serde_json); decoded entries are the input's, last one per client wins;
/// entries round-trip.
pub fn awareness(data: &[u8]) {
    setup();
    let [mode, rest @ ..] = data else {
        return;
    };
    let (payload, expected) = if mode & 1 == 0 {
        (rest.to_vec(), None)
    } else {
        let mut u = Unstructured::new(rest);
        let Ok(entries) = Vec::<(u64, u32, State)>::arbitrary(&mut u) else {
            return;
        };
        let mut payload = Vec::new();
        write_var_uint(&mut payload, entries.len() as u64);
        let mut expected: Option<HashMap<u64, (u32, String)>> = Some(HashMap::new());
        for (client, clock, state) in entries {
            // Mostly valid ids, sometimes just past the limit.
            let client = client % (MAX_CLIENT_ID + 2);
            let json = match state {
                State::Json(j) => j.to_value(0).to_string(),
                State::Raw(s) => s,
            };
            write_var_uint(&mut payload, client);
            write_var_uint(&mut payload, u64::from(clock));
            write_var_bytes(&mut payload, json.as_bytes());
            let valid = client <= MAX_CLIENT_ID && yrs::Any::from_json(&json).is_ok();
            expected = expected.filter(|_| valid).map(|mut map| {
                map.insert(client, (clock, json));
                map
            });
        }
        (payload, Some(expected))
    };

    let limits = Limits::DEFAULT;
    let from_frame = match Frame::decode(&awareness_frame(&payload), &limits) {
        Ok((Frame::Awareness(update), _)) => Some(update),
        Ok((other, _)) => panic!("an awareness frame decoded as {}", other.kind()),
        Err(_) => None,
    };
    let channel = u64::from(*mode >> 1);
    let from_datagram =
        match decode_presence_datagram(&awareness_datagram(channel, &payload), &limits) {
            Ok((got, update)) => {
                assert_eq!(got, channel, "datagram channel");
                Some(update)
            }
            Err(_) => None,
        };
    assert_eq!(from_frame, from_datagram, "frame and datagram disagree");

    if let Some(expected) = expected {
        let got = from_frame.as_ref().map(|u| {
            u.clients
                .iter()
                .map(|(c, e)| (c.get(), (e.clock, e.json.to_string())))
                .collect::<HashMap<_, _>>()
        });
        assert_eq!(got, expected, "decoded entries differ from those sent");
    }
    if let Some(update) = from_frame {
        assert_states_are_json(&update);
        let frame = Frame::Awareness(update);
        assert_frame_round_trips(&frame, &limits);
    }
}

// ---------------------------------------------------------------- boards

/// A small board with one of each kind of element, as an update (built once).
fn prepared_board() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let mut b = Board::with_client_id(7);
        let built = (|| -> Result<(), touchpoint_crdt::EditError> {
            b.set_title("Fuzz me")?;
            let f = b.create(NewElement::frame(
                "Stage",
                Geometry::new(0.0, 0.0, 900.0, 600.0),
            ))?;
            let s =
                b.create(NewElement::sticky(10.0, 10.0, "Waiting 🕒 > 20 min").with_parent(&f))?;
            let r = b.create(
                NewElement::shape(ShapeKind::Ellipse, Geometry::new(300.0, 0.0, 100.0, 80.0))
                    .with_text("Call"),
            )?;
            b.create(NewElement::connector(
                End::bound(&s, Anchor::Right),
                End::bound(&r, Anchor::Left),
            ))?;
            Ok(())
        })();
        assert!(built.is_ok(), "preparing the board failed: {built:?}");
        b.encode()
    })
}

/// Every read the app and the server make of a board. Must not panic.
fn read_everything(board: &Board) -> String {
    let elements = board.elements();
    for el in &elements {
        let _ = board.element(&el.id);
        let _ = board.connector_points(el);
    }
    let _ = board.snapshot();
    let _ = board.z_order();
    let _ = board.len();
    let _ = board.looks_like_board();
    for id in board.grid_ids() {
        let _ = board.grid_view(&id);
    }
    let _ = board.grids_unsettled();
    let _ = board.timer();
    let _ = board.vote_sessions();
    let meta = board.meta();
    let mut shown: Vec<String> = elements.iter().map(|e| format!("{e:?}")).collect();
    shown.sort();
    format!("{meta:?} {shown:?}")
}

/// Saving a board and opening what was saved gives the same board.
fn assert_reloads(board: &Board, shown: &str) {
    let bytes = board.encode();
    assert!(
        check_update_v1(&bytes).is_ok(),
        "encode() wrote bytes wire_check refuses"
    );
    match Board::from_update(&bytes) {
        Ok(again) => {
            if !board.has_missing_updates() {
                assert_eq!(
                    again.state_vector(),
                    board.state_vector(),
                    "reloaded state vector"
                );
                assert_eq!(
                    read_everything(&again),
                    shown,
                    "reloaded board reads differently"
                );
            }
        }
        Err(e) => panic!("encode() of a board does not load: {e}"),
    }
}

/// `wire_check::check_update_v1` and `Board::apply_update` on a small
/// prepared board. Checks: bytes wire_check refuses are refused by
/// apply_update as undecodable; no panic; after a successful apply, every
/// read works, applying again changes nothing, and `encode()` reloads to the
/// same board. The same bytes go through `apply_update_in_order` too.
pub fn apply_update(data: &[u8]) {
    setup();
    let wire_ok = check_update_v1(data).is_ok();
    let Ok(mut board) = Board::from_update_with_client_id(prepared_board(), 1) else {
        panic!("the prepared board does not load");
    };
    let result = board.apply_update(data);
    if !wire_ok {
        assert!(
            matches!(result, Err(touchpoint_crdt::UpdateError::Decode(_))),
            "wire_check refused the update but apply_update said {result:?}"
        );
    }
    match &result {
        Ok(()) => {
            let shown = read_everything(&board);
            assert_reloads(&board, &shown);
            let sv = board.state_vector();
            let again = board.apply_update(data);
            assert!(again.is_ok(), "applying an applied update again: {again:?}");
            assert_eq!(board.state_vector(), sv, "applying twice changed the board");
        }
        Err(e) if !e.leaves_document_suspect() => {
            // Refused before anything was integrated: the board is as it was.
            let Ok(fresh) = Board::from_update_with_client_id(prepared_board(), 1) else {
                panic!("the prepared board does not load");
            };
            assert_eq!(
                board.state_vector(),
                fresh.state_vector(),
                "a refused update ({e}) changed the board"
            );
            let _ = read_everything(&board);
        }
        Err(_) => {}
    }

    let Ok(mut in_order) = Board::from_update_with_client_id(prepared_board(), 1) else {
        panic!("the prepared board does not load");
    };
    match in_order.apply_update_in_order(data) {
        Ok(()) => {
            let shown = read_everything(&in_order);
            assert_reloads(&in_order, &shown);
        }
        Err(e) if !e.leaves_document_suspect() => {
            let _ = read_everything(&in_order);
        }
        Err(_) => {}
    }
}

/// `file::load_bytes`. Checks: no panic; a board that loads reads without
/// panicking, and saving it (`encode()`) gives bytes that load again to the
/// same board.
pub fn tpboard_load(data: &[u8]) {
    setup();
    let Ok(board) = file::load_bytes(data) else {
        return;
    };
    let shown = read_everything(&board);
    let bytes = board.encode();
    match file::load_bytes(&bytes) {
        Ok(again) => {
            assert_eq!(
                read_everything(&again),
                shown,
                "saved board reads differently"
            );
            assert_eq!(again.state_vector(), board.state_vector());
        }
        Err(e) => panic!("a board that loaded does not load after saving: {e}"),
    }
}

// ---------------------------------------------------------------- server

const ROOM: &str = "room";

/// Admits hellos for [`ROOM`] into one empty room: token "editor" or
/// "viewer" gives that role, anything else is unauthorized.
struct OneRoom {
    room: Room,
    admitted: usize,
}

impl Rooms for OneRoom {
    fn admit(&mut self, _member: u64, hello: &Hello) -> Result<Role, Refusal> {
        if hello.room != ROOM {
            return Err(Refusal::new(ErrorCode::Unauthorized, "no such room"));
        }
        let role = match hello.token.as_str() {
            "editor" => Role::Editor,
            "viewer" => Role::Viewer,
            _ => return Err(Refusal::new(ErrorCode::Unauthorized, "bad token")),
        };
        if self.admitted >= 3 {
            return Err(Refusal::new(ErrorCode::RoomFull, "the room is full"));
        }
        self.admitted += 1;
        Ok(role)
    }

    fn room_mut(&mut self, name: &str) -> Option<&mut Room> {
        (name == ROOM).then_some(&mut self.room)
    }
}

/// What one step sends a member.
#[derive(Debug, Arbitrary)]
enum Op {
    /// Raw bytes on the stream.
    Bytes(Vec<u8>),
    /// A hello: right or wrong version, room and token.
    Hello {
        version_ok: bool,
        room_ok: bool,
        token: u8,
        name: String,
    },
    /// An edit made on the member's own client board, sent as an update.
    Edit {
        text: String,
        x: i16,
    },
    /// Arbitrary bytes as a sync update (or step 2) frame.
    Update {
        step2: bool,
        update: Vec<u8>,
    },
    /// A state vector (sync step 1).
    Step1(Vec<(u64, u32)>),
    /// An awareness frame, or a datagram, with these entries.
    Presence {
        datagram: bool,
        channel_ok: bool,
        entries: Vec<(u8, u32, bool)>,
    },
    /// Raw bytes as a datagram.
    Datagram(Vec<u8>),
    QueryAwareness,
    /// The client's error frame.
    ClientError(u16),
    /// Time passes, in milliseconds; then timeouts are handled.
    Wait(u16),
    ConnectionLost,
}

#[derive(Debug, Arbitrary)]
struct Step {
    member: u8,
    op: Op,
}

#[derive(Debug, Arbitrary)]
struct Script {
    /// Small limits: rate, document size, presence ids.
    tight: bool,
    steps: Vec<Step>,
}

struct Client {
    member: ServerMember,
    board: Board,
    closed: bool,
    editor: bool,
}

fn frame_bytes(frame: &Frame) -> Vec<u8> {
    frame.encode()
}

fn presence_update(client: u64, entries: &[(u8, u32, bool)]) -> AwarenessUpdate {
    AwarenessUpdate {
        clients: entries
            .iter()
            .map(|&(id, clock, removed)| {
                // Mostly the member's own ids, sometimes another member's.
                let id = client * 8 + u64::from(id % 10);
                let json: Arc<str> = if removed {
                    Arc::from("null")
                } else {
                    Arc::from(format!("{{\"cursor\":[{clock},{id}]}}").as_str())
                };
                (ClientID::new(id), AwarenessUpdateEntry { clock, json })
            })
            .collect(),
    }
}

/// A stateful run of up to four [`ServerMember`]s in one room, driven by
/// an `arbitrary` script of stream bytes, well-formed frames, datagrams,
/// time and disconnects. Checks: no panic; nothing comes out of a member
/// after its `Close`; document updates come only from editors; the room's
/// document equals one that applied exactly the relayed updates in order;
/// every relayed and stored presence state is JSON.
pub fn server_member(data: &[u8]) {
    setup();
    let Ok(script) = Script::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let limits = if script.tight {
        Limits::DEFAULT
            .with_message_rate(20, 10)
            .with_max_doc_len(4096)
            .with_max_presence_clients(2)
            .with_hello_timeout(Duration::from_millis(500))
            .with_max_frame_len(8192)
    } else {
        Limits::DEFAULT
    };
    let start = Instant::now();
    let mut now = start;
    let mut rooms = OneRoom {
        room: Room::empty(),
        admitted: 0,
    };
    // What the room's document must be: the empty room plus every relayed
    // update, in the order relayed.
    let Ok(mut mirror) = Board::from_update(touchpoint_crdt::protocol::EMPTY_UPDATE) else {
        panic!("the empty update does not load");
    };
    let mut clients: Vec<Client> = (0..4u64)
        .map(|i| Client {
            member: ServerMember::new(i, 100 + i, now, limits),
            board: Board::with_client_id(1000 + i),
            closed: false,
            editor: false,
        })
        .collect();

    for step in script.steps.into_iter().take(64) {
        let i = usize::from(step.member % 4);
        let c = &mut clients[i];
        let id = i as u64;
        match step.op {
            Op::Bytes(bytes) => c.member.receive(&bytes, now, &mut rooms),
            Op::Hello {
                version_ok,
                room_ok,
                token,
                name,
            } => {
                let mut hello = Hello::new(
                    if room_ok { ROOM } else { "elsewhere" },
                    match token % 3 {
                        0 => "editor",
                        1 => "viewer",
                        _ => "forged",
                    },
                    name,
                );
                if !version_ok {
                    hello.version = hello.version.wrapping_add(1);
                }
                c.member
                    .receive(&frame_bytes(&Frame::Hello(hello)), now, &mut rooms);
            }
            Op::Edit { text, x } => {
                let before = c.board.state_vector();
                if c.board
                    .create(NewElement::sticky(f64::from(x), 0.0, &text))
                    .is_ok()
                {
                    let update = c.board.encode_diff(&before);
                    let frame = Frame::Sync(SyncMessage::Update(update));
                    c.member.receive(&frame_bytes(&frame), now, &mut rooms);
                }
            }
            Op::Update { step2, update } => {
                let msg = if step2 {
                    SyncMessage::SyncStep2(update)
                } else {
                    SyncMessage::Update(update)
                };
                c.member
                    .receive(&frame_bytes(&Frame::Sync(msg)), now, &mut rooms);
            }
            Op::Step1(entries) => {
                let sv: StateVector = entries
                    .into_iter()
                    .map(|(client, clock)| (ClientID::new(client % (MAX_CLIENT_ID + 1)), clock))
                    .collect();
                let frame = Frame::Sync(SyncMessage::SyncStep1(sv));
                c.member.receive(&frame_bytes(&frame), now, &mut rooms);
            }
            Op::Presence {
                datagram,
                channel_ok,
                entries,
            } => {
                let update = presence_update(id, &entries);
                if datagram {
                    let channel = if channel_ok { 100 + id } else { 7 };
                    let bytes = encode_presence_datagram(channel, &update);
                    c.member.handle_datagram(&bytes, now, &mut rooms);
                } else {
                    let frame = Frame::Awareness(update);
                    c.member.receive(&frame_bytes(&frame), now, &mut rooms);
                }
            }
            Op::Datagram(bytes) => c.member.handle_datagram(&bytes, now, &mut rooms),
            Op::QueryAwareness => {
                c.member
                    .receive(&frame_bytes(&Frame::AwarenessQuery), now, &mut rooms);
            }
            Op::ClientError(code) => {
                let frame = Frame::Error(Refusal::new(ErrorCode::from_code(code), "bye"));
                c.member.receive(&frame_bytes(&frame), now, &mut rooms);
            }
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms));
                for c in &mut clients {
                    c.member.handle_timeout(now);
                }
            }
            Op::ConnectionLost => c.member.connection_lost(&mut rooms),
        }

        for c in &mut clients {
            if c.member.role() == Some(Role::Editor) {
                c.editor = true;
            }
            while let Some(event) = c.member.poll_event() {
                assert!(
                    !c.closed,
                    "member {} produced {event:?} after closing",
                    c.member.id()
                );
                match event {
                    MemberEvent::Close => {
                        c.closed = true;
                        assert!(c.member.is_closed(), "Close from an open member");
                    }
                    MemberEvent::DocUpdate(update) => {
                        assert!(c.editor, "a document update from a non-editor");
                        let applied = mirror.apply_update(&update);
                        assert!(
                            applied.is_ok(),
                            "a relayed update does not apply: {applied:?}"
                        );
                    }
                    MemberEvent::Presence(update) => assert_states_are_json(&update),
                    MemberEvent::Send(frame) => {
                        assert_frame_round_trips(&frame, &Limits::DEFAULT);
                        if let Frame::Awareness(update) = &frame {
                            assert_states_are_json(update);
                        }
                    }
                }
            }
        }
        assert_states_are_json(&rooms.room.presence());
        assert_eq!(
            rooms.room.board().state_vector(),
            mirror.state_vector(),
            "the room's document is not the relayed updates"
        );
    }
    let _ = read_everything(rooms.room.board());
}
