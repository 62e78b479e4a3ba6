//! The SMTP server named by `YIFEI_SMTP_URL`, and the lettre transport and messages built from
//! it.
//!
//! The URL is parsed here rather than by lettre's `from_url` so that errors can name what is
//! wrong without echoing the URL (it may carry a password), so that `tls=` is checked against
//! the scheme, and so that credentials never travel in clear unless the URL says `tls=none`.

use std::fmt;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use crate::error::ApiError;

/// How long one SMTP conversation may stall before the attempt counts as failed: a server
/// that drops packets must not hold the worker (and its leased rows) for lettre's default
/// minute per message.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    /// Plain text: only for a relay on loopback or a trusted network.
    None,
    /// STARTTLS on a plain connection, and refuse to send if the server does not offer it
    /// (no silent downgrade).
    StartTls,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicit,
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::None => "no TLS",
            Security::StartTls => "STARTTLS",
            Security::Implicit => "implicit TLS",
        })
    }
}

/// A parsed `YIFEI_SMTP_URL`. `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    password: Option<String>,
    /// Name sent in EHLO (the URL's path), when the machine's host name will not do.
    pub hello: Option<String>,
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.security {
            Security::Implicit => "smtps",
            _ => "smtp",
        };
        write!(f, "{scheme}://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}:***@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        write!(f, " ({})", self.security)
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn bad(what: impl fmt::Display) -> ApiError {
    ApiError::Config(format!("YIFEI_SMTP_URL {what}"))
}

impl SmtpUrl {
    /// `smtp://[user:pass@]host[:port][/helo-name][?tls=none|starttls|required]` or
    /// `smtps://[user:pass@]host[:port]`.
    ///
    /// `tls=required` is lettre's spelling of `starttls`. Without `tls=`, `smtp://` is plain
    /// text unless the URL carries credentials, in which case STARTTLS is required: a password
    /// goes over plain text only when `tls=none` says so. Default ports: 25 plain, 587 STARTTLS,
    /// 465 implicit TLS. User and password are percent-decoded.
    pub fn parse(url: &str) -> Result<SmtpUrl, ApiError> {
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("must start with smtp:// or smtps://"))?;
        let implicit = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(bad(format_args!("has an unknown scheme {other:?}"))),
        };
        if rest.contains('#') {
            return Err(bad("must not have a #fragment"));
        }
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p.trim_matches('/')),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = u
                    .split_once(':')
                    .ok_or_else(|| bad("has a user name but no password (user:password@host)"))?;
                let user = percent_decode(user).ok_or_else(|| bad("has a malformed user name"))?;
                let pass = percent_decode(pass).ok_or_else(|| bad("has a malformed password"))?;
                if user.is_empty() {
                    return Err(bad("has a password but no user name"));
                }
                (Some(user), Some(pass))
            }
        };
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err(bad("has no host"));
        }

        let mut tls = None;
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            match pair.split_once('=') {
                Some(("tls", v)) if tls.is_none() => tls = Some(v.to_ascii_lowercase()),
                Some(("tls", _)) => return Err(bad("repeats tls=")),
                _ => {
                    let key = pair.split('=').next().unwrap_or_default();
                    return Err(bad(format_args!(
                        "has an unknown parameter {key:?} (only tls=none|starttls|required)"
                    )));
                }
            }
        }
        let security = match (implicit, tls.as_deref()) {
            (true, None | Some("required")) => Security::Implicit,
            (true, Some(other)) => {
                return Err(bad(format_args!(
                    "uses smtps:// (implicit TLS), which contradicts tls={other}"
                )));
            }
            (false, Some("none")) => Security::None,
            (false, Some("starttls" | "required")) => Security::StartTls,
            (false, None) if password.is_some() => Security::StartTls,
            (false, None) => Security::None,
            (false, Some(other)) => {
                return Err(bad(format_args!(
                    "has tls={other}; use none, starttls or required"
                )));
            }
        };
        let port = port.unwrap_or(match security {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Implicit => 465,
        });
        Ok(SmtpUrl {
            host,
            port,
            security,
            user,
            password,
            hello: (!path.is_empty()).then(|| path.to_owned()),
        })
    }

    /// A blocking transport: one connection per message, which is plenty for alerts and a
    /// daily digest and leaves no pooled connection to go stale between polls.
    pub fn transport(&self) -> Result<SmtpTransport, ApiError> {
        let tls_params = || {
            TlsParameters::new(self.host.clone())
                .map_err(|e| ApiError::Config(format!("SMTP TLS setup failed: {e}")))
        };
        let tls = match self.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(tls_params()?),
            Security::Implicit => Tls::Wrapper(tls_params()?),
        };
        let mut builder = SmtpTransport::builder_dangerous(self.host.as_str())
            .port(self.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        if let Some(name) = &self.hello {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        Ok(builder.build())
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the host comes back without brackets.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), ApiError> {
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(format_args!("has an invalid port {p:?}")))
    };
    if let Some(v6) = s.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("has an unclosed [IPv6] host"))?;
        let port = match after {
            "" => None,
            p => Some(parse_port(
                p.strip_prefix(':')
                    .ok_or_else(|| bad("has junk after the [IPv6] host"))?,
            )?),
        };
        return Ok((host.to_owned(), port));
    }
    match s.split_once(':') {
        Some((h, p)) => Ok((h.to_owned(), Some(parse_port(p)?))),
        None => Ok((s.to_owned(), None)),
    }
}

/// RFC 3986 percent-decoding into UTF-8; `None` on a malformed escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses a sender or recipient, e.g. `Yifei <noreply@yifei.local>` or `a@b.cn`.
pub(crate) fn mailbox(s: &str) -> Result<Mailbox, String> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("invalid address {:?}: {e}", s.trim()))
}

/// The plain-text message of one outbox row. Its Message-ID derives from the row id, so if a
/// crash between "server accepted" and "row marked sent" leads to a second send, mail clients
/// can recognise the copy.
pub(crate) fn message(
    from: &Mailbox,
    id: &str,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<Message, String> {
    let to = mailbox(to)?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{id}@{}>", from.email.domain())))
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .map_err(|e| format!("cannot build the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> SmtpUrl {
        SmtpUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn err(url: &str) -> String {
        match SmtpUrl::parse(url) {
            Ok(u) => panic!("{url} was accepted as {u}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn plain_url_with_port() {
        let u = ok("smtp://127.0.0.1:2525");
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 2525));
        assert_eq!(u.security, Security::None);
        assert_eq!(u.user, None);
        assert_eq!(ok("smtp://mail.example").port, 25);
    }

    #[test]
    fn starttls_with_credentials_and_defaults() {
        let u = ok("smtp://alerts%40bureau:p%40ss%3Aw@mail.example:587?tls=starttls");
        assert_eq!(u.security, Security::StartTls);
        assert_eq!(u.user.as_deref(), Some("alerts@bureau"));
        assert_eq!(u.password.as_deref(), Some("p@ss:w"));
        assert_eq!(ok("smtp://mail.example?tls=required").port, 587);
        // Credentials without tls= never go out in clear.
        assert_eq!(ok("smtp://u:p@mail.example").security, Security::StartTls);
        assert_eq!(
            ok("smtp://u:p@127.0.0.1:25?tls=none").security,
            Security::None
        );
    }

    #[test]
    fn implicit_tls_ipv6_and_helo_name() {
        let u = ok("smtps://mail.example");
        assert_eq!((u.port, u.security), (465, Security::Implicit));
        let u = ok("smtp://[::1]:2525/yifei.example");
        assert_eq!((u.host.as_str(), u.port), ("::1", 2525));
        assert_eq!(u.hello.as_deref(), Some("yifei.example"));
    }

    #[test]
    fn mistakes_are_named_without_the_password() {
        for (url, says) in [
            ("mailto:x@y", "smtp://"),
            ("http://host", "unknown scheme"),
            ("smtp://host:99999", "invalid port"),
            ("smtp://host?tls=maybe", "tls=maybe"),
            ("smtp://host?tsl=none", "unknown parameter"),
            ("smtps://host?tls=none", "contradicts"),
            ("smtp://user@host", "no password"),
            ("smtp://u:p%zz@host", "malformed password"),
            ("smtp://:5", "no host"),
        ] {
            let e = err(url);
            assert!(e.contains(says), "{url}: {e}");
        }
        let e = err("smtp://u:s3cret@host:0");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn display_hides_the_password() {
        let u = ok("smtp://alerts:s3cret@mail.example:587?tls=starttls");
        let shown = format!("{u} {u:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("alerts:***@mail.example:587"), "{shown}");
    }

    #[test]
    fn messages_carry_a_stable_message_id() {
        let from = mailbox("Yifei <noreply@yifei.local>").expect("from");
        let m = message(&from, "0190-abc", "站长 <a@clinic.cn>", "告警", "正文").expect("msg");
        let raw = String::from_utf8(m.formatted()).expect("utf8");
        assert!(raw.contains("Message-ID: <0190-abc@yifei.local>"), "{raw}");
        assert!(message(&from, "x", "not an address", "s", "b").is_err());
    }
}
