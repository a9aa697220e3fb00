//! Where Rust tests find the databases `scripts/test` prepared.
//!
//! `scripts/test` starts a throwaway PostgreSQL (SCRAM-SHA-256 only), loads
//! keel's own fixture into the `music` database and, when the public datasets
//! are present, Chinook into `chinook`; it exports their URLs. Run without it
//! (a bare `cargo test`), tests that need a server print one line and return;
//! with `KEEL_REQUIRE_DB=1`, as scripts/test sets, a missing server fails them.

/// URL of the `music` fixture database, or `None` after printing why the test is skipped.
pub fn database_url() -> Option<String> {
    lookup(
        "KEEL_TEST_DATABASE_URL",
        "no PostgreSQL for this test",
        true,
    )
}

/// URL of the Chinook database, or `None` after printing why the test is
/// skipped. Chinook is optional even in CI: a fresh clone has no datasets.
pub fn chinook_url() -> Option<String> {
    lookup(
        "KEEL_TEST_CHINOOK_URL",
        "Chinook dataset not loaded (set KEEL_DATASETS or place it in ../shared/datasets, then run scripts/test)",
        false,
    )
}

/// URL of the Pagila database, or `None` after printing why the test is
/// skipped. Optional like Chinook.
pub fn pagila_url() -> Option<String> {
    lookup(
        "KEEL_TEST_PAGILA_URL",
        "Pagila dataset not loaded (scripts/pg load <dir> pagila, then export KEEL_TEST_PAGILA_URL)",
        false,
    )
}

fn lookup(var: &str, why: &str, required_in_ci: bool) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if required_in_ci && std::env::var("KEEL_REQUIRE_DB").as_deref() == Ok("1") {
                panic!(
                    "{var} is not set but KEEL_REQUIRE_DB=1: run the tests through scripts/test"
                );
            }
            println!("skipping: {why} ({var} is not set; run scripts/test)");
            None
        }
    }
}

/// Restarts the throwaway server (`pg_ctl restart -m fast`, keeping its
/// port and options), for fault tests. `None` after printing why when the
/// server was not started by `scripts/pg` (`KEEL_PG_DIR` unset); an `Err`
/// when the restart itself failed.
pub fn restart_server() -> Option<Result<(), String>> {
    let Ok(dir) = std::env::var("KEEL_PG_DIR") else {
        println!("skipping: KEEL_PG_DIR is not set, so the server cannot be restarted (run scripts/test)");
        return None;
    };
    Some(restart_in(&dir))
}

fn restart_in(dir: &str) -> Result<(), String> {
    let pg_ctl = pg_ctl().ok_or("no pg_ctl found under /usr/lib/postgresql/*/bin or on PATH")?;
    let data = format!("{dir}/data");
    let args = [
        "-D",
        data.as_str(),
        "-w",
        "-t",
        "60",
        "-m",
        "fast",
        "restart",
    ];
    // initdb and postgres refuse to run as root; scripts/pg runs them as `postgres`.
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let mut command = if is_root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&pg_ctl).args(args);
        c
    } else {
        let mut c = std::process::Command::new(&pg_ctl);
        c.args(args);
        c
    };
    let output = command
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", pg_ctl.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "pg_ctl restart failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn pg_ctl() -> Option<std::path::PathBuf> {
    let mut candidates: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/pg_ctl"))
        .filter(|path| path.is_file())
        .collect();
    candidates.sort();
    candidates.pop().or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("pg_ctl"))
                .find(|path| path.is_file())
        })
    })
}

/// Parts of a `postgres://user:password@host:port/database` URL, for tests
/// that open raw sockets or need to alter the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: u16,
    pub database: String,
}

impl PgUrl {
    /// Parses the URLs scripts/test writes; it is not a general URL parser
    /// (no percent-decoding, no query string).
    pub fn parse(url: &str) -> Option<PgUrl> {
        let rest = url.strip_prefix("postgres://")?;
        let (userinfo, rest) = rest.split_once('@')?;
        let (user, password) = userinfo.split_once(':')?;
        let (hostport, database) = rest.split_once('/')?;
        let (host, port) = hostport.rsplit_once(':')?;
        Some(PgUrl {
            user: user.to_owned(),
            password: password.to_owned(),
            host: host.to_owned(),
            port: port.parse().ok()?,
            database: database.to_owned(),
        })
    }

    pub fn to_url(&self) -> String {
        format!(
            "postgres://{}:{}@{}:{}/{}",
            self.user, self.password, self.host, self.port, self.database
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_harness_urls() {
        let url = PgUrl::parse("postgres://postgres:keel-ab12@127.0.0.1:45387/music").unwrap();
        assert_eq!(url.port, 45387);
        assert_eq!(url.database, "music");
        assert_eq!(
            url.to_url(),
            "postgres://postgres:keel-ab12@127.0.0.1:45387/music"
        );
        assert!(PgUrl::parse("postgres://host/db").is_none());
    }
}
