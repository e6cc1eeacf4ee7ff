//! Trigger lists -> the glitch times to classify, from bytes so the CLI and the page share it:
//! - plain GPS times, one per line (`#` comments);
//! - a table with a header row, comma- or space-separated (gwpy's `EventTable.write(format="csv")` of Omicron
//!   triggers, Gravity Spy's metadata CSV): a time column (`time`, `gps`, `peak_time` [+ `peak_time_ns`],
//!   `event_time`, `peakGPS`, `tpeak`), optional `snr`, frequency (`frequency`, `peak_frequency`, `peakFreq`,
//!   `central_freq`) and detector (`ifo`, `detector`);
//! - Omicron's text output: one `# <column>` comment line per column, then space-separated rows;
//! - LIGO_LW XML (`.xml`, `.xml.gz`), its `sngl_burst` table (Omicron's and ExcessPower's XML).
//!
//! The usual cuts keep what Gravity Spy classifies: SNR at least a threshold and the peak frequency in
//! 10–2048 Hz; they apply to triggers that carry those numbers.

use std::io::Read;

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct TriggerError {
    pub name: String,
    pub message: String,
}

/// One trigger. `line` is where it was read (1-based), for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub gps: f64,
    pub ifo: Option<String>,
    pub snr: Option<f64>,
    pub frequency: Option<f64>,
    pub line: usize,
}

/// Gravity Spy's cuts: SNR >= 7.5 and peak frequency in 10–2048 Hz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TriggerCuts {
    pub snr_min: f64,
    pub fmin: f64,
    pub fmax: f64,
}

impl Default for TriggerCuts {
    fn default() -> Self {
        Self { snr_min: 7.5, fmin: 10.0, fmax: 2048.0 }
    }
}

impl TriggerCuts {
    /// Whether `t` passes; a trigger without SNR or frequency passes that cut (a plain GPS list has neither).
    pub fn keep(&self, t: &Trigger) -> bool {
        t.snr.is_none_or(|s| s >= self.snr_min) && t.frequency.is_none_or(|f| f >= self.fmin && f <= self.fmax)
    }
}

/// Read a trigger list by its name and bytes; which format it is comes from the content. An empty list, a table
/// without a time column or a number that is not one is an error naming the file (and the line).
pub fn read_triggers(name: &str, bytes: &[u8]) -> Result<Vec<Trigger>, TriggerError> {
    let fail = |message: String| TriggerError { name: name.to_string(), message };
    let mut inflated = Vec::new();
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut inflated).map_err(|e| fail(format!("cannot decompress: {e}")))?;
        &inflated[..]
    } else {
        bytes
    };
    if bytes.starts_with(b"\x89HDF") {
        return Err(fail("HDF5 trigger files are not read yet; write the triggers as CSV (gwpy: EventTable.read(...).write('triggers.csv'))".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| fail("not text (expected GPS times, a CSV table, Omicron text or LIGO_LW XML)".into()))?;
    let triggers = if text.trim_start().starts_with("<?xml") || text.contains("<LIGO_LW") {
        ligolw(name, text)?
    } else {
        table(name, text)?
    };
    if triggers.is_empty() {
        return Err(fail("no triggers in the list".into()));
    }
    Ok(triggers)
}

/// Column roles by header name (lower case).
fn role(column: &str) -> Option<&'static str> {
    let c = column.trim().trim_matches('"').to_ascii_lowercase();
    let c = c.rsplit(':').next().unwrap_or(&c); // LIGO_LW `sngl_burst:snr`
    Some(match c {
        "time" | "gps" | "gpstime" | "gps_time" | "peak_time" | "event_time" | "peakgps" | "tpeak" | "peak" => "time",
        "peak_time_ns" => "time_ns",
        "snr" => "snr",
        "frequency" | "peak_frequency" | "peakfreq" | "central_freq" | "fpeak" | "freq" => "frequency",
        "ifo" | "detector" | "ifos" => "ifo",
        _ => return None,
    })
}

struct Columns {
    time: usize,
    time_ns: Option<usize>,
    snr: Option<usize>,
    frequency: Option<usize>,
    ifo: Option<usize>,
}

fn columns(name: &str, names: &[String]) -> Result<Columns, TriggerError> {
    let find = |r: &str| names.iter().position(|n| role(n) == Some(r));
    let time = find("time").ok_or_else(|| TriggerError {
        name: name.into(),
        message: format!("no time column among {:?} (expected one of time, gps, peak_time, event_time, peakGPS)", names),
    })?;
    Ok(Columns { time, time_ns: find("time_ns"), snr: find("snr"), frequency: find("frequency"), ifo: find("ifo") })
}

fn number(name: &str, line: usize, what: &str, field: &str) -> Result<f64, TriggerError> {
    let f = field.trim().trim_matches('"');
    f.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| TriggerError {
        name: name.into(),
        message: format!("line {line}: {what} {f:?} is not a number"),
    })
}

fn row(name: &str, line: usize, fields: &[&str], c: &Columns) -> Result<Trigger, TriggerError> {
    let need = [Some(c.time), c.time_ns, c.snr, c.frequency, c.ifo].into_iter().flatten().max().unwrap_or(0);
    if fields.len() <= need {
        return Err(TriggerError { name: name.into(), message: format!("line {line}: {} fields, the header has more columns", fields.len()) });
    }
    let mut gps = number(name, line, "time", fields[c.time])?;
    if let Some(ns) = c.time_ns {
        gps += number(name, line, "peak_time_ns", fields[ns])? * 1e-9;
    }
    let opt = |col: Option<usize>, what: &str| col.map(|i| number(name, line, what, fields[i])).transpose();
    let ifo = c.ifo.map(|i| fields[i].trim().trim_matches('"').to_string()).filter(|s| !s.is_empty());
    Ok(Trigger { gps, ifo, snr: opt(c.snr, "snr")?, frequency: opt(c.frequency, "frequency")?, line })
}

/// GPS lists, CSV/space tables with a header row, and Omicron text (`# name` lines naming the columns).
fn table(name: &str, text: &str) -> Result<Vec<Trigger>, TriggerError> {
    let split = |l: &str| -> Vec<String> {
        if l.contains(',') { l.split(',').map(|s| s.trim().to_string()).collect() } else { l.split_whitespace().map(String::from).collect() }
    };
    // Omicron text: each column named on its own comment line before the rows.
    let mut comment_names = Vec::new();
    let mut header: Option<Columns> = None;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let word = comment.trim();
            if !word.is_empty() && !word.contains(char::is_whitespace) {
                comment_names.push(word.to_string());
            }
            continue;
        }
        let fields = split(line);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        if header.is_none() {
            let first_is_number = refs.first().is_some_and(|f| f.trim_matches('"').parse::<f64>().is_ok());
            if !first_is_number {
                header = Some(columns(name, &fields)?);
                continue;
            }
            header = Some(if comment_names.len() == fields.len() && comment_names.iter().any(|n| role(n) == Some("time")) {
                columns(name, &comment_names)?
            } else if fields.len() == 1 || comment_names.is_empty() {
                // Plain GPS times (first column when a headerless row has more).
                Columns { time: 0, time_ns: None, snr: None, frequency: None, ifo: None }
            } else {
                return Err(TriggerError {
                    name: name.into(),
                    message: format!("line {}: {} columns but the # header names {} ({:?}); cannot tell which is the time", i + 1, fields.len(), comment_names.len(), comment_names),
                });
            });
        }
        out.push(row(name, i + 1, &refs, header.as_ref().unwrap())?);
    }
    Ok(out)
}

/// The `sngl_burst` table of a LIGO_LW XML document: `<Column Name="sngl_burst:peak_time" .../>` elements, then
/// a `<Stream Delimiter=",">` whose values fill the rows in column order.
fn ligolw(name: &str, text: &str) -> Result<Vec<Trigger>, TriggerError> {
    let fail = |message: String| TriggerError { name: name.to_string(), message };
    let table_at = text
        .find("Name=\"sngl_burst:table\"")
        .or_else(|| text.find("Name=\"sngl_burst\""))
        .ok_or_else(|| fail("LIGO_LW XML without a sngl_burst table (the table Omicron writes triggers to)".into()))?;
    let table = &text[table_at..];
    let table = &table[..table.find("</Table>").unwrap_or(table.len())];
    let mut names = Vec::new();
    for part in table.split("<Column").skip(1) {
        let n = attribute(part, "Name").ok_or_else(|| fail("a sngl_burst Column without a Name".into()))?;
        names.push(n.to_string());
    }
    let cols = columns(name, &names)?;
    let stream_at = table.find("<Stream").ok_or_else(|| fail("sngl_burst table without a Stream".into()))?;
    let stream = &table[stream_at..];
    let delimiter = attribute(stream, "Delimiter").and_then(|d| d.chars().next()).unwrap_or(',');
    let body = &stream[stream.find('>').map_or(stream.len(), |i| i + 1)..];
    let body = &body[..body.find("</Stream>").unwrap_or(body.len())];
    let line_of = |offset: usize| text[..table_at + stream_at].lines().count() + body[..offset].matches('\n').count();
    // Values in order, quoted strings kept whole (they may hold the delimiter).
    let mut values: Vec<(usize, String)> = Vec::new();
    let (mut current, mut quoted, mut start) = (String::new(), false, 0);
    for (i, ch) in body.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => {
                values.push((start, std::mem::take(&mut current)));
                start = i + 1;
            }
            c if c.is_whitespace() && !quoted => {}
            c => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        values.push((start, current));
    }
    let n = names.len();
    let mut out = Vec::new();
    for chunk in values.chunks(n) {
        let line = line_of(chunk[0].0);
        if chunk.len() < n {
            return Err(fail(format!("line {line}: the stream ends in the middle of a row ({} of {n} values)", chunk.len())));
        }
        let fields: Vec<&str> = chunk.iter().map(|(_, v)| v.as_str()).collect();
        out.push(row(name, line, &fields, &cols)?);
    }
    Ok(out)
}

/// `Name="x"` in an XML start tag.
fn attribute<'a>(tag: &'a str, key: &str) -> Option<&'a str> {
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    let at = tag.find(&format!("{key}=\""))? + key.len() + 2;
    Some(&tag[at..at + tag[at..].find('"')?])
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn plain_gps_times_and_comments() {
        let t = read_triggers("g.txt", b"# my glitches\n1126259462.4\n\n1126259470\n").unwrap();
        assert_eq!(t.iter().map(|t| t.gps).collect::<Vec<_>>(), vec![1126259462.4, 1126259470.0]);
        assert_eq!((t[0].snr, t[0].frequency, t[0].ifo.clone(), t[1].line), (None, None, None, 4));
    }

    #[test]
    fn csv_with_header_and_omicron_text() {
        let csv = b"time,frequency,snr,ifo\n1000.5,120,9.5,H1\n1010.25,30,6,L1\n";
        let t = read_triggers("t.csv", csv).unwrap();
        assert_eq!(t[0], Trigger { gps: 1000.5, ifo: Some("H1".into()), snr: Some(9.5), frequency: Some(120.0), line: 2 });
        assert!(!TriggerCuts::default().keep(&t[1]), "SNR 6 is below 7.5");
        let omicron = b"# time\n# frequency\n# tstart\n# tend\n# fstart\n# fend\n# snr\n# amplitude\n# phase\n1000.5 3000 1000.4 1000.6 2500 3500 20 1e-21 0.1\n";
        let t = read_triggers("H1-OMICRON.txt", omicron).unwrap();
        assert_eq!((t[0].gps, t[0].frequency, t[0].snr), (1000.5, Some(3000.0), Some(20.0)));
        assert!(!TriggerCuts::default().keep(&t[0]), "3 kHz is above the band");
    }

    #[test]
    fn ligolw_sngl_burst() {
        let xml = r#"<?xml version='1.0'?><LIGO_LW><Table Name="sngl_burst:table">
            <Column Type="lstring" Name="sngl_burst:ifo"/><Column Type="int_4s" Name="sngl_burst:peak_time"/>
            <Column Type="int_4s" Name="sngl_burst:peak_time_ns"/><Column Type="real_4" Name="sngl_burst:peak_frequency"/>
            <Column Type="real_4" Name="sngl_burst:snr"/>
            <Stream Delimiter="," Type="Local" Name="sngl_burst:table">
            "H1",1000,500000000,100,8,
            "L1",1001,0,50,12
            </Stream></Table></LIGO_LW>"#;
        let t = read_triggers("t.xml", xml.as_bytes()).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].gps, t[0].ifo.as_deref(), t[0].frequency, t[0].snr), (1000.5, Some("H1"), Some(100.0), Some(8.0)));
        assert_eq!((t[1].gps, t[1].ifo.as_deref()), (1001.0, Some("L1")));
    }

    #[test]
    fn bad_lists_name_the_file_and_line() {
        let e = read_triggers("e.txt", b"# nothing\n").unwrap_err().to_string();
        assert!(e.starts_with("e.txt: ") && e.contains("no triggers"), "{e}");
        let e = read_triggers("c.csv", b"frequency,snr\n100,8\n").unwrap_err().to_string();
        assert!(e.contains("no time column") && e.contains("c.csv"), "{e}");
        let e = read_triggers("c.csv", b"time,snr\n100,8\n200,x\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("snr"), "{e}");
        let e = read_triggers("c.csv", b"time,snr\n100\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("fields"), "{e}");
        let e = read_triggers("o.txt", b"# time\n# snr\n1 2 3\n").unwrap_err().to_string();
        assert!(e.contains("cannot tell which is the time"), "{e}");
        let e = read_triggers("x.xml", b"<?xml version='1.0'?><LIGO_LW></LIGO_LW>").unwrap_err().to_string();
        assert!(e.contains("sngl_burst"), "{e}");
        assert!(read_triggers("b.bin", &[0xff, 0xfe]).unwrap_err().to_string().contains("not text"));
    }
}
