//! PNG figures with plotters: the confusion matrix and the training curves.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (the `dejavu` crate), so the plots look the same on
//! every machine and need no system fonts. Plotters draws into an RGB buffer that `image` writes as PNG.

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::train::history::EpochRow;

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font always parses; a failure would only mean text-less plots.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Draw with `draw` on a `width x height` white canvas and save it as a PNG.
fn save_png(path: &Path, width: u32, height: u32, draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>) -> Result<()> {
    register_font();
    let mut buffer = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        draw(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    let image = image::RgbImage::from_raw(width, height, buffer).context("plot buffer has the wrong size")?;
    image.save(path).with_context(|| format!("writing {}", path.display()))
}

/// The confusion matrix of the classes in `shown` (indices into `labels`), rows = true class, columns =
/// predicted class, cells shaded by the share of the row and labelled with the count.
pub fn confusion_png(path: &Path, labels: &[String], confusion: &[Vec<usize>], shown: &[usize], title: &str) -> Result<()> {
    let cell = 34i32;
    let left = 230i32;
    let top = 70i32;
    let n = shown.len() as i32;
    let width = (left + n * cell + 20).max(420) as u32;
    let height = (top + n * cell + 50) as u32;
    save_png(path, width, height, |root| {
        let text = |size: u32| TextStyle::from((FONT, size).into_font()).color(&BLACK);
        let err = |e: DrawingAreaErrorKind<_>| anyhow!("{e}");
        root.draw(&Text::new(title.to_string(), (10, 10), text(18))).map_err(err)?;
        root.draw(&Text::new("rows: true class; columns: predicted (numbered as the rows)".to_string(), (10, 36), text(13)))
            .map_err(err)?;
        for (r, &t) in shown.iter().enumerate() {
            let row_total: usize = confusion[t].iter().sum();
            let y = top + r as i32 * cell;
            root.draw(&Text::new(format!("{:>2} {}", r + 1, labels[t]), (8, y + cell / 2 - 7), text(13))).map_err(err)?;
            for (c, &p) in shown.iter().enumerate() {
                let x = left + c as i32 * cell;
                let count = confusion[t][p];
                let share = if row_total > 0 { count as f64 / row_total as f64 } else { 0.0 };
                // White to dark blue by share of the row; the diagonal in blue, errors in red.
                let (r0, g0, b0) = if t == p { (31.0, 90.0, 180.0) } else { (200.0, 40.0, 40.0) };
                let mix = |c0: f64| (255.0 - (255.0 - c0) * share) as u8;
                let fill = RGBColor(mix(r0), mix(g0), mix(b0));
                root.draw(&Rectangle::new([(x, y), (x + cell - 1, y + cell - 1)], fill.filled())).map_err(err)?;
                root.draw(&Rectangle::new([(x, y), (x + cell - 1, y + cell - 1)], RGBColor(200, 200, 200)))
                    .map_err(err)?;
                if count > 0 {
                    let colour = if share > 0.55 { WHITE } else { BLACK };
                    let label = count.to_string();
                    let dx = 4 * label.len() as i32;
                    root.draw(&Text::new(label, (x + cell / 2 - dx, y + cell / 2 - 7), text(13).color(&colour)))
                        .map_err(err)?;
                }
            }
        }
        for c in 0..n {
            let x = left + c * cell + cell / 2 - if c + 1 >= 10 { 8 } else { 4 };
            root.draw(&Text::new(format!("{}", c + 1), (x, top - 18), text(12))).map_err(err)?;
        }
        Ok(())
    })
}

/// Loss and top-1 per epoch, training and validation, side by side.
pub fn curves_png(path: &Path, rows: &[EpochRow], title: &str) -> Result<()> {
    let last = rows.iter().map(|r| r.epoch).max().unwrap_or(1).max(2) as f64;
    save_png(path, 1100, 440, |root| {
        let err = |e: DrawingAreaErrorKind<_>| anyhow!("{e}");
        let root = root.titled(title, (FONT, 18)).map_err(err)?;
        let panels = root.split_evenly((1, 2));
        let series = |get: fn(&EpochRow) -> Option<f64>| -> Vec<(f64, f64)> {
            rows.iter().filter_map(|r| Some((r.epoch as f64, get(r)?))).filter(|(_, v)| v.is_finite()).collect()
        };
        let loss_train = series(|r| r.train_loss);
        let loss_valid = series(|r| r.valid_loss);
        let top_train = series(|r| r.train_top1);
        let top_valid = series(|r| r.valid_top1);
        let max_loss = loss_train.iter().chain(&loss_valid).map(|p| p.1).fold(0.1f64, f64::max) * 1.05;
        for (area, (name, y_max, train, valid)) in panels.iter().zip([
            ("loss", max_loss, &loss_train, &loss_valid),
            ("top-1 (%)", 100.0, &top_train, &top_valid),
        ]) {
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(52)
                .build_cartesian_2d(1f64..last, 0f64..y_max)
                .map_err(err)?;
            let epoch_label = |x: &f64| format!("{}", x.round() as i64);
            chart
                .configure_mesh()
                .x_labels((last as usize).min(12))
                .x_label_formatter(&epoch_label)
                .x_desc("epoch")
                .y_desc(name)
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()
                .map_err(err)?;
            let blue = RGBColor(31, 119, 180);
            let orange = RGBColor(255, 127, 14);
            chart
                .draw_series(LineSeries::new(train.iter().copied(), blue.stroke_width(2)))
                .map_err(err)?
                .label("train")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], blue.stroke_width(2)));
            chart
                .draw_series(LineSeries::new(valid.iter().copied(), orange.stroke_width(2)))
                .map_err(err)?
                .label("valid")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], orange.stroke_width(2)));
            chart
                .configure_series_labels()
                .label_font((FONT, 13))
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_readable_pngs() {
        let dir = tempfile::tempdir().unwrap();
        let labels: Vec<String> = ["Blip", "Koi_Fish", "Whistle"].iter().map(|s| s.to_string()).collect();
        let confusion = vec![vec![5, 1, 0], vec![0, 3, 0], vec![0, 0, 0]];
        let path = dir.path().join("cm.png");
        confusion_png(&path, &labels, &confusion, &[0, 1], "test").unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        // The Blip/Blip cell (row 0, column 0) is shaded blue, the empty Koi_Fish/Blip cell stays white.
        let at = |r: u32, c: u32| *img.get_pixel(230 + c * 34 + 3, 70 + r * 34 + 3);
        assert!(at(0, 0).0[2] > at(0, 0).0[0] + 50, "{:?}", at(0, 0));
        assert_eq!(at(1, 0).0, [255, 255, 255]);

        let rows: Vec<EpochRow> = (1..=4)
            .map(|e| EpochRow { epoch: e, train_loss: Some(1.0 / e as f64), valid_top1: Some(20.0 * e as f64), ..Default::default() })
            .collect();
        let curves = dir.path().join("curves.png");
        curves_png(&curves, &rows, "run").unwrap();
        let img = image::open(&curves).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (1100, 440));
        let coloured = img.pixels().filter(|p| p.0[0] != p.0[1] || p.0[1] != p.0[2]).count();
        assert!(coloured > 200, "the curves are drawn ({coloured} coloured pixels)");
    }
}

/// Reliability diagrams side by side (e.g. before and after temperature scaling): per confidence bin, the
/// accuracy of the glitches in it (bars) against the diagonal of perfect calibration, with the ECE and the
/// glitch count per bin.
pub fn reliability_png(path: &Path, panels: &[(&str, &crate::report::calibration::Reliability)], title: &str) -> Result<()> {
    let width = 520 * panels.len().max(1) as u32;
    save_png(path, width, 520, |root| {
        let err = |e: DrawingAreaErrorKind<_>| anyhow!("{e}");
        let root = root.titled(title, (FONT, 18)).map_err(err)?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (area, (name, rel)) in areas.iter().zip(panels) {
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{name}: ECE {:.1} %", rel.ece), (FONT, 15))
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(48)
                .build_cartesian_2d(0f64..1f64, 0f64..1f64)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("top-1 probability (confidence)")
                .y_desc("share right")
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 13))
                .draw()
                .map_err(err)?;
            let blue = RGBColor(31, 119, 180);
            chart
                .draw_series(rel.bins.iter().filter(|b| b.count > 0).map(|b| {
                    Rectangle::new([(b.lower + 0.003, 0.0), (b.upper - 0.003, b.accuracy)], blue.mix(0.75).filled())
                }))
                .map_err(err)?;
            chart
                .draw_series(rel.bins.iter().filter(|b| b.count > 0).map(|b| {
                    Text::new(format!("{}", b.count), (b.lower + 0.004, (b.accuracy + 0.06).min(0.97)), (FONT, 11).into_font())
                }))
                .map_err(err)?;
            chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.stroke_width(1))).map_err(err)?;
            let red = RGBColor(214, 39, 40);
            chart
                .draw_series(
                    rel.bins.iter().filter(|b| b.count > 0).map(|b| Circle::new((b.confidence, b.accuracy), 3, red.filled())),
                )
                .map_err(err)?;
        }
        Ok(())
    })
}
