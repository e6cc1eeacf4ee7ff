//! `glitchscope similar`: the glitches most like one glitch, by cosine similarity of embeddings, among the
//! glitches of an embeddings file and, optionally, in a reference set (.gsref or a labelled embeddings file).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use glitchscope::discovery::NeighbourIndex;
use serde::Serialize;

use super::embed::EmbeddingTable;

#[derive(Args)]
pub struct SimilarArgs {
    /// Embeddings file from `glitchscope embed` (.csv, .npy with .keys.csv, or .gsref).
    #[arg(long)]
    pub embeddings: PathBuf,
    /// The glitch to start from: its key (`<IFO>_<id>`), or a part of it that only one key contains.
    #[arg(long)]
    pub key: String,
    /// How many neighbours to list.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Also search this reference set (.gsref, or another embeddings file).
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// One JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Found {
    rank: usize,
    key: String,
    similarity: f32,
    label: String,
    predicted: String,
}

fn search(table: &EmbeddingTable, query: &[f32], k: usize, exclude: Option<usize>) -> Result<Vec<Found>> {
    let index = NeighbourIndex::new(&table.embeddings)?;
    Ok(index
        .search(query, k, exclude)?
        .into_iter()
        .enumerate()
        .map(|(r, n)| Found {
            rank: r + 1,
            key: table.keys[n.index].clone(),
            similarity: n.similarity,
            label: table.labels[n.index].clone(),
            predicted: table.predicted[n.index].clone(),
        })
        .collect())
}

pub fn run(args: SimilarArgs) -> Result<()> {
    if args.k == 0 {
        bail!("-k must be at least 1");
    }
    let table = EmbeddingTable::read(&args.embeddings)?;
    let row = table.find_key(&args.key, &args.embeddings)?;
    let query = table.embeddings.row(row).to_vec();
    let among = search(&table, &query, args.k, Some(row))?;
    let reference = match &args.reference {
        Some(path) => {
            let refs = EmbeddingTable::read(path)?;
            if refs.embeddings.dim() != query.len() {
                bail!("{}: embeddings of dimension {}, but {} has {}", path.display(), refs.embeddings.dim(), args.embeddings.display(), query.len());
            }
            Some((path, search(&refs, &query, args.k, None)?, refs.len()))
        }
        None => None,
    };

    if args.json {
        let doc = serde_json::json!({
            "key": table.keys[row],
            "label": table.labels[row],
            "predicted": table.predicted[row],
            "neighbours": among,
            "reference": reference.as_ref().map(|(path, found, _)| serde_json::json!({"file": path.display().to_string(), "neighbours": found})),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let describe = |label: &str, predicted: &str| {
        let mut parts = Vec::new();
        if !label.is_empty() {
            parts.push(format!("label {label}"));
        }
        if !predicted.is_empty() {
            parts.push(format!("predicted {predicted}"));
        }
        parts.join(", ")
    };
    println!("{} ({})", table.keys[row], describe(&table.labels[row], &table.predicted[row]));
    let print = |title: String, found: &[Found]| {
        println!("{title}");
        for f in found {
            println!("  {:>3}. {:.4}  {:<32} {}", f.rank, f.similarity, f.key, describe(&f.label, &f.predicted));
        }
    };
    print(format!("nearest among the other {} glitches of {}:", table.len() - 1, args.embeddings.display()), &among);
    if let Some((path, found, n)) = &reference {
        print(format!("nearest among the {n} glitches of {}:", path.display()), found);
    }
    Ok(())
}
