//! Unit tests of `config`.

use super::*;

fn resolve(vars: &[(&str, &str)]) -> Result<Config, String> {
    let env: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::resolve_with(
        &|k| env.get(k).cloned(),
        &[],
        Path::new("/nonexistent/pve-root-ca.pem"),
    )
    .map_err(|e| e.to_string())
}

const TOKEN: &[(&str, &str)] = &[
    ("PROXMOX_HOST", "pve1.example.com"),
    ("PROXMOX_USER", "root@pam"),
    ("PROXMOX_TOKEN_NAME", "mcp"),
    (
        "PROXMOX_TOKEN_VALUE",
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    ),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = TOKEN.to_vec();
    v.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    v.extend_from_slice(extra);
    v
}

fn check_error(vars: &[(&str, &str)], expected: &str) {
    let err = resolve(vars).expect_err("configuration should be refused");
    assert!(
        err.contains(expected),
        "{err:?} does not contain {expected:?}"
    );
    assert!(!err.contains("aaaaaaaa-bbbb"), "secret leaked: {err}");
}

#[test]
fn defaults() {
    let c = resolve(TOKEN).unwrap();
    assert_eq!(
        c.hosts,
        vec![Host {
            scheme: "https",
            host: "pve1.example.com".into(),
            port: 8006
        }]
    );
    assert_eq!(c.user, "root@pam");
    assert_eq!(c.access, Access::ReadOnly);
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.task_wait, 120);
    assert_eq!(
        c.trust,
        Trust::Roots {
            ca_files: vec![],
            system: true
        }
    );
    assert!(matches!(c.auth, Auth::Token { ref name, .. } if name == "mcp"));
}

#[test]
fn hosts() {
    let cases = [
        ("pve1", "https://pve1:8006"),
        ("pve1:9443", "https://pve1:9443"),
        ("https://10.0.0.5:8006/", "https://10.0.0.5:8006"),
        ("https://pve1/api2/json", "https://pve1:8006"),
        ("[fd00::1]:8006", "https://[fd00::1]:8006"),
        ("[fd00::1]", "https://[fd00::1]:8006"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ];
    for (input, expected) in cases {
        let c = resolve(&with(&[("PROXMOX_HOST", input)])).unwrap();
        assert_eq!(c.hosts[0].base_url(), expected, "{input}");
    }
    let c = resolve(&with(&[
        ("PROXMOX_HOST", "pve1, pve2:8007 ,pve3"),
        ("PROXMOX_PORT", "443"),
    ]))
    .unwrap();
    let urls: Vec<_> = c.hosts.iter().map(Host::base_url).collect();
    assert_eq!(
        urls,
        ["https://pve1:443", "https://pve2:8007", "https://pve3:443"]
    );
}

#[test]
fn plain_http_only_to_this_machine() {
    for host in [
        "http://127.0.0.1:8080",
        "http://127.8.9.10:8080",
        "http://[::1]:8080",
        "http://localhost:8080",
        "http://LOCALHOST",
    ] {
        let c = resolve(&with(&[("PROXMOX_HOST", host)])).unwrap();
        assert_eq!(c.hosts[0].scheme, "http", "{host}");
    }
    for (host, shown) in [
        ("http://pve1", "http://pve1:8006"),
        ("http://10.0.0.5:8006", "http://10.0.0.5:8006"),
        ("http://[fd00::1]:8006", "http://[fd00::1]:8006"),
        ("http://127.1", "http://127.1:8006"),
        (
            "http://localhost.evil.example",
            "http://localhost.evil.example:8006",
        ),
        ("pve1,http://128.0.0.1:80", "http://128.0.0.1:80"),
    ] {
        check_error(
            &with(&[("PROXMOX_HOST", host)]),
            &format!("PROXMOX_HOST={shown} uses plain http, which would send the credentials unencrypted; use https://"),
        );
        // A password login is refused the same way.
        let err = resolve(&[
            ("PROXMOX_HOST", host),
            ("PROXMOX_USER", "root@pam"),
            ("PROXMOX_PASSWORD", "hunter2"),
        ])
        .unwrap_err();
        assert!(err.contains("allowed only to a loopback address"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[cfg(unix)]
#[test]
fn secret_files_others_can_read_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("pmcp-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for var in [
        "PROXMOX_TOKEN_VALUE",
        "PROXMOX_PASSWORD",
        "PROXMOX_TOTP_SECRET",
    ] {
        let file = dir.join(var);
        // Valid base32, so that the TOTP secret is otherwise accepted.
        std::fs::write(&file, "GEZDGNBVGY3TQOJQ\n").unwrap();
        let file_var = format!("{var}_FILE");
        let shown = file.display().to_string();
        let mut vars: Vec<(&str, &str)> = vec![
            ("PROXMOX_HOST", "pve1"),
            ("PROXMOX_USER", "root@pam"),
            (&file_var, &shown),
        ];
        match var {
            "PROXMOX_TOKEN_VALUE" => vars.push(("PROXMOX_TOKEN_NAME", "mcp")),
            "PROXMOX_TOTP_SECRET" => vars.push(("PROXMOX_PASSWORD", "pw")),
            _ => {}
        }
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = resolve(&vars).expect_err("a shared secret file is refused");
            assert_eq!(
                err,
                format!("configuration: {file_var}={shown} is readable by group or others (mode {mode:o}); run: chmod 600 {shown}")
            );
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(resolve(&vars).is_ok(), "{var} mode {mode:o}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_configuration_is_one_clear_line() {
    check_error(&[("PROXMOX_USER", "root@pam")], "PROXMOX_HOST is not set");
    check_error(
        &[("PROXMOX_HOST", "pve1"), ("PROXMOX_USER", "root@pam")],
        "no credentials",
    );
    // One bad setting, VAR=value, on top of a good token configuration.
    for (setting, expected) in [
        ("PROXMOX_HOST=ftp://pve1", "only https:// is supported"),
        (
            "PROXMOX_HOST=pve1:99999",
            "not a number between 1 and 65535",
        ),
        ("PROXMOX_HOST=fd00::1", "IPv6 address in brackets"),
        ("PROXMOX_USER=root", "has no realm"),
        ("PROXMOX_TOKEN_VALUE=", "PROXMOX_TOKEN_VALUE is not"),
        ("PROXMOX_MCP_ACCESS=admin", "use read-only, operate or full"),
        ("PROXMOX_FINGERPRINT=AB:CD", "PROXMOX_FINGERPRINT"),
        (
            "PROXMOX_CA_FILE=/nonexistent/ca.pem",
            "PROXMOX_CA_FILE=/nonexistent/ca.pem",
        ),
        ("PROXMOX_TIMEOUT=0", "PROXMOX_TIMEOUT=0"),
        ("PROXMOX_VERIFY_SSL=maybe", "PROXMOX_VERIFY_SSL=maybe"),
        ("PROXMOX_MCP_LOG=loud", "PROXMOX_MCP_LOG=loud"),
        ("PROXMOX_TOKEN_NAME=1bad", "is not a token id"),
    ] {
        let (var, value) = setting.split_once('=').expect("VAR=value");
        check_error(&with(&[(var, value)]), expected);
    }
}

#[test]
fn token_in_user_and_precedence() {
    let c = resolve(&with(&[
        ("PROXMOX_USER", "mcp@pve!ro"),
        ("PROXMOX_TOKEN_NAME", ""),
    ]))
    .unwrap();
    assert_eq!(c.user, "mcp@pve");
    assert!(matches!(c.auth, Auth::Token { ref name, .. } if name == "ro"));
    // A token wins over a password when both are given.
    let c = resolve(&with(&[("PROXMOX_PASSWORD", "hunter2")])).unwrap();
    assert!(matches!(c.auth, Auth::Token { .. }));
    let c = resolve(&[
        ("PROXMOX_HOST", "pve1"),
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_PASSWORD", "hunter2"),
    ])
    .unwrap();
    assert_eq!(
        c.auth,
        Auth::Password {
            password: Secret("hunter2".into()),
            totp: None
        }
    );
    assert!(
        !format!("{c:?}").contains("hunter2"),
        "Debug shows the password"
    );
    assert!(
        !format!("{:?}", resolve(TOKEN).unwrap()).contains("aaaaaaaa"),
        "Debug shows the token"
    );
}

#[test]
fn trust_selection() {
    let c = resolve(&with(&[("PROXMOX_VERIFY_SSL", "false")])).unwrap();
    assert_eq!(c.trust, Trust::Insecure);
    // A pin wins over "do not verify".
    let pin = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    let c = resolve(&with(&[
        ("PROXMOX_VERIFY_SSL", "false"),
        ("PROXMOX_FINGERPRINT", pin),
    ]))
    .unwrap();
    assert!(matches!(c.trust, Trust::Pinned(_)));
    let fp = "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89";
    let c = resolve(&with(&[("PROXMOX_FINGERPRINT", fp)])).unwrap();
    assert!(matches!(c.trust, Trust::Pinned(ref f) if f.len() == 1));
    // On a PVE host the cluster CA is trusted when nothing else is configured.
    let dir = std::env::temp_dir().join(format!("pmcp-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("pve-root-ca.pem");
    std::fs::write(&ca, "x").unwrap();
    let env: BTreeMap<&str, &str> = TOKEN.iter().copied().collect();
    let c = Config::resolve_with(&|k| env.get(k).map(|v| v.to_string()), &[], &ca).unwrap();
    assert_eq!(
        c.trust,
        Trust::Roots {
            ca_files: vec![ca.clone()],
            system: true
        }
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_flags_and_secret_files() {
    let dir = std::env::temp_dir().join(format!("pmcp-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("token");
    std::fs::write(&secret_file, "s3cr3t-from-file\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let cfg = dir.join("proxmox.env");
    std::fs::write(
        &cfg,
        format!(
            "# comment\nexport PROXMOX_HOST=\"pve-file\"\nPROXMOX_USER='mcp@pve'\nPROXMOX_TOKEN_NAME=mcp\nPROXMOX_TOKEN_VALUE_FILE={}\nPROXMOX_MCP_ACCESS=operate\n",
            secret_file.display()
        ),
    )
    .unwrap();
    let env = |k: &str| match k {
        "PROXMOX_CONFIG" => Some(cfg.display().to_string()),
        "PROXMOX_MCP_ACCESS" => Some("full".to_string()),
        _ => None,
    };
    let c = Config::resolve_with(
        &env,
        &[("PROXMOX_HOST", "pve-flag".into())],
        Path::new("/nonexistent"),
    )
    .unwrap();
    assert_eq!(c.hosts[0].host, "pve-flag", "a flag wins over the file");
    assert_eq!(c.access, Access::Full, "the environment wins over the file");
    assert!(
        matches!(c.auth, Auth::Token { ref value, .. } if value.expose() == "s3cr3t-from-file")
    );

    // A secret in a file others can read is refused.
    std::fs::write(
        &cfg,
        "PROXMOX_HOST=pve1\nPROXMOX_USER=root@pam\nPROXMOX_PASSWORD=hunter2\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Config::resolve_with(&env, &[], Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains("hunter2"));
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Config::resolve_with(&env, &[], Path::new("/nonexistent")).is_ok());
    }
    // A secret file named in the environment wins over the secret in the config file.
    std::fs::write(&cfg, "PROXMOX_HOST=pve1\nPROXMOX_USER=root@pam\nPROXMOX_TOKEN_NAME=t\nPROXMOX_TOKEN_VALUE=from-config\n").unwrap();
    let env2 = |k: &str| match k {
        "PROXMOX_CONFIG" => Some(cfg.display().to_string()),
        "PROXMOX_TOKEN_VALUE_FILE" => Some(secret_file.display().to_string()),
        _ => None,
    };
    let c = Config::resolve_with(&env2, &[], Path::new("/nonexistent")).unwrap();
    assert!(
        matches!(c.auth, Auth::Token { ref value, .. } if value.expose() == "s3cr3t-from-file")
    );
    std::fs::write(&cfg, "PROXMOX_HSOT=pve1\n").unwrap();
    let err = Config::resolve_with(&env, &[], Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown setting PROXMOX_HSOT"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
