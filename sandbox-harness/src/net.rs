//! Network grants: which socket addresses a WASI 0.2 guest may use.
//!
//! wasmtime-wasi asks a `socket_addr_check` before every bind, connect, listen, accept and
//! datagram; it sees addresses, never host names, so a grant is an `IP:port` (or `IP:*`).
//! Everything not granted is refused, and every address asked about is recorded.

use std::net::{IpAddr, SocketAddr};

use wasmtime_wasi::sockets::SocketAddrUse;

/// One `[sandbox] network` grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetGrant {
    pub ip: IpAddr,
    /// `None` for `IP:*`, any port.
    pub port: Option<u16>,
}

impl std::str::FromStr for NetGrant {
    type Err = String;

    /// `127.0.0.1:8080`, `[::1]:8080` or `127.0.0.1:*`.
    fn from_str(s: &str) -> Result<NetGrant, String> {
        let bad = || {
            format!(
                "network grant {s:?} is not IP:PORT or IP:* (wasmtime-wasi checks addresses, not host names)"
            )
        };
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(NetGrant {
                ip: a.ip(),
                port: Some(a.port()),
            });
        }
        let host = s.strip_suffix(":*").ok_or_else(bad)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let ip = host.parse::<IpAddr>().map_err(|_| bad())?;
        Ok(NetGrant { ip, port: None })
    }
}

impl NetGrant {
    fn matches(&self, a: SocketAddr) -> bool {
        self.ip == a.ip() && self.port.is_none_or(|p| p == a.port())
    }
}

/// Kebab-case name of an address use, as the trace shows it.
pub fn use_name(u: SocketAddrUse) -> &'static str {
    match u {
        SocketAddrUse::TcpBind => "tcp-bind",
        SocketAddrUse::TcpListen => "tcp-listen",
        SocketAddrUse::TcpAccept => "tcp-accept",
        SocketAddrUse::TcpConnect => "tcp-connect",
        SocketAddrUse::UdpBind => "udp-bind",
        SocketAddrUse::UdpSend => "udp-send",
        SocketAddrUse::UdpReceive => "udp-receive",
    }
}

/// Whether `grants` allow `addr` for `u`. An implicit bind (the unspecified address, port 0,
/// which wasmtime-wasi checks before a connect, listen or send) is allowed: it confers nothing
/// alone, and refusing it would hide the address the guest goes on to use, which is checked
/// (and recorded) next. An accepted client matches a grant by IP alone (its port is the
/// client's ephemeral one).
pub fn allowed(grants: &[NetGrant], addr: SocketAddr, u: SocketAddrUse) -> bool {
    match u {
        SocketAddrUse::TcpBind | SocketAddrUse::UdpBind
            if addr.ip().is_unspecified() && addr.port() == 0 =>
        {
            true
        }
        SocketAddrUse::TcpAccept => grants.iter().any(|g| g.ip == addr.ip()),
        _ => grants.iter().any(|g| g.matches(addr)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_and_match_exactly() {
        let g: NetGrant = "127.0.0.1:8080".parse().unwrap();
        let any: NetGrant = "[::1]:*".parse().unwrap();
        assert!("localhost:80".parse::<NetGrant>().is_err());
        assert!("127.0.0.1".parse::<NetGrant>().is_err());
        let c = SocketAddrUse::TcpConnect;
        assert!(allowed(&[g], "127.0.0.1:8080".parse().unwrap(), c));
        assert!(!allowed(&[g], "127.0.0.1:8081".parse().unwrap(), c));
        assert!(!allowed(&[g], "127.0.0.2:8080".parse().unwrap(), c));
        assert!(allowed(&[any], "[::1]:9".parse().unwrap(), c));
        let implicit = "0.0.0.0:0".parse().unwrap();
        assert!(allowed(&[g], implicit, SocketAddrUse::TcpBind));
        assert!(allowed(&[], implicit, SocketAddrUse::TcpBind));
        // ... but not a bind to a chosen port.
        let chosen = "0.0.0.0:8080".parse().unwrap();
        assert!(!allowed(&[], chosen, SocketAddrUse::TcpBind));
        assert!(!allowed(&[], "127.0.0.1:8080".parse().unwrap(), c));
    }
}
