//! Storage content: listing a storage's volumes, downloading ISO images and container templates
//! by URL, and the appliance templates PVE offers.

use serde_json::Value;

use crate::error::Error;
use crate::policy::{Area, Effect};
use crate::pve::{path, Params};

use super::backups::{one_of, read_places, storage_places, VMID_FILTER};
use super::change::Change;
use super::list::{by_text, page, text, trimmed};
use super::params::{DRY_RUN, LIMIT, NODE, OFFSET, STOP_ON_CANCEL, WAIT};
use super::table::{f, Ty};
use super::table::{Args, Content, Ctx, Kind, Mark, Output, Param, Tool};

const CONTENT_STORAGE: Param = Param::req("storage", Kind::Storage, "the storage id, e.g. local");

const CONTENT_NODE: Param = Param::opt("node", Kind::Node, "default: found");

#[rustfmt::skip]
const CONTENT_FILTER: Param = Param::opt("content", Kind::Text { max: 16 }, "iso, vztmpl, backup, images, rootdir…");

const URL: Param = Param::req("url", Kind::Text { max: 2048 }, "http(s) URL of the file");

const FILENAME: Param = Param::opt("filename", Kind::Text { max: 255 }, "default: from the URL");

#[rustfmt::skip]
const DOWNLOAD_CONTENT: Param = Param::opt("content", Kind::Text { max: 16 }, "iso or vztmpl (default: by name)");

const CHECKSUM: Param = Param::opt("checksum", Kind::Text { max: 128 }, "hex");

#[rustfmt::skip]
const CHECKSUM_ALGORITHM: Param = Param::opt("checksum-algorithm", Kind::Text { max: 8 }, "e.g. sha256");

const SECTION: Param = Param::opt("section", Kind::Text { max: 64 }, "e.g. system");

const CONTENT_TYPES: &[&str] = &[
    "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import",
];

const CHECKSUM_ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_storage_content",
        title: "List storage content",
        description: "Lists a storage's volumes by volid, filtered by content type or guest.",
        privilege: "Datastore.Audit or Datastore.AllocateSpace on /storage/{storage}",
        effect: Effect::Read,
        area: Area::Storage,
        params: &[
            &CONTENT_STORAGE,
            &CONTENT_NODE,
            &CONTENT_FILTER,
            &VMID_FILTER,
            &LIMIT,
            &OFFSET,
        ],
        output: Output::list(&[f("volid", Ty::Str, ""), f("content", Ty::Str, ""), f("format", Ty::Str, ""), f("size", Ty::Num, "bytes"), f("ctime", Ty::Int, "Unix time"), f("vmid", Ty::Int, ""), f("notes", Ty::Str, "")]),
        idempotent: true,
        marks: &[Mark::Everyday],
        run: list_storage_content,
    },
    Tool {
        name: "download_to_storage",
        title: "Download to storage",
        description: "Has PVE download an ISO or container template from a URL to a storage (optional checksum); waits.",
        privilege: "Datastore.AllocateTemplate on /storage/{storage} (and Sys.AccessNetwork on /nodes/{node})",
        effect: Effect::Operate,
        area: Area::Provisioning,
        params: &[
            &CONTENT_STORAGE,
            &URL,
            &CONTENT_NODE,
            &FILENAME,
            &DOWNLOAD_CONTENT,
            &CHECKSUM,
            &CHECKSUM_ALGORITHM,
            &WAIT,
            &DRY_RUN,
            &STOP_ON_CANCEL,
        ],
        output: Output::task(),
        idempotent: false,
        marks: &[Mark::Also(Area::Storage)],
        run: download_to_storage,
    },
    Tool {
        name: "list_appliance_templates",
        title: "List appliance templates",
        description: "Lists the container templates PVE offers for download, by name.",
        privilege: "a valid login",
        effect: Effect::Read,
        area: Area::Provisioning,
        params: &[&NODE, &SECTION, &LIMIT, &OFFSET],
        output: Output::list(&[f("template", Ty::Str, "the name to download"), f("package", Ty::Str, ""), f("headline", Ty::Str, ""), f("os", Ty::Str, ""), f("section", Ty::Str, ""), f("version", Ty::Str, "")]),
        idempotent: true,
        marks: &[Mark::Also(Area::Storage)],
        run: list_appliance_templates,
    },
];

fn list_storage_content(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let content = one_of(args, "content", CONTENT_TYPES)?;
    let places = storage_places(
        ctx,
        Some(args.required_str("storage")?),
        args.str("node"),
        None,
    )?;
    let mut params = Params::new();
    if let Some(c) = content {
        params.push(("content", c.to_string()));
    }
    if let Some(vmid) = args.int("vmid") {
        params.push(("vmid", vmid.to_string()));
    }
    const FIELDS: &[&str] = &[
        "volid",
        "content",
        "format",
        "size",
        "ctime",
        "vmid",
        "notes",
        "protected",
        "parent",
    ];
    let (items, unreadable) = read_places(ctx, &places, &params, FIELDS)?;
    let mut out = page(args, items, &|a: &Value, b: &Value| {
        text(a, "volid")
            .cmp(text(b, "volid"))
            .then_with(|| text(a, "node").cmp(text(b, "node")))
    });
    if !unreadable.is_empty() {
        out.insert("unreadable".into(), Value::Array(unreadable));
    }
    Ok(out)
}

fn download_to_storage(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let storage = args.required_str("storage")?;
    let url = args.required_str("url")?;
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || url.len() <= "http://".len() || url.chars().any(char::is_control) {
        return Err(Error::Args(format!(
            "'url' must be an http:// or https:// URL, got '{url}'"
        )));
    }
    let filename = match args.str("filename") {
        Some(f) => f.to_string(),
        None => file_name_of(url).ok_or_else(|| {
            Error::Args(format!(
                "cannot take a file name from '{url}': give filename"
            ))
        })?,
    };
    if filename.is_empty()
        || filename.contains('/')
        || filename.starts_with('.')
        || filename.chars().any(char::is_control)
    {
        return Err(Error::Args(format!(
            "'filename' must be a plain file name (no '/', not starting with '.'), got '{filename}'"
        )));
    }
    let content = match one_of(args, "content", &["iso", "vztmpl"])? {
        Some(c) => c,
        None => content_of(&filename).ok_or_else(|| {
            Error::Args(format!(
                "cannot tell from '{filename}' whether it is an ISO image (.iso, .img) or a container template (.tar.gz, .tar.xz, .tar.zst, .tar.bz2): give content"
            ))
        })?,
    };
    let checksum = args.str("checksum");
    let algorithm = one_of(args, "checksum-algorithm", CHECKSUM_ALGORITHMS)?;
    match (checksum, algorithm) {
        (Some(sum), Some(_)) => {
            if sum.is_empty() || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::Args(format!(
                    "'checksum' must be hexadecimal, got '{sum}'"
                )));
            }
        }
        (None, None) => {}
        _ => {
            return Err(Error::Args(
                "'checksum' and 'checksum-algorithm' go together: give both or neither".into(),
            ))
        }
    }
    let node = match args.str("node") {
        Some(n) => n.to_string(),
        None => {
            let places = storage_places(ctx, Some(storage), None, None)?;
            match places.as_slice() {
                [(_, node)] => node.clone(),
                _ => {
                    let nodes: Vec<&str> = places.iter().map(|(_, n)| n.as_str()).collect();
                    return Err(Error::Args(format!(
                        "storage '{storage}' is local to each of {}: give node",
                        nodes.join(", ")
                    )));
                }
            }
        }
    };
    let mut params: Params = vec![
        ("content", content.to_string()),
        ("filename", filename),
        ("url", url.to_string()),
    ];
    if let (Some(sum), Some(alg)) = (checksum, algorithm) {
        params.push(("checksum", sum.to_ascii_lowercase()));
        params.push(("checksum-algorithm", alg.to_string()));
    }
    let base = path(&[&"nodes", &node, &"storage", &storage]);
    Change::post(format!("{base}/download-url"), params)
        .send(ctx, args, || ctx.pve.get(&format!("{base}/status"), &[]))
}

fn list_appliance_templates(ctx: &Ctx, args: &Args) -> Result<Content, Error> {
    let node = args.required_str("node")?;
    let all = ctx.pve.get(&path(&[&"nodes", &node, &"aplinfo"]), &[])?;
    const FIELDS: &[&str] = &[
        "template", "package", "headline", "os", "section", "version", "type",
    ];
    let section = args.str("section");
    let items: Vec<Value> = trimmed(all, FIELDS)
        .into_iter()
        .filter(|t| section.is_none_or(|s| text(t, "section") == s))
        .collect();
    Ok(page(args, items, &by_text("template")))
}

/// The last path segment of a URL (without query or fragment), as PVE would name the file.
fn file_name_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let (_, path) = path.split_once('/')?;
    let last = path.rsplit('/').next().unwrap_or_default();
    (!last.is_empty()).then(|| last.to_string())
}

/// The content type PVE accepts a file name for: ISO images or container templates.
fn content_of(filename: &str) -> Option<&'static str> {
    let lower = filename.to_ascii_lowercase();
    if lower.ends_with(".iso") || lower.ends_with(".img") {
        Some("iso")
    } else if [".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        Some("vztmpl")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names() {
        assert_eq!(
            file_name_of("https://example.org/isos/debian-13.iso?x=1#y").as_deref(),
            Some("debian-13.iso")
        );
        assert_eq!(file_name_of("https://example.org/"), None);
        assert_eq!(file_name_of("https://example.org"), None);
        assert_eq!(content_of("debian-13.ISO"), Some("iso"));
        assert_eq!(content_of("alpine-3.22-default.tar.xz"), Some("vztmpl"));
        assert_eq!(content_of("disk.qcow2"), None);
    }
}
