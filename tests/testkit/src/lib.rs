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
