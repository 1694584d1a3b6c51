//! A minimal reader for the ZIP archives that Python wheels are, enough to pull a handful of named members
//! (the ONNX Runtime libraries and licence files) out of a wheel without needing Python or an unzip tool.
//! It reads the central directory, supports the two methods wheels use (stored and deflate) and ZIP64 sizes,
//! streams each member to disk and checks its CRC-32, so a damaged archive is reported instead of installed.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// One member as described by the central directory.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    pub size: u64,
    local_header_offset: u64,
}

/// An open archive with its parsed central directory.
pub struct Archive {
    file: File,
    entries: Vec<Entry>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

impl Archive {
    pub fn open(path: &Path) -> io::Result<Archive> {
        let mut file = File::open(path)?;
        let len = file.seek(SeekFrom::End(0))?;
        // The end-of-central-directory record sits in the last 22 bytes plus an optional comment (< 64 KiB).
        let tail_len = len.min(22 + 65_535);
        let mut tail = vec![0u8; tail_len as usize];
        file.seek(SeekFrom::Start(len - tail_len))?;
        file.read_exact(&mut tail)?;
        let eocd = (0..tail.len().saturating_sub(21))
            .rev()
            .find(|&i| u32_at(&tail, i) == 0x0605_4b50)
            .ok_or_else(|| bad("not a ZIP archive (no end-of-central-directory record)"))?;
        let mut count = u16_at(&tail, eocd + 10) as u64;
        let mut cd_size = u32_at(&tail, eocd + 12) as u64;
        let mut cd_offset = u32_at(&tail, eocd + 16) as u64;
        // ZIP64: the classic record holds 0xFFFF.. and a locator just before it points at the real one.
        if (count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF) && eocd >= 20 {
            let loc = eocd - 20;
            if u32_at(&tail, loc) == 0x0706_4b50 {
                let rec_offset = u64_at(&tail, loc + 8);
                let mut rec = [0u8; 56];
                file.seek(SeekFrom::Start(rec_offset))?;
                file.read_exact(&mut rec)?;
                if u32_at(&rec, 0) != 0x0606_4b50 {
                    return Err(bad("broken ZIP64 end-of-central-directory record"));
                }
                count = u64_at(&rec, 32);
                cd_size = u64_at(&rec, 40);
                cd_offset = u64_at(&rec, 48);
            }
        }
        if cd_offset.checked_add(cd_size).is_none_or(|end| end > len) {
            return Err(bad(
                "the central directory lies outside the file (truncated download?)",
            ));
        }
        let mut cd = vec![0u8; cd_size as usize];
        file.seek(SeekFrom::Start(cd_offset))?;
        file.read_exact(&mut cd)?;
        let mut entries = Vec::with_capacity(count.min(100_000) as usize);
        let mut at = 0usize;
        while at + 46 <= cd.len() && u32_at(&cd, at) == 0x0201_4b50 {
            let method = u16_at(&cd, at + 10);
            let crc32 = u32_at(&cd, at + 16);
            let mut compressed_size = u32_at(&cd, at + 20) as u64;
            let mut size = u32_at(&cd, at + 24) as u64;
            let name_len = u16_at(&cd, at + 28) as usize;
            let extra_len = u16_at(&cd, at + 30) as usize;
            let comment_len = u16_at(&cd, at + 32) as usize;
            let mut local_header_offset = u32_at(&cd, at + 42) as u64;
            let end = at + 46 + name_len + extra_len + comment_len;
            if end > cd.len() {
                return Err(bad("truncated central directory entry"));
            }
            let name = String::from_utf8_lossy(&cd[at + 46..at + 46 + name_len]).into_owned();
            // ZIP64 extra field (id 1) carries, in order, only the fields that overflowed.
            let extra = &cd[at + 46 + name_len..at + 46 + name_len + extra_len];
            let mut e = 0;
            while e + 4 <= extra.len() {
                let id = u16_at(extra, e);
                let n = u16_at(extra, e + 2) as usize;
                let body = &extra[e + 4..(e + 4 + n).min(extra.len())];
                if id == 1 {
                    let mut p = 0;
                    for field in [&mut size, &mut compressed_size, &mut local_header_offset] {
                        if *field == 0xFFFF_FFFF && p + 8 <= body.len() {
                            *field = u64_at(body, p);
                            p += 8;
                        }
                    }
                }
                e += 4 + n;
            }
            entries.push(Entry {
                name,
                method,
                crc32,
                compressed_size,
                size,
                local_header_offset,
            });
            at = end;
        }
        Ok(Archive { file, entries })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn find(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Streams one member into `dest` (created or truncated) and checks its size and CRC-32.
    pub fn extract_to(&mut self, entry: &Entry, dest: &Path) -> io::Result<()> {
        let mut header = [0u8; 30];
        self.file.seek(SeekFrom::Start(entry.local_header_offset))?;
        self.file.read_exact(&mut header)?;
        if u32_at(&header, 0) != 0x0403_4b50 {
            return Err(bad(format!("{}: bad local header", entry.name)));
        }
        // The local header repeats name and extra with its own lengths; the data starts after them.
        let skip = u16_at(&header, 26) as i64 + u16_at(&header, 28) as i64;
        self.file.seek(SeekFrom::Current(skip))?;
        let raw = BufReader::new((&mut self.file).take(entry.compressed_size));
        let mut reader: Box<dyn Read + '_> = match entry.method {
            0 => Box::new(raw),
            8 => Box::new(flate2::bufread::DeflateDecoder::new(raw)),
            m => {
                return Err(bad(format!(
                    "{}: unsupported compression method {m}",
                    entry.name
                )))
            }
        };
        let mut out = BufWriter::new(File::create(dest)?);
        let mut crc = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut written = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            crc.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            written += n as u64;
        }
        out.flush()?;
        if written != entry.size || crc.finalize() != entry.crc32 {
            return Err(bad(format!(
                "{}: size or CRC-32 does not match the archive directory",
                entry.name
            )));
        }
        Ok(())
    }
}

/// Writes an archive of stored (uncompressed) members by hand; tests use it to make fake wheels without fixtures.
#[doc(hidden)]
pub fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for (name, data) in members {
        let offset = out.len() as u32;
        let mut h = crc32fast::Hasher::new();
        h.update(data);
        let crc = h.finalize();
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        cd.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        cd.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        cd.extend_from_slice(&crc.to_le_bytes());
        cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
        cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
        cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
        cd.extend_from_slice(&[0; 12]);
        cd.extend_from_slice(&offset.to_le_bytes());
        cd.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stored_members() {
        let dir = crate::util::TempDir::new("zip-test").unwrap();
        let zip = dir.path().join("a.zip");
        std::fs::write(
            &zip,
            super::stored_zip(&[("x/a.txt", b"hello"), ("b.bin", &[1, 2, 3])]),
        )
        .unwrap();
        let mut a = Archive::open(&zip).unwrap();
        assert_eq!(a.entries().len(), 2);
        let e = a.find("x/a.txt").unwrap().clone();
        a.extract_to(&e, &dir.path().join("out")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("out")).unwrap(), b"hello");
    }

    #[test]
    fn rejects_non_zip() {
        let dir = crate::util::TempDir::new("zip-test").unwrap();
        let zip = dir.path().join("a.zip");
        std::fs::write(&zip, b"definitely not a zip file, just some text").unwrap();
        assert!(Archive::open(&zip).is_err());
    }
}
