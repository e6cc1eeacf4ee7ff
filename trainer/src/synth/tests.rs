//! Behaviour of the generator: determinism, exact SNR, noise spectrum, where each class puts its energy.

use super::noise::NoiseModel;
use super::*;
use realfft::RealFftPlanner;

fn config() -> SynthConfig {
    SynthConfig::default()
}

/// Fraction of the whitened glitch's energy inside the frequency bands (Hz).
fn energy_fraction_in(glitch: &[f64], sample_rate: f64, bands: &[(f64, f64)]) -> f64 {
    let n = glitch.len();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut input = glitch.to_vec();
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut input, &mut spectrum).expect("sized by the planner");
    let (mut inside, mut total) = (0.0, 0.0);
    for (k, c) in spectrum.iter().enumerate() {
        let f = k as f64 * sample_rate / n as f64;
        let e = c.norm_sqr();
        total += e;
        if bands.iter().any(|(lo, hi)| f >= *lo && f <= *hi) {
            inside += e;
        }
    }
    inside / total
}

#[test]
fn same_seed_class_index_gives_identical_glitch() {
    let a = generate("Whistle", 42, 3, &config()).unwrap();
    let b = generate("Whistle", 42, 3, &config()).unwrap();
    assert_eq!(a.strain, b.strain);
    assert_eq!(serde_json::to_string(&a.params).unwrap(), serde_json::to_string(&b.params).unwrap());
    let c = generate("Whistle", 42, 4, &config()).unwrap();
    let d = generate("Whistle", 43, 3, &config()).unwrap();
    assert_ne!(a.strain, c.strain);
    assert_ne!(a.params.id, c.params.id);
    assert_ne!(a.strain, d.strain);
}

#[test]
fn output_does_not_depend_on_thread_order() {
    let jobs: Vec<(&str, u64)> = vec![("Blip", 0), ("Scattered_Light", 1), ("Chirp", 2), ("Blip", 1)];
    let sequential: Vec<Vec<f64>> = jobs.iter().map(|(c, i)| generate(c, 9, *i, &config()).unwrap().strain).collect();
    // Two threads, each taking the jobs in reverse order.
    let parallel: Vec<(usize, Vec<f64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let jobs = &jobs;
                s.spawn(move || {
                    (0..jobs.len())
                        .rev()
                        .filter(|k| k % 2 == t)
                        .map(|k| (k, generate(jobs[k].0, 9, jobs[k].1, &config()).unwrap().strain))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    for (k, strain) in parallel {
        assert_eq!(strain, sequential[k], "job {k} differs between threads and sequential order");
    }
}

#[test]
fn every_class_draws_its_glitch_at_the_stated_snr() {
    for class in glitchscope::labels::O1_CLASSES {
        for index in 0..3 {
            let g = generate(class, 5, index, &config()).unwrap();
            let snr = g.whitened_glitch.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((snr - g.params.design.snr).abs() <= 1e-6 * g.params.design.snr.max(1.0), "{class}: {snr} vs {}", g.params.design.snr);
            assert!(g.strain.iter().all(|x| x.is_finite()), "{class}: non-finite strain");
            assert_eq!(g.strain.len(), config().len());
            if class == "No_Glitch" {
                assert!(snr < 5.0, "No_Glitch must stay below anything visible, got SNR {snr}");
            } else {
                assert!(snr >= 7.0, "{class}: SNR {snr} too low to be seen");
            }
        }
    }
}

#[test]
fn each_class_puts_its_energy_where_gravity_spy_sees_it() {
    // The fundamental may carry a second mode up to 50 Hz away.
    let violin: Vec<(f64, f64)> = (1..=4).map(|k| (500.0 * k as f64 - 60.0, 515.0 * k as f64 + 60.0)).collect();
    let cases: Vec<(&str, Vec<(f64, f64)>)> = vec![
        // A 0.25 s Hann spindle is about ±8 Hz wide.
        ("Power_Line", vec![(50.0, 70.0), (110.0, 130.0)]),
        ("Air_Compressor", vec![(35.0, 65.0)]),
        ("Violin_Mode", violin),
        ("1080Lines", vec![(1000.0, 1160.0)]),
        ("1400Ripples", vec![(1250.0, 1750.0)]),
        ("Low_Frequency_Lines", vec![(5.0, 60.0)]),
        ("Low_Frequency_Burst", vec![(3.0, 60.0)]),
        ("Scattered_Light", vec![(0.0, 300.0)]),
        ("Wandering_Line", vec![(300.0, 4000.0)]),
        ("Whistle", vec![(100.0, 4096.0)]),
        ("Chirp", vec![(20.0, 800.0)]),
        // The gnome hat ends at a few hundred Hz; a Blip's needle reaches the top of the plot.
        ("Tomte", vec![(0.0, 400.0)]),
        ("Paired_Doves", vec![(15.0, 200.0)]),
        ("Helix", vec![(15.0, 1200.0)]),
        ("Scratchy", vec![(40.0, 800.0)]),
    ];
    for (class, bands) in cases {
        for index in 0..4 {
            let g = generate(class, 11, index, &config()).unwrap();
            let fraction = energy_fraction_in(&g.whitened_glitch, g.params.sample_rate, &bands);
            assert!(fraction > 0.9, "{class} #{index}: only {:.1}% of the energy in {bands:?}", 100.0 * fraction);
        }
    }
}

#[test]
fn blips_are_centred_on_the_trigger() {
    let cfg = config();
    // Koi_Fish may sit on a low-frequency skirt reaching ±0.1-0.5 s, as most real O2 ones do.
    for (class, reach) in [("Blip", 0.1), ("Tomte", 0.1), ("Koi_Fish", 0.5)] {
        for index in 0..8 {
            let g = generate(class, 3, index, &cfg).unwrap();
            let center = cfg.len() / 2;
            let near = (reach * cfg.sample_rate) as usize;
            let total: f64 = g.whitened_glitch.iter().map(|x| x * x).sum();
            let inside: f64 = g.whitened_glitch[center - near..center + near].iter().map(|x| x * x).sum();
            assert!(inside / total > 0.95, "{class} #{index}: {:.1}% within ±{reach} s", 100.0 * inside / total);
        }
    }
}

#[test]
fn energy_span_measures_the_drawn_duration() {
    let cfg = config();
    let blip = generate("Blip", 4, 0, &cfg).unwrap();
    let lines = generate("Low_Frequency_Lines", 4, 0, &cfg).unwrap();
    assert!(blip.energy_span_s(0.9) < 0.1, "a blip lasts milliseconds, got {}", blip.energy_span_s(0.9));
    assert!(lines.energy_span_s(0.9) > 2.0, "low-frequency lines last seconds, got {}", lines.energy_span_s(0.9));
    assert!(lines.energy_span_s(0.9) <= lines.params.design.duration_s);
    for index in 0..4 {
        let chirp = generate("Chirp", 4, index, &cfg).unwrap();
        assert!(chirp.energy_span_s(0.9) < 0.3, "real chirps are short and steep, got {} s", chirp.energy_span_s(0.9));
    }
}

#[test]
fn coloured_noise_has_the_model_asd() {
    // No glitch: the strain is coloured white noise. A median-free Welch average (4 s Hann segments, half
    // overlap) must recover the model ASD within 10 % away from the lines.
    let g = generate("No_Glitch", 1, 1, &config()).unwrap();
    let fs = g.params.sample_rate;
    let model: &NoiseModel = &g.params.noise;
    let seg = (4.0 * fs) as usize;
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(seg);
    let window: Vec<f64> = (0..seg).map(|i| (std::f64::consts::PI * i as f64 / seg as f64).sin().powi(2)).collect();
    let norm: f64 = window.iter().map(|w| w * w).sum::<f64>() * fs / 2.0;
    let mut psd = vec![0.0; seg / 2 + 1];
    let mut count = 0.0;
    for start in (0..g.strain.len() - seg).step_by(seg / 2) {
        let mut input: Vec<f64> = g.strain[start..start + seg].iter().zip(&window).map(|(x, w)| x * w).collect();
        let mut spectrum = fft.make_output_vec();
        fft.process(&mut input, &mut spectrum).unwrap();
        psd.iter_mut().zip(&spectrum).for_each(|(p, c)| *p += c.norm_sqr() / norm);
        count += 1.0;
    }
    for f in [45.0, 100.0, 200.0, 400.0, 800.0, 1500.0] {
        // Average ±2 Hz of bins to beat the estimator's variance.
        let k0 = ((f - 2.0) * 4.0) as usize;
        let k1 = ((f + 2.0) * 4.0) as usize;
        let measured = (psd[k0..=k1].iter().sum::<f64>() / ((k1 - k0 + 1) as f64 * count)).sqrt();
        let expected = (k0..=k1).map(|k| model.asd(k as f64 / 4.0).powi(2)).sum::<f64>().sqrt() / ((k1 - k0 + 1) as f64).sqrt();
        let ratio = measured / expected;
        assert!((0.9..1.1).contains(&ratio), "ASD at {f} Hz: measured/model = {ratio:.3}");
    }
    // The shape is O1-like: the seismic wall makes 15 Hz far noisier than the 100-300 Hz bucket.
    assert!(model.asd(15.0) > 20.0 * model.asd(150.0));
    assert!(model.asd(2000.0) > model.asd(150.0));
}

#[test]
fn detectors_follow_the_o1_h1_l1_ratio() {
    let count_l1 = |class: &str| (0..40).filter(|i| generate(class, 2, *i, &config()).unwrap().params.ifo == "L1").count();
    assert!(count_l1("Whistle") >= 36, "Whistle is nearly all L1 in O1");
    assert!(count_l1("1080Lines") <= 4, "1080Lines is nearly all H1 in O1");
}

#[test]
fn ids_look_like_gravity_spy_ids_and_are_unique() {
    let mut ids: Vec<String> = (0..200).map(|i| short_id(&stream_digest(7, 3, i))).collect();
    assert!(ids.iter().all(|id| id.len() == 10 && id.chars().all(|c| c.is_ascii_alphanumeric())));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
}

#[test]
fn unknown_class_is_a_clear_error() {
    let err = generate("Pizzicato", 0, 0, &config()).err().expect("a class with no drawn shape");
    let message = format!("{err}");
    assert!(message.contains("Pizzicato") && message.contains("Blip") && message.contains("70HZLINE"), "{message}");
}

/// Energy fraction of class glitches `0..n` (seed 21) inside `bands`, one value per glitch.
fn fractions(class: &str, n: u64, bands: &[(f64, f64)]) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let g = generate(class, 21, i, &config()).unwrap();
            energy_fraction_in(&g.whitened_glitch, g.params.sample_rate, bands)
        })
        .collect()
}

#[test]
fn violin_mode_stacks_its_harmonics() {
    // Real Violin_Mode shows dots at 500, 1000 and 1500 Hz in the same column; a lone dot near 1 kHz is
    // 1080Lines. Every harmonic of the stack must carry a visible share of the energy.
    let cfg = config();
    for i in 0..12 {
        let g = generate("Violin_Mode", 21, i, &cfg).unwrap();
        for k in 1..=3 {
            let band = [(500.0 * k as f64 - 60.0, 515.0 * k as f64 + 60.0)];
            let f = energy_fraction_in(&g.whitened_glitch, cfg.sample_rate, &band);
            assert!(f > 0.03, "Violin_Mode #{i}: only {:.0}% of the energy at harmonic {k}", 100.0 * f);
        }
    }
}

#[test]
fn scattered_light_is_a_few_low_arches_around_the_trigger() {
    let cfg = config();
    for i in 0..8 {
        let g = generate("Scattered_Light", 21, i, &cfg).unwrap();
        let low = energy_fraction_in(&g.whitened_glitch, cfg.sample_rate, &[(0.0, 120.0)]);
        assert!(low > 0.95, "#{i}: {:.1}% below 120 Hz", 100.0 * low);
        let span = g.energy_span_s(0.9);
        assert!(span > 0.5 && span < 4.0, "#{i}: 90% of the energy within {span:.2} s, real arches last 1.5-4 s");
        assert!(g.params.design.snr <= 50.0, "#{i}: SNR {} (real arches average 16)", g.params.design.snr);
    }
}

#[test]
fn whistles_leave_the_low_frequencies_alone() {
    // Beat notes that would sweep below ~f_min / 2 fade out instead of piling up at the 20 Hz floor.
    for (i, f) in fractions("Whistle", 24, &[(0.0, 70.0)]).iter().enumerate() {
        assert!(*f < 0.01, "Whistle #{i}: {:.1}% of the energy below 70 Hz", 100.0 * f);
    }
}

#[test]
fn helix_columns_repeat_across_the_4s_view() {
    // Several evenly spaced columns: count the 50 ms windows within ±2 s that hold a clear share of the energy.
    let cfg = config();
    for i in 0..6 {
        let g = generate("Helix", 21, i, &cfg).unwrap();
        let total: f64 = g.whitened_glitch.iter().map(|x| x * x).sum();
        let window = (0.05 * cfg.sample_rate) as usize;
        let center = cfg.len() / 2;
        let start = center - (2.0 * cfg.sample_rate) as usize;
        let columns = (0..80)
            .filter(|w| {
                let a = start + w * window;
                g.whitened_glitch[a..a + window].iter().map(|x| x * x).sum::<f64>() > 0.03 * total
            })
            .count();
        assert!(columns >= 3, "Helix #{i}: {columns} columns in the 4 s view");
    }
}

#[test]
fn paired_doves_climb_then_curl_back_down() {
    // The hook: the instantaneous frequency rises to its top and falls again within each dove. Measured from the
    // whitened glitch by zero crossings in 10 ms steps around the trigger-most dove's top.
    let cfg = config();
    for i in 0..6 {
        let g = generate("Paired_Doves", 21, i, &cfg).unwrap();
        let x = &g.whitened_glitch;
        // Loudest 10 ms window: the top of a dove.
        let step = (0.01 * cfg.sample_rate) as usize;
        let energy = |a: usize| x[a..a + step].iter().map(|v| v * v).sum::<f64>();
        let peak = (0..x.len() / step - 1).map(|k| k * step).max_by(|a, b| energy(*a).total_cmp(&energy(*b))).unwrap();
        let crossings = |a: usize, len: usize| x[a..a + len].windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
        let span = (0.06 * cfg.sample_rate) as usize;
        let top = crossings(peak - span / 2, span);
        let before = crossings(peak - 2 * span, span);
        let after = crossings(peak + span, span);
        assert!(top > before && top > after, "Paired_Doves #{i}: crossings before/top/after = {before}/{top}/{after}");
    }
}

#[test]
fn extremely_loud_sometimes_disturbs_most_of_the_block() {
    // The dark-background kind: the disturbance must fill most of the 2 s whitening segments (so their median
    // rises) and leave the trigger itself quiet apart from the glitch.
    let cfg = config();
    let mut disturbed = 0;
    for index in 0..12 {
        let g = generate("Extremely_Loud", 21, index, &cfg).unwrap();
        if g.params.design.shape != "disturbed_block" {
            continue;
        }
        disturbed += 1;
        let seg = (2.0 * cfg.sample_rate) as usize;
        let rms: Vec<f64> = g.whitened_glitch.chunks(seg).map(|c| (c.iter().map(|x| x * x).sum::<f64>() / c.len() as f64).sqrt()).collect();
        let loud = rms.iter().filter(|&&r| r > 1.5).count();
        assert!(loud * 4 > rms.len() * 3, "#{index}: only {loud} of {} segments disturbed", rms.len());
    }
    assert!((3..=9).contains(&disturbed), "{disturbed} of 12 Extremely_Loud are of the disturbed kind (expected about half)");
}

#[test]
fn none_of_the_above_is_a_mixture_led_by_low_blobs() {
    let mut shapes = std::collections::BTreeMap::new();
    for index in 0..60 {
        let g = generate("None_of_the_Above", 4, index, &config()).unwrap();
        *shapes.entry(g.params.design.shape.clone()).or_insert(0usize) += 1;
    }
    assert!(shapes.len() >= 6, "{shapes:?}");
    let most = shapes.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    assert_eq!(most, "low_blob", "{shapes:?}");
}

/// `--real-noise` leaves the glitches it does not pick bit-identical to the generator without it, and the ones it
/// picks are deterministic: the same strain twice. Real windows from the shared O3 strain when it is there, else
/// from a stand-in segment (the choice and mixing code is the same).
#[test]
fn real_noise_changes_only_the_glitches_it_picks_and_stays_deterministic() {
    let cfg = config();
    let npz = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/strain/o3_glitches_deepextractor/glitch_dict_example.npz");
    let real = if npz.is_file() {
        let real = real_noise::RealNoise::load_npz(&npz, cfg.sample_rate, 0.5).unwrap();
        // 36 segments (Blip, Tomte, Whistle; 2 runs x 2 detectors x 3), two windows each.
        assert_eq!(real.windows.len(), 72);
        real
    } else {
        eprintln!("note: {} is absent; using a stand-in segment", npz.display());
        let segment: Vec<f64> = (0..14 * 4096).map(|i| ((i as f64 * 0.7).sin() + (i as f64 * 1.3).cos()) * 1e-21).collect();
        real_noise::RealNoise::from_segments(&[("stand-in".into(), segment)], 4096.0, cfg.sample_rate, 0.5).unwrap()
    };
    let (mut picked, mut left) = (0, 0);
    for index in 0..8 {
        let with = generate_with("No_Glitch", 3, index, &cfg, Some(&real)).unwrap();
        let without = generate("No_Glitch", 3, index, &cfg).unwrap();
        match &with.params.real_noise {
            None => {
                left += 1;
                assert_eq!(with.strain, without.strain, "#{index} not picked: identical");
            }
            Some(source) => {
                picked += 1;
                assert_ne!(with.strain, without.strain, "#{index} ({source})");
                let again = generate_with("No_Glitch", 3, index, &cfg, Some(&real)).unwrap();
                assert_eq!(with.strain, again.strain, "#{index}: deterministic");
                // (Only the 5 s around the trigger change in whitened units: real_noise.rs's tests. The
                // detector colouring then spreads the change over the block through its long line filters.)
            }
        }
    }
    assert!(picked > 0 && left > 0, "share 0.5 picks some of 8: {picked} picked, {left} left");
}

#[test]
fn later_classes_sit_where_their_descriptions_put_them_and_apart_from_their_look_alikes() {
    // Energy bands of each later class, and a look-alike O1 class whose glitches must mostly fall outside them.
    let cases: [(&str, Vec<(f64, f64)>, &str); 4] = [
        ("Blip_Low_Frequency", vec![(0.0, 150.0)], "Blip"),
        ("Fast_Scattering", vec![(0.0, 130.0)], "Whistle"),
        ("70HZLINE", vec![(64.0, 76.0)], "Power_Line"),
        ("HIGHFREQUENCYBURST", vec![(200.0, 2400.0)], "Tomte"),
    ];
    for (class, bands, look_alike) in cases {
        for f in fractions(class, 6, &bands) {
            assert!(f > 0.9, "{class}: only {:.1}% of the energy in {bands:?}", 100.0 * f);
        }
        let other = fractions(look_alike, 6, &bands);
        let mean = other.iter().sum::<f64>() / other.len() as f64;
        assert!(mean < 0.6, "{look_alike} puts {:.1}% of its energy in {class}'s bands {bands:?}", 100.0 * mean);
    }
    // Fast_Scattering is a train of short arches (every 0.25-0.8 s over 1.5-4 s), not one long one.
    for i in 0..4 {
        let g = generate("Fast_Scattering", 3, i, &config()).unwrap();
        let arches = g.params.design.details["arches"];
        assert!(arches >= 3.0, "{arches} arches");
        assert!(g.energy_span_s(0.9) > 0.5, "a train of arches, not one: {}", g.energy_span_s(0.9));
    }
}

#[test]
fn later_classes_are_never_made_unless_named() {
    for (class, _) in later::LATER_CLASSES {
        assert!(!glitchscope::labels::O1_CLASSES.contains(&class), "{class} is an O1 class");
        assert!(generate(class, 0, 0, &config()).is_ok(), "{class} is drawn");
    }
}
