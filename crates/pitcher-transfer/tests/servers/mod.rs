//! Real servers on 127.0.0.1 for the SFTP and FTP tests: a private OpenSSH `sshd` (run as the
//! current user, throwaway host key, generated authorized_keys) and pyftpdlib (from the venv
//! `.ci/run` creates at `$HOME/.cache/pitcher-venv`, or `$PITCHER_VENV`).
//!
//! When a server cannot be started the tests skip with a printed reason, unless `CI` is set:
//! then they fail.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pitcher_transfer::{RemoteCredentials, RemoteOptions};

/// `false` (and a printed reason) when a test must skip; panics instead when `CI` is set.
pub fn unavailable(what: &str, why: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is needed and CI is set, but: {why} (see .ci/run)");
    }
    eprintln!("SKIPPED: {what}: {why}");
    false
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_port(port: u16, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_millis(200),
        )
        .is_ok()
        {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listens on port {port} after 20 s"))
}

/// Every descendant of `pid` (from /proc), deepest last.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ..."; comm may contain spaces: split after the last ')'.
            let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else {
                continue;
            };
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, parent) in &parent_of {
            if parent == p {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

fn kill9(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".into())
}

pub struct Sshd {
    child: Child,
    bin: String,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub user: String,
    /// The SFTP start (login) directory: relative paths land here.
    pub root: PathBuf,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
}

impl Sshd {
    /// A private sshd on 127.0.0.1, or `None` (test skipped) when OpenSSH is not installed.
    pub fn start() -> Option<Sshd> {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).is_file());
        let Some(sshd) = sshd else {
            unavailable(
                "OpenSSH sshd",
                "not installed (apt-get install openssh-server)",
            );
            return None;
        };
        match Self::try_start(sshd) {
            Ok(s) => Some(s),
            Err(why) => {
                unavailable("OpenSSH sshd", &why);
                None
            }
        }
    }

    fn try_start(sshd: &str) -> Result<Sshd, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        let root = d.join("home");
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        for (name, kind) in [("host_key", "ed25519"), ("client_key", "ed25519")] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", kind, "-N", "", "-C", "pitcher-test", "-f"])
                .arg(d.join(name)))?;
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .map_err(|e| e.to_string())?;
        let port = free_port();
        let host_pub =
            std::fs::read_to_string(d.join("host_key.pub")).map_err(|e| e.to_string())?;
        let mut parts = host_pub.split_whitespace();
        let (algo, b64) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let known_hosts = d.join("known_hosts");
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {algo} {b64}\n"))
            .map_err(|e| e.to_string())?;
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\n\
             AuthorizedKeysFile {ak}\nUsePAM no\nStrictModes no\nPermitRootLogin yes\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\nLogLevel INFO\n\
             MaxStartups 50\nSubsystem sftp internal-sftp -d {root}\n",
            hk = d.join("host_key").display(),
            pid = d.join("sshd.pid").display(),
            ak = d.join("authorized_keys").display(),
            root = root.display(),
        );
        std::fs::write(d.join("sshd_config"), config).map_err(|e| e.to_string())?;
        // sshd insists on its privilege separation directory when run as root.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = spawn_sshd(sshd, &d.join("sshd_config"), port)?;
        Ok(Sshd {
            child,
            bin: sshd.to_owned(),
            port,
            user: current_user(),
            root,
            key: d.join("client_key"),
            known_hosts,
            dir,
        })
    }

    /// `sftp://user@127.0.0.1:port/<path>` (relative to the login directory unless `path`
    /// starts with `/`).
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!(
            "sftp://{}@127.0.0.1:{}/{path}",
            self.user, self.port
        ))
        .expect("url")
    }

    pub fn options(&self, timeout: Duration) -> RemoteOptions {
        RemoteOptions {
            timeout,
            credentials: RemoteCredentials {
                ssh_keyfile: Some(self.key.clone()),
                ..Default::default()
            },
            known_hosts: Some(self.known_hosts.clone()),
            ..Default::default()
        }
    }

    /// Logins so far (sshd logs "Accepted publickey ..." per successful one).
    pub fn logins(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("sshd.log"))
            .unwrap_or_default()
            .matches("Accepted ")
            .count()
    }

    /// Kill the server (and its sessions), then start it again on the same port and host key.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_sshd(&self.bin, &self.dir.path().join("sshd_config"), self.port)
            .expect("sshd restarts");
    }

    /// Freeze the server's session processes (SIGSTOP): connections stay open, nothing moves.
    pub fn freeze_sessions(&self) {
        for p in descendants(self.child.id()) {
            signal(p, "-STOP");
        }
    }

    /// Kill the server and every session process it forked (SIGKILL).
    pub fn kill(&mut self) {
        for p in descendants(self.child.id()).into_iter().rev() {
            kill9(p);
        }
        kill9(self.child.id());
        let _ = self.child.wait();
    }
}

fn spawn_sshd(bin: &str, config: &Path, port: u16) -> Result<Child, String> {
    // sshd's own log (it complains about our port probes) goes to a file beside the config.
    let log_path = config.with_file_name("sshd.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(bin)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{bin}: {e}"))?;
    if let Err(e) = wait_port(port, &mut child) {
        kill9(child.id());
        let _ = child.wait();
        let said = std::fs::read_to_string(&log_path).unwrap_or_default();
        return Err(format!("sshd did not start: {e}: {}", said.trim()));
    }
    Ok(child)
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where pyftpdlib is: `$PITCHER_VENV/bin/python`, else `$HOME/.cache/pitcher-venv/bin/python`.
fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("PITCHER_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pitcher-venv"))
        })?;
    let py = venv.join("bin/python");
    py.is_file().then_some(py)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FtpMode {
    Plain,
    Explicit,
    Implicit,
}

pub struct Ftpd {
    child: Child,
    py: PathBuf,
    mlst: bool,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub root: PathBuf,
    pub user: String,
    pub password: String,
    pub mode: FtpMode,
}

impl Ftpd {
    /// A private pyftpdlib server on 127.0.0.1, or `None` (test skipped) when it is missing.
    pub fn start(mode: FtpMode, mlst: bool) -> Option<Ftpd> {
        let Some(py) = venv_python() else {
            unavailable(
                "pyftpdlib",
                "no venv at $HOME/.cache/pitcher-venv (.ci/run creates it: python3 -m venv, pip install pyftpdlib pyopenssl)",
            );
            return None;
        };
        match Self::try_start(&py, mode, mlst) {
            Ok(f) => Some(f),
            Err(why) => {
                unavailable("pyftpdlib", &why);
                None
            }
        }
    }

    fn try_start(py: &Path, mode: FtpMode, mlst: bool) -> Result<Ftpd, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        let cert = dir.path().join("cert.pem");
        if mode != FtpMode::Plain {
            run(Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                ])
                .args(["-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout"])
                .arg(&cert)
                .arg("-out")
                .arg(&cert))?;
        }
        let port = free_port();
        let (user, password) = ("pitcher".to_owned(), "s3cr3t-Pa55".to_owned());
        let child = spawn_ftpd(py, &root, port, &user, &password, mode, &cert, mlst)?;
        Ok(Ftpd {
            child,
            py: py.to_owned(),
            mlst,
            dir,
            port,
            root,
            user,
            password,
            mode,
        })
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("connections.log"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// Kill the server, then start it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let cert = self.dir.path().join("cert.pem");
        self.child = spawn_ftpd(
            &self.py,
            &self.root,
            self.port,
            &self.user,
            &self.password,
            self.mode,
            &cert,
            self.mlst,
        )
        .expect("ftpd restarts");
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_ftpd(
    py: &Path,
    root: &Path,
    port: u16,
    user: &str,
    password: &str,
    mode: FtpMode,
    cert: &Path,
    mlst: bool,
) -> Result<Child, String> {
    // Beside this file: from pitcher-transfer's tests, or another crate's including it by path.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = [
        here.join("tests/servers/ftpd.py"),
        here.join("../pitcher-transfer/tests/servers/ftpd.py"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| here.join("tests/servers/ftpd.py"));
    let mode_arg = match mode {
        FtpMode::Plain => "plain",
        FtpMode::Explicit => "explicit",
        FtpMode::Implicit => "implicit",
    };
    let mut cmd = Command::new(py);
    cmd.arg(script)
        .arg(root)
        .arg(port.to_string())
        .args([user, password, mode_arg]);
    if mode != FtpMode::Plain {
        cmd.arg(cert);
    }
    if !mlst {
        cmd.arg("--no-mlst");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", py.display()))?;
    let ready = child.stdout.take().map(|out| {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        line
    });
    if ready.as_deref().map(str::trim) != Some("ready") {
        kill9(child.id());
        let _ = child.wait();
        return Err("ftpd.py did not start (is pyftpdlib installed in the venv?)".into());
    }
    // "ready" comes after the listening socket is bound: no probe (it would count as a
    // connection).
    Ok(child)
}

impl Ftpd {
    /// `ftp://user@127.0.0.1:port/<path>` (`ftps://` for explicit TLS); no password inside.
    pub fn url(&self, path: &str) -> url::Url {
        let scheme = if self.mode == FtpMode::Explicit {
            "ftps"
        } else {
            "ftp"
        };
        url::Url::parse(&format!(
            "{scheme}://{}@127.0.0.1:{}/{path}",
            self.user, self.port
        ))
        .expect("url")
    }

    pub fn options(&self, timeout: Duration) -> RemoteOptions {
        RemoteOptions {
            timeout,
            credentials: RemoteCredentials {
                password: Some(self.password.clone()),
                implicit_tls: self.mode == FtpMode::Implicit,
                ..Default::default()
            },
            tls_verify: false,
            ..Default::default()
        }
    }

    pub fn kill(&mut self) {
        kill9(self.child.id());
        let _ = self.child.wait();
    }

    /// Freeze the server (SIGSTOP): connections stay open, nothing moves.
    pub fn freeze(&self) {
        signal(self.child.id(), "-STOP");
    }
}

impl Drop for Ftpd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and never says anything.
pub async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    (port, task)
}

/// Deterministic test content.
pub fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}
