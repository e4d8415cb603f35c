//! The sync protocol without a network: the frame codec (round trips,
//! streaming in arbitrary chunks, truncated, oversized and garbage input), its
//! agreement with yrs' y-protocols encoder, and client sessions and server
//! members wired together in memory.

#![allow(clippy::unwrap_used)] // tests: a panic is a failed test

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use touchpoint_crdt::protocol::{
    ClientEvent, ClientState, ErrorCode, Frame, FrameDecoder, FrameError, Hello, Limits,
    MAX_CLIENT_ID, MemberEvent, PROTOCOL_VERSION, Refusal, Role, Room, Rooms, ServerMember,
    Welcome, decode_presence_datagram, encode_presence_datagram,
};
use touchpoint_crdt::{Board, Geometry, NewElement, ShapeKind};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Text, Transact};

// ---------------------------------------------------------------------------
// Strategies

fn arb_text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("(.|[é🌍\\n]){{0,{max}}}")).unwrap()
}

fn arb_state_vector() -> impl Strategy<Value = StateVector> {
    proptest::collection::btree_map(0..=MAX_CLIENT_ID, any::<u32>(), 0..6).prop_map(|m| {
        m.into_iter()
            .map(|(client, clock)| (ClientID::new(client), clock))
            .collect()
    })
}

const JSON_STATES: [&str; 6] = [
    "null",
    "{}",
    r##"{"user":{"name":"Ana","color":"#30bced"}}"##,
    r#"{"cursor":[12.5,-3],"drag":{"ids":["a","b"],"dx":4}}"#,
    "[1,2,3]",
    r#""just a string""#,
];

fn arb_awareness() -> impl Strategy<Value = AwarenessUpdate> {
    proptest::collection::btree_map(
        0..=MAX_CLIENT_ID,
        (any::<u32>(), 0..JSON_STATES.len()),
        0..5,
    )
    .prop_map(|m| AwarenessUpdate {
        clients: m
            .into_iter()
            .map(|(client, (clock, json))| {
                (
                    ClientID::new(client),
                    AwarenessUpdateEntry {
                        clock,
                        json: Arc::from(JSON_STATES[json]),
                    },
                )
            })
            .collect(),
    })
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..200);
    prop_oneof![
        (any::<u32>(), arb_text(40), arb_text(80), arb_text(30)).prop_map(
            |(version, room, token, client_name)| Frame::Hello(Hello {
                version,
                room,
                token,
                client_name,
            })
        ),
        (any::<u32>(), any::<bool>(), any::<u64>()).prop_map(|(version, editor, channel)| {
            Frame::Welcome(Welcome {
                version,
                role: if editor { Role::Editor } else { Role::Viewer },
                channel,
            })
        }),
        (any::<u16>(), arb_text(100)).prop_map(|(code, reason)| Frame::Error(Refusal {
            code: ErrorCode::from_code(code),
            reason,
        })),
        arb_state_vector().prop_map(|sv| Frame::Sync(SyncMessage::SyncStep1(sv))),
        bytes
            .clone()
            .prop_map(|u| Frame::Sync(SyncMessage::SyncStep2(u))),
        bytes.prop_map(|u| Frame::Sync(SyncMessage::Update(u))),
        arb_awareness().prop_map(Frame::Awareness),
        Just(Frame::AwarenessQuery),
    ]
}

/// Splits `bytes` into chunks whose sizes come from `sizes` (cycled).
fn chunks<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    out
}

/// Every frame a decoder yields for `chunks`, and the error that ended it.
fn decode_chunks(decoder: &mut FrameDecoder, chunks: &[&[u8]]) -> (Vec<Frame>, Option<FrameError>) {
    let mut frames = Vec::new();
    for chunk in chunks {
        if let Err(e) = decoder.feed(chunk) {
            return (frames, Some(e));
        }
        loop {
            match decoder.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

/// yrs asserts on some malformed updates; the board catches those panics and
/// returns an error, but the default hook would still print each one. Panics
/// raised inside yrs are expected in the garbage tests; others are reported.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_yrs = info.location().is_some_and(|l| l.file().contains("/yrs-"));
            if !in_yrs {
                default(info);
            }
        }));
    });
}

// ---------------------------------------------------------------------------
// Codec

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_frame_round_trips(frame in arb_frame()) {
        let bytes = frame.encode();
        let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        prop_assert_eq!(len + 4, bytes.len());
        prop_assert_eq!(bytes[4], frame.frame_type());
        let (decoded, used) = Frame::decode(&bytes, &Limits::DEFAULT).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&decoded, &frame);
        // The same frame always has the same bytes (hash maps are sorted).
        prop_assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn decoder_reassembles_frames_from_any_chunking(
        frames in proptest::collection::vec(arb_frame(), 1..8),
        sizes in proptest::collection::vec(1..64usize, 1..16),
    ) {
        let stream: Vec<u8> = frames.iter().flat_map(|f| f.encode()).collect();
        let mut decoder = FrameDecoder::new(Limits::DEFAULT);
        let (got, err) = decode_chunks(&mut decoder, &chunks(&stream, &sizes));
        prop_assert_eq!(err, None);
        prop_assert_eq!(&got, &frames);
        prop_assert_eq!(decoder.buffered_len(), 0);
        prop_assert!(decoder.finish().is_ok());

        let mut decoder = FrameDecoder::new(Limits::DEFAULT);
        let (got, err) = decode_chunks(&mut decoder, &chunks(&stream, &[1]));
        prop_assert_eq!(err, None);
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn truncated_frames_are_incomplete_never_wrong(frame in arb_frame(), cut in any::<prop::sample::Index>()) {
        let bytes = frame.encode();
        let cut = cut.index(bytes.len()); // a strict prefix
        let prefix = &bytes[..cut];
        prop_assert_eq!(
            Frame::decode(prefix, &Limits::DEFAULT),
            Err(FrameError::Truncated { what: "frame" })
        );
        let mut decoder = FrameDecoder::new(Limits::DEFAULT);
        decoder.feed(prefix).unwrap();
        prop_assert_eq!(decoder.next_frame(), Ok(None));
        if cut == 0 {
            prop_assert!(decoder.finish().is_ok());
        } else {
            prop_assert_eq!(decoder.finish(), Err(FrameError::Truncated { what: "frame" }));
        }
    }

    /// A body cut short under a length prefix that agrees with the cut: the
    /// fields run out, which must be an error, never a shorter frame.
    #[test]
    fn bodies_cut_short_are_errors(frame in arb_frame(), cut in any::<prop::sample::Index>()) {
        let bytes = frame.encode();
        let body = &bytes[5..];
        prop_assume!(!body.is_empty());
        let cut = cut.index(body.len());
        let mut short = ((cut + 1) as u32).to_be_bytes().to_vec();
        short.push(bytes[4]);
        short.extend_from_slice(&body[..cut]);
        let result = Frame::decode(&short, &Limits::DEFAULT);
        prop_assert!(result.is_err(), "{:?} cut to {} body bytes decoded as {:?}", frame, cut, result);
    }

    #[test]
    fn garbage_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        sizes in proptest::collection::vec(1..64usize, 1..8),
    ) {
        let limits = Limits::DEFAULT.with_max_frame_len(4096);
        let _ = Frame::decode(&bytes, &limits);
        let _ = decode_presence_datagram(&bytes, &limits);
        let mut decoder = FrameDecoder::new(limits);
        let (_, err) = decode_chunks(&mut decoder, &chunks(&bytes, &sizes));
        if err.is_some() {
            prop_assert!(decoder.is_failed());
            prop_assert_eq!(decoder.buffered_len(), 0);
        }
    }

    /// Garbage behind a plausible header, so that it reaches the body parsers.
    #[test]
    fn garbage_bodies_never_panic(ty in 0..6u8, body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = ((body.len() + 1) as u32).to_be_bytes().to_vec();
        bytes.push(ty);
        bytes.extend_from_slice(&body);
        if let Ok((frame, used)) = Frame::decode(&bytes, &Limits::DEFAULT) {
            prop_assert_eq!(used, bytes.len());
            // What decodes re-encodes to something that decodes the same.
            let again = Frame::decode(&frame.encode(), &Limits::DEFAULT).unwrap().0;
            prop_assert_eq!(again, frame);
        }
        let mut datagram = vec![7];
        datagram.extend_from_slice(&body);
        let _ = decode_presence_datagram(&datagram, &Limits::DEFAULT);
    }

    #[test]
    fn presence_datagrams_round_trip(channel in any::<u64>(), update in arb_awareness()) {
        let bytes = encode_presence_datagram(channel, &update);
        prop_assert_eq!(decode_presence_datagram(&bytes, &Limits::DEFAULT), Ok((channel, update)));
    }
}

#[test]
fn oversized_frames_are_refused_from_the_length_prefix_alone() {
    let limits = Limits::DEFAULT.with_max_frame_len(1000);
    let mut decoder = FrameDecoder::new(limits);
    // The length prefix alone, split across two feeds.
    decoder.feed(&1001u32.to_be_bytes()[..2]).unwrap();
    assert_eq!(
        decoder.feed(&1001u32.to_be_bytes()[2..]),
        Err(FrameError::TooLarge {
            len: 1001,
            limit: 1000
        })
    );
    assert!(decoder.is_failed());
    assert_eq!(decoder.buffered_len(), 0);
    // Whatever follows is ignored, not buffered.
    decoder.feed(&[0; 4096]).unwrap();
    assert_eq!(decoder.buffered_len(), 0);
    assert_eq!(decoder.next_frame(), Ok(None));

    let huge = u32::MAX.to_be_bytes();
    let err = Frame::decode(&huge, &Limits::DEFAULT).unwrap_err();
    assert_eq!(err.code(), ErrorCode::FrameTooLarge);
    assert_eq!(
        err.to_string(),
        format!(
            "frame too large: {} bytes, limit {}",
            u32::MAX,
            Limits::DEFAULT.max_frame_len
        )
    );

    // A frame exactly at the limit passes.
    let update = vec![0u8; 1000 - 1 - 1 - 1 - 2];
    let frame = Frame::Sync(SyncMessage::Update(update));
    let bytes = frame.encode();
    assert_eq!(bytes.len(), 4 + 1000);
    assert_eq!(Frame::decode(&bytes, &limits).unwrap().0, frame);
}

#[test]
fn a_later_oversized_frame_is_refused_after_the_good_ones() {
    let limits = Limits::DEFAULT.with_max_frame_len(64);
    let mut stream = Frame::AwarenessQuery.encode();
    stream.extend_from_slice(&65u32.to_be_bytes());
    stream.extend_from_slice(&[4; 10]);
    let mut decoder = FrameDecoder::new(limits);
    decoder.feed(&stream).unwrap();
    assert_eq!(decoder.next_frame(), Ok(Some(Frame::AwarenessQuery)));
    assert_eq!(
        decoder.next_frame(),
        Err(FrameError::TooLarge { len: 65, limit: 64 })
    );
    assert_eq!(decoder.buffered_len(), 0);
}

/// Builds a frame from a type byte and body, with the right length prefix.
fn raw_frame(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    out.push(ty);
    out.extend_from_slice(body);
    out
}

#[test]
fn each_kind_of_bad_frame_has_its_error() {
    let d = |bytes: &[u8]| Frame::decode(bytes, &Limits::DEFAULT).map(|(f, _)| f);
    assert_eq!(d(&[0, 0, 0, 0]), Err(FrameError::Empty));
    assert_eq!(d(&raw_frame(9, &[])), Err(FrameError::UnknownType(9)));
    assert_eq!(d(&raw_frame(0, &[1, 2])), Err(FrameError::UnknownType(0)));
    // Hello: version 1, room with invalid UTF-8.
    assert_eq!(
        d(&raw_frame(1, &[1, 2, 0xc3, 0x28, 0, 0])),
        Err(FrameError::BadUtf8 { field: "room" })
    );
    // Hello: the token runs past the end of the frame.
    assert_eq!(
        d(&raw_frame(1, &[1, 1, b'r', 5, b't'])),
        Err(FrameError::Truncated { what: "token" })
    );
    // Hello: a room name over the limit.
    let long = "r".repeat(300);
    let hello = Frame::Hello(Hello::new(long, "t", "n")).encode();
    assert_eq!(
        d(&hello),
        Err(FrameError::FieldTooLong {
            field: "room",
            len: 300,
            limit: 256
        })
    );
    // Hello: a version that does not fit 32 bits.
    assert!(matches!(
        d(&raw_frame(1, &[0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0])),
        Err(FrameError::Malformed {
            field: "hello version",
            ..
        })
    ));
    // Welcome: role 7.
    assert!(matches!(
        d(&raw_frame(2, &[1, 7, 0])),
        Err(FrameError::Malformed { field: "role", .. })
    ));
    // Error: code over 65535.
    assert!(matches!(
        d(&raw_frame(3, &[0x80, 0x80, 0x04, 0])),
        Err(FrameError::Malformed {
            field: "error code",
            ..
        })
    ));
    // Error: an unknown code is kept, not refused.
    assert_eq!(
        d(&raw_frame(3, &[0xe7, 0x07, 2, b'h', b'i'])),
        Ok(Frame::Error(Refusal {
            code: ErrorCode::Other(999),
            reason: "hi".into()
        }))
    );
    // y-protocols: auth messages, unknown message and sync types, trailing bytes.
    assert!(matches!(
        d(&raw_frame(4, &[2, 1])),
        Err(FrameError::Malformed {
            field: "y-protocols message",
            ..
        })
    ));
    assert!(matches!(
        d(&raw_frame(4, &[9])),
        Err(FrameError::Malformed { .. })
    ));
    assert!(matches!(
        d(&raw_frame(4, &[0, 3, 0])),
        Err(FrameError::Malformed {
            field: "sync message",
            ..
        })
    ));
    assert!(matches!(
        d(&raw_frame(4, &[3, 0])),
        Err(FrameError::Malformed { .. })
    ));
    // A state vector with a huge count and no entries: refused, no allocation.
    assert_eq!(
        d(&raw_frame(4, &[0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x0f])),
        Err(FrameError::Truncated {
            what: "state vector"
        })
    );
    // Awareness whose state is not JSON (y-protocols in JS would throw).
    let mut body = vec![1];
    let inner = [1, 7, 1, 3, b'{', b'x', b'}'];
    body.push(inner.len() as u8);
    body.extend_from_slice(&inner);
    assert!(matches!(
        d(&raw_frame(4, &body)),
        Err(FrameError::Malformed {
            field: "awareness state",
            ..
        })
    ));
    // Every decode error maps to an error code and a lowercase reason.
    let e = FrameError::UnknownType(9);
    assert_eq!(e.code(), ErrorCode::BadFrame);
    assert_eq!(e.refusal().reason, "unknown frame type 9");
}

/// Found by `every_frame_round_trips`: yrs' `ClientID::new` asserts that a
/// client id fits in 53 bits (debug) or silently truncates it (release), so
/// a hostile state vector or awareness update must be refused by the codec.
#[test]
fn client_ids_past_53_bits_are_refused_before_reaching_yrs() {
    let mut too_big = Vec::new();
    let mut n = MAX_CLIENT_ID + 1;
    while n >= 0x80 {
        too_big.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    too_big.push(n as u8);
    // Sync step 1 whose state vector holds one entry for that client.
    let mut sv = vec![1];
    sv.extend_from_slice(&too_big);
    sv.push(5);
    let mut body = vec![0, 0, sv.len() as u8];
    body.extend_from_slice(&sv);
    assert_eq!(
        Frame::decode(&raw_frame(4, &body), &Limits::DEFAULT),
        Err(FrameError::Malformed {
            field: "state vector",
            problem: "client id over 2^53 - 1"
        })
    );
    // An awareness update for that client.
    let mut update = vec![1];
    update.extend_from_slice(&too_big);
    update.extend_from_slice(&[1, 2, b'{', b'}']);
    let mut body = vec![1, update.len() as u8];
    body.extend_from_slice(&update);
    assert!(matches!(
        Frame::decode(&raw_frame(4, &body), &Limits::DEFAULT),
        Err(FrameError::Malformed {
            field: "awareness update",
            ..
        })
    ));
    // The largest legal id passes.
    let sv: StateVector = [(ClientID::new(MAX_CLIENT_ID), 3)].into_iter().collect();
    let frame = Frame::Sync(SyncMessage::SyncStep1(sv));
    assert_eq!(
        Frame::decode(&frame.encode(), &Limits::DEFAULT).unwrap().0,
        frame
    );
}

#[test]
fn hello_ignores_fields_a_later_version_appends() {
    let mut body = Vec::new();
    body.extend_from_slice(&[2, 1, b'r', 1, b't', 1, b'n']);
    body.extend_from_slice(&[42, 42, 42]); // a v2 field this build does not know
    let (frame, _) = Frame::decode(&raw_frame(1, &body), &Limits::DEFAULT).unwrap();
    let Frame::Hello(hello) = frame else {
        panic!("not a hello")
    };
    assert_eq!(hello.version, 2);
    assert_eq!(hello.room, "r");
    // The token never reaches a log.
    assert!(!format!("{hello:?}").contains("\"t\""));
}

#[test]
fn error_codes_are_stable() {
    let names: Vec<(u16, &str)> = ErrorCode::KNOWN
        .iter()
        .map(|c| (c.code(), c.name()))
        .collect();
    assert_eq!(
        names,
        [
            (1, "bad_frame"),
            (2, "frame_too_large"),
            (3, "unexpected_frame"),
            (4, "version_mismatch"),
            (5, "unauthorized"),
            (6, "forbidden"),
            (7, "room_full"),
            (8, "rate_limited"),
            (9, "doc_too_large"),
            (10, "bad_update"),
            (11, "server_error"),
            (12, "going_away"),
            (13, "timeout"),
        ]
    );
    for code in ErrorCode::KNOWN {
        assert_eq!(ErrorCode::from_code(code.code()), code);
    }
    assert_eq!(ErrorCode::from_code(0), ErrorCode::Other(0));
    // A long reason is cut at a character boundary to fit every peer's limit.
    let r = Refusal::new(ErrorCode::ServerError, "é".repeat(600));
    assert_eq!(r.reason.len(), 1024);
    assert!(Frame::decode(&r.frame().encode(), &Limits::DEFAULT).is_ok());
}

// ---------------------------------------------------------------------------
// Agreement with yrs' y-protocols encoding (itself byte-compatible with npm
// y-protocols 1.0.7)

/// The body of a y-protocols frame: the y-websocket message.
fn y_body(frame: &Frame) -> Vec<u8> {
    let bytes = frame.encode();
    assert_eq!(bytes[4], 4);
    bytes[5..].to_vec()
}

#[test]
fn sync_step_1_of_an_empty_document_is_0_0_1_0() {
    let frame = Frame::Sync(SyncMessage::SyncStep1(StateVector::default()));
    assert_eq!(frame.encode(), [0, 0, 0, 5, 4, 0, 0, 1, 0]);
    assert_eq!(y_body(&frame), [0, 0, 1, 0]);
    let yrs_bytes = Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
    assert_eq!(yrs_bytes, [0, 0, 1, 0]);
}

#[test]
fn hello_layout_is_as_documented() {
    let frame = Frame::Hello(Hello::new("r", "t", "n"));
    assert_eq!(PROTOCOL_VERSION, 1);
    assert_eq!(
        frame.encode(),
        [0, 0, 0, 8, 1, 1, 1, b'r', 1, b't', 1, b'n']
    );
    let welcome = Frame::Welcome(Welcome {
        version: 1,
        role: Role::Editor,
        channel: 300,
    });
    assert_eq!(welcome.encode(), [0, 0, 0, 5, 2, 1, 1, 0xac, 0x02]);
    let error = Frame::Error(Refusal::new(ErrorCode::Forbidden, "no"));
    assert_eq!(error.encode(), [0, 0, 0, 5, 3, 6, 2, b'n', b'o']);
}

fn sample_doc(client: u64, text: &str) -> Doc {
    let doc = Doc::with_client_id(client);
    let t = doc.get_or_insert_text("t");
    t.push(&mut doc.transact_mut(), text);
    doc
}

#[test]
fn sync_messages_have_the_bytes_yrs_writes() {
    let doc = sample_doc(7, "hello 🌍");
    let sv = doc.transact().state_vector();
    let update = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    for msg in [
        SyncMessage::SyncStep1(sv),
        SyncMessage::SyncStep2(update.clone()),
        SyncMessage::Update(update),
    ] {
        let ours = y_body(&Frame::Sync(msg.clone()));
        assert_eq!(ours, Message::Sync(msg.clone()).encode_v1());
        assert_eq!(Message::decode_v1(&ours).unwrap(), Message::Sync(msg));
    }
    assert_eq!(
        y_body(&Frame::AwarenessQuery),
        Message::AwarenessQuery.encode_v1()
    );
}

#[test]
fn state_vectors_with_several_clients_decode_both_ways() {
    // yrs writes hash-map order; we write client order. Both decode the same.
    let a = sample_doc(1, "a");
    let b = sample_doc(2, "bb");
    let c = sample_doc(3_000_000_000, "ccc");
    for other in [&b, &c] {
        let u = other
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        a.transact_mut()
            .apply_update(yrs::Update::decode_v1(&u).unwrap())
            .unwrap();
    }
    let sv = a.transact().state_vector();
    let msg = Message::Sync(SyncMessage::SyncStep1(sv.clone()));
    let ours = y_body(&Frame::Sync(SyncMessage::SyncStep1(sv.clone())));
    assert_eq!(Message::decode_v1(&ours).unwrap(), msg);
    let theirs = raw_frame(4, &msg.encode_v1());
    assert_eq!(
        Frame::decode(&theirs, &Limits::DEFAULT).unwrap().0,
        Frame::Sync(SyncMessage::SyncStep1(sv))
    );
}

#[test]
fn awareness_messages_agree_with_yrs() {
    let mut awareness = Awareness::new(Doc::with_client_id(42));
    awareness.set_local_state_raw(r#"{"user":{"name":"Ana"},"cursor":[1,2]}"#);
    let update = awareness.update().unwrap();
    // One entry: byte for byte.
    let ours = y_body(&Frame::Awareness(update.clone()));
    assert_eq!(ours, Message::Awareness(update.clone()).encode_v1());
    // Several entries: each side decodes the other's.
    let mut other = Awareness::new(Doc::with_client_id(43));
    other.set_local_state_raw(r#"{"user":{"name":"Bo"}}"#);
    awareness.apply_update(other.update().unwrap()).unwrap();
    let both = awareness.update().unwrap();
    assert_eq!(both.clients.len(), 2);
    let ours = y_body(&Frame::Awareness(both.clone()));
    assert_eq!(
        Message::decode_v1(&ours).unwrap(),
        Message::Awareness(both.clone())
    );
    let theirs = raw_frame(4, &Message::Awareness(both.clone()).encode_v1());
    assert_eq!(
        Frame::decode(&theirs, &Limits::DEFAULT).unwrap().0,
        Frame::Awareness(both)
    );
}

// ---------------------------------------------------------------------------
// Sessions over an in-memory network

mod net {
    use std::collections::HashMap;
    use std::time::Instant;

    use touchpoint_crdt::Board;
    use touchpoint_crdt::protocol::{
        ClientSession, ErrorCode, Frame, Hello, Limits, MemberEvent, Refusal, Role, Room, Rooms,
        ServerMember,
    };
    use yrs::sync::SyncMessage;

    /// A server's rooms and the tokens it has issued.
    pub struct TestRooms {
        pub rooms: HashMap<String, Room>,
        pub tokens: HashMap<String, (String, Role)>,
        /// Members admitted per room (never decremented: tests use it only
        /// to fill a room).
        pub admitted: HashMap<String, usize>,
        pub max_members: usize,
    }

    impl TestRooms {
        pub fn new() -> TestRooms {
            let tokens = [
                ("edit-a", ("room-a", Role::Editor)),
                ("view-a", ("room-a", Role::Viewer)),
                ("edit-b", ("room-b", Role::Editor)),
            ]
            .into_iter()
            .map(|(t, (r, role))| (t.to_owned(), (r.to_owned(), role)))
            .collect();
            TestRooms {
                rooms: HashMap::new(),
                tokens,
                max_members: 16,
                admitted: HashMap::new(),
            }
        }

        pub fn room(&self, name: &str) -> &Room {
            &self.rooms[name]
        }
    }

    impl Rooms for TestRooms {
        fn admit(&mut self, _member: u64, hello: &Hello) -> Result<Role, Refusal> {
            let Some((room, role)) = self.tokens.get(&hello.token) else {
                return Err(Refusal::new(
                    ErrorCode::Unauthorized,
                    "unknown access token",
                ));
            };
            if *room != hello.room {
                return Err(Refusal::new(
                    ErrorCode::Unauthorized,
                    "the token is for another room",
                ));
            }
            let count = self.admitted.entry(room.clone()).or_default();
            if *count >= self.max_members {
                return Err(Refusal::new(ErrorCode::RoomFull, "the room is full"));
            }
            *count += 1;
            self.rooms.entry(room.clone()).or_insert_with(Room::empty);
            Ok(*role)
        }

        fn room_mut(&mut self, name: &str) -> Option<&mut Room> {
            self.rooms.get_mut(name)
        }
    }

    /// One stream between a client and the server.
    pub struct Link {
        pub client: usize,
        pub member: ServerMember,
        pub to_server: Vec<u8>,
        pub to_client: Vec<u8>,
        /// The server closed its side after the bytes in `to_client`.
        pub server_closed: bool,
        pub dead: bool,
    }

    pub struct Client {
        pub board: Board,
        pub session: ClientSession,
        pub link: Option<usize>,
    }

    /// Clients, one server, and the streams between them. Bytes move in
    /// chunks of pseudo-random size; time moves only when a test says so.
    pub struct Net {
        pub rooms: TestRooms,
        pub links: Vec<Link>,
        pub clients: Vec<Client>,
        pub now: Instant,
        pub limits: Limits,
        rng: u64,
        next_member: u64,
        /// Everything members relayed, for assertions.
        pub relayed_updates: usize,
    }

    impl Net {
        pub fn new(seed: u64, limits: Limits) -> Net {
            Net {
                rooms: TestRooms::new(),
                links: Vec::new(),
                clients: Vec::new(),
                now: Instant::now(),
                limits,
                rng: seed | 1,
                next_member: 1,
                relayed_updates: 0,
            }
        }

        fn rand(&mut self) -> u64 {
            // xorshift64: deterministic per seed.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            self.rng
        }

        pub fn add_client(&mut self, board: Board, room: &str, token: &str) -> usize {
            let hello = Hello::new(room, token, format!("client {}", self.clients.len()));
            let session = ClientSession::new(&board, hello, self.limits).unwrap();
            self.clients.push(Client {
                board,
                session,
                link: None,
            });
            self.clients.len() - 1
        }

        pub fn connect(&mut self, c: usize) {
            let id = self.next_member;
            self.next_member += 1;
            let member = ServerMember::new(id, id * 10, self.now, self.limits);
            self.links.push(Link {
                client: c,
                member,
                to_server: Vec::new(),
                to_client: Vec::new(),
                server_closed: false,
                dead: false,
            });
            self.clients[c].link = Some(self.links.len() - 1);
            self.clients[c].session.connect();
        }

        /// The connection drops with whatever was in flight.
        pub fn disconnect(&mut self, c: usize) {
            if let Some(l) = self.clients[c].link.take() {
                let link = &mut self.links[l];
                link.dead = true;
                link.member.connection_lost(&mut self.rooms);
                self.drain_member(l);
                self.clients[c].session.disconnected();
            }
        }

        /// Moves bytes until nothing moves; returns the steps taken.
        pub fn run(&mut self) -> usize {
            for step in 0..100_000 {
                if !self.step() {
                    return step;
                }
            }
            panic!("the network never went quiet");
        }

        fn step(&mut self) -> bool {
            let mut moved = false;
            for c in 0..self.clients.len() {
                let Some(l) = self.clients[c].link else {
                    continue;
                };
                while let Some(frame) = self.clients[c].session.poll_transmit() {
                    self.links[l].to_server.extend(frame.encode());
                    moved = true;
                }
            }
            for l in 0..self.links.len() {
                if self.links[l].dead {
                    continue;
                }
                if !self.links[l].to_server.is_empty() && !self.links[l].member.is_closed() {
                    let n = self.chunk_len(self.links[l].to_server.len());
                    let chunk: Vec<u8> = self.links[l].to_server.drain(..n).collect();
                    let now = self.now;
                    self.links[l].member.receive(&chunk, now, &mut self.rooms);
                    moved = true;
                } else if self.links[l].member.is_closed() {
                    self.links[l].to_server.clear();
                }
                moved |= self.drain_member(l);
                let c = self.links[l].client;
                if !self.links[l].to_client.is_empty() {
                    let n = self.chunk_len(self.links[l].to_client.len());
                    let chunk: Vec<u8> = self.links[l].to_client.drain(..n).collect();
                    let client = &mut self.clients[c];
                    client.session.receive(&chunk, &mut client.board);
                    moved = true;
                } else if self.links[l].server_closed {
                    self.links[l].dead = true;
                    self.clients[c].link = None;
                    self.clients[c].session.stream_finished();
                    moved = true;
                }
                // A client that ended the stream closes it once its error
                // frame is out.
                if self.clients[c].session.state().is_ended()
                    && self.links[l].to_server.is_empty()
                    && !self.links[l].dead
                {
                    let pending = self.clients[c].session.poll_transmit();
                    if let Some(frame) = pending {
                        self.links[l].to_server.extend(frame.encode());
                    } else if !self.links[l].member.is_closed() {
                        self.links[l].member.connection_lost(&mut self.rooms);
                        self.drain_member(l);
                    }
                }
            }
            moved
        }

        fn chunk_len(&mut self, available: usize) -> usize {
            let r = self.rand();
            match r % 4 {
                0 => available,
                1 => 1,
                _ => 1 + (r >> 8) as usize % available,
            }
        }

        /// Carries out a member's events; whether there were any.
        fn drain_member(&mut self, l: usize) -> bool {
            let mut any = false;
            while let Some(event) = self.links[l].member.poll_event() {
                any = true;
                match event {
                    MemberEvent::Send(frame) => self.links[l].to_client.extend(frame.encode()),
                    MemberEvent::DocUpdate(update) => {
                        self.relayed_updates += 1;
                        let frame = Frame::Sync(SyncMessage::Update(update));
                        self.relay(l, &frame);
                    }
                    MemberEvent::Presence(update) => self.relay(l, &Frame::Awareness(update)),
                    MemberEvent::Close => self.links[l].server_closed = true,
                }
            }
            any
        }

        fn relay(&mut self, from: usize, frame: &Frame) {
            let room = self.links[from].member.room().map(str::to_owned);
            let bytes = frame.encode();
            for (i, link) in self.links.iter_mut().enumerate() {
                if i != from
                    && !link.dead
                    && link.member.is_joined()
                    && link.member.room().map(str::to_owned) == room
                {
                    link.to_client.extend_from_slice(&bytes);
                }
            }
        }

        /// Sends raw bytes on a client's stream, bypassing its session.
        pub fn inject(&mut self, c: usize, bytes: &[u8]) {
            let l = self.clients[c].link.unwrap();
            self.links[l].to_server.extend_from_slice(bytes);
        }

        pub fn member(&self, c: usize) -> &ServerMember {
            &self.links[self.clients[c].link.unwrap()].member
        }
    }
}

use net::Net;

fn assert_converged(net: &Net, clients: &[usize], room: &str) {
    let reference = net.rooms.room(room).board().elements();
    for &c in clients {
        assert_eq!(
            net.clients[c].board.elements(),
            reference,
            "client {c} differs from the room"
        );
        assert_eq!(
            net.clients[c].board.meta(),
            net.rooms.room(room).board().meta()
        );
        assert!(!net.clients[c].board.has_missing_updates());
    }
}

fn events(net: &mut Net, c: usize) -> Vec<ClientEvent> {
    std::iter::from_fn(|| net.clients[c].session.poll_event()).collect()
}

#[test]
fn two_clients_converge_through_the_server() {
    let mut net = Net::new(1, Limits::DEFAULT);
    let mut ana = Board::with_client_id(101);
    ana.create(NewElement::sticky(0.0, 0.0, "made before joining"))
        .unwrap();
    let a = net.add_client(ana, "room-a", "edit-a");
    let b = net.add_client(Board::with_client_id(102), "room-a", "edit-a");
    net.connect(a);
    net.connect(b);
    net.run();
    assert_eq!(
        net.clients[a].session.state(),
        &ClientState::Synced { role: Role::Editor }
    );
    assert_eq!(
        events(&mut net, a)[..2],
        [
            ClientEvent::Joined { role: Role::Editor },
            ClientEvent::Synced
        ]
    );
    assert_converged(&net, &[a, b], "room-a");
    assert_eq!(net.clients[b].board.len(), 1);

    // Live edits from both sides, interleaved with the network.
    let id = net.clients[a]
        .board
        .create(NewElement::sticky(10.0, 10.0, "hello"))
        .unwrap();
    net.run();
    net.clients[b].board.insert_text(&id, 5, " world").unwrap();
    net.clients[a]
        .board
        .create(NewElement::shape(
            ShapeKind::Ellipse,
            Geometry::new(5.0, 5.0, 50.0, 40.0),
        ))
        .unwrap();
    net.run();
    assert_converged(&net, &[a, b], "room-a");
    assert_eq!(
        net.clients[a].board.element(&id).unwrap().body.text(),
        Some("hello world")
    );
    assert_eq!(net.clients[a].session.pending_local_changes(), 0);
    assert_eq!(net.clients[b].session.pending_local_changes(), 0);
}

#[test]
fn offline_edits_merge_on_reconnect_with_a_fresh_sync() {
    let mut net = Net::new(2, Limits::DEFAULT);
    let a = net.add_client(Board::with_client_id(201), "room-a", "edit-a");
    let b = net.add_client(Board::with_client_id(202), "room-a", "edit-a");
    net.connect(a);
    net.connect(b);
    net.run();
    let shared = net.clients[a]
        .board
        .create(NewElement::sticky(0.0, 0.0, "shared"))
        .unwrap();
    net.run();

    // Bo loses the connection with an edit in flight, then keeps working.
    net.clients[b].board.insert_text(&shared, 0, ">> ").unwrap();
    net.clients[b].session.poll_transmit(); // handed to a stream that dies
    net.disconnect(b);
    assert_eq!(net.clients[b].session.state(), &ClientState::Offline);
    net.clients[b]
        .board
        .create(NewElement::sticky(50.0, 0.0, "offline note"))
        .unwrap();
    net.clients[b]
        .board
        .move_by(&[shared.as_str()], 5.0, 5.0)
        .unwrap();
    assert_eq!(net.clients[b].session.pending_local_changes(), 2);
    // Meanwhile Ana edits the same note and adds her own.
    net.clients[a].board.insert_text(&shared, 6, "!").unwrap();
    net.clients[a]
        .board
        .create(NewElement::sticky(0.0, 80.0, "ana while bo is away"))
        .unwrap();
    net.run();
    assert_eq!(net.rooms.room("room-a").board().len(), 2);

    net.connect(b);
    net.run();
    assert_eq!(
        net.clients[b].session.state(),
        &ClientState::Synced { role: Role::Editor }
    );
    assert_eq!(net.clients[b].session.pending_local_changes(), 0);
    assert_converged(&net, &[a, b], "room-a");
    assert_eq!(net.clients[a].board.len(), 3);
    // Bo's edit that died in flight came back with the reconnect's step 2.
    let note = net.clients[a].board.element(&shared).unwrap();
    assert_eq!(note.body.text(), Some(">> shared!"));
    assert_eq!((note.geom.x, note.geom.y), (5.0, 5.0));
}

#[test]
fn a_viewer_receives_but_its_updates_are_refused_and_not_applied() {
    let mut net = Net::new(3, Limits::DEFAULT);
    let a = net.add_client(Board::with_client_id(301), "room-a", "edit-a");
    let v = net.add_client(Board::with_client_id(302), "room-a", "view-a");
    net.connect(a);
    net.connect(v);
    net.run();
    net.clients[a]
        .board
        .create(NewElement::sticky(0.0, 0.0, "for everyone"))
        .unwrap();
    net.run();
    assert_eq!(
        net.clients[v].session.state(),
        &ClientState::Synced { role: Role::Viewer }
    );
    assert_converged(&net, &[a, v], "room-a");

    // The viewer's session does not send local edits: they stay pending.
    let before = net.rooms.room("room-a").board().encode();
    net.clients[v]
        .board
        .create(NewElement::sticky(9.0, 9.0, "sneaky"))
        .unwrap();
    net.run();
    assert_eq!(net.clients[v].session.pending_local_changes(), 1);
    assert_eq!(net.rooms.room("room-a").board().len(), 1);

    // A hostile viewer sends the update anyway: refused, not applied, not
    // relayed, and the stream ends.
    let relayed = net.relayed_updates;
    let update = net.clients[v].board.encode();
    net.inject(v, &Frame::Sync(SyncMessage::Update(update)).encode());
    net.run();
    assert_eq!(net.rooms.room("room-a").board().encode(), before);
    assert_eq!(net.relayed_updates, relayed);
    assert_eq!(net.clients[a].board.len(), 1);
    match net.clients[v].session.state() {
        ClientState::Refused(r) => assert_eq!(r.code, ErrorCode::Forbidden),
        other => panic!("viewer not refused: {other:?}"),
    }
    // The editor is unaffected.
    assert!(matches!(
        net.clients[a].session.state(),
        ClientState::Synced { .. }
    ));
}

fn refusal_of(member: &mut ServerMember) -> Refusal {
    let mut refusal = None;
    let mut closed = false;
    while let Some(e) = member.poll_event() {
        match e {
            MemberEvent::Send(Frame::Error(r)) => refusal = Some(r),
            MemberEvent::Close => closed = true,
            _ => {}
        }
    }
    assert!(closed, "member not closed");
    assert!(member.is_closed());
    refusal.expect("no error frame sent")
}

#[test]
fn anything_but_hello_first_is_refused() {
    let t0 = std::time::Instant::now();
    for first in [
        Frame::Sync(SyncMessage::SyncStep1(StateVector::default())),
        Frame::Sync(SyncMessage::Update(vec![0, 0])),
        Frame::AwarenessQuery,
        Frame::Welcome(Welcome {
            version: 1,
            role: Role::Editor,
            channel: 0,
        }),
    ] {
        let mut rooms = net::TestRooms::new();
        let mut member = ServerMember::new(1, 0, t0, Limits::DEFAULT);
        member.receive(&first.encode(), t0, &mut rooms);
        let r = refusal_of(&mut member);
        assert_eq!(r.code, ErrorCode::UnexpectedFrame, "{first:?}");
        assert!(rooms.rooms.is_empty());
        // Nothing more is read.
        member.receive(
            &Frame::Hello(Hello::new("room-a", "edit-a", "x")).encode(),
            t0,
            &mut rooms,
        );
        assert!(member.poll_event().is_none());
    }
}

#[test]
fn hello_problems_are_refused_with_their_codes() {
    let t0 = std::time::Instant::now();
    let cases = [
        (Hello::new("room-a", "nope", "x"), ErrorCode::Unauthorized),
        (Hello::new("room-b", "edit-a", "x"), ErrorCode::Unauthorized),
        (
            Hello {
                version: 2,
                ..Hello::new("room-a", "edit-a", "x")
            },
            ErrorCode::VersionMismatch,
        ),
    ];
    for (hello, code) in cases {
        let mut rooms = net::TestRooms::new();
        let mut member = ServerMember::new(1, 0, t0, Limits::DEFAULT);
        member.receive(&Frame::Hello(hello).encode(), t0, &mut rooms);
        assert_eq!(refusal_of(&mut member).code, code);
    }
    // A full room.
    let mut rooms = net::TestRooms::new();
    rooms.max_members = 0;
    let mut member = ServerMember::new(1, 0, t0, Limits::DEFAULT);
    member.receive(
        &Frame::Hello(Hello::new("room-a", "edit-a", "x")).encode(),
        t0,
        &mut rooms,
    );
    let r = refusal_of(&mut member);
    assert_eq!(r.code, ErrorCode::RoomFull);
    assert!(r.code.is_retryable());

    // The client session reports the refusal and keeps it after the close.
    let mut net = Net::new(4, Limits::DEFAULT);
    let c = net.add_client(Board::new(), "room-a", "wrong");
    net.connect(c);
    net.run();
    match net.clients[c].session.state() {
        ClientState::Refused(r) => {
            assert_eq!(r.code, ErrorCode::Unauthorized);
            assert_eq!(r.reason, "unknown access token");
        }
        other => panic!("{other:?}"),
    }
    assert!(net.clients[c].link.is_none());
}

#[test]
fn a_second_hello_and_bad_bytes_end_a_joined_stream() {
    quiet_expected_panics();
    let t0 = std::time::Instant::now();
    let hello = Frame::Hello(Hello::new("room-a", "edit-a", "x")).encode();
    for (extra, code) in [
        (hello.clone(), ErrorCode::UnexpectedFrame),
        (vec![0, 0, 0, 3, 77, 1, 2], ErrorCode::BadFrame),
        (vec![0xff, 0xff, 0xff, 0xff], ErrorCode::FrameTooLarge),
        (
            Frame::Sync(SyncMessage::Update(vec![1, 2, 3, 4, 5])).encode(),
            ErrorCode::BadUpdate,
        ),
    ] {
        let mut rooms = net::TestRooms::new();
        let mut member = ServerMember::new(1, 0, t0, Limits::DEFAULT);
        member.receive(&hello, t0, &mut rooms);
        assert!(member.is_joined());
        while member.poll_event().is_some() {}
        member.receive(&extra, t0, &mut rooms);
        assert_eq!(refusal_of(&mut member).code, code);
        assert!(!rooms.room("room-a").board().looks_like_board());
    }
}

#[test]
fn a_stream_without_hello_times_out() {
    let t0 = std::time::Instant::now();
    let mut member = ServerMember::new(1, 0, t0, Limits::DEFAULT);
    let deadline = member.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + Duration::from_secs(10));
    member.handle_timeout(t0 + Duration::from_secs(9));
    assert!(member.poll_event().is_none());
    member.handle_timeout(deadline);
    assert_eq!(refusal_of(&mut member).code, ErrorCode::Timeout);
    assert_eq!(member.poll_timeout(), None);
}

#[test]
fn message_floods_are_cut_off_but_steady_traffic_is_not() {
    let limits = Limits::DEFAULT.with_message_rate(10, 5);
    let t0 = std::time::Instant::now();
    let hello = Frame::Hello(Hello::new("room-a", "edit-a", "x")).encode();
    let query = Frame::AwarenessQuery.encode();

    // Steady: 10 per second for 3 seconds.
    let mut rooms = net::TestRooms::new();
    let mut member = ServerMember::new(1, 0, t0, limits);
    member.receive(&hello, t0, &mut rooms);
    for i in 1..=30 {
        member.receive(&query, t0 + Duration::from_millis(100 * i), &mut rooms);
    }
    assert!(member.is_joined());

    // A burst: the hello and four more pass, the sixth message is refused.
    let mut rooms = net::TestRooms::new();
    let mut member = ServerMember::new(1, 0, t0, limits);
    member.receive(&hello, t0, &mut rooms);
    for _ in 0..4 {
        member.receive(&query, t0, &mut rooms);
    }
    assert!(member.is_joined());
    member.receive(&query, t0, &mut rooms);
    assert_eq!(refusal_of(&mut member).code, ErrorCode::RateLimited);
}

#[test]
fn updates_that_would_outgrow_the_document_limit_are_refused() {
    let limits = Limits::DEFAULT.with_max_doc_len(4000);
    let mut net = Net::new(5, limits);
    let a = net.add_client(Board::with_client_id(501), "room-a", "edit-a");
    net.connect(a);
    net.run();
    net.clients[a]
        .board
        .create(NewElement::sticky(0.0, 0.0, "small"))
        .unwrap();
    net.run();
    assert_eq!(net.rooms.room("room-a").board().len(), 1);
    let before = net.rooms.room("room-a").board().encode();
    net.clients[a]
        .board
        .create(NewElement::sticky(0.0, 0.0, &"big paste ".repeat(500)))
        .unwrap();
    net.run();
    match net.clients[a].session.state() {
        ClientState::Refused(r) => assert_eq!(r.code, ErrorCode::DocTooLarge),
        other => panic!("{other:?}"),
    }
    assert_eq!(net.rooms.room("room-a").board().encode(), before);
}

fn presence(client: u64, clock: u32, json: &str) -> AwarenessUpdate {
    AwarenessUpdate {
        clients: [(
            ClientID::new(client),
            AwarenessUpdateEntry {
                clock,
                json: Arc::from(json),
            },
        )]
        .into_iter()
        .collect(),
    }
}

fn presence_events(net: &mut Net, c: usize) -> Vec<AwarenessUpdate> {
    events(net, c)
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::Presence(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn presence_is_relayed_owned_and_removed_on_leave() {
    let mut net = Net::new(6, Limits::DEFAULT);
    let a = net.add_client(Board::with_client_id(601), "room-a", "edit-a");
    let b = net.add_client(Board::with_client_id(602), "room-a", "view-a");
    net.connect(a);
    net.connect(b);
    net.run();
    events(&mut net, b);

    net.clients[a]
        .session
        .send_presence(presence(601, 1, r#"{"cursor":[1,2]}"#));
    net.run();
    assert_eq!(
        presence_events(&mut net, b),
        [presence(601, 1, r#"{"cursor":[1,2]}"#)]
    );
    // An old clock is not relayed; a viewer may publish its own presence,
    // but not speak for another member's client.
    net.clients[a]
        .session
        .send_presence(presence(601, 0, r#"{"cursor":[0,0]}"#));
    net.clients[b]
        .session
        .send_presence(presence(601, 9, r#"{"cursor":[6,6]}"#));
    net.clients[b]
        .session
        .send_presence(presence(602, 1, r#"{"cursor":[7,7]}"#));
    net.run();
    assert_eq!(
        presence_events(&mut net, a),
        [presence(602, 1, r#"{"cursor":[7,7]}"#)]
    );
    assert!(presence_events(&mut net, b).is_empty());
    let snapshot = net.rooms.room("room-a").presence();
    assert_eq!(snapshot.clients.len(), 2);

    // A late joiner gets everyone's presence in one message.
    let c = net.add_client(Board::with_client_id(603), "room-a", "edit-a");
    net.connect(c);
    net.run();
    assert_eq!(presence_events(&mut net, c), [snapshot]);

    // Leaving removes a member's presence for the others.
    net.disconnect(a);
    net.run();
    assert_eq!(presence_events(&mut net, b), [presence(601, 2, "null")]);
    assert_eq!(net.rooms.room("room-a").presence().clients.len(), 1);
}

#[test]
fn presence_datagrams_carry_the_channel_and_bad_ones_are_dropped() {
    let mut net = Net::new(7, Limits::DEFAULT);
    let a = net.add_client(Board::with_client_id(701), "room-a", "edit-a");
    net.connect(a);
    net.run();
    let channel = net.clients[a].session.channel().unwrap();
    assert_eq!(channel, net.member(a).channel());
    let p = presence(701, 3, r#"{"cursor":[4,4]}"#);
    let datagram = net.clients[a].session.presence_datagram(&p).unwrap();
    assert_eq!(
        touchpoint_crdt::protocol::datagram_channel(&datagram),
        Some(channel)
    );

    let l = net.clients[a].link.unwrap();
    let now = net.now;
    let link = &mut net.links[l];
    let wrong_channel = encode_presence_datagram(channel + 1, &p);
    let bad_ones: [&[u8]; 3] = [b"\xff\xff", &[], &wrong_channel];
    for bad in bad_ones {
        link.member.handle_datagram(bad, now, &mut net.rooms);
        assert!(link.member.poll_event().is_none());
    }
    link.member.handle_datagram(&datagram, now, &mut net.rooms);
    assert_eq!(
        link.member.poll_event(),
        Some(MemberEvent::Presence(p.clone()))
    );
    assert!(link.member.is_joined());

    // The client side: its own channel only.
    net.clients[a].session.handle_datagram(&datagram);
    net.clients[a]
        .session
        .handle_datagram(&encode_presence_datagram(channel + 1, &p));
    net.clients[a].session.handle_datagram(b"garbage");
    assert_eq!(presence_events(&mut net, a), [p]);
}

#[test]
fn a_client_refuses_a_server_that_breaks_the_protocol() {
    quiet_expected_panics();
    let mut board = Board::with_client_id(801);
    let hello = Hello::new("room-a", "edit-a", "x");
    let mut session =
        touchpoint_crdt::protocol::ClientSession::new(&board, hello, Limits::DEFAULT).unwrap();
    session.connect();
    assert!(matches!(session.poll_transmit(), Some(Frame::Hello(_))));
    // An update before the welcome.
    session.receive(
        &Frame::Sync(SyncMessage::Update(vec![0, 0])).encode(),
        &mut board,
    );
    match session.state() {
        ClientState::Failed(r) => assert_eq!(r.code, ErrorCode::UnexpectedFrame),
        other => panic!("{other:?}"),
    }
    assert!(matches!(session.poll_transmit(), Some(Frame::Error(_))));
    assert_eq!(session.poll_transmit(), None);

    // A welcome for another protocol version.
    session.connect();
    session.poll_transmit();
    session.receive(
        &Frame::Welcome(Welcome {
            version: 9,
            role: Role::Editor,
            channel: 1,
        })
        .encode(),
        &mut board,
    );
    assert!(
        matches!(session.state(), ClientState::Failed(r) if r.code == ErrorCode::VersionMismatch)
    );

    // Garbage from the server, then a corrupt update after joining.
    session.connect();
    session.receive(b"\x00\x00\x00\x02\x63\x00", &mut board);
    assert!(matches!(session.state(), ClientState::Failed(r) if r.code == ErrorCode::BadFrame));
    session.connect();
    let welcome = Frame::Welcome(Welcome {
        version: 1,
        role: Role::Editor,
        channel: 1,
    });
    session.receive(&welcome.encode(), &mut board);
    session.receive(
        &Frame::Sync(SyncMessage::SyncStep2(vec![9, 9, 9])).encode(),
        &mut board,
    );
    assert!(matches!(session.state(), ClientState::Failed(r) if r.code == ErrorCode::BadUpdate));
    assert!(!board.has_missing_updates());
}

#[test]
fn a_session_watches_only_its_own_board_and_stops_when_dropped() {
    let mut board = Board::with_client_id(901);
    let mut other = Board::with_client_id(902);
    let mut session = touchpoint_crdt::protocol::ClientSession::new(
        &board,
        Hello::new("room-a", "edit-a", "x"),
        Limits::DEFAULT,
    )
    .unwrap();
    session.connect();
    session.poll_transmit();
    let welcome = Frame::Welcome(Welcome {
        version: 1,
        role: Role::Editor,
        channel: 1,
    });
    // Handed the wrong board: ignored.
    session.handle_frame(welcome.clone(), &mut other);
    assert_eq!(session.state(), &ClientState::Connecting);
    session.handle_frame(welcome, &mut board);
    assert!(session.state().is_joined());
    board.create(NewElement::sticky(0.0, 0.0, "x")).unwrap();
    assert_eq!(session.pending_local_changes(), 1);
    drop(session);
    // The observer is gone: editing after the drop is fine.
    board.create(NewElement::sticky(0.0, 0.0, "y")).unwrap();
}

/// What one step of a random session scenario does.
#[derive(Debug, Clone)]
enum Act {
    Edit {
        client: usize,
        kind: u8,
        pick: usize,
    },
    Connect(usize),
    Disconnect(usize),
    Deliver,
}

fn acts(clients: usize) -> impl Strategy<Value = Vec<Act>> {
    let act = prop_oneof![
        4 => (0..clients, 0..4u8, any::<usize>())
            .prop_map(|(client, kind, pick)| Act::Edit { client, kind, pick }),
        1 => (0..clients).prop_map(Act::Connect),
        1 => (0..clients).prop_map(Act::Disconnect),
        2 => Just(Act::Deliver),
    ];
    proptest::collection::vec(act, 5..40)
}

fn random_edit(board: &mut Board, kind: u8, pick: usize) {
    let ids = board.z_order();
    let target = (!ids.is_empty()).then(|| ids[pick % ids.len()].clone());
    match (kind, target) {
        (0, _) | (_, None) => {
            board
                .create(NewElement::sticky(pick as f64 % 500.0, 0.0, "n"))
                .unwrap();
        }
        (1, Some(id)) => board.move_by(&[id.as_str()], 3.0, -2.0).unwrap(),
        (2, Some(id)) => {
            let _ = board.insert_text(&id, 0, "é");
        }
        (_, Some(id)) => board.delete(&[id.as_str()]).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Clients edit, drop off and come back at random while bytes arrive in
    /// random chunks; once everyone is connected and the network is quiet,
    /// every board equals the room's.
    #[test]
    fn random_sessions_converge(seed in any::<u64>(), script in acts(3)) {
        let mut net = Net::new(seed, Limits::DEFAULT);
        let ids: Vec<usize> = (0..3)
            .map(|i| net.add_client(Board::with_client_id(1000 + i), "room-a", "edit-a"))
            .collect();
        for &c in &ids {
            net.connect(c);
        }
        for act in script {
            match act {
                Act::Edit { client, kind, pick } => {
                    random_edit(&mut net.clients[client].board, kind, pick);
                }
                Act::Connect(c) => {
                    if net.clients[c].link.is_none() {
                        net.connect(c);
                    }
                }
                Act::Disconnect(c) => net.disconnect(c),
                Act::Deliver => {
                    net.run();
                }
            }
        }
        for &c in &ids {
            if net.clients[c].link.is_none() {
                net.connect(c);
            }
        }
        net.run();
        for &c in &ids {
            let synced = matches!(net.clients[c].session.state(), ClientState::Synced { .. });
            prop_assert!(synced, "client {} is {:?}", c, net.clients[c].session.state());
            prop_assert_eq!(net.clients[c].session.pending_local_changes(), 0);
        }
        assert_converged(&net, &ids, "room-a");
    }

    /// Any sequence of well-formed frames from a client leaves the member in
    /// a sane state and never panics.
    #[test]
    fn a_member_survives_any_frames(frames in proptest::collection::vec(arb_frame(), 0..12), join in any::<bool>()) {
        quiet_expected_panics();
        let t0 = std::time::Instant::now();
        let mut rooms = net::TestRooms::new();
        let mut member = ServerMember::new(1, 0, t0, Limits::DEFAULT);
        if join {
            member.receive(&Frame::Hello(Hello::new("room-a", "view-a", "x")).encode(), t0, &mut rooms);
        }
        for f in frames {
            member.handle_frame(f, t0, &mut rooms);
        }
        while member.poll_event().is_some() {}
        if let Some(room) = rooms.rooms.get("room-a") {
            // Only a viewer ever joined: the document is untouched.
            prop_assert!(room.board().is_empty());
        }
    }

    /// Random bytes into a member and a client session: errors, never panics.
    #[test]
    fn sessions_survive_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..300), after_join in any::<bool>()) {
        quiet_expected_panics();
        let t0 = std::time::Instant::now();
        let mut rooms = net::TestRooms::new();
        let mut member = ServerMember::new(1, 0, t0, Limits::DEFAULT);
        if after_join {
            member.receive(&Frame::Hello(Hello::new("room-a", "edit-a", "x")).encode(), t0, &mut rooms);
        }
        member.receive(&bytes, t0, &mut rooms);
        member.connection_lost(&mut rooms);
        while member.poll_event().is_some() {}

        let mut board = Board::with_client_id(1);
        let mut session = touchpoint_crdt::protocol::ClientSession::new(
            &board,
            Hello::new("room-a", "edit-a", "x"),
            Limits::DEFAULT,
        )
        .unwrap();
        session.connect();
        if after_join {
            let welcome = Frame::Welcome(Welcome { version: 1, role: Role::Editor, channel: 0 });
            session.receive(&welcome.encode(), &mut board);
        }
        session.receive(&bytes, &mut board);
        while session.poll_transmit().is_some() {}
        session.stream_finished();
    }
}

#[test]
fn an_empty_room_has_no_meta_of_its_own() {
    // The server must not race the first client's title and schema.
    let room = Room::empty();
    assert!(!room.board().looks_like_board());
    let mut rooms = net::TestRooms::new();
    assert!(rooms.room_mut("room-a").is_none());
}
