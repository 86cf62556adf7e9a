//! Development secrets: on a machine with nothing configured, a webhook signing secret and an
//! admin key are generated once and kept beside the SQLite database (mode 0600), so that the
//! service starts, and keeps accepting the same test webhooks and dashboard key, across
//! restarts.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;

use crate::config::ConfigError;

/// The two generated secrets.
#[derive(Clone)]
pub(crate) struct DevSecrets {
    pub(crate) webhook_secret: String,
    pub(crate) admin_key: String,
}

const WEBHOOK_VAR: &str = "CLERK_WEBHOOK_SECRET";
const ADMIN_VAR: &str = "ADMIN_API_KEY";

/// Read the secrets at `path`, or generate and write them when the file does not exist.
/// Returns them and whether they were created now.
pub(crate) fn load_or_create(path: &Path) -> Result<(DevSecrets, bool), ConfigError> {
    let fail = |reason: String| ConfigError::DevSecrets {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).map(|secrets| (secrets, false)).ok_or_else(|| {
            fail(format!(
                "cannot be parsed (expected {WEBHOOK_VAR}=... and {ADMIN_VAR}=... lines); \
                     delete it to generate new ones"
            ))
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let secrets = DevSecrets {
                webhook_secret: format!(
                    "whsec_{}",
                    base64::engine::general_purpose::STANDARD.encode(random::<24>()?)
                ),
                admin_key: format!(
                    "dev_admin_{}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::<24>()?)
                ),
            };
            write_private(path, &render(&secrets)).map_err(|e| fail(e.to_string()))?;
            Ok((secrets, true))
        }
        Err(error) => Err(fail(error.to_string())),
    }
}

fn random<const N: usize>() -> Result<[u8; N], ConfigError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ConfigError::DevSecrets {
        path: Path::new("-").to_path_buf(),
        reason: "the system's random number generator failed".to_owned(),
    })?;
    Ok(bytes)
}

fn render(secrets: &DevSecrets) -> String {
    format!(
        "# Development secrets of the clerk-sync reference service, generated on its first start\n\
         # because none were configured. Set CLERK_WEBHOOK_SECRET and ADMIN_API_KEY (and\n\
         # DATABASE_URL) in production; delete this file to generate new ones.\n\
         {WEBHOOK_VAR}={}\n{ADMIN_VAR}={}\n",
        secrets.webhook_secret, secrets.admin_key
    )
}

fn parse(text: &str) -> Option<DevSecrets> {
    let mut webhook_secret = None;
    let mut admin_key = None;
    for line in text.lines().map(str::trim) {
        if let Some((name, value)) = line.split_once('=') {
            match name.trim() {
                WEBHOOK_VAR => webhook_secret = Some(value.trim().to_owned()),
                ADMIN_VAR => admin_key = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    Some(DevSecrets {
        webhook_secret: webhook_secret.filter(|s| !s.is_empty())?,
        admin_key: admin_key.filter(|s| !s.is_empty())?,
    })
}

/// Create `path` readable by its owner only, failing if it already exists (two processes
/// starting at once must not overwrite each other's secrets).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_kept() {
        let dir = std::env::temp_dir().join(format!("service-common-dev-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("clerk-sync.db.dev-secrets");
        let (first, created) = load_or_create(&path).unwrap();
        assert!(created);
        assert!(clerk_sync_core::webhook::WebhookVerifier::new(&first.webhook_secret).is_ok());
        assert!(first.admin_key.len() >= crate::config::MIN_ADMIN_KEY_LEN);
        let (second, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.webhook_secret, second.webhook_secret);
        assert_eq!(first.admin_key, second.admin_key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "garbage").unwrap();
        let line = load_or_create(&path).err().unwrap().to_string();
        assert!(
            line.contains("cannot be parsed") && !line.contains('\n'),
            "{line}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
