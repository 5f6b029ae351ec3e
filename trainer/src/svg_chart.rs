//! Small self-contained SVG line and scatter charts for evaluation plots: axes with round tick
//! values, one polyline (and optional markers) per series, a legend, an optional `y = x`
//! reference line. No plotting dependency: the charts are a few kilobytes of SVG each and open
//! in any browser or notebook.

use std::fmt::Write as _;

/// Canvas size and plot margins, in SVG user units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 55.0;

/// One series of points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Stroke colour (CSS).
    pub color: &'static str,
    /// Points in data coordinates; non-finite points are left out.
    pub points: Vec<(f64, f64)>,
    /// Draw a marker at each point.
    pub markers: bool,
    /// Dashed line (reference series).
    pub dashed: bool,
}

/// A chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title, drawn above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// X axis from 0 to at least this (rounded up to a tick).
    pub x_max: f64,
    /// X tick step (default: a round step giving about five ticks).
    pub x_step: Option<f64>,
    /// Y axis from 0 to at least this (rounded up to a tick).
    pub y_max: f64,
    /// Draw the `y = x` line.
    pub diagonal: bool,
    /// Put the legend in the bottom-right corner (default: top left), where the data is not.
    pub legend_bottom_right: bool,
    /// The series, drawn in order.
    pub series: Vec<Series>,
}

/// A round tick step giving about five ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let unit = raw / mag;
    let nice = if unit <= 1.0 {
        1.0
    } else if unit <= 2.0 {
        2.0
    } else if unit <= 2.5 {
        2.5
    } else if unit <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// The axis end: `max` rounded up to a whole number of steps (at least one) of `step`, or of
/// a round step.
fn axis_end(max: f64, step: Option<f64>) -> (f64, f64) {
    let step = step
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or_else(|| tick_step(max));
    let steps = (max / step).ceil().max(1.0);
    (steps * step, step)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Tick label with as many decimals as the step needs.
fn label(v: f64, step: f64) -> String {
    let decimals = (0..6)
        .find(|&d| {
            let m = step * 10f64.powi(d);
            (m - m.round()).abs() < 1e-9
        })
        .unwrap_or(6) as usize;
    format!("{v:.decimals$}")
}

impl Chart {
    /// The chart as a complete SVG document.
    pub fn render(&self) -> String {
        let (x_end, x_step) = axis_end(self.x_max, self.x_step);
        let (y_end, y_step) = axis_end(self.y_max, None);
        let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let sx = |x: f64| LEFT + (x / x_end).clamp(0.0, 1.0) * pw;
        let sy = |y: f64| TOP + ph - (y / y_end).clamp(0.0, 1.0) * ph;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        // Grid and ticks.
        let ticks = |end: f64, step: f64| {
            let n = (end / step).round() as usize;
            (0..=n).map(move |i| i as f64 * step)
        };
        for x in ticks(x_end, x_step) {
            let px = sx(x);
            let _ = writeln!(
                s,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph + 16.0,
                label(x, x_step)
            );
        }
        for y in ticks(y_end, y_step) {
            let py = sy(y);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                py + 4.0,
                label(y, y_step)
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            HEIGHT - 12.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            TOP + ph / 2.0,
            escape(&self.y_label)
        );
        if self.diagonal {
            let end = x_end.min(y_end);
            let _ = writeln!(
                s,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4 4"/>"##,
                sx(0.0),
                sy(0.0),
                sx(end),
                sy(end)
            );
        }
        for (k, series) in self.series.iter().enumerate() {
            let points: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| (sx(x), sy(y)))
                .collect();
            let path: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let dash = if series.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
                series.color,
                path.join(" ")
            );
            if series.markers {
                for (x, y) in &points {
                    let _ = writeln!(
                        s,
                        r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}"/>"#,
                        series.color
                    );
                }
            }
            let (lx, ly) = if self.legend_bottom_right {
                let rows = self.series.len() as f64;
                (
                    LEFT + pw - 230.0,
                    TOP + ph - 12.0 - 18.0 * (rows - 1.0 - k as f64),
                )
            } else {
                (LEFT + 12.0, TOP + 16.0 + 18.0 * k as f64)
            };
            let _ = writeln!(
                s,
                r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
                lx,
                lx + 24.0,
                series.color,
                lx + 30.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(axis_end(0.23, None), (0.25, 0.05));
        assert_eq!(axis_end(1.0, None), (1.0, 0.2));
        assert_eq!(axis_end(23.0, None), (25.0, 5.0));
        assert_eq!(axis_end(24.0, Some(3.0)), (24.0, 3.0));
        assert_eq!(axis_end(0.0, None), (1.0, 1.0));
        assert_eq!(label(0.25, 0.05), "0.25");
        assert_eq!(label(0.2, 0.2), "0.2");
        assert_eq!(label(0.125, 0.025), "0.125");
        assert_eq!(label(10.0, 5.0), "10");
    }

    #[test]
    fn points_land_where_their_values_say() {
        let chart = Chart {
            title: "a < b & c".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_max: 1.0,
            x_step: None,
            y_max: 1.0,
            diagonal: true,
            legend_bottom_right: false,
            series: vec![Series {
                name: "s".into(),
                color: "red",
                points: vec![(0.0, 0.0), (0.5, 0.5), (f64::NAN, 1.0), (1.0, 1.0)],
                markers: true,
                dashed: false,
            }],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt; b &amp; c"), "{svg}");
        // The plot spans x 70..620 and y 50..385: (0.5, 0.5) is its centre.
        let (cx, cy) = (
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
            TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
        );
        assert!(svg.contains(&format!("{cx:.1},{cy:.1}")), "{svg}");
        // The NaN point is left out: three markers.
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<polyline").count(), 1);
    }
}
