//! The report as one self-contained HTML page (inline CSS, charts drawn here as SVG, no
//! script, nothing fetched) and as a tidy CSV (`section,path,value`, one row per figure).

use std::fmt::Write;

use serde::Serialize;

use crate::{ContentReport, TitleDashboard};

const COLOURS: [&str; 8] = [
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04",
];

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;\
color:#111;padding:0 1rem}h1{margin-bottom:0}h2{margin-top:2.5rem;border-bottom:2px solid #ddd}\
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}td,th{padding:.25rem .5rem;\
border-bottom:1px solid #eee;text-align:right}th{background:#f6f6f6}td:first-child,\
th:first-child{text-align:left}.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#f6f6f6;\
border-radius:8px;padding:.75rem 1rem}.card b{display:block;font-size:1.4rem}.note{color:#666}\
svg{background:#fff;border:1px solid #eee;margin:.25rem}.gap{margin:.5rem 0}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(value: Option<f64>) -> String {
    value.map_or("–".into(), |v| format!("{:.1}%", 100.0 * v))
}

fn num(value: Option<f64>, decimals: usize) -> String {
    value.map_or("–".into(), |v| format!("{v:.decimals$}"))
}

/// A line chart of several series over the same x positions (`x_labels.len()` points).
pub fn line_chart(title: &str, x_labels: &[String], series: &[(String, Vec<f64>)]) -> String {
    let (width, height, left, bottom, top, right) = (520.0, 240.0, 48.0, 28.0, 24.0, 130.0);
    let points = x_labels.len().max(2);
    let max = series
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let x = |i: usize| left + plot_w * i as f64 / (points - 1) as f64;
    let y = |v: f64| top + plot_h * (1.0 - v / max);
    let mut svg = format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         role=\"img\"><title>{}</title><text x=\"{left}\" y=\"16\" font-size=\"12\" \
         font-weight=\"bold\">{}</text>",
        escape(title),
        escape(title)
    );
    for tick in 0..=4 {
        let value = max * f64::from(tick) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            left + plot_w,
            left - 4.0,
            y(value) + 3.0,
            short(value),
            y = y(value)
        );
    }
    let step = (points / 8).max(1);
    for (i, label) in x_labels.iter().enumerate().step_by(step) {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(i),
            height - 10.0,
            escape(label)
        );
    }
    for (index, (name, values)) in series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let path: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let dash = if name.ends_with("(peers)") {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} \
             points=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"{colour}\">{}</text>",
            path.join(" "),
            width - right + 6.0,
            top + 12.0 * index as f64 + 8.0,
            escape(&truncate(name, 22))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal grouped bars: one group per label, one bar per measure.
pub fn bar_chart(title: &str, measures: &[&str], rows: &[(String, Vec<f64>)]) -> String {
    let bar = 7.0;
    let group = bar * measures.len() as f64 + 6.0;
    let (left, width, top) = (140.0, 560.0, 36.0);
    let height = top + group * rows.len() as f64 + 10.0;
    let max = rows
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let plot_w = width - left - 60.0;
    let mut svg = format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         role=\"img\"><title>{}</title><text x=\"4\" y=\"14\" font-size=\"12\" \
         font-weight=\"bold\">{}</text>",
        escape(title),
        escape(title)
    );
    for (index, measure) in measures.iter().enumerate() {
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"20\" width=\"10\" height=\"8\" fill=\"{}\"/><text x=\"{}\" \
             y=\"28\" font-size=\"10\">{}</text>",
            left + 150.0 * index as f64,
            COLOURS[index % COLOURS.len()],
            left + 150.0 * index as f64 + 14.0,
            escape(measure)
        );
    }
    for (row, (label, values)) in rows.iter().enumerate() {
        let y0 = top + group * row as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            left - 4.0,
            y0 + group / 2.0,
            escape(&truncate(label, 24))
        );
        for (index, value) in values.iter().enumerate() {
            let w = plot_w * value / max;
            let _ = write!(
                svg,
                "<rect x=\"{left}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{bar}\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\">{}</text>",
                y0 + bar * index as f64,
                COLOURS[index % COLOURS.len()],
                left + w + 3.0,
                y0 + bar * index as f64 + bar - 1.0,
                short(*value)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn short(value: f64) -> String {
    if value == 0.0 {
        "0".to_owned()
    } else if value.abs() >= 1000.0 {
        format!("{:.1}k", value / 1000.0)
    } else if value.abs() >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(chars - 1).collect();
        cut.push('…');
        cut
    }
}

fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><tr>");
    for header in headers {
        let _ = write!(out, "<th>{}</th>", escape(header));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

fn retention_series(
    performances: &[&crate::TitlePerformance],
) -> (Vec<String>, Vec<(String, Vec<f64>)>) {
    let labels: Vec<String> = (0..crate::RETENTION_POINTS)
        .map(|p| format!("{}%", p * 5))
        .collect();
    let series = performances
        .iter()
        .filter(|p| !p.retention.is_empty())
        .map(|p| {
            (
                p.name.clone(),
                p.retention.iter().map(|point| point.viewers).collect(),
            )
        })
        .collect();
    (labels, series)
}

/// The whole report as one HTML page.
pub fn report_html(report: &ContentReport) -> String {
    let mut out = String::new();
    let scope = report
        .country
        .as_deref()
        .map_or(String::new(), |c| format!(" in {c}"));
    let _ = write!(
        out,
        "<h1>Content report</h1><p class=\"note\">{} to {}{} ({} days)</p>",
        escape(&report.from),
        escape(&report.to),
        escape(&scope),
        report.days
    );
    let totals = &report.totals;
    let _ = write!(
        out,
        "<div class=\"cards\"><div class=\"card\"><b>{:.0}</b>hours viewed</div>\
         <div class=\"card\"><b>{}</b>views</div><div class=\"card\"><b>{}</b>viewers</div>\
         <div class=\"card\"><b>{}</b>titles watched</div><div class=\"card\"><b>{}</b>\
         completion</div><div class=\"card\"><b>{:.1}</b>effective catalog size</div></div>",
        totals.hours,
        totals.views,
        totals.unique_viewers,
        totals.titles_watched,
        pct(totals.completion_rate),
        report.demand.effective_catalog_size
    );

    out.push_str("<h2>Title performance</h2>");
    let rows: Vec<Vec<String>> = report
        .titles
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.kind.to_owned(),
                format!("{:.0}", t.hours),
                t.starts.to_string(),
                t.unique_viewers.to_string(),
                pct(t.completion_rate),
                pct(t.median_share_watched),
                num(t.episodes_per_sitting, 2),
                pct(t.rewatch_share),
                num(t.mean_stars, 2),
                format!("{}/{}", t.thumbs_up, t.thumbs_down),
                pct(t.take_rate),
                t.steepest_drop.as_ref().map_or("–".into(), |d| {
                    format!(
                        "{:.0}–{:.0}%",
                        100.0 * d.from_position,
                        100.0 * d.to_position
                    )
                }),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "title",
            "kind",
            "hours",
            "starts",
            "viewers",
            "completion",
            "median watched",
            "episodes/sitting",
            "re-watches",
            "stars",
            "thumbs up/down",
            "take rate",
            "steepest drop",
        ],
        &rows,
    );
    let top: Vec<&crate::TitlePerformance> = report.titles.iter().take(6).collect();
    let (labels, series) = retention_series(&top);
    out.push_str(&line_chart(
        "Retention: share of views reaching each point of the runtime",
        &labels,
        &series,
    ));

    out.push_str("<h2>Launches</h2>");
    if report.launches.is_empty() {
        out.push_str("<p class=\"note\">No title was released in the range.</p>");
    }
    let rows: Vec<Vec<String>> = report
        .launches
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                l.released_at.clone(),
                l.day1_viewers.map_or("–".into(), |v| v.to_string()),
                l.day7_viewers.map_or("–".into(), |v| v.to_string()),
                l.day28_viewers.map_or("–".into(), |v| v.to_string()),
                l.peak_day.to_string(),
                num(l.front_load, 2),
                num(l.day7_vs_peers, 2),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "title",
            "released",
            "day 1",
            "day 7",
            "day 28",
            "peak day",
            "front load",
            "day 7 vs peers",
        ],
        &rows,
    );
    for launch in &report.launches {
        let labels: Vec<String> = (0..launch.viewers_by_day.len())
            .map(|d| format!("d{d}"))
            .collect();
        let mut series = vec![(
            launch.name.clone(),
            launch.viewers_by_day.iter().map(|v| *v as f64).collect(),
        )];
        if !launch.peers_by_day.is_empty() {
            series.push((
                "similar launches (peers)".into(),
                launch.peers_by_day.clone(),
            ));
        }
        out.push_str(&line_chart(
            &format!("{}: viewers per day since release", launch.name),
            &labels,
            &series,
        ));
    }

    out.push_str("<h2>Trending and rising</h2>");
    let trending = &report.trending;
    if let Some(note) = &trending.note {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(note));
    } else {
        let _ = write!(
            out,
            "<p class=\"note\">Last {} days against the {} days before; the catalog changed \
             ×{}.</p>",
            trending.recent_days,
            trending.baseline_days,
            num(trending.catalog_growth, 2)
        );
        let trend_rows = |list: &[crate::TrendingTitle], country: Option<&str>| {
            list.iter()
                .map(|t| {
                    let mut row = Vec::new();
                    if let Some(country) = country {
                        row.push(country.to_owned());
                    }
                    row.extend([
                        t.name.clone(),
                        format!("{:.1}", t.recent_hours),
                        format!("{:.1}", t.baseline_weekly_hours),
                        t.growth.map_or("new".into(), |g| format!("×{g:.2}")),
                        t.lift.map_or("new".into(), |l| format!("×{l:.2}")),
                        format!("+{:.1}", t.excess_hours),
                    ]);
                    row
                })
                .collect::<Vec<_>>()
        };
        table(
            &mut out,
            &[
                "title",
                "recent h",
                "baseline h/week",
                "growth",
                "vs catalog",
                "jump (h)",
            ],
            &trend_rows(&trending.rising, None),
        );
        let mut rows = Vec::new();
        for country in &trending.by_country {
            rows.extend(trend_rows(&country.rising, Some(&country.country)));
        }
        out.push_str("<p>Per country:</p>");
        table(
            &mut out,
            &[
                "country",
                "title",
                "recent h",
                "baseline h/week",
                "growth",
                "vs catalog",
                "jump (h)",
            ],
            &rows,
        );
    }

    out.push_str("<h2>Demand and supply</h2>");
    let demand = &report.demand;
    let bars: Vec<(String, Vec<f64>)> = demand
        .genres
        .iter()
        .map(|g| {
            (
                g.genre.clone(),
                vec![
                    100.0 * g.hours_share,
                    100.0 * g.titles_share,
                    100.0 * g.catalog_hours_share,
                ],
            )
        })
        .collect();
    out.push_str(&bar_chart(
        "Share of hours viewed against share of the catalog, per genre (%)",
        &["hours viewed", "titles available", "catalog hours"],
        &bars,
    ));
    let _ = write!(
        out,
        "<p>Effective Catalog Size <b>{:.1}</b> of {} titles available ({} watched); {} titles \
         carry half of the hours, {} carry 80%.</p><h3>Gaps: what to make next</h3>",
        demand.effective_catalog_size,
        demand.titles_available,
        demand.titles_watched,
        demand.titles_for_half_of_hours,
        demand.titles_for_80pct_of_hours
    );
    if demand.gaps.is_empty() {
        out.push_str("<p class=\"note\">No genre is watched beyond its supply.</p>");
    }
    out.push_str("<ol>");
    for gap in &demand.gaps {
        let _ = write!(
            out,
            "<li class=\"gap\"><b>{}</b>: demand index ×{:.2}, {:.1} h per title. {}</li>",
            escape(&gap.genre),
            gap.demand_index,
            gap.hours_per_title,
            escape(&gap.evidence)
        );
    }
    out.push_str("</ol>");
    for (name, cells) in [
        ("country", &demand.by_country),
        ("maturity", &demand.by_maturity),
        ("release decade", &demand.by_decade),
    ] {
        let _ = write!(
            out,
            "<h3>Demand index by genre × {name}</h3><p class=\"note\">share of hours over share \
             of available titles within each {name}; blank with fewer than 3 titles</p>"
        );
        out.push_str(&heat_table(cells));
    }

    out.push_str("<h2>Member cohorts</h2>");
    let cohorts = &report.cohorts;
    let mut headers: Vec<String> = vec!["signup month".into(), "members".into(), "active".into()];
    // The last week of the range may be shorter than 7 days.
    let last_week_days = report.days - 7 * cohorts.weeks.saturating_sub(1);
    headers.extend((0..cohorts.weeks).map(|w| {
        if w + 1 == cohorts.weeks && last_week_days < 7 {
            format!("week {w} ({last_week_days} d)")
        } else {
            format!("week {w}")
        }
    }));
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = cohorts
        .by_signup_month
        .iter()
        .map(|c| {
            let mut row = vec![c.month.clone(), c.members.to_string(), c.active.to_string()];
            row.extend(c.weekly_active.iter().map(|a| pct(Some(*a))));
            row
        })
        .collect();
    table(&mut out, &header_refs, &rows);
    out.push_str("<h3>Which first titles bring members who stay</h3>");
    let first = &cohorts.by_first_title;
    let shown: Vec<&crate::FirstTitleCohort> = if first.len() > 20 {
        first
            .iter()
            .take(10)
            .chain(first.iter().skip(first.len() - 10))
            .collect()
    } else {
        first.iter().collect()
    };
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.members.to_string(),
                c.retained.to_string(),
                pct(Some(c.retention)),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "first title",
            "members",
            "back 7–13 days later",
            "retention",
        ],
        &rows,
    );

    out.push_str("<h2>Forecast</h2>");
    let backtest = &report.forecast.backtest;
    let _ = write!(
        out,
        "<p>Backtest on the range's own past ({} forecasts of 7-day totals from origins {:?}): \
         MAPE <b>{}</b> against <b>{}</b> for the naive last-week forecast (ratio {}).{}</p>",
        backtest.forecasts,
        backtest.origins,
        pct(backtest.mape),
        pct(backtest.naive_mape),
        num(backtest.ratio_to_naive, 2),
        backtest
            .note
            .as_deref()
            .map_or(String::new(), |n| format!(" {}", escape(n)))
    );
    let rows: Vec<Vec<String>> = report
        .forecast
        .titles
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                format!("{:.1}", f.last_7_days_hours),
                format!("{:.1}", f.next_7_days_hours),
                format!("{:.1}", f.next_28_days_hours),
            ]
        })
        .collect();
    table(
        &mut out,
        &["title", "last 7 days h", "next 7 days h", "next 28 days h"],
        &rows,
    );

    out.push_str("<h2>Breakdowns</h2>");
    breakdown_tables(&mut out, &report.breakdowns);
    page("Content report", &out)
}

fn breakdown_tables(out: &mut String, breakdowns: &crate::Breakdowns) {
    for (name, rows) in [
        ("country", &breakdowns.by_country),
        ("device", &breakdowns.by_device),
        ("plan", &breakdowns.by_plan),
        ("signup year", &breakdowns.by_signup_year),
    ] {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.key.clone(),
                    format!("{:.0}", r.hours),
                    r.starts.to_string(),
                    r.unique_viewers.to_string(),
                    pct(r.completion_rate),
                ]
            })
            .collect();
        table(
            out,
            &[name, "hours", "starts", "viewers", "completion"],
            &rows,
        );
    }
}

fn heat_table(cells: &[crate::GenreCell]) -> String {
    let mut genres: Vec<&str> = cells.iter().map(|c| c.genre.as_str()).collect();
    genres.sort_unstable();
    genres.dedup();
    let mut keys: Vec<&str> = cells.iter().map(|c| c.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut out = String::from("<table><tr><th>genre</th>");
    for key in &keys {
        let _ = write!(out, "<th>{}</th>", escape(key));
    }
    out.push_str("</tr>");
    for genre in &genres {
        let _ = write!(out, "<tr><td>{}</td>", escape(genre));
        for key in &keys {
            let index = cells
                .iter()
                .find(|c| c.genre == *genre && c.key == *key)
                .and_then(|c| c.demand_index);
            match index {
                Some(index) => {
                    // Red above 1 (over-watched), blue below.
                    let strength = ((index.ln().abs() / 1.5).min(1.0) * 200.0) as u8;
                    let colour = if index >= 1.0 {
                        format!("rgb(255,{},{})", 255 - strength, 255 - strength)
                    } else {
                        format!("rgb({},{},255)", 255 - strength, 255 - strength)
                    };
                    let _ = write!(out, "<td style=\"background:{colour}\">{index:.2}</td>");
                }
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// One show's dashboard as one HTML page.
pub fn dashboard_html(dashboard: &TitleDashboard) -> String {
    let mut out = String::new();
    let p = &dashboard.performance;
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"note\">{} · {} to {}</p><div class=\"cards\">\
         <div class=\"card\"><b>{:.1}</b>hours</div><div class=\"card\"><b>{}</b>starts</div>\
         <div class=\"card\"><b>{}</b>viewers</div><div class=\"card\"><b>{}</b>completion</div>\
         <div class=\"card\"><b>{}</b>take rate</div></div>",
        escape(&p.name),
        p.kind,
        escape(&dashboard.from),
        escape(&dashboard.to),
        p.hours,
        p.starts,
        p.unique_viewers,
        pct(p.completion_rate),
        pct(p.take_rate)
    );
    let labels: Vec<String> = (0..dashboard.daily_hours.len())
        .map(|d| format!("d{d}"))
        .collect();
    out.push_str(&line_chart(
        "Hours viewed per day",
        &labels,
        &[("hours".into(), dashboard.daily_hours.clone())],
    ));
    let (labels, series) = retention_series(&[p]);
    out.push_str(&line_chart("Retention", &labels, &series));
    if let Some(launch) = &dashboard.launch {
        let labels: Vec<String> = (0..launch.viewers_by_day.len())
            .map(|d| format!("d{d}"))
            .collect();
        out.push_str(&line_chart(
            "Viewers per day since release",
            &labels,
            &[(
                launch.name.clone(),
                launch.viewers_by_day.iter().map(|v| *v as f64).collect(),
            )],
        ));
    }
    if let Some(forecast) = &dashboard.forecast {
        let _ = write!(
            out,
            "<p>Forecast: {:.1} h in the next 7 days, {:.1} h in the next 28 (last 7 days: \
             {:.1} h).</p>",
            forecast.next_7_days_hours, forecast.next_28_days_hours, forecast.last_7_days_hours
        );
    }
    breakdown_tables(&mut out, &dashboard.breakdowns);
    page(&p.name, &out)
}

/// Any report as tidy CSV: `section,path,value`, one row per figure (paths join the JSON
/// keys and list positions with dots).
pub fn to_csv<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_value(value)?;
    let mut out = String::from("section,path,value\n");
    if let serde_json::Value::Object(sections) = json {
        for (section, value) in sections {
            flatten(&mut out, &section, "", &value);
        }
    }
    Ok(out)
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn flatten(out: &mut String, section: &str, path: &str, value: &serde_json::Value) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                flatten(out, section, &join(key), value);
            }
        }
        serde_json::Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                flatten(out, section, &join(&index.to_string()), value);
            }
        }
        serde_json::Value::Null => {
            let _ = writeln!(out, "{},{},", csv_cell(section), csv_cell(path));
        }
        serde_json::Value::String(text) => {
            let _ = writeln!(
                out,
                "{},{},{}",
                csv_cell(section),
                csv_cell(path),
                csv_cell(text)
            );
        }
        other => {
            let _ = writeln!(out, "{},{},{}", csv_cell(section), csv_cell(path), other);
        }
    }
}
