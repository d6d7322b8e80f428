//! Grouped bar charts as SVG text, with `plotters`' SVG backend (text is
//! left to the viewer's fonts: no font files are read).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One chart: a bar per (group, series), grouped by group.
pub struct Bars {
    /// Caption.
    pub title: String,
    /// The y axis' label.
    pub y_label: String,
    /// The groups along the x axis.
    pub groups: Vec<String>,
    /// Each series' name and its value in every group.
    pub series: Vec<(String, Vec<f64>)>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// An axis tick: [`super::num`] without trailing zeros.
fn axis_label(v: f64) -> String {
    let s = super::num(v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("cannot draw a plot: {e}")
}

/// Draws `charts` side by side into one SVG document of `size` pixels.
pub fn bar_chart_svg(charts: &[Bars], size: (u32, u32)) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((1, charts.len().max(1)));
        for (area, c) in areas.iter().zip(charts) {
            draw(area, c)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn draw(area: &DrawingArea<SVGBackend<'_>, Shift>, c: &Bars) -> Result<(), String> {
    let n = c.groups.len().max(1) as f64;
    let k = c.series.len().max(1) as f64;
    let max = c
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|x| x.is_finite())
        .fold(0.0f64, f64::max);
    // Headroom for the value labels and the legend box.
    let top = if max > 0.0 { max * 1.35 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(&c.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(c.y_label.as_str())
        .y_label_formatter(&|v| axis_label(*v))
        .draw()
        .map_err(err)?;
    // Bars: each group gets the middle 80% of its unit, split by series.
    let width = 0.8 / k;
    for (s, (name, values)) in c.series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        let rects = values.iter().enumerate().map(move |(g, &v)| {
            let x0 = g as f64 + 0.1 + s as f64 * width;
            let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
            Rectangle::new([(x0, 0.0), (x0 + width * 0.9, v)], color.filled())
        });
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        // The value above each bar.
        let labels = values.iter().enumerate().map(move |(g, &v)| {
            let x = g as f64 + 0.1 + (s as f64 + 0.45) * width;
            Text::new(
                super::num(v),
                (x, if v.is_finite() { v.max(0.0) } else { 0.0 }),
                TextStyle::from(("sans-serif", 11))
                    .pos(Pos::new(HPos::Center, VPos::Bottom))
                    .color(&BLACK),
            )
        });
        chart.draw_series(labels).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    // Group names under the x axis, centered on their group.
    let base = area.get_base_pixel();
    let style = TextStyle::from(("sans-serif", 14))
        .pos(Pos::new(HPos::Center, VPos::Top))
        .color(&BLACK);
    for (g, name) in c.groups.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
        area.draw(&Text::new(
            name.as_str(),
            (px - base.0, py - base.1 + 6),
            style.clone(),
        ))
        .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_with_labels() {
        let svg = bar_chart_svg(
            &[Bars {
                title: "t".into(),
                y_label: "ms".into(),
                groups: vec!["passes".into(), "bsp".into()],
                series: vec![
                    ("1 thread(s)".into(), vec![1.0, 2.0]),
                    ("2 thread(s)".into(), vec![0.5, f64::NAN]),
                ],
            }],
            (400, 300),
        )
        .unwrap();
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        for s in ["passes", "bsp", "2 thread(s)"] {
            assert!(svg.contains(s), "{s}");
        }
    }
}
