//! `glitchscope cluster`: for an embeddings file, the 2-D map (t-SNE), clusters with outliers (HDBSCAN, or
//! k-means) and the unfamiliar-glitch score, written to a folder:
//! - `clusters.csv`: key, label, predicted, probability, cluster (-1 = outlier), x, y, unfamiliar_score,
//!   unfamiliar_percentile, new_class_candidate, nearest_reference_label;
//! - `map.png`: the map coloured by cluster, outliers grey, new-class candidates ringed;
//! - `summary.json`: settings, timings, clusters with their majority classes.
//!
//! The same library code runs in the browser; only the file handling is here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use glitchscope::discovery::{
    self, ClusterSelection, Clustering, Embeddings, HdbscanParams, NoveltyCalibration, NoveltyMethod, NoveltyScorer, Tsne, TsneParams, Unfamiliarity,
};
use plotters::prelude::*;
use plotters::style::FontStyle;
use serde_json::json;

use super::embed::{EmbeddingTable, row_error};

#[derive(Args)]
pub struct ClusterArgs {
    /// Embeddings file from `glitchscope embed` (.csv, .npy with .keys.csv, or .gsref).
    #[arg(long)]
    pub embeddings: PathBuf,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Labelled references for the unfamiliar score: a .gsref (with its calibration) or a labelled embeddings
    /// file (calibrated leave-one-out). Default: the labelled glitches of --embeddings, if any.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// HDBSCAN: the smallest group reported as a cluster.
    #[arg(long, default_value_t = 5)]
    pub min_cluster_size: usize,
    /// HDBSCAN: neighbours that make a point "core" (default: --min-cluster-size).
    #[arg(long)]
    pub min_samples: Option<usize>,
    /// HDBSCAN: report the leaves of the cluster tree (many small, homogeneous clusters) rather than the most
    /// stable clusters (fewer, larger).
    #[arg(long)]
    pub leaf: bool,
    /// Space to cluster in: `map` (the 2-D t-SNE coordinates: clusters match what the map shows, and on real
    /// glitches they were purer) or `pca` (the normalised embeddings after PCA: no map distortions).
    #[arg(long, default_value = "map", value_parser = ["pca", "map"])]
    pub cluster_on: String,
    /// Use k-means with this many clusters instead of HDBSCAN (no outliers).
    #[arg(long)]
    pub kmeans: Option<usize>,
    /// Principal components kept before mapping and clustering (0 = none).
    #[arg(long, default_value_t = 50)]
    pub pca: usize,
    #[arg(long, default_value_t = 30.0)]
    pub perplexity: f64,
    /// t-SNE iterations (the first 250 with early exaggeration).
    #[arg(long, default_value_t = 750)]
    pub iterations: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Neighbours averaged in the unfamiliar score (when not taken from a .gsref calibration).
    #[arg(long, default_value_t = 1)]
    pub novelty_k: usize,
    /// Percentile of known-class scores from which a glitch is flagged as a new-class candidate.
    #[arg(long, default_value_t = 0.95)]
    pub flag_percentile: f32,
}

/// The unfamiliar score of every glitch, with where its references came from.
struct Novelty {
    source: String,
    calibration: NoveltyCalibration,
    assessed: Vec<Unfamiliarity>,
    nearest_label: Vec<String>,
}

pub fn run(args: ClusterArgs) -> Result<()> {
    let table = EmbeddingTable::read(&args.embeddings)?;
    let n = table.len();
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let err = |e| row_error(&args.embeddings, &table.keys, e);

    let start = Instant::now();
    let prepared = discovery::prepare(&table.embeddings, args.pca, args.seed).map_err(err)?;
    let t_prepare = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let params = TsneParams { perplexity: args.perplexity, iterations: args.iterations, seed: args.seed, ..Default::default() };
    let mut tsne = Tsne::new(&prepared.reduced, params)?;
    let mut progress = tsne.progress();
    while !progress.done {
        progress = tsne.step(50);
        eprint!("\rmap: iteration {}/{}", progress.iteration, progress.total);
    }
    eprintln!();
    let xy = tsne.coordinates();
    let t_map = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let map_points;
    let space = if args.cluster_on == "map" {
        map_points = Embeddings::from_flat(tsne.coordinates_flat(), 2)?;
        &map_points
    } else {
        &prepared.reduced
    };
    let clustering = match args.kmeans {
        Some(k) => discovery::kmeans(space, k, args.seed, 300)?,
        None => {
            let selection = if args.leaf { ClusterSelection::Leaf } else { ClusterSelection::ExcessOfMass };
            let params = HdbscanParams { min_cluster_size: args.min_cluster_size, min_samples: args.min_samples, allow_single_cluster: false, selection };
            discovery::hdbscan(space, &params)?
        }
    };
    let t_cluster = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let novelty = unfamiliar(&args, &table)?;
    let t_novelty = start.elapsed().as_secs_f64();

    write_csv(&args.out.join("clusters.csv"), &table, &clustering, &xy, novelty.as_ref())?;
    let title = format!(
        "{n} glitches, {} clusters, {} outliers{}",
        clustering.n_clusters,
        clustering.noise(),
        novelty.as_ref().map_or(String::new(), |v| format!(", {} unfamiliar", v.assessed.iter().filter(|u| u.new_class_candidate).count()))
    );
    let groups = describe_clusters(&table, &clustering);
    map_png(&args.out.join("map.png"), &xy, &clustering, novelty.as_ref(), &groups, &title)?;

    let summary = json!({
        "embeddings": args.embeddings.display().to_string(),
        "glitches": n,
        "dimension": table.embeddings.dim(),
        "pca_components": prepared.pca.as_ref().map_or(0, |p| p.n_components()),
        "map": {"method": "Barnes-Hut t-SNE", "perplexity": args.perplexity, "iterations": args.iterations, "seed": args.seed, "kl_divergence": progress.kl_divergence},
        "clustering": match args.kmeans {
            Some(k) => json!({"method": "k-means", "k": k, "space": args.cluster_on}),
            None => json!({"method": "HDBSCAN", "selection": if args.leaf { "leaf" } else { "excess_of_mass" }, "space": args.cluster_on,
                "min_cluster_size": args.min_cluster_size, "min_samples": args.min_samples.unwrap_or(args.min_cluster_size)}),
        },
        "clusters": groups.iter().enumerate().map(|(id, g)| json!({"cluster": id, "size": g.size, "predicted": g.predicted, "label": g.label, "label_share": g.label_share})).collect::<Vec<_>>(),
        "outliers": clustering.noise(),
        "unfamiliar": novelty.as_ref().map(|v| json!({
            "reference": v.source,
            "method": v.calibration.method,
            "flag_percentile": v.calibration.flag_percentile,
            "candidates": v.assessed.iter().filter(|u| u.new_class_candidate).count(),
        })),
        "seconds": {"prepare": t_prepare, "map": t_map, "cluster": t_cluster, "unfamiliar": t_novelty},
    });
    let summary_path = args.out.join("summary.json");
    std::fs::write(&summary_path, serde_json::to_string_pretty(&summary)?).with_context(|| format!("writing {}", summary_path.display()))?;

    println!("{title}");
    for (id, g) in groups.iter().enumerate() {
        let label = g.label.as_ref().map_or(String::new(), |l| format!(", label {l} ({:.0} %)", 100.0 * g.label_share.unwrap_or(0.0)));
        println!("  cluster {id:>3}: {:>5} glitches, mostly predicted {}{label}", g.size, g.predicted.as_deref().unwrap_or("-"));
    }
    match &novelty {
        Some(v) => println!("unfamiliar score against {}", v.source),
        None => println!("no unfamiliar score: give --reference, or labels in the embeddings file"),
    }
    println!(
        "times: prepare {t_prepare:.2} s, map {t_map:.2} s, clusters {t_cluster:.2} s, unfamiliar {t_novelty:.2} s; wrote {}",
        args.out.display()
    );
    Ok(())
}

/// Score every glitch against the reference (given, or the labelled rows of the table). A glitch that is itself
/// a reference (same key) is scored with itself left out.
fn unfamiliar(args: &ClusterArgs, table: &EmbeddingTable) -> Result<Option<Novelty>> {
    let (source, references): (String, EmbeddingTable) = match &args.reference {
        Some(path) => (path.display().to_string(), EmbeddingTable::read(path)?),
        None if table.has_labels() => {
            let rows: Vec<usize> = (0..table.len()).filter(|&i| !table.labels[i].is_empty()).collect();
            let pick = |v: &[String]| rows.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
            let refs = EmbeddingTable {
                keys: pick(&table.keys),
                labels: pick(&table.labels),
                predicted: pick(&table.predicted),
                probability: rows.iter().map(|&i| table.probability[i]).collect(),
                embeddings: table.embeddings.select(&rows)?,
                reference: None,
            };
            (format!("the {} labelled glitches of {}", rows.len(), args.embeddings.display()), refs)
        }
        None => return Ok(None),
    };
    if references.embeddings.dim() != table.embeddings.dim() {
        bail!("{source}: embeddings of dimension {}, but {} has {}", references.embeddings.dim(), args.embeddings.display(), table.embeddings.dim());
    }
    let labelled: Vec<usize> = (0..references.len()).filter(|&i| !references.labels[i].is_empty()).collect();
    if labelled.len() < 2 {
        bail!("{source}: the unfamiliar score needs at least 2 labelled reference glitches, found {}", labelled.len());
    }
    let ref_labels: Vec<&String> = labelled.iter().map(|&i| &references.labels[i]).collect();
    let ref_keys: Vec<&String> = labelled.iter().map(|&i| &references.keys[i]).collect();
    let ref_embeddings = references.embeddings.select(&labelled)?;
    let shipped = references.reference.as_ref().and_then(|r| r.calibration.clone());
    let method = shipped.as_ref().map_or(NoveltyMethod::KnnMeanDistance { k: args.novelty_k.min(labelled.len() - 1).max(1) }, |c| c.method);
    let scorer = NoveltyScorer::new(&ref_embeddings, &ref_labels, method)?;
    let calibration = match shipped {
        Some(c) => c,
        None => scorer.calibrate_leave_one_out(args.flag_percentile)?,
    };
    let position: HashMap<&str, usize> = ref_keys.iter().enumerate().rev().map(|(i, k)| (k.as_str(), i)).collect();
    let index = discovery::NeighbourIndex::new(&ref_embeddings)?;
    let mut assessed = Vec::with_capacity(table.len());
    let mut nearest_label = Vec::with_capacity(table.len());
    for (row, e) in table.embeddings.rows().enumerate() {
        let own = position.get(table.keys[row].as_str()).copied();
        let score = scorer.score_glitch(own, e).map_err(|e| row_error(&args.embeddings, &table.keys, e))?;
        assessed.push(calibration.assess_glitch(score, e).map_err(|e| row_error(&args.embeddings, &table.keys, e))?);
        let nearest = index.search(e, 1, own)?;
        nearest_label.push(nearest.first().map_or(String::new(), |n| ref_labels[n.index].clone()));
    }
    Ok(Some(Novelty { source, calibration, assessed, nearest_label }))
}

fn write_csv(path: &Path, table: &EmbeddingTable, clustering: &Clustering, xy: &[[f32; 2]], novelty: Option<&Novelty>) -> Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record([
        "key", "label", "predicted", "probability", "cluster", "x", "y", "unfamiliar_score", "unfamiliar_percentile", "new_class_candidate",
        "nearest_reference_label",
    ])?;
    for (i, [x, y]) in xy.iter().enumerate() {
        let u = novelty.map(|v| v.assessed[i]);
        w.write_record([
            table.keys[i].clone(),
            table.labels[i].clone(),
            table.predicted[i].clone(),
            table.probability[i].map(|p| p.to_string()).unwrap_or_default(),
            clustering.labels[i].to_string(),
            x.to_string(),
            y.to_string(),
            u.map(|u| u.score.to_string()).unwrap_or_default(),
            u.map(|u| u.percentile.to_string()).unwrap_or_default(),
            u.map(|u| u.new_class_candidate.to_string()).unwrap_or_default(),
            novelty.map(|v| v.nearest_label[i].clone()).unwrap_or_default(),
        ])?;
    }
    w.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// What a cluster holds: size, most common predicted class, most common label and its share.
struct ClusterInfo {
    size: usize,
    predicted: Option<String>,
    label: Option<String>,
    label_share: Option<f64>,
}

fn majority(values: &[&String]) -> Option<(String, usize)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in values.iter().filter(|v| !v.is_empty()) {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0))).map(|(k, c)| (k.to_string(), c))
}

fn describe_clusters(table: &EmbeddingTable, clustering: &Clustering) -> Vec<ClusterInfo> {
    (0..clustering.n_clusters as i32)
        .map(|c| {
            let members: Vec<usize> = (0..table.len()).filter(|&i| clustering.labels[i] == c).collect();
            let predicted: Vec<&String> = members.iter().map(|&i| &table.predicted[i]).collect();
            let labels: Vec<&String> = members.iter().map(|&i| &table.labels[i]).collect();
            let labelled = labels.iter().filter(|l| !l.is_empty()).count();
            let label = majority(&labels);
            ClusterInfo {
                size: members.len(),
                predicted: majority(&predicted).map(|p| p.0),
                label_share: label.as_ref().map(|l| l.1 as f64 / labelled as f64),
                label: label.map(|l| l.0),
            }
        })
        .collect()
}

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font always parses; a failure would only mean a map without text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// 20 well-separated colours (Tableau 20), cycled for more clusters.
const PALETTE: [(u8, u8, u8); 20] = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194),
    (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (219, 219, 141), (158, 218, 229), (127, 127, 127), (57, 59, 121),
];

fn colour(cluster: i32) -> RGBColor {
    if cluster < 0 {
        return RGBColor(200, 200, 200);
    }
    let (r, g, b) = PALETTE[cluster as usize % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The map as a PNG drawn with plotters' bitmap backend and an embedded font (no system fonts needed).
fn map_png(path: &Path, xy: &[[f32; 2]], clustering: &Clustering, novelty: Option<&Novelty>, groups: &[ClusterInfo], title: &str) -> Result<()> {
    register_font();
    let (width, height) = (1200u32, 860u32);
    let mut buffer = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| anyhow!("drawing the map: {e}");
        root.fill(&WHITE).map_err(e)?;
        let (plot, legend) = root.split_horizontally(880);
        let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in xy {
            for c in 0..2 {
                lo[c] = lo[c].min(p[c]);
                hi[c] = hi[c].max(p[c]);
            }
        }
        let pad = |c: usize| ((hi[c] - lo[c]) * 0.05).max(1e-3);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, 20))
            .margin(12)
            .build_cartesian_2d((lo[0] - pad(0))..(hi[0] + pad(0)), (lo[1] - pad(1))..(hi[1] + pad(1)))
            .map_err(e)?;
        chart.configure_mesh().disable_mesh().disable_x_axis().disable_y_axis().draw().map_err(e)?;
        // Outliers first, so clusters are drawn over them.
        let mut order: Vec<usize> = (0..xy.len()).collect();
        order.sort_by_key(|&i| (clustering.labels[i] >= 0, i));
        chart
            .draw_series(order.iter().map(|&i| Circle::new((xy[i][0], xy[i][1]), 3, colour(clustering.labels[i]).filled())))
            .map_err(e)?;
        if let Some(v) = novelty {
            let flagged = (0..xy.len()).filter(|&i| v.assessed[i].new_class_candidate);
            chart.draw_series(flagged.map(|i| Circle::new((xy[i][0], xy[i][1]), 6, BLACK.stroke_width(1)))).map_err(e)?;
        }

        let text = |size: u32| TextStyle::from((FONT, size).into_font()).color(&BLACK);
        let mut y = 40;
        // Labels, when the file has them, say more than the model's guesses.
        let by_label = groups.iter().any(|g| g.label.is_some());
        let heading = if by_label { "clusters (majority label)" } else { "clusters (majority predicted class)" };
        legend.draw(&Text::new(heading, (0, 14), text(14))).map_err(e)?;
        let shown = groups.len().min(34);
        for (id, g) in groups.iter().enumerate().take(shown) {
            legend.draw(&Rectangle::new([(0, y), (12, y + 12)], colour(id as i32).filled())).map_err(e)?;
            let name = if by_label { g.label.as_deref() } else { g.predicted.as_deref() }.unwrap_or("-");
            legend.draw(&Text::new(format!("{id}: {} ({name})", g.size), (18, y), text(13))).map_err(e)?;
            y += 22;
        }
        if groups.len() > shown {
            legend.draw(&Text::new(format!("... and {} more", groups.len() - shown), (18, y), text(13))).map_err(e)?;
            y += 22;
        }
        legend.draw(&Circle::new((6, y + 6), 4, colour(-1).filled())).map_err(e)?;
        legend.draw(&Text::new(format!("outliers ({})", clustering.noise()), (18, y), text(13))).map_err(e)?;
        if novelty.is_some() {
            y += 22;
            legend.draw(&Circle::new((6, y + 6), 6, BLACK.stroke_width(1))).map_err(e)?;
            legend.draw(&Text::new("new-class candidate", (18, y), text(13))).map_err(e)?;
        }
        root.present().map_err(e)?;
    }
    let image = image::RgbImage::from_raw(width, height, buffer).context("map buffer has the wrong size")?;
    image.save(path).with_context(|| format!("writing {}", path.display()))
}
