//! The readers: IDX, CIFAR binary and CSV files (each gzipped or not: detected by the gzip magic
//! bytes, whatever the file is called) into [`Raw`] rows.

use super::error::{DataError, FileAt};
use super::spec::{CifarLabel, CsvOptions, FileRef, LabelColumn};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};

/// Labels above this are taken for a wrong column rather than a class.
const MAX_LABEL: i64 = 100_000;

/// The hint of a test label the training file does not have.
const TEST_CLASSES_HINT: &str =
    "a test file may only use the classes of its training file (0 to its largest label)";

/// Pixels of all rows, row-major `[N, C, H, W]`.
pub(crate) enum Pixels {
    /// Bytes; the value in [0, 1] is `byte / 255`.
    U8(Vec<u8>),
    /// Already in [0, 1].
    F32(Vec<f32>),
}

/// The rows read from one or more files of a split.
pub(crate) struct Raw {
    pub shape: [usize; 3],
    pub pixels: Pixels,
    pub labels: Vec<i64>,
}

impl Raw {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Pixels per row.
    pub fn row_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Row `i`'s pixels in [0, 1], through `f(index in row, value)`.
    #[inline]
    pub fn for_each_pixel(&self, i: usize, mut f: impl FnMut(usize, f32)) {
        let d = self.row_len();
        match &self.pixels {
            Pixels::U8(v) => {
                for (k, &b) in v[i * d..(i + 1) * d].iter().enumerate() {
                    f(k, b as f32 * (1.0 / 255.0));
                }
            }
            Pixels::F32(v) => {
                for (k, &x) in v[i * d..(i + 1) * d].iter().enumerate() {
                    f(k, x);
                }
            }
        }
    }

    /// Appends another file's rows (of the same format, so the same pixel kind).
    fn append(&mut self, other: Raw) {
        match (&mut self.pixels, other.pixels) {
            (Pixels::U8(a), Pixels::U8(b)) => a.extend_from_slice(&b),
            (Pixels::F32(a), Pixels::F32(b)) => a.extend_from_slice(&b),
            (Pixels::U8(a), Pixels::F32(b)) => {
                let mut v: Vec<f32> = a.iter().map(|&x| x as f32 / 255.0).collect();
                v.extend_from_slice(&b);
                self.pixels = Pixels::F32(v);
            }
            (Pixels::F32(a), Pixels::U8(b)) => a.extend(b.iter().map(|&x| x as f32 / 255.0)),
        }
        self.labels.extend_from_slice(&other.labels);
    }
}

/// Error constructors for one file.
pub(crate) struct Ctx<'a> {
    pub task: &'a str,
    pub file: &'a FileRef,
}

impl Ctx<'_> {
    pub fn at(&self) -> Box<FileAt> {
        self.file.at(self.task)
    }

    fn io(&self, source: std::io::Error) -> DataError {
        if source.kind() == ErrorKind::UnexpectedEof {
            return self.truncated("its gzip stream ends early".into());
        }
        DataError::Io {
            at: self.at(),
            source,
        }
    }

    pub fn truncated(&self, detail: String) -> DataError {
        DataError::Truncated {
            at: self.at(),
            detail,
        }
    }

    pub fn content(&self, message: String) -> DataError {
        DataError::Content {
            at: self.at(),
            message,
        }
    }

    fn label_out_of_range(
        &self,
        place: String,
        label: i64,
        classes: usize,
        hint: &str,
    ) -> DataError {
        DataError::LabelOutOfRange {
            at: self.at(),
            place,
            label,
            classes,
            hint: hint.to_string(),
        }
    }

    fn csv_value(&self, line: u64, column: usize, message: String) -> DataError {
        DataError::CsvValue {
            at: self.at(),
            line,
            column,
            message,
        }
    }

    /// The file's content, gunzipped when it starts with the gzip magic bytes.
    fn open(&self) -> Result<Box<dyn Read>, DataError> {
        let f = File::open(&self.file.path).map_err(|e| self.io(e))?;
        let mut r = BufReader::with_capacity(1 << 16, f);
        let gz = r
            .fill_buf()
            .map_err(|e| self.io(e))?
            .starts_with(&[0x1f, 0x8b]);
        Ok(if gz {
            Box::new(MultiGzDecoder::new(r))
        } else {
            Box::new(r)
        })
    }

    fn read_all(&self) -> Result<Vec<u8>, DataError> {
        let mut v = Vec::new();
        self.open()?.read_to_end(&mut v).map_err(|e| self.io(e))?;
        Ok(v)
    }
}

/// Concatenates the rows of several files, each read by `read`; all must share a shape.
pub(crate) fn read_many(
    task: &str,
    files: &[FileRef],
    mut read: impl FnMut(&Ctx) -> Result<Raw, DataError>,
) -> Result<Option<Raw>, DataError> {
    let mut all: Option<Raw> = None;
    for file in files {
        let ctx = Ctx { task, file };
        let raw = read(&ctx)?;
        match &mut all {
            None => all = Some(raw),
            Some(a) => {
                if a.shape != raw.shape {
                    return Err(DataError::ShapeMismatch {
                        at: file.at(task),
                        found: raw.shape,
                        expected: a.shape,
                    });
                }
                a.append(raw)
            }
        }
    }
    Ok(all)
}

fn hex4(b: &[u8]) -> String {
    b.iter()
        .take(4)
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses an IDX header of `dims` dimensions of unsigned bytes; returns the sizes and the
/// offset of the data.
fn idx_header(
    ctx: &Ctx,
    data: &[u8],
    dims: u8,
    kind: &'static str,
) -> Result<Vec<usize>, DataError> {
    let expected = [0u8, 0, 0x08, dims];
    if data.len() < 4 || data[..4] != expected {
        let found = if data.len() < 4 {
            format!("{} (the file has only {} bytes)", hex4(data), data.len())
        } else {
            hex4(data)
        };
        let mut found = found;
        if data.len() >= 4 && data[0] == 0 && data[1] == 0 && data[2] != 0x08 {
            found.push_str(", a type other than unsigned bytes");
        }
        return Err(DataError::BadMagic {
            at: ctx.at(),
            kind,
            found,
            expected: hex4(&expected),
        });
    }
    let header = 4 + 4 * dims as usize;
    if data.len() < header {
        return Err(ctx.truncated(format!(
            "its header needs {header} bytes but the file has {}",
            data.len()
        )));
    }
    Ok((0..dims as usize)
        .map(|i| u32::from_be_bytes(data[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect())
}

fn idx_body_len(
    ctx: &Ctx,
    data: &[u8],
    header: usize,
    need: usize,
    what: &str,
) -> Result<(), DataError> {
    let have = data.len() - header;
    if have < need {
        return Err(ctx.truncated(format!(
            "its header announces {what} ({need} bytes) but only {have} bytes follow"
        )));
    }
    if have > need {
        return Err(ctx.content(format!(
            "{} bytes follow the {what} its header announces; the file is not a single IDX array",
            have - need
        )));
    }
    Ok(())
}

/// IDX images (`idx3-ubyte`, `[N, H, W]`) and labels (`idx1-ubyte`, `[N]`).
pub(crate) fn read_idx(
    task: &str,
    images: &FileRef,
    labels: &FileRef,
    classes: Option<usize>,
) -> Result<Raw, DataError> {
    let ictx = Ctx { task, file: images };
    let mut data = ictx.read_all()?;
    let dims = idx_header(&ictx, &data, 3, "images (idx3-ubyte)")?;
    let (n, h, w) = (dims[0], dims[1], dims[2]);
    idx_body_len(
        &ictx,
        &data,
        16,
        n * h * w,
        &format!("{n} images of {h}×{w}"),
    )?;
    data.drain(..16);

    let lctx = Ctx { task, file: labels };
    let ldata = lctx.read_all()?;
    let ldims = idx_header(&lctx, &ldata, 1, "labels (idx1-ubyte)")?;
    idx_body_len(&lctx, &ldata, 8, ldims[0], &format!("{} labels", ldims[0]))?;
    if ldims[0] != n {
        return Err(lctx.content(format!(
            "it has {} labels but the images file {} has {n} images; the two files must belong together",
            ldims[0],
            images.path.display()
        )));
    }
    let labels: Vec<i64> = ldata[8..].iter().map(|&b| b as i64).collect();
    if let Some(c) = classes {
        if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= c) {
            return Err(lctx.label_out_of_range(
                format!("record {i} (counting from 0)"),
                l,
                c,
                TEST_CLASSES_HINT,
            ));
        }
    }
    Ok(Raw {
        shape: [1, h, w],
        pixels: Pixels::U8(data),
        labels,
    })
}

/// CIFAR-10 / CIFAR-100 binary records.
pub(crate) fn read_cifar(ctx: &Ctx, hundred: bool, label: CifarLabel) -> Result<Raw, DataError> {
    const PIXELS: usize = 3 * 32 * 32;
    let (label_bytes, name) = if hundred {
        (2, "CIFAR-100")
    } else {
        (1, "CIFAR-10")
    };
    let (label_at, classes) = match (hundred, label) {
        (false, _) => (0, 10),
        (true, CifarLabel::Coarse) => (0, 20),
        (true, CifarLabel::Fine) => (1, 100),
    };
    let record = label_bytes + PIXELS;
    let data = ctx.read_all()?;
    if data.is_empty() {
        return Err(ctx.content(format!(
            "the file is empty; it should hold {record}-byte {name} records"
        )));
    }
    if data.len() % record != 0 {
        let other = if hundred { 1 } else { 2 } + PIXELS;
        let hint = if data.len() % other == 0 {
            format!(
                "; its size fits {other}-byte records: is it {} data (`format = \"{}\"`)?",
                if hundred { "CIFAR-10" } else { "CIFAR-100" },
                if hundred { "cifar10" } else { "cifar100" }
            )
        } else {
            String::new()
        };
        return Err(ctx.truncated(format!(
            "its {} bytes are not a whole number of {record}-byte {name} records (record {} has only {} bytes{hint})",
            data.len(),
            data.len() / record,
            data.len() % record,
        )));
    }
    let n = data.len() / record;
    let mut pixels = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    for (i, r) in data.chunks_exact(record).enumerate() {
        let l = r[label_at] as i64;
        if l as usize >= classes {
            return Err(ctx.label_out_of_range(
                format!("record {i} (counting from 0)"),
                l,
                classes,
                &format!("the file is damaged or not {name} binary data"),
            ));
        }
        labels.push(l);
        pixels.extend_from_slice(&r[label_bytes..]);
    }
    Ok(Raw {
        shape: [3, 32, 32],
        pixels: Pixels::U8(pixels),
        labels,
    })
}

/// A CSV pixel table: one image per row. `classes`, when given, bounds the labels.
pub(crate) fn read_csv(
    ctx: &Ctx,
    o: &CsvOptions,
    classes: Option<usize>,
) -> Result<Raw, DataError> {
    let d: usize = o.shape.iter().product();
    let columns = d + 1;
    let label_at = match o.label_column {
        LabelColumn::Index(i) => i,
        LabelColumn::Last => columns - 1,
    };
    if label_at >= columns {
        return Err(DataError::Spec {
            task: ctx.task.into(),
            message: format!(
                "`label_column = {label_at}` is past the last column: rows of shape {:?} have {columns} columns (0..{})",
                o.shape,
                columns - 1
            ),
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(ctx.open()?);
    let mut rec = csv::ByteRecord::new();
    let mut pixels: Vec<f32> = Vec::new();
    let mut labels: Vec<i64> = Vec::new();
    let mut first = true;
    let inv = 1.0 / o.scale;
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Err(match e.into_kind() {
                    csv::ErrorKind::Io(io) => ctx.io(io),
                    csv::ErrorKind::Utf8 { .. } => {
                        ctx.content(format!("line {line} is not UTF-8 text"))
                    }
                    other => ctx.content(format!("line {line}: {other:?}")),
                });
            }
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if first {
            first = false;
            let header = match o.header {
                Some(h) => h,
                None => rec.iter().any(|f| parse_f64(f).is_none()),
            };
            if header {
                continue;
            }
        }
        if rec.is_empty() || (rec.len() == 1 && rec[0].is_empty()) {
            continue; // a blank line
        }
        if rec.len() != columns {
            return Err(DataError::CsvColumns {
                at: ctx.at(),
                line,
                found: rec.len(),
                expected: columns,
                pixels: d,
                shape: o.shape,
            });
        }
        for (c, field) in rec.iter().enumerate() {
            let v = parse_f64(field);
            if c == label_at {
                let l = match v {
                    Some(x) if x.fract() == 0.0 && x >= 0.0 => x as i64,
                    _ => {
                        return Err(ctx.csv_value(
                            line,
                            c,
                            format!(
                                "label `{}` is not a class index (an integer from 0); check `label_column`",
                                String::from_utf8_lossy(field)
                            ),
                        ))
                    }
                };
                if l > MAX_LABEL {
                    return Err(ctx.label_out_of_range(
                        format!("line {line}"),
                        l,
                        MAX_LABEL as usize + 1,
                        "labels are class indices 0, 1, 2, …; check `label_column`",
                    ));
                }
                if let Some(k) = classes.filter(|&k| l as usize >= k) {
                    return Err(ctx.label_out_of_range(
                        format!("line {line}"),
                        l,
                        k,
                        TEST_CLASSES_HINT,
                    ));
                }
                labels.push(l);
            } else {
                match v {
                    Some(x) if x >= 0.0 && x <= o.scale as f64 => pixels.push(x as f32 * inv),
                    Some(x) if x.is_finite() => {
                        return Err(ctx.csv_value(
                            line,
                            c,
                            format!(
                                "pixel value {x} is outside 0..={} (`scale`, the largest pixel value); set `scale` to the data's pixel maximum",
                                o.scale
                            ),
                        ))
                    }
                    _ => {
                        return Err(ctx.csv_value(
                            line,
                            c,
                            format!(
                                "`{}` is not a pixel value (a number); is the header detection wrong? set `header = true`",
                                String::from_utf8_lossy(field)
                            ),
                        ))
                    }
                }
            }
        }
    }
    if labels.is_empty() {
        return Err(ctx.content("it has no data rows".into()));
    }
    Ok(Raw {
        shape: o.shape,
        pixels: Pixels::F32(pixels),
        labels,
    })
}

fn parse_f64(field: &[u8]) -> Option<f64> {
    std::str::from_utf8(field)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
}
