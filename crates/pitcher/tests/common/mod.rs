//! Shared harness for tests that run real pumps: temporary trees, the real `pitcher` binary as
//! child processes, service checks (skip without CI, fail with CI=true).
#![allow(dead_code, clippy::unwrap_used)]

pub mod amqp;
pub mod mirror;
pub mod tap;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn service(addr: &str, what: &str) -> bool {
    let up = std::net::TcpStream::connect(addr).is_ok();
    if !up {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} is not running on {addr} and CI is set"
        );
        eprintln!("SKIPPED: {what} is not running on {addr}");
    }
    up
}

pub fn unique() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{:x}{:x}", t.as_nanos() & 0xffff_ffff, std::process::id())
}

/// A pump under test: config dir, state dir, and child processes killed on drop.
pub struct Pump {
    pub dir: tempfile::TempDir,
    pub children: Vec<(String, Child)>,
}

impl Pump {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for d in ["config", "state", "log"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Pump {
            dir,
            children: Vec::new(),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn config(&self, component: &str, name: &str, text: &str) {
        let d = self.path("config").join(component);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{name}.conf")), text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pitcher"));
        c.arg("--config-dir")
            .arg(self.path("config"))
            .args(args)
            .env("PITCHER_STATE_DIR", self.path("state"))
            .env_remove("PITCHER_CONFIG_DIR")
            .env_remove("RUST_LOG");
        // For diagnosis: `PITCHER_TEST_RUST_LOG=debug cargo test ...` runs the children at that level.
        if let Some(level) = std::env::var_os("PITCHER_TEST_RUST_LOG") {
            c.env("RUST_LOG", level);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Start `pitcher <args>` in the background, logging to log/<label>.log.
    pub fn spawn(&mut self, label: &str, args: &[&str]) {
        let log = std::fs::File::create(self.path("log").join(format!("{label}.log"))).unwrap();
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children.push((label.to_string(), child));
    }

    /// Start a server whose first stdout line ends with its address; returns that line.
    pub fn spawn_server(&mut self, label: &str, args: &[&str]) -> String {
        let log = std::fs::File::create(self.path("log").join(format!("{label}.log"))).unwrap();
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).unwrap();
        self.children.push((label.to_string(), child));
        line.trim().to_string()
    }

    pub fn log(&self, label: &str) -> String {
        std::fs::read_to_string(self.path("log").join(format!("{label}.log"))).unwrap_or_default()
    }

    /// SIGTERM a child and wait for it.
    pub fn stop(&mut self, label: &str) -> std::process::ExitStatus {
        let i = self.children.iter().position(|(l, _)| l == label).unwrap();
        let (_, mut c) = self.children.remove(i);
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return c.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL a child.
    pub fn kill9(&mut self, label: &str) {
        let i = self.children.iter().position(|(l, _)| l == label).unwrap();
        let (_, mut c) = self.children.remove(i);
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Regular files under `root` (not dot-files), relative paths, sorted.
pub fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file() && !e.file_name().to_string_lossy().starts_with('.') {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Everything under `root` including dot-files (relative paths).
pub fn all_entries(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

/// A tree of `n` files of varied sizes in nested directories; returns their relative paths.
pub fn make_tree(root: &Path, n: usize, big_every: usize, big: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D ^ n as u64;
    for i in 0..n {
        let rel = PathBuf::from(format!("d{}/e{}/f_{i:04}.bin", i % 5, i % 3));
        let p = root.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let size = if big_every > 0 && i % big_every == 0 {
            big
        } else {
            1 + (i * 131) % 5000
        };
        let mut data = Vec::with_capacity(size + 8);
        while data.len() < size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        data.truncate(size);
        std::fs::write(&p, &data).unwrap();
        out.push(rel);
    }
    out.sort();
    out
}

/// Wait until `cond` holds, up to `secs`.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

pub fn same_content(a: &Path, b: &Path) -> bool {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// relPath -> "dir", "link -> T" or the file's length and sum; dot-files are "hidden".
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if e.file_name().to_string_lossy().starts_with('.') {
                out.insert(rel, "hidden".into());
                continue;
            }
            let Ok(t) = e.file_type() else { continue };
            let what = if t.is_symlink() {
                format!(
                    "link -> {}",
                    std::fs::read_link(&p)
                        .map(|l| l.display().to_string())
                        .unwrap_or_default()
                )
            } else if t.is_dir() {
                stack.push(p.clone());
                "dir".into()
            } else {
                let data = std::fs::read(&p).unwrap_or_default();
                format!("{} bytes, sum {}", data.len(), amqp::sha512_b64(&data))
            };
            out.insert(rel, what);
        }
    }
    out
}

pub fn tree_diff(name: &str, a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> String {
    let mut s = String::new();
    for (k, v) in a {
        match b.get(k) {
            Some(w) if w == v => {}
            Some(w) => s += &format!("  {name}: {k}: {v} vs {w}\n"),
            None => s += &format!("  {name}: {k} missing ({v})\n"),
        }
    }
    for (k, w) in b {
        if !a.contains_key(k) {
            s += &format!("  {name}: {k} extra ({w})\n");
        }
    }
    s
}
