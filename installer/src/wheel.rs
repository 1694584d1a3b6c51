//! Reading the few members the bundle needs (the ONNX Runtime libraries and licence files) out of a Python
//! wheel, which is a ZIP archive, with the `zip` crate; it checks every member's CRC-32 and refuses data that
//! grows past the size the archive declares. Around it sit the limits we want for any archive that came over
//! the network: a member may not declare more than [`MAX_MEMBER_BYTES`], its name must stay inside the archive
//! (no absolute path, no `..`), only its file name is used on disk, and a damaged member is reported as a
//! sentence instead of being installed.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use crate::InstallError;

/// The largest member we extract. The biggest library in a pinned wheel (the CUDA provider) is a few hundred
/// MB; a declared size beyond this is a broken or hostile archive, refused before anything is written.
pub const MAX_MEMBER_BYTES: u64 = 4 << 30;

/// An open wheel and its path (for the messages).
pub struct Wheel {
    path: PathBuf,
    archive: ZipArchive<BufReader<File>>,
}

impl Wheel {
    /// Opens `path` and reads its central directory.
    pub fn open(path: &Path) -> Result<Wheel, InstallError> {
        let archive = File::open(path)
            .map_err(zip::result::ZipError::Io)
            .and_then(|f| ZipArchive::new(BufReader::new(f)))
            .map_err(|e| {
                InstallError::msg(format!(
                    "could not read the wheel {} as a ZIP archive: {e}",
                    path.display()
                ))
            })?;
        Ok(Wheel {
            path: path.to_path_buf(),
            archive,
        })
    }

    /// Extracts the member named `member` into `out_dir` under its file name; returns the written path.
    pub fn extract(&mut self, member: &str, out_dir: &Path) -> Result<PathBuf, InstallError> {
        self.extract_limited(member, out_dir, MAX_MEMBER_BYTES)
    }

    fn extract_limited(
        &mut self,
        member: &str,
        out_dir: &Path,
        limit: u64,
    ) -> Result<PathBuf, InstallError> {
        let wheel = self.path.display().to_string();
        let mut file = self.archive.by_name(member).map_err(|_| {
            InstallError::msg(format!(
                "the wheel {wheel} has no member {member}; it is not the expected build"
            ))
        })?;
        // `enclosed_name` is None for absolute names and names that climb out with `..`.
        let file_name = file
            .enclosed_name()
            .filter(|_| file.is_file())
            .and_then(|p| p.file_name().map(PathBuf::from))
            .ok_or_else(|| {
                InstallError::msg(format!(
                    "the wheel {wheel} names its member {member:?} outside the archive (or not as a file); it was refused"
                ))
            })?;
        let size = file.size();
        if size > limit {
            return Err(InstallError::msg(format!(
                "the member {member} of the wheel {wheel} declares {size} bytes, more than the {limit} a member \
                 may have; the wheel was refused"
            )));
        }
        let dest = out_dir.join(file_name);
        let mut out = BufWriter::new(
            File::create(&dest)
                .map_err(|e| InstallError::io(format!("create {}", dest.display()), e))?,
        );
        let damaged = |e: io::Error| {
            InstallError::msg(format!(
                "could not extract {member} from the wheel {wheel} ({e}); the wheel is damaged or truncated, so \
                 delete it and run the command again"
            ))
        };
        // Reading one byte past the declared size makes the zip crate fail, so `written` is bounded by `size`.
        let mut buf = vec![0u8; 1 << 20];
        let mut written = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(damaged)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .map_err(|e| InstallError::io(format!("write {}", dest.display()), e))?;
            written += n as u64;
        }
        out.flush()
            .map_err(|e| InstallError::io(format!("write {}", dest.display()), e))?;
        if written != size {
            return Err(damaged(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{written} of its {size} bytes"),
            )));
        }
        Ok(dest)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    use super::*;
    use crate::util::TempDir;

    fn archive(members: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(method);
        for (name, data) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn open(dir: &Path, bytes: &[u8]) -> Wheel {
        let path = dir.join("test.whl");
        std::fs::write(&path, bytes).unwrap();
        Wheel::open(&path).unwrap()
    }

    #[test]
    fn extracts_deflated_and_stored_members_by_file_name() {
        let tmp = TempDir::new("wheel-ok").unwrap();
        let big = vec![7u8; 100_000];
        let mut w = open(
            tmp.path(),
            &archive(
                &[("pkg/capi/lib.so", &big), ("pkg/LICENSE", b"MIT")],
                CompressionMethod::Deflated,
            ),
        );
        let out = w.extract("pkg/capi/lib.so", tmp.path()).unwrap();
        assert_eq!(out, tmp.path().join("lib.so"));
        assert_eq!(std::fs::read(out).unwrap(), big);
        let mut w = open(
            tmp.path(),
            &archive(&[("pkg/LICENSE", b"MIT")], CompressionMethod::Stored),
        );
        let out = w.extract("pkg/LICENSE", tmp.path()).unwrap();
        assert_eq!(std::fs::read(out).unwrap(), b"MIT");
    }

    #[test]
    fn bad_crc_is_refused_with_a_sentence() {
        let tmp = TempDir::new("wheel-crc").unwrap();
        let mut bytes = archive(
            &[("pkg/lib.so", b"the runtime library")],
            CompressionMethod::Stored,
        );
        let at = bytes.windows(7).position(|w| w == b"runtime").unwrap();
        bytes[at] = b'R';
        let mut w = open(tmp.path(), &bytes);
        let err = w.extract("pkg/lib.so", tmp.path()).unwrap_err().to_string();
        assert!(err.contains("damaged") && err.contains("checksum"), "{err}");
    }

    #[test]
    fn names_outside_the_archive_are_refused() {
        let tmp = TempDir::new("wheel-escape").unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let mut w = open(
            tmp.path(),
            &archive(&[("../evil.so", b"x")], CompressionMethod::Stored),
        );
        let err = w.extract("../evil.so", &out).unwrap_err().to_string();
        assert!(err.contains("outside the archive"), "{err}");
        assert!(!tmp.path().join("evil.so").exists() && !out.join("evil.so").exists());
    }

    #[test]
    fn oversized_and_missing_members_are_refused() {
        let tmp = TempDir::new("wheel-size").unwrap();
        let mut w = open(
            tmp.path(),
            &archive(&[("pkg/lib.so", &[0u8; 1000])], CompressionMethod::Deflated),
        );
        let err = w
            .extract_limited("pkg/lib.so", tmp.path(), 999)
            .unwrap_err()
            .to_string();
        assert!(err.contains("declares 1000 bytes"), "{err}");
        assert!(!tmp.path().join("lib.so").exists());
        let err = w
            .extract("pkg/other.so", tmp.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no member pkg/other.so"), "{err}");
    }

    #[test]
    fn non_zip_is_refused() {
        let tmp = TempDir::new("wheel-notzip").unwrap();
        let path = tmp.path().join("a.whl");
        std::fs::write(&path, b"definitely not a zip file, just some text").unwrap();
        let err = Wheel::open(&path).err().unwrap().to_string();
        assert!(err.contains("as a ZIP archive"), "{err}");
    }
}
