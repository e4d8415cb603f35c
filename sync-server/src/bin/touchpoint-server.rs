//! `touchpoint-server`: the sync server, and `share` to print a room's link.
//!
//! ```text
//! touchpoint-server --listen 0.0.0.0:4433 --data /var/lib/touchpoint
//! touchpoint-server share "Journey map" --role editor --expires 7d --host board.example.org:4433 --data /var/lib/touchpoint
//! ```
//!
//! Once listening it prints one line on stderr:
//! `touchpoint-server: listening on ADDR, certificate sha256 HEX (self-signed|from PEM files), data in DIR`.
//! SIGINT or SIGTERM stops it gracefully (members get `going_away`,
//! storage is flushed). Errors are one line on stderr and a non-zero exit;
//! a user's mistake never shows a panic trace.

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use touchpoint_crdt::protocol::{Limits, Role};
use touchpoint_sync::link::hex;
use touchpoint_sync::report::one_line;
use touchpoint_sync::server::{
    Certificate, Server, ServerConfig, ServerOptions, ShareRequest, WsTls, share_link,
    websocket_url,
};
use touchpoint_sync::token::parse_duration;

#[derive(Parser)]
#[command(
    name = "touchpoint-server",
    version,
    about = "Touchpoint's sync server: hosts shared boards over QUIC",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// UDP address to listen on, like 0.0.0.0:4433 or [::]:4433 (port 0
    /// picks a free port; the start-up line names it).
    #[arg(long, value_name = "ADDR", required = true)]
    listen: Option<String>,
    /// Directory for the rooms database, the token secret and the
    /// self-signed certificate (created if missing).
    #[arg(long, value_name = "DIR", required = true)]
    data: Option<PathBuf>,
    /// TCP address to also accept WebSocket members on (Yjs clients speaking
    /// y-websocket), like 127.0.0.1:4434: plain ws://, for loopback or
    /// behind a TLS reverse proxy. Same rooms, tokens and limits as QUIC.
    #[arg(long, value_name = "ADDR")]
    ws_listen: Option<String>,
    /// Serve wss:// on --ws-listen with this certificate chain (PEM), one
    /// the browsers of the participants trust; default: --cert's, else
    /// plain ws://.
    #[arg(long, value_name = "PEM", requires_all = ["ws_key", "ws_listen"])]
    ws_cert: Option<PathBuf>,
    /// The private key (PEM) of --ws-cert.
    #[arg(long, value_name = "PEM", requires = "ws_cert")]
    ws_key: Option<PathBuf>,
    /// Serve this certificate chain (PEM) instead of the self-signed one.
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Extra host name for the self-signed certificate when it is first
    /// created (repeatable; clients pin the fingerprint, so this matters
    /// only to other tools).
    #[arg(long = "cert-name", value_name = "NAME")]
    cert_names: Vec<String>,
    /// Largest frame a client may send (bytes; K, M, G suffixes are binary).
    #[arg(long, value_name = "BYTES", default_value = "33M", value_parser = parse_bytes)]
    max_frame_bytes: u64,
    /// Largest board (document) per room, in bytes of its Yjs encoding.
    #[arg(long, value_name = "BYTES", default_value = "32M", value_parser = parse_bytes)]
    max_doc_bytes: u64,
    /// Largest presence state (cursor, selection, gesture) one client may
    /// publish, in bytes of its JSON.
    #[arg(long, value_name = "BYTES", default_value = "16K", value_parser = parse_bytes)]
    max_presence_bytes: u64,
    /// Most presence (all states together) a room holds, in bytes of JSON.
    #[arg(long, value_name = "BYTES", default_value = "4M", value_parser = parse_bytes)]
    max_room_presence_bytes: u64,
    /// Bytes queued to one member and not yet read by it before it is cut
    /// off as too slow.
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_bytes)]
    max_send_queue_bytes: u64,
    /// Bytes of a room's updates waiting for storage before the room stops
    /// reading from its members until storage catches up.
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_bytes)]
    max_uncommitted_bytes: u64,
    /// Rooms held in memory at once.
    #[arg(long, value_name = "N", default_value_t = ServerOptions::DEFAULT.max_rooms)]
    max_rooms: usize,
    /// Members (connections joined) per room.
    #[arg(long, value_name = "N", default_value_t = ServerOptions::DEFAULT.max_members_per_room)]
    max_room_members: usize,
    /// QUIC connections per client IP address.
    #[arg(long, value_name = "N", default_value_t = ServerOptions::DEFAULT.max_connections_per_ip)]
    max_connections_per_ip: usize,
    /// Messages (frames and datagrams) per second per member, on average.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.messages_per_second)]
    messages_per_second: u32,
    /// Messages a member may send at once above that average.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.message_burst)]
    message_burst: u32,
    /// Unload a room from memory after it has had no members this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    room_idle: Duration,
    /// Drop a connection (and its members' presence) after hearing nothing
    /// from it this long.
    #[arg(long, value_name = "DURATION", default_value = "6s", value_parser = parse_duration)]
    idle_timeout: Duration,
}

#[derive(Subcommand)]
enum Command {
    /// Print a link that lets someone join ROOM (host, port, room, the
    /// certificate's fingerprint and a signed access token).
    Share(ShareArgs),
}

#[derive(clap::Args)]
struct ShareArgs {
    /// The room (board) to share.
    room: String,
    /// What the link allows: editors change the board, viewers only watch.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// How long the link works, like 30m, 12h, 7d or 2w (default: until the
    /// server's token secret is replaced).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    expires: Option<Duration>,
    /// HOST:PORT clients connect to (default: the address the server with
    /// this data directory last listened on, else localhost:4433).
    #[arg(long, value_name = "HOST:PORT")]
    host: Option<String>,
    /// The server's data directory (holds the token secret and certificate).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The certificate the server serves with --cert: the link then pins
    /// nothing and clients check the certificate against their system roots.
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Editor,
    Viewer,
}

fn main() -> ExitCode {
    init_logging();
    touchpoint_crdt::panics::quiet_caught_engine_panics();
    let args = Args::parse();
    let result = match args.command {
        Some(Command::Share(share)) => print_share_link(share),
        None => serve(args.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("touchpoint-server: {}", one_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

#[allow(
    clippy::print_stdout,
    reason = "the link is the command's output, printed alone on stdout"
)]
fn print_share_link(args: ShareArgs) -> anyhow::Result<()> {
    let data_dir = args.data.clone();
    let link = share_link(&ShareRequest {
        data_dir: args.data,
        room: args.room,
        role: match args.role {
            RoleArg::Editor => Role::Editor,
            RoleArg::Viewer => Role::Viewer,
        },
        expires_in: args.expires,
        host: args.host,
        cert: args.cert,
    })?;
    println!("{link}");
    // The same room and token for Yjs clients, when the server listens for
    // WebSockets.
    if let Some(url) = websocket_url(&data_dir, &link) {
        println!("{url}");
    }
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (Some(listen), Some(data)) = (args.listen, args.data) else {
        bail!("--listen ADDR and --data DIR are required (see --help)");
    };
    let listen = parse_listen(&listen)?;
    let ws_listen = args
        .ws_listen
        .as_deref()
        .map(parse_listen)
        .transpose()
        .context("--ws-listen")?;
    let max_frame = u32::try_from(args.max_frame_bytes)
        .ok()
        .filter(|&n| n >= 1024)
        .context("--max-frame-bytes must be from 1K to 4095M")?;
    let max_doc = usize::try_from(args.max_doc_bytes).context("--max-doc-bytes is too large")?;
    if u64::from(max_frame) < args.max_doc_bytes {
        bail!(
            "--max-frame-bytes ({max_frame}) must be at least --max-doc-bytes ({max_doc}), so that a whole board fits in one frame"
        );
    }
    if args.messages_per_second == 0 {
        bail!("--messages-per-second must be at least 1");
    }
    let bytes_flag = |flag: &str, value: u64, min: u64| -> anyhow::Result<usize> {
        match usize::try_from(value) {
            Ok(n) if value >= min => Ok(n),
            _ => bail!("{flag} must be at least {min} bytes"),
        }
    };
    let max_presence = bytes_flag("--max-presence-bytes", args.max_presence_bytes, 256)?;
    let max_room_presence = bytes_flag(
        "--max-room-presence-bytes",
        args.max_room_presence_bytes,
        256,
    )?;
    if max_room_presence < max_presence {
        bail!(
            "--max-room-presence-bytes ({max_room_presence}) must be at least --max-presence-bytes ({max_presence})"
        );
    }
    let max_send_queue = bytes_flag(
        "--max-send-queue-bytes",
        args.max_send_queue_bytes,
        64 << 10,
    )?;
    let max_uncommitted = bytes_flag(
        "--max-uncommitted-bytes",
        args.max_uncommitted_bytes,
        64 << 10,
    )?;
    for (flag, value) in [
        ("--max-rooms", args.max_rooms),
        ("--max-room-members", args.max_room_members),
        ("--max-connections-per-ip", args.max_connections_per_ip),
    ] {
        if value == 0 {
            bail!("{flag} must be at least 1");
        }
    }
    let keep_alive = (args.idle_timeout / 4).max(Duration::from_millis(250));
    let options = ServerOptions::DEFAULT
        .with_limits(
            Limits::DEFAULT
                .with_max_frame_len(max_frame)
                .with_max_doc_len(max_doc)
                .with_message_rate(args.messages_per_second, args.message_burst)
                .with_max_presence_bytes(max_presence)
                .with_max_room_presence_bytes(max_room_presence),
        )
        .with_max_send_queue_bytes(max_send_queue)
        .with_max_uncommitted_bytes(max_uncommitted)
        .with_max_rooms(args.max_rooms)
        .with_max_members_per_room(args.max_room_members)
        .with_max_connections_per_ip(args.max_connections_per_ip)
        .with_room_idle(args.room_idle)
        .with_idle_timeout(args.idle_timeout, keep_alive);
    let ws_tls = match (&args.ws_cert, &args.ws_key, &args.cert, &args.key) {
        (Some(cert), Some(key), _, _) | (None, None, Some(cert), Some(key)) => Some(WsTls {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    }
    .filter(|_| ws_listen.is_some());
    let certificate = match (args.cert, args.key) {
        (Some(cert), Some(key)) => Certificate::Pem { cert, key },
        _ => Certificate::SelfSigned {
            names: args.cert_names,
        },
    };
    let config = ServerConfig {
        listen,
        ws_listen,
        ws_tls,
        data_dir: data.clone(),
        certificate,
        options,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        let server = Server::start(config).await?;
        eprintln!(
            "touchpoint-server: listening on {}, certificate sha256 {} ({}), data in {}",
            server.local_addr(),
            hex(&server.fingerprint()),
            if server.is_self_signed() {
                "self-signed"
            } else {
                "from PEM files"
            },
            data.display()
        );
        if let Some(ws) = server.ws_addr() {
            let scheme = if server.ws_tls() { "wss" } else { "ws" };
            eprintln!("touchpoint-server: WebSocket members on {scheme}://{ws}");
        }
        let signal = wait_for_signal().await?;
        tracing::info!("{signal} received");
        server.shutdown().await?;
        Ok(())
    })
}

/// `0.0.0.0:4433`, `[::]:4433`, or a name that resolves (`localhost:4433`).
fn parse_listen(s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let mut addrs = s
        .to_socket_addrs()
        .with_context(|| format!("--listen {s:?} is not an address like 0.0.0.0:4433"))?;
    addrs
        .next()
        .with_context(|| format!("--listen {s:?} resolves to no address"))
}

/// A byte count: a number with an optional binary suffix (K, M, G; `KiB`
/// and `MB` forms accepted, all binary).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, suffix) = t.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 65536, 512K or 32M"))?;
    let unit: u64 = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("{s:?}: the suffix must be K, M or G")),
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn wait_for_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot watch Ctrl-C")?;
        Ok("Ctrl-C")
    }
}

/// Logs go to stderr; `RUST_LOG` overrides the default level (info: joins,
/// leaves, refusals, room loads).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("65536"), Ok(65536));
        assert_eq!(parse_bytes("512K"), Ok(512 << 10));
        assert_eq!(parse_bytes("32M"), Ok(32 << 20));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("2mb"), Ok(2 << 20));
        for bad in ["", "M", "1T", "-1", "1.5M", "99999999999999999999G"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("0.0.0.0:4433").unwrap(),
            "0.0.0.0:4433".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_listen("[::]:4433").unwrap().is_ipv6());
        assert_eq!(parse_listen("localhost:4433").unwrap().port(), 4433);
        for bad in ["4433", "nope", "1.2.3.4:99999", ""] {
            assert!(parse_listen(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn command_line_parses() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        let args = Args::try_parse_from([
            "touchpoint-server",
            "share",
            "Room",
            "--role",
            "viewer",
            "--expires",
            "12h",
            "--data",
            "/tmp/x",
        ])
        .unwrap();
        assert!(matches!(args.command, Some(Command::Share(_))));
        assert!(Args::try_parse_from(["touchpoint-server", "--listen", "0.0.0.0:1"]).is_err());
        assert!(
            Args::try_parse_from(["touchpoint-server", "--listen", "0.0.0.0:1", "--data", "d"])
                .is_ok()
        );
    }
}
