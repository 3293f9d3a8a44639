//! `GET /docs`: the API reference as one self-contained HTML page (no script, no font, no
//! network), rendered by the program from the OpenAPI document it serves at
//! `/openapi.json`: every route with its scope, parameters, request body and responses,
//! and every schema with its fields.

use std::fmt::Write as _;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use utoipa::OpenApi;

use crate::AppState;
use crate::openapi::ApiDoc;

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}\
main{max-width:1000px;margin:0 auto;padding:1.5em}\
h1{margin-bottom:.2em}h2{border-bottom:2px solid #d8dde6;padding-bottom:.2em;margin-top:2em}\
.op{background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:.6em 1em;margin:1em 0}\
.method{display:inline-block;min-width:4.5em;font-weight:700;font-family:monospace;text-transform:uppercase}\
.get{color:#1769aa}.post{color:#2e7d32}.put{color:#a15c00}.patch{color:#7b3fa0}.delete{color:#b3261e}\
code,.path{font-family:ui-monospace,monospace}.path{font-weight:600}\
table{border-collapse:collapse;width:100%;margin:.4em 0}td,th{border-top:1px solid #e5e8ee;padding:.25em .5em;text-align:left;vertical-align:top}\
th{font-weight:600;color:#4a5363}.muted{color:#6a7383}nav a{margin-right:.8em}";

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A schema as a short type expression, linking to named schemas.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{}\">{}</a>", escape(name), escape(name));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema.get(combinator).and_then(Value::as_array) {
            let parts: Vec<String> = parts.iter().map(type_of).collect();
            return parts.join(" | ");
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_owned(),
    };
    if kind.starts_with("array")
        && let Some(items) = schema.get("items")
    {
        return format!("array of {}", type_of(items));
    }
    let mut text = escape(&kind);
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let _ = write!(text, " ({})", escape(format));
    }
    text
}

fn description(value: &Value) -> String {
    value
        .get("description")
        .and_then(Value::as_str)
        .map(escape)
        .unwrap_or_default()
}

fn render_parameters(out: &mut String, operation: &Value) {
    let Some(parameters) = operation.get("parameters").and_then(Value::as_array) else {
        return;
    };
    if parameters.is_empty() {
        return;
    }
    out.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>description</th></tr>");
    for parameter in parameters {
        let name = parameter.get("name").and_then(Value::as_str).unwrap_or("");
        let location = parameter.get("in").and_then(Value::as_str).unwrap_or("");
        let required = parameter
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let schema = parameter.get("schema").map(type_of).unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            escape(location),
            schema,
            if required { "yes" } else { "no" },
            description(parameter)
        );
    }
    out.push_str("</table>");
}

fn render_content(content: Option<&Value>) -> String {
    let Some(content) = content.and_then(Value::as_object) else {
        return String::new();
    };
    content
        .iter()
        .map(|(media, body)| {
            let schema = body.get("schema").map(type_of).unwrap_or_default();
            format!("<code>{}</code> {}", escape(media), schema)
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn render_operation(out: &mut String, path: &str, method: &str, operation: &Value) {
    let summary = operation
        .get("summary")
        .and_then(Value::as_str)
        .unwrap_or("");
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let _ = write!(
        out,
        "<div class=\"op\" id=\"{m}-{id}\"><span class=\"method {m}\">{m}</span> <span class=\"path\">{p}</span> — {s}{lock}",
        m = method,
        id = escape(&path.replace(['/', '{', '}', ':'], "_")),
        p = escape(path),
        s = escape(summary),
        lock = if secured {
            " <span class=\"muted\">(API key: <code>Authorization: Bearer</code>)</span>"
        } else {
            " <span class=\"muted\">(no key needed)</span>"
        }
    );
    let text = description(operation);
    if !text.is_empty() {
        let _ = write!(out, "<p>{text}</p>");
    }
    render_parameters(out, operation);
    if let Some(body) = operation.get("requestBody") {
        let _ = write!(
            out,
            "<p><b>Request body</b>{}: {} {}</p>",
            if body.get("required").and_then(Value::as_bool) == Some(true) {
                " (required)"
            } else {
                ""
            },
            render_content(body.get("content")),
            description(body)
        );
    }
    if let Some(responses) = operation.get("responses").and_then(Value::as_object) {
        out.push_str("<table><tr><th>status</th><th>description</th><th>body</th></tr>");
        for (status, response) in responses {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(status),
                description(response),
                render_content(response.get("content"))
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</div>");
}

fn render_schema(out: &mut String, name: &str, schema: &Value) {
    let _ = write!(
        out,
        "<div class=\"op\" id=\"schema-{n}\"><span class=\"path\">{n}</span>",
        n = escape(name)
    );
    let text = description(schema);
    if !text.is_empty() {
        let _ = write!(out, "<p>{text}</p>");
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        out.push_str(
            "<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>",
        );
        for (field, property) in properties {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(field),
                type_of(property),
                if required.contains(&field.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                description(property)
            );
        }
        out.push_str("</table>");
    } else {
        let _ = write!(out, "<p>{}</p>", type_of(schema));
    }
    out.push_str("</div>");
}

/// One operation of the document: its path, method and definition.
type Operation = (String, String, Value);

/// The reference page for an OpenAPI document (as JSON).
pub fn render(document: &Value) -> String {
    let info = document.get("info").cloned().unwrap_or(Value::Null);
    let title = info.get("title").and_then(Value::as_str).unwrap_or("API");
    let version = info.get("version").and_then(Value::as_str).unwrap_or("");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} API reference</title><style>{STYLE}</style></head><body><main>\
         <h1>{t} API reference</h1><p class=\"muted\">Version {v}. Generated from \
         <a href=\"/openapi.json\">/openapi.json</a>.</p><p>{d}</p>",
        t = escape(title),
        v = escape(version),
        d = description(&info)
    );
    // Operations grouped by their first tag, in order of first appearance.
    let mut groups: Vec<(String, Vec<Operation>)> = Vec::new();
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let tag = operation
                    .get("tags")
                    .and_then(Value::as_array)
                    .and_then(|t| t.first())
                    .and_then(Value::as_str)
                    .unwrap_or("other")
                    .to_owned();
                let entry = (path.clone(), method.to_owned(), operation.clone());
                match groups.iter_mut().find(|(t, _)| *t == tag) {
                    Some((_, operations)) => operations.push(entry),
                    None => groups.push((tag, vec![entry])),
                }
            }
        }
    }
    out.push_str("<nav>");
    for (tag, _) in &groups {
        let _ = write!(out, "<a href=\"#tag-{t}\">{t}</a>", t = escape(tag));
    }
    out.push_str("<a href=\"#schemas\">schemas</a></nav>");
    for (tag, operations) in &groups {
        let _ = write!(out, "<h2 id=\"tag-{t}\">{t}</h2>", t = escape(tag));
        for (path, method, operation) in operations {
            render_operation(&mut out, path, method, operation);
        }
    }
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            render_schema(&mut out, name, schema);
        }
    }
    out.push_str("</main></body></html>\n");
    out
}

/// API reference
///
/// This service's routes, parameters, bodies, responses and schemas as one HTML page,
/// rendered from `/openapi.json`.
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "The reference page", body = String, content_type = "text/html")))]
pub async fn docs_page() -> Response {
    let document = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        render(&document),
    )
        .into_response()
}

/// `GET /docs` (no key needed, like `/openapi.json`).
pub fn routes() -> Router<AppState> {
    Router::new().route("/docs", get(docs_page))
}
